"""One dataclass configures a whole SeqGAN run; presets set many fields at once; the CLI overrides any."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any


@dataclass
class SeqGANConfig:
    """A SeqGAN run: task, models, MLE pretraining, D pretraining and the adversarial phase."""

    preset: str = "quick"
    """Preset the other fields start from: quick (default, ~minutes), fast, paper (the official schedule)."""
    seed: int = 0
    """Seed of everything (Python, NumPy, torch, env resets, data order)."""
    device: str = "auto"
    """auto, cpu or cuda."""
    run_dir: str | None = None
    """Run directory (default: runs/{agent}__{preset}__{seed}__{time})."""
    resume: str | None = None
    """Continue the run in this directory from its last checkpoint."""
    progress: bool = True
    """Show progress bars."""
    pretrained: str | None = None
    """Skip MLE and D pretraining: start from this run directory's pretrained.pt (same task and sizes)."""

    # ---- task
    data: str | None = None
    """Train on real text: a file (one sentence per line) or a dataset (sotu:obama, sotu:post1945; poems:tang300,
    poems:song100, poems:all with --text-level char, read from Debian's fortunes-zh); default: the synthetic
    oracle."""
    text_level: str = "word"
    """Real text: word (whitespace/punctuation split) or char (characters, e.g. Chinese)."""
    lowercase: bool = True
    """Real text: lower-case before tokenizing."""
    max_vocab: int = 5000
    """Real text: maximum vocabulary size (special tokens included)."""
    min_freq: int = 1
    """Real text: words rarer than this become <unk>."""
    long_sentences: str = "drop"
    """Real text: sentences longer than seq_len - 1 tokens are dropped or truncated."""
    oracle_params: str | None = None
    """Path of the official oracle (target_params.npz); default: a seeded random oracle."""
    oracle_seed: int = 0
    """Seed of the random oracle's N(0,1) parameters (when --oracle-params is not given)."""
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
    """Validation sequences (for early stopping, --match-mle-diversity and temperatures; never the test set): on the
    oracle task drawn apart from train and test, on text the last N sentences of the training split; 0: none."""

    # ---- generator and MLE pretraining
    gen_emb_dim: int = 32
    """Generator embedding size."""
    gen_hidden_dim: int = 32
    """Generator LSTM size."""
    mle_epochs: int = 120
    """MLE pretraining epochs over the training set (official: 120)."""
    mle_batch_size: int = 64
    """MLE minibatch size."""
    mle_lr: float = 0.01
    """MLE Adam learning rate."""
    mle_keep_every: int = 0
    """Also keep G after every N MLE epochs as checkpoints/mle_epochNNN.pt (0: off), e.g. to compare MLE
    checkpoints over a temperature sweep (train/quality_diversity.py)."""

    # ---- discriminator
    disc_size: str = "paper"
    """paper (1,720 filters, widths 1–20) or small (widths 1–5, 32 filters each)."""
    disc_emb_dim: int = 64
    """Discriminator embedding size."""
    disc_lr: float = 1e-4
    """Discriminator Adam learning rate."""
    disc_batch_size: int = 64
    """Discriminator minibatch size."""
    d_negatives: int = 10_000
    """Generated negatives per D round (positives: the whole training set)."""
    d_pretrain_rounds: int = 50
    """D pretraining rounds, each with fresh negatives (official: 50)."""
    d_pretrain_epochs: int = 3
    """Epochs per D pretraining round (official: 3)."""
    prefix_d_hidden_dim: int = 128
    """Per-prefix D (--reward-source prefix): LSTM size (its embedding size is --disc-emb-dim)."""
    prefix_d_dropout: float = 0.25
    """Per-prefix D: dropout on its embeddings and LSTM outputs."""
    prefix_d_l2: float = 1e-4
    """Per-prefix D: L2 penalty on its weights."""
    prefix_d_lr: float = 1e-3
    """Per-prefix D: Adam learning rate."""
    d_report_samples: int = 2000
    """G samples scored in the D-quality report after every D round (held-out accuracy; Spearman with the
    oracle's likelihood on the oracle task), logged to metrics and TensorBoard; 0: off."""

    # ---- adversarial phase
    adv_updates: int = 200
    """Generator updates in the adversarial phase (official: 200 batches)."""
    batch_size: int = 64
    """Sequences per generator update (= env num_envs)."""
    n_rollouts: int = 16
    """Monte Carlo rollouts per prefix."""
    reward_mode: str = "q"
    """Env reward: q (paper), shaped or terminal."""
    reward_source: str = "rollout"
    """Where Q comes from: rollout (Monte Carlo rollouts scored by the CNN D, the paper), prefix (a per-prefix LSTM D,
    dense, no rollouts) or perfect (oracle task only: the perfect discriminator p_O/(p_O + p_G), dense per-token
    log-ratios — an upper bound no real task has)."""
    gen_lr: float = 0.01
    """Generator learning rate in the adversarial phase."""
    lr_schedule: str = "constant"
    """Adversarial learning rates (REINFORCE and PPO): constant, or linear decay to 0 over the phase."""
    baseline: str = "none"
    """REINFORCE baseline: none (paper), mean or value."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    kl_coef: float = 0.0
    """REINFORCE: β of a KL(G ‖ MLE checkpoint) penalty (0: off, the paper)."""
    d_reward: str = "prob"
    """What Q averages: D's P(real) (prob, the paper), its log-odds (log_odds; with --kl-coef 1 the optimum is
    the MLE generator reweighted by D/(1 − D)), or 1 (constant: an ablation without D's signal)."""
    loss_reduction: str = "sum"
    """REINFORCE loss over the batch: sum (official) or mean."""
    max_grad_norm: float = 5.0
    """Generator gradient-norm clip."""
    rollout_beta: float = 0.0
    """Rollout-policy delay β (0 = current G, what the official code really does)."""
    match_mle_diversity: bool = False
    """After the adversarial phase, fold into G the smallest temperature T ≥ 1 at which its NLL of the --n-valid
    held-out sequences is no worse than the MLE checkpoint's (update 0), so the final G keeps MLE's diversity."""
    mle_steps: int = 0
    """Interleaved MLE minibatch steps on real data after each adversarial update (0: off, the paper)."""
    d_every: int = 1
    """Generator updates between D retrainings."""
    d_rounds: int = 5
    """D rounds per retraining (official: 5)."""
    d_epochs: int = 3
    """D epochs per round (official: 3)."""
    ppo_lr: float = 1e-3
    """PPO: Adam learning rate of actor and critic."""
    ppo_reward_mode: str = "shaped"
    """PPO: env reward (shaped: r_t = Q_t − Q_(t−1), sound with γ = 1)."""
    ppo_n_steps: int | None = None
    """PPO: env steps per env per iteration, a multiple of seq_len (default: seq_len, one sequence per env)."""
    ppo_n_epochs: int = 4
    """PPO: epochs over each rollout."""
    ppo_batch_size: int | None = None
    """PPO: minibatch size, dividing ppo_n_steps × batch_size (default: a quarter of it)."""
    ppo_clip_range: float = 0.2
    """PPO: clip range."""
    ppo_target_kl: float | None = None
    """PPO: early-stop KL per iteration (None: off)."""
    ppo_advantage: str = "critic"
    """PPO: critic (returns minus a learned value, γ = λ = 1, normalised per minibatch: SB3's PPO) or q (the
    paper's un-centred weights, advantage = the step's reward Q_t: no critic, γ = 0, no normalisation; needs
    --ppo-reward-mode q)."""

    # ---- evaluation and checkpoints
    eval_every: int = 5
    """Generator updates (or MLE epochs) between NLL-oracle / NLL-test evaluations."""
    eval_samples: int = 10_000
    """Generated sequences scored per NLL-oracle evaluation."""
    checkpoint_every: int = 10
    """Generator updates between adversarial checkpoints (MLE: every evaluation)."""


PRESETS: dict[str, dict[str, Any]] = {
    # The official synthetic experiment (LantaoYu/SeqGAN at its last commit): ~27 h on 2 CPU cores.
    "paper": {},
    # The no-argument default: the whole pipeline in a few minutes on 2 CPU cores.
    "quick": dict(
        n_test=2_000,
        mle_epochs=15,
        disc_size="small",
        disc_emb_dim=32,
        d_negatives=5_000,
        d_pretrain_rounds=3,
        d_pretrain_epochs=2,
        adv_updates=40,
        d_every=5,
        d_rounds=1,
        d_epochs=1,
        eval_every=5,
        eval_samples=5_000,
        checkpoint_every=10,
    ),
    # Time-to-quality preset for the official oracle (see RESULTS.md).
    "fast": dict(
        mle_epochs=60,
        disc_size="small",
        disc_emb_dim=64,
        d_negatives=5_000,
        d_pretrain_rounds=5,
        d_pretrain_epochs=2,
        adv_updates=40,
        gen_lr=0.02,
        lr_schedule="linear",
        # PPO with the paper's un-centred weights (with its critic PPO does not improve NLL-oracle; RESULTS.md)
        ppo_advantage="q",
        ppo_reward_mode="q",
        ppo_lr=2e-3,
        # the final G is tempered back to the MLE checkpoint's diversity, T chosen on 5k held-out sequences
        n_valid=5_000,
        match_mle_diversity=True,
        d_every=5,
        d_rounds=1,
        d_epochs=1,
        eval_every=5,
        checkpoint_every=5,
    ),
}

CHOICES: dict[str, tuple[str, ...]] = {
    "preset": tuple(PRESETS),
    "device": ("auto", "cpu", "cuda"),
    "disc_size": ("paper", "small"),
    "reward_mode": ("q", "shaped", "terminal"),
    "reward_source": ("rollout", "prefix", "perfect"),
    "d_reward": ("prob", "log_odds", "constant"),
    "ppo_reward_mode": ("shaped", "q", "terminal"),
    "ppo_advantage": ("critic", "q"),
    "text_level": ("word", "char"),
    "long_sentences": ("drop", "truncate"),
    "baseline": ("none", "mean", "value"),
    "loss_reduction": ("sum", "mean"),
    "lr_schedule": ("constant", "linear"),
}
POSITIVE = {
    "vocab_size", "seq_len", "n_train", "n_test", "gen_emb_dim", "gen_hidden_dim", "mle_batch_size",
    "disc_emb_dim", "disc_batch_size", "d_negatives", "d_pretrain_epochs", "batch_size", "n_rollouts",
    "d_every", "d_rounds", "d_epochs", "ppo_n_epochs", "eval_every", "prefix_d_hidden_dim",
    "eval_samples", "checkpoint_every", "max_vocab", "min_freq",
}  # fmt: skip
NON_NEGATIVE = {
    "mle_epochs",
    "mle_keep_every",
    "n_valid",
    "d_pretrain_rounds",
    "adv_updates",
    "ent_coef",
    "kl_coef",
    "mle_steps",
    "d_report_samples",
    "prefix_d_l2",
}
POSITIVE_FLOAT = {"mle_lr", "disc_lr", "gen_lr", "ppo_lr", "max_grad_norm", "ppo_clip_range", "prefix_d_lr"}


def validate(cfg: SeqGANConfig) -> SeqGANConfig:
    """Check every field; raise one ``ValueError`` naming the flag and what it allows."""
    _validate_numbers(cfg)
    for name, allowed in CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"--{_flag(name)} must be one of {list(allowed)}, got {getattr(cfg, name)!r}")
    for name in POSITIVE:
        if getattr(cfg, name) <= 0:
            raise ValueError(f"--{_flag(name)} must be a positive integer, got {getattr(cfg, name)}")
    for name in NON_NEGATIVE:
        if getattr(cfg, name) < 0:
            raise ValueError(f"--{_flag(name)} must be >= 0, got {getattr(cfg, name)}")
    for name in POSITIVE_FLOAT:
        if getattr(cfg, name) <= 0:
            raise ValueError(f"--{_flag(name)} must be > 0, got {getattr(cfg, name)}")
    _validate_reward_source(cfg)
    if not 0.0 <= cfg.rollout_beta < 1.0:
        raise ValueError(f"--rollout-beta must be in [0, 1), got {cfg.rollout_beta}")
    if cfg.ppo_n_steps is not None and (cfg.ppo_n_steps <= 0 or cfg.ppo_n_steps % cfg.seq_len):
        raise ValueError(f"--ppo-n-steps must be a positive multiple of --seq-len={cfg.seq_len}, got {cfg.ppo_n_steps}")
    if cfg.match_mle_diversity and not cfg.n_valid:
        raise ValueError("--match-mle-diversity needs --n-valid > 0 validation sequences to choose T on")
    if cfg.ppo_advantage == "q" and cfg.ppo_reward_mode != "q":
        raise ValueError(
            f"--ppo-advantage q needs --ppo-reward-mode q (its Q_t are the weights), got {cfg.ppo_reward_mode!r}; "
            "for other rewards pass --ppo-advantage critic"
        )
    rollout = ppo_sizes(cfg)[0] * cfg.batch_size
    if cfg.ppo_batch_size is not None and (cfg.ppo_batch_size <= 0 or rollout % cfg.ppo_batch_size):
        raise ValueError(
            f"--ppo-batch-size must be a positive divisor of --ppo-n-steps × --batch-size = {rollout}, "
            f"got {cfg.ppo_batch_size}"
        )
    return cfg


