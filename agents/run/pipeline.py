"""The SeqGAN pipeline's orchestration: build (or restore) a run, drive it through its phases — MLE pretraining of G
and pretraining of D (:mod:`agents.run.pretrain`), the adversarial phase (:mod:`agents.run.adversarial`) — checkpointing
atomically after each step, and write its report (:mod:`agents.run.report`). ``train/*.py`` scripts call :func:`run`."""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import configure
from tqdm.auto import tqdm

from agents.config import (
    SeqGANConfig,
    check_agent,
    flag,
    get,
    paths,
    preset_config,
    replace,
    to_dict,
    uses_discriminator,
)
from agents.run.adversarial import AdversarialPhase, match_mle_diversity
from agents.run.checkpoint import atomic_write_json, atomic_write_text, load_checkpoint
from agents.run.pretrain import d_kind, load_pretrained, pretrain_discriminator, pretrain_generator
from agents.run.recording import Checkpointer, Models, Recorder
from agents.run.report import plot_curve, summarize, write_samples
from agents.run.rundir import Phase, RunDir, require_run_keys, saved_config, upgrade_history
from agents.run.task import (
    Task,
    build_discriminator,
    build_task,
    generator_config,
    seed_everything,
)
from seqgan_env.discriminator import LMDiscriminator
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.memory import keep_freed_memory
from seqgan_env.optim import adam

# Fields that may differ when resuming (they do not change what is computed).
RESUME_FREE = {"agent", "resume", "progress", "device", "run_dir", "adv.updates"}
"""Fields a resumed run may give (they do not change what is computed; ``adv.updates`` may grow; ``agent`` is checked
on its own)."""


def resolve_resume(cfg: SeqGANConfig, explicit: frozenset[str] | None = None) -> tuple[SeqGANConfig, dict[str, Any]]:
    """Load the last checkpoint of ``cfg.resume``; the run's saved config wins (``adv.updates`` may grow).
    ``explicit``: the field paths the user set (from the command line); without it, a field counts as set when it
    differs from the preset's value."""
    rundir = RunDir(cfg.resume or "")
    if not rundir.path.is_dir():
        raise FileNotFoundError(f"--resume {rundir.path}: no such run directory")
    if cfg.run_dir and Path(cfg.run_dir) != rundir.path:
        raise ValueError(f"--resume {cfg.resume} continues in that directory; drop --run-dir {cfg.run_dir}")
    if not rundir.latest.is_file():
        raise FileNotFoundError(
            f"--resume {rundir.path}: it has no checkpoint yet (the run stopped before its first one); nothing to "
            "resume: delete the directory and start again, or pass another --run-dir"
        )
    ckpt = require_run_keys(load_checkpoint(rundir.latest), rundir.latest)
    saved = saved_config(ckpt)
    if saved.agent != cfg.agent:
        raise ValueError(
            f"--resume {cfg.resume}: it is a {saved.agent} run; continue it with train/{saved.agent}.py, "
            f"not as {cfg.agent}"
        )
    defaults = preset_config(cfg.preset)

    def given(k: str) -> bool:
        return k in explicit if explicit is not None else get(cfg, k) != get(defaults, k)

    clash = [flag(k) for k in paths(cfg) if k not in RESUME_FREE and given(k) and get(cfg, k) != get(saved, k)]
    if clash:
        raise ValueError(f"--resume {rundir.path}: flags {clash} differ from the run's saved config; drop them")
    keep = {"resume": str(rundir.path), "run_dir": str(rundir.path), "progress": cfg.progress, "device": cfg.device}
    updates = saved.adv.updates
    if given("adv.updates"):
        updates = keep["adv.updates"] = cfg.adv.updates
    done = ckpt["phase"] == Phase.DONE
    if done and updates < ckpt["step"]:
        raise ValueError(
            f"--resume {rundir.path}: the run has finished {ckpt['step']} updates; --adv.updates {updates} cannot "
            f"shrink it (pass more than {ckpt['step']} to continue it)"
        )
    if done and updates == ckpt["step"]:
        print(f"--resume {rundir.path}: the run has finished all {updates} updates; nothing to train (pass "
              f"--adv.updates N > {updates} to continue it); rewriting its summary", file=sys.stderr)  # fmt: skip
    return replace(saved, keep), ckpt


