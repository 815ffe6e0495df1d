"""The oracle reward (``reward_source="oracle"``): r_t = log p_O(y_t | y_<t) with no G in the env, its known-optimum
identity E_π[Σ r_t] + H(π) = −KL(π ‖ O), any library's agent on it, and its bad input."""

from __future__ import annotations

import itertools

import gymnasium
import numpy as np
import pytest
import torch

import seqgan_env  # noqa: F401  (registers SeqGAN-v0)
from seqgan_env import Generator, GeneratorConfig, Oracle, OracleConfig
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from seqgan_env.rewards import SOURCES, OracleSource, check_source
from seqgan_env.sb3 import SB3VecEnv

V, T = 4, 3  # 64 sequences: small enough to enumerate


def _oracle(seed: int = 0, vocab: int = V, seq_len: int = T) -> Oracle:
    return Oracle(OracleConfig(vocab_size=vocab, seq_len=seq_len, emb_dim=4, hidden_dim=5, seed=seed))


def _all_sequences() -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(V), repeat=T)))


@pytest.mark.parametrize("mode", ["q", "shaped", "terminal"])
def test_oracle_rewards_sum_to_the_oracle_log_likelihood(mode):
    oracle = _oracle()
    venv = SeqGANVectorEnv(num_envs=5, vocab_size=V, seq_len=T, reward_mode=mode, reward_source="oracle",
                           oracle=oracle)  # fmt: skip
    assert venv.core.rollout_policy is None  # no G inside the env
    venv.reset(seed=3)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, V, size=(T, 5))
    total = np.zeros(5)
    for t in range(T):
        _, reward, term, _, info = venv.step(actions[t])
        total += reward
        if mode == "terminal" and t < T - 1:
            assert np.all(reward == 0)
    assert term.all()
    expected = oracle.log_prob(torch.as_tensor(actions.T)).sum(1).double().numpy()
    np.testing.assert_allclose(total, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(info["final_info"]["oracle_log_prob"], expected, rtol=1e-5, atol=1e-5)


def test_the_identity_holds_by_exact_enumeration():
    """E_π[Σ_t r_t] + Σ_t E_π[H(π(·|y_<t))] = −KL(π ‖ O), with π a generator and r_t the env's rewards."""
    oracle = _oracle(seed=1)
    torch.manual_seed(5)
    pi = Generator(GeneratorConfig(V, T, emb_dim=4, hidden_dim=5, init_std=0.7))
    seqs = _all_sequences()
    venv = SeqGANVectorEnv(num_envs=len(seqs), vocab_size=V, seq_len=T, reward_mode="q", reward_source="oracle",
                           oracle=oracle)  # fmt: skip
    venv.reset(seed=0)
    returns = np.zeros(len(seqs))
    for t in range(T):
        returns += venv.step(seqs[:, t].numpy())[1]
    with torch.no_grad():
        log_pi_all = torch.log_softmax(pi(seqs), dim=-1).double()  # (N, T, V): π(· | y_<t) at each prefix
        log_pi = log_pi_all.gather(2, seqs[..., None]).squeeze(-1).sum(1)
        p = log_pi.exp()
        step_entropy = -(log_pi_all.exp() * log_pi_all).sum(-1).sum(1)  # Σ_t H(π(· | y_<t)) of each sequence
        kl = (p * (log_pi - oracle.log_prob(seqs).double().sum(1))).sum()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-6)
    objective = (p * torch.as_tensor(returns, dtype=torch.float64)).sum() + (p * step_entropy).sum()
    assert float(objective) == pytest.approx(-float(kl), abs=1e-5)
    assert float(kl) > 0.01  # a real gap, not a trivial 0 = 0


def _policy_kl(model, oracle: Oracle) -> float:
    """KL(π ‖ O) of an SB3 policy on SeqGAN-v0 observations, by enumerating every sequence."""
    seqs = _all_sequences()
    log_pi = torch.zeros(len(seqs), dtype=torch.float64)
    for t in range(T):
        obs = seqs.clone()
        obs[:, t:] = V  # the env's padding value: "no token yet"
        obs_t, _ = model.policy.obs_to_tensor(obs.numpy())
        with torch.no_grad():
            dist = model.policy.get_distribution(obs_t)
            log_pi += dist.log_prob(seqs[:, t]).double().cpu()
    p = log_pi.exp()
    return float((p * (log_pi - oracle.log_prob(seqs).double().sum(1))).sum())


