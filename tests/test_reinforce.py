from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from agents import (
    DiscriminatorCallback,
    EvalEveryKUpdates,
    Reinforce,
    RolloutPolicyCallback,
    SaveEveryKUpdates,
    get_generator,
)
from agents.algorithms.reinforce import reinforce_loss, returns_to_go
from tests.helpers import (
    SEQ_LEN,
    VOCAB,
    oracle_eval,
    tiny_discriminator,
    tiny_sb3_env,
)

ROOT = Path(__file__).resolve().parents[1]
GEN_KW = {"generator_config": {"vocab_size": VOCAB, "seq_len": SEQ_LEN, "emb_dim": 8, "hidden_dim": 8}}


def make_agent(reward_mode="q", **kw):
    env = tiny_sb3_env(reward_mode)
    return Reinforce("GeneratorPolicy", env, policy_kwargs=GEN_KW, seed=0, **kw)


# ---------------------------------------------------------------- the loss
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_reinforce_loss_equals_paper_formula_on_hand_made_batch(reduction):
    agent = make_agent("q", loss_reduction=reduction)
    tokens = torch.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]])
    q = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    loss, _ = agent.compute_loss(tokens, q)
    gen = agent.policy.generator
    # -Σ_t Q(Y_1:t-1, y_t) log G(y_t | Y_1:t-1), computed token by token with the step API
    manual = torch.zeros(())
    for b in range(2):
        state = gen.first_state(1)
        for t in range(SEQ_LEN):
            logp = torch.log_softmax(gen.logits_from_state(state), -1)[0, tokens[b, t]]
            manual = manual - q[b, t] * logp
            state = gen.advance(tokens[b, t : t + 1], state)
    if reduction == "mean":
        manual = manual / tokens.numel()
    torch.testing.assert_close(loss, manual, atol=1e-5, rtol=1e-5)


def test_reinforce_kl_penalty_adds_the_sampled_kl_still_to_come():
    """With kl_coef β and a reference G_ref, weight_t = Q_t − β Σ_{k≥t} (log G(y_k) − log G_ref(y_k))."""
    from seqgan_env.generator import Generator, GeneratorConfig

    torch.manual_seed(3)
    reference = Generator(GeneratorConfig(**GEN_KW["generator_config"]))
    plain, penalised = make_agent("q", loss_reduction="sum"), make_agent("q", loss_reduction="sum", kl_coef=0.5,
                                                                        reference=reference)  # fmt: skip
    penalised.policy.load_state_dict(plain.policy.state_dict())
    tokens = torch.tensor([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]])
    q = torch.rand(2, SEQ_LEN)
    with torch.no_grad():
        log_ratio = plain.policy.generator.log_prob(tokens) - reference.log_prob(tokens)
    expected, _ = plain.compute_loss(tokens, q - 0.5 * log_ratio.flip(1).cumsum(1).flip(1))
    loss, stats = penalised.compute_loss(tokens, q)
    torch.testing.assert_close(loss, expected)
    assert stats["kl"] == pytest.approx(float(log_ratio.sum(1).mean()), abs=1e-5)
    same = make_agent("q", kl_coef=1.0, reference=plain.policy.generator)  # G = G_ref: no penalty
    same.policy.load_state_dict(plain.policy.state_dict())
    torch.testing.assert_close(same.compute_loss(tokens, q)[0], plain.compute_loss(tokens, q)[0] / tokens.numel())
    with pytest.raises(ValueError, match="kl_coef > 0 needs a reference generator"):
        make_agent("q", kl_coef=1.0).compute_loss(tokens, q)
    with pytest.raises(ValueError, match="reference must be a Generator with vocab_size"):
        make_agent("q", kl_coef=1.0, reference=Generator(GeneratorConfig(vocab_size=VOCAB + 1, seq_len=SEQ_LEN)))


def test_reinforce_shaped_mode_weights_are_returns_to_go():
    r = torch.tensor([[1.0, 2.0, 3.0]])
    torch.testing.assert_close(returns_to_go(r), torch.tensor([[6.0, 5.0, 3.0]]))
    lp = torch.tensor([[-1.0, -2.0]])
    assert reinforce_loss(lp, torch.tensor([[2.0, 3.0]]), "sum").item() == pytest.approx(8.0)


