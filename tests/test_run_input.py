"""The runs and their command line: every flag checked before work starts, nothing silently ignored, one process
per run directory, OS errors and a full disk as one line."""

from __future__ import annotations

import pytest
import torch

from agents.cli import parse_args
from agents.run.pipeline import run
from agents.run.rundir import RunDir
from tests.helpers import tiny_run_config, tiny_run_flags


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--reinforce.lr", "nan"], "--reinforce.lr must be a finite number, got nan"),
        (["--adv.ent-coef", "nan"], "--adv.ent-coef must be a finite number"),
        (["--adv.max-grad-norm", "nan"], "--adv.max-grad-norm must be a finite number"),
        (["--reinforce.kl-coef", "inf"], "--reinforce.kl-coef must be a finite number, got inf"),
        (["--seed", "-1"], r"--seed must be an integer in \[0, 2\*\*63\), got -1"),
        (["--ppo.target-kl", "-1"], "--ppo.target-kl must be > 0"),
        (["--disc.prefix-dropout", "1.0"], r"--disc.prefix-dropout must be in \[0, 1\), got 1.0"),
        (["--disc.prefix-dropout", "-0.1"], r"--disc.prefix-dropout must be in \[0, 1\), got -0.1"),
    ],
)
def test_bad_numbers_are_one_cli_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err


@pytest.mark.parametrize(
    ("agent", "overrides", "flag"),
    [
        ("ppo", {"reinforce.kl_coef": 0.1}, "--reinforce.kl-coef"),
        ("ppo", {"reinforce.baseline": "mean"}, "--reinforce.baseline"),
        ("reinforce", {"ppo.clip_range": 0.1}, "--ppo.clip-range"),
        ("reinforce", {"ppo.lr": 0.01}, "--ppo.lr"),
    ],
)
def test_another_agents_flag_is_refused_before_any_work(tmp_path, agent, overrides, flag):
    with pytest.raises(ValueError, match=f"{flag}: not used by this {agent} run"):
        run(tiny_run_config(tmp_path / "r", {**overrides}, agent=agent))
    assert not (tmp_path / "r").exists()  # nothing was written


def test_resume_refuses_another_agents_run(tmp_path):
    run(tiny_run_config(tmp_path / "r", {"adv.updates": 2}))
    with pytest.raises(ValueError, match=r"it is a reinforce run; continue it with train/reinforce\.py"):
        run(tiny_run_config(tmp_path / "r", {"adv.updates": 4}, resume=str(tmp_path / "r"), agent="ppo"))


def test_a_second_process_on_the_same_run_directory_gets_one_clear_error(tmp_path):
    run(tiny_run_config(tmp_path / "r", {"adv.updates": 2}))
    held = RunDir(tmp_path / "r")
    held.lock()  # another open file description: flock treats it as another process
    try:
        with pytest.raises(FileExistsError, match="is in use by process"):
            run(tiny_run_config(tmp_path / "r", {"adv.updates": 4}, resume=str(tmp_path / "r")))
    finally:
        held.unlock()
    summary = run(tiny_run_config(tmp_path / "r", {"adv.updates": 4}, resume=str(tmp_path / "r")))
    assert summary["final_nll_oracle"] > 0  # released: the run continues
    assert not (tmp_path / "r" / ".lock").exists()  # and its lock is gone when it ends


def test_a_run_stopped_before_its_first_checkpoint_says_what_to_do(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"no checkpoint yet.*delete the directory"):
        run(tiny_run_config(tmp_path / "r", resume=str(tmp_path / "r")))


