"""The SeqGAN pipeline as library code: oracle data → MLE pretraining of G → pretraining of D →
adversarial training (REINFORCE or PPO with the shared callbacks), with a run directory, atomic
checkpoints and ``--resume``. ``train/*.py`` scripts are thin wrappers around :func:`run`."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.vec_env import VecMonitor
from tqdm.auto import tqdm

from agents.callbacks import (
    DiscriminatorCallback,
    EvalEveryKUpdates,
    MLECallback,
    RolloutPolicyCallback,
    SaveEveryKUpdates,
    get_seqgan_env,
    timesteps_per_update,
)
from agents.checkpoint import (
    atomic_save_figure,
    atomic_write_json,
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
)
from agents.config import SeqGANConfig, from_preset, to_dict, uses_discriminator
from agents.reference import PerStepKLReference
from agents.reinforce import Reinforce
from seqgan_env.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    PrefixDiscriminator,
    PrefixDiscriminatorConfig,
    train_discriminator,
)
from seqgan_env.env import SeqGANVectorEnv, resolve_device
from seqgan_env.generator import Generator, GeneratorConfig, mle_step
from seqgan_env.metrics import (
    bleu,
    discriminator_report,
    fold_temperature,
    matching_temperature,
    nll_test,
    oracle_metrics,
    per_sequence_nll,
    self_bleu,
)
from seqgan_env.optim import adam
from seqgan_env.oracle import Oracle, OracleConfig
from seqgan_env.sb3 import SB3VecEnv
from seqgan_env.text import Corpus, CorpusConfig, load_corpus

AGENTS = ("reinforce", "ppo", "reference")
"""``reference`` is the exact per-step KL trainer (:mod:`agents.reference`): a yardstick on the perfect reward."""
EVAL_PHASES = ("mle", "adversarial", "calibrated")
"""History rows that evaluate G; ``d_pretrain`` / ``d_round`` rows report D's quality (``d_*`` keys)."""
# The official run's log (NLL-oracle, official oracle; PAPER_NOTES.md): (epoch, value), MLE then adversarial.
OFFICIAL_MLE_LOG = [(0, 10.17), (5, 9.43), (115, 9.07)]
OFFICIAL_ADV_LOG = [(0, 9.08), (25, 8.93), (65, 8.78), (85, 8.72), (100, 8.70), (150, 8.68)]
OFFICIAL_MLE_EPOCHS = 120
# Fields that may differ when resuming (they do not change what is computed).
RESUME_FREE = {"resume", "progress", "device", "run_dir", "adv_updates"}


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch's (CPU and CUDA) from one ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global RNG that user code may draw from)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------ parts
@dataclass
class Task:
    """What G learns: training and held-out sequences, from the synthetic oracle or from a text corpus."""

    train: torch.Tensor
    test: torch.Tensor
    vocab_size: int
    oracle: Oracle | None = None
    corpus: Corpus | None = None
    random_nll_oracle: float = field(default=float("nan"))
    valid: torch.Tensor | None = None
    _digest: str | None = field(default=None, init=False, repr=False)

    def digest(self) -> str:
        """SHA-256 of the training and test sequences: a run resumes only on the very same split. Computed once (the
        split never changes), though every checkpoint records it."""
        if self._digest is None:
            import hashlib

            h = hashlib.sha256()
            for part in (self.train, self.test):
                h.update(part.cpu().contiguous().numpy().tobytes())
            self._digest = h.hexdigest()
        return self._digest

    def decode(self, tokens: torch.Tensor) -> list[str]:
        if self.corpus is not None:
            return self.corpus.decode(tokens.cpu())
        return [" ".join(str(int(t)) for t in row) for row in tokens.cpu()]


VALID_SEED = 1_000_003  # offset of the validation sample's seed from the data seed


def build_task(cfg: SeqGANConfig, device: torch.device) -> Task:
    """Build the oracle (official parameters or seeded random) and sample its train/test sets, or read the corpus."""
    data_seed = cfg.seed if cfg.data_seed is None else cfg.data_seed
    if cfg.data is not None:
        corpus = load_corpus(
            CorpusConfig(source=cfg.data, seq_len=cfg.seq_len, level=cfg.text_level, lowercase=cfg.lowercase,
                         max_vocab=cfg.max_vocab, min_freq=cfg.min_freq, long=cfg.long_sentences, seed=data_seed),
            min_sentences=max(cfg.batch_size, cfg.mle_batch_size) + 1,
        )  # fmt: skip
        train, valid = corpus.train, None
        if cfg.n_valid:  # validation sentences come out of the training split; the test split is untouched
            if cfg.n_valid > len(train) // 2:
                raise ValueError(
                    f"--n-valid {cfg.n_valid}: the corpus has {len(train)} training sentences; at most half of them "
                    f"({len(train) // 2}) can be held out for validation"
                )
            train, valid = train[: -cfg.n_valid], train[-cfg.n_valid :]
        return Task(train, corpus.test, len(corpus.vocab), corpus=corpus, valid=valid)
    if cfg.oracle_params is not None:
        oracle = Oracle.from_params(cfg.oracle_params, seq_len=cfg.seq_len)
    else:
        oracle = Oracle(OracleConfig(vocab_size=cfg.vocab_size, seq_len=cfg.seq_len, seed=cfg.oracle_seed))
    oracle.to(device)
    train, test = oracle.make_data(cfg.n_train, cfg.n_test, seed=data_seed)
    vocab = oracle.config.vocab_size
    uniform = torch.randint(
        0, vocab, (cfg.eval_samples, cfg.seq_len), generator=torch.Generator().manual_seed(cfg.seed)
    )
    valid = None
    if cfg.n_valid:  # its own stream, so train and test are those of a run without it
        valid = oracle.sample(cfg.n_valid, generator=torch.Generator(device=device).manual_seed(data_seed + VALID_SEED))
    return Task(train, test, vocab, oracle=oracle, random_nll_oracle=oracle.nll(uniform.to(device)), valid=valid)


