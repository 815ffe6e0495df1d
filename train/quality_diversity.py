"""Quality–diversity over softmax temperature (Caccia et al.) for trained generators of finished runs.

    python train/quality_diversity.py MLE=runs/fast_reinforce_s0/checkpoints/pretrained.pt \\
        REINFORCE=runs/fast_reinforce_s0 PPO=runs/fast_ppo_s0 --out docs/quality_diversity_fast.png

Each LABEL=PATH is a run directory (its last checkpoint) or a checkpoint file; the task (oracle or corpus) is
rebuilt from the first one's saved config. Prints NLL-oracle / NLL-test (or BLEU-4 / self-BLEU-4 on text) at
each temperature and writes the plot.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from agents.compare import DEFAULT_TEMPERATURES, ORACLE_AXES, TEXT_AXES, _plot_sweeps, temperature_sweep
from agents.pipeline import build_task, checkpoint_at, generator_config, saved_config
from seqgan_env.generator import Generator


def _load(spec: str) -> tuple[str, dict[str, Any]]:
    if "=" not in spec:
        raise ValueError(f"expected LABEL=PATH, got {spec!r}")
    label, path = spec.split("=", 1)
    return label, checkpoint_at(path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("generators", nargs="+", help="LABEL=RUN_DIR or LABEL=CHECKPOINT")
    p.add_argument("--temperatures", type=float, nargs="+", default=list(DEFAULT_TEMPERATURES))
    p.add_argument("--samples", type=int, default=10_000, help="samples per NLL-oracle point")
    p.add_argument("--out", default="quality_diversity.png", help="PNG to write")
    args = p.parse_args(argv)
    try:
        loaded = [_load(s) for s in args.generators]
        if any(t <= 0 for t in args.temperatures) or args.samples <= 0:
            raise ValueError("--temperatures and --samples must be positive")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cfg = dataclasses.replace(saved_config(loaded[0][1]), device="cpu")
    task = build_task(cfg, torch.device("cpu"))
    sweeps = {}
    for label, ckpt in loaded:
        gen = Generator(generator_config(cfg, task))
        gen.load_state_dict(ckpt["generator"])
        sweeps[label] = temperature_sweep(task, gen.eval(), tuple(args.temperatures), args.samples, cfg.seed)
        print(label, json.dumps([{k: round(v, 3) for k, v in pt.items()} for pt in sweeps[label]]))
    _plot_sweeps(sweeps, Path(args.out), ORACLE_AXES if task.oracle is not None else TEXT_AXES)
    return sweeps


if __name__ == "__main__":
    main()
