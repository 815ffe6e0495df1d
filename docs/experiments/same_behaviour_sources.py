"""Every agent × reward source ends where it did before the reward sources became objects (issue "House, round 2").

    python docs/experiments/same_behaviour_sources.py 1ba036c     # any earlier commit: runs it in a git worktree

Runs the suite's tiny pipeline (tests' ``TINY_RUN``, 4 adversarial updates, one thread) for REINFORCE and PPO on the
rollout, prefix, perfect and oracle rewards (oracle skipped at a commit before it), at the given commit and at this
checkout, and compares every ``mle_*`` and ``final_*`` figure of the summaries exactly; exits 1 on any difference.
For house round 2 (phase interfaces, rooms): ``python docs/experiments/same_behaviour_sources.py 0b1a345``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
try:
    from tests.helpers import TINY_RUN
except ImportError:  # before tests/helpers.py
    from tests.conftest import TINY_RUN
from agents.config import from_preset
try:
    from agents.run.pipeline import run
except ImportError:  # before agents/ had rooms
    from agents.pipeline import run
out = {}
for agent in ("reinforce", "ppo"):
    for source in ("rollout", "prefix", "perfect", "oracle"):
        over = {**TINY_RUN, "run_dir": str(Path(tempfile.mkdtemp()) / "r"), "env.reward_source": source,
                "adv.updates": 4}
        # flags a source does not read (refused since as unused) are dropped at both commits
        unused = {"rollout": (), "prefix": ("disc.size", "env.n_rollouts"),
                  "perfect": tuple(k for k in over if k.startswith("disc.")) + ("env.n_rollouts",)}.get(source)
        if unused is None:  # oracle: reads no D and runs no rollouts, like perfect
            unused = tuple(k for k in over if k.startswith("disc.")) + ("env.n_rollouts",)
        for k in unused:
            over.pop(k, None)
        if source == "perfect":
            over[f"{agent}.reward_mode"] = "shaped"
        try:
            s = run(from_preset("quick", over, agent=agent))
        except ValueError:  # a source this commit does not have (oracle came later)
            out[f"{agent}/{source}"] = None
            continue
        out[f"{agent}/{source}"] = {k: v for k, v in s.items() if k.startswith(("final_", "mle_"))}
print(json.dumps(out))
"""


def figures(checkout: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(checkout)], cwd=checkout, capture_output=True, text=True,
                         check=True, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    base = sys.argv[1] if len(sys.argv) > 1 else "1ba036c"
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "-q", str(worktree), base], cwd=ROOT, check=True)
        try:
            before = figures(worktree)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT, check=True)
    after = figures(ROOT)
    differ = False
    for key, figs in before.items():
        if figs is None:
            print(f"{key}: not at the base commit, skipped")
            continue
        diffs = {m: (v, after[key].get(m)) for m, v in figs.items() if after[key].get(m) != v}
        differ |= bool(diffs)
        print(f"{key}: {diffs or 'identical'}")
    raise SystemExit(1 if differ else 0)


if __name__ == "__main__":
    main()