def test_sb3_ppo_mlp_policy_with_the_entropy_bonus_lowers_kl_to_the_oracle():
    """Any library's agent: SB3's PPO("MlpPolicy") on the oracle reward, entropy coefficient 1, γ = 1."""
    from stable_baselines3 import PPO

    oracle = _oracle(seed=2)
    env = gymnasium.make("SeqGAN-v0", vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle)
    model = PPO("MlpPolicy", env, n_steps=192, batch_size=64, n_epochs=4, gamma=1.0, gae_lambda=1.0, ent_coef=1.0,
                learning_rate=3e-3, seed=0, device="cpu")  # fmt: skip
    start = _policy_kl(model, oracle)
    model.learn(192 * 12)
    end = _policy_kl(model, oracle)
    assert end < 0.6 * start, (start, end)


def test_oracle_reward_through_sb3_vec_env_reports_the_episode_likelihood():
    oracle = _oracle()
    venv = SeqGANVectorEnv(num_envs=3, vocab_size=V, seq_len=T, reward_mode="terminal", reward_source="oracle",
                           oracle=oracle)  # fmt: skip
    env = SB3VecEnv(venv, seed=0)
    env.reset()
    for _ in range(T):
        _, rew, dones, infos = env.step(np.zeros(3, dtype=np.int64))
    assert dones.all()
    expected = float(oracle.log_prob(torch.zeros(1, T, dtype=torch.long)).sum())
    assert [i["oracle_log_prob"] for i in infos] == pytest.approx([expected] * 3, abs=1e-5)
    assert rew == pytest.approx([expected] * 3, abs=1e-5)


def test_env_state_round_trips_mid_episode():
    oracle = _oracle()
    a = SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle)
    a.reset(seed=0)
    a.step(np.array([1, 2]))
    b = SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle)
    b.reset(seed=1)
    assert b.core.load_state_dict(a.core.state_dict())
    ra, rb = a.step(np.array([3, 0]))[1], b.step(np.array([3, 0]))[1]
    np.testing.assert_allclose(ra, rb)
    torch.testing.assert_close(a.core.source.total, b.core.source.total)


def test_oracle_reward_bad_input_one_clear_error(tmp_path):
    oracle = _oracle()
    with pytest.raises(ValueError, match="reward_source='oracle' needs the oracle task"):
        SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, reward_source="oracle")
    with pytest.raises(ValueError, match="oracle has vocab_size=4, seq_len=3; the env needs vocab_size=5"):
        SeqGANVectorEnv(num_envs=2, vocab_size=5, seq_len=T, reward_source="oracle", oracle=oracle)
    with pytest.raises(ValueError, match="holds no generator: do not pass rollout_policy"):
        SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle,
                        rollout_policy=Generator(GeneratorConfig(V, T)))  # fmt: skip
    with pytest.raises(ValueError, match="reads no D"):
        SeqGANEnv(vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle, d_reward="log_odds")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c a\nc a b\n" * 5)
    with pytest.raises(ValueError, match="real text"):
        SeqGANEnv(corpus=str(corpus), seq_len=T + 3, reward_source="oracle", oracle=oracle)
    env = SeqGANEnv(vocab_size=V, seq_len=T, reward_source="oracle", oracle=oracle)
    with pytest.raises(ValueError, match="takes no rollout policy"):
        env.set_rollout_policy(Generator(GeneratorConfig(V, T)))
    with pytest.raises(ValueError, match="takes no discriminator"):
        env.set_discriminator(object())  # type: ignore[arg-type]


def test_config_shares_the_env_rules_as_flags():
    from agents.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--task.data", "sotu:obama", "--env.reward-source", "oracle"], description="")
    with pytest.raises(ValueError, match="d_reward='log_odds' transforms a learned D's probability; reward_source="):
        check_source("oracle", d_reward="log_odds")
    with pytest.raises(SystemExit):
        parse_args(["--env.reward-source", "oracle", "--env.d-reward", "log_odds"], description="")
    assert SOURCES["oracle"] is OracleSource
    assert not OracleSource.uses_policy
    assert OracleSource.needs_oracle
    assert OracleSource.discriminator is None


