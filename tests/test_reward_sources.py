"""The reward sources beside Monte Carlo rollouts: the perfect discriminator (oracle task) and the per-prefix D;
G's entropy and KL(G ‖ oracle); the exact per-step reference trainer; D's quality in every run's metrics."""

from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest
import torch

from agents.algorithms.reference import PerStepKLReference, per_step_kl
from agents.algorithms.reinforce import Reinforce
from agents.cli import parse_args
from agents.run.pipeline import run
from seqgan_env import (
    Generator,
    GeneratorConfig,
    Oracle,
    OracleConfig,
    PrefixDiscriminator,
    PrefixDiscriminatorConfig,
)
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from seqgan_env.metrics import oracle_metrics
from seqgan_env.sb3 import SB3VecEnv
from tests.helpers import tiny_discriminator, tiny_run_config

V, T = 6, 3  # small enough to enumerate every sequence (216)


def _tiny_pair(seed: int = 0) -> tuple[Oracle, Generator]:
    oracle = Oracle(OracleConfig(vocab_size=V, seq_len=T, emb_dim=4, hidden_dim=5, seed=seed))
    torch.manual_seed(seed + 1)
    gen = Generator(GeneratorConfig(V, T, emb_dim=4, hidden_dim=5, init_std=0.5))
    return oracle, gen


def _all_sequences() -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(V), repeat=T)))


def _exact(oracle: Oracle, gen: Generator) -> dict[str, float]:
    """Per-token entropy of G, NLL-oracle and KL(G ‖ O) by summing over every sequence."""
    with torch.no_grad():
        seqs = _all_sequences()
        lg, lo = gen.log_prob(seqs).sum(1).double(), oracle.log_prob(seqs).sum(1).double()
        pg = lg.exp()
        return {
            "entropy": float(-(pg * lg).sum()) / T,
            "nll_oracle": float(-(pg * lo).sum()) / T,
            "kl_oracle": float((pg * (lg - lo)).sum()) / T,
        }


# ------------------------------------------------------------------------------------------------ perfect D
@pytest.mark.parametrize("mode", ["q", "shaped", "terminal"])
def test_perfect_reward_sums_to_the_log_likelihood_ratio(mode):
    oracle, gen = _tiny_pair()
    env = SeqGANVectorEnv(
        num_envs=5, vocab_size=V, seq_len=T, reward_mode=mode, rollout_policy=gen, reward_source="perfect",
        oracle=oracle,
    )  # fmt: skip
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(V, size=(5, T))
    rewards = []
    for t in range(T):
        _, r, done, _, info = env.step(actions[:, t])
        rewards.append(r)
    tokens = torch.as_tensor(actions)
    with torch.no_grad():
        want = oracle.log_prob(tokens).sum(1) - gen.log_prob(tokens).sum(1)
    np.testing.assert_allclose(np.sum(rewards, axis=0), want.numpy(), rtol=1e-5, atol=1e-5)
    assert done.all()
    np.testing.assert_allclose(info["final_info"]["d_score"], torch.sigmoid(want).numpy(), rtol=1e-5)
    if mode != "terminal":  # dense: each step's reward is that token's log-ratio
        with torch.no_grad():
            per_token = oracle.log_prob(tokens) - gen.log_prob(tokens)
        np.testing.assert_allclose(np.stack(rewards, 1), per_token.numpy(), rtol=1e-5, atol=1e-5)


def test_perfect_reward_continues_exactly_after_restore():
    oracle, gen = _tiny_pair()
    kw = dict(num_envs=4, vocab_size=V, seq_len=T, reward_mode="terminal", rollout_policy=gen,
              reward_source="perfect", oracle=oracle)  # fmt: skip
    actions = np.random.default_rng(1).integers(V, size=(4, T))
    a, b = SeqGANVectorEnv(**kw), SeqGANVectorEnv(**kw)
    a.reset(seed=0)
    b.reset(seed=0)
    a.step(actions[:, 0])
    b.core.restore(a.core.tokens.clone(), a.core.pos.clone())
    for t in range(1, T):
        ra = a.step(actions[:, t])[1]
        rb = b.step(actions[:, t])[1]
    np.testing.assert_allclose(ra, rb, rtol=1e-6)


