"""An evaluation pass (the oracle's NLL of 5,000 sequences) in 16 MB chunks of logits against 4,096-row chunks.

    python bench/eval.py --threads 1

Every NLL-test / NLL-oracle / entropy evaluation is such a pass (``seqgan_env.oracle.sequence_nll``). A 4,096-row chunk
of a 5,000-token vocabulary is 1.6 GB of logits; the allocator hands such blocks back to the OS and faults them in
again on every chunk, which costs more system time than the matmul costs user time. The default chunk
(``seqgan_env.oracle.chunk_rows``) keeps the logits within 16 MB, reused from chunk to chunk. Prints wall, user and
system seconds and minor page faults of each, and their ratios, measured in one run (same result checked).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from _common import parser, peak_rss_mb, setup, table

from seqgan_env import Oracle, OracleConfig
from seqgan_env.oracle import chunk_rows, sequence_nll


def measure(oracle: Oracle, data: torch.Tensor, rows: int | None) -> dict[str, float]:
    before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    value = sequence_nll(oracle, data, batch_size=rows)
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    return {
        "nll": value,
        "wall s": wall,
        "user s": after.ru_utime - before.ru_utime,
        "system s": after.ru_stime - before.ru_stime,
        "minor faults": float(after.ru_minflt - before.ru_minflt),
    }


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    vocab, n = (1000, 1000) if args.quick else (5000, 5000)
    oracle = Oracle(OracleConfig(vocab_size=vocab))
    data = oracle.sample(n, generator=torch.Generator().manual_seed(0))
    measure(oracle, data[:64], None)  # warm-up
    big = measure(oracle, data, 4096)
    small = measure(oracle, data, None)
    if abs(big["nll"] - small["nll"]) > 1e-9:
        raise SystemExit(f"error: the chunked pass changed the result: {big['nll']} vs {small['nll']}")
    rows = [
        {"chunk": "4,096 rows (before)", **{k: v for k, v in big.items() if k != "nll"}},
        {"chunk": f"{chunk_rows(oracle)} rows (16 MB, default)", **{k: v for k, v in small.items() if k != "nll"}},
    ]
    print(f"\nthe oracle's NLL of {n} sequences, vocabulary {vocab}, length 20 (same value: {small['nll']:.6f})")
    print(table(rows))
    print(f"wall: the default takes {small['wall s'] / big['wall s']:.2f}× the 4,096-row time; system time ×"
          f"{big['system s'] / max(small['system s'], 1e-9):.1f} less; peak RSS {peak_rss_mb():.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
