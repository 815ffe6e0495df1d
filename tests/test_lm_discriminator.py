"""The full-vocabulary discriminator (an LM q_φ trained by NCE against G): its logit, its optimum, its reward source
and its place in the pipeline (as the env's reward and as the reference trainer's teacher)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from agents.run.pipeline import run
from seqgan_env.discriminator import LMDiscriminator, LMDiscriminatorConfig, train_discriminator
from seqgan_env.env import SeqGANVectorEnv
from seqgan_env.generator import Generator, GeneratorConfig
from tests.helpers import tiny_run_config


def _kl(p: Generator, q: Generator, n: int = 4000) -> float:
    """KL(p ‖ q) per sequence, on samples of p."""
    x = p.sample(n, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((p.log_prob(x).sum(1) - q.log_prob(x).sum(1)).mean())


def test_logit_is_the_log_density_ratio_and_starts_at_zero():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(vocab_size=9, seq_len=5, emb_dim=8, hidden_dim=8))
    d = LMDiscriminator(LMDiscriminatorConfig(g.config))
    d.init_from(g)
    x = g.sample(16)
    torch.testing.assert_close(d.score(x), torch.full((16,), 0.5))
    other = Generator(g.config)
    d.lm.load_state_dict(other.state_dict())
    with torch.no_grad():
        want = other.log_prob(x).sum(1) - g.log_prob(x).sum(1)
    torch.testing.assert_close(d.logit(x), want)
    with pytest.raises(RuntimeError, match="set_noise"):
        LMDiscriminator(LMDiscriminatorConfig(g.config)).score(x)


def test_positions_after_eos_count_zero():
    g = Generator(GeneratorConfig(vocab_size=9, seq_len=5, emb_dim=8, hidden_dim=8, eos_token=1, pad_token=0))
    d = LMDiscriminator(LMDiscriminatorConfig(g.config))
    d.set_noise(Generator(g.config))
    x = torch.tensor([[3, 4, 1, 0, 0], [3, 4, 5, 6, 7]])
    logits = d.token_logits(x)
    assert (logits[0, 3:] == 0).all()
    assert logits[0, 2] != 0  # <eos> itself is scored


def test_nce_training_moves_q_toward_the_data():
    """NCE with G's samples as noise: its optimum is q_φ = p_data, so training D brings q_φ closer to the data
    distribution than the G it started from (KL(data ‖ q) falls)."""
    torch.manual_seed(0)
    cfg = GeneratorConfig(vocab_size=8, seq_len=4, emb_dim=16, hidden_dim=16)
    data_model, g = Generator(cfg), Generator(cfg)
    with torch.no_grad():
        data_model.proj.bias.copy_(2.0 * torch.randn(8, generator=torch.Generator().manual_seed(5)))  # far from G
    real = data_model.sample(4000, generator=torch.Generator().manual_seed(0))
    d = LMDiscriminator(LMDiscriminatorConfig(cfg, lr=1e-2))
    d.init_from(g)
    before = _kl(data_model, d.lm)
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    fake = g.sample(4000, generator=torch.Generator().manual_seed(2))
    train_discriminator(d, opt, real, fake, epochs=5, batch_size=128, generator=torch.Generator().manual_seed(3))
    after = _kl(data_model, d.lm)
    assert after < 0.5 * before
    assert float(d.score(real[:500]).mean()) > 0.5 > float(d.score(fake[:500]).mean())


def test_lm_reward_source_pays_log_q_and_rereads_a_retrained_d():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(vocab_size=11, seq_len=6, emb_dim=8, hidden_dim=8))
    d = LMDiscriminator(LMDiscriminatorConfig(g.config))
    d.init_from(g)
    env = SeqGANVectorEnv(num_envs=3, vocab_size=11, seq_len=6, reward_source="lm", discriminator=d, reward_mode="q")
    env.reset(seed=0)
    acts = np.array([1, 2, 3])
    rewards = []
    for t in range(6):
        if t == 3:  # retrained mid-episode: the rest is paid by the new q, the episode's total re-read with it
            other = Generator(g.config)
            d.lm.load_state_dict(other.state_dict())
            env.set_discriminator(d)
        _, r, _, _, info = env.step(acts)
        rewards.append(r)
    tokens = torch.tensor([[1] * 6, [2] * 6, [3] * 6])
    with torch.no_grad():
        lp = d.lm.log_prob(tokens)
    np.testing.assert_allclose(rewards[-1], lp[:, -1].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(info["final_info"]["lm_log_prob"], lp.sum(1).numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="reads an LMDiscriminator"):
        env.set_discriminator(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="d_reward='log_odds' transforms a learned D's probability"):
        SeqGANVectorEnv(num_envs=2, vocab_size=11, seq_len=6, reward_source="lm", d_reward="log_odds")


@pytest.mark.parametrize("agent", ["reinforce", "reference"])
def test_pipeline_trains_and_gauges_the_lm_discriminator(tmp_path, agent):
    overrides = {"env.reward_source": "lm", "disc.lm_lr": 1e-2, "disc.report_samples": 32, "disc.retrain_every": 1}
    if agent == "reinforce":
        overrides.update({"reinforce.reward_mode": "q", "adv.ent_coef": 1.0})
    summary = run(tiny_run_config(tmp_path / "r", overrides, agent=agent))
    hist = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    pre = [r for r in hist if r["phase"] == "d_pretrain"]
    rounds = [r for r in hist if r["phase"] == "d_round"]
    assert pre
    assert rounds
    for r in pre + rounds:  # gauged every D round: ranking against the true ratio, and KL(q ‖ oracle)
        assert -1.0 <= r["d_spearman_ratio"] <= 1.0
        assert r["d_kl_q_oracle"] >= 0.0
    assert np.isfinite(summary["final_kl_oracle"])
    ckpt = torch.load(tmp_path / "r" / "checkpoints" / "latest.pt", weights_only=True)
    assert set(ckpt["discriminator"]) == {f"lm.{k}" for k in ckpt["generator"]}  # q_φ only: G is not D's part


def test_lm_flags_are_refused_where_unused(tmp_path):
    with pytest.raises(ValueError, match="--disc.lm-lr: not used by this reinforce run with --env.reward-source "
                                         "rollout"):  # fmt: skip
        run(tiny_run_config(tmp_path / "r", {"disc.lm_lr": 1e-2}))
    with pytest.raises(ValueError, match="--env.n-rollouts: not used"):
        run(tiny_run_config(tmp_path / "r", {"env.reward_source": "lm", "env.n_rollouts": 4}))
