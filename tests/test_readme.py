"""The README's training commands parse: every ``python train/{reinforce,ppo,reference}.py …`` line (continuations
joined) is checked by the scripts' own parser and validation, without running, so no flag in the README drifts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from agents.cli import parse_args

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
COMMANDS = [
    (m.group(1), m.group(2).strip())
    for line in README.splitlines()
    for m in re.finditer(r"python train/(reinforce|ppo|reference)\.py([^`#|\n]*)", line)
    if "…" not in m.group(2) and "--help" not in m.group(2)
]


def test_the_readme_has_training_commands():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize(("script", "args"), COMMANDS, ids=[f"{s} {a}"[:60] for s, a in COMMANDS])
def test_readme_command_parses(script, args):
    parse_args(shlex.split(args), agent=script)  # exits (SystemExit) on any flag the script refuses


def _runner():
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / "docs" / "run_readme.py"
    spec = importlib.util.spec_from_file_location("run_readme", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_readme"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_every_readme_command_is_run_by_docs_run_readme_or_skipped_for_a_stated_reason():
    runner = _runner()
    items = runner.extract(README)
    files = {"run": "RUN", "npz": "o.npz", "npz2": "c.npz", "pkl": "p.pkl"}
    for it in items:
        runner.plan(it, files, run_all=True)
    commands = [it for it in items if it.kind == "bash"]
    assert len(commands) >= 30
    assert sum(it.kind == "python" for it in items) >= 5
    reasons = set(runner.NOT_RUN.values()) | {
        "a template (… stands for arguments of the reader's choice)",
        "a mention of the command (its arguments are in the table beside it)",
    }
    for it in commands:
        assert it.skip in reasons or it.argv, (it.line, it.text, it.skip)
        assert "run_readme" not in " ".join(it.argv), it.text  # it would run itself, forever
    ran = [it for it in commands if not it.skip]
    assert sum("train/" in " ".join(it.argv) for it in ran) >= 20  # the training scripts' lines all run
    # every training command gets the reduced sizes, or is a --help / --resume / pretrained line
    for it in ran:
        if any(f"train/{s}.py" in it.argv[1] for s in ("reinforce", "ppo", "compare")):
            assert "--device" in it.argv or {"--help", "--resume"} & set(it.argv), it.text


@pytest.mark.slow
def test_the_readme_runs_as_written_at_reduced_sizes():
    assert _runner().main([]) == 0  # docs/run_readme.py: every command and snippet, minutes on 2 cores