def test_perfect_reward_needs_the_oracle_task_one_clear_error(tmp_path):
    oracle, gen = _tiny_pair()
    with pytest.raises(ValueError, match="reward_source='perfect' needs the oracle task"):
        SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, rollout_policy=gen, reward_source="perfect")
    with pytest.raises(ValueError, match="do not pass discriminator"):
        SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, rollout_policy=gen, reward_source="perfect",
                        oracle=oracle, discriminator=tiny_discriminator(vocab=V, seq_len=T))  # fmt: skip
    with pytest.raises(ValueError, match="reward_source must be one of"):
        SeqGANVectorEnv(num_envs=2, vocab_size=V, seq_len=T, rollout_policy=gen, reward_source="bogus")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c a\nc a b\n" * 5)
    with pytest.raises(ValueError, match="real text"):
        SeqGANEnv(corpus=str(corpus), seq_len=T + 3, reward_source="perfect", oracle=None)


def test_perfect_reward_on_a_text_corpus_is_one_cli_error(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n" * 10)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--task.data", str(corpus), "--env.reward-source", "perfect"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--env.reward-source perfect needs the oracle task" in err
    assert "Traceback" not in err


def test_reinforce_on_the_perfect_reward_lowers_the_exact_kl():
    oracle, gen = _tiny_pair()
    venv = SeqGANVectorEnv(num_envs=64, vocab_size=V, seq_len=T, reward_mode="shaped", rollout_policy=gen,
                           reward_source="perfect", oracle=oracle)  # fmt: skip
    model = Reinforce("GeneratorPolicy", SB3VecEnv(venv, seed=0), learning_rate=0.03, baseline="mean",
                      policy_kwargs={"generator_config": vars(gen.config).copy()}, seed=0, device="cpu")  # fmt: skip
    model.policy.generator.load_state_dict(gen.state_dict())
    before = _exact(oracle, model.policy.generator)["kl_oracle"]
    from agents.algorithms.callbacks import RolloutPolicyCallback

    model.learn(15 * 64 * T, callback=RolloutPolicyCallback())  # the env's p_G follows G after every update
    after = _exact(oracle, model.policy.generator)["kl_oracle"]
    assert after < before - 0.02, (before, after)


def test_reference_trainer_lowers_the_exact_kl_and_its_loss_is_the_per_step_kl():
    oracle, gen = _tiny_pair()
    seqs = _all_sequences()[:7]
    with torch.no_grad():  # the loss at a prefix is the exact KL of the next-token distributions
        lg = torch.log_softmax(gen(seqs), -1)
        lo = torch.log_softmax(oracle(seqs), -1)
        want = (lg.exp() * (lg - lo)).sum(-1)
    torch.testing.assert_close(per_step_kl(gen, oracle, seqs).detach(), want)
    venv = SeqGANVectorEnv(num_envs=32, vocab_size=V, seq_len=T, rollout_policy=gen, reward_source="perfect",
                           oracle=oracle)  # fmt: skip
    model = PerStepKLReference(
        "GeneratorPolicy", SB3VecEnv(venv, seed=0), oracle=oracle, learning_rate=0.03,
        policy_kwargs={"generator_config": vars(gen.config).copy()}, seed=0, device="cpu",
    )  # fmt: skip
    model.policy.generator.load_state_dict(gen.state_dict())
    before = _exact(oracle, model.policy.generator)["kl_oracle"]
    model.learn(20 * 32 * T)
    assert model.num_timesteps == 20 * 32 * T
    assert _exact(oracle, model.policy.generator)["kl_oracle"] < before - 0.05


# ------------------------------------------------------------------------------------------------ entropy and KL
def test_entropy_and_kl_estimates_agree_with_exact_enumeration():
    oracle, gen = _tiny_pair()
    exact = _exact(oracle, gen)
    est = oracle_metrics(oracle, gen, num_samples=40_000, seed=0)
    for key in ("entropy", "nll_oracle", "kl_oracle"):
        assert est[key] == pytest.approx(exact[key], abs=0.03), key
    assert est["kl_oracle"] == pytest.approx(est["nll_oracle"] - est["entropy"])
    assert exact["kl_oracle"] > 0.05  # the check is not vacuous: G differs from the oracle
    same = oracle_metrics(oracle, oracle, num_samples=20_000, seed=0)
    assert same["kl_oracle"] == pytest.approx(0.0, abs=1e-9)  # G = oracle: the estimate is exactly 0


# ------------------------------------------------------------------------------------------------ per-prefix D
def test_prefix_discriminator_scores_depend_only_on_the_prefix():
    torch.manual_seed(0)
    d = PrefixDiscriminator(PrefixDiscriminatorConfig(vocab_size=V, seq_len=5, emb_dim=4, hidden_dim=6))
    x = torch.randint(0, V, (8, 5))
    base = d.prefix_scores(x)
    for t in range(5):
        y = x.clone()
        y[:, t:] = torch.randint(0, V, (8, 5 - t))  # change everything from position t on
        changed = d.prefix_scores(y)
        torch.testing.assert_close(changed[:, :t], base[:, :t])  # D(y_1..s) for s <= t is untouched
        assert not torch.allclose(changed[:, t:], base[:, t:])
    torch.testing.assert_close(d.score(x), base[:, -1])


def test_prefix_discriminator_incremental_scores_equal_the_full_pass_and_the_env_uses_them():
    torch.manual_seed(0)
    d = PrefixDiscriminator(PrefixDiscriminatorConfig(vocab_size=V, seq_len=T, emb_dim=4, hidden_dim=6))
    gen = Generator(GeneratorConfig(V, T, emb_dim=4, hidden_dim=5))
    env = SeqGANVectorEnv(num_envs=4, vocab_size=V, seq_len=T, reward_mode="q", discriminator=d,
                          rollout_policy=gen, reward_source="prefix")  # fmt: skip
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(V, size=(4, T))
    rewards = np.stack([env.step(actions[:, t])[1] for t in range(T)], axis=1)
    np.testing.assert_allclose(rewards, d.prefix_scores(torch.as_tensor(actions)).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="PrefixDiscriminator"):
        env.unwrapped.set_discriminator(tiny_discriminator(vocab=V, seq_len=T))


def test_prefix_discriminator_learns_to_separate_real_from_fake():
    from seqgan_env.discriminator import train_discriminator
    from seqgan_env.optim import adam

    oracle, gen = _tiny_pair()
    real, fake = oracle.sample(2000), gen.sample(2000)
    torch.manual_seed(0)
    d = PrefixDiscriminator(PrefixDiscriminatorConfig(vocab_size=V, seq_len=T, emb_dim=8, hidden_dim=16))
    train_discriminator(d, adam(d.parameters(), lr=1e-2), real, fake, epochs=5, batch_size=64)
    ratio = oracle.log_prob(fake).sum(1) - gen.log_prob(fake).sum(1)
    score = d.score(fake)
    rho = np.corrcoef(np.argsort(np.argsort(score.numpy())), np.argsort(np.argsort(ratio.detach().numpy())))[0, 1]
    assert rho > 0.5  # it ranks G's samples by the true density ratio p_O / p_G


# ------------------------------------------------------------------------------------------------ pipeline
def test_d_quality_is_in_every_runs_metrics(tmp_path):
    cfg = tiny_run_config(tmp_path / "r", {"disc.report_samples": 32, "adv.updates": 4, "disc.retrain_every": 1})
    summary = run(cfg)
    hist = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    pre = [r for r in hist if r["phase"] == "d_pretrain"]
    rounds = [r for r in hist if r["phase"] == "d_round"]
    assert len(pre) == cfg.disc.pretrain_rounds
    assert [r["step"] for r in rounds] == [1, 2, 3]  # after every retraining (none after the last update)
    for r in pre + rounds:
        assert 0.0 <= r["d_accuracy"] <= 1.0
        assert -1.0 <= r["d_spearman"] <= 1.0
    with open(tmp_path / "r" / "metrics.csv") as f:
        header = next(csv.reader(f))
    assert {"d_accuracy", "d_spearman", "entropy", "kl_oracle"} <= set(header)
    assert summary["last_d_accuracy"] == rounds[-1]["d_accuracy"]
    evals = [r for r in hist if r["phase"] in ("mle", "adversarial")]
    for r in evals:
        assert r["kl_oracle"] == pytest.approx(r["nll_oracle"] - r["entropy"])
    assert math.isfinite(summary["final_entropy"])


@pytest.mark.parametrize(("source", "agent"), [("perfect", "reinforce"), ("perfect", "ppo"),
                                               ("perfect", "reference"), ("prefix", "reinforce")])  # fmt: skip
def test_reward_sources_run_from_the_same_pretraining(tmp_path, source, agent):
    run(tiny_run_config(tmp_path / "pre", {"adv.updates": 0, "disc.report_samples": 0}))
    mode = {"reinforce.reward_mode": "shaped"} if agent == "reinforce" else {}
    overrides = {"env.reward_source": source, **mode}
    if source == "prefix":  # the perfect reward reads no D: D's flags would be refused as unused
        overrides.update({"disc.prefix_hidden_dim": 8, "disc.report_samples": 16})
    summary = run(tiny_run_config(tmp_path / "r", overrides, pretrained=str(tmp_path / "pre"), agent=agent))
    hist = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    phases = {r["phase"] for r in hist}
    assert summary["final_kl_oracle"] >= 0 or math.isfinite(summary["final_kl_oracle"])
    if source == "prefix":  # its D is new: pretrained here from the pretrained G, and reported every round
        assert {"d_pretrain", "d_round"} <= phases
    else:  # the perfect reward reads no D: it is neither retrained nor reported
        assert not phases & {"d_pretrain", "d_round"}


def test_reference_agent_without_the_perfect_reward_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="--env.reward-source perfect"):
        run(tiny_run_config(tmp_path / "r", agent="reference"))
    assert not (tmp_path / "r").exists()


