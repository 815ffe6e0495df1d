"""SeqGAN on Ray RLlib: PPO trains SeqGAN's own generator on env runners; D is retrained on the driver and pushed
to every runner (see ``agents/rllib.py`` for what runs where).

    pip install -e ".[ray]"
    python train/rllib_ppo.py --num-env-runners 2 --adv.updates 20                       # local Ray on this machine
    python train/rllib_ppo.py --address auto --num-env-runners 16 --pretrained runs/x     # on a Ray cluster's head
    python train/rllib_ppo.py --resume runs/rllib_ppo__quick__0__… --adv.updates 40       # continue (and grow) a run

Pipeline: MLE and D pretraining as in train/reinforce.py (or --pretrained RUN_DIR), then --adv.updates RLlib PPO
iterations (one iteration = one SB3 PPO update: --ppo.n-steps × --env.num-envs env steps) with the project's PPO
settings. NLL-oracle and NLL-test of the learner's generator go to RUN_DIR/metrics.json (the SB3 runs' schema).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from agents.cli import explicit_paths, parse_args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--num-env-runners", type=int, default=2, help="RLlib env runners (remote actors; 0: sample "
                     "in the driver process)")  # fmt: skip
    own.add_argument("--address", default=None, help="Ray cluster address, e.g. auto on a cluster node or "
                     "ray://HEAD:10001 (default: start a local Ray)")  # fmt: skip
    if "-h" in argv or "--help" in argv:
        own.print_help()
        print("\nand every flag of train/reinforce.py that an RLlib PPO run honours (task, pretraining, PPO, D):\n")
    own.add_argument("--overlap-d", action="store_true", help="retrain D in a thread while the runners sample the next "
                     "iteration (they then score with a D one round older; see README)")  # fmt: skip
    ns, rest = own.parse_known_args(argv)
    cfg = parse_args(rest, description=__doc__ or "", agent="ppo")
    from agents.rllib import train

    try:
        out = train(cfg, ns.num_env_runners, ns.address, explicit_paths(rest), ns.overlap_d)
    except (ValueError, FileNotFoundError, FileExistsError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(out, indent=2))  # the summary (RUN/metrics.json holds it beside the history)
    return out


def exit_even_if_ray_lingers(grace_s: float = 30.0) -> None:
    """The results are written and Ray is shut down: if a thread Ray left behind keeps the interpreter alive past
    ``grace_s`` seconds, end the process anyway (a run once finished and then never exited)."""
    import os
    import threading

    def force() -> None:
        print(f"note: exiting {grace_s:.0f} s after the run finished: a Ray thread was still running", file=sys.stderr)
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(grace_s, force)
    timer.daemon = True  # a normal exit does not wait for it
    timer.start()


if __name__ == "__main__":
    main()
    exit_even_if_ray_lingers()