def test_flags_a_run_would_ignore_are_refused_or_recorded_truthfully(tmp_path, capsys):
    import json

    from agents.cli import main_for

    run(tiny_run_config(tmp_path / "pre", {"adv.updates": 0}))
    with pytest.raises(ValueError, match=r"--mle.epochs 5: this run starts from --pretrained"):
        run(tiny_run_config(tmp_path / "a", {"mle.epochs": 5}, pretrained=str(tmp_path / "pre")))
    # the preset's value (not given): the run records the pretraining it really started from
    cfg = tiny_run_config(tmp_path / "b", {"adv.updates": 1}, pretrained=str(tmp_path / "pre"))
    cfg.mle.epochs = 15  # the quick preset's value
    run(cfg)
    assert json.loads((tmp_path / "b" / "config.json").read_text())["mle"]["epochs"] == 2
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 50)
    for flag in (["--task.oracle-params", "x.npz"], ["--task.vocab-size", "77"]):
        with pytest.raises(SystemExit):
            main_for("reinforce", ["--task.data", str(corpus), *flag, "--run-dir", str(tmp_path / "t")], "")
        assert "not used by this reinforce run" in capsys.readouterr().err
    with pytest.raises(ValueError, match="drop --run-dir"):
        run(tiny_run_config(tmp_path / "c", resume=str(tmp_path / "b")))


def test_os_errors_at_the_run_directory_are_one_line(tmp_path, capsys):
    from agents.cli import main_for

    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit) as exc:
        main_for("reinforce", ["--run-dir", str(tmp_path / "afile" / "run"), "--no-progress"], "")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "afile" in err
    assert "Traceback" not in err


def test_more_bad_inputs_get_one_clear_error(tmp_path):
    from agents.run.checkpoint import save_checkpoint
    from agents.run.rundir import checkpoint_at
    from seqgan_env.env import resolve_device
    from seqgan_env.text import read_lines

    utf16 = tmp_path / "u16.txt"
    utf16.write_text("the cat sat\nthe dog ran\n", encoding="utf-16")
    with pytest.raises(ValueError, match="is UTF-16 or UTF-32 text"):
        read_lines(utf16)
    save_checkpoint(tmp_path / "partial.pt", {"generator": {}})
    with pytest.raises(ValueError, match=r"lacks \['config'"):
        checkpoint_at(tmp_path / "partial.pt")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device(torch.device("cuda"))
    with pytest.raises(SystemExit):
        parse_args(["--reinforce.lr", "1e30"])


def test_resume_refuses_a_changed_split_and_a_changed_vocabulary(tmp_path):
    corpus = tmp_path / "c.txt"
    lines = [f"w{i} w{i + 1} w{i + 2}" for i in range(60)]
    corpus.write_text("\n".join(lines) + "\n")
    kw = {
        "task.data": str(corpus),
        "task.seq_len": 6,
        "env.num_envs": 4,
        "mle.batch_size": 4,
        "disc.negatives": 16,
        "eval.samples": 16,
    }
    run(tiny_run_config(tmp_path / "r", {"adv.updates": 1, **kw}))
    corpus.write_text("\n".join(reversed(lines)) + "\n")  # the same sentences, reordered: another split
    with pytest.raises(ValueError, match="no longer yields the checkpoint's train/test split"):
        run(tiny_run_config(tmp_path / "r", {"adv.updates": 2, **kw}, resume=str(tmp_path / "r")))
    corpus.write_text("\n".join([*lines[:-1], "zz yy xx"]) + "\n")  # a new word: another vocabulary
    with pytest.raises(ValueError, match="no longer yields the checkpoint's vocabulary"):
        run(tiny_run_config(tmp_path / "r", {"adv.updates": 2, **kw}, resume=str(tmp_path / "r")))


def test_a_disk_full_mid_run_is_one_line_and_the_run_resumes_to_the_same_metrics(tmp_path, capsys, monkeypatch):
    """ENOSPC while writing a checkpoint in the adversarial phase: one line naming the file and the cause, exit 2,
    the last good checkpoint intact, and --resume ends exactly where an uninterrupted run does."""
    import errno
    import io
    import json

    from agents.cli import main_for
    from agents.run import checkpoint

    flags = tiny_run_flags({"adv.updates": 6})
    main_for("reinforce", [*flags, "--run-dir", str(tmp_path / "ref")], "")
    real_write, calls = checkpoint.atomic_write_bytes, {"n": 0}

    def full_disk(path, data):
        phase = (
            torch.load(io.BytesIO(data), weights_only=True).get("phase") if str(path).endswith("latest.pt") else None
        )
        if phase == "adversarial":
            calls["n"] += 1
            if calls["n"] == 3:  # adversarial checkpoints at updates 0, 1, then 2 fails: mid-run
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", full_disk)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main_for("reinforce", [*flags, "--run-dir", str(tmp_path / "run")], "")
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == f"error: {tmp_path / 'run' / 'checkpoints' / 'latest.pt'}: No space left on device"
    assert checkpoint.load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")["step"] == 1  # the last good one
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", real_write)  # space freed
    main_for("reinforce", [*flags, "--resume", str(tmp_path / "run")], "")
    ref = json.loads((tmp_path / "ref" / "metrics.json").read_text())["summary"]
    got = json.loads((tmp_path / "run" / "metrics.json").read_text())["summary"]
    assert (got["final_nll_oracle"], got["final_nll_test"]) == (ref["final_nll_oracle"], ref["final_nll_test"])


