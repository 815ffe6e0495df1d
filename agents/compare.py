"""PPO vs REINFORCE from the same pretrained G and D, on the same token budget and D schedule, over seeds;
a Markdown table, a learning-curve plot and a quality–diversity (temperature sweep) plot."""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from agents.checkpoint import atomic_save_figure, atomic_write_json, atomic_write_text, load_checkpoint
from agents.config import SeqGANConfig
from agents.pipeline import AGENTS, Task, agent_config, build_task, check_agent, generator_config, run
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.metrics import bleu, nll_test, oracle_metrics, self_bleu

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


def load_generator(run_dir: Path, cfg: SeqGANConfig, task: Task, device: torch.device) -> Generator:
    """The generator saved in a run directory's ``latest.pt``."""
    gen = Generator(generator_config(cfg, task)).to(device)
    gen.load_state_dict(load_checkpoint(run_dir / "checkpoints" / "latest.pt")["generator"])
    return gen.eval()


@dataclass(frozen=True)
class Axes:
    """The quality metric of a task (y) and its diversity metric (x) for tables and plots."""

    quality: str
    quality_label: str
    lower_is_better: bool
    diversity: str
    diversity_label: str


ORACLE_AXES = Axes("nll_oracle", "NLL-oracle", True, "nll_test", "NLL-test")
TEXT_AXES = Axes("bleu4", "BLEU-4", False, "self_bleu4", "self-BLEU-4")


def temperature_sweep(
    task: Task, gen: Generator, temperatures: tuple[float, ...], n_samples: int, seed: int
) -> list[dict[str, float]]:
    """Quality and diversity of ``gen`` at each softmax temperature (Caccia et al., 2018): NLL-oracle and
    NLL-test (with G's entropy and KL(G ‖ oracle), see :func:`~seqgan_env.metrics.oracle_metrics`) on the oracle
    task, BLEU-4 against the test sentences and self-BLEU-4 on text."""
    points = []
    for t in temperatures:
        point = {"temperature": t, "nll_test": nll_test(gen, task.test, temperature=t)}
        if task.oracle is not None:
            point.update(oracle_metrics(task.oracle, gen, n_samples, temperature=t, seed=seed))
        else:
            assert task.corpus is not None
            rng = torch.Generator(device=gen.device).manual_seed(seed)
            hyps = task.corpus.sentences(gen.sample(min(n_samples, 1000), temperature=t, generator=rng).cpu())
            point["bleu4"] = bleu(hyps, task.corpus.sentences(task.test), max_n=4)[4]
            point["self_bleu4"] = self_bleu(hyps, max_n=4)[4]
        points.append(point)
    return points


def envelope(curves: list[list[dict[str, float]]], x: float, axes: Axes = ORACLE_AXES) -> float | None:
    """The best quality reached at diversity ``x`` by any of ``curves`` (temperature sweeps, each point linked to the
    next temperature's by a straight line): the frontier of a family of generators, e.g. MLE checkpoints of every
    epoch over temperature (Caccia et al.'s tuned MLE). None where no curve spans ``x``."""
    best = None
    pick = min if axes.lower_is_better else max
    for pts in curves:
        for a, b in itertools.pairwise(sorted(pts, key=lambda p: p["temperature"])):
            xa, xb = a[axes.diversity], b[axes.diversity]
            if min(xa, xb) <= x <= max(xa, xb):
                w = 0.0 if xa == xb else (x - xa) / (xb - xa)
                y = a[axes.quality] + w * (b[axes.quality] - a[axes.quality])
                best = y if best is None else pick(best, y)
    return best


def frontier_gap(
    points: list[dict[str, float]], frontier: list[list[dict[str, float]]], axes: Axes = ORACLE_AXES
) -> dict[str, float | None]:
    """How far a generator's temperature sweep ``points`` lies from the ``frontier`` family's :func:`envelope`, in
    quality units at equal diversity (oracle task: NLL-oracle minus the frontier's NLL-oracle at the same NLL-test;
    negative = beyond the frontier). ``at_t1``: the generator as it is (T = 1); ``best``: the best point of its
    sweep; None where the frontier does not reach that diversity."""
    sign = 1.0 if axes.lower_is_better else -1.0

    def gap(p: dict[str, float]) -> float | None:
        y = envelope(frontier, p[axes.diversity], axes)
        return None if y is None else sign * (p[axes.quality] - y)

    gaps = [(g, p) for p in points if (g := gap(p)) is not None]
    at_one = next((p for p in points if p["temperature"] == 1.0), None)
    best = min(gaps, key=lambda gp: gp[0]) if gaps else (None, {})
    return {"at_t1": gap(at_one) if at_one else None, "best": best[0], "best_temperature": best[1].get("temperature")}


