"""The env and its adapters take only what they can honour: injected parts are checked, actions and reset options are
refused or honoured, and SB3's and Gymnasium's one-liners work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from tests.helpers import VOCAB, tiny_env_kwargs


class _BadD:
    def __init__(self, fn):
        from tests.helpers import SEQ_LEN

        self.config = type("C", (), {"vocab_size": VOCAB, "seq_len": SEQ_LEN})()
        self.fn = fn

    def score(self, tokens):
        return self.fn(tokens)


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (lambda x: torch.full((x.shape[0],), 5.0), ValueError, r"probabilities in \[0, 1\], got 5.0"),
        (lambda x: torch.full((x.shape[0],), -1.0), ValueError, r"probabilities in \[0, 1\], got -1.0"),
        (lambda x: torch.zeros(x.shape[0], 2), TypeError, r"shape \(\d+,\).*got a torch.float32 tensor of shape"),
        (lambda x: torch.ones(x.shape[0], dtype=torch.long), TypeError, "must return a floating tensor"),
        (lambda x: [0.5] * x.shape[0], TypeError, "got list"),
    ],
)
def test_the_env_checks_what_an_injected_discriminator_returns(fn, error, message):
    env = SeqGANEnv(**tiny_env_kwargs(discriminator=_BadD(fn), reward_mode="q"))
    env.reset(seed=0)
    with pytest.raises(error, match=message):
        env.step(1)


def test_a_huge_action_is_reported_as_it_was_given():
    env = SeqGANEnv(**tiny_env_kwargs())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"got \[1.e\+30\]"):
        env.step(1e30)


def test_reset_options_are_honoured_or_refused():
    env = SeqGANEnv(**tiny_env_kwargs())
    with pytest.raises(ValueError, match="takes no reset options"):
        env.reset(options={"foo": 1})
    venv = SeqGANVectorEnv(num_envs=3, **tiny_env_kwargs(reward_mode="terminal"))
    with pytest.raises(ValueError, match="only 'reset_mask' is supported"):
        venv.reset(options={"foo": 1})
    venv.reset(seed=0)
    venv.step(np.array([1, 2, 3]))
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, True])})
    assert (obs[[0, 2]] == VOCAB).all()  # rows 0 and 2 start again
    assert obs[1, 0] == 2  # row 1 keeps its prefix
    with pytest.raises(ValueError, match="reset_mask must be a bool array of shape"):
        venv.reset(options={"reset_mask": np.array([1, 0, 1])})


@pytest.mark.filterwarnings("ignore:.*render_mode='rgb_array'")  # gymnasium's warning before SB3 falls back
def test_sb3_one_liners_work_on_seqgan_v0():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import seqgan_env  # noqa: F401  (registers SeqGAN-v0)

    small = {"vocab_size": 50, "seq_len": 4, "n_rollouts": 2, "reward_mode": "terminal"}
    venv = make_vec_env("SeqGAN-v0", n_envs=4, env_kwargs=small)
    assert venv.num_envs == 4
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=16, n_epochs=1, seed=0)
    model.learn(32)
    assert model.num_timesteps >= 32
    assert PPO("MlpPolicy", "SeqGAN-v0", n_steps=8, batch_size=8).env.num_envs == 1  # the default env, by its id


def test_sb3_adapter_keeps_q0_in_reset_infos():
    from seqgan_env.sb3 import SB3VecEnv

    env = SB3VecEnv(num_envs=3, seed=0, **tiny_env_kwargs(reward_mode="shaped"))
    env.reset()
    assert len(env.reset_infos) == 3
    assert all(0.0 <= i["q"] <= 1.0 for i in env.reset_infos)


def test_native_and_gymnasium_sync_vector_envs_agree_with_same_step_autoreset():
    import gymnasium

    import seqgan_env  # noqa: F401

    kw = {"vocab_size": 30, "seq_len": 3, "n_rollouts": 2, "reward_mode": "q"}
    native = gymnasium.make_vec("SeqGAN-v0", 2, vectorization_mode="vector_entry_point", **kw)
    sync = gymnasium.make_vec("SeqGAN-v0", 2, vectorization_mode="sync", **kw,
                              vector_kwargs={"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP})  # fmt: skip
    a, _ = native.reset(seed=0)
    b, _ = sync.reset(seed=0)
    np.testing.assert_array_equal(a, b)
    for t in range(7):
        acts = np.array([t % 30, (3 * t) % 30])
        oa, ra, da, _, _ = native.step(acts)
        ob, rb, db, _, _ = sync.step(acts)
        np.testing.assert_array_equal(oa, ob)
        np.testing.assert_array_equal(da, db)
        assert ra.dtype == rb.dtype == np.float64


def _small_seqgan_env():
    """A SeqGAN-v0 env built in a SubprocVecEnv's worker (which must import seqgan_env to find the id)."""
    import gymnasium

    import seqgan_env  # noqa: F401

    return gymnasium.make("SeqGAN-v0", vocab_size=60, seq_len=6, n_rollouts=2, reward_mode="q")