def _validate_numbers(cfg: SeqGANConfig) -> None:
    """Every float field finite; seeds non-negative (they seed numpy, which refuses negative seeds)."""
    for f in fields(SeqGANConfig):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"--{_flag(f.name)} must be a finite number, got {value}")
    for name in ("seed", "oracle_seed", "data_seed"):
        value = getattr(cfg, name)
        if value is not None and not 0 <= value < 2**63:
            raise ValueError(f"--{_flag(name)} must be an integer in [0, 2**63), got {value}")
    for name in ("mle_lr", "disc_lr", "gen_lr", "ppo_lr", "prefix_d_lr"):  # Adam: a step of ~lr per parameter
        if getattr(cfg, name) > 1.0:
            raise ValueError(f"--{_flag(name)} must be in (0, 1] (an Adam learning rate), got {getattr(cfg, name)}")
    if cfg.ppo_target_kl is not None and cfg.ppo_target_kl <= 0:
        raise ValueError(
            f"--ppo-target-kl must be > 0 (or left unset: no early stop), got {cfg.ppo_target_kl}: PPO would stop "
            "every iteration before its first update"
        )


def _validate_reward_source(cfg: SeqGANConfig) -> None:
    """The reward source's combinations, and the per-prefix D's and the D report's ranges."""
    if not 0.0 <= cfg.prefix_d_dropout < 1.0:
        raise ValueError(f"--prefix-d-dropout must be in [0, 1), got {cfg.prefix_d_dropout}")
    if cfg.d_report_samples == 1:
        raise ValueError("--d-report-samples must be 0 (off) or >= 2, got 1")
    if cfg.reward_source == "perfect":
        if cfg.data is not None:
            raise ValueError(
                f"--reward-source perfect needs the oracle task (both likelihoods known); --data {cfg.data} is real "
                "text with no known likelihood: use --reward-source rollout or prefix"
            )
        if cfg.d_reward != "prob":
            raise ValueError(
                f"--d-reward {cfg.d_reward} transforms a learned D's score; --reward-source perfect has none"
            )
        if cfg.rollout_beta:
            raise ValueError("--reward-source perfect scores against the current G; it needs --rollout-beta 0")
    if cfg.reward_source == "prefix" and cfg.d_reward == "constant":
        raise ValueError("--d-reward constant is an ablation of the rollout reward; use --reward-source rollout")


