"""NLL-oracle of uniformly random tokens and of the oracle's own samples (its entropy rate).

python train/oracle_stats.py                                    # the default seeded oracle
python train/oracle_stats.py --oracle-params ../shared/seqgan_oracle/target_params.npz
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import torch

from seqgan_env.oracle import Oracle, OracleConfig


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Print and return the two reference NLL-oracle figures of an oracle."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--oracle-params", default=None, help="official target_params.npz (default: seeded random oracle)")
    p.add_argument("--oracle-seed", type=int, default=0, help="seed of the random oracle")
    p.add_argument("--samples", type=int, default=10_000, help="sequences scored for each figure")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    args = p.parse_args(argv)
    if args.samples <= 0:
        p.error(f"--samples must be a positive integer, got {args.samples}")
    try:
        oracle = (
            Oracle.from_params(args.oracle_params)
            if args.oracle_params
            else Oracle(OracleConfig(seed=args.oracle_seed))
        )
    except (FileNotFoundError, ValueError) as exc:
        p.error(str(exc))
    rng = torch.Generator().manual_seed(args.seed)
    c = oracle.config
    uniform = torch.randint(0, c.vocab_size, (args.samples, c.seq_len), generator=rng)
    out = {
        "oracle": args.oracle_params or f"random(seed={args.oracle_seed})",
        "uniform_nll_oracle": oracle.nll(uniform),
        "oracle_samples_nll_oracle": oracle.nll(oracle.sample(args.samples, generator=rng)),
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
