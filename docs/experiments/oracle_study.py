"""The oracle benchmark study behind RESULTS.md "PPO vs REINFORCE, answered": named recipes (an agent and its flags) ×
seeds, all from one early-stopped MLE checkpoint, on an equal token budget, judged by the gap closed to the exact
reference; a table (``OUT/study.md``) and a KL-vs-tokens plot (``OUT/study_kl.png``).

    # the standard start: the fast preset's MLE, early-stopped on validation NLL (patience 3: best epoch 5)
    python train/reinforce.py --preset fast --task.oracle-params ../shared/seqgan_oracle/target_params.npz \\
        --env.reward-source oracle --mle.patience 3 --adv.updates 0 --eval.samples 5000 --run-dir runs/pre_es
    python docs/experiments/oracle_study.py --stage tune  --out runs/study   # one seed, a grid per recipe
    python docs/experiments/oracle_study.py --stage final --out runs/study   # the chosen settings, 5 seeds

Every run is ``agents.run.pipeline.run`` with the flags shown in the table (add ``--pretrained runs/pre_es`` and the
shared flags below to reproduce one by hand); finished runs are skipped, so the study resumes where it stopped. Runs
go two at a time, one thread each. Learning rates and batches are chosen on KL(G ‖ O), which needs no test data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan_env.rundir import run_finished  # noqa: E402

ORACLE = str(ROOT.parent / "shared" / "seqgan_oracle" / "target_params.npz")
TOKENS = 384_000
"""The default budget: the exact reference's 300 updates of 64 sequences × 20 tokens (``--tokens``; the actor-critic
agents, ~10× slower per token here, are compared at 128,000)."""
SHARED = {
    "task.oracle_params": ORACLE, "task.data_seed": 0, "task.n_valid": 0, "adv.lr_schedule": "constant",
    "adv.match_mle_diversity": False, "eval.samples": 5000, "eval.checkpoint_every": 1000, "progress": False,
    "device": "cpu",
}  # fmt: skip
"""Every run: the official oracle, no validation pass, a constant rate, T = 1, evaluations on 5,000 samples."""

# name -> (agent, flags). Entropy weight 1 makes the oracle reward's return −KL(G ‖ O) (seqgan_env.rewards).
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "reference": ("reference", {"env.reward_source": "oracle"}),
    # REINFORCE, per-step weight r_t = log p_O(y_t|y_<t), batch-mean baseline per step, analytic entropy
    "reinforce-step": (
        "reinforce",
        {
            "env.reward_source": "oracle",
            "reinforce.reward_mode": "q",
            "reinforce.baseline": "mean",
            "reinforce.loss_reduction": "mean",
            "adv.ent_coef": 1.0,
        },
    ),
    # REINFORCE, per-step weight = the sampled log-ratio log p_O − log p_G (the perfect reward), batch-mean baseline
    "reinforce-step-logratio": (
        "reinforce",
        {
            "env.reward_source": "perfect",
            "reinforce.reward_mode": "q",
            "reinforce.baseline": "mean",
            "reinforce.loss_reduction": "mean",
        },
    ),
    # the same with a learned per-step value baseline of G's LSTM state
    "reinforce-step-logratio-value": (
        "reinforce",
        {
            "env.reward_source": "perfect",
            "reinforce.reward_mode": "q",
            "reinforce.baseline": "value",
            "reinforce.loss_reduction": "mean",
        },
    ),
    # REINFORCE with reward-to-go of the soft reward (log p_O − log p_G summed to the end): the sequence-level gradient
    "reinforce-rtg-soft": (
        "reinforce",
        {
            "env.reward_source": "perfect",
            "reinforce.reward_mode": "shaped",
            "reinforce.baseline": "mean",
            "reinforce.loss_reduction": "mean",
        },
    ),
    # the paper's update (per-step weight, no baseline) with the benchmark's entropy weight, loss averaged
    "reinforce-paper": (
        "reinforce",
        {
            "env.reward_source": "oracle",
            "reinforce.reward_mode": "q",
            "reinforce.loss_reduction": "mean",
            "adv.ent_coef": 1.0,
        },
    ),
    # PPO with its critic (γ = λ = 1, SB3's defaults otherwise), entropy bonus 1
    "ppo-critic": (
        "ppo",
        {"env.reward_source": "oracle", "ppo.reward_mode": "shaped", "ppo.advantage": "critic", "adv.ent_coef": 1.0},
    ),
    # PPO with per-step advantages (advantage = r_t, no critic), entropy bonus 1
    "ppo-step": (
        "ppo",
        {"env.reward_source": "oracle", "ppo.reward_mode": "q", "ppo.advantage": "q", "adv.ent_coef": 1.0},
    ),
    # PPO with per-step advantages = the sampled log-ratio (perfect reward)
    "ppo-step-logratio": ("ppo", {"env.reward_source": "perfect", "ppo.reward_mode": "q", "ppo.advantage": "q"}),
    "a2c": (
        "a2c",
        {"env.reward_source": "oracle", "ppo.reward_mode": "shaped", "ppo.advantage": "critic", "adv.ent_coef": 1.0},
    ),
    "trpo": ("trpo", {"env.reward_source": "oracle", "ppo.reward_mode": "shaped", "ppo.advantage": "critic"}),
    # mean actor-critic: a next-token critic regressed onto the sampled rewards, the exact per-step update toward it
    "mac": ("mac", {"env.reward_source": "oracle", "reinforce.reward_mode": "q"}),
}

GRIDS: dict[str, list[dict[str, Any]]] = {
    "reference": [{"reinforce.lr": lr, "env.num_envs": b} for lr in (3e-3, 1e-2, 3e-2, 1e-1) for b in (64, 256)],
    "reinforce-step": [{"reinforce.lr": lr} for lr in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)],
    "reinforce-step-logratio": [
        {"reinforce.lr": lr, "env.num_envs": b} for lr in (3e-3, 1e-2, 3e-2, 1e-1) for b in (64, 256)
    ],
    "reinforce-step-logratio-value": [{"reinforce.lr": lr} for lr in (3e-3, 1e-2, 3e-2)],
    "reinforce-rtg-soft": [{"reinforce.lr": lr} for lr in (3e-3, 1e-2)],
    "reinforce-paper": [{"reinforce.lr": 1e-2}],
    "ppo-critic": [{"ppo.lr": lr} for lr in (1e-4, 3e-4, 1e-3)],
    "ppo-step": [{"ppo.lr": lr} for lr in (1e-4, 3e-4, 1e-3, 3e-3)],
    "ppo-step-logratio": [{"ppo.lr": 3e-4}],
    "a2c": [{"ppo.lr": lr} for lr in (1e-4, 3e-4, 1e-3)],
    "trpo": [{"ppo.target_kl": 0.01}],
    "mac": [{"reinforce.lr": lr, "env.num_envs": b} for lr in (3e-3, 1e-2, 3e-2) for b in (64, 256)],
}
"""What ``--stage tune`` tries per recipe (seed 0): rate, batch (at equal tokens) and PPO's epochs."""


