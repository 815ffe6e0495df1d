"""The exact per-step reference trainer on the perfect reward (oracle task only): the best a perfect teacher allows.

    python train/reference.py --preset fast --task.oracle-params ../shared/seqgan_oracle/target_params.npz \\
        --env.reward-source perfect --pretrained runs/pre_s0 --env.num-envs 256 --reinforce.lr 1e-3 --adv.updates 300

It minimises KL(G(·|prefix) ‖ O(·|prefix)) exactly at G's own sampled prefixes (``agents.algorithms.reference``), with
the pipeline's run directory, evaluations (NLL-oracle, NLL-test, entropy, KL), checkpoints and ``--resume``. It is a
yardstick for REINFORCE and PPO on ``--env.reward-source perfect``, not an RL agent. Every flag of
train/reinforce.py applies but the agents' own (``--ppo.*``, ``--reinforce.*`` except ``--reinforce.lr``);
``--reinforce.lr``, ``--env.num-envs``, ``--adv.lr-schedule`` and ``--adv.max-grad-norm`` set its update.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from agents.cli import main_for


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse ``argv``, run the pipeline with the reference trainer, print and return the summary."""
    return main_for("reference", argv, __doc__ or "")


if __name__ == "__main__":
    summary = main(sys.argv[1:])
    print(json.dumps(summary, indent=2))
