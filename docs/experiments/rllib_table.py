"""The RLlib table of README "Scaling out", from docs/experiments/rllib.sh's run directories:
python docs/experiments/rllib_table.py PRETRAIN SB3_RUN RLLIB_2_RUNNERS RLLIB_1_RUNNER."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("pretrain", type=Path)
    p.add_argument("sb3", type=Path)
    p.add_argument("rllib", type=Path, nargs="+", help="RLlib run directories (any number of env runners)")
    args = p.parse_args()
    pre = json.loads((args.pretrain / "metrics.json").read_text())["history"]
    mle = [r for r in pre if r["phase"] == "mle"][-1]
    sb3 = [r for r in json.loads((args.sb3 / "metrics.json").read_text())["history"] if r["phase"] == "adversarial"]
    keys = ("nll_oracle", "nll_test", "entropy", "kl_oracle")
    print("| generator | iterations | NLL-oracle | NLL-test | entropy | KL(G ‖ oracle) | s / iteration (evals incl.) |")
    print("|---|---|---|---|---|---|---|")
    print("| MLE (start) | – | " + " | ".join(f"{mle[k]:.3f}" for k in keys) + " | – |")
    n_sb3 = sb3[-1]["step"]
    sb3_s = (sb3[-1]["wall_s"] - sb3[0]["wall_s"]) / n_sb3
    print(f"| SB3 PPO | {n_sb3} | " + " | ".join(f"{sb3[-1][k]:.3f}" for k in keys) + f" | {sb3_s:.2f} |")
    timing = []
    for run in args.rllib:
        m = json.loads((run / "metrics.json").read_text())
        hist = [r for r in m["history"] if r["phase"] == "adversarial"]  # (d_round rows: D's reports)
        m = m["summary"]
        last = hist[-1]
        n = last["step"]
        label = f"RLlib PPO, {m['num_env_runners']} env runner(s)"
        print(f"| {label} | {n} | " + " | ".join(f"{last[k]:.3f}" for k in keys) + f" | {last['wall_s'] / n:.2f} |")
        rows = [r for r in hist if "iteration_s" in r]
        driver = sum(r["driver_s"] for r in rows) / len(rows)
        timing.append((m["num_env_runners"], m["mean_iteration_s"], m["mean_d_retrain_s"], m["d_share"], driver))
    print()
    print(
        "| env runners | s / iteration (`train()`, D included) | D retraining, s / iteration | D's share | "
        "all driver work (D, its report, pushes), s / iteration | its share |"
    )
    print("|---|---|---|---|---|---|")
    for runners, it_s, d_s, share, driver in sorted(timing):
        print(f"| {runners} | {it_s:.2f} | {d_s:.2f} | {share:.0%} | {driver:.2f} | {driver / it_s:.0%} |")


if __name__ == "__main__":
    main()
