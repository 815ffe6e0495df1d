"""SeqGAN with the paper's REINFORCE generator update — the whole pipeline, runnable with no arguments.

    python train/reinforce.py                       # quick preset on the seeded random oracle (minutes)
    python train/reinforce.py --preset paper --task.oracle-params ../shared/seqgan_oracle/target_params.npz
    python train/reinforce.py --resume runs/reinforce__quick__0__...   # continue a run

Every flag is listed by ``--help``; presets live in ``agents/config.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from agents.cli import main_for


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, run the pipeline with REINFORCE, print and return the summary."""
    return main_for("reinforce", argv, __doc__ or "")


if __name__ == "__main__":
    summary = main(sys.argv[1:])
    print(json.dumps(summary, indent=2))
