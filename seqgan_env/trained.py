"""A trained generator from a run directory, ready to sample: ``seqgan_env.load_generator(run_dir)``."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.rundir import CHECKPOINTS, RunLayout, UnsafeCheckpointError, config_paths, read_weights_only
from seqgan_env.text import Vocabulary

__all__ = ["CHECKPOINTS", "UnsafeCheckpointError", "load_generator", "read_weights_only"]


def load_generator(
    run_dir: str | os.PathLike[str], checkpoint: str = "latest", device: str | torch.device = "cpu"
) -> tuple[Generator, Vocabulary | None]:
    """The generator saved in ``run_dir`` (``checkpoints/{checkpoint}.pt``, read without running code) in eval mode,
    and the run's vocabulary (None for an oracle-task run, whose tokens are ids). Sample with
    ``gen.sample(n, temperature=…)``; decode a text run's rows with ``vocab.decode(row)`` (words spaced, characters
    not). ``checkpoint``: one of :data:`~seqgan_env.rundir.CHECKPOINTS`."""
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {CHECKPOINTS}, got {checkpoint!r}")
    if not isinstance(run_dir, (str, os.PathLike)):
        raise TypeError(f"run_dir must be a path (str or os.PathLike), got {type(run_dir).__name__}")
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"run directory not found: {run}")
    path = RunLayout(run).checkpoint(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"{run} has no {checkpoint} checkpoint ({path}): the run stopped before writing it")
    ckpt = read_weights_only(path)
    try:
        state, config = ckpt["generator"], ckpt["config"]
        values = config_paths(config)  # this version's grouped config, or an earlier version's flat one
        level = values.get("task.text_level", "word")
        vocab = Vocabulary(list(ckpt["vocab"]), "char" if level == "char" else "word") if ckpt.get("vocab") else None
        vocab_size, emb_dim = state["embedding.weight"].shape
        seq_len = values["task.seq_len"]
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
