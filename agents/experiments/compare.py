"""PPO vs REINFORCE from the same pretrained G and D, on the same token budget and D schedule, over seeds;
a Markdown table, a learning-curve plot and a quality–diversity (temperature sweep) plot."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import torch

from agents.config import AGENTS, SeqGANConfig, agent_config, check_agent, replace, to_dict
from agents.run.checkpoint import atomic_save_figure, atomic_write_json, atomic_write_text, load_checkpoint
from agents.run.pipeline import run
from agents.run.rundir import Phase, RunDir
from agents.run.task import (
    ORACLE_AXES,
    PAPER_REAL_DATA,
    Axes,
    Task,
    build_task,
    data_seed,
    make_generator,
    task_family,
    text_axes,
    text_metrics,
)
from seqgan_env.benchmark import gap_closed
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.metrics import nll_test, oracle_metrics
from seqgan_env.rewards import SOURCES

DEFAULT_TEMPERATURES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5)


def _mean_std(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) < 2:  # one seed: no spread to show
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         12: 2.179, 15: 2.131, 20: 2.086, 30: 2.042}  # fmt: skip
"""Student's t quantile t_{0.975, df}, for 95 % confidence intervals of a mean over seeds."""


def t_quantile(df: int) -> float:
    """t_{0.975, df} (the nearest tabulated df at or below ``df``; 1.96 beyond 30)."""
    if df > 30:
        return 1.96
    return _T975[max(k for k in _T975 if k <= df)]


def mean_ci(values: list[float]) -> tuple[float, float]:
    """The mean of ``values`` and the half-width of its 95 % confidence interval (Student's t over the ``n`` values;
    0 for a single value, which has no interval)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def _ci(values: list[float], digits: int = 3) -> str:
    """``mean ± 95 % CI half-width`` (``mean`` alone for one value: no interval)."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "–"
    mean, half = mean_ci(values)
    return f"{mean:.{digits}f}" if len(values) < 2 else f"{mean:.{digits}f} ± {half:.{digits}f}"


def reference_curve(runs: list[dict[str, Any]]) -> dict[int, float]:
    """The exact reference's mean KL(G ‖ O) over seeds at each evaluated token count."""
    by_tokens: dict[int, list[float]] = {}
    for r in runs:
        for row in r["rows"]:
            by_tokens.setdefault(row["timesteps"], []).append(row["kl_oracle"])
    return {t: statistics.mean(v) for t, v in sorted(by_tokens.items())}


def gap_closed_curve(run: dict[str, Any], kl_start: float, ref: dict[int, float]) -> dict[int, float]:
    """One run's gap closed at each of its evaluations where the reference was evaluated at the same tokens."""
    return {row["timesteps"]: gap_closed(kl_start, row["kl_oracle"], ref[row["timesteps"]])
            for row in run["rows"] if row["timesteps"] in ref and row["timesteps"] > 0
            and ref[row["timesteps"]] != kl_start}  # fmt: skip


def adversarial_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The adversarial-phase evaluations of a run directory."""
    return RunDir(run_dir).rows(Phase.ADVERSARIAL)


def run_generator(run_dir: Path, cfg: SeqGANConfig, task: Task, device: torch.device) -> Generator:
    """The generator saved in a run directory's ``latest.pt``."""
    return make_generator(cfg, task, load_checkpoint(RunDir(run_dir).latest)["generator"], device)


def paper_metrics(source: str | None) -> list[str]:
    """The metrics the paper reports for the task (BLEU-4 for a corpus of your own)."""
    family = task_family(source)
    return list(PAPER_REAL_DATA[family]) if family else ["bleu4"]


