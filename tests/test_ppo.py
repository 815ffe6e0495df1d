from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecMonitor

from agents import DiscriminatorCallback, OracleEvalCallback, RolloutPolicyCallback, get_generator
from agents.config import from_preset
from agents.pipeline import run
from agents.ppo import make_ppo
from seqgan_env.sb3 import SB3VecEnv
from tests.conftest import SEQ_LEN, VOCAB, tiny_discriminator, tiny_env_kwargs, tiny_generator, tiny_run_config


def make_tiny_ppo(reward_mode="shaped", generator_state=None, **overrides):
    env = VecMonitor(SB3VecEnv(num_envs=4, seed=0, **tiny_env_kwargs(reward_mode=reward_mode)))
    cfg = from_preset("quick", seq_len=SEQ_LEN, gen_emb_dim=8, gen_hidden_dim=8, ppo_n_steps=SEQ_LEN,
                      ppo_batch_size=12, ppo_n_epochs=2, **overrides)  # fmt: skip
    return make_ppo(env, cfg, generator_state, device="cpu")


def test_ppo_action_distribution_equals_generator():
    g = tiny_generator(seed=5)
    model = make_tiny_ppo(generator_state=g.state_dict())
    prefixes = torch.randint(0, VOCAB, (5, SEQ_LEN))
    for t in range(SEQ_LEN):
        obs = prefixes.clone()
        obs[:, t:] = VOCAB  # prefix of length t
        dist = model.policy.get_distribution(obs.float())
        probs = dist.distribution.probs
        state = g.first_state(5)
        for k in range(t):
            state = g.advance(prefixes[:, k], state)
        expected = torch.softmax(g.logits_from_state(state), -1)
        torch.testing.assert_close(probs, expected, atol=1e-5, rtol=1e-4)
    assert get_generator(model) is model.policy.generator


def test_ppo_learn_smoke_with_shared_callbacks(tiny_oracle):
    train, test = tiny_oracle.make_data(64, 32)
    model = make_tiny_ppo(generator_state=tiny_generator().state_dict())
    d = tiny_discriminator()
    before = [p.clone() for p in model.policy.generator.parameters()]
    ev = OracleEvalCallback(tiny_oracle, test, every=1, n_samples=64)
    cbs = [RolloutPolicyCallback(), DiscriminatorCallback(d, train, every=1, rounds=1, epochs=1, n_negatives=32), ev]
    model.learn(4 * SEQ_LEN * 2, callback=cbs)
    core = model.env.venv.core
    assert core.discriminator is d
    assert core.rollout_policy is cbs[0].rollout_policy
    assert [h["update"] for h in ev.history] == [0, 1, 2]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.generator.parameters()))


def test_ppo_pipeline_starts_from_reinforce_pretrained_weights(tmp_path):
    run(tiny_run_config(tmp_path / "pre", adv_updates=0), "reinforce")
    summary = run(tiny_run_config(tmp_path / "ppo", pretrained=str(tmp_path / "pre")), "ppo")
    hist = json.loads((Path(summary["run_dir"]) / "metrics.json").read_text())["history"]
    first_adv = next(r for r in hist if r["phase"] == "adversarial")
    pre = json.loads((tmp_path / "pre" / "metrics.json").read_text())["history"]
    assert first_adv["nll_oracle"] == pre[-1]["nll_oracle"]  # update 0 = the pretrained generator
    assert np.isfinite(summary["final_nll_oracle"])


def test_ppo_advantage_q_uses_the_papers_uncentred_weights_and_no_critic(tiny_oracle):
    """--ppo-advantage q: each advantage is the step's reward Q_t (γ = 0, value 0, no normalisation), the value
    path adds no parameters, and the actor is still exactly the generator."""
    import pytest

    train, _ = tiny_oracle.make_data(64, 32)
    g = tiny_generator(seed=2)
    model = make_tiny_ppo("q", g.state_dict(), ppo_reward_mode="q", ppo_advantage="q")
    assert (model.gamma, model.normalize_advantage, model.vf_coef) == (0.0, False, 0.0)
    critic = make_tiny_ppo("q", g.state_dict())
    n_params = lambda m: sum(p.numel() for p in m.policy.parameters())  # noqa: E731
    assert n_params(model) == sum(p.numel() for p in g.parameters()) < n_params(critic)
    model.learn(4 * SEQ_LEN, callback=[DiscriminatorCallback(tiny_discriminator(), train, every=1, rounds=1,
                                                             epochs=1, n_negatives=32)])  # fmt: skip
    buf = model.rollout_buffer
    assert buf.rewards.min() > 0  # Q_t: mean D-scores
    np.testing.assert_allclose(buf.advantages, buf.rewards.swapaxes(0, 1).reshape(-1, 1), rtol=1e-6)  # flattened
    assert not np.any(buf.values)
    with pytest.raises(ValueError, match="--ppo-advantage q needs --ppo-reward-mode q"):
        from_preset("quick", ppo_advantage="q")


def test_ppo_advantage_q_pipeline_resumes_exactly(tmp_path):
    kw = dict(ppo_advantage="q", ppo_reward_mode="q")
    full = run(tiny_run_config(tmp_path / "full", adv_updates=4, **kw), "ppo")
    run(tiny_run_config(tmp_path / "part", adv_updates=2, **kw), "ppo")
    resumed = run(tiny_run_config(tmp_path / "part", resume=str(tmp_path / "part"), adv_updates=4, **kw), "ppo")
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    assert resumed["final_nll_test"] == full["final_nll_test"]
