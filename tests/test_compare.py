from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents.config import replace
from agents.experiments.compare import compare
from tests.helpers import SENTENCES, tiny_run_config, tiny_run_flags

ROOT = Path(__file__).resolve().parents[1]


def test_compare_tiny_writes_table_and_plots(tmp_path):
    cfg = tiny_run_config(tmp_path / "unused")
    result = compare(cfg, tmp_path / "cmp", seeds=(0, 1), temperatures=(0.8, 1.0))
    out = tmp_path / "cmp"
    for name in ("compare.md", "compare.json", "compare_nll.png", "quality_diversity.png"):
        assert (out / name).is_file(), name
    table = (out / "compare.md").read_text()
    assert "| reinforce (2 seeds) |" in table
    assert "| ppo (2 seeds) |" in table
    assert "MLE (pretrained, shared)" in table
    data = json.loads((out / "compare.json").read_text())
    assert set(data["sweeps"]) == {"MLE", "reinforce", "ppo"}
    assert [p["temperature"] for p in data["sweeps"]["MLE"]] == [0.8, 1.0]
    # same budget: every run generated the same number of tokens
    tokens = {r["tokens"] for rs in result["runs"].values() for r in rs}
    assert len(tokens) == 1


def test_compare_on_the_perfect_reward_runs_the_reference_beside_both_agents(tmp_path):
    cfg = tiny_run_config(
        tmp_path / "unused",
        {"env.reward_source": "perfect", "reinforce.reward_mode": "shaped", "ppo.reward_mode": "shaped"},
    )
    result = compare(cfg, tmp_path / "cmp", seeds=(0,), temperatures=(1.0,))
    assert set(result["runs"]) == {"reinforce", "ppo", "reference"}
    assert "| reference | 1 |" in result["table"]
    assert {"entropy", "kl_oracle"} <= set(result["sweeps"]["reference"][0])
    assert len({r["tokens"] for rs in result["runs"].values() for r in rs}) == 1  # the same budget
    with pytest.raises(ValueError, match=r"--agents reference .* needs --env.reward-source perfect"):
        compare(tiny_run_config(tmp_path / "u2"), tmp_path / "cmp2", seeds=(0,), agents=("reference",))
    assert not (tmp_path / "cmp2").exists()


def test_compare_on_the_oracle_reward_every_agent_with_kl_entropy_and_gap_closed(tmp_path):
    cfg = tiny_run_config(tmp_path / "unused", {"env.reward_source": "oracle", "adv.ent_coef": 1.0,
                                                "reinforce.baseline": "mean"})  # fmt: skip
    agents = ("reinforce", "ppo", "a2c", "trpo", "reference")
    result = compare(cfg, tmp_path / "cmp", seeds=(0, 1), agents=agents, temperatures=(1.0,))
    out = tmp_path / "cmp"
    assert (out / "compare_kl.png").is_file()
    assert (out / "pretrain" / "checkpoints" / "pretrained.pt").is_file()
    table = result["table"]
    assert "| agent | seeds | KL(G‖O) | entropy | NLL-test | NLL-oracle | gap closed |" in table
    for agent in agents:
        assert f"| {agent} | 2 |" in table
    ref_row = next(line for line in table.splitlines() if line.startswith("| reference | 2 |"))
    assert " %" in ref_row  # the reference against its own mean curve
    assert len({r["tokens"] for rs in result["runs"].values() for r in rs}) == 1  # the same budget
    # a second comparison starts from the first one's pretraining (--pretrained), with no pretraining of its own
    again = compare(replace(cfg, {"pretrained": str(out / "pretrain")}), tmp_path / "cmp2", seeds=(0,),
                    agents=("reinforce",), temperatures=(1.0,))  # fmt: skip
    assert not (tmp_path / "cmp2" / "pretrain").exists()
    assert (
        again["runs"]["reinforce"][0]["rows"][0]["kl_oracle"] == result["runs"]["reinforce"][0]["rows"][0]["kl_oracle"]
    )


