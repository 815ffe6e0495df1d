"""Does SeqGAN's gain need the discriminator? The REINFORCE update with Q ≡ 1 and no env, from a run's MLE G.

    python train/self_imitation.py runs/fast_reinforce_s1                      # adam:0.02:64 adam:0.02:1024 sgd:1:64
    python train/self_imitation.py runs/fast_reinforce_s1 --variants adam:0.02:256 --seeds 0 1 2

Starts each VARIANT (OPTIMIZER:LR:BATCH) from the run's pretrained generator (``checkpoints/pretrained.pt``, or
a checkpoint file), takes ``--steps`` updates of ``agents.experiments.self_imitation.self_imitation`` (the `fast`
preset's adversarial schedule with every reward 1: no rollouts, no D), and prints NLL-oracle / NLL-test after them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import torch

from agents.cli import oracle_run_or_exit
from agents.experiments.self_imitation import OPTIMIZERS, self_imitation
from agents.run.task import make_generator, seed_everything
from seqgan_env.generator import Generator
from seqgan_env.metrics import nll_oracle, nll_test

DEFAULT_VARIANTS = ("adam:0.02:64", "adam:0.02:1024", "sgd:1:64")


def _variant(spec: str) -> tuple[str, float, int]:
    parts = spec.split(":")
    try:
        optimizer, lr, batch = parts[0], float(parts[1]), int(parts[2])
        if len(parts) != 3 or optimizer not in OPTIMIZERS or lr <= 0 or batch < 1:
            raise ValueError
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"a variant is OPTIMIZER:LR:BATCH with OPTIMIZER in {OPTIMIZERS}, LR > 0, BATCH >= 1; got {spec!r}"
        ) from None
    return optimizer, lr, batch


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Print and return one row for the start and one per variant and seed."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory (its checkpoints/pretrained.pt) or a checkpoint file")
    p.add_argument("--variants", type=_variant, nargs="+", default=[_variant(v) for v in DEFAULT_VARIANTS],
                   help=f"OPTIMIZER:LR:BATCH (default: {' '.join(DEFAULT_VARIANTS)})")  # fmt: skip
    p.add_argument("--steps", type=int, default=40, help="updates per variant (default 40, as `fast`)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the samples (default 0)")
    p.add_argument("--samples", type=int, default=5000, help="samples per NLL-oracle (default 5000)")
    args = p.parse_args(argv)
    for name, minimum in (("steps", 1), ("samples", 1)):
        if getattr(args, name) < minimum:
            p.error(f"--{name} must be >= {minimum}, got {getattr(args, name)}")
    ckpt, cfg, task = oracle_run_or_exit(p, args.run)

    def report(row: dict[str, Any], gen: Generator) -> dict[str, Any]:
        row["nll_oracle"] = nll_oracle(task.oracle, gen, args.samples, seed=cfg.seed)
        row["nll_test"] = nll_test(gen, task.test)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        return row

    def start() -> Generator:
        return make_generator(cfg, task, ckpt["generator"])

    rows = [report({"variant": "start"}, start())]
    for optimizer, lr, batch in args.variants:
        for seed in args.seeds:
            seed_everything(seed)
            gen = self_imitation(
                start(), args.steps, batch, optimizer, lr, generator=torch.Generator().manual_seed(seed)
            )
            rows.append(report({"variant": f"{optimizer}:{lr:g}:{batch}", "seed": seed}, gen))
    return rows


if __name__ == "__main__":
    main()