def text_metrics(
    task: Task, gen: Generator, n_samples: int, seed: int, temperature: float = 1.0, refs: torch.Tensor | None = None
) -> dict[str, float]:
    """BLEU-2…4 of ``n_samples`` samples of ``gen`` at ``temperature`` against the references (default: the test
    split, as in the paper), self-BLEU-2…4 among them, and on the music task the paper's MSE
    (:func:`seqgan_env.music.nearest_mse`)."""
    assert task.corpus is not None
    rng = torch.Generator(device=gen.device).manual_seed(seed)
    hyps = task.corpus.sentences(gen.sample(n_samples, temperature=temperature, generator=rng).cpu())
    ref_rows = task.corpus.sentences(task.test if refs is None else refs)
    metrics = {f"bleu{k}": v for k, v in bleu(hyps, ref_rows, max_n=4).items()}
    metrics.update({f"self_bleu{k}": v for k, v in self_bleu(hyps, max_n=4).items()})
    if task.corpus.config.source == "music:folk":  # the paper's second music metric
        from seqgan_env.music import nearest_mse

        tokens = task.corpus.vocab.tokens
        metrics["mse"] = nearest_mse([[tokens[i] for i in h] for h in hyps], [[tokens[i] for i in r] for r in ref_rows])
    return metrics


def evaluate_generator(gen: Generator, task: Task, cfg: SeqGANConfig) -> dict[str, float]:
    """NLL-test (and NLL-valid with a validation split) and, on the oracle task, NLL-oracle, G's entropy and
    KL(G ‖ oracle) (per token, on ``cfg.eval_samples`` samples seeded by ``cfg.seed``); on text BLEU-2…4 and
    self-BLEU-2…4 (see :mod:`seqgan_env.metrics` for the definitions). Deterministic: the same G scores the same."""
    metrics = {"nll_test": nll_test(gen, task.test)}
    if task.valid is not None:
        metrics["nll_valid"] = nll_test(gen, task.valid)
    if task.oracle is not None:  # NLL-oracle, G's entropy and KL(G ‖ oracle) on the same samples
        metrics.update(oracle_metrics(task.oracle, gen, cfg.eval_samples, seed=cfg.seed))
    if task.corpus is not None:
        metrics.update(text_metrics(task, gen, min(cfg.eval_samples, 1000), seed=cfg.seed))
    return metrics


def generator_config(cfg: SeqGANConfig, task: Task) -> GeneratorConfig:
    """The generator's sizes; on real text, sequences end at the corpus's ``<eos>`` (padding after it)."""
    ends = {} if task.corpus is None else task.corpus.vocab.end_tokens
    return GeneratorConfig(
        vocab_size=task.vocab_size, seq_len=cfg.seq_len, emb_dim=cfg.gen_emb_dim, hidden_dim=cfg.gen_hidden_dim,
        **ends,
    )  # fmt: skip


def discriminator_config(cfg: SeqGANConfig, vocab_size: int) -> DiscriminatorConfig | PrefixDiscriminatorConfig:
    """D's sizes: the per-prefix LSTM D with ``--reward-source prefix``, else the CNN (``--disc-size``)."""
    if cfg.reward_source == "prefix":
        return PrefixDiscriminatorConfig(
            vocab_size, cfg.seq_len, emb_dim=cfg.disc_emb_dim, hidden_dim=cfg.prefix_d_hidden_dim,
            dropout=cfg.prefix_d_dropout, l2_reg=cfg.prefix_d_l2, lr=cfg.prefix_d_lr,
        )  # fmt: skip
    make = DiscriminatorConfig.paper if cfg.disc_size == "paper" else DiscriminatorConfig.small
    return make(vocab_size, cfg.seq_len, emb_dim=cfg.disc_emb_dim, lr=cfg.disc_lr)


def build_discriminator(cfg: SeqGANConfig, vocab_size: int) -> Discriminator | PrefixDiscriminator:
    """An untrained D of the kind ``cfg`` uses (see :func:`discriminator_config`)."""
    config = discriminator_config(cfg, vocab_size)
    if isinstance(config, PrefixDiscriminatorConfig):
        return PrefixDiscriminator(config)
    return Discriminator(config)


# ------------------------------------------------------------------------------------------------ run dir
class RunDir:
    """A run directory: config.json, checkpoints/, tb/, metrics.json/.csv, samples.txt, curve.png."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def latest(self) -> Path:
        return self.path / "checkpoints" / "latest.pt"

    def mle_epoch(self, epoch: int) -> Path:
        """Where ``--mle-keep-every`` keeps G after MLE epoch ``epoch``."""
        return self.path / "checkpoints" / f"mle_epoch{epoch:03d}.pt"

    @property
    def pretrained(self) -> Path:
        return self.path / "checkpoints" / "pretrained.pt"

    @classmethod
    def create(cls, cfg: SeqGANConfig, agent: str) -> RunDir:
        name = cfg.run_dir or f"runs/{agent}__{cfg.preset}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(name)
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(f"run directory {path} already exists: pass --resume {path} to continue it")
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        return cls(path)

    def lock(self) -> None:
        """Hold an exclusive lock on the run directory until :meth:`unlock` (or the process ends); a second process
        that tries gets one clear error instead of writing into the same run."""
        import fcntl

        self._lock = open(self.path / ".lock", "a+")  # noqa: SIM115  (held open for the run's lifetime)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.seek(0)
            holder = self._lock.read().strip() or "another process"
            self._lock.close()
            raise FileExistsError(
                f"run directory {self.path} is in use by {holder}; wait for it to finish (or stop it), then --resume"
            ) from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"process {os.getpid()}\n")
        self._lock.flush()

    def unlock(self) -> None:
        if getattr(self, "_lock", None) is not None:
            self._lock.close()
            self._lock = None

    def write_metrics(self, history: list[dict[str, Any]], summary: dict[str, Any] | None = None) -> None:
        atomic_write_json(self.path / "metrics.json", {"history": history, "summary": summary or {}})
        keys = list(dict.fromkeys(k for row in history for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(self.path / "metrics.csv", buf.getvalue())


RUN_KEYS = ("config", "agent", "phase", "step", "wall", "history", "generator", "gen_optimizer", "discriminator",
            "disc_optimizer", "rng", "torch_rng", "numpy_rng", "python_rng")  # fmt: skip


def require_run_keys(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """``ckpt`` if it holds everything a run checkpoint has; else one error naming what is missing."""
    missing = [k for k in RUN_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}: it is not a complete run checkpoint of this project")
    return ckpt


def checkpoint_at(path: str | Path, name: str = "latest.pt") -> dict[str, Any]:
    """The run checkpoint ``path`` names: a checkpoint file, or a run directory's ``checkpoints/{name}``."""
    p = Path(path)
    file = p / "checkpoints" / name if p.is_dir() else p
    return require_run_keys(load_checkpoint(file), file)


