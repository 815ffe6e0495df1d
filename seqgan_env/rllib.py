"""SeqGAN-v0 under Ray RLlib: an env creator for ``register_env`` and a callback that keeps every env
runner's discriminator and rollout policy equal to the learner side's.

RLlib builds envs on remote env-runner actors from one ``config`` dict (Gymnasium's registry does not
reach them), so the creator rebuilds the discriminator and rollout policy from their config dicts; their
weights are pushed to every runner with :func:`sync_parts` (``SeqGANSyncCallback`` does it after each
training iteration when the driver has retrained D). Requires ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from seqgan_env.discriminator import Discriminator, DiscriminatorConfig
from seqgan_env.env import SeqGANEnv
from seqgan_env.generator import Generator, GeneratorConfig

ENV_NAME = "SeqGAN-v0"
ENV_KEYS = ("vocab_size", "seq_len", "n_rollouts", "reward_mode", "d_reward", "device")


def env_creator(config: dict[str, Any]) -> gym.Env:
    """Build one SeqGAN-v0 env from an RLlib ``env_config`` dict.

    The observation (the padded prefix) is cast to float32, which RLlib's default encoders require.

    Keys: the env kwargs ``vocab_size``, ``seq_len``, ``n_rollouts``, ``reward_mode``, ``d_reward``, ``device``, plus
    ``generator_config`` / ``discriminator_config`` (dicts of :class:`GeneratorConfig` /
    :class:`DiscriminatorConfig` kwargs) for the rollout policy and the discriminator.
    """
    config = dict(config)
    allowed = [*ENV_KEYS, "generator_config", "discriminator_config"]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"unknown SeqGAN-v0 env_config keys {unknown}; allowed: {allowed}")
    kwargs = {k: config[k] for k in ENV_KEYS if k in config}
    vocab, seq_len = kwargs.setdefault("vocab_size", 5000), kwargs.setdefault("seq_len", 20)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        gen_cfg = {"vocab_size": vocab, "seq_len": seq_len, **config.get("generator_config", {})}
        disc_cfg = {"vocab_size": vocab, "seq_len": seq_len, **config.get("discriminator_config", {})}
        if "filter_sizes" not in disc_cfg:
            paper = DiscriminatorConfig.paper(vocab, seq_len)
            disc_cfg.update(filter_sizes=paper.filter_sizes, num_filters=paper.num_filters)
        policy = Generator(GeneratorConfig(**gen_cfg))
        disc = Discriminator(DiscriminatorConfig(**disc_cfg))
    env = SeqGANEnv(discriminator=disc, rollout_policy=policy, **kwargs)
    return gym.wrappers.DtypeObservation(env, np.float32)


def register(name: str = ENV_NAME) -> str:
    """Register :func:`env_creator` with Ray Tune's registry under ``name``; returns the name."""
    from ray.tune.registry import register_env

    register_env(name, env_creator)
    return name


def _seqgan_envs(env: Any) -> Iterator[SeqGANEnv]:
    """Every SeqGANEnv inside an env runner's (vector) env."""
    stack = [env]
    while stack:
        e = stack.pop()
        if isinstance(e, SeqGANEnv):
            yield e
            continue
        for attr in ("envs", "env", "unwrapped"):
            inner = getattr(e, attr, None)
            if inner is None or inner is e:
                continue
            if isinstance(inner, (list, tuple)):
                stack.extend(inner)
            else:
                stack.append(inner)
            break


def set_parts_on_runner(env_runner: Any, disc_state: dict | None, policy_state: dict | None) -> int:
    """Load the given weights into every SeqGANEnv of ``env_runner``; returns how many envs were updated."""
    n = 0
    for env in _seqgan_envs(getattr(env_runner, "env", None)):
        if disc_state is not None:
            env.core.discriminator.load_state_dict(disc_state)  # type: ignore[attr-defined]
        if policy_state is not None:
            env.core.rollout_policy.load_state_dict(policy_state)
            env.core.set_rollout_policy(env.core.rollout_policy)
        n += 1
    return n


def runner_discriminator_states(algorithm: Any) -> list[dict[str, np.ndarray]]:
    """The discriminator weights held by each remote env runner (for checks)."""

    def fetch(env_runner: Any) -> dict[str, np.ndarray]:
        env = next(_seqgan_envs(getattr(env_runner, "env", None)))
        return {k: v.cpu().numpy() for k, v in env.core.discriminator.state_dict().items()}  # type: ignore[attr-defined]

    return algorithm.env_runner_group.foreach_env_runner(fetch, local_env_runner=False)


def sync_parts(
    algorithm: Any, discriminator: torch.nn.Module | None, rollout_policy: torch.nn.Module | None
) -> list[int]:
    """Push D's and the rollout policy's weights to every env runner (local and remote)."""
    disc_state = {k: v.detach().cpu() for k, v in discriminator.state_dict().items()} if discriminator else None
    pol_state = {k: v.detach().cpu() for k, v in rollout_policy.state_dict().items()} if rollout_policy else None
    return algorithm.env_runner_group.foreach_env_runner(
        lambda er: set_parts_on_runner(er, disc_state, pol_state), local_env_runner=True
    )


def make_discriminator_callback(retrain: Any, every: int = 1) -> type:
    """An RLlib callback class, the counterpart of the SB3 ``DiscriminatorCallback``: after every ``every``
    training iterations it calls ``retrain(algorithm) -> discriminator`` on the driver (D retrained on real vs
    fresh policy samples) and pushes D's weights to every env runner."""
    from ray.rllib.callbacks.callbacks import RLlibCallback

    if not isinstance(every, int) or every <= 0:
        raise ValueError(f"every must be a positive int, got {every!r}")

    class SeqGANDiscriminatorCallback(RLlibCallback):
        iterations = 0

        def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
            type(self).iterations += 1
            if type(self).iterations % every == 0:
                sync_parts(algorithm, retrain(algorithm), None)

    return SeqGANDiscriminatorCallback