def test_policy_metrics_of_a_generator_match_the_pipeline_metrics():
    """seqgan_env.benchmark.policy_metrics (any policy, through observations) agrees with oracle_metrics (the
    generator's own sampler) within Monte Carlo error, and NLL-test exactly."""
    from seqgan_env.benchmark import generator_log_probs, policy_metrics
    from seqgan_env.metrics import nll_test, oracle_metrics

    oracle = Oracle(OracleConfig(vocab_size=12, seq_len=5, emb_dim=4, hidden_dim=5, seed=0))
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(12, 5, emb_dim=4, hidden_dim=5, init_std=0.5))
    test = oracle.make_data(1, 300, seed=1)[1]
    mine = policy_metrics(generator_log_probs(gen), oracle, test, n_samples=4000, seed=0)
    theirs = oracle_metrics(oracle, gen, 4000, seed=0)
    for key in ("kl_oracle", "entropy", "nll_oracle"):
        assert mine[key] == pytest.approx(theirs[key], abs=0.05), key
    assert mine["nll_test"] == pytest.approx(nll_test(gen, test), abs=1e-5)
    with pytest.raises(ValueError, match=r"log_probs\(obs\) must return a \(10, 12\) tensor"):
        policy_metrics(lambda obs: torch.zeros(len(obs), 3), oracle, test, n_samples=10)


def test_gap_closed_and_reference_interpolation():
    from seqgan_env.benchmark import gap_closed, reference_kl

    assert gap_closed(2.0, 1.5, 1.0) == pytest.approx(0.5)
    assert gap_closed(2.0, 2.5, 1.0) == pytest.approx(-0.5)
    assert reference_kl({0: 2.0, 100: 1.0}, 50) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="outside the reference curve"):
        reference_kl({0: 2.0, 100: 1.0}, 200)
    with pytest.raises(ValueError, match="did not move"):
        gap_closed(1.0, 1.0, 1.0)


def test_outside_user_script_puts_an_sb3_algorithm_on_the_table(tmp_path, capsys):
    """train/oracle_benchmark.py: SB3's A2C with MlpPolicy from scratch on a tiny random oracle, rows at each budget,
    and the gap closed against a reference run directory."""
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "train"))
    import oracle_benchmark

    ref = tmp_path / "ref"
    ref.mkdir()
    history = [{"phase": "adversarial", "step": s, "timesteps": 640 * s, "kl_oracle": 1.0 - 0.1 * s}
               for s in range(3)]  # fmt: skip
    (ref / "metrics.json").write_text(json.dumps({"history": history}))
    rows = oracle_benchmark.main(["--algo", "A2C", "--policy", "MlpPolicy", "--oracle-params", "random",
                                  "--vocab-size", "8", "--seq-len", "4", "--tokens", "1280", "--eval-every", "640",
                                  "--num-envs", "8", "--eval-samples", "100", "--n-test", "50", "--reference",
                                  str(ref), "--json", str(tmp_path / "rows.json")])  # fmt: skip
    assert [r["tokens"] for r in rows] == [0, 640, 1280]
    assert all("gap_closed" in r for r in rows[1:])
    assert json.loads((tmp_path / "rows.json").read_text())["rows"][-1]["tokens"] == 1280
    with pytest.raises(SystemExit):
        oracle_benchmark.main(["--policy", "generator"])  # no --start
    assert "--start RUN_DIR" in capsys.readouterr().err


def test_mean_actor_critic_learns_from_sampled_rewards_only_and_resumes_exactly(tmp_path):
    """agents.algorithms.mac: the critic is regressed onto the env's sampled oracle rewards, the actor moves toward it;
    KL falls, and a run resumed mid-phase ends where an uninterrupted one does (critic and its optimizer persisted)."""
    from agents.run.pipeline import run
    from tests.helpers import tiny_run_config

    base = {"env.reward_source": "oracle", "reinforce.lr": 0.03, "adv.updates": 6, "eval.every": 3}
    full = run(tiny_run_config(tmp_path / "full", base, agent="mac"))
    assert full["final_kl_oracle"] < full["mle_kl_oracle"]
    run(tiny_run_config(tmp_path / "part", {**base, "adv.updates": 3}, agent="mac"))
    resumed = run(tiny_run_config(tmp_path / "part", base, agent="mac", resume=str(tmp_path / "part")))
    assert resumed["final_kl_oracle"] == full["final_kl_oracle"]
    with pytest.raises(ValueError, match="needs --env.reward-source oracle"):
        run(tiny_run_config(tmp_path / "bad", {"env.reward_source": "perfect"}, agent="mac"))


def test_trpo_refuses_the_settings_it_has_no_use_for(tmp_path):
    """sb3-contrib's TRPO has no entropy bonus and no gradient clipping: those flags are refused, not ignored."""
    from agents.run.pipeline import run
    from tests.helpers import tiny_run_config

    for flag, value in (("adv.ent_coef", 1.0), ("adv.max_grad_norm", 1.0)):
        with pytest.raises(ValueError, match=f"--{flag.replace('_', '-')}: not used by this trpo run"):
            run(tiny_run_config(tmp_path / flag, {"env.reward_source": "oracle", flag: value}, agent="trpo"))
