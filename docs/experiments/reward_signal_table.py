"""The tables of RESULTS.md "A reward that carries signal", from the run directories and frontier files that
docs/experiments/reward_signal.sh writes: python docs/experiments/reward_signal_table.py [--seeds 0 1].

Each cell lists one value per seed. D's accuracy and Spearman correlations are the means over the run's adversarial
D rounds; the gaps are NLL-oracle minus tuned MLE's at the same NLL-test (negative: beyond the frontier)."""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

SOURCES = {"constant": "constant (1)", "cnn": "paper CNN D, MC rollouts", "prefix": "per-prefix LSTM D",
           "perfect": "perfect D (upper bound)"}  # fmt: skip
RECIPES = {"reference": "exact per-step reference (not RL)", "rtg": "REINFORCE, reward-to-go, mean baseline",
           "rtg400": "… the same, continued to 400 updates",
           "rtg_b64": "… the same, batch 64, Adam 1e-2, 150 updates",
           "step": "REINFORCE, per-step weight r_t, mean baseline", "rtg_kl1": "… reward-to-go + KL(G ‖ MLE), β = 1",
           "rtg_ent": "… reward-to-go + entropy bonus 0.5", "rtg_mle": "… reward-to-go + 1 MLE step per update",
           "ppo_critic": "PPO, critic, reward-to-go (γ = λ = 1)",
           "ppo_step": "PPO, per-step advantage r_t"}  # fmt: skip


def _rows(run: Path) -> list[dict]:
    return json.loads((run / "metrics.json").read_text())["history"]


def _cell(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return " / ".join(f"{v:.{digits}f}" for v in values)


def _frontier(seeds: list[int]) -> dict[int, dict]:
    out = {}
    for s in seeds:
        path = Path(f"runs/reward_signal_frontier_s{s}.json")
        out[s] = json.loads(path.read_text())["gaps"] if path.is_file() else {}
    return out


def table(prefix: str, names: dict[str, str], seeds: list[int], agents: list[str] | None) -> str:
    gaps = _frontier(seeds)
    head = ("| reward source / recipe | agent | NLL-oracle | NLL-test | entropy | KL(G ‖ O) | D acc. | D Spearman "
            "(oracle) | D Spearman (ratio) | gap at T = 1 | best gap (T) |")  # fmt: skip
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for key, label in names.items():
        for agent in agents or [""]:
            name = f"{prefix}_{key}_{agent}" if agent else f"{prefix}_{key}"
            runs = [Path(f"runs/{name}_s{s}") for s in seeds]
            runs = [r for r in runs if (r / "metrics.json").is_file()]
            if not runs:
                continue
            finals = [[x for x in _rows(r) if x["phase"] == "adversarial"][-1] for r in runs]
            rounds = [[x for x in _rows(r) if x["phase"] == "d_round"] for r in runs]
            acc = [statistics.mean(x["d_accuracy"] for x in rr) if rr else None for rr in rounds]
            sp = [statistics.mean(x["d_spearman"] for x in rr) if rr else None for rr in rounds]
            spr = [statistics.mean(x["d_spearman_ratio"] for x in rr) if rr and "d_spearman_ratio" in rr[0] else None
                   for rr in rounds]  # fmt: skip
            g = [gaps[int(r.name.rsplit("_s", 1)[1])].get(r.name.rsplit("_s", 1)[0] + f"_s{r.name.rsplit('_s', 1)[1]}")
                 for r in runs]  # fmt: skip
            best = [
                "–" if x is None or x["best"] is None else f"{x['best']:.3f} ({x['best_temperature']:g})" for x in g
            ]
            lines.append(
                f"| {label} | {agent or '–'} | {_cell([f['nll_oracle'] for f in finals])} "
                f"| {_cell([f['nll_test'] for f in finals])} | {_cell([f['entropy'] for f in finals])} "
                f"| {_cell([f['kl_oracle'] for f in finals])} | {_cell(acc)} | {_cell(sp, 2)} | {_cell(spr, 2)} "
                f"| {_cell([None if x is None else x['at_t1'] for x in g])} | {' / '.join(best)} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = p.parse_args()
    print(table("t", SOURCES, args.seeds, ["reinforce", "ppo"]))
    print()
    print(table("r", RECIPES, args.seeds, None))


if __name__ == "__main__":
    main()
