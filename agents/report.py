"""What a finished (or interrupted) run leaves for a reader: the summary, samples.txt and the learning curve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from agents.checkpoint import atomic_save_figure, atomic_write_text
from agents.rundir import EVAL_PHASES
from agents.task import EOS_WARNING, ending_stats

if TYPE_CHECKING:
    from agents.pipeline import Pipeline

# The official run's log (NLL-oracle, official oracle; PAPER_NOTES.md): (epoch, value), MLE then adversarial.
OFFICIAL_MLE_LOG = [(0, 10.17), (5, 9.43), (115, 9.07)]
OFFICIAL_ADV_LOG = [(0, 9.08), (25, 8.93), (65, 8.78), (85, 8.72), (100, 8.70), (150, 8.68)]
OFFICIAL_MLE_EPOCHS = 120


def summarize(pipe: Pipeline) -> dict[str, Any]:
    """Random / MLE / adversarial (final and best) metrics, and wall time."""
    hist = pipe.history
    mle = [r for r in hist if r["phase"].endswith("mle")]
    adv = [r for r in hist if r["phase"] == "adversarial"]
    evals = [r for r in hist if r["phase"].removeprefix("pretrained_") in EVAL_PHASES]
    d_rows = [r for r in hist if r["phase"] in ("d_pretrain", "d_round")]
    last = evals[-1] if evals else {}
    metric_keys = [k for k in last if k not in ("phase", "step", "timesteps", "wall_s")]
    summary: dict[str, Any] = {
        "agent": pipe.cfg.agent,
        "preset": pipe.cfg.preset,
        "task": pipe.cfg.task.data
        or pipe.cfg.task.oracle_params
        or f"random oracle (seed {pipe.cfg.task.oracle_seed})",
        "wall_s": round(pipe.elapsed(), 1),
    }
    if pipe.task.oracle is not None:
        summary["random_nll_oracle"] = pipe.task.random_nll_oracle
    if pipe.task.corpus is not None:
        summary["corpus"] = pipe.task.corpus.stats
    if mle:
        summary.update({f"mle_{k}": mle[-1][k] for k in metric_keys if k in mle[-1]})
    if adv:
        final = pipe.tempered() or adv[-1]
        summary.update({f"final_{k}": final[k] for k in metric_keys if k in final})
        key = "nll_oracle" if "nll_oracle" in adv[-1] else "nll_test"
        best = min(adv, key=lambda r: r[key])
        summary.update({f"best_{key}": best[key], "best_update": best["step"]})
    summary.update(validation_verdict(pipe, adv))
    if d_rows:  # D's quality at its last report, and averaged over the adversarial phase's reports
        summary.update({f"last_{k}": v for k, v in d_rows[-1].items() if k.startswith("d_")})
        rounds = [r for r in d_rows if r["phase"] == "d_round"]
        for k in (k for k in (rounds[-1] if rounds else {}) if k.startswith("d_")):
            summary[f"mean_adv_{k}"] = sum(r[k] for r in rounds) / len(rounds)
    return summary


def validation_verdict(pipe: Pipeline, adv: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user must not miss, chosen on validation only: the adversarial G with the best NLL-valid (the ``best``
    checkpoint) against the MLE start and the final G, and ``warnings``: the final G worse than its start on
    validation, a text G that no longer ends its sentences."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    final = pipe.tempered() or (adv[-1] if adv else None)
    valid = [r for r in adv if "nll_valid" in r]
    if valid:
        best = min(valid, key=lambda r: r["nll_valid"])
        start, end = valid[0], (final if final is not None and "nll_valid" in final else valid[-1])
        out.update({"start_nll_valid": start["nll_valid"], "best_valid_update": best["step"],
                    "best_valid_nll_valid": best["nll_valid"], "final_worse_than_start": end["nll_valid"] >
                    start["nll_valid"]})  # fmt: skip
        if out["final_worse_than_start"]:
            warnings.append(
                f"the final generator is worse than the MLE start on validation (NLL-valid {end['nll_valid']:.3f} > "
                f"{start['nll_valid']:.3f}); the best on validation (update {best['step']}, NLL-valid "
                f"{best['nll_valid']:.3f}) is kept as checkpoints/best.pt: generate.py RUN --checkpoint best"
            )
    elif adv:
        out["final_worse_than_start"] = None  # no validation split: unknown, and no best checkpoint
    if final is not None and final.get("eos_rate", 1.0) < EOS_WARNING:
        warnings.append(
            f"the final generator has stopped ending its sentences: {final['eos_rate']:.0%} of its samples hold <eos> "
            "(every real sentence does); its samples run to the full length"
        )
    if pipe.task.corpus is not None:
        data = ending_stats(pipe.task.test, pipe.task.corpus.vocab.eos_id)
        out.update({"data_len_mean": data["len_mean"], "data_eos_rate": data["eos_rate"]})
    out["warnings"] = warnings
    return out


def write_samples(pipe: Pipeline, n: int = 100) -> None:
    """samples.txt: ``n`` samples of the run's final G at temperature 1 (seeded by ``--seed``), one a line, after a
    ``#`` header naming the generator."""
    samples = pipe.gen.sample(n, generator=torch.Generator(device=pipe.device).manual_seed(pipe.cfg.seed))
    lines = pipe.task.decode(samples)
    tempered = pipe.tempered()
    which = "the MLE generator"
    if any(r["phase"] == "adversarial" for r in pipe.history):
        which = f"the final generator (update {pipe.step})"
        if tempered is not None:
            which = f"the final generator (update {pipe.step}, tempered to T = {tempered['temperature']:.3f})"
    header = f"# {n} samples of {which}, sampled at temperature 1 with seed {pipe.cfg.seed}; checkpoints/latest.pt"
    atomic_write_text(pipe.rundir.path / "samples.txt", header + "\n" + "\n".join(lines) + "\n")


