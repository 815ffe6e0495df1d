"""Shared helpers of the benchmarks: timing, peak memory, the machine's fp32 matmul rate, tables."""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI-sized run: small sizes, one repeat (a smoke test)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    return p


def setup(args: argparse.Namespace) -> None:
    if args.threads is not None:
        if args.threads <= 0:
            raise SystemExit(f"error: --threads must be a positive integer, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.repeats <= 0:
        raise SystemExit(f"error: --repeats must be a positive integer, got {args.repeats}")
    if args.quick:
        args.repeats = 1
    print(machine())


def machine() -> str:
    return (
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def timeit(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Measured fp32 GEMM rate of this machine (GFLOP/s), the floor's denominator."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    sec = timeit(lambda: a @ b, repeats)
    return 2 * n**3 / sec / 1e9


def interleaved_floor(fn: Callable[[], Any], flops: float, pairs: int = 7, n: int = 1024) -> dict[str, float]:
    """``fn``'s speed as a share of the matmul floor, measured A B A B …: before each timed ``fn()`` the fp32 GEMM
    rate is measured again (the best of 3 ``n × n`` products), and each pair gives ``flops / rate / seconds``. A
    busy machine slows both halves of a pair, so the share holds while the rate drops; a regression lowers the share
    alone. Returns the medians and ranges over ``pairs``: ``share`` (0–1), ``gflops`` (the GEMM rate), ``seconds``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    fn()
    a @ b  # warm-up
    shares, rates, times = [], [], []
    for _ in range(pairs):
        gemm = []
        for _ in range(3):
            t0 = time.perf_counter()
            a @ b
            gemm.append(time.perf_counter() - t0)
        rate = 2 * n**3 / min(gemm)
        t0 = time.perf_counter()
        fn()
        sec = time.perf_counter() - t0
        shares.append(flops / rate / sec)
        rates.append(rate / 1e9)
        times.append(sec)
    out: dict[str, float] = {}
    for name, xs in (("share", shares), ("gflops", rates), ("seconds", times)):
        out[name], out[f"{name}_min"], out[f"{name}_max"] = statistics.median(xs), min(xs), max(xs)
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of ``rows`` (dicts with the same keys)."""
    keys = list(rows[0])
    fmt = [lambda v: f"{v:,.3g}" if isinstance(v, float) else str(v)] * len(keys)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(f(r[k]) for f, k in zip(fmt, keys)) + " |" for r in rows]
    return "\n".join(lines)