def test_a_run_announces_its_directory_and_logs_its_progress_as_lines(tmp_path):
    """Output to a file (not a terminal): the run directory and the plan come first, then one plain line per phase
    step as it completes, the adversarial phase's included (3/3 updates)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    flags = tiny_run_flags({"adv.updates": 3, "eval.every": 1}, progress=True)
    out = subprocess.run([sys.executable, "train/reinforce.py", *flags, "--run-dir", str(tmp_path / "r")], cwd=root,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == f"run directory: {tmp_path / 'r'}"
    assert lines[1].startswith("plan: the random oracle 0; MLE 2 epochs, then D 1 rounds, then reinforce 3 updates")
    assert "torch threads" in lines[1]
    assert any(line.startswith("adversarial (reinforce): 3/3 updates (100 %)") for line in lines)
    assert any(line.startswith("MLE pretraining: 2/2 epochs (100 %)") for line in lines)
    assert "\r" not in out.stderr


def test_resume_grows_a_run_to_an_explicit_updates_even_at_the_presets_value(tmp_path, capsys):
    """``--adv.updates 40`` given on the command line grows a 2-update run to 40, though 40 is the preset's default;
    fewer than the run has done is refused; as many as it has done trains nothing and says so."""
    from agents.cli import explicit_paths, main_for
    from agents.config import preset_config
    from tests.helpers import tiny_run_flags

    target = preset_config("quick").adv.updates
    assert explicit_paths(["--adv.updates", "40", "--adv.no-match-mle-diversity", "--seed=3", "x"]) == {
        "adv.updates", "adv.match_mle_diversity", "seed"}  # fmt: skip
    flags = tiny_run_flags({"adv.updates": 2, "eval.every": 40, "eval.checkpoint_every": 40, "disc.retrain_every": 40})
    main_for("reinforce", [*flags, "--run-dir", str(tmp_path / "r")], "")
    summary = main_for("reinforce", ["--resume", str(tmp_path / "r"), "--adv.updates", str(target)], "")
    rows = RunDir(tmp_path / "r").rows("adversarial")
    assert rows[-1]["step"] == target
    assert summary["final_nll_oracle"] > 0
    with pytest.raises(SystemExit):
        main_for("reinforce", ["--resume", str(tmp_path / "r"), "--adv.updates", "3"], "")
    assert f"the run has finished {target} updates; --adv.updates 3 cannot shrink it" in capsys.readouterr().err
    main_for("reinforce", ["--resume", str(tmp_path / "r")], "")
    assert f"has finished all {target} updates; nothing to train" in capsys.readouterr().err


def test_a_bad_corpus_leaves_no_run_directory(tmp_path):
    """Input errors found while reading the data come before the run directory exists: the retry needs no cleanup."""
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    for data in (str(tmp_path / "missing.txt"), str(empty)):
        with pytest.raises((FileNotFoundError, ValueError)):
            run(tiny_run_config(tmp_path / "r", {"task.data": data, "task.seq_len": 8}))
        assert not (tmp_path / "r").exists()


def test_sizes_beyond_the_machines_memory_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"--task.vocab-size 10000000 with these sizes needs at least .* GiB"):
        run(tiny_run_config(tmp_path / "r", {"task.vocab_size": 10_000_000}))
    assert not (tmp_path / "r").exists()
