"""SeqGAN with a PPO generator update (stable-baselines3) — the same pipeline as train/reinforce.py.

    python train/ppo.py                                   # quick preset on the seeded random oracle
    python train/ppo.py --pretrained runs/reinforce__quick__0__...   # start from that run's pretrained G and D
    python train/ppo.py --resume runs/ppo__quick__0__...

PPO trains on the SB3 VecEnv adapter of the vector env (reward_mode "shaped", γ = 1); its actor IS the
generator, so it starts from the MLE-pretrained weights and its samples are scored by the oracle.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from agents.cli import main_for


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, run the pipeline with PPO, print and return the summary."""
    return main_for("ppo", argv, __doc__ or "")


if __name__ == "__main__":
    summary = main(sys.argv[1:])
    print(json.dumps(summary, indent=2))
