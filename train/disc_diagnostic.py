"""Is the discriminator informative? Its held-out accuracy, and whether it ranks G's samples by true quality.

    python train/disc_diagnostic.py runs/exp_m1                               # the run's pretrained G and D
    python train/disc_diagnostic.py runs/exp_m1 --rounds 3 --real 100000      # then D trained on 100k fresh real
    python train/disc_diagnostic.py runs/exp_m1 --fresh prefix --rounds 5     # a new per-prefix D, trained 5 rounds

For an oracle-task run (its ``checkpoints/pretrained.pt``, or any checkpoint file) this prints
``seqgan_env.metrics.discriminator_report``: D's balanced accuracy on held-out real sequences vs fresh samples
of G, its mean P(real) on each, and the Spearman correlation between D's score and the oracle's
log-likelihood over G's samples. With ``--rounds R`` the checkpoint's D is trained R more rounds (one epoch
each, on ``--real`` real sequences — the run's training set by default, or that many fresh oracle samples,
more real data than the benchmark has — against as many fresh negatives) and reported after each. With
``--fresh cnn|prefix`` the D is a new, untrained one of that kind (the per-prefix D's sizes and regularisation from
``--disc.prefix-*``, as in the training scripts), to compare discriminators on the same G.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import torch

from agents.cli import oracle_run_or_exit
from agents.config import flag, replace, validate
from agents.run.task import build_discriminator, make_generator, seed_everything
from seqgan_env.discriminator import train_discriminator
from seqgan_env.metrics import discriminator_report
from seqgan_env.optim import adam

PREFIX_FLAGS = {"hidden_dim": int, "dropout": float, "l2": float, "lr": float}
"""The fresh per-prefix D's settings this script takes, as the training scripts' ``--disc.prefix-*`` flags."""


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Print and return one report per round (round 0: the checkpoint's D as it is)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run directory (its checkpoints/pretrained.pt) or a checkpoint file")
    p.add_argument("--rounds", type=int, default=0, help="extra D training rounds, one epoch each (default 0)")
    p.add_argument("--real", type=int, default=None, help="real sequences for them (default: the training set)")
    p.add_argument("--samples", type=int, default=5000, help="G samples scored per report")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and of the extra training")
    p.add_argument("--fresh", choices=("cnn", "prefix"), default=None,
                   help="start from a new D of this kind instead of the checkpoint's")  # fmt: skip
    p.add_argument("--epochs", type=int, default=1, help="epochs per extra round (default 1)")
    p.add_argument("--valid", type=int, default=None,
                   help="report on this many fresh oracle sequences (validation data) instead of the test split, "
                        "e.g. to choose D's settings without touching the test set")  # fmt: skip
    for name, tp in PREFIX_FLAGS.items():
        p.add_argument(flag(f"disc.prefix_{name}"), type=tp, default=None, dest=f"prefix_{name}",
                       help=f"--fresh prefix: its {name.replace('_', ' ')}")  # fmt: skip
    args = p.parse_args(argv)
    for name, minimum in (("rounds", 0), ("real", 1), ("samples", 2), ("epochs", 1), ("valid", 2)):
        value = getattr(args, name)
        if value is not None and value < minimum:
            p.error(f"--{name} must be >= {minimum}, got {value}")
    overrides = {f"disc.prefix_{k}": getattr(args, f"prefix_{k}") for k in PREFIX_FLAGS}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    given = [flag(k) for k in overrides]
    if given and args.fresh != "prefix":
        p.error(f"{', '.join(given)} set(s) the fresh per-prefix D: pass --fresh prefix (or drop the flag)")
    seed_everything(args.seed)
    ckpt, cfg, task = oracle_run_or_exit(p, args.run)
    gen = make_generator(cfg, task, ckpt["generator"])
    if args.fresh is not None:
        source = "prefix" if args.fresh == "prefix" else "rollout"
        try:
            cfg = validate(replace(cfg, {"env.reward_source": source, **overrides}))
        except ValueError as exc:
            p.error(str(exc))
    disc = build_discriminator(cfg, task)
    opt = adam(disc.parameters(), disc.config.lr)
    if args.fresh is None:
        disc.load_state_dict(ckpt["discriminator"])
        opt.load_state_dict(ckpt["disc_optimizer"])
    rng = torch.Generator().manual_seed(args.seed)
    if args.real is None or args.real == len(task.train):
        real = task.train
    else:  # more (or less) real data than the benchmark's training set: fresh oracle samples
        real = task.oracle.sample(args.real, generator=torch.Generator().manual_seed(args.seed + 1))
    held_out = task.test
    if args.valid is not None:  # a stream of its own: neither the training data, nor the test split, nor --real's
        held_out = task.oracle.sample(args.valid, generator=torch.Generator().manual_seed(args.seed + 2))
    reports = []
    for r in range(args.rounds + 1):
        if r > 0:
            fake = gen.sample(len(real), generator=rng)
            train_discriminator(disc, opt, real, fake, args.epochs, cfg.disc.batch_size, rng)
        report = {"round": r, "real": len(real) if r else 0}
        report.update(discriminator_report(disc, gen, task.oracle, held_out, args.samples, seed=args.seed))
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}), flush=True)
        reports.append(report)
    return reports


if __name__ == "__main__":
    main()
