from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import seqgan_env
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.sb3 import SB3VecEnv
from tests.helpers import SEQ_LEN, VOCAB, tiny_discriminator, tiny_env_kwargs, tiny_generator


def run_episode(env, actions, seed):
    obs, info = env.reset(seed=seed)
    q0 = info.get("q")
    rewards, infos = [], []
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        infos.append(info)
    return q0, rewards, infos, term, trunc


def test_env_make_registered_default_builds():
    env = gymnasium.make("SeqGAN-v0")
    obs, info = env.reset(seed=0)
    assert obs.shape == (20,)
    assert env.action_space.n == 5000
    assert np.all(obs == 5000)
    assert 0.0 < info["q"] < 1.0


def test_env_passes_gymnasium_and_sb3_checkers_without_warnings():
    env = gymnasium.make("SeqGAN-v0", **tiny_env_kwargs()).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
        sb3_check_env(env, warn=True)


def test_env_seeded_runs_repeat_exactly():
    actions = [3, 1, 4, 1, 5, 9]
    a = run_episode(SeqGANEnv(**tiny_env_kwargs()), actions, seed=7)
    b = run_episode(SeqGANEnv(**tiny_env_kwargs()), actions, seed=7)
    c = run_episode(SeqGANEnv(**tiny_env_kwargs()), actions, seed=8)
    assert a[0] == b[0]
    assert a[1] == b[1]
    assert a[1] != c[1]


@pytest.mark.parametrize("mode", ["shaped", "q", "terminal"])
def test_env_episode_ends_at_seq_len_with_d_score(mode):
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode=mode))
    env.reset(seed=0)
    for t in range(SEQ_LEN):
        obs, r, term, trunc, info = env.step(t % VOCAB)
        assert np.isfinite(r)
        assert not trunc
        assert term == (t == SEQ_LEN - 1)
        assert list(obs[: t + 1]) == [i % VOCAB for i in range(t + 1)]
        assert np.all(obs[t + 1 :] == VOCAB)
    d = tiny_discriminator().score(torch.tensor([[t % VOCAB for t in range(SEQ_LEN)]]))
    assert info["d_score"] == pytest.approx(float(d), abs=1e-6)
    if mode == "terminal":
        assert r == pytest.approx(info["d_score"])


@pytest.mark.parametrize("d_reward", ["log_odds", "constant"])
@pytest.mark.parametrize("mode", ["shaped", "q", "terminal"])
def test_env_d_reward_sets_what_q_averages_and_d_score_stays_p_real(mode, d_reward):
    """log_odds: the final Q is log D/(1 − D); constant: every Q is 1 (shaped rewards then 0). d_score is D's P."""
    actions = [t % VOCAB for t in range(SEQ_LEN)]
    p = float(tiny_discriminator().score(torch.tensor([actions])))
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode=mode, d_reward=d_reward))
    _, rewards, infos, term, _ = run_episode(env, actions, seed=0)
    assert term
    assert infos[-1]["d_score"] == pytest.approx(p, abs=1e-6)
    final_q = np.log(p / (1 - p)) if d_reward == "log_odds" else 1.0
    assert infos[-1]["q"] == pytest.approx(final_q, abs=1e-4)
    if d_reward == "constant":
        expected = {"q": [1.0] * SEQ_LEN, "shaped": [0.0] * SEQ_LEN, "terminal": [0.0] * (SEQ_LEN - 1) + [1.0]}
        assert rewards == pytest.approx(expected[mode])
    elif mode != "shaped":
        assert rewards[-1] == pytest.approx(final_q, abs=1e-4)


def test_env_shaped_return_telescopes_to_d_score_minus_q0():
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode="shaped"))
    q0, rewards, infos, term, _ = run_episode(env, [5, 6, 7, 8, 9, 10], seed=3)
    assert term
    assert sum(rewards) == pytest.approx(infos[-1]["d_score"] - q0, abs=1e-5)


