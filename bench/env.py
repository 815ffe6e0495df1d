"""Env steps per second: gymnasium.make("SeqGAN-v0") vs make_vec(num_envs=64) vs the SB3 VecEnv adapter; then
the reward sources side by side: Monte Carlo rollouts vs the per-prefix D vs the perfect D.

    python bench/env.py [--quick]

One env step = one token appended to one sequence. Paper sizes (vocab 5000, length 20, 16 rollouts) with the
paper-size discriminator; "terminal" mode runs no rollouts, so it measures the env's own overhead. The second
table steps make_vec(64) in "q" mode with each reward source (the rollouts' D: the paper CNN; the per-prefix D:
the default PrefixDiscriminator; the perfect D: a paper-size oracle) and prints each one's speed-up over rollouts,
measured in the same run. The third table prices the default ``gymnasium.make("SeqGAN-v0")`` (the untrained
paper CNN D, 7M parameters, 16 rollouts) against lighter choices a user can pass (the small D, fewer rollouts, the
per-prefix D), one env on the threads given.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import gymnasium
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, setup, table

import seqgan_env  # noqa: F401  (registers SeqGAN-v0)
from seqgan_env import Discriminator, DiscriminatorConfig, Oracle, OracleConfig
from seqgan_env.rewards import REWARD_SOURCES, SOURCES
from seqgan_env.sb3 import SB3VecEnv


def steps_per_s_single(mode: str, episodes: int, n_rollouts: int) -> float:
    return steps_per_s_choice({"reward_mode": mode, "n_rollouts": n_rollouts}, episodes)


def steps_per_s_vec(mode: str, episodes: int, n_rollouts: int, sb3: bool, num_envs: int) -> float:
    if sb3:
        env = SB3VecEnv(num_envs=num_envs, reward_mode=mode, n_rollouts=n_rollouts, seed=0)
        env.reset()
        step = lambda a: env.step(a)  # noqa: E731
    else:
        env = gymnasium.make_vec("SeqGAN-v0", num_envs=num_envs, reward_mode=mode, n_rollouts=n_rollouts)
        env.reset(seed=0)
        step = env.step
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(episodes * 20):
        step(rng.integers(5000, size=num_envs))
    return episodes * 20 * num_envs / (time.perf_counter() - t0)


def steps_per_s_source(source: str, episodes: int, n_rollouts: int, num_envs: int) -> float:
    kw: dict = {"reward_source": source}
    if SOURCES[source].needs_oracle:
        kw["oracle"] = Oracle(OracleConfig(vocab_size=5000, seq_len=20))
    env = gymnasium.make_vec("SeqGAN-v0", num_envs=num_envs, reward_mode="q", n_rollouts=n_rollouts, **kw)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    env.step(rng.integers(5000, size=num_envs))  # warm-up
    env.reset(seed=0)
    t0 = time.perf_counter()
    for _ in range(episodes * 20):
        env.step(rng.integers(5000, size=num_envs))
    return episodes * 20 * num_envs / (time.perf_counter() - t0)


def steps_per_s_choice(kwargs: dict, episodes: int) -> float:
    """Steps/s of one ``gymnasium.make("SeqGAN-v0", **kwargs)`` env over ``episodes`` episodes of random tokens."""
    env = gymnasium.make("SeqGAN-v0", **kwargs)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    env.step(int(rng.integers(5000)))  # warm-up
    t0, steps = time.perf_counter(), 0
    for _ in range(episodes):
        env.reset()
        for _ in range(20):
            env.step(int(rng.integers(5000)))
            steps += 1
    return steps / (time.perf_counter() - t0)


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    num_envs = 8 if args.quick else 64
    n_rollouts = 4 if args.quick else 16
    rows = []
    for mode in ("terminal", "shaped", "q"):
        single = steps_per_s_single(mode, 1 if args.quick else 4, n_rollouts)
        vec = steps_per_s_vec(mode, 1, n_rollouts, sb3=False, num_envs=num_envs)
        sb3 = steps_per_s_vec(mode, 1, n_rollouts, sb3=True, num_envs=num_envs)
        rows.append({"reward_mode": mode, "single steps/s": single, f"make_vec({num_envs}) steps/s": vec,
                     "SB3 adapter steps/s": sb3, "vec / single": vec / single})  # fmt: skip
    print(f"vocab 5000, length 20, {n_rollouts} rollouts, paper-size discriminator")
    print(table(rows))
    rates = {src: steps_per_s_source(src, 1, n_rollouts, num_envs) for src in REWARD_SOURCES}
    print(f"\nreward sources, make_vec({num_envs}), reward_mode q (dense sources need no rollouts)")
    print(table([{"reward_source": src, "steps/s": r, "× rollout": r / rates["rollout"]} for src, r in rates.items()]))
    small = Discriminator(DiscriminatorConfig.small(5000, 20))
    choices = {
        "default: paper D (7M params), 16 rollouts": {},
        "paper D, 4 rollouts": {"n_rollouts": 4},
        "small D (widths 1-5, 32 filters), 16 rollouts": {"discriminator": small},
        "small D, 4 rollouts": {"discriminator": small, "n_rollouts": 4},
        "per-prefix D (no rollouts)": {"reward_source": "prefix"},
    }
    episodes = 1 if args.quick else 3
    rates = {name: steps_per_s_choice(kw, episodes) for name, kw in choices.items()}
    base = rates["default: paper D (7M params), 16 rollouts"]
    print('\ngymnasium.make("SeqGAN-v0", ...): one env, shaped reward — what the default costs')
    print(table([{"env": name, "steps/s": r, "× default": r / base} for name, r in rates.items()]))


if __name__ == "__main__":
    main()