def test_compare_bad_arguments(tmp_path):
    cfg = tiny_run_config(tmp_path / "unused")
    with pytest.raises(ValueError, match="--agents must be a non-empty subset"):
        compare(cfg, tmp_path / "a", agents=("sac",))
    with pytest.raises(ValueError, match="--temperatures must be positive"):
        compare(cfg, tmp_path / "b", temperatures=(0.0,))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="already exists"):
        compare(cfg, tmp_path / "c")


def test_compare_script_subprocess_smoke(tmp_path):
    args = [
        sys.executable,
        str(ROOT / "train" / "compare.py"),
        "--out",
        str(tmp_path / "o"),
        "--seeds",
        "0",
        "--temperatures",
        "1.0",
        *tiny_run_flags({"adv.updates": 2}),
    ]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| ppo (1 seeds) |" in out.stdout


def test_compare_on_text_uses_bleu_and_self_bleu(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(SENTENCES * 2) + "\n", encoding="utf-8")
    cfg = tiny_run_config(
        tmp_path / "unused", {"task.data": str(corpus), "task.seq_len": 10, "env.num_envs": 4, "mle.batch_size": 4}
    )
    result = compare(cfg, tmp_path / "cmp", seeds=(0,), temperatures=(1.0,))
    assert result["table"].startswith("| generator | BLEU-4 | self-BLEU-4 | NLL-test |")  # a corpus of one's own
    assert "tuned MLE" not in result["table"]  # no validation split (--task.n-valid): no tuned MLE, never on test data
    assert "**reinforce**" in result["table"]  # samples of each generator
    assert {"bleu4", "self_bleu4"} <= set(result["sweeps"]["MLE"][0])
    assert (tmp_path / "cmp" / "quality_diversity.png").is_file()


def test_envelope_and_frontier_gap_by_hand():
    from agents.experiments.compare import envelope, frontier_gap

    a = [
        {"temperature": 1.0, "nll_test": 1.0, "nll_oracle": 5.0},
        {"temperature": 2.0, "nll_test": 3.0, "nll_oracle": 3.0},
    ]
    b = [
        {"temperature": 1.0, "nll_test": 2.0, "nll_oracle": 3.5},
        {"temperature": 2.0, "nll_test": 4.0, "nll_oracle": 3.5},
    ]
    assert envelope([a, b], 1.5) == pytest.approx(4.5)  # only a spans 1.5
    assert envelope([a, b], 2.0) == pytest.approx(3.5)  # a: 4.0, b: 3.5
    assert envelope([a, b], 9.0) is None
    run = [
        {"temperature": 1.0, "nll_test": 2.0, "nll_oracle": 3.0},
        {"temperature": 0.5, "nll_test": 9.0, "nll_oracle": 1.0},
    ]
    gap = frontier_gap(run, [a, b])
    assert gap["at_t1"] == pytest.approx(-0.5)  # 3.0 against the envelope's 3.5 at NLL-test 2.0
    assert gap["best"] == pytest.approx(-0.5)
    assert gap["best_temperature"] == 1.0  # the other point is less diverse than the whole frontier: not counted
    assert gap["at_t1_side"] is None
    beyond = frontier_gap([{"temperature": 1.0, "nll_test": 0.5, "nll_oracle": 4.0}], [a, b])
    assert beyond["at_t1"] == pytest.approx(-1.0)  # more diverse than every frontier point, 1.0 better than a's end
    assert beyond["at_t1_side"] == "more_diverse"
    assert beyond["best"] == pytest.approx(-1.0)
    worse = frontier_gap([{"temperature": 1.0, "nll_test": 9.0, "nll_oracle": 4.0}], [a, b])
    assert worse["at_t1"] == pytest.approx(0.5)  # less diverse than the frontier and worse than its end
    assert worse["at_t1_side"] == "less_diverse"
    assert worse["best"] is None