@dataclass
class Pipeline:
    """One run: its config, task and models, the :class:`~agents.run.recording.Recorder` and
    :class:`~agents.run.recording.Checkpointer` the phases receive, and where the run stands (``phase``, ``step``:
    what a checkpoint records). :func:`run` drives it through the phases; no phase sees it."""

    cfg: SeqGANConfig
    rundir: RunDir
    task: Task
    models: Models
    rec: Recorder
    phase: str = Phase.MLE
    step: int = 0
    adversarial: AdversarialPhase | None = None
    ckpt: Checkpointer = field(init=False)

    def __post_init__(self) -> None:
        self.ckpt = Checkpointer(self.rundir, self.state)

    @property
    def gen(self) -> Generator:
        """The run's G (the adversarial phase trains a copy, copied back at its end)."""
        return self.models.gen

    def state(self, phase: str, step: int) -> dict[str, Any]:
        """Everything needed to continue exactly from (``phase``, ``step``) (the :class:`Checkpointer`'s state)."""
        m, cfg = self.models, self.cfg
        out: dict[str, Any] = {
            "config": to_dict(cfg), "agent": cfg.agent, "phase": phase, "step": step, "wall": self.rec.elapsed(),
            "history": self.rec.history,
            "generator": m.gen.state_dict(), "gen_optimizer": m.gen_opt.state_dict(),
            "discriminator": m.disc.state_dict(), "disc_optimizer": m.disc_opt.state_dict(),
            "rng": m.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "vocab": self.task.vocab_tokens,
            "data_digest": self.task.digest(),
            "numpy_rng": np.random.get_state(),  # noqa: NPY002
            "python_rng": random.getstate(),
        }  # fmt: skip
        if self.adversarial is not None:
            out["adversarial"] = self.adversarial.state_dict()
        return out

    def load_models(self, ckpt: dict[str, Any], with_discriminator: bool = True) -> None:
        """G, D and their optimizers from :meth:`state` (or another run's ``pretrained.pt``)."""
        m = self.models
        try:
            m.gen.load_state_dict(ckpt["generator"])
            m.gen_opt.load_state_dict(ckpt["gen_optimizer"])
            if with_discriminator:
                m.disc.load_state_dict(ckpt["discriminator"])
                m.disc_opt.load_state_dict(ckpt["disc_optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ValueError(f"checkpoint does not match this config's models: {exc}") from None

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Continue from :meth:`state` (after :meth:`load_models`): the phase, the history, the adversarial phase when
        the run continues it, then every RNG, last (building the agent re-seeds the global ones)."""
        self.phase, self.step = ckpt["phase"], ckpt["step"]
        self.rec.history, self.rec.wall = upgrade_history(ckpt["history"]), ckpt["wall"]
        if "adversarial" in ckpt and self.adversarial_left():
            self.adversarial = self.new_adversarial()
            self.adversarial.load_state_dict(ckpt["adversarial"])
        self.models.rng.set_state(ckpt["rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])

    def new_adversarial(self) -> AdversarialPhase:
        """The adversarial phase (its agent and callbacks), starting from the run's G."""
        return AdversarialPhase(self.cfg, self.task, self.models, self.rec, self.ckpt)

    def adversarial_left(self) -> bool:
        """Whether the adversarial phase has updates to do: it is under way, or the run ended and was resumed with a
        larger ``--adv.updates``."""
        return self.phase == Phase.ADVERSARIAL or (self.phase == Phase.DONE and self.step < self.cfg.adv.updates)

    def start_from_pretrained(self, pretrained: dict[str, Any], new_d: bool) -> None:
        """Start after another run's pretraining (``--pretrained``): its history, as ``pretrained_*`` rows, and its
        wall time count; a D of another kind than the one it pretrained is pretrained here."""
        rows = upgrade_history(pretrained["history"])
        self.rec.history = [dict(r, phase=f"{Phase.PRETRAINED}{r['phase']}") for r in rows]
        self.phase, self.step = (Phase.DISC if new_d else Phase.ADVERSARIAL), 0
        self.rec.wall = pretrained["wall"]
        self.models.rng.set_state(pretrained["rng"])


def build_pipeline(cfg: SeqGANConfig, ckpt: dict[str, Any] | None = None) -> Pipeline:
    """Create (or restore from ``ckpt``) every part of a run (``cfg`` checked by :func:`run`)."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    pretrained = None
    if cfg.pretrained and ckpt is None:
        pretrained, cfg = load_pretrained(cfg)
    if ckpt is None:
        RunDir.refuse_existing(cfg)  # before the data is read: a wrong --run-dir costs nothing
    task = build_task(cfg, device)  # every input error surfaces here, before a run directory exists
    rundir = RunDir(cfg.resume) if ckpt is not None else RunDir.create(cfg)
    rundir.lock()
    if ckpt is None:
        atomic_write_json(rundir.config_json, to_dict(cfg))
    if task.corpus is not None:
        atomic_write_text(rundir.vocab_json, task.corpus.vocab.to_json() + "\n")
    gen = Generator(generator_config(cfg, task)).to(device)
    disc = build_discriminator(cfg, task).to(device)
    gen_opt = adam(gen.parameters(), lr=cfg.mle.lr)
    disc_opt = adam(disc.parameters(), lr=disc.config.lr)
    models = Models(gen, disc, gen_opt, disc_opt, torch.Generator().manual_seed(cfg.seed), device)
    rec = Recorder(cfg, task, rundir, configure(str(rundir.tensorboard), ["tensorboard"]))
    pipe = Pipeline(cfg, rundir, task, models, rec)
    if isinstance(disc, LMDiscriminator):  # scored against the pipeline's G until the agent's takes over
        disc.set_noise(gen)
    source = ckpt or pretrained
    saved_vocab = (source or {}).get("vocab")
    if task.corpus is not None and saved_vocab is not None and saved_vocab != task.vocab_tokens:
        raise ValueError(
            f"the corpus {cfg.task.data} no longer yields the checkpoint's vocabulary (was the file changed?)"
        )
    saved_digest = (source or {}).get("data_digest")
    if saved_digest is not None and saved_digest != task.digest():
        raise ValueError(
            f"the task's data ({cfg.task.data or 'oracle sample'}) no longer yields the checkpoint's train/test split "
            "(were the corpus lines changed or reordered?): restore the data the run was started with"
        )
    # A per-prefix D cannot start from another run's CNN D: it is pretrained here, from the pretrained G.
    new_d = pretrained is not None and ckpt is None and d_kind(saved_config(pretrained)) != d_kind(cfg)
    if source is not None:
        pipe.load_models(source, with_discriminator=not new_d)
    if ckpt is not None:
        pipe.load_state(ckpt)
    elif pretrained is not None:
        pipe.start_from_pretrained(pretrained, new_d)
    return pipe


class GracefulInterrupt:
    """Context manager: the first Ctrl-C asks the pipeline to checkpoint at its next safe point and exit;
    a second one interrupts at once."""

    def __init__(self, ckpt: Checkpointer) -> None:
        self.ckpt = ckpt
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.ckpt.interrupted:
            raise KeyboardInterrupt
        self.ckpt.interrupted = True
        tqdm.write("Ctrl-C: saving a checkpoint at the next safe point (press again to abort at once)", file=sys.stderr)

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def plan(pipe: Pipeline) -> str:
    """Two lines printed before any work: the run directory, and what the run will do (phases with their budgets,
    the device and torch's thread count, which the figures depend on)."""
    cfg = pipe.cfg
    task = cfg.task.data or (
        "the official oracle" if cfg.task.oracle_params else f"the random oracle {cfg.task.oracle_seed}"
    )
    if cfg.pretrained:
        phases = [f"from {cfg.pretrained}'s pretraining"]
    else:
        stop = f", early stop after {cfg.mle.patience} epochs without a validation gain" if cfg.mle.patience else ""
        phases = [f"MLE {cfg.mle.epochs} epochs{stop}"]
        if uses_discriminator(cfg):
            phases.append(f"D {cfg.disc.pretrain_rounds} rounds")
    phases.append(
        f"{cfg.agent} {cfg.adv.updates} updates × {cfg.env.num_envs} sequences ({cfg.env.reward_source} reward)"
    )
    return (
        f"run directory: {pipe.rundir.path}\nplan: {task}; "
        + ", then ".join(phases)
        + f"; device {pipe.models.device}, {torch.get_num_threads()} torch threads"
    )


def run(cfg: SeqGANConfig, explicit: frozenset[str] | None = None) -> dict[str, Any]:
    """Run (or resume) the whole pipeline with ``cfg.agent``; returns the summary also written to ``metrics.json``.
    ``explicit``: the field paths set on the command line (see :func:`resolve_resume`)."""
    ckpt = None
    check_agent(cfg)
    keep_freed_memory()  # large tensors come and go every step: reuse their memory (seqgan_env.memory)
    if cfg.resume:
        cfg, ckpt = resolve_resume(cfg, explicit)
    pipe = build_pipeline(cfg, ckpt)
    if cfg.progress:
        print(plan(pipe), file=sys.stderr, flush=True)
    try:
        return _run(pipe, cfg, ckpt)
    finally:
        pipe.rundir.unlock()


def _run(pipe: Pipeline, cfg: SeqGANConfig, ckpt: dict[str, Any] | None) -> dict[str, Any]:
    task, models, rec, saver = pipe.task, pipe.models, pipe.rec, pipe.ckpt
    if ckpt is None and pipe.phase == Phase.MLE:
        saver.save(Phase.MLE, 0)
    with GracefulInterrupt(saver):
        if pipe.phase == Phase.MLE:
            pretrain_generator(cfg, task, models, rec, saver, start=pipe.step)
            pipe.phase, pipe.step = Phase.DISC, 0
        if pipe.phase == Phase.DISC:
            pretrain_discriminator(cfg, task, models, rec, saver, start=pipe.step)
            pipe.phase, pipe.step = Phase.ADVERSARIAL, 0
        if pipe.phase == Phase.DONE and pipe.adversarial_left():  # resumed with a larger --adv.updates
            if rec.matched_mle_diversity() is not None:
                raise ValueError(f"--resume {pipe.rundir.path}: its generator was tempered (--adv.match-mle-diversity) "
                                 "at the end of the run; it cannot take more updates")  # fmt: skip
            pipe.phase = Phase.ADVERSARIAL
        if pipe.phase == Phase.ADVERSARIAL:
            pipe.adversarial = pipe.adversarial or pipe.new_adversarial()
            pipe.adversarial.train()
            pipe.phase, pipe.step = Phase.DONE, cfg.adv.updates
        if cfg.adv.match_mle_diversity and rec.matched_mle_diversity() is None:
            match_mle_diversity(cfg, task, models, rec, saver, pipe.step)
    summary = summarize(cfg, task, rec)
    pipe.rundir.write_metrics(rec.history, summary)
    write_samples(pipe.rundir.samples_txt, pipe.gen, task, rec, pipe.step, cfg.seed)
    plot_curve(pipe.rundir.curve_png, cfg, rec.history)
    summary["run_dir"] = str(pipe.rundir.path)
    for warning in summary["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    if not all(math.isfinite(r["nll_test"]) for r in rec.history if "nll_test" in r):
        raise FloatingPointError("a non-finite NLL-test was recorded; see metrics.json")
    return summary
