"""The suite's pytest fixtures (the helpers they build on are in tests/helpers.py)."""

from __future__ import annotations

import pytest

from seqgan_env import Oracle, OracleConfig
from tests.helpers import SEQ_LEN, VOCAB


@pytest.fixture
def tiny_oracle() -> Oracle:
    return Oracle(OracleConfig(vocab_size=VOCAB, seq_len=SEQ_LEN, emb_dim=8, hidden_dim=8, seed=0))
