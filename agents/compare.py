"""PPO vs REINFORCE from the same pretrained G and D, on the same token budget and D schedule, over seeds;
a Markdown table, a learning-curve plot and a quality–diversity (temperature sweep) plot."""

from __future__ import annotations

import dataclasses
import io
import json
import statistics
from pathlib import Path
from typing import Any

import torch

from agents.checkpoint import atomic_write_bytes, atomic_write_json, atomic_write_text, load_checkpoint
from agents.config import SeqGANConfig
from agents.pipeline import AGENTS, build_task, generator_config, run
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.metrics import nll_oracle, nll_test

DEFAULT_TEMPERATURES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def adversarial_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The adversarial-phase evaluations of a run directory."""
    hist = json.loads((run_dir / "metrics.json").read_text())["history"]
    return [r for r in hist if r["phase"] == "adversarial"]


def load_generator(run_dir: Path, cfg: SeqGANConfig, vocab_size: int, device: torch.device) -> Generator:
    """The generator saved in a run directory's ``latest.pt``."""
    gen = Generator(generator_config(cfg, vocab_size)).to(device)
    gen.load_state_dict(load_checkpoint(run_dir / "checkpoints" / "latest.pt")["generator"])
    return gen.eval()


def temperature_sweep(
    oracle: Any, gen: Generator, test: torch.Tensor, temperatures: tuple[float, ...], n_samples: int, seed: int
) -> list[dict[str, float]]:
    """NLL-oracle and NLL-test of ``gen`` at each softmax temperature (Caccia et al., 2018)."""
    return [
        {
            "temperature": t,
            "nll_oracle": nll_oracle(oracle, gen, n_samples, temperature=t, seed=seed),
            "nll_test": nll_test(gen, test, temperature=t),
        }
        for t in temperatures
    ]


