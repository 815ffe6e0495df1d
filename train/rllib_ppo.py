"""SeqGAN-v0 under Ray RLlib: PPO with several env runners, D retrained on the driver and pushed to every runner.

    pip install -e ".[ray]"
    python train/rllib_ppo.py --num-env-runners 2 --iterations 20          # local Ray on this machine
    python train/rllib_ppo.py --address ray://head:10001 --num-env-runners 16 --pretrained runs/x   # a cluster

Pipeline: MLE and D pretraining as in train/reinforce.py (or --pretrained RUN_DIR), then RLlib PPO on the
env registered with ``ray.tune.registry.register_env`` (``seqgan_env.rllib``). Every ``--d-every``
iterations an RLlib callback retrains D on real vs sequences sampled from RLlib's policy and pushes its
weights to all env runners. What RLlib's model API allows: its default PPO module is an MLP over the padded
prefix, so it cannot start from the MLE-pretrained LSTM generator (that needs a custom RLModule, not written
yet); the env's rollout policy is the MLE-pretrained generator, synced to the runners once. NLL-oracle and
NLL-test of RLlib's policy are written to OUT/metrics.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.checkpoint import atomic_write_json, load_checkpoint
from agents.config import parse_args
from agents.pipeline import agent_config, build_task, discriminator_config, generator_config, run
from seqgan_env import rllib as seqgan_rllib
from seqgan_env.discriminator import Discriminator, train_discriminator
from seqgan_env.generator import Generator
from seqgan_env.optim import adam


@torch.no_grad()
def module_logits(module: Any, prefixes: torch.Tensor) -> torch.Tensor:
    """Next-token logits of RLlib's policy module for observed prefixes ``(N, T)`` (padding = vocab)."""
    out = module.forward_inference({"obs": prefixes.float()})
    return out["action_dist_inputs"]


@torch.no_grad()
def sample_module(module: Any, n: int, vocab: int, seq_len: int, rng: torch.Generator) -> torch.Tensor:
    """``n`` sequences sampled from RLlib's policy, one position at a time for the whole batch."""
    obs = torch.full((n, seq_len), vocab, dtype=torch.long)
    for t in range(seq_len):
        probs = torch.softmax(module_logits(module, obs), dim=1)
        obs[:, t] = torch.multinomial(probs, 1, generator=rng).squeeze(1)
    return obs


@torch.no_grad()
def module_nll(module: Any, tokens: torch.Tensor, vocab: int) -> float:
    """Mean per-token NLL of ``tokens`` under RLlib's policy (teacher forcing over all prefixes at once)."""
    n, seq_len = tokens.shape
    obs = tokens.repeat_interleave(seq_len, 0)
    pos = torch.arange(seq_len).repeat(n)
    obs[torch.arange(seq_len)[None, :].expand(n * seq_len, -1) >= pos[:, None]] = vocab
    logp = torch.log_softmax(module_logits(module, obs), dim=1)
    return float(-logp.gather(1, tokens.reshape(-1, 1)).mean())


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--num-env-runners", type=int, default=2, help="RLlib env runners (remote actors)")
    own.add_argument("--iterations", type=int, default=10, help="RLlib training iterations")
    own.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    own.add_argument("--out", default=None, help="output directory (default: runs/rllib_ppo__{time})")
    if "-h" in argv or "--help" in argv:
        own.print_help()
        print("\nand every flag of train/reinforce.py (task, pretraining, D schedule):\n")
    ns, rest = own.parse_known_args(argv)
    cfg = parse_args(rest, description=__doc__ or "")
    if ns.num_env_runners < 0 or ns.iterations <= 0:
        print("error: --num-env-runners must be >= 0 and --iterations > 0", file=sys.stderr)
        raise SystemExit(2)
    out = Path(ns.out or f"runs/rllib_ppo__{time.strftime('%Y%m%d-%H%M%S')}")
    return train(cfg, out, ns.num_env_runners, ns.iterations, ns.address)