def test_env_q_mode_rewards_are_q_values():
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode="q"))
    _, rewards, infos, _, _ = run_episode(env, [1, 2, 3, 4, 5, 6], seed=3)
    assert rewards == pytest.approx([i["q"] for i in infos])


def test_env_q_is_mean_of_rollout_scores():
    """Q at the first step equals a direct Monte Carlo estimate with many rollouts, within noise."""
    g, d = tiny_generator(), tiny_discriminator()
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode="q", n_rollouts=4000))
    env.reset(seed=0)
    _, q, *_ = env.step(3)
    torch.manual_seed(1)
    state = g.advance(torch.tensor([3]), g.first_state(1))
    comp = g.rollout((state[0].repeat(4000, 1), state[1].repeat(4000, 1)), SEQ_LEN - 1)
    direct = d.score(torch.cat([torch.full((4000, 1), 3), comp], dim=1))
    assert q == pytest.approx(float(direct.mean()), abs=4 * float(direct.std()) / math.sqrt(4000) * 1.5)


def test_vector_env_with_one_env_matches_single_env_exactly():
    actions = [2, 3, 5, 7, 11, 13]
    single = run_episode(SeqGANEnv(**tiny_env_kwargs()), actions, seed=11)
    venv = gymnasium.make_vec("SeqGAN-v0", num_envs=1, **tiny_env_kwargs())
    assert isinstance(venv, SeqGANVectorEnv)
    vec = run_episode(venv, [[a] for a in actions], seed=11)
    assert single[0] == pytest.approx(float(vec[0][0]))
    assert single[1] == pytest.approx([float(r[0]) for r in vec[1]])


def test_vector_env_agrees_in_distribution_with_single_env():
    n = 256
    venv = SeqGANVectorEnv(num_envs=n, **tiny_env_kwargs(reward_mode="q"))
    venv.reset(seed=0)
    _, rv, *_ = venv.step(np.full(n, 4))
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode="q"))
    rs = []
    for s in range(n):
        env.reset(seed=1000 + s)
        rs.append(env.step(4)[1])
    rs = np.array(rs)
    se = math.sqrt(rv.var() / n + rs.var() / n)
    assert abs(rv.mean() - rs.mean()) < 4 * se + 1e-6


def test_vector_env_autoresets_on_the_last_step():
    venv = SeqGANVectorEnv(num_envs=3, **tiny_env_kwargs())
    venv.reset(seed=0)
    for _ in range(SEQ_LEN):
        obs, r, term, trunc, info = venv.step(np.array([1, 2, 3]))
    assert term.all()
    assert not trunc.any()
    assert np.all(obs == VOCAB)  # first observation of the next episodes
    assert np.array_equal(info["final_obs"][:, 0], [1, 2, 3])
    assert "d_score" in info["final_info"]


def test_vector_env_next_step_autoreset_matches_gymnasiums_sync_vector_env():
    kw = tiny_env_kwargs(reward_mode="shaped")
    ours = SeqGANVectorEnv(num_envs=3, autoreset_mode="next_step", **kw)
    theirs = gymnasium.make_vec("SeqGAN-v0", 3, vectorization_mode="sync", **kw)  # Gymnasium's default: next step
    assert (
        ours.metadata["autoreset_mode"] == theirs.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.NEXT_STEP
    )
    a, _ = ours.reset(seed=0)
    b, _ = theirs.reset(seed=0)
    assert np.array_equal(a, b)
    for t in range(2 * SEQ_LEN + 3):
        actions = np.array([1, 2, 3]) + t % 4
        a, ra, ta, _, ia = ours.step(actions)
        b, rb, tb, _, ib = theirs.step(actions)
        assert np.array_equal(a, b), t  # the same observations: the last one of an episode, then a fresh start
        assert np.array_equal(ta, tb), t
        if t in (SEQ_LEN, 2 * SEQ_LEN + 1):  # the reset steps: actions ignored, reward 0
            assert np.all(ra == 0)
            assert np.all(rb == 0)
            assert np.all(a == VOCAB)
            assert "q" in ia  # Q_0 of the new episodes, as at reset()
        assert ra.dtype == rb.dtype == np.float64
    with pytest.raises(ValueError, match="reset_mask must be all True"):
        ours.reset(options={"reset_mask": np.array([True, False, True])})
    eos = Generator(GeneratorConfig(vocab_size=VOCAB, seq_len=SEQ_LEN, emb_dim=8, hidden_dim=8, eos_token=1))
    with pytest.raises(ValueError, match="needs episodes that all end together"):
        SeqGANVectorEnv(num_envs=2, autoreset_mode="next_step", **tiny_env_kwargs(rollout_policy=eos))
    with pytest.raises(ValueError, match="autoreset_mode must be one of"):
        SeqGANVectorEnv(num_envs=2, autoreset_mode="sometimes", **kw)


