"""A trained generator from a run directory, ready to sample: ``seqgan_env.load_generator(run_dir)``."""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.text import Vocabulary

CHECKPOINTS = ("latest", "pretrained", "best")
"""``latest``: the run's last checkpoint (its final generator when the run has finished); ``pretrained``: the MLE
generator the adversarial phase started from; ``best``: of the adversarial phase's evaluated generators (its start
included), the one with the lowest NLL on the validation split (``--task.n-valid``; chosen on validation only, never
on the test set; a run without a validation split keeps none)."""


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


def load_generator(
    run_dir: str | os.PathLike[str], checkpoint: str = "latest", device: str | torch.device = "cpu"
) -> tuple[Generator, Vocabulary | None]:
    """The generator saved in ``run_dir`` (``checkpoints/{checkpoint}.pt``, read without running code) in eval mode,
    and the run's vocabulary (None for an oracle-task run, whose tokens are ids). Sample with
    ``gen.sample(n, temperature=…)``; decode a text run's rows with ``vocab.decode(row)`` (words spaced, characters
    not)."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got {checkpoint!r}")
    if not isinstance(run_dir, (str, os.PathLike)):
        raise TypeError(f"run_dir must be a path (str or os.PathLike), got {type(run_dir).__name__}")
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory not found: {run}")
    path = run / "checkpoints" / f"{checkpoint}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{run} has no {checkpoint} checkpoint ({path}): the run stopped before writing it")
    ckpt = read_weights_only(path)
    try:
        state, config = ckpt["generator"], ckpt["config"]
        level = (config.get("task") or config).get("text_level", "word")
        vocab = Vocabulary(list(ckpt["vocab"]), "char" if level == "char" else "word") if ckpt.get("vocab") else None
        vocab_size, emb_dim = state["embedding.weight"].shape
        seq_len = (config.get("task") or config)["seq_len"]  # grouped config; earlier versions' flat one
        gen = Generator(
            GeneratorConfig(
                vocab_size=int(vocab_size), seq_len=int(seq_len), emb_dim=int(emb_dim),
                hidden_dim=int(state["lstm.weight_hh_l0"].shape[1]), **(vocab.end_tokens if vocab is not None else {}),
            )
        )  # fmt: skip
        gen.load_state_dict(state)
    except Exception as exc:
        raise ValueError(
            f"{path} is not a seqgan_env run checkpoint: its generator or config is malformed ({type(exc).__name__}: "
            f"{exc})"
        ) from None
    return gen.to(device).eval(), vocab
