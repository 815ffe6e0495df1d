"""The narrow interfaces a run's phases receive (:mod:`agents.run.pretrain`, :mod:`agents.run.adversarial`,
:mod:`agents.run.report`), so that each phase reads, and can be tested, on its own: :class:`Models` (what the phases
train), a :class:`Recorder` (the run's history: evaluations of G, D's reports, TensorBoard) and a
:class:`Checkpointer` (checkpoints at a position, and the stop after Ctrl-C). :class:`agents.run.pipeline.Pipeline`
builds them and drives the phases; no phase sees the pipeline."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.logger import Logger
from tqdm.auto import tqdm

from agents.config import SeqGANConfig
from agents.run.checkpoint import save_checkpoint
from agents.run.rundir import Phase, RunDir, report_seed
from agents.run.task import EOS_WARNING, Task, evaluate_generator
from seqgan_env.discriminator import Discriminator
from seqgan_env.generator import Generator
from seqgan_env.metrics import SampleCache, discriminator_report


@dataclass
class Models:
    """What the phases train: G and D, their optimizers, and the run's sampling RNG (MLE batches, D's negatives)."""

    gen: Generator
    disc: Discriminator
    gen_opt: torch.optim.Optimizer
    disc_opt: torch.optim.Optimizer
    rng: torch.Generator
    device: torch.device


@dataclass
class Recorder:
    """A run's history: each row (an evaluation of G, a report of D's quality) goes to ``metrics.json``/.csv and
    TensorBoard as it is recorded. Also times the run (``wall``: the seconds of earlier processes) and this process's
    CPU in evaluations and reports."""

    cfg: SeqGANConfig
    task: Task
    rundir: RunDir
    logger: Logger
    history: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0
    samples: SampleCache = field(default_factory=SampleCache)  # the last evaluation's samples, for D's report
    cpu: dict[str, float] = field(default_factory=lambda: {"evaluation_s": 0.0, "d_report_s": 0.0})
    """CPU seconds this process spent in evaluations of G and reports of D (``time.process_time``)."""
    _cpu0: float = field(default_factory=time.process_time)
    _t0: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Wall seconds of the whole run (earlier processes included)."""
        return self.wall + time.perf_counter() - self._t0

    def cpu_summary(self) -> dict[str, float]:
        """This process's CPU seconds: in all, in evaluations of G, in D's reports, and their shares of the whole."""
        total = time.process_time() - self._cpu0
        out = {"total_s": round(total, 3), **{k: round(v, 3) for k, v in self.cpu.items()}}
        for k, v in self.cpu.items():
            out[k.replace("_s", "_share")] = round(v / max(total, 1e-9), 4)
        return out

    def rows(self, *phases: str) -> list[dict[str, Any]]:
        """The history rows of the given phases."""
        return [r for r in self.history if r["phase"] in phases]

    def matched_mle_diversity(self) -> dict[str, Any] | None:
        """The evaluation of the final G after ``--adv.match-mle-diversity`` tempered it, if it has been."""
        return next(iter(self.rows(Phase.MATCHED_MLE_DIVERSITY)[-1:]), None)

    def record(self, phase: str, step: int, timesteps: int, metrics: dict[str, float]) -> dict[str, Any]:
        """Append a row (with the run's wall time) and write the history; returns the row."""
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

    def evaluate(self, gen: Generator) -> dict[str, float]:
        """:func:`~agents.run.task.evaluate_generator` of ``gen`` on the run's task."""
        t0 = time.process_time()
        metrics = evaluate_generator(gen, self.task, self.cfg, cache=self.samples)
        self.cpu["evaluation_s"] += time.process_time() - t0
        return metrics

    def d_report(
        self, disc: Discriminator, gen: Generator, phase: str, step: int, timesteps: int
    ) -> dict[str, float] | None:
        """D's quality now (``--disc.report-samples`` samples of ``gen`` vs the held-out real data; see
        :func:`~seqgan_env.metrics.discriminator_report`), recorded as a ``phase`` row; None when reports are off.

        On the oracle task, when G is also evaluated (D's pretraining reports the G the adversarial phase starts from;
        a D round at an evaluated update), the samples are the first of that evaluation's, with their likelihoods,
        drawn and scored once (:class:`~seqgan_env.metrics.SampleCache`); otherwise fresh samples, seeded per
        report."""
        cfg = self.cfg
        if not cfg.disc.report_samples:
            return None
        evaluated = phase == Phase.D_PRETRAIN or step % cfg.eval.every == 0
        scored = None
        if self.task.oracle is not None and evaluated and cfg.disc.report_samples <= cfg.eval.samples:
            t_eval = time.process_time()  # drawing and scoring the evaluation's samples: the evaluation's cost
            scored = self.samples.get(self.task.oracle, gen, cfg.eval.samples, seed=cfg.seed)
            self.cpu["evaluation_s"] += time.process_time() - t_eval
        t0 = time.process_time()
        seed = report_seed(cfg.seed, len(self.history) + 1)  # fresh samples for each report, reproducibly
        report = discriminator_report(disc, gen, self.task.oracle, self.task.test, cfg.disc.report_samples,
                                      seed=seed, scored=scored)  # fmt: skip
        self.cpu["d_report_s"] += time.process_time() - t0
        self.record(phase, step, timesteps, {f"d_{k}": v for k, v in report.items()})
        return report


def _stopped_ending(row: dict[str, Any]) -> bool:
    """Whether an evaluation row of this run shows a text G that no longer ends its sentences (not the untrained G of
    MLE epoch 0, which ends nothing: no news; not a row copied from a ``--pretrained`` run, warned about there)."""
    untrained = row["phase"] == Phase.MLE and row["step"] == 0
    copied = row["phase"].startswith(Phase.PRETRAINED)
    return row.get("eos_rate", 1.0) < EOS_WARNING and not untrained and not copied


class Checkpointer:
    """Writes the run's checkpoint at a position (``phase``, ``step``), and stops the run at a safe point after Ctrl-C
    (:attr:`interrupted`, set by :class:`agents.run.pipeline.GracefulInterrupt`).

    ``state(phase, step)`` is everything needed to continue exactly from that position (the pipeline's)."""

    def __init__(self, rundir: RunDir, state: Callable[[str, int], dict[str, Any]]) -> None:
        self.rundir, self.state, self.interrupted = rundir, state, False

    def save(self, phase: str, step: int, also: Path | None = None) -> None:
        """The run's ``latest`` checkpoint at (``phase``, ``step``), and a copy at ``also`` (e.g. ``pretrained``)."""
        payload = self.state(phase, step)
        save_checkpoint(self.rundir.latest, payload)
        if also is not None:
            save_checkpoint(also, payload)

    def save_as(self, path: Path, phase: str, step: int, **extra: Any) -> None:
        """The run's state at (``phase``, ``step``), with ``extra`` keys, to another file than ``latest``."""
        save_checkpoint(path, {**self.state(phase, step), **extra})

    def stop_if_interrupted(self, phase: str, step: int, save: bool = True) -> None:
        """After Ctrl-C: save a checkpoint at this safe point (unless already saved) and exit with status 130."""
        if self.interrupted:
            if save:
                self.save(phase, step)
            tqdm.write(f"interrupted: checkpoint saved; continue with --resume {self.rundir.path}", file=sys.stderr)
            raise SystemExit(130)
