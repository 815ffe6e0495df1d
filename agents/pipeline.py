"""The SeqGAN pipeline's orchestration: build (or restore) a run, drive it through its phases — MLE pretraining of G
and pretraining of D (:mod:`agents.pretrain`), the adversarial phase (:mod:`agents.adversarial`) — checkpointing
atomically after each step, and write its report (:mod:`agents.report`). ``train/*.py`` scripts call :func:`run`."""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import Logger, configure
from tqdm.auto import tqdm

from agents.adversarial import AdversarialPhase, match_mle_diversity, train_adversarial
from agents.checkpoint import atomic_write_json, atomic_write_text, load_checkpoint, save_checkpoint
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
from agents.pretrain import d_kind, load_pretrained, pretrain_discriminator, pretrain_generator
from agents.report import plot_curve, summarize, write_samples
from agents.rundir import Phase, RunDir, report_seed, require_run_keys, saved_config
from agents.task import (
    EOS_WARNING,
    Task,
    build_discriminator,
    build_task,
    evaluate_generator,
    generator_config,
    seed_everything,
)
from seqgan_env.discriminator import Discriminator, LMDiscriminator
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.memory import keep_freed_memory
from seqgan_env.metrics import SampleCache, discriminator_report
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
    """State of one run; :func:`run` drives it through the phases, checkpointing after each step."""

    cfg: SeqGANConfig
    rundir: RunDir
    task: Task
    device: torch.device
    gen: Generator
    disc: Discriminator
    gen_opt: torch.optim.Optimizer
    disc_opt: torch.optim.Optimizer
    rng: torch.Generator
    logger: Logger
    history: list[dict[str, Any]] = field(default_factory=list)
    phase: str = Phase.MLE
    step: int = 0
    wall: float = 0.0
    adversarial: AdversarialPhase | None = None
    interrupted: bool = False
    mle_best: dict[str, Any] | None = None  # early stopping's best epoch so far (RunDir.mle_best holds its G)
    samples: SampleCache = field(default_factory=SampleCache)  # the last evaluation's samples, for D's report
    cpu: dict[str, float] = field(default_factory=lambda: {"evaluation_s": 0.0, "d_report_s": 0.0})
    """CPU seconds this process spent in evaluations of G and reports of D (``time.process_time``)."""
    _cpu0: float = field(default_factory=time.process_time)
    _t0: float = field(default_factory=time.perf_counter)

    # ---- bookkeeping
    def cpu_summary(self) -> dict[str, float]:
        """This process's CPU seconds: in all, in evaluations of G, in D's reports, and their shares of the whole."""
        total = time.process_time() - self._cpu0
        out = {"total_s": round(total, 3), **{k: round(v, 3) for k, v in self.cpu.items()}}
        for k, v in self.cpu.items():
            out[k.replace("_s", "_share")] = round(v / max(total, 1e-9), 4)
        return out

    def elapsed(self) -> float:
        return self.wall + time.perf_counter() - self._t0

    def calibrated(self) -> dict[str, Any] | None:
        """The evaluation of the G that ``--adv.match-mle-diversity`` tempered at the end of the run, if it has been."""
        return next((r for r in reversed(self.history) if r["phase"] == Phase.CALIBRATED), None)

    def record(self, phase: str, step: int, timesteps: int, metrics: dict[str, float]) -> dict[str, Any]:
        row = {"phase": phase, "step": step, "timesteps": timesteps, "wall_s": round(self.elapsed(), 2), **metrics}
        self.history.append(row)
        if _stopped_ending(row) and not any(_stopped_ending(r) for r in self.history[:-1]):  # once per run
            tqdm.write(f"WARNING: {phase} {step}: G has stopped ending its sentences: {metrics['eos_rate']:.0%} of its "
                       "samples hold <eos> (every real sentence does)", file=sys.stderr)  # fmt: skip
        for k, v in metrics.items():
            self.logger.record(f"eval/{phase}_{k}", v)
        # TensorBoard's step: the epoch (MLE) or round (D pretraining), else generated tokens, SB3's rollout/* axis
        self.logger.dump(step=step if phase in (Phase.MLE, Phase.D_PRETRAIN) else timesteps)
        self.rundir.write_metrics(self.history)
        return row

    def evaluate(self, gen: Generator | None = None) -> dict[str, float]:
        """:func:`evaluate_generator` of ``gen`` (default: this run's generator) on this run's task."""
        t0 = time.process_time()
        metrics = evaluate_generator(gen or self.gen, self.task, self.cfg, cache=self.samples)
        self.cpu["evaluation_s"] += time.process_time() - t0
        return metrics

    def d_report(self, phase: str, step: int, timesteps: int) -> dict[str, float] | None:
        """D's quality now (``--disc.report-samples`` G samples vs the held-out real data; see
        :func:`~seqgan_env.metrics.discriminator_report`), recorded as a ``phase`` row of metrics and TensorBoard.

        On the oracle task, when G is also evaluated (D's pretraining reports the G the adversarial phase starts from;
        a D round at an evaluated update), the samples are the first of that evaluation's, with their likelihoods,
        drawn and scored once (:class:`~seqgan_env.metrics.SampleCache`); otherwise fresh samples, seeded per
        report."""
        cfg = self.cfg
        if not cfg.disc.report_samples:
            return None
        gen = self.gen if self.adversarial is None else self.adversarial.generator
        evaluated = phase == Phase.D_PRETRAIN or step % cfg.eval.every == 0
        scored = None
        if self.task.oracle is not None and evaluated and cfg.disc.report_samples <= cfg.eval.samples:
            t_eval = time.process_time()  # drawing and scoring the evaluation's samples: the evaluation's cost
            scored = self.samples.get(self.task.oracle, gen, cfg.eval.samples, seed=cfg.seed)
            self.cpu["evaluation_s"] += time.process_time() - t_eval
        t0 = time.process_time()
        seed = report_seed(cfg.seed, len(self.history) + 1)  # fresh samples for each report, reproducibly
        report = discriminator_report(self.disc, gen, self.task.oracle, self.task.test, cfg.disc.report_samples,
                                      seed=seed, scored=scored)  # fmt: skip
        self.cpu["d_report_s"] += time.process_time() - t0
        self.record(phase, step, timesteps, {f"d_{k}": v for k, v in report.items()})
        return report

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here."""
        out: dict[str, Any] = {
            "config": to_dict(self.cfg), "agent": self.cfg.agent, "phase": self.phase, "step": self.step,
            "wall": self.elapsed(), "history": self.history,
            "generator": self.gen.state_dict(), "gen_optimizer": self.gen_opt.state_dict(),
            "discriminator": self.disc.state_dict(), "disc_optimizer": self.disc_opt.state_dict(),
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "vocab": self.task.corpus.vocab.tokens if self.task.corpus is not None else None,
            "data_digest": self.task.digest(),
            "numpy_rng": np.random.get_state(),  # noqa: NPY002
            "python_rng": random.getstate(),
        }  # fmt: skip
        if self.adversarial is not None:
            out["adversarial"] = self.adversarial.state_dict()
        return out

    def load_models(self, ckpt: dict[str, Any], with_discriminator: bool = True) -> None:
        """G, D and their optimizers from :meth:`state` (or another run's ``pretrained.pt``)."""
        try:
            self.gen.load_state_dict(ckpt["generator"])
            self.gen_opt.load_state_dict(ckpt["gen_optimizer"])
            if with_discriminator:
                self.disc.load_state_dict(ckpt["discriminator"])
                self.disc_opt.load_state_dict(ckpt["disc_optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ValueError(f"checkpoint does not match this config's models: {exc}") from None

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Continue from :meth:`state` (after :meth:`load_models`): the phase, the history, the adversarial phase when
        the run continues it, then every RNG, last (building the agent re-seeds the global ones)."""
        self.history, self.phase, self.step, self.wall = ckpt["history"], ckpt["phase"], ckpt["step"], ckpt["wall"]
        if "adversarial" in ckpt and self.adversarial_left():
            self.adversarial = AdversarialPhase(self)
            self.adversarial.load_state_dict(ckpt["adversarial"])
        self.rng.set_state(ckpt["rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])

    def adversarial_left(self) -> bool:
        """Whether the adversarial phase has updates to do: it is under way, or the run ended and was resumed with a
        larger ``--adv.updates``."""
        return self.phase == Phase.ADVERSARIAL or (self.phase == Phase.DONE and self.step < self.cfg.adv.updates)

    def start_from_pretrained(self, pretrained: dict[str, Any], new_d: bool) -> None:
        """Start after another run's pretraining (``--pretrained``): its history, as ``pretrained_*`` rows, and its
        wall time count; a D of another kind than the one it pretrained is pretrained here."""
        self.history = [dict(r, phase=f"{Phase.PRETRAINED}{r['phase']}") for r in pretrained["history"]]
        self.phase, self.step = (Phase.DISC if new_d else Phase.ADVERSARIAL), 0
        self.wall = pretrained["wall"]
        self.rng.set_state(pretrained["rng"])

    def stop_if_interrupted(self, save: bool = True) -> None:
        """After Ctrl-C (see :class:`GracefulInterrupt`): save a checkpoint at this safe point and exit."""
        if self.interrupted:
            if save:
                self.checkpoint()
            tqdm.write(f"interrupted: checkpoint saved; continue with --resume {self.rundir.path}", file=sys.stderr)
            raise SystemExit(130)

    def checkpoint(self, also: Path | None = None) -> None:
        payload = self.state()
        save_checkpoint(self.rundir.latest, payload)
        if also is not None:
            save_checkpoint(also, payload)


def _stopped_ending(row: dict[str, Any]) -> bool:
    """Whether an evaluation row of this run shows a text G that no longer ends its sentences (not the untrained G of
    MLE epoch 0, which ends nothing: no news; not a row copied from a ``--pretrained`` run, warned about there)."""
    untrained = row["phase"] == Phase.MLE and row["step"] == 0
    copied = row["phase"].startswith(Phase.PRETRAINED)
    return row.get("eos_rate", 1.0) < EOS_WARNING and not untrained and not copied


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
    rng = torch.Generator().manual_seed(cfg.seed)
    logger = configure(str(rundir.tensorboard), ["tensorboard"])
    pipe = Pipeline(cfg, rundir, task, device, gen, disc, gen_opt, disc_opt, rng, logger)
    if isinstance(disc, LMDiscriminator):  # scored against the pipeline's G until the agent's takes over
        disc.set_noise(gen)
    source = ckpt or pretrained
    saved_vocab = (source or {}).get("vocab")
    if task.corpus is not None and saved_vocab is not None and saved_vocab != task.corpus.vocab.tokens:
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
        + f"; device {pipe.device}, {torch.get_num_threads()} torch threads"
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
    if ckpt is None and pipe.phase == Phase.MLE:
        pipe.checkpoint()
    with GracefulInterrupt(pipe):
        pretrain_generator(pipe)
        pretrain_discriminator(pipe)
        if pipe.phase == Phase.DONE and pipe.adversarial_left():  # resumed with a larger --adv.updates
            if pipe.calibrated() is not None:
                raise ValueError(f"--resume {pipe.rundir.path}: its generator was tempered (--adv.match-mle-diversity) "
                                 "at the end of the run; it cannot take more updates")  # fmt: skip
            pipe.phase = Phase.ADVERSARIAL
        train_adversarial(pipe)
        match_mle_diversity(pipe)
    summary = summarize(pipe)
    pipe.rundir.write_metrics(pipe.history, summary)
    write_samples(pipe)
    plot_curve(pipe)
    summary["run_dir"] = str(pipe.rundir.path)
    for warning in summary["warnings"]:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    if not all(math.isfinite(r["nll_test"]) for r in pipe.history if "nll_test" in r):
        raise FloatingPointError("a non-finite NLL-test was recorded; see metrics.json")
    return summary
