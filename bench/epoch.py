"""One adversarial epoch of the ``paper`` preset, broken into its parts, with peak memory.

    python bench/epoch.py [--quick]

An epoch = one REINFORCE generator update on 64 sequences (its Monte Carlo rollouts, 16 per prefix, and
its gradient step) + the discriminator retraining (5 rounds × (10k fresh negatives, 3 epochs over 20k
sequences)) + one evaluation (NLL-oracle of 10k samples, NLL-test). The official code needs ≈ 12 s of
generator work and ≈ 457 s of discriminator work per epoch on this kind of machine (PAPER_NOTES.md).
--quick shrinks the D work to 1 round × 1 epoch over 2k sequences and the evaluation to 1k samples.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from stable_baselines3.common.callbacks import CallbackList

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, peak_rss_mb, setup, table

from agents.algorithms.reinforce import Reinforce
from seqgan_env import Discriminator, DiscriminatorConfig, Oracle, OracleConfig
from seqgan_env.discriminator import train_discriminator
from seqgan_env.env import SeqGANVectorEnv
from seqgan_env.metrics import nll_oracle, nll_test
from seqgan_env.sb3 import SB3VecEnv

OFFICIAL = {"generator update + rollouts": 12.2, "D training": 457.0}


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    torch.manual_seed(0)
    n_data, rounds, epochs, n_eval = (2_000, 1, 1, 1_000) if args.quick else (10_000, 5, 3, 10_000)
    oracle = Oracle(OracleConfig())
    real, test = oracle.make_data(n_data, n_eval)
    disc = Discriminator(DiscriminatorConfig())
    d_opt = torch.optim.Adam(disc.parameters(), lr=1e-4)
    venv = SeqGANVectorEnv(num_envs=64, reward_mode="q", discriminator=disc)
    agent = Reinforce("GeneratorPolicy", SB3VecEnv(venv, seed=0), loss_reduction="sum", seed=0, device="cpu")
    venv.set_rollout_policy(agent.policy.generator)
    agent._setup_learn(64 * 20, None)
    callback = CallbackList([])
    callback.init_callback(agent)

    t0 = time.perf_counter()
    batch = agent.collect_rollouts(callback)
    t_rollouts = time.perf_counter() - t0
    assert batch is not None
    t0 = time.perf_counter()
    agent.train_on_batch(*batch)
    t_update = time.perf_counter() - t0

    t0 = time.perf_counter()
    rng = torch.Generator().manual_seed(0)
    for _ in range(rounds):
        fake = agent.policy.generator.sample(n_data, generator=rng)
        train_discriminator(disc, d_opt, real, fake, epochs, 64, rng)
    t_disc = time.perf_counter() - t0

    t0 = time.perf_counter()
    nll_oracle(oracle, agent.policy.generator, n_eval)
    nll_test(agent.policy.generator, test)
    t_eval = time.perf_counter() - t0

    total = t_rollouts + t_update + t_disc + t_eval
    rows = [
        {"part": "rollouts (env steps, 16 MC rollouts per prefix)", "seconds": t_rollouts},
        {"part": "generator update (REINFORCE step)", "seconds": t_update},
        {"part": f"D training ({rounds} rounds × {epochs} epochs, {2 * n_data:,} sequences)", "seconds": t_disc},
        {"part": f"evaluation (NLL-oracle of {n_eval:,} samples + NLL-test)", "seconds": t_eval},
        {"part": "total", "seconds": total},
    ]
    print(table(rows))
    gen_official = OFFICIAL["generator update + rollouts"]
    print(f"generator work: {t_rollouts + t_update:.1f} s here vs ≈ {gen_official} s official "
          f"(ratio {gen_official / (t_rollouts + t_update):.1f}×)")  # fmt: skip
    if not args.quick:
        print(f"D work: {t_disc:.0f} s here vs ≈ {OFFICIAL['D training']:.0f} s official "
              f"(ratio {OFFICIAL['D training'] / t_disc:.1f}×)")  # fmt: skip
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