def saved_config(ckpt: dict[str, Any]) -> SeqGANConfig:
    """The config a checkpoint was written with. Fields this version does not know are left out; fields added
    since take the class default (the behaviour the run had), not the preset's current value."""
    saved = {k: v for k, v in ckpt["config"].items() if k in SeqGANConfig.__dataclass_fields__}
    added = {k: v for k, v in to_dict(SeqGANConfig()).items() if k not in saved and k != "preset"}
    return from_preset(**{**added, **saved})


def resolve_resume(cfg: SeqGANConfig) -> tuple[SeqGANConfig, dict[str, Any]]:
    """Load the last checkpoint of ``cfg.resume``; the run's saved config wins (``adv_updates`` may grow)."""
    run = RunDir(cfg.resume or "")
    if not run.path.is_dir():
        raise FileNotFoundError(f"--resume {run.path}: no such run directory")
    if cfg.run_dir and Path(cfg.run_dir) != run.path:
        raise ValueError(f"--resume {cfg.resume} continues in that directory; drop --run-dir {cfg.run_dir}")
    if not run.latest.is_file():
        raise FileNotFoundError(
            f"--resume {run.path}: it has no checkpoint yet (the run stopped before its first one); nothing to resume: "
            f"delete the directory and start again, or pass another --run-dir"
        )
    ckpt = require_run_keys(load_checkpoint(run.latest), run.latest)
    saved = saved_config(ckpt)
    given, defaults = to_dict(cfg), to_dict(from_preset(cfg.preset))
    clash = [
        k for k in given if k not in RESUME_FREE and given[k] != defaults[k] and given[k] != getattr(saved, k)
    ]  # flags set explicitly that disagree with the saved run
    if clash:
        raise ValueError(f"--resume {run.path}: flags {clash} differ from the run's saved config; drop them")
    saved.resume, saved.run_dir, saved.progress = str(run.path), str(run.path), cfg.progress
    saved.device = cfg.device
    if cfg.adv_updates != defaults["adv_updates"]:
        saved.adv_updates = cfg.adv_updates
    return saved, ckpt


# ------------------------------------------------------------------------------------------------ phases
def mle_epoch(
    gen: Generator,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    batch_size: int,
    rng: torch.Generator,
    max_grad_norm: float = 5.0,
) -> float:
    """One epoch of maximum-likelihood training (teacher forcing); returns the mean token NLL."""
    gen.train()
    perm = torch.randperm(len(data), generator=rng)
    total = 0.0
    for idx in torch.split(perm, batch_size):
        total += mle_step(gen, optimizer, data[idx], max_grad_norm) * len(idx)
    return total / len(data)


