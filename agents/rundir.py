"""A run directory and the one place that knows its layout: config.json, checkpoints/ (latest, pretrained, best on
validation, kept MLE epochs), tb/, metrics.json/.csv, samples.txt, curve.png; the checks a run checkpoint must pass;
the readers other modules use (history rows by phase, the generator a checkpoint holds)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from agents.checkpoint import atomic_write_json, atomic_write_text, load_checkpoint
from agents.config import SeqGANConfig, from_dict


class Phase:
    """The names a run uses for its phases: where a checkpoint stands (``MLE`` → ``DISC`` → ``ADVERSARIAL`` → ``DONE``)
    and what a ``metrics.json`` history row records (evaluations of G, reports of D's quality)."""

    # where a run stands (checkpoint "phase")
    MLE = "mle"
    DISC = "disc"
    ADVERSARIAL = "adversarial"
    DONE = "done"
    # history rows: evaluations of G (MLE, ADVERSARIAL and the tempered final G) ...
    CALIBRATED = "calibrated"
    # ... and D-quality reports (``d_*`` keys) after each D pretraining round and each adversarial retraining
    D_PRETRAIN = "d_pretrain"
    D_ROUND = "d_round"
    PRETRAINED = "pretrained_"
    """Prefix of the rows a ``--pretrained`` run copies from the run it starts from."""


EVAL_PHASES = (Phase.MLE, Phase.ADVERSARIAL, Phase.CALIBRATED)
"""History rows that evaluate G; ``d_pretrain`` / ``d_round`` rows report D's quality (``d_*`` keys)."""


REPORT_SEED_STRIDE = 7_919
"""A prime: report ``k`` of a run draws its fresh samples with seed ``seed + REPORT_SEED_STRIDE × k``, so reports
(D's quality, RLlib's evaluations) are reproducible and never reuse each other's samples."""


def report_seed(seed: int, k: int) -> int:
    """The sampling seed of a run's ``k``-th report (see :data:`REPORT_SEED_STRIDE`)."""
    return seed + REPORT_SEED_STRIDE * k


class RunDir:
    """A run directory: config.json, checkpoints/, tb/, metrics.json/.csv, samples.txt, curve.png."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @property
    def latest(self) -> Path:
        return self.path / "checkpoints" / "latest.pt"

    def mle_epoch_path(self, epoch: int) -> Path:
        """Where ``--mle.keep-every`` keeps G after MLE epoch ``epoch``."""
        return self.path / "checkpoints" / f"mle_epoch{epoch:03d}.pt"

    @property
    def mle_best(self) -> Path:
        """Where ``--mle.patience`` keeps G at its best validation NLL so far."""
        return self.path / "checkpoints" / "mle_best.pt"

    def kept_mle_epochs(self) -> list[int]:
        """The MLE epochs whose G ``--mle.keep-every`` kept, in order."""
        kept = (self.path / "checkpoints").glob("mle_epoch*.pt")
        return sorted(int(p.stem.removeprefix("mle_epoch")) for p in kept)

    @property
    def pretrained(self) -> Path:
        return self.path / "checkpoints" / "pretrained.pt"

    @property
    def best(self) -> Path:
        """The adversarial generator with the best validation NLL so far (its start included); a generator-only
        checkpoint, for ``load_generator(run, "best")`` and ``generate.py --checkpoint best``."""
        return self.path / "checkpoints" / "best.pt"

    @classmethod
    def create(cls, cfg: SeqGANConfig) -> RunDir:
        """A new, empty run directory: ``cfg.run_dir``, or one named after the agent, preset, seed and time."""
        name = cfg.run_dir or f"runs/{cfg.agent}__{cfg.preset}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
        path = Path(name)
        cls.refuse_existing(cfg, path)
        (path / "checkpoints").mkdir(parents=True, exist_ok=True)
        return cls(path)

    @staticmethod
    def refuse_existing(cfg: SeqGANConfig, path: Path | None = None) -> None:
        """One clear error when the run's directory (``path``, default ``cfg.run_dir``) already holds something."""
        path = path if path is not None else (Path(cfg.run_dir) if cfg.run_dir else None)
        if path is not None and path.is_dir() and any(path.iterdir()):
            raise FileExistsError(f"run directory {path} already exists: pass --resume {path} to continue it")

    def lock(self) -> None:
        """Hold an exclusive lock on the run directory until :meth:`unlock` (or the process ends); a second process
        that tries gets one clear error instead of writing into the same run."""
        import fcntl

        path = self.path / ".lock"
        while True:
            self._lock = open(path, "a+")  # noqa: SIM115  (held open for the run's lifetime)
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._lock.seek(0)
                holder = self._lock.read().strip() or "another process"
                self._lock.close()
                raise FileExistsError(
                    f"run directory {self.path} is in use by {holder}; wait for it to finish (or stop it), then "
                    "--resume"
                ) from None
            try:  # the holder before us may have removed the file as it let go: lock the file that is there
                if os.stat(path).st_ino == os.fstat(self._lock.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self._lock.close()
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"process {os.getpid()}\n")
        self._lock.flush()

    def unlock(self) -> None:
        """Let go of the run directory and remove its ``.lock`` (still held while it is removed, so no other process
        can hold it in between)."""
        if getattr(self, "_lock", None) is not None:
            (self.path / ".lock").unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def config(self) -> SeqGANConfig:
        """The run's config (its ``config.json``; earlier versions' flat files load too)."""
        path = self.path / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} has no config.json: it is not a run directory of this project")
        return from_dict(json.loads(path.read_text()))

    def history(self) -> list[dict[str, Any]]:
        """Every evaluation row of ``metrics.json`` (one clear error when the run has written none)."""
        path = self.path / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} has no metrics.json: the run wrote no evaluation yet")
        return json.loads(path.read_text())["history"]

    def rows(self, *phases: str) -> list[dict[str, Any]]:
        """The history rows of the given phases (``"mle"``, ``"adversarial"``, ``"calibrated"``, ``"d_round"``, …)."""
        return [r for r in self.history() if r["phase"] in phases]

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


def run_finished(path: str | Path) -> bool:
    """Whether ``path`` holds a finished run: its metrics.json has the closing summary (studies skip such runs)."""
    metrics = Path(path) / "metrics.json"
    return metrics.is_file() and bool(json.loads(metrics.read_text()).get("summary"))


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
    """The config a checkpoint was written with (:func:`~agents.config.from_dict`: earlier versions' flat configs
    load too; fields added since take the class default, the behaviour the run had)."""
    config = dict(ckpt["config"])
    if "agent" not in config and "agent" in ckpt:  # earlier versions kept the agent beside the config
        config["agent"] = ckpt["agent"]
    return from_dict(config)