def matching_self_bleu_temperature(
    task: Task, gen: Generator, n_samples: int, seed: int, n: int, target: float, lo: float = 0.1, hi: float = 3.0
) -> float:
    """The softmax temperature in [``lo``, ``hi``] at which ``gen``'s samples have self-BLEU-``n`` ``target``, by
    bisection on log T (self-BLEU falls as T rises); an end of the range when the target lies beyond it. Reads samples
    only: no reference data."""

    def self_bleu_at(t: float) -> float:
        return text_metrics(task, gen, n_samples, seed, t)[f"self_bleu{n}"]

    if self_bleu_at(hi) >= target:
        return hi
    if self_bleu_at(lo) <= target:
        return lo
    for _ in range(12):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if self_bleu_at(mid) > target else (lo, mid)
    return round(math.sqrt(lo * hi), 3)


def tuned_mle(
    pre_dir: Path,
    cfg: SeqGANConfig,
    task: Task,
    device: torch.device,
    target_self_bleu: float | None,
    n: int,
) -> dict[str, Any]:
    """Tuned MLE on real data (Caccia et al., 2018), chosen without the test set: the kept MLE checkpoint
    (``--mle.keep-every``, plus the final one) with the lowest NLL on the validation split (early stopping), sampled
    at the temperature whose self-BLEU-``n`` is ``target_self_bleu`` (a SeqGAN run's: the same diversity; self-BLEU
    reads samples only; :func:`matching_self_bleu_temperature`), or at T = 1 without a target. Returns the choice and
    the test metrics."""
    if task.valid is None:
        raise ValueError("tuned MLE needs a validation split: pass --task.n-valid N")
    run_dir = RunDir(pre_dir)
    candidates = [(e, run_dir.mle_epoch_path(e)) for e in run_dir.kept_mle_epochs() if e != cfg.mle.epochs]
    candidates.append((cfg.mle.epochs, run_dir.pretrained))
    best: tuple[float, int, Generator] | None = None
    for epoch, path in candidates:
        gen = make_generator(cfg, task, load_checkpoint(path)["generator"], device)
        nll_valid = nll_test(gen, task.valid)
        if best is None or nll_valid < best[0]:
            best = (nll_valid, epoch, gen)
    assert best is not None
    nll_valid, epoch, gen = best
    n_samples = min(cfg.eval.samples, 1000)
    temperature = 1.0
    if target_self_bleu is not None:
        temperature = matching_self_bleu_temperature(task, gen, n_samples, cfg.seed, n, target_self_bleu)
    metrics = text_metrics(task, gen, n_samples, cfg.seed, temperature)
    return {"epoch": epoch, "epochs_kept": [e for e, _ in candidates], "nll_valid": nll_valid,
            "temperature": temperature, "nll_test": nll_test(gen, task.test, temperature=temperature), **metrics,
            "generator": gen}  # fmt: skip


