"""PPO vs REINFORCE on the same budget: pretrain once, then both agents × several seeds from the same G and D.

    python train/compare.py                      # quick preset, 3 seeds (6.6 min alone on 2 CPU cores)
    python train/compare.py --seeds 0 1 --adv.updates 40 --out runs/compare_40
    python train/compare.py --env.reward-source perfect --reinforce.reward-mode shaped
                                                 # on the perfect discriminator's reward, with the exact reference
                                                 # trainer beside
    python train/compare.py --preset fast --task.oracle-params ../shared/seqgan_oracle/target_params.npz \
        --pretrained runs/pre_es --env.reward-source oracle --adv.ent-coef 1 --reinforce.baseline mean \
        --reinforce.loss-reduction mean --agents reinforce ppo a2c trpo reference --seeds 0 1 2 3 4
                                                 # the oracle benchmark (README): KL, entropy, gap closed, ± 95 % CI

On the oracle task's rewards (``perfect``, ``oracle``) the table has KL(G‖O), entropy, NLL-test and NLL-oracle with
95 % CIs over seeds and the gap closed to the reference, and OUT/compare_kl.png plots KL against generated tokens.

Writes OUT/compare.md (table), OUT/compare_nll.png (NLL-oracle vs generated tokens, shaded over seeds),
OUT/quality_diversity.png (NLL-oracle vs NLL-test over a temperature sweep, MLE vs REINFORCE vs PPO) and
OUT/compare.json. Every flag of train/reinforce.py applies (--preset, --task.oracle-params, ...).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from agents.cli import parse_args, preset_arg
from agents.config import AGENTS, flag
from agents.experiments.compare import DEFAULT_TEMPERATURES, compare

# The comparison's own defaults for the quick preset: a shorter adversarial phase, smaller evaluations.
QUICK_COMPARE = {"adv.updates": 20, "eval.samples": 2_000}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the comparison and print the table; returns the result written to OUT/compare.json."""
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argparse.ArgumentParser(add_help=False, usage=argparse.SUPPRESS)  # one usage block: tyro's, below
    own.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the adversarial runs")
    own.add_argument(
        "--agents",
        nargs="+",
        default=None,
        choices=AGENTS,
        help="agents to compare (default: reinforce ppo, plus reference with --env.reward-source perfect or oracle)",
    )
    own.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES),
                     help="softmax temperatures of the quality-diversity sweep")  # fmt: skip
    own.add_argument("--out", default=None, help="output directory (default: runs/compare__{preset}__{time})")
    if "-h" in argv or "--help" in argv:
        print("the comparison's own flags:")
        own.print_help()
        print("\nand every flag of train/reinforce.py:\n")
    ns, rest = own.parse_known_args(argv)
    flags = {a.split("=")[0] for a in rest}
    if "--agent" in flags:
        own.error("--agent: a comparison runs several agents; choose them with --agents")
    extra = [] if preset_arg(rest) != "quick" else [f"{flag(k)}={v}" for k, v in QUICK_COMPARE.items()
                                                    if flag(k) not in flags]  # fmt: skip
    cfg = parse_args([*extra, *rest], description=__doc__ or "")
    out = ns.out or f"runs/compare__{cfg.preset}__{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        agents = None if ns.agents is None else tuple(ns.agents)
        result = compare(cfg, out, tuple(ns.seeds), agents, tuple(ns.temperatures))
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(result["table"])
    print(f"written to {out}/")
    return result


if __name__ == "__main__":
    main()
