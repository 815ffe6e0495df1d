from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents.compare import compare
from tests.conftest import tiny_run_config

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


def test_compare_bad_arguments(tmp_path):
    cfg = tiny_run_config(tmp_path / "unused")
    with pytest.raises(ValueError, match="--agents must be a non-empty subset"):
        compare(cfg, tmp_path / "a", agents=("a2c",))
    with pytest.raises(ValueError, match="--temperatures must be positive"):
        compare(cfg, tmp_path / "b", temperatures=(0.0,))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="already exists"):
        compare(cfg, tmp_path / "c")


def test_compare_script_subprocess_smoke(tmp_path):
    args = [sys.executable, str(ROOT / "train" / "compare.py"), "--out", str(tmp_path / "o"), "--seeds", "0",
            "--temperatures", "1.0", "--vocab-size", "50", "--seq-len", "5", "--n-train", "128", "--n-test", "32",
            "--mle-epochs", "1", "--gen-emb-dim", "8", "--gen-hidden-dim", "8", "--disc-emb-dim", "8",
            "--d-negatives", "64", "--d-pretrain-rounds", "1", "--adv-updates", "2", "--batch-size", "4",
            "--n-rollouts", "2", "--eval-samples", "64",
            "--no-progress", "--device", "cpu"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "| ppo (1 seeds) |" in out.stdout


def test_compare_on_text_uses_bleu_and_self_bleu(tmp_path):
    from tests.test_text import SENTENCES

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(SENTENCES * 2) + "\n", encoding="utf-8")
    cfg = tiny_run_config(tmp_path / "unused", data=str(corpus), seq_len=10, batch_size=4, mle_batch_size=4)
    result = compare(cfg, tmp_path / "cmp", seeds=(0,), temperatures=(1.0,))
    assert "BLEU-4 (final)" in result["table"]
    assert "self-BLEU-4 (final)" in result["table"]
    assert {"bleu4", "self_bleu4"} <= set(result["sweeps"]["MLE"][0])
    assert (tmp_path / "cmp" / "quality_diversity.png").is_file()


def test_time_to_quality_and_quality_diversity_scripts(tmp_path, capsys):
    from agents.pipeline import run
    from train import quality_diversity, time_to_quality

    run(tiny_run_config(tmp_path / "r"), "reinforce")
    out = time_to_quality.main([str(tmp_path / "r"), "--out", str(tmp_path / "t.png")])
    assert "| reinforce quick seed 0 |" in out["table"]
    assert "official code" in out["table"]
    assert (tmp_path / "t.png").is_file()
    pre = tmp_path / "r" / "checkpoints" / "pretrained.pt"
    argv = [f"MLE={pre}", f"RL={tmp_path / 'r'}", "--temperatures", "0.9", "1.0", "--samples", "64"]
    sweeps = quality_diversity.main([*argv, "--out", str(tmp_path / "q.png")])
    assert set(sweeps) == {"MLE", "RL"}
    assert (tmp_path / "q.png").is_file()
    with pytest.raises(SystemExit):
        time_to_quality.main([str(tmp_path / "missing")])
    assert "error:" in capsys.readouterr().err
