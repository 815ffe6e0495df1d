"""Quality–diversity over softmax temperature (Caccia et al.) for trained generators of finished runs.

    python train/quality_diversity.py MLE=runs/fast_reinforce_s0/checkpoints/pretrained.pt \\
        REINFORCE=runs/fast_reinforce_s0 PPO=runs/fast_ppo_s0 --out docs/quality_diversity_fast.png

    python train/quality_diversity.py R=runs/perfect_reinforce_s0 --frontier runs/pre_s0 --json out.json

Each LABEL=PATH is a run directory (its last checkpoint) or a checkpoint file; the task (oracle or corpus) is
rebuilt from the first one's saved config. Prints NLL-oracle / NLL-test (with G's entropy and KL to the oracle; or
BLEU-2 / self-BLEU-2 on poems, BLEU-4 / self-BLEU-4 on other text: the paper's metric) at each temperature and
writes the plot.

``--frontier RUN_DIR`` adds tuned MLE: every MLE-epoch checkpoint the run kept (``--mle.keep-every``), each swept
over the same temperatures; their envelope is the frontier (Caccia et al.), and each generator's gap to it is
printed (``agents.experiments.compare.frontier_gap``: quality minus the frontier's at the same diversity; negative =
beyond it; a point outside the frontier's range of diversity is measured against its nearest end, with ``*_side``
saying which side: ``more_diverse`` with a negative gap dominates the frontier's end by that much).
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
from tqdm.auto import tqdm

from agents.experiments.compare import DEFAULT_TEMPERATURES, envelope, frontier_gap, plot_sweeps, temperature_sweep
from agents.run.checkpoint import atomic_write_json, load_checkpoint
from agents.run.rundir import RunDir, checkpoint_at, saved_config
from agents.run.task import ORACLE_AXES, build_task, make_generator, text_axes


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
    p.add_argument("--frontier", default=None, help="a run directory whose kept MLE-epoch checkpoints form tuned MLE")
    p.add_argument("--frontier-temperatures", type=float, nargs="+", default=None,
                   help="temperatures of the frontier's MLE sweeps (default: --temperatures); reach lower ones so "
                        "that the frontier covers the sharp end of the generators' curves")  # fmt: skip
    p.add_argument("--frontier-epochs", type=int, nargs="+", default=None,
                   help="only these kept MLE epochs form the frontier (default: every kept one)")  # fmt: skip
    p.add_argument("--json", default=None, help="also write the sweeps (and gaps) to this JSON file")
    args = p.parse_args(argv)
    try:
        loaded = [_load(s) for s in args.generators]
        mle_epochs = _mle_epochs(args.frontier, args.frontier_epochs) if args.frontier else []
        if any(t <= 0 for t in [*args.temperatures, *(args.frontier_temperatures or [])]) or args.samples <= 0:
            raise ValueError("--temperatures and --samples must be positive")
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    cfg = dataclasses.replace(saved_config(loaded[0][1]), device="cpu")
    task = build_task(cfg, torch.device("cpu"))
    sweeps = {}
    for label, ckpt in loaded:
        gen = make_generator(cfg, task, ckpt["generator"])
        sweeps[label] = temperature_sweep(task, gen, tuple(args.temperatures), args.samples, cfg.seed)
        print(label, json.dumps([{k: round(v, 3) for k, v in pt.items()} for pt in sweeps[label]]))
    axes = ORACLE_AXES if task.oracle is not None else text_axes(cfg.task.data)
    result: dict[str, Any] = {"sweeps": sweeps}
    if mle_epochs:
        frontier = {}
        for path in tqdm(mle_epochs, desc="tuned-MLE frontier", unit="checkpoint"):
            gen = make_generator(cfg, task, load_checkpoint(path)["generator"])
            temps = tuple(args.frontier_temperatures or args.temperatures)
            frontier[path.stem] = temperature_sweep(task, gen.eval(), temps, args.samples, cfg.seed)
        curves = list(frontier.values())
        result["frontier"] = frontier
        result["gaps"] = {label: frontier_gap(pts, curves, axes) for label, pts in sweeps.items()}
        for label, gap in result["gaps"].items():
            print(
                f"gap to tuned MLE  {label}: "
                + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in gap.items()})
            )
        sweeps = {**sweeps, "tuned MLE (envelope)": _envelope_points(curves, axes)}
    plot_sweeps(sweeps, Path(args.out), axes)
    if args.json:
        atomic_write_json(Path(args.json), result)
    return result


def _mle_epochs(run_dir: str, epochs: list[int] | None = None) -> list[Path]:
    rundir = RunDir(run_dir)
    kept = rundir.kept_mle_epochs()
    if epochs is not None:
        missing = [e for e in epochs if e not in kept]
        if missing:
            raise FileNotFoundError(f"--frontier {run_dir}: no kept MLE checkpoint for epochs {missing}")
        kept = epochs
    paths = [rundir.mle_epoch_path(e) for e in kept]
    if not paths:
        raise FileNotFoundError(
            f"--frontier {run_dir}: no checkpoints/mle_epochNNN.pt (run it with --mle.keep-every N)"
        )
    return paths


def _envelope_points(curves: list[list[dict[str, float]]], axes: Any) -> list[dict[str, float]]:
    """The envelope drawn as a curve: its value at every diversity any frontier point has."""
    xs = sorted({p[axes.diversity] for pts in curves for p in pts})
    return [{"temperature": float("nan"), axes.diversity: x, axes.quality: envelope(curves, x, axes)} for x in xs]


if __name__ == "__main__":
    main()
