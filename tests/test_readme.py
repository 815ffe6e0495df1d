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