def temperature_sweep(
    task: Task, gen: Generator, temperatures: tuple[float, ...], n_samples: int, seed: int
) -> list[dict[str, float]]:
    """Quality and diversity of ``gen`` at each softmax temperature (Caccia et al., 2018): NLL-oracle and
    NLL-test (with G's entropy and KL(G ‖ oracle), see :func:`~seqgan_env.metrics.oracle_metrics`) on the oracle
    task; on text BLEU-2…4 against the test sentences, self-BLEU-2…4 (and the music MSE; ``text_metrics``)."""
    points = []
    for t in temperatures:
        point = {"temperature": t, "nll_test": nll_test(gen, task.test, temperature=t)}
        if task.oracle is not None:
            point.update(oracle_metrics(task.oracle, gen, n_samples, temperature=t, seed=seed))
        else:
            point.update(text_metrics(task, gen, min(n_samples, 1000), seed, t))
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
    sweep. A point whose diversity lies outside the frontier's range is measured against the frontier point nearest
    in diversity, and ``*_side`` says which side (``"more_diverse"``, ``"less_diverse"``; None inside): more diverse
    than the whole frontier with a negative gap, it dominates the frontier's end by that much. ``best`` is chosen
    among the points inside the range or on its more diverse side. None only for an empty frontier."""
    sign = 1.0 if axes.lower_is_better else -1.0
    ends = [p for pts in frontier for p in pts]

    def side(p: dict[str, float]) -> str | None:
        """None inside the frontier's diversity range; else which side of it (lower diversity metric = better)."""
        if envelope(frontier, p[axes.diversity], axes) is not None or not ends:
            return None
        return "more_diverse" if p[axes.diversity] < min(f[axes.diversity] for f in ends) else "less_diverse"

    def gap(p: dict[str, float]) -> float | None:
        y = envelope(frontier, p[axes.diversity], axes)
        if y is not None:
            return sign * (p[axes.quality] - y)
        if not ends:
            return None
        # outside the frontier's range: the signed quality distance to the frontier's end nearest in diversity
        near = min(ends, key=lambda f: abs(f[axes.diversity] - p[axes.diversity]))
        return sign * (p[axes.quality] - near[axes.quality])

    # a point more diverse than the whole frontier and better in quality than its end dominates it: it counts
    # (negative gap = "dominates by"); a less diverse one is compared only inside the range
    gaps = [(g, p) for p in points if (g := gap(p)) is not None and side(p) != "less_diverse"]
    at_one = next((p for p in points if p["temperature"] == 1.0), None)
    best = min(gaps, key=lambda gp: gp[0]) if gaps else (None, {})
    return {
        "at_t1": gap(at_one) if at_one else None,
        "best": best[0],
        "best_temperature": best[1].get("temperature"),
        "at_t1_side": side(at_one) if at_one else None,
        "best_side": side(best[1]) if best[1] else None,
    }