def uses_discriminator(cfg: SeqGANConfig) -> bool:
    """Whether the adversarial reward reads a learned D (so D is retrained and its quality reported)."""
    return cfg.reward_source != "perfect" and cfg.d_reward != "constant"


def ppo_sizes(cfg: SeqGANConfig) -> tuple[int, int]:
    """PPO's (n_steps, minibatch size) with the defaults filled in."""
    n_steps = cfg.ppo_n_steps or cfg.seq_len
    rollout = n_steps * cfg.batch_size
    return n_steps, cfg.ppo_batch_size or (rollout // 4 if rollout % 4 == 0 else rollout)


def from_preset(preset: str = "quick", **overrides: Any) -> SeqGANConfig:
    """The preset's config with ``overrides`` applied, validated."""
    if preset not in PRESETS:
        raise ValueError(f"--preset must be one of {list(PRESETS)}, got {preset!r}")
    known = {f.name for f in fields(SeqGANConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown config fields {unknown}")
    return validate(SeqGANConfig(**{**PRESETS[preset], **overrides, "preset": preset}))


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _field_docs() -> dict[str, str]:
    """Field docstrings (the string literal under each field) for ``--help``."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(SeqGANConfig))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in itertools.pairwise(body):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = str(nxt.value.value)  # type: ignore[union-attr]
    return docs


def _base_type(tp: Any) -> type:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def parse_args(argv: Sequence[str] | None = None, description: str = "") -> SeqGANConfig:
    """Parse CLI flags into a :class:`SeqGANConfig`: the preset's values, then every flag given."""
    docs = _field_docs()
    hints = typing.get_type_hints(SeqGANConfig)
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    per_preset = {name: SeqGANConfig(**values) for name, values in PRESETS.items()}
    for f in fields(SeqGANConfig):
        tp = _base_type(hints[f.name])
        help_text = docs.get(f.name, "")
        if f.name != "preset":
            values = {name: getattr(c, f.name) for name, c in per_preset.items()}
            shown = f"default (quick): {values['quick']}"
            others = [f"{n}: {v}" for n, v in values.items() if n != "quick" and v != values["quick"]]
            help_text += f" [{shown}{'; ' + ', '.join(others) if others else ''}]"
        kwargs: dict[str, Any] = {"default": None, "help": help_text, "dest": f.name}
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = tp
            kwargs["metavar"] = tp.__name__.upper()
        if f.name in CHOICES:
            kwargs["choices"] = CHOICES[f.name]
        parser.add_argument(f"--{_flag(f.name)}", **kwargs)
    ns = vars(parser.parse_args(argv))
    preset = ns.pop("preset") or "quick"
    given = {k: v for k, v in ns.items() if v is not None}
    try:
        return from_preset(preset, **given)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def to_dict(cfg: SeqGANConfig) -> dict[str, Any]:
    """JSON-ready dict of the config."""
    return dataclasses.asdict(cfg)


# ------------------------------------------------------------------------------------ which agent reads what
AGENTS = ("reinforce", "ppo", "reference")
"""``reference`` is the exact per-step KL trainer (:mod:`agents.reference`): a yardstick on the perfect reward."""

REINFORCE_ONLY = ("baseline", "kl_coef", "loss_reduction", "reward_mode")
PPO_ONLY = ("ppo_lr", "ppo_reward_mode", "ppo_n_steps", "ppo_n_epochs", "ppo_batch_size", "ppo_clip_range",
            "ppo_target_kl", "ppo_advantage")  # fmt: skip
ORACLE_ONLY = ("oracle_params", "oracle_seed", "vocab_size", "n_train", "n_test")
PRETRAIN_ONLY = ("mle_epochs", "mle_batch_size", "mle_keep_every")


def _ignored_by(agent: str) -> tuple[str, ...]:
    return {"ppo": REINFORCE_ONLY, "reinforce": PPO_ONLY,
            "reference": (*PPO_ONLY, *REINFORCE_ONLY, "ent_coef", "mle_steps")}[agent]  # fmt: skip


def agent_config(cfg: SeqGANConfig, agent: str) -> SeqGANConfig:
    """``cfg`` with the fields ``agent`` does not read put back to the preset's values (for a comparison that runs
    several agents from one command line, so that each run's config.json holds only what it used)."""
    preset = from_preset(cfg.preset)
    return dataclasses.replace(cfg, **{k: getattr(preset, k) for k in _ignored_by(agent)})


def check_agent(cfg: SeqGANConfig, agent: str) -> None:
    """Refuse, before any work, an unknown agent and flags that ``agent`` would ignore (set away from the preset's
    value): REINFORCE's under PPO, PPO's under REINFORCE or the reference trainer."""
    if agent not in AGENTS:
        raise ValueError(f"agent must be one of {AGENTS}, got {agent!r}")
    if agent == "reference" and cfg.reward_source != "perfect":
        raise ValueError(
            "the reference trainer is the exact per-step yardstick of the perfect reward: it needs the oracle task and "
            f"--reward-source perfect, got --reward-source {cfg.reward_source}"
        )
    preset = from_preset(cfg.preset)
    changed = [k for k in _ignored_by(agent) if getattr(cfg, k) != getattr(preset, k)]
    if cfg.data is not None:  # the oracle's settings mean nothing on real text
        changed += [k for k in ORACLE_ONLY if getattr(cfg, k) != getattr(preset, k)]
    if changed:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in changed)
        raise ValueError(f"{flags}: not used by this {agent} run (it would be ignored); drop it")
