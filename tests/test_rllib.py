"""RLlib scale-out (needs the ray extra): 2 env runners, D pushed to every runner."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("ray.rllib")


def test_rllib_two_runners_train_and_discriminator_stays_in_sync(tmp_path):
    from agents.config import from_preset
    from train.rllib_ppo import train

    cfg = from_preset(
        "quick", device="cpu", vocab_size=30, seq_len=5, n_train=128, n_test=32, gen_emb_dim=8, gen_hidden_dim=8,
        mle_epochs=1, disc_size="small", disc_emb_dim=8, d_negatives=64, d_pretrain_rounds=1, d_pretrain_epochs=1,
        batch_size=8, n_rollouts=2, d_every=1, d_rounds=1, d_epochs=1, eval_samples=64, progress=False,
    )  # fmt: skip
    result = train(cfg, tmp_path / "out", num_env_runners=2, iterations=2, address=None)
    assert result["runners_d_in_sync"]
    assert len(result["history"]) == 2
    assert all(r["nll_oracle"] > 0 for r in result["history"])
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["num_env_runners"] == 2


def test_rllib_env_creator_rejects_unknown_keys():
    from seqgan_env.rllib import env_creator

    with pytest.raises(ValueError, match="unknown SeqGAN-v0 env_config keys"):
        env_creator({"vocab_size": 10, "colour": "red"})


def test_rllib_env_creator_passes_env_kwargs():
    from seqgan_env.rllib import env_creator

    env = env_creator({"vocab_size": 10, "seq_len": 4, "n_rollouts": 2, "reward_mode": "q", "d_reward": "log_odds"})
    core = env.unwrapped.core
    assert (core.vocab_size, core.seq_len, core.n_rollouts, core.reward_mode) == (10, 4, 2, "q")
    assert core.reward.d_reward == "log_odds"
