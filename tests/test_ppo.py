from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import DiscriminatorCallback, EvalEveryKUpdates, RolloutPolicyCallback, get_generator
from agents.algorithms.ppo import make_ppo
from agents.config import from_preset
from agents.run.pipeline import run
from tests.helpers import (
    SEQ_LEN,
    VOCAB,
    oracle_eval,
    tiny_discriminator,
    tiny_generator,
    tiny_run_config,
    tiny_sb3_env,
)


def make_tiny_ppo(reward_mode="shaped", generator_state=None, overrides: dict | None = None):
    env = tiny_sb3_env(reward_mode)
    cfg = from_preset(
        "quick",
        {
            "task.seq_len": SEQ_LEN,
            "generator.emb_dim": 8,
            "generator.hidden_dim": 8,
            "ppo.n_steps": SEQ_LEN,
            "ppo.minibatch_size": 12,
            "ppo.n_epochs": 2,
            **(overrides or {}),
        },
        agent="ppo",
    )
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
    rows = []
    ev = EvalEveryKUpdates(oracle_eval(tiny_oracle, test), every=1, on_eval=rows.append)
    cbs = [RolloutPolicyCallback(), DiscriminatorCallback(d, train, every=1, rounds=1, epochs=1, n_negatives=32), ev]
    model.learn(4 * SEQ_LEN * 2, callback=cbs)
    core = model.env.venv.core
    assert core.discriminator is d
    assert core.rollout_policy is cbs[0].rollout_policy
    assert [h["update"] for h in rows] == [0, 1, 2]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.generator.parameters()))


def test_ppo_pipeline_starts_from_reinforce_pretrained_weights(tmp_path):
    run(tiny_run_config(tmp_path / "pre", {"adv.updates": 0}))
    summary = run(tiny_run_config(tmp_path / "ppo", pretrained=str(tmp_path / "pre"), agent="ppo"))
    hist = json.loads((Path(summary["run_dir"]) / "metrics.json").read_text())["history"]
    first_adv = next(r for r in hist if r["phase"] == "adversarial")
    pre = json.loads((tmp_path / "pre" / "metrics.json").read_text())["history"]
    assert first_adv["nll_oracle"] == pre[-1]["nll_oracle"]  # update 0 = the pretrained generator
    assert np.isfinite(summary["final_nll_oracle"])


def test_ppo_advantage_q_uses_the_papers_uncentred_weights_and_no_critic(tiny_oracle):
    """--ppo.advantage q: each advantage is the step's reward Q_t (γ = 0, value 0, no normalisation), the value
    path adds no parameters, and the actor is still exactly the generator."""
    import pytest

    train, _ = tiny_oracle.make_data(64, 32)
    g = tiny_generator(seed=2)
    model = make_tiny_ppo("q", g.state_dict(), {"ppo.reward_mode": "q", "ppo.advantage": "q"})
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
    with pytest.raises(ValueError, match="--ppo.advantage q needs --ppo.reward-mode q"):
        from_preset("quick", {"ppo.advantage": "q"})


def test_ppo_advantage_q_pipeline_resumes_exactly(tmp_path):
    kw = {"ppo.advantage": "q", "ppo.reward_mode": "q"}
    full = run(tiny_run_config(tmp_path / "full", {"adv.updates": 4, **kw}, agent="ppo"))
    run(tiny_run_config(tmp_path / "part", {"adv.updates": 2, **kw}, agent="ppo"))
    resumed = run(
        tiny_run_config(tmp_path / "part", {"adv.updates": 4, **kw}, resume=str(tmp_path / "part"), agent="ppo")
    )
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    assert resumed["final_nll_test"] == full["final_nll_test"]


