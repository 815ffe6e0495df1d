"""The paper's poem task at the paper's scale (RESULTS.md "Poems at the paper's scale"): ``poems:quatrains``, 16,842
five-character quatrains (1,684 test, 1,000 validation, 14,158 training), BLEU-2 against the whole test split.

    python docs/experiments/poems_study.py --stage size    # G's size on validation: MLE, early-stopped, per size
    python docs/experiments/poems_study.py --stage final   # MLE, tuned MLE, REINFORCE, PPO over --seeds
    python docs/experiments/poems_study.py --stage report  # table, samples, quality–diversity plot

- **MLE**: the paper's G (32/32), the quick preset's fixed 15 epochs (what the README's recipe gives a user).
- **tuned MLE**: G's size chosen on validation NLL (``--stage size``), its epochs by early stopping on validation
  (patience 2); every epoch kept for seed 0 (the frontier of the quality–diversity plot).
- **REINFORCE**, **PPO**: the quick preset's adversarial phase (CNN D pretrained on the start's samples, Monte Carlo
  rollout rewards, 40 updates) from the tuned MLE of the same seed; reported as the final G and as the run's
  ``best`` checkpoint (lowest validation NLL over its evaluations, start included).

Everything is chosen on the validation split; the test split is read only for the table. The data split is fixed
(``--task.data-seed 0``); seeds vary initialisation and sampling. Runs go two at a time, one thread each; finished
runs are skipped, so a stage resumes where it stopped.
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

DATA = {"task.data": "poems:quatrains", "task.text_level": "char", "task.seq_len": 21, "task.n_valid": 1000,
        "task.data_seed": 0, "progress": False, "device": "cpu"}  # fmt: skip
SIZES = (32, 64, 128, 256)
EARLY_STOP = {"mle.epochs": 40, "mle.patience": 2}
SAMPLE_TEMPERATURES = (0.6, 0.8, 1.0, 1.2)


def one_run(args: tuple[str, dict[str, Any]]) -> str:
    run_dir, values = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from agents.config import from_preset
    from agents.run.pipeline import run

    if run_finished(Path(run_dir)):
        return f"skip {run_dir}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run(from_preset("quick", {**DATA, **values, "run_dir": run_dir}))
    return f"done {run_dir}"


def size_flags(h: int) -> dict[str, Any]:
    return {"generator.emb_dim": h, "generator.hidden_dim": h}


def chosen_size(out: Path) -> int:
    """The size whose early-stopped MLE has the lowest validation NLL (seed 0)."""
    scores = {h: summary(out / f"size_{h}")["mle_nll_valid"] for h in SIZES if run_finished(out / f"size_{h}")}
    if not scores:
        raise SystemExit(f"no finished size runs under {out}: run --stage size first")
    return min(scores, key=scores.__getitem__)


def best_epoch(run_dir: Path) -> int | None:
    """The MLE epoch early stopping kept."""
    rows = [r for r in json.loads((run_dir / "metrics.json").read_text())["history"] if "best_epoch" in r]
    return rows[-1]["best_epoch"] if rows else None


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())["summary"]


def jobs_for(stage: str, out: Path, seeds: list[int]) -> list[list[tuple[str, dict[str, Any]]]]:
    """The stage's runs, in waves (a wave starts when the one before it has finished)."""
    if stage == "size":
        return [[(str(out / f"size_{h}"), {**size_flags(h), **EARLY_STOP, "seed": 0, "adv.updates": 0})
                 for h in SIZES]]  # fmt: skip
    h = chosen_size(out)
    mle = [(str(out / f"mle_s{s}"), {"seed": s, "adv.updates": 0}) for s in seeds]
    tuned = [(str(out / f"tuned_s{s}"), {**size_flags(h), **EARLY_STOP, "seed": s, "adv.updates": 0,
                                          "mle.keep_every": 1 if s == 0 else 0}) for s in seeds]  # fmt: skip
    rl = [(str(out / f"{agent}_s{s}"), {**size_flags(h), "agent": agent, "seed": s,
                                        "pretrained": str(out / f"tuned_s{s}")})
          for s in seeds for agent in ("reinforce", "ppo")]  # fmt: skip
    return [mle + tuned, rl]


GENERATORS = {  # label -> (run name, checkpoint)
    "MLE (paper's G, 15 epochs)": ("mle", "latest"),
    "tuned MLE": ("tuned", "latest"),
    "REINFORCE (final)": ("reinforce", "latest"),
    "REINFORCE (best on validation)": ("reinforce", "best"),
    "PPO (final)": ("ppo", "latest"),
    "PPO (best on validation)": ("ppo", "best"),
}
METRICS = (("bleu2", "BLEU-2 ↑"), ("self_bleu2", "self-BLEU-2 ↓"), ("nll_test", "NLL-test ↓"),
           ("nll_valid", "NLL-valid ↓"), ("eos_rate", "<eos> rate"))  # fmt: skip