def plot_curve(pipe: Pipeline) -> Path:
    """PNG learning curve over MLE epochs then adversarial updates: NLL-oracle and NLL-test (oracle task), or NLL-test
    with BLEU-4 and self-BLEU-4 (real text)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = pipe.cfg
    mle_epochs = cfg.mle.epochs
    text = pipe.task.corpus is not None  # real text: NLL-test, and BLEU-4 / self-BLEU-4 on a second axis
    fig, ax = plt.subplots(figsize=(7, 4.2))
    labels = {"nll_oracle": "NLL-oracle", "nll_test": "NLL-test", "bleu4": "BLEU-4", "self_bleu4": "self-BLEU-4"}

    def curve(axis: Any, key: str, style: str) -> None:
        rows = [r for r in pipe.history if key in r and r["phase"].removeprefix("pretrained_") in EVAL_PHASES]
        if rows:
            xs = [r["step"] if r["phase"].endswith("mle") else mle_epochs + r["step"] for r in rows]
            axis.plot(xs, [r[key] for r in rows], style, marker=".", label=f"this run: {labels[key]}")

    curve(ax, "nll_test", "--")
    if not text:
        curve(ax, "nll_oracle", "-")
    else:
        ax2 = ax.twinx()
        curve(ax2, "bleu4", "-")
        curve(ax2, "self_bleu4", ":")
        ax2.set_ylabel("BLEU-4 / self-BLEU-4 (vs the test sentences / its own samples)")
        ax2.legend(fontsize=8, loc="lower right")
    ax.axvline(mle_epochs, color="grey", lw=0.8)
    ax.text(mle_epochs, ax.get_ylim()[1], " adversarial →", va="top", fontsize=8, color="grey")
    if cfg.task.oracle_params:
        ox = [e * mle_epochs / OFFICIAL_MLE_EPOCHS for e, _ in OFFICIAL_MLE_LOG] + [
            mle_epochs + e for e, _ in OFFICIAL_ADV_LOG
        ]
        oy = [v for _, v in OFFICIAL_MLE_LOG] + [v for _, v in OFFICIAL_ADV_LOG]
        ax.plot(ox, oy, "k^", ms=5, label="official run's log (NLL-oracle; MLE epochs rescaled)")
        ax.axhline(8.736, color="k", lw=0.6, ls=":", label="published SeqGAN 8.736")
    ax.set_xlabel(f"MLE epoch (0–{mle_epochs}), then adversarial generator update")
    ax.set_ylabel("NLL (nats / token)")
    ax.set_title(f"SeqGAN {pipe.cfg.agent} — preset {cfg.preset}, seed {cfg.seed}")
    ax.legend(fontsize=8)
    path = pipe.rundir.path / "curve.png"
    atomic_save_figure(fig, path)
    return path
