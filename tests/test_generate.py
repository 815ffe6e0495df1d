"""Sampling from a trained run: train/generate.py and seqgan_env.load_generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from agents.run.pipeline import run
from seqgan_env import load_generator
from tests.helpers import tiny_run_config
from train import generate


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "r"
    run(tiny_run_config(path, {"adv.updates": 2}))
    return path


def test_load_generator_returns_the_runs_final_generator(oracle_run):
    from agents.run.checkpoint import load_checkpoint

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


def test_generate_bad_outputs_and_checkpoints_are_one_line_and_a_closed_pipe_is_quiet(tmp_path):
    """--out onto a directory or into a missing one, a zero-byte or malformed checkpoint: one line each, exit 2, no
    traceback; `| head` ends quietly (exit 0, nothing on stderr)."""
    import subprocess
    import sys

    import torch

    from agents.run.checkpoint import save_checkpoint
    from agents.run.pipeline import run
    from seqgan_env import load_generator
    from tests.helpers import tiny_run_config

    run(tiny_run_config(tmp_path / "r", {"adv.updates": 0}))
    script = [sys.executable, "train/generate.py"]
    root = Path(__file__).resolve().parents[1]

    def call(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*script, *argv], cwd=root, capture_output=True, text=True, timeout=300)

    for argv, message in [
        ([str(tmp_path / "r"), "--out", str(tmp_path)], "is a directory"),
        ([str(tmp_path / "r"), "--out", str(tmp_path / "nowhere" / "x.txt")], "no such directory"),
    ]:
        out = call(*argv)
        assert out.returncode == 2, out.stderr
        assert message in out.stderr
        assert "Traceback" not in out.stderr
    zero = tmp_path / "zero" / "checkpoints"
    zero.mkdir(parents=True)
    (zero / "latest.pt").write_bytes(b"")
    out = call(str(tmp_path / "zero"))
    assert out.returncode == 2
    assert "the file is empty" in out.stderr
    bad = tmp_path / "bad" / "checkpoints"
    bad.mkdir(parents=True)
    save_checkpoint(bad / "latest.pt", {"generator": torch.zeros(3), "config": "a string"})
    out = call(str(tmp_path / "bad"))
    assert "generator or config is malformed" in out.stderr
    assert "Traceback" not in out.stderr
    with pytest.raises(TypeError, match="run_dir must be a path"):
        load_generator(None)  # type: ignore[arg-type]
    pipe = subprocess.run(f"{sys.executable} train/generate.py {tmp_path / 'r'} --n 20000 | head -2", shell=True,
                          cwd=root, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert len(pipe.stdout.splitlines()) == 2
    assert pipe.stderr == ""
    big = call(str(tmp_path / "r"), "--n", "3", "--out", str(tmp_path / "s.txt"))
    assert big.returncode == 0
    assert len((tmp_path / "s.txt").read_text().splitlines()) == 3
    assert not list(tmp_path.glob(".s.txt.tmp*"))


def test_generate_writes_midi_for_a_music_run_and_refuses_other_runs(oracle_run, tmp_path, capsys):
    """A music run's samples (pitch tokens) become one MIDI file; ``--midi`` on another run is one clear error."""
    music21 = pytest.importorskip("music21", reason="the music extra is not installed (pip install -e '.[music]')")
    import json

    from agents.run.checkpoint import save_checkpoint
    from seqgan_env.generator import Generator, GeneratorConfig

    run_dir = tmp_path / "music"
    (run_dir / "checkpoints").mkdir(parents=True)
    tokens = ["<pad>", "<eos>", "<unk>", "rest", "p60", "p62", "p64", "p67"]
    gen = Generator(GeneratorConfig(vocab_size=len(tokens), seq_len=33, emb_dim=4, hidden_dim=4, eos_token=1,
                                    pad_token=0))  # fmt: skip
    config = {"task": {"data": "music:folk", "seq_len": 33, "text_level": "word"}}
    (run_dir / "config.json").write_text(json.dumps(config))
    save_checkpoint(run_dir / "checkpoints" / "latest.pt", {"generator": gen.state_dict(), "config": config,
                                                             "vocab": tokens})  # fmt: skip
    out = tmp_path / "tunes.mid"
    assert generate.main([str(run_dir), "--n", "3", "--midi", str(out)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # the text still goes to stdout
    notes = music21.converter.parse(str(out)).flatten().notes
    assert len(notes) > 0
    assert {n.pitch.midi for n in notes} <= {60, 62, 64, 67}
    with pytest.raises(SystemExit):
        generate.main([str(oracle_run), "--midi", str(tmp_path / "x.mid")])
    assert "is not a music run" in capsys.readouterr().err
    assert not (tmp_path / "x.mid").exists()


def test_generate_refuses_more_samples_than_the_disk_holds_before_writing(oracle_run, tmp_path, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 0, 10**6))  # 1 MB free
    with pytest.raises(SystemExit):
        generate.main([str(oracle_run), "--n", "1000000000000", "--out", str(tmp_path / "big.txt")])
    assert "would write about" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file
    assert generate.main([str(oracle_run), "--n", "10", "--out", str(tmp_path / "small.txt")]) == 0