def test_match_mle_diversity_tempers_the_final_generator_to_the_mle_validation_nll(tmp_path):
    """--adv.match-mle-diversity: the final G is the adversarial one with 1/T folded into its output layer, T the
    smallest ≥ 1 whose validation NLL is no worse than the MLE checkpoint's; a resume cannot extend it."""
    import pytest

    from agents.run.checkpoint import load_checkpoint
    from agents.run.rundir import saved_config
    from agents.run.task import build_task, generator_config
    from seqgan_env.generator import Generator
    from seqgan_env.metrics import nll_test

    kw = {
        "ppo.advantage": "q",
        "ppo.reward_mode": "q",
        "ppo.lr": 0.05,
        "task.n_valid": 64,
        "adv.match_mle_diversity": True,
    }
    summary = run(tiny_run_config(tmp_path / "r", {"adv.updates": 4, **kw}, agent="ppo"))
    hist = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    start = next(r for r in hist if r["phase"] == "adversarial")
    last_adv = [r for r in hist if r["phase"] == "adversarial"][-1]
    cal = hist[-1]
    assert cal["phase"] == "match_mle_diversity"
    assert summary["final_temperature"] == cal["temperature"] >= 1.0
    assert summary["final_nll_valid"] == cal["nll_valid"]
    if (
        last_adv["nll_valid"] > start["nll_valid"]
    ):  # G lost diversity: tempered towards the MLE's (crossing tested below)
        assert cal["temperature"] > 1.0
        assert cal["nll_valid"] < last_adv["nll_valid"]
    ckpt = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    cfg = saved_config(ckpt)
    task = build_task(cfg, torch.device("cpu"))
    gen = Generator(generator_config(cfg, task))
    gen.load_state_dict(ckpt["generator"])
    assert nll_test(gen.eval(), task.test) == pytest.approx(cal["nll_test"], abs=1e-9)
    with pytest.raises(ValueError, match="cannot take more updates"):
        run(tiny_run_config(tmp_path / "r", {"adv.updates": 6, **kw}, resume=str(tmp_path / "r"), agent="ppo"))
    with pytest.raises(ValueError, match="--adv.match-mle-diversity needs --task.n-valid"):
        from_preset("quick", {"adv.match_mle_diversity": True})


def test_matching_temperature_finds_the_crossing_and_folding_equals_sampling_hot():
    import pytest

    from seqgan_env.metrics import fold_temperature, matching_temperature, per_sequence_nll
    from seqgan_env.oracle import sequence_nll

    g = tiny_generator(seed=4)
    with torch.no_grad():
        g.proj.weight.mul_(3.0)  # a sharp generator: its NLL of uniform data falls as T grows
    data = torch.randint(0, VOCAB, (256, SEQ_LEN), generator=torch.Generator().manual_seed(0))
    assert sequence_nll(g, data, temperature=1.5) < sequence_nll(g, data, temperature=1.2)
    assert float(per_sequence_nll(g, data).mean()) == pytest.approx(sequence_nll(g, data), rel=1e-9)
    # reference: the same generator at T = 1.5, so the paired bound first reaches 0 exactly there
    t = matching_temperature(g, data, per_sequence_nll(g, data, 1.5))
    assert t == pytest.approx(1.5, abs=2e-4)
    assert matching_temperature(g, data, per_sequence_nll(g, data) + 1.0) == 1.0
    with pytest.raises(ValueError, match="one NLL per row"):
        matching_temperature(g, data, torch.zeros(3))
    with pytest.raises(ValueError, match="at least 2 rows"):
        matching_temperature(g, data[:1], torch.zeros(1))
    with pytest.raises(ValueError, match="max_temperature must be > 1"):
        matching_temperature(g, data, per_sequence_nll(g, data), max_temperature=1.0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        fold_temperature(g, 0.0)
    hot = sequence_nll(g, data, temperature=t)
    assert sequence_nll(fold_temperature(g, t), data) == pytest.approx(hot, rel=1e-6)


def test_callbacks_warn_when_sb3_discounts_the_shaped_reward():
    import warnings

    from agents.algorithms.callbacks import warn_if_discounted

    model = make_tiny_ppo(
        generator_state=tiny_generator().state_dict(),
    )
    assert model.gamma == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_discounted(model)  # γ = 1: silent
    model.gamma = 0.99  # SB3's default
    with pytest.warns(UserWarning, match="gamma=0.99, but SeqGAN-v0's 'shaped' rewards assume γ = 1"):
        model.learn(SEQ_LEN * 4, callback=[RolloutPolicyCallback()])
    q_model = make_tiny_ppo(reward_mode="q", generator_state=tiny_generator().state_dict())
    q_model.gamma = 0.99
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_discounted(q_model)  # Q_t is a per-step weight: γ is the user's choice