@pytest.mark.parametrize("baseline", ["none", "mean", "value"])
def test_reinforce_learn_updates_generator(baseline):
    agent = make_agent("shaped", baseline=baseline, ent_coef=0.01)
    before = [p.clone() for p in agent.policy.generator.parameters()]
    agent.learn(4 * SEQ_LEN * 2)
    assert agent._n_updates == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.generator.parameters()))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline": "critic"}, "baseline must be one of"),
        ({"loss_reduction": "max"}, "loss_reduction must be one of"),
        ({"learning_rate": -1.0}, "learning_rate must be > 0"),
        ({"max_grad_norm": 0.0}, "max_grad_norm must be > 0"),
        ({"kl_coef": -0.1}, "kl_coef must be >= 0"),
    ],
)
def test_reinforce_bad_kwargs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_agent(**kwargs)


def test_reinforce_learn_rejects_non_positive_timesteps():
    with pytest.raises(ValueError, match="total_timesteps must be a positive int"):
        make_agent().learn(-5)


def test_reinforce_save_load_predict(tmp_path):
    agent = make_agent()
    agent.learn(4 * SEQ_LEN)
    agent.save(tmp_path / "agent.zip")
    loaded = Reinforce.load(tmp_path / "agent.zip", env=agent.env)
    for a, b in zip(agent.policy.parameters(), loaded.policy.parameters()):
        assert torch.equal(a, b)
    obs = agent.env.reset()
    act, _ = loaded.predict(obs, deterministic=True)
    assert act.shape == (4,)
    assert np.array_equal(act, agent.predict(obs, deterministic=True)[0])


# ---------------------------------------------------------------- callbacks
def test_discriminator_callback_retrains_and_plugs_d(tiny_oracle):
    train, _ = tiny_oracle.make_data(64, 16)
    agent = make_agent()
    d = tiny_discriminator(seed=3)
    before = [p.clone() for p in d.parameters()]
    cb = DiscriminatorCallback(d, train, every=1, rounds=1, epochs=1, n_negatives=32)
    agent.learn(4 * SEQ_LEN * 2, callback=cb)
    assert agent.env.venv.core.discriminator is d
    assert any(not torch.equal(a, b) for a, b in zip(before, d.parameters()))


def test_rollout_policy_callback_copies_generator_with_beta_zero():
    agent = make_agent()
    cb = RolloutPolicyCallback(beta=0.0)
    agent.learn(4 * SEQ_LEN * 2, callback=cb)
    policy = agent.env.venv.core.rollout_policy
    assert policy is cb.rollout_policy
    assert policy is not agent.policy.generator
    # synced at the start of update 2, i.e. to G after update 1; one more sync makes it equal to G now
    cb._on_update(99)
    for a, b in zip(policy.parameters(), agent.policy.generator.parameters()):
        assert torch.equal(a, b)


def test_rollout_policy_callback_delayed_update_is_a_blend():
    agent = make_agent()
    cb = RolloutPolicyCallback(beta=0.5)
    agent.learn(4 * SEQ_LEN, callback=cb)
    old = [p.clone() for p in cb.rollout_policy.parameters()]
    cb._on_update(1)
    for o, new, g in zip(old, cb.rollout_policy.parameters(), get_generator(agent).parameters()):
        torch.testing.assert_close(new, 0.5 * o + 0.5 * g)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        RolloutPolicyCallback(beta=1.0)


def test_eval_callback_evaluates_at_start_every_k_and_at_the_end(tiny_oracle):
    _, test = tiny_oracle.make_data(16, 32)
    rows = []
    cb = EvalEveryKUpdates(oracle_eval(tiny_oracle, test), every=1, on_eval=rows.append)
    make_agent().learn(4 * SEQ_LEN * 2, callback=cb)
    assert [h["update"] for h in rows] == [0, 1, 2]
    assert all(np.isfinite(h["nll_oracle"]) and np.isfinite(h["nll_test"]) for h in rows)


def test_checkpoint_callback_calls_save_every_k(tmp_path):
    calls = []
    cb = SaveEveryKUpdates(lambda m: calls.append(m.num_timesteps), every=2)
    make_agent().learn(4 * SEQ_LEN * 3, callback=cb)
    assert calls == [4 * SEQ_LEN * 2, 4 * SEQ_LEN * 3]  # after update 2, and at the end


def test_callback_bad_arguments(tiny_oracle):
    train, _ = tiny_oracle.make_data(16, 16)
    with pytest.raises(ValueError, match="every must be a positive int"):
        DiscriminatorCallback(tiny_discriminator(), train, every=0)
    with pytest.raises(ValueError, match="real_data has length"):
        DiscriminatorCallback(tiny_discriminator(), train[:, :3])
    with pytest.raises(TypeError, match=r"discriminator must be a seqgan_env\.Discriminator"):
        DiscriminatorCallback(object(), train)