def compare(
    cfg: SeqGANConfig,
    out: str | Path,
    seeds: tuple[int, ...] = (0, 1, 2),
    agents: tuple[str, ...] | None = None,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
) -> dict[str, Any]:
    """Pretrain once, run every agent × seed from the pretrained G/D, and write table, plots and JSON. ``agents``
    defaults to REINFORCE and PPO, plus the reference trainer with ``--reward-source perfect``."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output directory {out} already exists and is not empty")
    if not seeds:
        raise ValueError("--seeds must name at least one seed")
    if agents is None:  # on the perfect reward, the exact per-step reference trainer runs beside the two agents
        agents = ("reinforce", "ppo", "reference") if cfg.reward_source == "perfect" else ("reinforce", "ppo")
    unknown = [a for a in agents if a not in AGENTS]
    if unknown or not agents:
        raise ValueError(f"--agents must be a non-empty subset of {list(AGENTS)}, got {list(agents)}")
    if "reference" in agents and cfg.reward_source != "perfect":
        raise ValueError("--agents reference (the exact per-step yardstick) needs --reward-source perfect")
    if not temperatures or any(t <= 0 for t in temperatures):
        raise ValueError(f"--temperatures must be positive numbers, got {list(temperatures)}")
    for agent in agents:  # every agent's own flags and combinations, before any work
        check_agent(agent_config(cfg, agent), agent)
    base = dataclasses.replace(cfg, data_seed=cfg.seed if cfg.data_seed is None else cfg.data_seed)
    pre_dir = out / "pretrain"
    pre_cfg = agent_config(dataclasses.replace(base, adv_updates=0, run_dir=str(pre_dir), resume=None, pretrained=None),
                           "reinforce")  # fmt: skip
    run(pre_cfg, "reinforce")
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in agents}
    for agent in agents:
        for seed in seeds:
            run_dir = out / f"{agent}_seed{seed}"
            own = dataclasses.replace(base, seed=seed, run_dir=str(run_dir), pretrained=str(pre_dir), resume=None)
            summary = run(agent_config(own, agent), agent)
            rows = adversarial_rows(run_dir)
            wall = rows[-1]["wall_s"] - rows[0]["wall_s"]
            tokens = rows[-1]["timesteps"]
            record = {"seed": seed, "run_dir": str(run_dir), "summary": summary, "rows": rows, "adv_wall_s": wall}
            record.update(tokens=tokens, tokens_per_s=tokens / max(wall, 1e-9))
            runs[agent].append(record)

    device = resolve_device(cfg.device)
    task = build_task(base, device)
    sweeps: dict[str, list[dict[str, float]]] = {}
    axes = ORACLE_AXES if task.oracle is not None else TEXT_AXES
    sweeps["MLE"] = temperature_sweep(task, load_generator(pre_dir, base, task, device), temperatures,
                                      cfg.eval_samples, cfg.seed)  # fmt: skip
    for agent in agents:
        gen = load_generator(Path(runs[agent][0]["run_dir"]), base, task, device)
        sweeps[agent] = temperature_sweep(task, gen, temperatures, cfg.eval_samples, cfg.seed)

    pre_rows = json.loads((pre_dir / "metrics.json").read_text())["history"]
    mle = [r for r in pre_rows if r["phase"] == "mle"][-1]
    table = _table(runs, mle, seeds, axes)
    result = {"config": dataclasses.asdict(base), "seeds": list(seeds), "mle": mle, "runs": runs, "sweeps": sweeps,
              "table": table}  # fmt: skip
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", table)
    _plot_curves(runs, mle, out / "compare_nll.png", axes)
    plot_sweeps(sweeps, out / "quality_diversity.png", axes)
    return result


def _table(
    runs: dict[str, list[dict[str, Any]]], mle: dict[str, Any], seeds: tuple[int, ...], axes: Axes = ORACLE_AXES
) -> str:
    q, ql = axes.quality, axes.quality_label
    extra = axes.diversity if axes.diversity != "nll_test" else None
    head = f"| generator | {ql} (final) | {ql} (best seen) | NLL-test (final) |"
    head += f" {axes.diversity_label} (final) |" if extra else ""
    lines = [head + " adv. wall s | tokens/s |", "|---" * (head.count("|") + 1) + "|"]
    mle_row = f"| MLE (pretrained, shared) | {mle[q]:.3f} | – | {mle['nll_test']:.3f} |"
    lines.append(mle_row + (f" {mle[extra]:.3f} |" if extra else "") + " – | – |")
    pick = min if axes.lower_is_better else max
    for agent, rs in runs.items():
        cells = [
            _mean_std([r["rows"][-1][q] for r in rs]),
            _mean_std([pick(x[q] for x in r["rows"]) for r in rs]),
            _mean_std([r["rows"][-1]["nll_test"] for r in rs]),
        ]
        if extra:
            cells.append(_mean_std([r["rows"][-1][extra] for r in rs]))
        walls = statistics.mean(r["adv_wall_s"] for r in rs)
        tps = statistics.mean(r["tokens_per_s"] for r in rs)
        lines.append(f"| {agent} ({len(rs)} seeds) | " + " | ".join(cells) + f" | {walls:.0f} | {tps:.0f} |")
    lines.append("")
    lines.append(f"Mean ± sample std over seeds {list(seeds)}; every run starts from the same pretrained G and D and "
                 f"generates the same number of tokens ({runs[next(iter(runs))][0]['tokens']}) under the same D "
                 "schedule. Wall time and tokens/s cover the adversarial phase, evaluations included.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _plot_curves(
    runs: dict[str, list[dict[str, Any]]], mle: dict[str, Any], path: Path, axes: Axes = ORACLE_AXES
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for agent, rs in runs.items():
        xs = np.array([r["timesteps"] for r in rs[0]["rows"]])
        ys = np.array([[r[axes.quality] for r in x["rows"]] for x in rs])
        mean = ys.mean(0)
        ax.plot(xs, mean, marker=".", label=f"{agent} (mean of {len(rs)} seeds)")
        ax.fill_between(xs, ys.min(0), ys.max(0), alpha=0.25)
    ax.axhline(mle[axes.quality], color="grey", ls="--", lw=0.8, label="MLE (start)")
    ax.set_xlabel("generated tokens in the adversarial phase")
    ax.set_ylabel(axes.quality_label)
    ax.set_title(f"{' vs '.join(runs)}, same pretrained G and D (shaded: seed min–max)", fontsize=10)
    ax.legend(fontsize=8)
    atomic_save_figure(fig, path)


def plot_sweeps(sweeps: dict[str, list[dict[str, float]]], path: Path, axes: Axes = ORACLE_AXES) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_kl = any("kl_oracle" in p for pts in sweeps.values() for p in pts)
    fig, axs = plt.subplots(1, 2 if with_kl else 1, figsize=(11.5 if with_kl else 6, 4.5), squeeze=False)
    ax = axs[0, 0]
    for name, pts in sweeps.items():
        xs, ys = [p[axes.diversity] for p in pts], [p[axes.quality] for p in pts]
        ax.plot(xs, ys, marker="o", label=name)
        for p, x, y in zip(pts, xs, ys):
            if p["temperature"] == p["temperature"]:  # an envelope's points have no temperature (NaN)
                ax.annotate(f"{p['temperature']:g}", (x, y), fontsize=6, alpha=0.7)
    ax.set_xlabel(f"{axes.diversity_label} (diversity: lower is better)")
    better = "lower" if axes.lower_is_better else "higher"
    ax.set_ylabel(f"{axes.quality_label} (quality: {better} is better)")
    ax.set_title("Quality–diversity over softmax temperature")
    ax.legend(fontsize=8)
    if with_kl:  # the collapse NLL-test can hide: G's entropy, and its KL to the oracle (0 = the oracle itself)
        ax = axs[0, 1]
        for name, pts in sweeps.items():
            if all("kl_oracle" in p for p in pts):
                ax.plot([p["entropy"] for p in pts], [p["kl_oracle"] for p in pts], marker="o", label=name)
        ax.set_xlabel("G's entropy (nats/token; the oracle's is its own NLL-oracle)")
        ax.set_ylabel("KL(G ‖ oracle) (nats/token: lower is better)")
        ax.set_title("Entropy and KL to the oracle, same temperatures")
        ax.legend(fontsize=8)
    atomic_save_figure(fig, path)
