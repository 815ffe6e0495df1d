"""NLL-oracle against wall-clock minutes for finished runs, beside the official run placed on the same axis
by its measured per-epoch cost on this machine (13.2 s per MLE epoch, 469 s per adversarial batch), and a
table of the time each run first reached NLL-oracle ≤ 9.0, 8.8 and 8.68, its final NLL-oracle and NLL-test, and
whether the final NLL-test is no worse than that of the run's MLE checkpoint (the start of its adversarial phase).

    python train/time_to_quality.py runs/fast_reinforce_s0 runs/fast_reinforce_s1 ... --out docs/time_to_quality.png
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agents.run.checkpoint import atomic_save_figure
from agents.run.report import OFFICIAL_ADV_LOG, OFFICIAL_MLE_EPOCHS, OFFICIAL_MLE_LOG
from agents.run.rundir import Phase, RunDir

THRESHOLDS = (9.0, 8.8, 8.68)
OFFICIAL_MLE_EPOCH_S, OFFICIAL_ADV_BATCH_S = 13.2, 469.0


def official_curve() -> list[tuple[float, float]]:
    """(minutes, NLL-oracle) of the official log, timed with its per-epoch costs measured here."""
    mle = [(e * OFFICIAL_MLE_EPOCH_S / 60, v) for e, v in OFFICIAL_MLE_LOG]
    start = OFFICIAL_MLE_EPOCHS * OFFICIAL_MLE_EPOCH_S
    return mle + [((start + k * OFFICIAL_ADV_BATCH_S) / 60, v) for k, v in OFFICIAL_ADV_LOG]


def run_curve(run_dir: Path) -> tuple[str, list[tuple[float, float]]]:
    """(label, [(minutes, NLL-oracle)]) of a run directory's metrics.json."""
    label, rows = run_rows(run_dir)
    return label, [(r["wall_s"] / 60, r["nll_oracle"]) for r in rows]


def nll_test_check(run_dir: Path) -> tuple[float, float]:
    """(NLL-test of the MLE checkpoint the adversarial phase started from, final NLL-test)."""
    _, rows = run_rows(run_dir)
    adv = [r for r in rows if r["phase"] in (Phase.ADVERSARIAL, Phase.MATCHED_MLE_DIVERSITY)]  # final G: tempered
    if not adv:
        raise ValueError(f"{run_dir} has no adversarial evaluations")
    return adv[0]["nll_test"], adv[-1]["nll_test"]


def run_rows(run_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    """(label, evaluation rows with NLL-oracle) of a run directory's metrics.json."""
    rows = [r for r in RunDir(run_dir).history() if "nll_oracle" in r]
    if not rows:
        raise ValueError(f"{run_dir} has no NLL-oracle evaluations (a text run?)")
    config = RunDir(run_dir).config()
    label = f"{config.agent} {config.preset} seed {config.seed}"
    phases = (Phase.MLE, Phase.ADVERSARIAL, Phase.PRETRAINED + Phase.MLE, Phase.MATCHED_MLE_DIVERSITY)
    return label, [r for r in rows if r["phase"] in phases]


def first_time(curve: list[tuple[float, float]], threshold: float) -> float | None:
    return next((m for m, v in curve if v <= threshold), None)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--out", default="time_to_quality.png", help="PNG to write")
    args = p.parse_args(argv)
    try:
        curves = [run_curve(Path(r)) for r in args.runs]
        checks = [nll_test_check(Path(r)) for r in args.runs]
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    curves.append(("official code (its log; time from its per-epoch cost here)", official_curve()))
    lines = [
        "| run | "
        + " | ".join(f"≤ {t}" for t in THRESHOLDS)
        + " | final NLL-oracle | wall min | NLL-test: MLE → final | final NLL-test ≤ MLE's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (label, c) in enumerate(curves):
        cells = [f"{m:.1f} min" if (m := first_time(c, t)) is not None else "not reached" for t in THRESHOLDS]
        if i < len(checks):
            mle, final = checks[i]
            test = f"{mle:.3f} → {final:.3f} | {'yes' if final <= mle else 'no'}"
        else:
            test = "– | –"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {c[-1][1]:.3f} | {c[-1][0]:.1f} | {test} |")
    table = "\n".join(lines)
    print(table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, c in curves:
        style = "k^--" if label.startswith("official") else ".-"
        ax.plot([m for m, _ in c], [v for _, v in c], style, label=label, ms=5)
    ax.axhline(8.68, color="grey", lw=0.7, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("wall-clock minutes on 2 CPU cores (log scale)")
    ax.set_ylabel("NLL-oracle (official oracle)")
    ax.set_ylim(8.3, 10.5)
    ax.legend(fontsize=7)
    atomic_save_figure(fig, args.out)
    return {"table": table}


if __name__ == "__main__":
    main()