@dataclass
class Pipeline:
    """State of one run; :func:`run` drives it through the phases, checkpointing after each step."""

    cfg: SeqGANConfig
    agent: str
    run: RunDir
    task: Task
    device: torch.device
    gen: Generator
    disc: Discriminator
    gen_opt: torch.optim.Optimizer
    disc_opt: torch.optim.Optimizer
    rng: torch.Generator
    logger: Logger
    history: list[dict[str, Any]] = field(default_factory=list)
    phase: str = "mle"
    step: int = 0
    wall: float = 0.0
    model: BaseAlgorithm | None = None
    d_callback: DiscriminatorCallback | None = None
    rollout_callback: RolloutPolicyCallback | None = None
    callbacks: list[Any] = field(default_factory=list)
    mle_callback: MLECallback | None = None
    interrupted: bool = False
    _t0: float = field(default_factory=time.perf_counter)

    # ---- bookkeeping
    def elapsed(self) -> float:
        return self.wall + time.perf_counter() - self._t0

    def tempered(self) -> dict[str, Any] | None:
        """The evaluation of the generator ``--match-mle-diversity`` tempered at the end of the run, if it has been."""
        return next((r for r in reversed(self.history) if r["phase"] == "calibrated"), None)

    def record(self, phase: str, step: int, timesteps: int, metrics: dict[str, float]) -> dict[str, Any]:
        row = {"phase": phase, "step": step, "timesteps": timesteps, "wall_s": round(self.elapsed(), 2), **metrics}
        self.history.append(row)
        for k, v in metrics.items():
            self.logger.record(f"eval/{phase}_{k}", v)
        self.logger.dump(step=len(self.history))
        self.run.write_metrics(self.history)
        return row

    def evaluate(self, gen: Generator | None = None) -> dict[str, float]:
        """:func:`evaluate_generator` of ``gen`` (default: this run's generator) on this run's task."""
        return evaluate_generator(gen or self.gen, self.task, self.cfg)

    def d_report(self, phase: str, step: int, timesteps: int) -> dict[str, float] | None:
        """D's quality now (``--d-report-samples`` fresh G samples vs the held-out real data; see
        :func:`~seqgan_env.metrics.discriminator_report`), recorded as a ``phase`` row of metrics and TensorBoard."""
        if not self.cfg.d_report_samples:
            return None
        seed = self.cfg.seed + 7_919 * (len(self.history) + 1)  # fresh samples for each report, reproducibly
        report = discriminator_report(
            self.disc, self.gen if self.model is None else self.model.policy.generator, self.task.oracle,
            self.task.test, self.cfg.d_report_samples, seed=seed,
        )  # fmt: skip
        self.record(phase, step, timesteps, {f"d_{k}": v for k, v in report.items()})
        return report

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here."""
        out: dict[str, Any] = {
            "config": to_dict(self.cfg), "agent": self.agent, "phase": self.phase, "step": self.step,
            "wall": self.elapsed(), "history": self.history,
            "generator": self.gen.state_dict(), "gen_optimizer": self.gen_opt.state_dict(),
            "discriminator": self.disc.state_dict(), "disc_optimizer": self.disc_opt.state_dict(),
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "vocab": self.task.corpus.vocab.tokens if self.task.corpus is not None else None,
            "data_digest": self.task.digest(),
            "numpy_rng": np.random.get_state(),  # noqa: NPY002
            "python_rng": random.getstate(),
        }  # fmt: skip
        if self.model is not None:
            model = self.model
            core = get_seqgan_env(model.env).core
            out["adversarial"] = {
                "policy": model.policy.state_dict(),
                "policy_optimizer": model.policy.optimizer.state_dict(),
                "num_timesteps": model.num_timesteps,
                "n_updates": model._n_updates,
                "sampling_rng": model.sampling_rng.get_state() if hasattr(model, "sampling_rng") else None,
                "env_torch_rng": core.torch_rng.get_state(),
                "env_np_random": get_seqgan_env(model.env).venv.np_random.bit_generator.state,
                "env_q_prev": core.q_prev.cpu(),
                "env_tokens": core.tokens.cpu(),  # episodes in progress (text: PPO stops mid-episode)
                "env_pos": core.pos.cpu(),
                "callbacks_last_done": [cb.last_done for cb in self.callbacks],
                "d_callback_rng": self.d_callback.rng.get_state() if self.d_callback else None,
                "mle_callback": {
                    "rng": self.mle_callback.rng.get_state(),
                    "opt": self.mle_callback.optimizer.state_dict(),
                }
                if self.mle_callback is not None and self.mle_callback.optimizer is not None
                else None,
                "rollout_policy": self.rollout_callback.rollout_policy.state_dict()
                if self.rollout_callback and self.rollout_callback.rollout_policy is not None
                else None,
                # the KL penalty's G_ref (the MLE checkpoint; "generator" becomes the final G when a run ends)
                "kl_reference": ref.state_dict() if (ref := getattr(model, "reference", None)) is not None else None,
            }
        return out

    def stop_if_interrupted(self, save: bool = True) -> None:
        """After Ctrl-C (see :class:`GracefulInterrupt`): save a checkpoint at this safe point and exit."""
        if self.interrupted:
            if save:
                self.checkpoint()
            tqdm.write(f"interrupted: checkpoint saved; continue with --resume {self.run.path}", file=sys.stderr)
            raise SystemExit(130)

    def checkpoint(self, also: Path | None = None) -> None:
        payload = self.state()
        save_checkpoint(self.run.latest, payload)
        if also is not None:
            save_checkpoint(also, payload)


# Flags that only one kind of agent reads: set under another agent they would be silently ignored, so they are refused.
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


def build_pipeline(cfg: SeqGANConfig, agent: str, ckpt: dict[str, Any] | None = None) -> Pipeline:
    """Create (or restore from ``ckpt``) every part of a run (``agent`` and ``cfg`` checked by :func:`run`)."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    pretrained = load_pretrained(cfg) if cfg.pretrained and ckpt is None else None
    run = RunDir(cfg.resume) if ckpt is not None else RunDir.create(cfg, agent)
    run.lock()
    if ckpt is None:
        atomic_write_json(run.path / "config.json", {"agent": agent, **to_dict(cfg)})
    task = build_task(cfg, device)
    vocab = task.vocab_size
    if task.corpus is not None:
        atomic_write_text(run.path / "vocab.json", task.corpus.vocab.to_json() + "\n")
    gen = Generator(generator_config(cfg, task)).to(device)
    disc = build_discriminator(cfg, vocab).to(device)
    gen_opt = adam(gen.parameters(), lr=cfg.mle_lr)
    disc_opt = adam(disc.parameters(), lr=disc.config.lr)
    rng = torch.Generator().manual_seed(cfg.seed)
    logger = configure(str(run.path / "tb"), ["tensorboard"])
    pipe = Pipeline(cfg, agent, run, task, device, gen, disc, gen_opt, disc_opt, rng, logger)
    source = ckpt or pretrained
    saved_vocab = (source or {}).get("vocab")
    if task.corpus is not None and saved_vocab is not None and saved_vocab != task.corpus.vocab.tokens:
        raise ValueError(f"the corpus {cfg.data} no longer yields the checkpoint's vocabulary (was the file changed?)")
    saved_digest = (source or {}).get("data_digest")
    if saved_digest is not None and saved_digest != task.digest():
        raise ValueError(
            f"the task's data ({cfg.data or 'oracle sample'}) no longer yields the checkpoint's train/test split "
            "(were the corpus lines changed or reordered?): restore the data the run was started with"
        )
    # A per-prefix D cannot start from another run's CNN D: it is pretrained here, from the pretrained G.
    new_d = pretrained is not None and ckpt is None and _d_kind(pretrained["config"]) != _d_kind(to_dict(cfg))
    if source is not None:
        try:
            gen.load_state_dict(source["generator"])
            gen_opt.load_state_dict(source["gen_optimizer"])
            if not new_d:
                disc.load_state_dict(source["discriminator"])
                disc_opt.load_state_dict(source["disc_optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ValueError(f"checkpoint does not match this config's models: {exc}") from None
    if ckpt is not None:
        pipe.history, pipe.phase, pipe.step, pipe.wall = ckpt["history"], ckpt["phase"], ckpt["step"], ckpt["wall"]
        rng.set_state(ckpt["rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])
    elif pretrained is not None:
        pipe.history = [dict(r, phase=f"pretrained_{r['phase']}") for r in pretrained["history"]]
        pipe.phase, pipe.step = ("disc" if new_d else "adversarial"), 0
        pipe.wall = pretrained["wall"]  # wall times count the pretraining this run starts from
        rng.set_state(pretrained["rng"])
    return pipe


def _d_kind(config: dict[str, Any]) -> str:
    """Which D a (saved) config builds: "prefix" (the LSTM D) or "cnn"."""
    return "prefix" if config.get("reward_source") == "prefix" else "cnn"


def load_pretrained(cfg: SeqGANConfig) -> dict[str, Any]:
    """The ``pretrained.pt`` of ``cfg.pretrained``, checked to match ``cfg``'s task and model sizes."""
    path = Path(cfg.pretrained or "")
    ckpt = checkpoint_at(path, "pretrained.pt")
    must_match = ["oracle_params", "oracle_seed", "vocab_size", "seq_len", "n_train", "n_test", "gen_emb_dim",
                  "gen_hidden_dim", "disc_size", "disc_emb_dim"]  # fmt: skip
    theirs = ckpt["config"]
    if _d_kind(theirs) != _d_kind(to_dict(cfg)) or cfg.reward_source == "perfect":  # its D is not loaded
        must_match = [k for k in must_match if k not in ("disc_size", "disc_emb_dim")]
    diff = {k: (theirs.get(k), getattr(cfg, k)) for k in must_match if theirs.get(k) != getattr(cfg, k)}
    data_seed = (theirs.get("data_seed"), theirs.get("seed")), (cfg.data_seed, cfg.seed)
    if _effective(*data_seed[0]) != _effective(*data_seed[1]):
        diff["data_seed"] = (_effective(*data_seed[0]), _effective(*data_seed[1]))
    if diff:
        raise ValueError(f"--pretrained {path}: config differs in {diff} (saved, given); pass matching flags")
    preset = from_preset(cfg.preset)
    for k in PRETRAIN_ONLY:  # this run does no MLE: it records the pretraining it starts from, or refuses a clash
        if k in theirs and getattr(cfg, k) != theirs[k]:
            if getattr(cfg, k) != getattr(preset, k):
                raise ValueError(
                    f"--{k.replace('_', '-')} {getattr(cfg, k)}: this run starts from --pretrained {path}, whose "
                    f"pretraining used {theirs[k]}; it runs no MLE of its own: drop the flag"
                )
            setattr(cfg, k, theirs[k])
    return ckpt


def _effective(data_seed: int | None, seed: int) -> int:
    return seed if data_seed is None else data_seed


def pretrain_generator(pipe: Pipeline) -> None:
    """MLE pretraining of G, evaluating every ``eval_every`` epochs and checkpointing after each evaluation."""
    cfg = pipe.cfg
    if pipe.phase != "mle":
        return
    if pipe.step == 0 and not pipe.history:
        pipe.record("mle", 0, 0, pipe.evaluate())
    bar = tqdm(range(pipe.step, cfg.mle_epochs), desc="MLE pretraining", unit="epoch", disable=not cfg.progress,
               initial=pipe.step, total=cfg.mle_epochs)  # fmt: skip
    for epoch in bar:
        loss = mle_epoch(pipe.gen, pipe.gen_opt, pipe.task.train, cfg.mle_batch_size, pipe.rng)
        pipe.step = epoch + 1
        pipe.logger.record("mle/loss", loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if pipe.step % cfg.eval_every == 0 or pipe.step == cfg.mle_epochs:
            row = pipe.record("mle", pipe.step, 0, pipe.evaluate())
            bar.set_postfix(loss=f"{loss:.3f}", nll_test=f"{row['nll_test']:.3f}")
            pipe.checkpoint()
        if cfg.mle_keep_every and pipe.step % cfg.mle_keep_every == 0:
            save_checkpoint(pipe.run.mle_epoch(pipe.step), pipe.state())
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = "disc", 0
    pipe.checkpoint()


def pretrain_discriminator(pipe: Pipeline) -> None:
    """Pretrain D: ``d_pretrain_rounds`` rounds of fresh negatives, ``d_pretrain_epochs`` epochs each."""
    cfg = pipe.cfg
    if pipe.phase != "disc":
        return
    bar = tqdm(range(pipe.step, cfg.d_pretrain_rounds), desc="D pretraining", unit="round",
               disable=not cfg.progress, initial=pipe.step, total=cfg.d_pretrain_rounds)  # fmt: skip
    for r in bar:
        fake = pipe.gen.sample(cfg.d_negatives, generator=pipe.rng)
        loss = train_discriminator(
            pipe.disc, pipe.disc_opt, pipe.task.train, fake, cfg.d_pretrain_epochs, cfg.disc_batch_size, pipe.rng
        )
        pipe.step = r + 1
        pipe.logger.record("discriminator/pretrain_loss", loss)
        report = pipe.d_report("d_pretrain", pipe.step, 0)
        pipe.logger.dump(step=pipe.step)
        bar.set_postfix(loss=f"{loss:.3f}", **({"acc": f"{report['accuracy']:.3f}"} if report else {}))
        pipe.checkpoint()
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = "adversarial", 0
    pipe.checkpoint(also=pipe.run.pretrained)


def lr_schedule(lr: float, cfg: SeqGANConfig) -> float | Callable[[float], float]:
    """A constant rate, or SB3's linear schedule from ``lr`` to 0 over the adversarial phase."""
    if cfg.lr_schedule == "constant":
        return lr
    return LinearDecay(lr)


@dataclass(frozen=True)
class LinearDecay:
    """``lr × progress_remaining`` (SB3 passes progress_remaining from 1 down to 0); picklable for save()."""

    lr: float

    def __call__(self, progress_remaining: float) -> float:
        return self.lr * progress_remaining


def build_agent(pipe: Pipeline) -> BaseAlgorithm:
    """The adversarial-phase agent on a fresh vector env, its generator starting from ``pipe.gen``."""
    cfg = pipe.cfg
    reward_mode = cfg.reward_mode if pipe.agent == "reinforce" else cfg.ppo_reward_mode
    perfect = cfg.reward_source == "perfect"
    venv = SeqGANVectorEnv(
        num_envs=cfg.batch_size, vocab_size=pipe.gen.config.vocab_size, seq_len=cfg.seq_len,
        n_rollouts=cfg.n_rollouts, reward_mode=reward_mode, discriminator=None if perfect else pipe.disc,
        rollout_policy=pipe.gen, device=str(pipe.device), d_reward=cfg.d_reward, reward_source=cfg.reward_source,
        oracle=pipe.task.oracle if perfect else None,
    )  # fmt: skip
    env = VecMonitor(SB3VecEnv(venv, seed=cfg.seed))
    gen_kwargs = {"generator_config": vars(pipe.gen.config).copy()}
    if pipe.agent == "reinforce":
        model: BaseAlgorithm = Reinforce(
            "GeneratorPolicy", env, learning_rate=lr_schedule(cfg.gen_lr, cfg), baseline=cfg.baseline,
            ent_coef=cfg.ent_coef, max_grad_norm=cfg.max_grad_norm, loss_reduction=cfg.loss_reduction,
            kl_coef=cfg.kl_coef, reference=pipe.gen if cfg.kl_coef > 0 else None,
            policy_kwargs=gen_kwargs, seed=cfg.seed, device=pipe.device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(pipe.gen.state_dict())
    elif pipe.agent == "reference":
        assert pipe.task.oracle is not None
        model = PerStepKLReference(
            "GeneratorPolicy", env, oracle=pipe.task.oracle, learning_rate=lr_schedule(cfg.gen_lr, cfg),
            max_grad_norm=cfg.max_grad_norm, policy_kwargs=gen_kwargs, seed=cfg.seed, device=pipe.device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(pipe.gen.state_dict())
    else:
        from agents.ppo import make_ppo

        model = make_ppo(
            env, cfg, pipe.gen.state_dict(), device=pipe.device, learning_rate=lr_schedule(cfg.ppo_lr, cfg)
        )
    model.set_logger(pipe.logger)
    return model


def adversarial(pipe: Pipeline, ckpt: dict[str, Any] | None) -> None:
    """Adversarial training: the agent's updates with the shared callbacks until ``adv_updates``."""
    cfg = pipe.cfg
    if pipe.phase != "adversarial":
        return
    model = pipe.model = build_agent(pipe)
    gen = model.policy.generator
    per_update = timesteps_per_update(model)

    def on_eval(row: dict[str, Any]) -> None:
        if stopper.stop:  # interrupted: the checkpoint already holds the last update boundary
            return
        pipe.step = row["update"]
        metrics = {k: v for k, v in row.items() if k not in ("update", "timesteps")}
        pipe.record("adversarial", row["update"], row["timesteps"], metrics)

    def save_now(_: BaseAlgorithm) -> None:
        pipe.step = model.num_timesteps // per_update
        pipe.checkpoint()

    def save(m: BaseAlgorithm) -> None:
        if not stopper.stop:  # interrupted: the stopper already saved the last update boundary
            save_now(m)

    def on_d_round(n_updates: int) -> None:
        if not stopper.stop:
            pipe.d_report("d_round", n_updates, n_updates * per_update)

    stopper = _StopOnInterrupt(pipe, save_now)
    pipe.rollout_callback = RolloutPolicyCallback(beta=cfg.rollout_beta)
    evaluator = EvalEveryKUpdates(pipe.evaluate, every=cfg.eval_every, eval_at_start=False, on_eval=on_eval)
    saver = SaveEveryKUpdates(save, every=cfg.checkpoint_every)
    callbacks = pipe.callbacks = [pipe.rollout_callback, evaluator, saver]
    if uses_discriminator(cfg):  # the perfect and the constant reward read no D: it is not retrained
        pipe.d_callback = DiscriminatorCallback(
            pipe.disc, pipe.task.train, every=cfg.d_every, rounds=cfg.d_rounds, epochs=cfg.d_epochs,
            n_negatives=cfg.d_negatives, batch_size=cfg.disc_batch_size, optimizer=pipe.disc_opt, seed=cfg.seed,
            on_retrained=on_d_round,
        )  # fmt: skip
        callbacks.insert(1, pipe.d_callback)
    if cfg.mle_steps:
        pipe.mle_callback = MLECallback(pipe.task.train, steps=cfg.mle_steps, batch_size=cfg.mle_batch_size,
                                        lr=cfg.mle_lr, seed=cfg.seed)  # fmt: skip
        callbacks.insert(0, pipe.mle_callback)
    done = 0
    if ckpt is not None and "adversarial" in ckpt:
        done = _restore_adversarial(pipe, ckpt["adversarial"])
        for cb, last in zip(callbacks, ckpt["adversarial"]["callbacks_last_done"]):
            cb.last_done = last
        # building the agent re-seeded the global RNGs (SB3's set_random_seed): put the saved ones back
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])
    elif not any(r["phase"] == "adversarial" for r in pipe.history):
        pipe.record("adversarial", 0, 0, pipe.evaluate(gen))
    remaining = cfg.adv_updates - done
    if remaining > 0:
        model.learn(remaining * per_update, callback=[*callbacks, stopper], reset_num_timesteps=done == 0,
                    progress_bar=cfg.progress)  # fmt: skip
        pipe.stop_if_interrupted(save=False)  # the stopper saved at the last update boundary
    pipe.gen.load_state_dict(gen.state_dict())
    pipe.phase, pipe.step = "done", cfg.adv_updates
    pipe.checkpoint()


def match_mle_diversity(pipe: Pipeline) -> None:
    """With ``--match-mle-diversity``: fold into G the smallest T ≥ 1 at which its validation NLL is no worse than
    the MLE checkpoint's with confidence (paired, mean + 2 standard errors ≤ 0; see
    :func:`~seqgan_env.metrics.matching_temperature`), then record the tempered G as the run's final one."""
    if not pipe.cfg.match_mle_diversity or pipe.phase != "done" or pipe.tempered() is not None:
        return
    assert pipe.task.valid is not None
    mle = Generator(pipe.gen.config).to(pipe.device)  # the MLE checkpoint: this run's pretraining or --pretrained's
    mle.load_state_dict(checkpoint_at(pipe.cfg.pretrained or pipe.run.path, "pretrained.pt")["generator"])
    reference = per_sequence_nll(mle, pipe.task.valid)
    temperature = matching_temperature(pipe.gen, pipe.task.valid, reference)
    fold_temperature(pipe.gen, temperature)
    timesteps = pipe.history[-1]["timesteps"]
    pipe.record("calibrated", pipe.step, timesteps, {**pipe.evaluate(), "temperature": temperature})
    pipe.checkpoint()


class _StopOnInterrupt(BaseCallback):
    """After Ctrl-C: at the next update boundary save a checkpoint, then stop ``learn``."""

    def __init__(self, pipe: Pipeline, save: Any) -> None:
        super().__init__()
        self.pipe, self.save, self.stop = pipe, save, False

    def _on_rollout_start(self) -> None:
        if self.pipe.interrupted and not self.stop:
            self.save(self.model)
            self.stop = True

    def _on_step(self) -> bool:
        return not self.stop


class GracefulInterrupt:
    """Context manager: the first Ctrl-C asks the pipeline to checkpoint at its next safe point and exit;
    a second one interrupts at once."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pipe.interrupted:
            raise KeyboardInterrupt
        self.pipe.interrupted = True
        tqdm.write("Ctrl-C: saving a checkpoint at the next safe point (press again to abort at once)", file=sys.stderr)

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _restore_adversarial(pipe: Pipeline, adv: dict[str, Any]) -> int:
    model = pipe.model
    assert model is not None
    model.policy.load_state_dict(adv["policy"])
    model.policy.optimizer.load_state_dict(adv["policy_optimizer"])
    model.num_timesteps = adv["num_timesteps"]
    model._n_updates = adv["n_updates"]
    if adv.get("sampling_rng") is not None and hasattr(model, "sampling_rng"):
        model.sampling_rng.set_state(adv["sampling_rng"])
    assert model.env is not None
    model._last_obs = model.env.reset()  # type: ignore[assignment]
    env = get_seqgan_env(model.env)
    model._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
    env.core.torch_rng.set_state(adv["env_torch_rng"])
    env.venv.np_random.bit_generator.state = adv["env_np_random"]
    env.core.q_prev = adv["env_q_prev"].to(env.core.device)
    if "env_pos" in adv:  # continue the episodes in progress exactly where they were
        env.core.restore(adv["env_tokens"], adv["env_pos"])
        model._last_obs = env.core.observation()  # type: ignore[assignment]
        model._last_episode_starts = (adv["env_pos"] == 0).numpy()
    if pipe.d_callback is not None and adv.get("d_callback_rng") is not None:
        pipe.d_callback.rng.set_state(adv["d_callback_rng"])
    if adv.get("mle_callback") is not None and pipe.mle_callback is not None:
        pipe.mle_callback.rng.set_state(adv["mle_callback"]["rng"])
        pipe.mle_callback.restored_optimizer = adv["mle_callback"]["opt"]
    if adv.get("rollout_policy") is not None:
        assert pipe.rollout_callback is not None
        pipe.rollout_callback.restored_state = adv["rollout_policy"]
    if adv.get("kl_reference") is not None and (ref := getattr(model, "reference", None)) is not None:
        ref.load_state_dict(adv["kl_reference"])
    return adv["num_timesteps"] // timesteps_per_update(model)


# ------------------------------------------------------------------------------------------------ outputs
def summarize(pipe: Pipeline) -> dict[str, Any]:
    """Random / MLE / adversarial (final and best) metrics, and wall time."""
    hist = pipe.history
    mle = [r for r in hist if r["phase"].endswith("mle")]
    adv = [r for r in hist if r["phase"] == "adversarial"]
    evals = [r for r in hist if r["phase"].removeprefix("pretrained_") in EVAL_PHASES]
    d_rows = [r for r in hist if r["phase"] in ("d_pretrain", "d_round")]
    last = evals[-1] if evals else {}
    metric_keys = [k for k in last if k not in ("phase", "step", "timesteps", "wall_s")]
    summary: dict[str, Any] = {
        "agent": pipe.agent,
        "preset": pipe.cfg.preset,
        "task": pipe.cfg.data or pipe.cfg.oracle_params or f"random oracle (seed {pipe.cfg.oracle_seed})",
        "wall_s": round(pipe.elapsed(), 1),
    }
    if pipe.task.oracle is not None:
        summary["random_nll_oracle"] = pipe.task.random_nll_oracle
    if pipe.task.corpus is not None:
        summary["corpus"] = pipe.task.corpus.stats
    if mle:
        summary.update({f"mle_{k}": mle[-1][k] for k in metric_keys if k in mle[-1]})
    if adv:
        final = pipe.tempered() or adv[-1]
        summary.update({f"final_{k}": final[k] for k in metric_keys if k in final})
        key = "nll_oracle" if "nll_oracle" in adv[-1] else "nll_test"
        best = min(adv, key=lambda r: r[key])
        summary.update({f"best_{key}": best[key], "best_update": best["step"]})
    if d_rows:  # D's quality at its last report, and averaged over the adversarial phase's reports
        summary.update({f"last_{k}": v for k, v in d_rows[-1].items() if k.startswith("d_")})
        rounds = [r for r in d_rows if r["phase"] == "d_round"]
        for k in (k for k in (rounds[-1] if rounds else {}) if k.startswith("d_")):
            summary[f"mean_adv_{k}"] = sum(r[k] for r in rounds) / len(rounds)
    return summary


def write_samples(pipe: Pipeline, n: int = 100) -> None:
    samples = pipe.gen.sample(n, generator=torch.Generator(device=pipe.device).manual_seed(pipe.cfg.seed))
    lines = pipe.task.decode(samples)
    atomic_write_text(pipe.run.path / "samples.txt", "\n".join(lines) + "\n")


def plot_curve(pipe: Pipeline) -> Path:
    """PNG learning curve over MLE epochs then adversarial updates: NLL-oracle and NLL-test (oracle task), or NLL-test
    with BLEU-4 and self-BLEU-4 (real text)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = pipe.cfg
    mle_epochs = cfg.mle_epochs
    text = pipe.task.corpus is not None  # real text: NLL-test, and BLEU-4 / self-BLEU-4 on a second axis
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels = {"nll_oracle": "NLL-oracle", "nll_test": "NLL-test", "bleu4": "BLEU-4", "self_bleu4": "self-BLEU-4"}

    def curve(axis: Any, key: str, style: str) -> None:
        rows = [r for r in pipe.history if key in r and r["phase"].removeprefix("pretrained_") in EVAL_PHASES]
        if rows:
            xs = [r["step"] if r["phase"].endswith("mle") else mle_epochs + r["step"] for r in rows]
            axis.plot(xs, [r[key] for r in rows], style, marker=".", label=f"this run: {labels[key]}")

    curve(ax, "nll_test", "--")
    if not text:
        curve(ax, "nll_oracle", "-")
    else:
        ax2 = ax.twinx()
        curve(ax2, "bleu4", "-")
        curve(ax2, "self_bleu4", ":")
        ax2.set_ylabel("BLEU-4 / self-BLEU-4 (vs the test sentences / its own samples)")
        ax2.legend(fontsize=8, loc="lower right")
    ax.axvline(mle_epochs, color="grey", lw=0.8)
    ax.text(mle_epochs, ax.get_ylim()[1], " adversarial →", va="top", fontsize=8, color="grey")
    if cfg.oracle_params:
        ox = [e * mle_epochs / OFFICIAL_MLE_EPOCHS for e, _ in OFFICIAL_MLE_LOG] + [
            mle_epochs + e for e, _ in OFFICIAL_ADV_LOG
        ]
        oy = [v for _, v in OFFICIAL_MLE_LOG] + [v for _, v in OFFICIAL_ADV_LOG]
        ax.plot(ox, oy, "k^", ms=5, label="official run's log (NLL-oracle; MLE epochs rescaled)")
        ax.axhline(8.736, color="k", lw=0.6, ls=":", label="published SeqGAN 8.736")
    ax.set_xlabel(f"MLE epoch (0–{mle_epochs}), then adversarial generator update")
    ax.set_ylabel("NLL (nats / token)")
    ax.set_title(f"SeqGAN {pipe.agent} — preset {cfg.preset}, seed {cfg.seed}")
    ax.legend(fontsize=8)
    path = pipe.run.path / "curve.png"
    atomic_save_figure(fig, path)
    return path


def run(cfg: SeqGANConfig, agent: str = "reinforce") -> dict[str, Any]:
    """Run (or resume) the whole pipeline; returns the summary also written to ``metrics.json``."""
    ckpt = None
    check_agent(cfg, agent)
    if cfg.resume:
        cfg, ckpt = resolve_resume(cfg)
        if ckpt["agent"] != agent:
            raise ValueError(
                f"--resume {cfg.resume}: it is a {ckpt['agent']} run; continue it with train/{ckpt['agent']}.py, "
                f"not as {agent}"
            )
    pipe = build_pipeline(cfg, agent, ckpt)
    try:
        return _run(pipe, cfg, ckpt)
    finally:
        pipe.run.unlock()


def _run(pipe: Pipeline, cfg: SeqGANConfig, ckpt: dict[str, Any] | None) -> dict[str, Any]:
    if ckpt is None and pipe.phase == "mle":
        pipe.checkpoint()
    with GracefulInterrupt(pipe):
        pretrain_generator(pipe)
        pretrain_discriminator(pipe)
        if pipe.phase == "done" and pipe.step < cfg.adv_updates:  # resumed with a larger --adv-updates
            if pipe.tempered() is not None:
                raise ValueError(f"--resume {pipe.run.path}: its generator was tempered (--match-mle-diversity) "
                                 "at the end of the run; it cannot take more updates")  # fmt: skip
            pipe.phase = "adversarial"
        adversarial(pipe, ckpt if ckpt is not None and ckpt["phase"] in ("adversarial", "done") else None)
        match_mle_diversity(pipe)
    summary = summarize(pipe)
    pipe.run.write_metrics(pipe.history, summary)
    write_samples(pipe)
    plot_curve(pipe)
    summary["run_dir"] = str(pipe.run.path)
    if not all(math.isfinite(r["nll_test"]) for r in pipe.history if "nll_test" in r):
        raise FloatingPointError("a non-finite NLL-test was recorded; see metrics.json")
    return summary
