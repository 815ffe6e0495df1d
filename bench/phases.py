"""What each phase of the quick run costs, against its floor, measured in one run.

    python bench/phases.py --threads 1            # the quick preset's sizes (random oracle, vocabulary 5,000)
    python bench/phases.py --quick                # CI-sized smoke test (vocabulary 500)

Each phase runs in a fresh process (so its peak memory is its own) on the quick preset's models and data:

- ``mle_epoch``: one MLE epoch over the 10,000 training sequences (batch 64);
- ``d_round``: one D retraining round (5,000 fresh negatives sampled from G, one epoch on them and the real data);
- ``adv_update``: one REINFORCE update (64 sequences, 16 Monte Carlo rollouts per step, the CNN D scoring them),
  the mean of 2 after a warm-up update;
- ``evaluation``: one evaluation of G (NLL-test on 2,000 test sequences; NLL-oracle, entropy and KL on 5,000 samples);
- ``d_report``: one report of D's quality (2,000 fresh samples and the held-out real data);
- ``d_report_shared``: the same report at an evaluated G, as a run makes it: on the first 2,000 of the evaluation's
  samples and their likelihoods (``seqgan_env.metrics.SampleCache``; the evaluation before it is not timed).

For each: CPU seconds (user + system, and the system share), wall seconds, peak resident memory above the process's
state after setup, and two floors. **Compute floor**: the phase's matrix-multiply FLOPs (projections onto the
vocabulary, LSTM gates, D's convolutions; forward and, where it trains, backward) at this machine's measured fp32
GEMM rate, so ``× floor`` says how far the phase is from its arithmetic. **Memory floor**: the models with their
gradients and Adam state plus one batch's largest tensor (its logits over the vocabulary).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import machine, matmul_gflops, parser, table

PHASES = ("mle_epoch", "d_round", "adv_update", "evaluation", "d_report", "d_report_shared")


def _usage() -> tuple[float, float]:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime, u.ru_stime


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_phase(name: str, quick: bool, threads: int | None, default_malloc: bool = False) -> dict[str, Any]:
    """Set up the quick run's parts, run phase ``name`` once, and return its costs (in this process). The allocator
    is set as the pipeline sets it (:func:`seqgan_env.memory.keep_freed_memory`) unless ``default_malloc``."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if not default_malloc:
        from seqgan_env.memory import keep_freed_memory

        keep_freed_memory()
    from agents.config import from_preset
    from agents.run.adversarial import build_agent
    from agents.run.pipeline import build_pipeline
    from agents.run.pretrain import train_mle_epoch
    from seqgan_env.discriminator import retrain_discriminator
    from seqgan_env.metrics import discriminator_report

    small = {"task.vocab_size": 500, "task.n_train": 1000, "task.n_test": 500, "eval.samples": 500,
             "disc.negatives": 500, "disc.report_samples": 200} if quick else {}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        cfg = from_preset("quick", {"run_dir": f"{tmp}/r", "progress": False, "device": "cpu", **small})
        pipe = build_pipeline(cfg)
        c, m, rec = cfg, pipe.models, pipe.rec
        agent = build_agent(c, pipe.task, m, pipe.rec.logger) if name == "adv_update" else None
        if name == "d_report_shared":
            rec.evaluate(m.gen)  # fills the run's sample cache, as the evaluation at the same update does
        if agent is not None:
            per_update = c.env.num_envs * c.task.seq_len
            agent.learn(per_update)  # warm-up update
        base = _rss_now_mb()
        resource_before = _usage()
        t0 = time.perf_counter()
        repeats = 1
        if name == "mle_epoch":
            train_mle_epoch(m.gen, m.gen_opt, pipe.task.train, c.mle.batch_size, m.rng)
        elif name == "d_round":
            retrain_discriminator(m.disc, m.disc_opt, pipe.task.train, m.gen, 1, 1, c.disc.negatives,
                                  c.disc.batch_size, m.rng)  # fmt: skip
        elif name == "adv_update":
            assert agent is not None
            repeats = 2
            agent.learn(repeats * per_update, reset_num_timesteps=False)
        elif name == "evaluation":
            rec.evaluate(m.gen)
        elif name == "d_report":
            discriminator_report(m.disc, m.gen, pipe.task.oracle, pipe.task.test, c.disc.report_samples, seed=1)
        elif name == "d_report_shared":
            rec.d_report(m.disc, m.gen, "d_round", c.eval.every, 0)
        wall = (time.perf_counter() - t0) / repeats
        user, system = (a - b for a, b in zip(_usage(), resource_before))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        pipe.rundir.unlock()
        return {"phase": name, "cpu_s": (user + system) / repeats, "system_share": system / max(user + system, 1e-9),
                "wall_s": wall, "peak_rss_mb": peak, "base_rss_mb": base, **floors(name, cfg)}  # fmt: skip


