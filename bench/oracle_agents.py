"""What each agent costs on the oracle benchmark: generated tokens per second of training, measured in one run.

    python bench/oracle_agents.py --threads 1        # vocabulary 5,000, length 20, 64 sequences per update

Every agent trains the same generator (G's paper sizes, random init) on the same env (``reward_source="oracle"``,
the random oracle at the official sizes) for ``--updates`` updates after one warm-up update; the reported rate is
tokens per second of the updates alone (env steps, rewards, the gradient steps; no evaluation), and its ratio to the
exact reference trainer's measured in the same process.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import parser, peak_rss_mb, setup, table

from agents.algorithms.mac import MeanActorCritic
from agents.algorithms.ppo import make_actor_critic
from agents.algorithms.reference import PerStepKLReference
from agents.algorithms.reinforce import Reinforce
from agents.config import from_preset
from seqgan_env import Generator, GeneratorConfig, Oracle, OracleConfig
from seqgan_env.env import SeqGANVectorEnv
from seqgan_env.sb3 import SB3VecEnv


def build(agent: str, oracle: Oracle, num_envs: int, seq_len: int):
    """``agent`` on a fresh oracle-reward env: one update = ``num_envs`` sequences."""
    vocab = oracle.config.vocab_size
    perfect = agent == "reinforce-logratio"
    gen = Generator(GeneratorConfig(vocab, seq_len))
    venv = SeqGANVectorEnv(num_envs=num_envs, vocab_size=vocab, seq_len=seq_len, reward_mode="q",
                           reward_source="perfect" if perfect else "oracle", oracle=oracle,
                           rollout_policy=gen if perfect else None)  # fmt: skip
    env = SB3VecEnv(venv, seed=0)
    kw = {"policy_kwargs": {"generator_config": {"vocab_size": vocab, "seq_len": seq_len}}, "seed": 0, "device": "cpu"}
    if agent in ("reinforce", "reinforce-logratio"):
        ent = 0.0 if perfect else 1.0
        return Reinforce(
            "GeneratorPolicy", env, baseline="mean", loss_reduction="mean", ent_coef=ent, learning_rate=1e-2, **kw
        )
    if agent == "reference":
        return PerStepKLReference("GeneratorPolicy", env, oracle=oracle, learning_rate=1e-2, **kw)
    if agent == "mac":
        return MeanActorCritic("GeneratorPolicy", env, learning_rate=1e-2, **kw)
    cfg = from_preset("fast", {"task.seq_len": seq_len, "env.num_envs": num_envs, "adv.ent_coef": 1.0,
                               "ppo.advantage": "critic", "ppo.reward_mode": "shaped"})  # fmt: skip
    return make_actor_critic(agent, env, cfg, device="cpu")


def tokens_per_s(agent: str, oracle: Oracle, num_envs: int, seq_len: int, updates: int) -> float:
    model = build(agent, oracle, num_envs, seq_len)
    per_update = num_envs * seq_len
    model.learn(per_update)  # warm-up: allocations, first-call costs
    t0 = time.perf_counter()
    model.learn(per_update * updates, reset_num_timesteps=False)
    return per_update * updates / (time.perf_counter() - t0)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--updates", type=int, default=10, help="timed updates per agent")
    args = p.parse_args()
    setup(args)
    vocab, seq_len, num_envs = (500, 10, 16) if args.quick else (5000, 20, 64)
    updates = 2 if args.quick else args.updates
    oracle = Oracle(OracleConfig(vocab_size=vocab, seq_len=seq_len))
    agents = ["reference", "reinforce", "reinforce-logratio", "mac", "ppo", "a2c"]
    try:
        import sb3_contrib  # noqa: F401

        agents.append("trpo")
    except ImportError:
        print("sb3-contrib not installed: TRPO skipped (pip install -e '.[contrib]')")
    rates = {a: tokens_per_s(a, oracle, num_envs, seq_len, updates) for a in agents}
    print(f"\noracle reward, vocabulary {vocab}, length {seq_len}, {num_envs} sequences per update, {updates} updates")
    rows = [{"agent": a, "tokens/s": r, "× reference": r / rates["reference"]} for a, r in rates.items()]
    print(table(rows))
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
