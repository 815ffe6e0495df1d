"""Variable-length episodes: real-text sequences end at <eos>, and everything after it is padding."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from agents.algorithms.reinforce import Reinforce
from seqgan_env import Generator, GeneratorConfig
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from seqgan_env.generator import mle_step, valid_mask
from seqgan_env.oracle import sequence_nll
from seqgan_env.rollout import RolloutReward
from seqgan_env.sb3 import SB3VecEnv
from tests.helpers import tiny_discriminator

V, T, PAD, EOS = 12, 6, 0, 1


def eos_generator(seed: int = 0, eos_logit: float | None = None) -> Generator:
    """A tiny generator whose sequences end at token 1; ``eos_logit`` biases how often it writes <eos>."""
    torch.manual_seed(seed)
    gen = Generator(GeneratorConfig(V, T, emb_dim=8, hidden_dim=8, eos_token=EOS, pad_token=PAD))
    if eos_logit is not None:
        with torch.no_grad():
            gen.proj.bias[EOS] = eos_logit
    return gen


class FirstTokenD:
    """A deterministic 'discriminator' scoring a sequence by its first token (records what it saw)."""

    def __init__(self) -> None:
        self.config = GeneratorConfig(V, T)
        self.seen: list[torch.Tensor] = []

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        self.seen.append(tokens.clone())
        return tokens[:, 0].float() / V


def eos_vector_env(num_envs: int, reward_mode: str = "q") -> SeqGANVectorEnv:
    return SeqGANVectorEnv(
        num_envs=num_envs, vocab_size=V, seq_len=T, n_rollouts=2, reward_mode=reward_mode,
        discriminator=tiny_discriminator(vocab=V, seq_len=T), rollout_policy=eos_generator(),
    )  # fmt: skip


def assert_padded_after_eos(seqs: torch.Tensor) -> None:
    after = ~valid_mask(seqs, EOS)
    assert (seqs[after] == PAD).all()


def test_valid_mask_keeps_tokens_up_to_first_eos():
    tokens = torch.tensor([[5, 1, 0, 0], [5, 6, 7, 8], [1, 0, 0, 0]])
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(valid_mask(tokens, EOS), expected)
    assert valid_mask(tokens, None).all()


def test_generator_samples_pad_after_eos_and_rollout_respects_finished():
    gen = eos_generator(eos_logit=2.0)
    seqs = gen.sample(500, generator=torch.Generator().manual_seed(0))
    assert (seqs == EOS).any(), "the test needs sequences that end early"
    assert_padded_after_eos(seqs)
    finished = torch.tensor([True, False] * 50)
    out = gen.rollout(gen.first_state(100), 4, finished=finished, generator=torch.Generator().manual_seed(1))
    assert (out[finished] == PAD).all()
    assert_padded_after_eos(torch.cat([torch.full((100, 1), 5), out], dim=1))


def test_generator_config_rejects_bad_end_tokens():
    with pytest.raises(ValueError, match="eos_token must be in"):
        GeneratorConfig(V, T, eos_token=V)
    with pytest.raises(ValueError, match="eos_token and pad_token must differ"):
        GeneratorConfig(V, T, eos_token=0, pad_token=0)


def test_mle_and_nll_exclude_padding_after_eos():
    gen = eos_generator()
    data = torch.tensor([[4, 5, 1, 0, 0, 0], [6, 1, 0, 0, 0, 0]])
    lp = gen.log_prob(data).detach()
    mask = valid_mask(data, EOS)
    assert sequence_nll(gen, data) == pytest.approx(float(-(lp * mask).sum() / mask.sum()), rel=1e-6)
    opt = torch.optim.SGD(gen.parameters(), lr=0.0)
    assert mle_step(gen, opt, data) == pytest.approx(float(-(lp * mask).sum() / mask.sum()), rel=1e-5)


def test_q_rows_fills_each_row_from_its_own_length():
    gen, d = eos_generator(eos_logit=-30.0), FirstTokenD()  # never <eos>: every completion is filled
    reward = RolloutReward(gen, d, n_rollouts=3)
    tokens = torch.tensor([[7, 8, 9, 9, 9, 9], [3, 4, 5, 6, 9, 9], [2, 2, 2, 2, 2, 2]])
    lengths = torch.tensor([2, 4, 6])
    state = tuple(torch.zeros(3, 8) for _ in range(2))
    q = reward.q_rows(tokens, lengths, state, torch.Generator().manual_seed(0))
    torch.testing.assert_close(q, tokens[:, 0].float() / V)  # D only looks at the first token
    full = d.seen[-1].view(3, 3, T)
    for row, n in enumerate(lengths.tolist()):
        assert (full[row, :, :n] == tokens[row, :n]).all()  # the prefix is kept
    assert not (full[0, :, 2:] == 9).all(), "positions after the prefix must be sampled, not left stale"


def test_q_of_a_prefix_ending_with_eos_is_d_of_the_padded_sentence():
    gen, d = eos_generator(), tiny_discriminator(vocab=V, seq_len=T)
    env = SeqGANEnv(vocab_size=V, seq_len=T, n_rollouts=4, reward_mode="q", discriminator=d, rollout_policy=gen)
    env.reset(seed=0)
    env.step(5)
    obs, reward, terminated, truncated, info = env.step(EOS)
    assert terminated
    assert not truncated
    assert obs.tolist() == [5, EOS, V, V, V, V]  # positions never written stay "no token yet"
    expected = float(d.score(torch.tensor([[5, EOS, PAD, PAD, PAD, PAD]]))[0])
    assert reward == pytest.approx(expected, rel=1e-6)
    assert info["d_score"] == pytest.approx(expected, rel=1e-6)
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(3)


@pytest.mark.parametrize("mode", ["q", "shaped", "terminal"])
def test_single_env_with_eos_passes_checker_and_ends_early(mode):
    env = SeqGANEnv(vocab_size=V, seq_len=T, n_rollouts=2, reward_mode=mode,
                    discriminator=tiny_discriminator(vocab=V, seq_len=T), rollout_policy=eos_generator())  # fmt: skip
    check_env(env, skip_render_check=True)
    _, reset_info = env.reset(seed=1)
    total = 0.0
    for t in range(T):
        _, r, terminated, _, info = env.step(EOS if t == 2 else 4)
        total += r
        if terminated:
            break
    assert t == 2
    assert "d_score" in info
    if mode == "terminal":  # the return is D's score of the sentence
        assert total == pytest.approx(info["d_score"], abs=1e-6)
    elif mode == "shaped":  # ... minus Q_0
        assert total == pytest.approx(info["d_score"] - reset_info["q"], abs=1e-5)


def test_vector_env_rows_end_and_reset_independently():
    venv = eos_vector_env(3)
    venv.reset(seed=0)
    venv.step(np.array([4, 4, 4]))
    obs, _, term, _, info = venv.step(np.array([EOS, 5, 5]))  # row 0 ends at t=2
    assert term.tolist() == [True, False, False]
    assert info["_final_obs"].tolist() == [True, False, False]
    assert info["final_obs"][0].tolist() == [4, EOS, V, V, V, V]
    assert "d_score" not in info  # the step info of the ended row moved to final_info
    assert info["_q"].tolist() == [False, True, True]
    assert info["final_info"]["_d_score"].tolist() == [True, False, False]
    assert obs[0].tolist() == [V] * T  # row 0 restarted
    assert obs[1].tolist() == [4, 5, V, V, V, V]  # the others continue
    obs, _, term, _, _ = venv.step(np.array([6, EOS, 6]))
    assert term.tolist() == [False, True, False]
    assert obs[0].tolist() == [6, V, V, V, V, V]
    assert obs[1].tolist() == [V] * T
    assert obs[2].tolist() == [4, 5, 6, V, V, V]


def test_sb3_adapter_reports_terminal_observation_only_for_ended_rows():
    venv = eos_vector_env(2)
    env = SB3VecEnv(venv, seed=0)
    env.reset()
    _, _, dones, infos = env.step(np.array([EOS, 4]))
    assert dones.tolist() == [True, False]
    assert "terminal_observation" in infos[0]
    assert "terminal_observation" not in infos[1]
    assert "d_score" in infos[0]
    assert "d_score" not in infos[1]
    assert "q" in infos[1]


def test_make_vec_on_a_corpus_ends_episodes_at_eos(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c .\nb c .\nc a b a .\n" * 10, encoding="utf-8")
    venv = gymnasium.make_vec("SeqGAN-v0", num_envs=4, corpus=str(path), seq_len=8, n_rollouts=2, reward_mode="q")
    obs, _ = venv.reset(seed=0)
    eos = venv.unwrapped.corpus.vocab.eos_id if hasattr(venv, "unwrapped") else 1
    _, _, term, _, _ = venv.step(np.array([eos, 3, 3, eos]))
    assert term.tolist() == [True, False, False, True]


def test_reinforce_batch_stops_at_eos_and_masks_padding():
    gen = eos_generator(eos_logit=2.0)
    venv = SeqGANVectorEnv(num_envs=16, vocab_size=V, seq_len=T, n_rollouts=2, reward_mode="q",
                           discriminator=tiny_discriminator(vocab=V, seq_len=T), rollout_policy=gen)  # fmt: skip
    model = Reinforce("GeneratorPolicy", SB3VecEnv(venv, seed=0), seed=0, loss_reduction="sum",
                      policy_kwargs={"generator_config": vars(gen.config).copy()})  # fmt: skip
    model.policy.generator.load_state_dict(gen.state_dict())
    model._setup_learn(16 * T, None)
    tokens, rewards = model.collect_rollouts(_NoCallback(model))
    assert (tokens == EOS).any()
    assert_padded_after_eos(tokens)
    assert (rewards[~valid_mask(tokens, EOS)] == 0).all()
    assert model.num_timesteps == 16 * T  # a batch counts in full even when it ended early
    # Padding after <eos> is not an action: changing the rewards there changes nothing.
    loss, _ = model.compute_loss(tokens, rewards)
    noisy = rewards + (~valid_mask(tokens, EOS)).float() * 100.0
    loss2, _ = model.compute_loss(tokens, noisy)
    assert loss.item() == pytest.approx(loss2.item())


class _NoCallback:
    def __init__(self, model: Reinforce) -> None:
        from stable_baselines3.common.callbacks import CallbackList

        self.inner = CallbackList([])
        self.inner.init_callback(model)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_core_restore_continues_episodes_and_rejects_bad_positions():
    venv = eos_vector_env(2)
    venv.reset(seed=0)
    venv.step(np.array([4, 5]))
    tokens, pos = venv.core.tokens.clone(), venv.core.pos.clone()
    state = tuple(x.clone() for x in venv.core.state)
    other = eos_vector_env(2)
    other.reset(seed=0)
    other.core.restore(tokens, pos)
    torch.testing.assert_close(other.core.state[0], state[0])
    assert (other.core.observation() == venv.core.observation()).all()
    with pytest.raises(ValueError, match="pos must be in"):
        other.core.restore(tokens, torch.tensor([T, 0]))
    with pytest.raises(ValueError, match="tokens must be"):
        other.core.restore(tokens[:1], pos)


def test_vector_env_terminal_mode_reports_q_only_for_ended_rows():
    venv = eos_vector_env(2, reward_mode="terminal")
    venv.reset(seed=0)
    _, reward, term, _, info = venv.step(np.array([EOS, 4]))
    assert term.tolist() == [True, False]
    assert reward[1] == 0.0
    assert info["final_info"]["_q"].tolist() == [True, False]
    assert info["final_info"]["_d_score"].tolist() == [True, False]


def test_env_end_token_errors_name_the_argument(tmp_path):
    from seqgan_env.env import SeqGANCore

    with pytest.raises(ValueError, match=r"eos_token must be None or in \[0, vocab_size=12\)"):
        SeqGANCore(1, V, T, 2, "q", tiny_discriminator(vocab=V, seq_len=T), None, "cpu", eos_token=V)
    path = tmp_path / "c.txt"
    path.write_text("a b c .\nb c .\nc a b a .\n" * 10, encoding="utf-8")
    plain = Generator(GeneratorConfig(7, 8))  # the corpus has 7 tokens; no <eos>: does not fit a corpus env
    with pytest.raises(ValueError, match=r"rollout_policy has \(eos_token, pad_token\)=\(None, None\)"):
        gymnasium.make("SeqGAN-v0", corpus=str(path), seq_len=8, vocab_size=None, rollout_policy=plain)


def test_terminal_mode_non_finite_d_score_is_one_clear_error():
    class NaND(FirstTokenD):
        def score(self, tokens: torch.Tensor) -> torch.Tensor:
            return torch.full((tokens.shape[0],), float("nan"))

    env = SeqGANEnv(vocab_size=V, seq_len=T, n_rollouts=2, reward_mode="terminal", discriminator=NaND(),
                    rollout_policy=eos_generator())  # fmt: skip
    env.reset(seed=0)
    with pytest.raises(FloatingPointError, match="non-finite discriminator score"):
        env.step(EOS)
