"""RLlib PPO's iteration time with 1, 2 and 4 env runners beside SB3 PPO's update, measured in one run.

    python bench/rllib.py            # the quick preset's sizes (vocabulary 5,000), 4 iterations each (~10 min)
    python bench/rllib.py --quick    # CI-sized smoke test (vocabulary 60)

Every configuration starts from the same pretrained G and D (one MLE epoch, one D round), retrains D every
iteration (``--disc.retrain-every 1``) and evaluates only at the end. Reported per configuration: wall seconds per
iteration (one PPO update of ``--ppo.n-steps × --env.num-envs`` tokens; the median after the first, which builds
caches), and the share of it the runners wait for D's retraining; then 2 runners again with ``--overlap-d`` (D
retrained in a thread while the runners sample the next iteration). SB3's figure is the adversarial phase's wall time
per update.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, parser, table


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--runners", type=int, nargs="+", default=None, help="env runner counts to time (default 1 2 4; "
                   "--quick: 1)")  # fmt: skip
    args = p.parse_args()
    args.runners = args.runners or ([1] if args.quick else [1, 2, 4])
    if any(n < 1 for n in args.runners):
        raise SystemExit(f"error: --runners must be positive integers, got {args.runners}")
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(machine())
    from agents.config import from_preset
    from agents.rllib import train
    from agents.run.pipeline import run

    iterations = 3 if args.quick else 4
    small = {"task.vocab_size": 60, "task.seq_len": 6, "task.n_train": 256, "task.n_test": 64, "generator.emb_dim": 8,
             "generator.hidden_dim": 8, "disc.emb_dim": 8, "disc.negatives": 128, "env.num_envs": 8,
             "env.n_rollouts": 2} if args.quick else {}  # fmt: skip
    common = {"device": "cpu", "progress": False, "eval.samples": 128 if args.quick else 500, "disc.report_samples": 0,
              "disc.retrain_every": 1, "disc.retrain_rounds": 1, "disc.retrain_epochs": 1, **small}  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pre = f"{tmp}/pretrain"
        once = {"adv.updates": 0, "mle.epochs": 1, "disc.pretrain_rounds": 1, "disc.pretrain_epochs": 1}
        run(from_preset("quick", {**common, **once, "run_dir": pre}, agent="reinforce"))
        adv = {**common, "pretrained": pre, "adv.updates": iterations, "eval.every": iterations}
        t0 = time.perf_counter()
        summary = run(from_preset("quick", {**adv, "run_dir": f"{tmp}/sb3"}, agent="ppo"))
        history = summary_rows(f"{tmp}/sb3")
        start = next(r["wall_s"] for r in history if r["phase"] == "adversarial" and r["step"] == 0)
        per_update = (history[-1]["wall_s"] - start) / iterations
        rows.append({"trainer": "SB3 PPO (one process)", "s / iteration": per_update, "D share": "–",
                     "wall s (with setup)": time.perf_counter() - t0})  # fmt: skip
        del summary
        for n, overlap in [*((n, False) for n in args.runners), (1 if args.quick else 2, True)]:
            t0 = time.perf_counter()
            cfg = from_preset("quick", {**adv, "run_dir": f"{tmp}/rllib{n}{'o' * overlap}"}, agent="ppo")
            out = train(cfg, num_env_runners=n, overlap_d=overlap)
            timed = [r for r in summary_rows(out["run_dir"]) if "iteration_s" in r][1:]
            it_s = statistics.median(r["iteration_s"] for r in timed)
            d_s = statistics.median(r["d_wait_s"] for r in timed)  # what the runners waited for D
            label = f"RLlib PPO, {n} env runner{'s' * (n > 1)}" + (", D overlapped (--overlap-d)" if overlap else "")
            rows.append({"trainer": label, "s / iteration": it_s, "D share": d_s / it_s,
                         "wall s (with setup)": time.perf_counter() - t0})  # fmt: skip
    print(table(rows))
    sb3 = rows[0]["s / iteration"]
    print("\n" + ", ".join(f"{r['trainer']}: {r['s / iteration'] / sb3:.2f}× SB3's time per update" for r in rows[1:]))


def summary_rows(run_dir: str) -> list[dict]:
    from agents.run.rundir import RunDir

    return RunDir(run_dir).history()


if __name__ == "__main__":
    main()