def slug(name: str, extra: dict[str, Any]) -> str:
    return name + "".join(f"__{k.split('.')[-1]}={v:g}" if isinstance(v, float) else f"__{k.split('.')[-1]}={v}"
                          for k, v in sorted(extra.items()))  # fmt: skip


def one_run(args: tuple[str, str, dict[str, Any], int, str, str, bool, int]) -> str:
    name, agent, flags, seed, run_dir, pretrained, curve, tokens = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from agents.config import from_preset
    from agents.run.pipeline import run

    if run_finished(Path(run_dir)):
        return f"skip {run_dir}"
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    b = flags.get("env.num_envs", 64)
    values = {**SHARED, **flags, "agent": agent, "seed": seed, "run_dir": run_dir, "pretrained": pretrained,
              "adv.updates": tokens // (20 * b)}  # fmt: skip
    # the final stage reads the curve at every 128,000 tokens; tuning reads the end only
    values["eval.every"] = max(1, values["adv.updates"] // 3) if curve else values["adv.updates"]
    run(from_preset("fast", values))
    return f"done {run_dir}"


def rows(run_dir: Path) -> list[dict[str, Any]]:
    from agents.run.rundir import Phase, RunDir

    return RunDir(run_dir).rows(Phase.ADVERSARIAL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["tune", "final", "report"], required=True,
                   help="tune: one seed per setting; final: the chosen settings over --seeds; report: the table of "
                        "finished final runs read at --tokens (a longer run is read at that many tokens)")  # fmt: skip
    p.add_argument("--out", default="runs/study")
    p.add_argument("--pretrained", default="runs/pre_es")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tokens", type=int, default=TOKENS, help="the budget in generated tokens")
    a = p.parse_args()
    out = Path(a.out)
    suffix = "" if a.tokens == TOKENS else f"_{a.tokens // 1000}k"
    jobs = []
    if a.stage == "tune":
        for name in a.recipes:
            agent, flags = RECIPES[name]
            for extra in GRIDS[name]:
                run_dir = str(out / f"tune{suffix}" / slug(name, extra))
                jobs.append((name, agent, {**flags, **extra}, 0, run_dir, a.pretrained, False, a.tokens))
    elif a.stage == "final":
        chosen = load_chosen(out, suffix)
        for name in a.recipes:
            agent, flags = RECIPES[name]
            extra = chosen[name]
            for seed in a.seeds:
                run_dir = str(out / f"final{suffix}" / f"{slug(name, extra)}_s{seed}")
                jobs.append((name, agent, {**flags, **extra}, seed, run_dir, a.pretrained, True, a.tokens))
    with ProcessPoolExecutor(a.workers) as pool:
        for msg in pool.map(one_run, jobs):
            print(msg, flush=True)
    if a.stage == "tune":
        tune_report(out, a.recipes, suffix)
    else:
        final_report(out, a.recipes, a.seeds, suffix, a.tokens)


def load_chosen(out: Path, suffix: str) -> dict[str, dict[str, Any]]:
    """The chosen settings for this budget: tuned at it where that was done, else at the default budget."""
    chosen = json.loads((out / "chosen.json").read_text()) if (out / "chosen.json").is_file() else {}
    own = out / f"chosen{suffix}.json"
    return {**chosen, **(json.loads(own.read_text()) if suffix and own.is_file() else {})}


def tune_report(out: Path, recipes: list[str], suffix: str = "") -> None:
    """Per recipe, the setting with the lowest final KL (seed 0) → ``OUT/chosen{suffix}.json`` (merged with what it
    holds); every setting tried → ``OUT/tune{suffix}.md``."""
    path = out / f"chosen{suffix}.json"
    chosen = json.loads(path.read_text()) if path.is_file() else {}
    lines = ["| recipe | setting | KL(G‖O) final | entropy final | NLL-test final |", "|---|---|---|---|---|"]
    for name in recipes:
        best = None
        for extra in GRIDS[name]:
            if not (out / f"tune{suffix}" / slug(name, extra) / "metrics.json").is_file():
                continue
            r = rows(out / f"tune{suffix}" / slug(name, extra))[-1]
            lines.append(f"| {name} | {extra} | {r['kl_oracle']:.3f} | {r['entropy']:.3f} | {r['nll_test']:.3f} |")
            if best is None or r["kl_oracle"] < best[0]:
                best = (r["kl_oracle"], extra)
        if best is not None:
            chosen[name] = best[1]
    path.write_text(json.dumps(chosen, indent=1))
    (out / f"tune{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def final_run_dir(out: Path, name: str, seed: int, tokens: int) -> Path:
    """A recipe's final run for a budget: the one run at that budget, else the default budget's (read up to it)."""
    suffix = "" if tokens == TOKENS else f"_{tokens // 1000}k"
    own = out / f"final{suffix}" / f"{slug(name, load_chosen(out, suffix)[name])}_s{seed}"
    default = load_chosen(out, "")
    if (own / "metrics.json").is_file() or name not in default:
        return own
    return out / "final" / f"{slug(name, default[name])}_s{seed}"


def final_report(out: Path, recipes: list[str], seeds: list[int], suffix: str, tokens: int) -> None:
    from agents.experiments.compare import oracle_table, plot_kl

    chosen = load_chosen(out, suffix)
    runs: dict[str, list[dict[str, Any]]] = {}
    for name in recipes:
        runs[name] = []
        for seed in seeds:
            run_dir = final_run_dir(out, name, seed, tokens)
            if not run_finished(run_dir):
                continue  # not run (fewer seeds for this recipe) or not finished: the row says how many seeds it has
            rs = [r for r in rows(run_dir) if r["timesteps"] <= tokens]
            wall = rs[-1]["wall_s"] - rs[0]["wall_s"]
            runs[name].append({"seed": seed, "rows": rs, "tokens": rs[-1]["timesteps"],
                               "tokens_per_s": rs[-1]["timesteps"] / max(wall, 1e-9)})  # fmt: skip
    missing = [name for name, rs in runs.items() if not rs]
    for name in missing:  # no finished run at this budget
        del runs[name]
    floor = oracle_entropy()
    table = oracle_table(runs, tuple(seeds), entropy_floor=floor)
    settings = "\n".join(f"- `{n}`: agent `{RECIPES[n][0]}`, {RECIPES[n][1]} + {chosen[n]}" for n in runs)
    onset = collapse_onsets(runs, floor)
    text = table + "\nSettings (shared: " + json.dumps(SHARED) + "):\n\n" + settings + "\n\n" + onset
    (out / f"study{suffix}.md").write_text(text)
    (out / f"study{suffix}.json").write_text(json.dumps({"chosen": chosen, "runs": runs}, indent=1))
    plot_kl(runs, out / f"study{suffix}_kl.png")
    print(table + "\n" + onset)


def oracle_entropy() -> float:
    """The official oracle's own entropy rate (nats/token) on 5,000 of its samples: where a generator equal to it
    would sit, so an entropy below it is sharper than the data (a collapse), while one above it is not yet there."""
    from seqgan_env import Oracle
    from seqgan_env.metrics import oracle_metrics

    oracle = Oracle.from_params(ORACLE)
    return oracle_metrics(oracle, oracle, 5000, seed=0)["entropy"]


def collapse_onsets(runs: dict[str, list[dict[str, Any]]], floor: float) -> str:
    """Per recipe and seed, the tokens at which entropy first fell below its start, and below the oracle's own
    entropy ``floor`` (– = never)."""
    lines = [f"Entropy onsets (generated tokens per seed, – = never): below its start, and below the oracle's own "
             f"entropy {floor:.3f}:", ""]  # fmt: skip
    for name, rs in runs.items():
        cells = []
        for label, limit in (("below start", None), ("below the oracle's", floor)):
            onsets = []
            for r in rs:
                bound = r["rows"][0]["entropy"] if limit is None else limit
                onsets.append(next((x["timesteps"] for x in r["rows"][1:] if x["entropy"] < bound), None))
            fell = [o for o in onsets if o is not None]
            median = f", median {statistics.median(fell):.0f}" if fell else ""
            cells.append(f"{label} {['–' if o is None else o for o in onsets]} ({len(fell)}/{len(rs)}{median})")
        lines.append(f"- {name}: " + "; ".join(cells))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