def test_time_to_quality_and_quality_diversity_scripts(tmp_path, capsys):
    from agents.run.pipeline import run
    from train import quality_diversity, time_to_quality

    run(tiny_run_config(tmp_path / "r", {"mle.keep_every": 1}))
    out = time_to_quality.main([str(tmp_path / "r"), "--out", str(tmp_path / "t.png")])
    assert "| reinforce quick seed 0 |" in out["table"]
    assert "official code" in out["table"]
    assert (tmp_path / "t.png").is_file()
    pre = tmp_path / "r" / "checkpoints" / "pretrained.pt"
    argv = [f"MLE={pre}", f"RL={tmp_path / 'r'}", "--temperatures", "0.9", "1.0", "--samples", "64"]
    result = quality_diversity.main([*argv, "--out", str(tmp_path / "q.png")])
    assert set(result["sweeps"]) == {"MLE", "RL"}
    assert (tmp_path / "q.png").is_file()
    result = quality_diversity.main([*argv, "--frontier", str(tmp_path / "r"), "--out", str(tmp_path / "f.png"),
                                     "--json", str(tmp_path / "f.json")])  # fmt: skip
    assert set(result["frontier"]) == {"mle_epoch001", "mle_epoch002"}  # the kept MLE epochs
    assert set(result["gaps"]) == {"MLE", "RL"}
    assert json.loads((tmp_path / "f.json").read_text())["gaps"] == result["gaps"]
    # the final MLE checkpoint (epoch 2) is one of the frontier's curves: it cannot lie above its envelope
    assert result["gaps"]["MLE"]["at_t1"] <= 1e-9
    with pytest.raises(SystemExit):
        time_to_quality.main([str(tmp_path / "missing")])
    assert "error:" in capsys.readouterr().err


def test_compare_on_poems_reports_the_papers_metric_tuned_mle_and_samples(tmp_path, monkeypatch):
    import random

    import torch

    from agents.experiments.compare import tuned_mle
    from agents.run.task import build_task

    rng = random.Random(0)  # a fortunes-zh-format fixture written by this project: 40 poems of 4 five-character lines
    chars = "山水风月花春秋云雨雪江河天地人心夜日长空"
    poems = []
    for i in range(40):
        lines = ["".join(rng.choice(chars) for _ in range(5)) for _ in range(4)]
        poems.append(
            f"\x1b[32m《题{i}》\x1b[m\n\x1b[33m作者：某\x1b[m\n{lines[0]}，{lines[1]}。\n{lines[2]}，{lines[3]}。\n"
        )
    (tmp_path / "tang300").write_text("%\n".join(poems), encoding="utf-8")
    monkeypatch.setenv("SEQGAN_FORTUNES_DIR", str(tmp_path))
    cfg = tiny_run_config(
        tmp_path / "unused",
        {
            "task.data": "poems:tang300",
            "task.text_level": "char",
            "task.n_valid": 20,
            "mle.keep_every": 1,
            "mle.epochs": 3,
            "mle.batch_size": 16,
        },
    )
    result = compare(cfg, tmp_path / "cmp", seeds=(0, 1), temperatures=(0.8, 1.0, 1.2))
    table = result["table"]
    assert table.startswith("| generator | BLEU-2 | self-BLEU-2 | NLL-test |")  # the paper's poem metric
    assert "| paper: SeqGAN | 0.7389 |" in table
    tuned = result["tuned_mle"]
    assert tuned["epochs_kept"] == [1, 2, 3]
    assert 0.1 <= tuned["temperature"] <= 3.0
    reinforce_self_bleu = sum(r["rows"][-1]["self_bleu2"] for r in result["runs"]["reinforce"]) / 2
    if 0.1 < tuned["temperature"] < 3.0:  # matched REINFORCE's diversity (bisection to ~1e-3 in log T)
        assert tuned["self_bleu2"] == pytest.approx(reinforce_self_bleu, abs=0.05)
    assert "| reinforce (2 seeds) |" in table
    assert "**tuned MLE (epoch" in table  # its samples
    # the epoch is the one with the lowest validation NLL, whatever the test set says
    task = build_task(replace(cfg, {"task.data_seed": cfg.seed}), torch.device("cpu"))
    again = tuned_mle(tmp_path / "cmp" / "pretrain", cfg, task, torch.device("cpu"), None, 2)
    assert again["epoch"] == tuned["epoch"]
    assert again["temperature"] == 1.0  # no diversity target: T = 1
    with pytest.raises(ValueError, match="--task.n-valid"):
        tuned_mle(
            tmp_path / "cmp" / "pretrain", cfg, dataclasses.replace(task, valid=None), torch.device("cpu"), None, 2
        )
