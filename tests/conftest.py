"""Tiny shared configs so every test runs in well under a second."""

from __future__ import annotations

import pytest
import torch

from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Oracle, OracleConfig

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


@pytest.fixture
def tiny_oracle() -> Oracle:
    return Oracle(OracleConfig(vocab_size=VOCAB, seq_len=SEQ_LEN, emb_dim=8, hidden_dim=8, seed=0))


TINY_RUN = dict(
    device="cpu", vocab_size=60, seq_len=6, n_train=256, n_test=64, gen_emb_dim=8, gen_hidden_dim=8,
    mle_epochs=2, mle_batch_size=32, disc_size="small", disc_emb_dim=8, d_negatives=128,
    d_pretrain_rounds=1, d_pretrain_epochs=1, adv_updates=4, batch_size=8, n_rollouts=2,
    d_every=2, d_rounds=1, d_epochs=1, eval_every=2, eval_samples=128, checkpoint_every=1, progress=False,
)  # fmt: skip
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
    if overrides.get("data") is not None:  # real text: the oracle's settings would be refused as ignored
        for name in ("vocab_size", "n_train", "n_test"):
            kw.pop(name)
    kw.update(overrides)
    return kw


def tiny_run_config(run_dir, **overrides):
    """:data:`TINY_RUN` as a config writing to ``run_dir``, with ``overrides``."""
    from agents.config import from_preset

    return from_preset("quick", **_tiny_values({"run_dir": str(run_dir), **overrides}))


def tiny_run_flags(**overrides) -> list[str]:
    """:data:`TINY_RUN` (with ``overrides``) as command-line flags of the ``train/`` scripts."""
    flags = []
    for key, value in _tiny_values(overrides).items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            flags += [flag, str(value)]
    return flags
