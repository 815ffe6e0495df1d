"""A run directory's layout, in one place: the name of every file a run writes, the lock that keeps a second process
out, and the reader of its checkpoint files (weights-only: no code from a file ever runs). The library's loader
(:func:`seqgan_env.load_generator`) reads runs through it; ``agents.rundir.RunDir`` adds the config and metrics
writers on top.

    RUN/config.json          the run's config (grouped; earlier versions' flat files load too)
    RUN/vocab.json           a text run's vocabulary
    RUN/checkpoints/         latest.pt, pretrained.pt, best.pt, mle_best.pt, mle_epochNNN.pt; an RLlib run's
                             algorithm in rllib_algorithm_NNNNN/ (latest.pt names it)
    RUN/metrics.json, .csv   every evaluation row and the closing summary
    RUN/samples.txt          samples of the final generator; RUN/curve.png its learning curve; RUN/tb/ TensorBoard
    RUN/pretrain/            the pretraining run a comparison or an RLlib run starts from
    RUN/.lock                held while a process writes the run
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

CHECKPOINTS = ("latest", "pretrained", "best")
"""The generators a run keeps for users: ``latest`` (its final G once finished), ``pretrained`` (the MLE G the
adversarial phase started from), ``best`` (the adversarial G with the lowest validation NLL, its start included)."""


class RunLayout:
    """Where each part of the run directory ``path`` lives (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # ---- files
    @property
    def config_json(self) -> Path:
        return self.path / "config.json"

    @property
    def vocab_json(self) -> Path:
        return self.path / "vocab.json"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def samples_txt(self) -> Path:
        return self.path / "samples.txt"

    @property
    def curve_png(self) -> Path:
        return self.path / "curve.png"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tb"

    @property
    def pretrain_dir(self) -> Path:
        """The pretraining run inside a comparison's or an RLlib run's directory."""
        return self.path / "pretrain"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    # ---- checkpoints
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def checkpoint(self, name: str) -> Path:
        """``checkpoints/{name}.pt`` (``latest``, ``pretrained``, ``best``, ``mle_best``, …)."""
        return self.checkpoints / f"{name}.pt"

    def checkpoint_dir(self, name: str) -> Path:
        """``checkpoints/{name}/``: a checkpoint that is a directory (an RLlib algorithm: ``rllib_algorithm_NNNNN``)."""
        return self.checkpoints / name

    def checkpoint_files(self) -> list[Path]:
        """Every checkpoint file the run holds, by name."""
        return sorted(self.checkpoints.glob("*.pt"))

    @property
    def latest(self) -> Path:
        return self.checkpoint("latest")

    @property
    def pretrained(self) -> Path:
        return self.checkpoint("pretrained")

    @property
    def best(self) -> Path:
        """The adversarial generator with the best validation NLL so far (its start included); a generator-only
        checkpoint, for ``load_generator(run, "best")`` and ``generate.py --checkpoint best``."""
        return self.checkpoint("best")

    @property
    def mle_best(self) -> Path:
        """Where ``--mle.patience`` keeps G at its best validation NLL so far."""
        return self.checkpoint("mle_best")

    def mle_epoch_path(self, epoch: int) -> Path:
        """Where ``--mle.keep-every`` keeps G after MLE epoch ``epoch``."""
        return self.checkpoint(f"mle_epoch{epoch:03d}")

    def kept_mle_epochs(self) -> list[int]:
        """The MLE epochs whose G ``--mle.keep-every`` kept, in order."""
        kept = self.checkpoints.glob("mle_epoch*.pt")
        return sorted(int(p.stem.removeprefix("mle_epoch")) for p in kept)

    # ---- metrics
    def finished(self) -> bool:
        """Whether the run has finished: its metrics.json holds the closing summary."""
        return self.metrics_json.is_file() and bool(json.loads(self.metrics_json.read_text()).get("summary"))

    # ---- one process at a time
    def lock(self) -> None:
        """Hold an exclusive lock on the run directory until :meth:`unlock` (or the process ends); a second process
        that tries gets one clear error instead of writing into the same run."""
        import fcntl

        path = self.lock_file
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
            (self.lock_file).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None


def run_finished(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a finished run (studies skip such runs)."""
    return RunLayout(path).finished()


class UnsafeCheckpointError(ValueError):
    """A checkpoint file holds objects other than tensors and plain data: reading it would run code from the file."""


def read_weights_only(path: str | os.PathLike[str], allow: Sequence[Any] = (), trust_code: bool = False) -> Any:
    """What the file at ``path`` holds, read with ``torch.load(weights_only=True)`` (no code from the file runs;
    ``allow`` adds globals that build data, ``trust_code=True`` reads in full). Every failure is one ``ValueError``
    naming the file and what it holds: nothing, bytes that are not a checkpoint, or (``UnsafeCheckpointError``)
    objects whose loading would run code."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=not trust_code)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if not trust_code and ("unsupported global" in text or "unsupported class" in text):
            lines = [line.strip() for line in str(exc).splitlines() if "Unsupported" in line]
            what = lines[0][:200] if lines else "a refused global"
            raise UnsafeCheckpointError(
                f"{path} holds objects other than tensors and plain data ({what}): loading it would run code from "
                "the file; refused"
            ) from None
        raise ValueError(f"{path} is not a readable checkpoint: it holds bytes that are not a checkpoint") from None
    except Exception as exc:  # zero bytes (EOFError), a truncated zip (RuntimeError), text (KeyError), ...
        if path.is_file() and path.stat().st_size == 0:
            raise ValueError(f"{path} is not a readable checkpoint: the file is empty") from None
        raise ValueError(
            f"{path} is not a readable checkpoint: it holds bytes that are not a checkpoint ({type(exc).__name__})"
        ) from None