def compare(
    cfg: SeqGANConfig,
    out: str | Path,
    seeds: tuple[int, ...] = (0, 1, 2),
    agents: tuple[str, ...] | None = None,
    temperatures: tuple[float, ...] = DEFAULT_TEMPERATURES,
) -> dict[str, Any]:
    """Pretrain once, run every agent × seed from the pretrained G/D, and write table, plots and JSON. ``agents``
    defaults to REINFORCE and PPO, plus the reference trainer on the oracle task's rewards (``--env.reward-source
    perfect`` or ``oracle``). With ``cfg.pretrained`` every run starts from that run directory's pretraining (e.g. the
    benchmark's early-stopped MLE checkpoint) and none is run here."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"output directory {out} already exists and is not empty")
    if not seeds:
        raise ValueError("--seeds must name at least one seed")
    oracle_reward = SOURCES[cfg.env.reward_source].needs_oracle
    agents = _agents(cfg, agents)
    if not temperatures or any(t <= 0 for t in temperatures):
        raise ValueError(f"--temperatures must be positive numbers, got {list(temperatures)}")
    for agent in agents:  # every agent's own flags and combinations, before any work
        check_agent(agent_config(cfg, agent))
    base = replace(cfg, {"task.data_seed": data_seed(cfg)})
    pre_dir = _pretraining(base, out)
    runs: dict[str, list[dict[str, Any]]] = {a: [] for a in agents}
    for agent in agents:
        for seed in seeds:
            run_dir = out / f"{agent}_seed{seed}"
            own = replace(base, {"seed": seed, "run_dir": str(run_dir), "pretrained": str(pre_dir), "resume": None})
            summary = run(agent_config(own, agent))
            rows = adversarial_rows(run_dir)
            wall = rows[-1]["wall_s"] - rows[0]["wall_s"]
            tokens = rows[-1]["timesteps"]
            record = {"seed": seed, "run_dir": str(run_dir), "summary": summary, "rows": rows, "adv_wall_s": wall}
            record.update(tokens=tokens, tokens_per_s=tokens / max(wall, 1e-9))
            runs[agent].append(record)

    device = resolve_device(cfg.device)
    task = build_task(base, device)
    sweeps: dict[str, list[dict[str, float]]] = {}
    axes = ORACLE_AXES if task.oracle is not None else text_axes(cfg.task.data)
    generators = {"MLE": run_generator(pre_dir, base, task, device)}
    generators.update({agent: run_generator(Path(runs[agent][0]["run_dir"]), base, task, device) for agent in agents})
    for name, gen in generators.items():
        sweeps[name] = temperature_sweep(task, gen, temperatures, cfg.eval.samples, cfg.seed)

    mle = RunDir(pre_dir).rows(Phase.MLE)[-1]
    tuned = None
    if task.corpus is None and oracle_reward:
        floor = oracle_metrics(task.oracle, task.oracle, cfg.eval.samples, seed=cfg.seed)["entropy"]
        table = oracle_table(runs, seeds, entropy_floor=floor)
    elif task.corpus is None:
        table = _table(runs, mle, seeds, axes)
    else:
        n = int(axes.quality.removeprefix("bleu"))
        target = (
            statistics.mean(r["rows"][-1][f"self_bleu{n}"] for r in runs["reinforce"]) if "reinforce" in runs else None
        )
        if task.valid is not None:
            tuned = tuned_mle(pre_dir, base, task, device, target, n)
            generators[f"tuned MLE (epoch {tuned['epoch']}, T = {tuned['temperature']:g})"] = tuned.pop("generator")
        table = _text_table(runs, mle, tuned, seeds, cfg.task.data, n)
        at = {name: tuned["temperature"] if tuned and name.startswith("tuned MLE") else 1.0 for name in generators}
        table += "\n" + _samples(task, generators, at, cfg.seed)
        if task_family(cfg.task.data) == "music":
            _write_midi(task, generators, at, out, cfg.seed)
    result = {"config": to_dict(base), "seeds": list(seeds), "mle": mle, "runs": runs, "sweeps": sweeps,
              "tuned_mle": tuned, "table": table}  # fmt: skip
    atomic_write_json(out / "compare.json", result)
    atomic_write_text(out / "compare.md", table)
    _plot_curves(runs, mle, out / "compare_nll.png", axes)
    if task.oracle is not None:
        plot_kl(runs, out / "compare_kl.png")
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


def _agents(cfg: SeqGANConfig, agents: tuple[str, ...] | None) -> tuple[str, ...]:
    """The agents to run (default: REINFORCE and PPO, plus the reference on the oracle task's rewards), checked."""
    oracle_reward = SOURCES[cfg.env.reward_source].needs_oracle
    if agents is None:  # on the oracle task's rewards, the exact per-step reference trainer runs beside the agents
        agents = ("reinforce", "ppo", "reference") if oracle_reward else ("reinforce", "ppo")
    unknown = [a for a in agents if a not in AGENTS]
    if unknown or not agents:
        raise ValueError(f"--agents must be a non-empty subset of {list(AGENTS)}, got {list(agents)}")
    if "reference" in agents and not oracle_reward:
        raise ValueError(
            "--agents reference (the exact per-step yardstick) needs --env.reward-source perfect or oracle"
        )
    return agents


def _pretraining(base: SeqGANConfig, out: Path) -> Path:
    """The run directory every agent starts from: ``--pretrained`` when given, else a pretraining run made here."""
    if base.pretrained:
        pre_dir = Path(base.pretrained)
        if not RunDir(pre_dir).pretrained.is_file():
            raise FileNotFoundError(f"--pretrained {pre_dir}: no checkpoints/pretrained.pt there")
        return pre_dir
    pre_dir = RunDir(out).pretrain_dir
    pre_cfg = replace(base, {"adv.updates": 0, "run_dir": str(pre_dir), "resume": None, "pretrained": None})
    run(agent_config(pre_cfg, "reinforce"))
    return pre_dir


def oracle_table(
    runs: dict[str, list[dict[str, Any]]], seeds: tuple[int, ...], entropy_floor: float | None = None
) -> str:
    """The oracle benchmark's table: KL(G ‖ O), entropy, NLL-test and NLL-oracle at T = 1 after the budget, and the
    gap closed to the exact reference at equal tokens, each mean ± 95 % CI over seeds. With ``entropy_floor`` (the
    oracle's own entropy) a run that ends below it is counted as collapsed, and its agent's gap is marked: reverse KL
    rewards a generator that concentrates on the oracle's likeliest sequences (a point mass on the mode has a KL of
    −log p_O(mode) / T), so a gap beyond 100 % with the entropy gone is a collapse, not a better generator."""
    ref = reference_curve(runs["reference"]) if "reference" in runs else None
    # every run starts from the same G: its KL, estimated on each run's own evaluation samples, averaged over all
    kl_start = statistics.mean(r["rows"][0]["kl_oracle"] for rs in runs.values() for r in rs)
    head = ("| agent | seeds | KL(G‖O) | entropy | NLL-test | NLL-oracle | gap closed | tokens | tokens/s |",
            "|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    first = runs[next(iter(runs))][0]["rows"][0]
    lines = [*head, f"| start (update 0) | – | {kl_start:.3f} | {first['entropy']:.3f} | "
             f"{first['nll_test']:.3f} | {first['nll_oracle']:.3f} | 0 | 0 | – |"]  # fmt: skip
    for agent, rs in runs.items():
        final = [r["rows"][-1] for r in rs]
        cells = [_ci([f[k] for f in final]) for k in ("kl_oracle", "entropy", "nll_test", "nll_oracle")]
        gaps = []
        if ref is not None:
            for r in rs:
                curve = gap_closed_curve(r, kl_start, ref)
                if curve:
                    gaps.append(curve[max(curve)])
        gap = _ci([100 * g for g in gaps], 0) + " %" if gaps else "–"
        if entropy_floor is not None:
            collapsed = sum(f["entropy"] < entropy_floor for f in final)
            gap += f" (collapsed: {collapsed}/{len(rs)})" if collapsed else ""
        tps = statistics.mean(r["tokens_per_s"] for r in rs)
        lines.append(f"| {agent} | {len(rs)} | " + " | ".join(cells) + f" | {gap} | {rs[0]['tokens']} | {tps:.0f} |")
    lines.append("")
    lines.append(
        f"Mean ± 95 % CI (Student's t) over the row's seeds (of {list(seeds)}; one seed: no interval), at T = 1 after "
        "the same number of generated tokens, "
        "all from the same pretrained G. KL(G‖O) and entropy are per token (nats), on the evaluation's samples. Gap "
        "closed = (KL_start − KL_agent) / (KL_start − KL_reference) at equal tokens, against the exact reference's "
        "mean curve over its seeds (100 % = as far as the reference; KL_start: the mean over every run's update-0 "
        "evaluation). tokens/s: the adversarial phase end to end, evaluations included."
        + (
            f" Collapsed: a run whose final entropy is below the oracle's own ({entropy_floor:.3f})."
            if entropy_floor is not None
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def plot_kl(runs: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """KL(G ‖ oracle) against generated tokens for each agent: the mean over seeds with its 95 % CI band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = plt.get_cmap("tab20").colors  # one colour per agent
    for i, (agent, rs) in enumerate(runs.items()):
        xs = np.array([r["timesteps"] for r in rs[0]["rows"]])
        ys = np.array([[r["kl_oracle"] for r in x["rows"]] for x in rs])
        stats = [mean_ci(list(col)) for col in ys.T]
        mean, half = np.array([m for m, _ in stats]), np.array([h for _, h in stats])
        color = colors[(2 * i) % 20 + (2 * i) // 20 % 2]
        ax.plot(xs, mean, marker=".", color=color, label=f"{agent} ({len(rs)} seed{'s' if len(rs) > 1 else ''})")
        if len(rs) > 1:
            ax.fill_between(xs, mean - half, mean + half, alpha=0.2, color=color)
    ax.set_xlabel("generated tokens")
    ax.set_ylabel("KL(G ‖ oracle), nats/token (lower is better)")
    ax.set_title("Distance to the oracle (mean; band: 95 % CI over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    atomic_save_figure(fig, path)


def _text_table(
    runs: dict[str, list[dict[str, Any]]],
    mle: dict[str, Any],
    tuned: dict[str, Any] | None,
    seeds: tuple[int, ...],
    source: str | None,
    n: int,
) -> str:
    """The real-data table: the paper's metrics, self-BLEU-``n`` (diversity) and NLL-test for MLE, tuned MLE and each
    agent (mean ± std over seeds), beside the paper's MLE and SeqGAN."""
    metrics = paper_metrics(source)
    cols = [*metrics, f"self_bleu{n}", "nll_test"]
    label = {"nll_test": "NLL-test", "mse": "MSE", **{f"bleu{k}": f"BLEU-{k}" for k in (2, 3, 4)},
             **{f"self_bleu{k}": f"self-BLEU-{k}" for k in (2, 3, 4)}}  # fmt: skip
    lines = ["| generator | " + " | ".join(label[c] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines.append("| MLE (pretrained, shared) | " + " | ".join(f"{mle[c]:.3f}" for c in cols) + " |")
    if tuned is not None:
        name = f"tuned MLE (epoch {tuned['epoch']} by NLL-valid, T = {tuned['temperature']:g})"
        lines.append(f"| {name} | " + " | ".join(f"{tuned[c]:.3f}" for c in cols) + " |")
    for agent, rs in runs.items():
        cells = [_mean_std([r["rows"][-1][c] for r in rs]) for c in cols]
        lines.append(f"| {agent} ({len(rs)} seeds) | " + " | ".join(cells) + " |")
    family = task_family(source)
    if family:
        paper = PAPER_REAL_DATA[family]
        for i, who in enumerate(("MLE", "SeqGAN")):
            lines.append(
                f"| paper: {who} | " + " | ".join(f"{paper[c][i]:g}" if c in paper else "–" for c in cols) + " |"
            )
    lines.append("")
    lines.append(
        f"Mean ± sample std over seeds {list(seeds)}; BLEU against the test split (the paper's protocol), self-BLEU "
        "among the same samples (higher = less diverse). Tuned MLE is chosen without the test set: the kept MLE epoch "
        "with the lowest validation NLL, at the temperature whose self-BLEU matches REINFORCE's (equal diversity)."
    )
    return "\n".join(lines) + "\n"


def _sample_rows(gen: Generator, n: int, seed: int, temperature: float) -> torch.Tensor:
    rng = torch.Generator(device=gen.device).manual_seed(seed)
    return gen.sample(n, temperature=temperature, generator=rng).cpu()


def _samples(
    task: Task, generators: dict[str, Generator], temperatures: dict[str, float], seed: int, n: int = 10
) -> str:
    """``n`` samples of each generator (the first seed's run for the agents) at its temperature, as Markdown."""
    assert task.corpus is not None
    out = []
    for name, gen in generators.items():
        out.append(f"**{name}**\n")
        out.extend(f"    {line}" for line in task.corpus.decode(_sample_rows(gen, n, seed, temperatures[name])))
        out.append("")
    return "\n".join(out) + "\n"


def _write_midi(
    task: Task, generators: dict[str, Generator], temperatures: dict[str, float], out: Path, seed: int
) -> None:
    """Four samples of each generator at its temperature as ``OUT/samples_<name>.mid`` (music task)."""
    from seqgan_env.music import write_midi

    assert task.corpus is not None
    for name, gen in generators.items():
        rows = [line.split() for line in task.corpus.decode(_sample_rows(gen, 4, seed, temperatures[name]))]
        slug = name.split(" (")[0].replace(" ", "_")
        write_midi(rows, out / f"samples_{slug}.mid")


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
        label = f"{agent} (mean of {len(rs)} seeds)" if len(rs) > 1 else f"{agent} (1 seed)"
        ax.plot(xs, mean, marker=".", label=label)
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
