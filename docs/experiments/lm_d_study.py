"""The frontier, honestly (RESULTS.md "A discriminator that knows the whole next-token distribution"): on the official
oracle, from the early-stopped MLE (``runs/pre_es``), 384,000 tokens, ≥ 3 seeds, everything chosen on validation NLL:

- ``reference-lm``: the exact per-step update toward the learned full-vocabulary D's LM q_φ (``--agent reference
  --env.reward-source lm``), q_φ initialised from G and trained by NCE (real vs G's samples);
- ``reinforce-lm``: REINFORCE on the same D as a dense reward, r_t = log q_φ(y_t | y_<t), per-step batch-mean
  baseline, entropy bonus 1 (the ``reinforce-step`` recipe of the oracle study with q_φ in the oracle's place);

beside tuned MLE (the frontier), distillation from the best LM the data support (``data_upper_bound.sh``) and the
perfect teacher's exact reference (``oracle_study.py``'s final runs).

    python docs/experiments/lm_d_study.py --stage tune     # D's rate and REINFORCE's rate, seed 0, by NLL-valid
    python docs/experiments/lm_d_study.py --stage final    # the chosen settings, seeds 0 1 2
    python docs/experiments/lm_d_study.py --stage report   # T = 1 metrics and frontier gaps, mean ± 95 % CI

D is retrained every 20 updates (15 rounds in the run, one epoch on 5,000 fresh negatives each) and gauged each round
(Spearman with the true log density ratio, KL(q_φ ‖ oracle)). Runs go one at a time (``--workers``); finished runs
are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan_env.rundir import run_finished  # noqa: E402

ORACLE = str(ROOT.parent / "shared" / "seqgan_oracle" / "target_params.npz")
SHARED = {
    "task.oracle_params": ORACLE, "task.data_seed": 0, "env.reward_source": "lm", "env.num_envs": 64,
    "adv.updates": 300, "adv.lr_schedule": "constant", "adv.match_mle_diversity": False, "eval.every": 100,
    "eval.samples": 5000, "eval.checkpoint_every": 1000, "disc.retrain_every": 20, "disc.report_samples": 1000,
    "pretrained": "runs/pre_es", "progress": False, "device": "cpu",
}  # fmt: skip
RECIPES = {
    "reference-lm": ("reference", {}),
    "reinforce-lm": ("reinforce", {"reinforce.reward_mode": "q", "reinforce.baseline": "mean",
                                   "reinforce.loss_reduction": "mean", "adv.ent_coef": 1.0}),
}  # fmt: skip
GRIDS = {
    "reference-lm": [{"reinforce.lr": 0.03, "disc.lm_lr": lr} for lr in (1e-4, 1e-3)],
    "reinforce-lm": [{"reinforce.lr": lr, "disc.lm_lr": 1e-4} for lr in (3e-3, 1e-2)],
}
"""Seed 0: D's NCE rate with the reference's tuned rate (3e-2), then REINFORCE's rate (its oracle-study value 3e-3 and
1e-2) with D's rate 1e-4 (the lower one of the reference's grid; ``--stage final`` uses what validation chose)."""
OTHERS = {  # label -> run directory per seed ({s}); finished by the oracle study and data_upper_bound.sh
    "perfect teacher (exact reference)": "runs/study/final/reference__num_envs=64__lr=0.03_s{s}",
    "distilled from the best learned LM": "runs/distil_lr0.01_s{s}",
}
TEMPERATURES = (0.8, 1.0)
"""Each generator's sweep: T = 1 (the table) and 0.8 (where section 6's best gaps were)."""
FRONTIER_TEMPERATURES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)


def slug(name: str, extra: dict[str, Any]) -> str:
    return name + "".join(f"__{k.split('.')[-1]}={v:g}" for k, v in sorted(extra.items()))


def one_run(args: tuple[str, str, dict[str, Any], int]) -> str:
    run_dir, agent, flags, seed = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from agents.config import from_preset
    from agents.run.pipeline import run

    if run_finished(Path(run_dir)):
        return f"skip {run_dir}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run(from_preset("fast", {**SHARED, **flags, "agent": agent, "seed": seed, "run_dir": run_dir}))
    return f"done {run_dir}"


def final_dir(out: Path, name: str, pick: dict[str, Any], seed: int) -> Path:
    """A recipe's run for ``seed`` at its chosen setting (seed 0's is its tuning run)."""
    return out / "tune" / slug(name, pick) if seed == 0 else out / "final" / f"{slug(name, pick)}_s{seed}"


def nll_valid(run_dir: Path) -> float:
    return json.loads((run_dir / "metrics.json").read_text())["summary"]["final_nll_valid"]


def chosen(out: Path) -> dict[str, dict[str, Any]]:
    """Per recipe, the grid point whose final G has the lowest validation NLL (seed 0)."""
    picks = {}
    for name, grid in GRIDS.items():
        done = [(nll_valid(out / "tune" / slug(name, g)), i) for i, g in enumerate(grid)
                if run_finished(out / "tune" / slug(name, g))]  # fmt: skip
        if done:
            picks[name] = grid[min(done)[1]]
    return picks


def report(out: Path, seeds: list[int]) -> None:
    """T = 1 metrics of every generator and its gap to tuned MLE's frontier, per seed and mean ± 95 % CI."""
    import torch

    from seqgan_env.memory import keep_freed_memory

    keep_freed_memory()
    from agents.config import from_preset
    from agents.experiments.compare import _ci, frontier_gap, temperature_sweep
    from agents.run.checkpoint import load_checkpoint
    from agents.run.rundir import RunDir
    from agents.run.task import ORACLE_AXES, build_task, make_generator
    from seqgan_env.trained import load_generator

    cfg = from_preset("fast", {"task.oracle_params": ORACLE, "task.data_seed": 0, "device": "cpu",
                               "env.reward_source": "oracle"})  # fmt: skip
    task = build_task(cfg, torch.device("cpu"))
    cache = out / "frontier_sweeps.json"
    if cache.is_file():
        frontier = json.loads(cache.read_text())
    else:
        rundir = RunDir("runs/frontier")
        frontier = [temperature_sweep(task, make_generator(cfg, task, load_checkpoint(rundir.mle_epoch_path(e))
                                                           ["generator"]), FRONTIER_TEMPERATURES, 5000, 0)
                    for e in rundir.kept_mle_epochs()]  # fmt: skip
        cache.write_text(json.dumps(frontier))
    picks = chosen(out)
    generators = {"MLE start (early-stopped)": lambda s: ("runs/pre_es", "pretrained")}
    for label, pattern in OTHERS.items():
        generators[label] = lambda s, p=pattern: (p.format(s=s), "latest")
    for name in RECIPES:
        if name in picks:
            generators[name] = lambda s, n=name: (str(final_dir(out, n, picks[n], s)), "latest")
    rows: dict[str, list[dict[str, float]]] = {}
    sweeps_path = out / "sweeps.json"
    sweeps = json.loads(sweeps_path.read_text()) if sweeps_path.is_file() else {}
    for label, where in generators.items():
        rows[label] = []
        for s in seeds:
            run_dir, ckpt = where(s)
            key = f"{label}|{s}"
            if key not in sweeps:
                if not (Path(run_dir) / "checkpoints" / f"{ckpt}.pt").is_file() or (
                    ckpt == "latest" and not run_finished(Path(run_dir))
                ):
                    continue
                gen, _ = load_generator(run_dir, ckpt)
                sweeps[key] = temperature_sweep(task, gen, TEMPERATURES, 5000, s)
                sweeps_path.write_text(json.dumps(sweeps))
            pts = sweeps[key]
            at1 = next(p for p in pts if p["temperature"] == 1.0)
            gap = frontier_gap(pts, frontier, ORACLE_AXES)
            rows[label].append({**at1, "gap_t1": gap["at_t1"], "gap_best": gap["best"], "seed": s})
    lines = [
        "| generator | seeds | NLL-oracle | NLL-test | entropy | KL(G‖O) | frontier gap at T = 1 | best gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, rs in rows.items():
        if rs:
            cells = [_ci([r[k] for r in rs]) for k in ("nll_oracle", "nll_test", "entropy", "kl_oracle", "gap_t1",
                                                        "gap_best")]  # fmt: skip
            lines.append(f"| {label} | {len(rs)} | " + " | ".join(cells) + " |")
    d_rows = []
    for name in RECIPES:
        if name not in picks:
            continue
        for s in seeds:
            run_dir = final_dir(out, name, picks[name], s)
            if run_finished(run_dir):
                hist = json.loads((run_dir / "metrics.json").read_text())["history"]
                d = [r for r in hist if r["phase"] in ("d_pretrain", "d_round")]
                d_rows.append(f"- {name} s{s}: KL(q‖O) {d[0]['d_kl_q_oracle']:.3f} (first round) → "
                              f"{d[-1]['d_kl_q_oracle']:.3f} (last); Spearman with the true ratio "
                              f"{d[0]['d_spearman_ratio']:+.3f} → {d[-1]['d_spearman_ratio']:+.3f}; held-out "
                              f"accuracy {d[-1]['d_accuracy']:.3f}")  # fmt: skip
    text = "\n".join(lines) + "\n\nChosen on validation NLL (seed 0): " + json.dumps(picks) + "\n\nD per round:\n\n"
    text += "\n".join(d_rows) + "\n"
    (out / "lm_d.md").write_text(text)
    (out / "lm_d.json").write_text(json.dumps({"rows": rows, "chosen": picks}, indent=1))
    print(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["tune", "final", "report"], required=True)
    p.add_argument("--out", default="runs/lm_d")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    out = Path(a.out)
    if a.stage == "report":
        report(out, a.seeds)
        return
    if a.stage == "tune":
        jobs = [(str(out / "tune" / slug(n, g)), RECIPES[n][0], {**RECIPES[n][1], **g}, 0)
                for n, grid in GRIDS.items() for g in grid]  # fmt: skip
    else:
        picks = chosen(out)
        jobs = [(str(final_dir(out, n, picks[n], s)), RECIPES[n][0], {**RECIPES[n][1], **picks[n]}, s)
                for n in RECIPES if n in picks for s in a.seeds]  # fmt: skip
    with ProcessPoolExecutor(a.workers) as pool:
        for msg in pool.map(one_run, jobs):
            print(msg, flush=True)


if __name__ == "__main__":
    main()