def test_constant_reward_runs_no_rollouts():
    from seqgan_env.rollout import RolloutReward
    from tests.helpers import tiny_generator

    gen = tiny_generator()
    reward = RolloutReward(gen, tiny_discriminator(), n_rollouts=4, d_reward="constant")
    gen.rollout = None  # any rollout would fail
    state = gen.first_state(3)
    assert reward.q_values(torch.zeros(3, 2, dtype=torch.long), state).tolist() == [1.0, 1.0, 1.0]


def test_discriminator_report_ranks_a_perfect_scorer_at_one():
    from seqgan_env.metrics import discriminator_report

    oracle, gen = _tiny_pair()

    class Perfect:  # D*(x) = p_O / (p_O + p_G)
        config = gen.config
        device = torch.device("cpu")

        def score(self, tokens):
            with torch.no_grad():
                return torch.sigmoid(oracle.log_prob(tokens).sum(1) - gen.log_prob(tokens).sum(1))

    report = discriminator_report(Perfect(), gen, oracle, oracle.sample(500), num_samples=500, seed=0)
    assert report["spearman_ratio"] > 0.99  # ties among repeated sequences keep it just below 1
    assert report["accuracy"] > 0.6


def test_reference_distils_from_a_teacher_run_in_place_of_the_oracle(tmp_path):
    """--adv.teacher: the exact per-step trainer's target is another run's (larger) G; evaluation stays the oracle's."""
    teacher = run(tiny_run_config(tmp_path / "teacher", {"generator.hidden_dim": 16, "adv.updates": 0,
                                                         "env.reward_source": "oracle"}))  # fmt: skip
    assert teacher["final_kl_oracle"] > 0
    base = {"env.reward_source": "oracle", "adv.updates": 3, "reinforce.lr": 0.05}
    own = run(tiny_run_config(tmp_path / "own", base, agent="reference"))
    distil = run(tiny_run_config(tmp_path / "distil", {**base, "adv.teacher": str(tmp_path / "teacher")},
                                 agent="reference"))  # fmt: skip
    assert distil["final_kl_oracle"] != own["final_kl_oracle"]  # another target, the same evaluation
    with pytest.raises(ValueError, match="--adv.teacher: not used by this reinforce run"):
        run(tiny_run_config(tmp_path / "r", {**base, "adv.teacher": str(tmp_path / "teacher")}))
    with pytest.raises(ValueError, match="no checkpoints/pretrained.pt there"):
        run(tiny_run_config(tmp_path / "m", {**base, "adv.teacher": str(tmp_path / "nowhere")}, agent="reference"))
