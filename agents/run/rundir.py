"""A run directory as the pipeline reads and writes it (its layout is :class:`seqgan_env.rundir.RunLayout`, the one
place that spells it, with the phase names of its checkpoints and history rows, :class:`~seqgan_env.rundir.Phase`):
the config and metrics readers and writers, the checks a run checkpoint must pass."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from agents.config import SeqGANConfig, from_dict
from agents.run.checkpoint import atomic_write_json, atomic_write_text, load_checkpoint
from seqgan_env.rundir import Phase, RunLayout, upgrade_history

__all__ = ["EVAL_PHASES", "Phase", "RunDir", "checkpoint_at", "report_seed", "require_run_keys", "saved_config",
           "upgrade_history"]  # fmt: skip


EVAL_PHASES = (Phase.MLE, Phase.ADVERSARIAL, Phase.MATCHED_MLE_DIVERSITY)
"""History rows that evaluate G; ``d_pretrain`` / ``d_round`` rows report D's quality (``d_*`` keys)."""


REPORT_SEED_STRIDE = 7_919
"""A prime: report ``k`` of a run draws its fresh samples with seed ``seed + REPORT_SEED_STRIDE × k``, so reports
(D's quality, RLlib's evaluations) are reproducible and never reuse each other's samples."""


def report_seed(seed: int, k: int) -> int:
    """The sampling seed of a run's ``k``-th report (see :data:`REPORT_SEED_STRIDE`)."""
    return seed + REPORT_SEED_STRIDE * k


class RunDir(RunLayout):
    """A run directory (its layout: :class:`seqgan_env.rundir.RunLayout`) with the readers and writers of this
    package's files: config.json as a :class:`~agents.config.SeqGANConfig`, metrics.json/.csv."""

    @classmethod
    def create(cls, cfg: SeqGANConfig) -> RunDir:
        """A new, empty run directory: ``cfg.run_dir``, or one named after the agent, preset, seed and time."""
        name = cfg.run_dir or f"runs/{cfg.agent}__{cfg.preset}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(name)
        cls.refuse_existing(cfg, path)
        run = cls(path)
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        return run

    @staticmethod
    def refuse_existing(cfg: SeqGANConfig, path: Path | None = None) -> None:
        """One clear error when the run's directory (``path``, default ``cfg.run_dir``) already holds something."""
        path = path if path is not None else (Path(cfg.run_dir) if cfg.run_dir else None)
        if path is not None and path.is_dir() and any(path.iterdir()):
            raise FileExistsError(f"run directory {path} already exists: pass --resume {path} to continue it")

    def config(self) -> SeqGANConfig:
        """The run's config (its ``config.json``; earlier versions' flat files load too)."""
        path = self.config_json
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} has no config.json: it is not a run directory of this project")
        return from_dict(json.loads(path.read_text()))

    def history(self) -> list[dict[str, Any]]:
        """Every evaluation row of ``metrics.json`` (one clear error when the run has written none)."""
        path = self.metrics_json
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} has no metrics.json: the run wrote no evaluation yet")
        return upgrade_history(json.loads(path.read_text())["history"])

    def rows(self, *phases: str) -> list[dict[str, Any]]:
        """The history rows of the given phases (``"mle"``, ``"adversarial"``, ``"match_mle_diversity"``,
        ``"d_round"``, …)."""
        return [r for r in self.history() if r["phase"] in phases]

    def write_metrics(self, history: list[dict[str, Any]], summary: dict[str, Any] | None = None) -> None:
        atomic_write_json(self.metrics_json, {"history": history, "summary": summary or {}})
        keys = list(dict.fromkeys(k for row in history for k in row))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)
        atomic_write_text(self.metrics_csv, buf.getvalue())


RUN_KEYS = ("config", "agent", "phase", "step", "wall", "history", "generator", "gen_optimizer", "discriminator",
            "disc_optimizer", "rng", "torch_rng", "numpy_rng", "python_rng")  # fmt: skip


def require_run_keys(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """``ckpt`` if it holds everything a run checkpoint has; else one error naming what is missing."""
    missing = [k for k in RUN_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"checkpoint {path} lacks {missing}: it is not a complete run checkpoint of this project")
    return ckpt


def checkpoint_at(path: str | Path, name: str = "latest") -> dict[str, Any]:
    """The run checkpoint ``path`` names: a checkpoint file, or a run directory's checkpoint ``name`` (``latest``,
    ``pretrained``, …; see :class:`~seqgan_env.rundir.RunLayout`)."""
    p = Path(path)
    file = RunLayout(p).checkpoint(name) if p.is_dir() else p
    return require_run_keys(load_checkpoint(file), file)


def saved_config(ckpt: dict[str, Any]) -> SeqGANConfig:
    """The config a checkpoint was written with (:func:`~agents.config.from_dict`: earlier versions' flat configs
    load too; fields added since take the class default, the behaviour the run had)."""
    return from_dict(ckpt["config"], agent=ckpt.get("agent"))
