"""The shared entry point of ``train/reinforce.py`` and ``train/ppo.py`` (parse, run, report), and the loader the
oracle diagnostics in ``train/`` share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import torch

from agents.config import SeqGANConfig, parse_args
from agents.pipeline import run
from agents.rundir import checkpoint_at, saved_config
from agents.task import Task, build_task


def main_for(agent: str, argv: Sequence[str] | None, description: str) -> dict[str, Any]:
    """Parse ``argv`` into a config for ``agent`` and run the pipeline; user errors exit with one line."""
    cfg = parse_args(argv, description=description, agent=agent)
    try:
        return run(cfg)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:  # the run directory is a file, read-only, the disk is full, …: one line, the path and why
        where = exc.filename or (cfg.resume or cfg.run_dir or "the run directory")
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(2) from None


def oracle_run_or_exit(parser: argparse.ArgumentParser, path: str) -> tuple[dict[str, Any], SeqGANConfig, Task]:
    """The pretrained checkpoint of an oracle-task run (a run directory or a checkpoint file), its config and its
    task rebuilt on the CPU; a missing or unreadable checkpoint, or a real-text run, exits via ``parser.error``."""
    try:
        ckpt = checkpoint_at(path, "pretrained.pt")
    except (FileNotFoundError, ValueError) as exc:
        parser.error(str(exc))
    cfg = saved_config(ckpt)
    if cfg.task.data is not None:
        parser.error(f"{path} is a real-text run ({cfg.task.data}); {parser.prog} needs the oracle task")
    task = build_task(cfg, torch.device("cpu"))
    assert task.oracle is not None
    return ckpt, cfg, task
