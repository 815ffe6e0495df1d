"""What a finished (or interrupted) run leaves for a reader: the summary, samples.txt and the learning curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from agents.config import SeqGANConfig
from agents.run.checkpoint import atomic_save_figure, atomic_write_text
from agents.run.recording import Recorder
from agents.run.rundir import EVAL_PHASES, Phase
from agents.run.task import EOS_WARNING, Task, ending_stats, text_axes
from seqgan_env.generator import Generator

# The official run's log (NLL-oracle, official oracle; PAPER_NOTES.md): (epoch, value), MLE then adversarial.
OFFICIAL_MLE_LOG = [(0, 10.17), (5, 9.43), (115, 9.07)]
OFFICIAL_ADV_LOG = [(0, 9.08), (25, 8.93), (65, 8.78), (85, 8.72), (100, 8.70), (150, 8.68)]
OFFICIAL_MLE_EPOCHS = 120


def summarize(cfg: SeqGANConfig, task: Task, rec: Recorder) -> dict[str, Any]:
    """Random / MLE / adversarial (final and best) metrics, D's quality, the validation verdict, wall and CPU time."""
    hist = rec.history
    mle = rec.rows(Phase.MLE, Phase.PRETRAINED + Phase.MLE)
    adv = rec.rows(Phase.ADVERSARIAL)
    evals = [r for r in hist if r["phase"].removeprefix(Phase.PRETRAINED) in EVAL_PHASES]
    d_rows = rec.rows(Phase.D_PRETRAIN, Phase.D_ROUND)
    last = evals[-1] if evals else {}
    metric_keys = [k for k in last if k not in ("phase", "step", "timesteps", "wall_s")]
    summary: dict[str, Any] = {
        "agent": cfg.agent,
        "preset": cfg.preset,
        "task": cfg.task.data or cfg.task.oracle_params or f"random oracle (seed {cfg.task.oracle_seed})",
        "wall_s": round(rec.elapsed(), 1),
        "cpu": rec.cpu_summary(),  # this process's (a resumed run counts from the resume)
    }
    if task.oracle is not None:
        summary["random_nll_oracle"] = task.random_nll_oracle
    if task.corpus is not None:
        summary["corpus"] = task.corpus.stats
    if mle:
        summary.update({f"mle_{k}": mle[-1][k] for k in metric_keys if k in mle[-1]})
    if adv:
        final = rec.matched_mle_diversity() or adv[-1]
        summary.update({f"final_{k}": final[k] for k in metric_keys if k in final})
        key = "nll_oracle" if "nll_oracle" in adv[-1] else "nll_test"
        best = min(adv, key=lambda r: r[key])
        summary.update({f"best_{key}": best[key], "best_update": best["step"]})
    summary.update(validation_verdict(task, rec, adv))
    if d_rows:  # D's quality at its last report, and averaged over the adversarial phase's reports
        summary.update({f"last_{k}": v for k, v in d_rows[-1].items() if k.startswith("d_")})
        rounds = [r for r in d_rows if r["phase"] == Phase.D_ROUND]
        for k in (k for k in (rounds[-1] if rounds else {}) if k.startswith("d_")):
            summary[f"mean_adv_{k}"] = sum(r[k] for r in rounds) / len(rounds)
    return summary