def compare(
    cfg: SeqGANConfig,
    out: str | Path,
    seeds: tuple[int, ...] = (0, 1, 2),
    agents: tuple[str, ...] = AGENTS,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
) -> dict[str, Any]:
    """Pretrain once, run every agent × seed from the pretrained G/D, and write table, plots and JSON."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output directory {out} already exists and is not empty")
    if not seeds:
        raise ValueError("--seeds must name at least one seed")
    unknown = [a for a in agents if a not in AGENTS]
    if unknown or not agents:
        raise ValueError(f"--agents must be a non-empty subset of {list(AGENTS)}, got {list(agents)}")
    if not temperatures or any(t <= 0 for t in temperatures):
        raise ValueError(f"--temperatures must be positive numbers, got {list(temperatures)}")
    if cfg.data is not None:
        raise ValueError("train/compare.py needs the oracle task (NLL-oracle); --data is not supported by it yet")
    base = dataclasses.replace(cfg, data_seed=cfg.seed if cfg.data_seed is None else cfg.data_seed)
    pre_dir = out / "pretrain"
    run(dataclasses.replace(base, adv_updates=0, run_dir=str(pre_dir), resume=None, pretrained=None), "reinforce")
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in agents}
    for agent in agents:
        for seed in seeds:
            run_dir = out / f"{agent}_seed{seed}"
            summary = run(
                dataclasses.replace(base, seed=seed, run_dir=str(run_dir), pretrained=str(pre_dir), resume=None),
                agent,
            )
            rows = adversarial_rows(run_dir)
            wall = rows[-1]["wall_s"] - rows[0]["wall_s"]
            tokens = rows[-1]["timesteps"]
            record = {"seed": seed, "run_dir": str(run_dir), "summary": summary, "rows": rows, "adv_wall_s": wall}
            record.update(tokens=tokens, tokens_per_s=tokens / max(wall, 1e-9))
            runs[agent].append(record)

    device = resolve_device(cfg.device)
    task = build_task(base, device)
    vocab = task.vocab_size
    sweeps: dict[str, list[dict[str, float]]] = {}
    sweeps["MLE"] = temperature_sweep(task.oracle, load_generator(pre_dir, base, vocab, device), task.test,
                                      temperatures, cfg.eval_samples, cfg.seed)  # fmt: skip
    for agent in agents:
        gen = load_generator(Path(runs[agent][0]["run_dir"]), base, vocab, device)
        sweeps[agent] = temperature_sweep(task.oracle, gen, task.test, temperatures, cfg.eval_samples, cfg.seed)

    pre_rows = json.loads((pre_dir / "metrics.json").read_text())["history"]
    mle = [r for r in pre_rows if r["phase"] == "mle"][-1]
    table = _table(runs, mle, seeds)
    result = {"config": dataclasses.asdict(base), "seeds": list(seeds), "mle": mle, "runs": runs, "sweeps": sweeps,
              "table": table}  # fmt: skip
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", table)
    _plot_curves(runs, mle, out / "compare_nll.png")
    _plot_sweeps(sweeps, out / "quality_diversity.png")
    return result


def _table(runs: dict[str, list[dict[str, Any]]], mle: dict[str, Any], seeds: tuple[int, ...]) -> str:
    lines = [
        "| generator | NLL-oracle (final) | NLL-oracle (best seen) | NLL-test (final) | adv. wall s | tokens/s |",
        "|---|---|---|---|---|---|",
        f"| MLE (pretrained, shared) | {mle['nll_oracle']:.3f} | – | {mle['nll_test']:.3f} | – | – |",
    ]
    for agent, rs in runs.items():
        finals = [r["rows"][-1]["nll_oracle"] for r in rs]
        bests = [min(x["nll_oracle"] for x in r["rows"]) for r in rs]
        tests = [r["rows"][-1]["nll_test"] for r in rs]
        walls = [r["adv_wall_s"] for r in rs]
        tps = [r["tokens_per_s"] for r in rs]
        lines.append(
            f"| {agent} ({len(rs)} seeds) | {_mean_std(finals)} | {_mean_std(bests)} | {_mean_std(tests)} | "
            f"{statistics.mean(walls):.0f} | {statistics.mean(tps):.0f} |"
        )
    lines.append("")
    lines.append(f"Mean ± sample std over seeds {list(seeds)}; every run starts from the same pretrained G and D and "
                 f"generates the same number of tokens ({runs[next(iter(runs))][0]['tokens']}) under the same D "
                 "schedule. Wall time and tokens/s cover the adversarial phase, evaluations included.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _save_fig(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def _plot_curves(runs: dict[str, list[dict[str, Any]]], mle: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for agent, rs in runs.items():
        xs = np.array([r["timesteps"] for r in rs[0]["rows"]])
        ys = np.array([[r["nll_oracle"] for r in x["rows"]] for x in rs])
        mean = ys.mean(0)
        ax.plot(xs, mean, marker=".", label=f"{agent} (mean of {len(rs)} seeds)")
        ax.fill_between(xs, ys.min(0), ys.max(0), alpha=0.25)
    ax.axhline(mle["nll_oracle"], color="grey", ls="--", lw=0.8, label="MLE (start)")
    ax.set_xlabel("generated tokens in the adversarial phase")
    ax.set_ylabel("NLL-oracle (nats / token)")
    ax.set_title("PPO vs REINFORCE, same pretrained G and D (shaded: seed min–max)", fontsize=10)
    ax.legend(fontsize=8)
    _save_fig(fig, path)


def _plot_sweeps(sweeps: dict[str, list[dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, pts in sweeps.items():
        ax.plot([p["nll_test"] for p in pts], [p["nll_oracle"] for p in pts], marker="o", label=name)
        for p in pts:
            ax.annotate(f"{p['temperature']:g}", (p["nll_test"], p["nll_oracle"]), fontsize=6, alpha=0.7)
    ax.set_xlabel("NLL-test (diversity: lower is better)")
    ax.set_ylabel("NLL-oracle (quality: lower is better)")
    ax.set_title("Quality–diversity over softmax temperature")
    ax.legend(fontsize=8)
    _save_fig(fig, path)
