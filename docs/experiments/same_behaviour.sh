#!/usr/bin/env bash
# The house refactor (issue 18: agents/ split by job, the grouped config) changed no number: the quick preset's seeded
# CPU runs of REINFORCE and PPO at the commit before it (93d7f6d, flat flags) and at HEAD write the same metrics.json
# (every history row and the summary; only wall and CPU times differ). ~10 min on 2 CPU cores, alone. Rerun for
# later refactors with BASE=<commit before them> (house round 2's rooms and phase interfaces: BASE=0b1a345).
set -euo pipefail
BASE=${BASE:-93d7f6d}
OUT=${OUT:-runs/same_behaviour}
rm -rf "$OUT" && mkdir -p "$OUT"
git worktree add --detach "$OUT/base_src" "$BASE" >/dev/null
trap 'git worktree remove --force "$OUT/base_src"' EXIT
for AGENT in reinforce ppo; do
  (cd "$OUT/base_src" && PYTHONPATH=. python "train/$AGENT.py" --seed 0 --device cpu --no-progress \
     --run-dir "$OLDPWD/$OUT/base_$AGENT" >/dev/null)
  python "train/$AGENT.py" --seed 0 --device cpu --no-progress --run-dir "$OUT/head_$AGENT" >/dev/null
done
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path

out, same = Path(sys.argv[1]), True
for agent in ("reinforce", "ppo"):
    runs = [json.loads((out / f"{side}_{agent}" / "metrics.json").read_text()) for side in ("base", "head")]
    rows = [[{k: v for k, v in r.items() if k != "wall_s"} for r in m["history"]] for m in runs]
    summaries = [{k: v for k, v in m["summary"].items() if k not in ("wall_s", "run_dir", "cpu")} for m in runs]
    ok = rows[0] == rows[1] and summaries[0] == summaries[1]
    same &= ok
    print(f"{agent}: {len(rows[0])} history rows, final NLL-oracle {summaries[1]['final_nll_oracle']:.6f}: "
          f"{'identical' if ok else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