def validation_verdict(task: Task, rec: Recorder, adv: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user must not miss, chosen on validation only: the adversarial G with the best NLL-valid (the ``best``
    checkpoint) against the MLE start and the final G, and ``warnings``: the final G worse than its start on
    validation, a text G that no longer ends its sentences."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    final = rec.matched_mle_diversity() or (adv[-1] if adv else None)
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
    if task.corpus is not None:
        data = ending_stats(task.test, task.corpus.vocab.eos_id)
        out.update({"data_len_mean": data["len_mean"], "data_eos_rate": data["eos_rate"]})
    out["warnings"] = warnings
    return out


def write_samples(path: Path, gen: Generator, task: Task, rec: Recorder, step: int, seed: int, n: int = 100) -> None:
    """``path`` (the run's samples.txt): ``n`` samples of the run's final G (``gen``, after ``step`` updates) at
    temperature 1, seeded by ``seed``, one a line, after a ``#`` header naming the generator."""
    device = next(gen.parameters()).device
    lines = task.decode(gen.sample(n, generator=torch.Generator(device=device).manual_seed(seed)))
    matched = rec.matched_mle_diversity()
    which = "the MLE generator"
    if rec.rows(Phase.ADVERSARIAL):
        which = f"the final generator (update {step})"
        if matched is not None:
            which = f"the final generator (update {step}, tempered to T = {matched['temperature']:.3f})"
    header = f"# {n} samples of {which}, sampled at temperature 1 with seed {seed}; checkpoints/latest.pt"
    atomic_write_text(path, header + "\n" + "\n".join(lines) + "\n")


COLORS = {"nll_oracle": "tab:blue", "nll_test": "tab:orange", "bleu2": "tab:green", "self_bleu2": "tab:red",
          "bleu4": "tab:green", "self_bleu4": "tab:red"}  # fmt: skip
LABELS = {"nll_oracle": "NLL-oracle", "nll_test": "NLL-test", "bleu2": "BLEU-2", "self_bleu2": "self-BLEU-2",
          "bleu4": "BLEU-4", "self_bleu4": "self-BLEU-4"}  # fmt: skip


def plot_curve(path: Path, cfg: SeqGANConfig, history: list[dict[str, Any]]) -> Path:
    """``path``, a PNG learning curve of the run's ``history``: MLE epochs (left) and adversarial updates (right, its
    own axis), NLL-oracle and NLL-test (oracle task), or NLL-test above and the task's BLEU and self-BLEU (BLEU-2 on
    poems, else BLEU-4) below (real text); the title names the task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    text = cfg.task.data is not None
    rows = [r for r in history if r["phase"].removeprefix(Phase.PRETRAINED) in EVAL_PHASES]
    mle = [r for r in rows if r["phase"].endswith("mle")]
    adv = [r for r in rows if not r["phase"].endswith("mle")]
    mle_epochs = max([r["step"] for r in mle], default=cfg.mle.epochs)
    bleu = text_axes(cfg.task.data) if text else None
    metric_rows = [["nll_test"] if text else ["nll_oracle", "nll_test"]]
    if bleu is not None:
        metric_rows.append([bleu.quality, bleu.diversity])
    fig, axs = plt.subplots(len(metric_rows), 2, figsize=(9, 3.6 * len(metric_rows)), sharey="row", squeeze=False,
                            gridspec_kw={"width_ratios": [1, 1.6]})  # fmt: skip
    for i, keys in enumerate(metric_rows):
        for j, part in enumerate((mle, adv)):
            ax = axs[i, j]
            for key in keys:
                pts = [r for r in part if key in r]
                if pts:
                    ax.plot([r["step"] for r in pts], [r[key] for r in pts], marker=".", color=COLORS[key],
                            label=LABELS[key])  # fmt: skip
            if i == 0 and j == 0 and cfg.task.oracle_params:  # the official run's log, MLE epochs rescaled
                ax.plot([e * mle_epochs / OFFICIAL_MLE_EPOCHS for e, _ in OFFICIAL_MLE_LOG],
                        [v for _, v in OFFICIAL_MLE_LOG], "k^", ms=5, label="official run (rescaled)")  # fmt: skip
            if i == 0 and j == 1 and cfg.task.oracle_params:
                ax.plot([e for e, _ in OFFICIAL_ADV_LOG], [v for _, v in OFFICIAL_ADV_LOG], "k^", ms=5,
                        label="official run (epochs)")  # fmt: skip
                ax.axhline(8.736, color="k", lw=0.6, ls=":", label="published SeqGAN 8.736")
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="best")
            ax.grid(alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axs[i, 0].set_ylabel("nats / token" if i == 0 else "BLEU (vs test) / self-BLEU")
    axs[-1, 0].set_xlabel("MLE epoch")
    axs[-1, 1].set_xlabel("adversarial generator update")
    task = cfg.task.data or ("official oracle" if cfg.task.oracle_params else f"random oracle {cfg.task.oracle_seed}")
    fig.suptitle(f"SeqGAN {cfg.agent} on {task} — preset {cfg.preset}, seed {cfg.seed}", fontsize=10)
    fig.tight_layout()
    atomic_save_figure(fig, path)
    return path