def report(out: Path, seeds: list[int]) -> None:
    """The table (``OUT/poems.md``), 10 samples per generator, and the quality–diversity plot (``OUT/poems_qd.png``)."""
    import dataclasses

    import torch

    from agents.experiments.compare import _ci, frontier_gap, plot_sweeps, temperature_sweep
    from agents.run.rundir import RunDir, saved_config
    from agents.run.task import PAPER_REAL_DATA, POEM_AXES, build_task, evaluate_generator
    from seqgan_env.poetry import format_quatrain
    from seqgan_env.trained import load_generator

    first = out / "tuned_s0"
    cfg = dataclasses.replace(saved_config({"config": json.loads((first / "config.json").read_text())}), device="cpu")
    task = build_task(cfg, torch.device("cpu"))
    lines = [f"G's size chosen on validation: {chosen_size(out)} (embedding = hidden); sizes tried: "
             + ", ".join(f"{h}: NLL-valid {summary(out / f'size_{h}')['mle_nll_valid']:.3f} (best epoch "
                         f"{best_epoch(out / f'size_{h}')})" for h in SIZES if run_finished(out / f"size_{h}")), "",
             "| generator | seeds | " + " | ".join(name for _, name in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    paper = PAPER_REAL_DATA.get("poems", {}).get("bleu2")
    samples: dict[str, list[str]] = {}
    sweeps: dict[str, list[dict[str, float]]] = {}
    for label, (name, ckpt) in GENERATORS.items():
        values: dict[str, list[float]] = {k: [] for k, _ in METRICS}
        n = 0
        for s in seeds:
            run_dir = out / f"{name}_s{s}"
            if not run_finished(run_dir):
                continue
            gen, _ = load_generator(run_dir, ckpt)
            run_cfg = dataclasses.replace(RunDir(run_dir).config(), device="cpu", seed=s)
            metrics = evaluate_generator(gen, task, run_cfg)
            for k, _ in METRICS:
                values[k].append(metrics[k])
            n += 1
            if s == 0:
                rows = gen.sample(10, generator=torch.Generator().manual_seed(0))
                samples[label] = [format_quatrain(t) for t in task.decode(rows)]
                sweeps[label] = temperature_sweep(task, gen, SAMPLE_TEMPERATURES, 1000, 0)
        if n:
            lines.append(f"| {label} | {n} | " + " | ".join(_ci(values[k]) for k, _ in METRICS) + " |")
    if paper is not None:
        lines.append(f"| paper (Yu et al., Table 3): MLE → SeqGAN | – | {paper[0]} → {paper[1]} | – | – | – | – |")
    frontier_run = RunDir(first)
    frontier = []
    for epoch in frontier_run.kept_mle_epochs():
        gen = load_epoch(frontier_run.mle_epoch_path(epoch), cfg, task)
        frontier.append(temperature_sweep(task, gen, SAMPLE_TEMPERATURES, 1000, 0))
    gaps = {label: frontier_gap(pts, frontier, POEM_AXES) for label, pts in sweeps.items()} if frontier else {}
    lines += ["", "Gap to tuned MLE's frontier (seed 0; BLEU-2 below the frontier at equal self-BLEU-2, so negative is "
              "beyond it):", ""]  # fmt: skip
    for label, gap in gaps.items():
        lines.append(f"- {label}: at T = 1 {fmt(gap.get('at_t1'))} ({gap.get('at_t1_side') or 'inside'}), best "
                     f"{fmt(gap.get('best'))}")  # fmt: skip
    lines += ["", "Ten samples per generator (seed 0, T = 1):", ""]
    for label, poems in samples.items():
        lines += [f"**{label}**", "", "```", *("\n".join(p.splitlines()) + "\n" for p in poems), "```", ""]
    (out / "poems.md").write_text("\n".join(lines) + "\n")
    curves = {**sweeps}
    if frontier:
        from agents.experiments.compare import envelope

        xs = sorted({p[POEM_AXES.diversity] for pts in frontier for p in pts})
        curves["tuned MLE (every epoch, envelope)"] = [
            {"temperature": float("nan"), POEM_AXES.diversity: x, POEM_AXES.quality: envelope(frontier, x, POEM_AXES)}
            for x in xs
        ]
    plot_sweeps(curves, out / "poems_qd.png", POEM_AXES)
    (out / "poems.json").write_text(json.dumps({"sweeps": sweeps, "frontier": frontier, "gaps": gaps}, indent=1))
    print("\n".join(lines))


def load_epoch(path: Path, cfg: Any, task: Any) -> Any:
    from agents.run.checkpoint import load_checkpoint
    from agents.run.task import make_generator

    return make_generator(cfg, task, load_checkpoint(path)["generator"])


def fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["size", "final", "report"], required=True)
    p.add_argument("--out", default="runs/poems")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    out = Path(a.out)
    if a.stage == "report":
        report(out, a.seeds)
        return
    for wave in jobs_for(a.stage, out, a.seeds):
        with ProcessPoolExecutor(a.workers) as pool:
            for msg in pool.map(one_run, wave):
                print(msg, flush=True)


if __name__ == "__main__":
    main()
