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


def tiny_run_config(run_dir, **overrides):
    """A whole-pipeline config that runs in a couple of seconds."""
    from agents.config import from_preset

    kw = dict(
        device="cpu", vocab_size=60, seq_len=6, n_train=256, n_test=64, gen_emb_dim=8, gen_hidden_dim=8,
        mle_epochs=2, mle_batch_size=32, disc_size="small", disc_emb_dim=8, d_negatives=128,
        d_pretrain_rounds=1, d_pretrain_epochs=1, adv_updates=4, batch_size=8, n_rollouts=2,
        d_every=2, d_rounds=1, d_epochs=1, eval_every=2, eval_samples=128, checkpoint_every=1,
        progress=False, run_dir=str(run_dir),
    )  # fmt: skip
    if overrides.get("data") is not None:  # real text: the oracle's settings would be refused as ignored
        for name in ("vocab_size", "n_train", "n_test"):
            kw.pop(name)
    kw.update(overrides)
    return from_preset("quick", **kw)