def train(cfg: Any, out: Path, num_env_runners: int, iterations: int, address: str | None) -> dict[str, Any]:
    """Pretrain (or load), then RLlib PPO for ``iterations`` with the D callback; returns the metrics."""
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    pre_dir = Path(cfg.pretrained) if cfg.pretrained else out / "pretrain"
    if not cfg.pretrained:
        run(agent_config(dataclasses.replace(cfg, adv_updates=0, run_dir=str(pre_dir)), "reinforce"), "reinforce")
    ckpt = load_checkpoint(pre_dir / "checkpoints" / "pretrained.pt")
    task = build_task(cfg, torch.device("cpu"))
    vocab, seq_len = task.vocab_size, cfg.seq_len
    gen = Generator(generator_config(cfg, task))
    gen.load_state_dict(ckpt["generator"])
    disc = Discriminator(discriminator_config(cfg, vocab))
    disc.load_state_dict(ckpt["discriminator"])
    d_opt = adam(disc.parameters(), lr=cfg.disc_lr)
    rng = torch.Generator().manual_seed(cfg.seed)
    d_cfg = dataclasses.asdict(disc.config)
    env_config = {
        "vocab_size": vocab, "seq_len": seq_len, "n_rollouts": cfg.n_rollouts, "reward_mode": cfg.ppo_reward_mode,
        "generator_config": {"emb_dim": cfg.gen_emb_dim, "hidden_dim": cfg.gen_hidden_dim},
        "discriminator_config": {k: d_cfg[k] for k in ("emb_dim", "filter_sizes", "num_filters", "dropout")},
    }  # fmt: skip

    def retrain_d(algorithm: Any) -> Discriminator:
        fake = sample_module(algorithm.get_module(), cfg.d_negatives, vocab, seq_len, rng)
        for _ in range(cfg.d_rounds):
            train_discriminator(disc, d_opt, task.train, fake, cfg.d_epochs, cfg.disc_batch_size, rng)
        return disc

    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    name = seqgan_rllib.register()
    batch = cfg.batch_size * seq_len
    config = (
        PPOConfig()
        .environment(name, env_config=env_config)
        .env_runners(num_env_runners=num_env_runners, rollout_fragment_length=seq_len)
        .training(
            gamma=1.0,
            lambda_=1.0,
            lr=cfg.ppo_lr,
            train_batch_size_per_learner=batch,
            minibatch_size=max(seq_len, batch // 4),
            num_epochs=cfg.ppo_n_epochs,
        )
        .callbacks(seqgan_rllib.make_discriminator_callback(retrain_d, every=cfg.d_every))
        .debugging(seed=cfg.seed)
    )
    algo = config.build_algo()
    seqgan_rllib.sync_parts(algo, disc, gen)  # the pretrained D and the MLE generator as rollout policy
    history = []
    t0 = time.perf_counter()
    for it in range(1, iterations + 1):
        t_it = time.perf_counter()
        algo.train()
        module = algo.get_module()
        row = {"iteration": it, "iteration_s": time.perf_counter() - t_it, "wall_s": time.perf_counter() - t0,
               "nll_test": module_nll(module, task.test[:1000], vocab)}  # fmt: skip
        if task.oracle is not None:
            row["nll_oracle"] = task.oracle.nll(sample_module(module, cfg.eval_samples, vocab, seq_len, rng))
        history.append(row)
        print(json.dumps(row))
    states = seqgan_rllib.runner_discriminator_states(algo)
    in_sync = all(np.allclose(s[k], disc.state_dict()[k].numpy()) for s in states for k in s)
    algo.stop()
    ray.shutdown()
    result = {"num_env_runners": num_env_runners, "history": history, "runners_d_in_sync": in_sync,
              "mean_iteration_s": float(np.mean([r["iteration_s"] for r in history]))}  # fmt: skip
    atomic_write_json(out / "metrics.json", result)
    return result


if __name__ == "__main__":
    main()
