"""Every benchmark runs with --quick and prints its table (a smoke test: no timing assertions)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


def test_every_bench_is_covered():
    assert {
        "rollout.py",
        "env.py",
        "epoch.py",
        "disc.py",
        "sample.py",
        "bleu.py",
        "mle.py",
        "eval.py",
        "oracle_agents.py",
    } <= set(BENCHES)


@pytest.mark.parametrize("bench", BENCHES)
def test_bench_quick_runs_and_prints_a_table(bench):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / bench), "--quick"], capture_output=True, text=True,
                         cwd=ROOT, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "| " in out.stdout
    assert "machine:" in out.stdout
