"""The shared entry point of ``train/reinforce.py`` and ``train/ppo.py``: parse, run, report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from agents.config import parse_args
from agents.pipeline import run


def main_for(agent: str, argv: Sequence[str] | None, description: str) -> dict[str, Any]:
    """Parse ``argv`` into a config and run the pipeline with ``agent``; user errors exit with one line."""
    cfg = parse_args(argv, description=description)
    try:
        return run(cfg, agent)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