def floors(name: str, cfg: Any) -> dict[str, float]:
    """The phase's matmul FLOPs and its memory floor (MB) at the config's sizes."""
    v, t, e, h = cfg.task.vocab_size, cfg.task.seq_len, cfg.generator.emb_dim, cfg.generator.hidden_dim
    g_tok = 2 * h * v + 8 * h * (e + h)  # one token of G forward: gates and the projection onto the vocabulary
    g_params = v * e + 4 * h * (e + h + 1) + h * v + v
    from seqgan_env.discriminator import DiscriminatorConfig

    d = DiscriminatorConfig.small(v, t, emb_dim=cfg.disc.emb_dim)
    d_seq = sum(2 * d.emb_dim * n * w * (t - w + 1) for w, n in zip(d.filter_sizes, d.num_filters))  # convolutions
    d_params = v * d.emb_dim + sum(n * (d.emb_dim * w + 1) for w, n in zip(d.filter_sizes, d.num_filters))
    b = cfg.env.num_envs
    if name == "mle_epoch":
        flops = 3 * g_tok * cfg.task.n_train * t  # forward and backward (≈ 2× forward)
        batch = cfg.mle.batch_size * t * v
    elif name == "d_round":
        n = cfg.disc.negatives
        flops = g_tok * n * t + 3 * d_seq * (n + cfg.task.n_train)
        batch = cfg.disc.batch_size * t * v  # as large as an MLE batch's logits (D's own batch is small)
    elif name == "adv_update":
        rollout_tokens = b * cfg.env.n_rollouts * sum(t - s for s in range(1, t))  # completions of every prefix
        flops = g_tok * (rollout_tokens + b * t) + d_seq * b * cfg.env.n_rollouts * t + 3 * g_tok * b * t
        batch = b * cfg.env.n_rollouts * v
    elif name == "evaluation":
        n = cfg.eval.samples
        flops = g_tok * t * (3 * n + cfg.task.n_test)  # sample, G and oracle NLL of the samples, NLL-test
        batch = n * v  # one sampling step's logits
    elif name == "d_report_shared":  # D's scores only
        flops = d_seq * (cfg.disc.report_samples + cfg.task.n_test)
        batch = cfg.disc.batch_size * t * cfg.disc.emb_dim
    else:  # d_report
        n = cfg.disc.report_samples
        flops = g_tok * t * 3 * n + d_seq * (n + cfg.task.n_test)
        batch = n * v
    model_bytes = 4 * (4 * g_params + 4 * d_params + 2 * g_params)  # G and D with grads and Adam; oracle and copy
    return {"gflop": flops / 1e9, "mem_floor_mb": (model_bytes + 4 * batch) / 2**20}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--phase", choices=PHASES, default=None, help=argparse.SUPPRESS)
    p.add_argument("--default-malloc", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true",
                   help="also run every phase with glibc's default allocator settings (the ratio column)")  # fmt: skip
    args = p.parse_args()
    if args.phase is not None:  # a worker: one phase, JSON on stdout
        print(json.dumps(run_phase(args.phase, args.quick, args.threads, args.default_malloc)))
        return
    if args.threads is not None and args.threads <= 0:
        raise SystemExit(f"error: --threads must be a positive integer, got {args.threads}")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(machine())
    rate = matmul_gflops()
    print(f"fp32 GEMM rate: {rate:.1f} GFLOP/s")
    rows = []
    for name in PHASES:
        r = _worker(name, args)
        floor_s = r["gflop"] / rate
        row = {
            "phase": name, "CPU s": r["cpu_s"], "system %": 100 * r["system_share"], "wall s": r["wall_s"],
            "floor s": floor_s, "× floor": r["cpu_s"] / max(floor_s, 1e-9), "peak RSS MB": r["peak_rss_mb"],
            "above setup MB": r["peak_rss_mb"] - r["base_rss_mb"], "memory floor MB": r["mem_floor_mb"],
        }  # fmt: skip
        if args.baseline:  # the same phase with glibc's default thresholds, measured in this run
            b = _worker(name, args, default_malloc=True)
            row["default malloc: CPU s"] = b["cpu_s"]
            row["system %, default"] = 100 * b["system_share"]
        rows.append(row)
    print(table(rows))
    total = sum(r["CPU s"] for r in rows)
    cpu = {r["phase"]: r["CPU s"] for r in rows}
    every = 5  # the quick preset: an evaluation and a D round (with its report) every 5 updates
    work = every * cpu["adv_update"] + cpu["d_round"]
    print(f"\nper {every} updates of the quick run: {work:.1f} CPU s of updates and a D round; evaluation "
          f"{cpu['evaluation']:.2f} s ({cpu['evaluation'] / work:.1%}), D report {cpu['d_report_shared']:.2f} s on the "
          f"evaluation's samples ({cpu['d_report_shared'] / work:.1%}) against {cpu['d_report']:.2f} s on its own "
          f"({cpu['d_report'] / work:.1%}); total {total:.1f} CPU s")  # fmt: skip


def _worker(name: str, args: Any, default_malloc: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", name, *(["--quick"] if args.quick else [])]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    if default_malloc:
        cmd.append("--default-malloc")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: phase {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