@pytest.mark.filterwarnings("ignore:.*render_mode='rgb_array'")
def test_the_callbacks_work_on_sb3s_own_vecenvs_or_say_what_they_need():
    """make_vec_env's DummyVecEnv of SeqGAN-v0 envs: the D and rollout-policy callbacks reach every env; MlpPolicy
    (no generator to sample D's negatives from) and SubprocVecEnv (envs in other processes) are one line each."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    import seqgan_env  # noqa: F401  (registers SeqGAN-v0)
    from agents import DiscriminatorCallback, RolloutPolicyCallback
    from agents.algorithms.policies import GeneratorActorCriticPolicy
    from tests.helpers import tiny_discriminator, tiny_generator

    small = {"vocab_size": 60, "seq_len": 6, "n_rollouts": 2, "reward_mode": "q"}
    venv = make_vec_env("SeqGAN-v0", n_envs=2, env_kwargs=small)
    gen_cfg = {"vocab_size": 60, "seq_len": 6, "emb_dim": 8, "hidden_dim": 8}
    model = PPO(GeneratorActorCriticPolicy, venv, n_steps=6, batch_size=12, n_epochs=1, gamma=1.0, seed=0,
                policy_kwargs={"generator_config": gen_cfg})  # fmt: skip
    disc = tiny_discriminator(vocab=60, seq_len=6)
    real = tiny_generator(vocab=60, seq_len=6).sample(32)
    callbacks = [RolloutPolicyCallback(), DiscriminatorCallback(disc, real, rounds=1, epochs=1, n_negatives=16)]
    model.learn(24, callback=callbacks)
    for env in venv.envs:
        assert env.unwrapped.core.source.get_discriminator() is disc
        assert env.unwrapped.core.policy is callbacks[0].rollout_policy
    mlp = PPO("MlpPolicy", make_vec_env("SeqGAN-v0", n_envs=2, env_kwargs=small), n_steps=6, batch_size=12)
    with pytest.raises(TypeError, match="DiscriminatorCallback samples D's negatives from the agent's generator"):
        mlp.learn(12, callback=DiscriminatorCallback(tiny_discriminator(vocab=60, seq_len=6), real, n_negatives=16))
    sub = SubprocVecEnv([_small_seqgan_env, _small_seqgan_env])
    try:
        remote = PPO(GeneratorActorCriticPolicy, sub, n_steps=6, batch_size=12,
                     policy_kwargs={"generator_config": gen_cfg})  # fmt: skip
        with pytest.raises(TypeError, match="runs its envs out of this process"):
            remote.learn(12, callback=RolloutPolicyCallback())
    finally:
        sub.close()


def test_hostile_env_inputs_are_one_clear_line_each():
    import gymnasium

    import seqgan_env  # noqa: F401
    from seqgan_env.sb3 import SB3VecEnv

    with pytest.raises(ValueError, match=r"vocab_size=1000000000, .* need at least .* GiB"):
        gymnasium.make("SeqGAN-v0", vocab_size=10**9)
    with pytest.raises(ValueError, match="n_rollouts=1000000000 need at least"):
        gymnasium.make_vec("SeqGAN-v0", num_envs=64, vocab_size=5000, n_rollouts=10**9)
    with pytest.raises(ValueError, match="seq_len=1000000000, n_rollouts=16 need at least"):
        gymnasium.make("SeqGAN-v0", seq_len=10**9)  # was killed by the kernel: the rollouts' token buffers
    env = gymnasium.make("SeqGAN-v0", vocab_size=20, seq_len=4, n_rollouts=1)
    with pytest.raises(ValueError, match="reset options must be a dict or None, got str 'garbage'"):
        env.reset(options="garbage")
    env.reset(seed=0)
    for bad in ([], [[3]], [1, 2]):
        with pytest.raises(ValueError, match="action must be a single token id"):
            env.step(bad)
    sb3 = SB3VecEnv(num_envs=4, vocab_size=20, seq_len=4, n_rollouts=1, seed=0)
    sb3.reset()
    with pytest.raises(ValueError, match=r"actions must hold one token id per env \(4\), got shape \(3,\)"):
        sb3.step(np.array([1, 2, 3]))


def test_a_meta_device_and_an_oracle_path_are_one_line_each():
    import gymnasium

    import seqgan_env  # noqa: F401

    with pytest.raises(ValueError, match="device must be a cpu or cuda device"):
        gymnasium.make("SeqGAN-v0", vocab_size=20, seq_len=4, device=torch.device("meta"))
    with pytest.raises(TypeError, match=r"got str \(a path: load it first with seqgan_env.Oracle.from_params"):
        gymnasium.make("SeqGAN-v0", vocab_size=20, seq_len=4, reward_source="perfect", oracle="oracle.npz")
