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
