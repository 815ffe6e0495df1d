"""The suite's shared helpers: tiny models, envs and runs, so that every test runs in well under a second (imported
by the test modules; the fixtures are in conftest.py)."""

from __future__ import annotations

import torch

from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Oracle

VOCAB, SEQ_LEN, ROLLOUTS = 40, 6, 4


def tiny_generator(seed: int = 0, vocab: int = VOCAB, seq_len: int = SEQ_LEN) -> Generator:
    torch.manual_seed(seed)
    return Generator(GeneratorConfig(vocab_size=vocab, seq_len=seq_len, emb_dim=8, hidden_dim=8))


def tiny_discriminator(seed: int = 0, vocab: int = VOCAB, seq_len: int = SEQ_LEN) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(DiscriminatorConfig.small(vocab, seq_len, emb_dim=8))


def tiny_env_kwargs(**overrides: object) -> dict:
    kw = dict(
        vocab_size=VOCAB,
        seq_len=SEQ_LEN,
        n_rollouts=ROLLOUTS,
        discriminator=tiny_discriminator(),
        rollout_policy=tiny_generator(),
    )
    kw.update(overrides)
    return kw


def tiny_sb3_env(reward_mode: str = "q", num_envs: int = 4, **overrides: object):
    """The tiny env as the agents see it: ``VecMonitor(SB3VecEnv(...))`` of 4 sequences, seeded."""
    from stable_baselines3.common.vec_env import VecMonitor

    from seqgan_env.sb3 import SB3VecEnv

    return VecMonitor(SB3VecEnv(num_envs=num_envs, seed=0, **tiny_env_kwargs(reward_mode=reward_mode, **overrides)))


def oracle_eval(oracle: Oracle, test: torch.Tensor, n_samples: int = 64):
    """An ``evaluate(generator)`` for :class:`agents.EvalEveryKUpdates`: NLL-oracle and NLL-test."""
    from seqgan_env.metrics import nll_oracle, nll_test

    return lambda gen: {"nll_oracle": nll_oracle(oracle, gen, n_samples, seed=0), "nll_test": nll_test(gen, test)}


TINY_RUN = {
    "device": "cpu", "progress": False,
    "task.vocab_size": 60, "task.seq_len": 6, "task.n_train": 256, "task.n_test": 64,
    "generator.emb_dim": 8, "generator.hidden_dim": 8, "mle.epochs": 2, "mle.batch_size": 32,
    "disc.size": "small", "disc.emb_dim": 8, "disc.negatives": 128, "disc.pretrain_rounds": 1,
    "disc.pretrain_epochs": 1, "disc.retrain_every": 2, "disc.retrain_rounds": 1, "disc.retrain_epochs": 1,
    "adv.updates": 4, "env.num_envs": 8, "env.n_rollouts": 2, "eval.every": 2, "eval.samples": 128,
    "eval.checkpoint_every": 1,
}  # fmt: skip
"""The suite's one tiny whole-pipeline run: a couple of seconds (as a config or as the scripts' flags)."""

SENTENCES = [
    "The cat sat on the mat.",
    "A dog ran in the park!",
    "The cat and the dog are friends.",
    "We love our country.",
    "This sentence is far too long to fit in a short sequence of only a few tokens at all.",
] * 6
"""A tiny corpus (one too-long sentence) for the text tests."""


def _tiny_values(overrides: dict) -> dict:
    kw = dict(TINY_RUN)
    if overrides.get("task.data") is not None:  # real text: the oracle's settings would be refused as ignored
        for name in ("task.vocab_size", "task.n_train", "task.n_test"):
            kw.pop(name)
    kw.update(overrides)
    from agents.config import ignored_by_source

    for name in ignored_by_source(kw.get("env.reward_source", "rollout"), kw.get("env.d_reward", "prob")):
        if name in TINY_RUN and name not in overrides:  # the tiny D's sizes would be refused as unused
            kw.pop(name, None)
    return kw


def tiny_run_config(run_dir, overrides: dict | None = None, /, **top):
    """:data:`TINY_RUN` as a config writing to ``run_dir``, with ``overrides`` (``{"adv.updates": 2}``) and top-level
    fields (``agent="ppo"``, ``seed=1``)."""
    from agents.config import from_preset

    return from_preset("quick", _tiny_values({"run_dir": str(run_dir), **(overrides or {}), **top}))


def tiny_run_flags(overrides: dict | None = None, /, **top) -> list[str]:
    """:data:`TINY_RUN` (with ``overrides`` and top-level fields) as command-line flags of the ``train/`` scripts."""
    from agents.config import flag

    flags = []
    for path, value in _tiny_values({**(overrides or {}), **top}).items():
        if isinstance(value, bool):
            flags.append(flag(path, negated=not value))
        else:
            flags += [flag(path), str(value)]
    return flags