def test_sb3_adapter_steps_all_envs_and_reports_terminal_observation():
    venv = SB3VecEnv(num_envs=4, seed=0, **tiny_env_kwargs())
    obs = venv.reset()
    assert obs.shape == (4, SEQ_LEN)
    for _ in range(SEQ_LEN):
        obs, rew, dones, infos = venv.step(np.array([0, 1, 2, 3]))
    assert dones.all()
    assert np.array_equal(infos[2]["terminal_observation"], np.full(SEQ_LEN, 2))
    assert 0 <= infos[0]["d_score"] <= 1


def test_env_render_ansi_shows_tokens():
    env = SeqGANEnv(**tiny_env_kwargs(), render_mode="ansi")
    env.reset(seed=0)
    env.step(12)
    env.step(34)
    assert env.render().strip() == "12 34"


def test_env_set_parts_plugs_in_new_discriminator():
    env = SeqGANEnv(**tiny_env_kwargs(reward_mode="terminal"))

    class Half:
        config = tiny_discriminator().config

        def score(self, tokens):
            return torch.full((tokens.shape[0],), 0.5)

    env.set_discriminator(Half())
    env.reset(seed=0)
    for _ in range(SEQ_LEN):
        _, r, *_ = env.step(0)
    assert r == 0.5


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vocab_size": 0}, "vocab_size must be a positive int"),
        ({"seq_len": -1}, "seq_len must be a positive int"),
        ({"n_rollouts": 0}, "n_rollouts must be a positive int"),
        ({"reward_mode": "dense"}, r"reward_mode must be one of \('shaped', 'q', 'terminal'\)"),
        ({"d_reward": "logit"}, r"d_reward must be one of \('prob', 'log_odds', 'constant'\)"),
        ({"discriminator": tiny_discriminator(vocab=41)}, "discriminator has vocab_size=41"),
        ({"rollout_policy": tiny_generator(seq_len=7)}, "rollout_policy has vocab_size=40, seq_len=7"),
        ({"rollout_policy": object()}, "rollout_policy must be a seqgan_env.Generator"),
        ({"discriminator": object()}, "discriminator must have a score"),
        ({"device": "tpu"}, "device must be one of"),
        ({"render_mode": "human"}, "render_mode must be None or one of"),
    ],
)
def test_env_bad_kwargs_raise_clear_error(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SeqGANEnv(**tiny_env_kwargs(**kwargs))


@pytest.mark.parametrize("action", [-1, VOCAB, 2.5, "a", np.array([1, 2])])
def test_env_out_of_space_action_raises(action):
    env = SeqGANEnv(**tiny_env_kwargs())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must"):
        env.step(action)


def test_env_step_before_reset_and_after_end_raise():
    env = SeqGANEnv(**tiny_env_kwargs())
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(SEQ_LEN):
        env.step(0)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(0)


def test_vector_env_wrong_action_shape_raises():
    venv = SeqGANVectorEnv(num_envs=3, **tiny_env_kwargs())
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(3,\)"):
        venv.step(np.zeros(2, dtype=int))


def test_package_exports_version():
    assert seqgan_env.__version__
