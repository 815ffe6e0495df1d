"""Sampling from a trained run: train/generate.py and seqgan_env.load_generator."""

from __future__ import annotations

import pytest
import torch

from agents.pipeline import run
from seqgan_env import load_generator
from tests.helpers import tiny_run_config
from train import generate


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "r"
    run(tiny_run_config(path, {"adv.updates": 2}))
    return path


def test_load_generator_returns_the_runs_final_generator(oracle_run):
    from agents.checkpoint import load_checkpoint

    gen, vocab = load_generator(oracle_run)
    assert vocab is None  # oracle task: token ids
    want = load_checkpoint(oracle_run / "checkpoints" / "latest.pt")["generator"]
    for k, v in gen.state_dict().items():
        torch.testing.assert_close(v, want[k])
    pre, _ = load_generator(oracle_run, "pretrained")
    assert not torch.equal(pre.proj.weight, gen.proj.weight)  # the adversarial phase moved it


def test_generate_prints_token_ids_and_writes_a_file(oracle_run, tmp_path, capsys):
    assert generate.main([str(oracle_run), "--n", "5", "--temperature", "0.8"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    assert all(len(line.split()) == 6 for line in lines)  # seq_len 6
    generate.main([str(oracle_run), "--n", "300", "--out", str(tmp_path / "s.txt"), "--seed", "3"])
    again = list(generate.generate(str(oracle_run), 300, seed=3))
    assert (tmp_path / "s.txt").read_text().splitlines() == again  # seeded: the same samples


def test_generate_decodes_a_text_run(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat down\nthe dog ran off\na bird sang loud\n" * 30)
    run(tiny_run_config(tmp_path / "t", {"task.data": str(corpus), "task.seq_len": 8, "adv.updates": 1}))
    gen, vocab = load_generator(tmp_path / "t")
    assert vocab is not None
    assert gen.config.eos_token == vocab.eos_id
    generate.main([str(tmp_path / "t"), "--n", "4"])
    words = set(capsys.readouterr().out.split())
    assert words <= {"the", "cat", "sat", "down", "dog", "ran", "off", "a", "bird", "sang", "loud", "<unk>"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--n", "0"], "--n must be a positive integer"), (["--temperature", "0"], "--temperature must be"),
     (["--temperature", "-1"], "--temperature must be")],
)  # fmt: skip
def test_generate_bad_input_is_one_line(oracle_run, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        generate.main([str(oracle_run), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_generate_missing_run_or_checkpoint_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        generate.main([str(tmp_path / "nope")])
    assert "run directory not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        generate.main([str(tmp_path / "empty")])
    assert "has no latest checkpoint" in capsys.readouterr().err
