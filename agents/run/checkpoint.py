"""Atomic checkpoint files: written to a temp file, fsynced, then renamed over the target, and read without running
code: a checkpoint holds only tensors and plain data (numpy values are stored as tensors and tagged), so it is loaded
with ``torch.load(weights_only=True)``, whose unpickler builds nothing else. A crafted file is refused, not run.

Checkpoints of version 1 (written before this) pickled numpy objects and can only be read by running pickle code:
``python -m agents.run.checkpoint upgrade PATH…`` rewrites files you trust as version 2.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqgan_env.rundir import RunLayout, UnsafeCheckpointError, read_weights_only

CHECKPOINT_VERSION = 2
_NDARRAY = "__numpy_ndarray__"  # tags a numpy array stored as a tensor (its dtype kept by the tensor)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write UTF-8 ``text`` to ``path``."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_save_figure(fig: Any, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Lay out a matplotlib figure, atomically write it as PNG to ``path`` and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _to_plain(obj: Any) -> Any:
    """``obj`` with numpy arrays as tagged tensors and numpy scalars as Python numbers (what weights-only loads)."""
    import numpy as np

    if isinstance(obj, np.ndarray):
        return {_NDARRAY: torch.from_numpy(obj.copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    return obj


def _from_plain(obj: Any) -> Any:
    """Undo :func:`_to_plain`."""
    if isinstance(obj, dict):
        if set(obj) == {_NDARRAY}:
            return obj[_NDARRAY].numpy()
        return {k: _from_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_plain(v) for v in obj)
    return obj


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Atomically save ``payload`` (tensors, state dicts, plain data; numpy values are converted) with a version
    tag, in a form :func:`load_checkpoint` reads without running code."""
    buf = io.BytesIO()
    torch.save(_to_plain({"checkpoint_version": CHECKPOINT_VERSION, **payload}), buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` without executing any code from the file (weights-only
    unpickling), with one clear error for each failure."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = _from_plain(read_weights_only(path))
    except UnsafeCheckpointError as exc:
        raise ValueError(
            f"{exc}. A checkpoint of version 1 from a run of your own can be converted once with python -m "
            "agents.run.checkpoint upgrade (it reads weights-only too; its --help names the risk of --trust-code)"
        ) from None
    if not isinstance(data, dict) or "checkpoint_version" not in data:
        raise ValueError(f"checkpoint {path} was not written by seqgan_env (no checkpoint_version)")
    if data["checkpoint_version"] != CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {path} has version {data['checkpoint_version']}, this code reads version {CHECKPOINT_VERSION}"
        )
    return data


def _numpy_globals() -> list[Any]:
    """What unpickling numpy arrays, scalars and dtypes needs (data, not code): the weights-only reader's allowance
    for the numpy objects that version-1 checkpoints pickled as they were."""
    from numpy._core import multiarray

    dtypes = [type(np.dtype(t)) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                                           "uint8", "uint16", "uint32", "uint64", "bool")]  # fmt: skip
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def upgrade(path: str | os.PathLike[str], trust_code: bool = False) -> None:
    """Rewrite a version-1 checkpoint as version 2. By default it is read weights-only (no code runs) and refused
    when it holds other objects; ``trust_code=True`` unpickles it in full, which runs any code the file holds: only
    for files you made yourself."""
    path = Path(path)
    try:
        data = read_weights_only(path, allow=_numpy_globals(), trust_code=trust_code)
    except UnsafeCheckpointError as exc:
        raise ValueError(f"{exc}. Only if you made this file yourself, pass --trust-code") from None
    if not isinstance(data, dict) or data.get("checkpoint_version") not in (1, CHECKPOINT_VERSION):
        raise ValueError(f"{path} is not a seqgan_env checkpoint of version 1")
    save_checkpoint(path, {k: v for k, v in data.items() if k != "checkpoint_version"})


def main(argv: list[str] | None = None) -> None:
    """``python -m agents.run.checkpoint upgrade PATH…``: rewrite version-1 checkpoints (or every checkpoint under a run
    directory) as version 2, reading them weights-only; ``--trust-code`` reads them in full (runs code)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m agents.run.checkpoint", description=main.__doc__)
    p.add_argument("command", choices=["upgrade"])
    p.add_argument("paths", nargs="+", help="checkpoint files or run directories (their checkpoints/*.pt)")
    p.add_argument(
        "--trust-code",
        action="store_true",
        help="unpickle in full: a malicious file runs its code on this machine; only for your own files",
    )
    args = p.parse_args(argv)
    files = []
    for x in map(Path, args.paths):
        found = RunLayout(x).checkpoint_files() if x.is_dir() else [x]
        if x.is_dir() and not found:
            p.error(f"{x}: a directory with no checkpoints/*.pt (not a run directory)")
        files += found
    for f in files:
        if not f.is_file():
            p.error(f"{f}: no such checkpoint file")
    for f in files:
        try:
            upgrade(f, trust_code=args.trust_code)
        except ValueError as exc:
            p.exit(2, f"error: {exc}\n")
        print(f"upgraded {f} to version {CHECKPOINT_VERSION}")


if __name__ == "__main__":
    main()
