from __future__ import annotations

import json
import subprocess
import sys
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
from agents.checkpoint import load_checkpoint, save_checkpoint
from agents.cli import parse_args
from agents.config import from_preset
from agents.pipeline import run
from agents.reinforce import reinforce_loss, returns_to_go
from tests.helpers import (
    SEQ_LEN,
    VOCAB,
    oracle_eval,
    tiny_discriminator,
    tiny_run_config,
    tiny_run_flags,
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


# ---------------------------------------------------------------- the pipeline
def test_pipeline_end_to_end_writes_run_directory(tmp_path):
    summary = run(tiny_run_config(tmp_path / "run"))
    run_dir = Path(summary["run_dir"])
    for name in ("config.json", "metrics.json", "metrics.csv", "samples.txt", "curve.png", "checkpoints/latest.pt",
                 "checkpoints/pretrained.pt"):  # fmt: skip
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tb").iterdir())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    phases = {r["phase"] for r in metrics["history"]}
    assert phases == {"mle", "adversarial", "d_pretrain", "d_round"}  # G's evaluations, D's quality reports
    assert all(np.isfinite(r["nll_oracle"]) for r in metrics["history"] if r["phase"] in ("mle", "adversarial"))
    assert np.isfinite(summary["final_nll_oracle"])
    assert summary["mle_nll_oracle"] < summary["random_nll_oracle"]


def test_pipeline_seeded_run_repeats_exactly(tmp_path):
    a = run(tiny_run_config(tmp_path / "a"))
    b = run(tiny_run_config(tmp_path / "b"))
    ha = json.loads((tmp_path / "a" / "metrics.json").read_text())["history"]
    hb = json.loads((tmp_path / "b" / "metrics.json").read_text())["history"]

    def drop_wall(rows):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]

    assert drop_wall(ha) == drop_wall(hb)  # every evaluation and every D-quality report
    assert any(r["phase"] == "d_round" for r in ha)
    assert a["final_nll_oracle"] == b["final_nll_oracle"]


def test_pipeline_resume_continues_and_matches_uninterrupted_run(tmp_path):
    full = run(tiny_run_config(tmp_path / "full"))
    run(tiny_run_config(tmp_path / "part", {"adv.updates": 2}))
    ckpt = load_checkpoint(tmp_path / "part" / "checkpoints" / "latest.pt")
    assert ckpt["phase"] == "done"
    resumed = run(tiny_run_config(tmp_path / "part", {"adv.updates": 4}, resume=str(tmp_path / "part")))
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    assert resumed["final_nll_test"] == full["final_nll_test"]


def test_pipeline_resume_after_crash_mid_mle_matches_uninterrupted_run(tmp_path, monkeypatch):
    import agents.pretrain as pretrain

    full = run(tiny_run_config(tmp_path / "f", {"mle.epochs": 4, "eval.every": 2}))
    real_epoch, calls = pretrain.train_mle_epoch, []

    def crashing_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # dies during epoch 3, after the checkpoint of epoch 2
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(pretrain, "train_mle_epoch", crashing_epoch)
    with pytest.raises(KeyboardInterrupt):
        run(tiny_run_config(tmp_path / "r", {"mle.epochs": 4, "eval.every": 2}))
    ckpt = load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")
    assert (ckpt["phase"], ckpt["step"]) == ("mle", 2)
    monkeypatch.setattr(pretrain, "train_mle_epoch", real_epoch)
    resumed = run(tiny_run_config(tmp_path / "r", {"mle.epochs": 4, "eval.every": 2}, resume=str(tmp_path / "r")))
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    assert resumed["mle_nll_oracle"] == full["mle_nll_oracle"]


def test_mle_keep_every_keeps_the_generator_of_those_epochs(tmp_path):
    """--mle.keep-every N keeps G after every N-th MLE epoch; each file reproduces that epoch's NLL-test."""
    from agents.rundir import saved_config
    from agents.task import build_task, generator_config
    from seqgan_env.generator import Generator
    from seqgan_env.metrics import nll_test

    out = run(
        tiny_run_config(tmp_path / "k", {"mle.epochs": 4, "eval.every": 2, "mle.keep_every": 2, "adv.updates": 0})
    )
    ckpts = tmp_path / "k" / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("mle_epoch*.pt")) == ["mle_epoch002.pt", "mle_epoch004.pt"]
    history = {
        r["step"]: r["nll_test"]
        for r in json.loads((tmp_path / "k" / "metrics.json").read_text())["history"]
        if r["phase"] == "mle"
    }
    pretrained = load_checkpoint(ckpts / "pretrained.pt")
    for epoch in (2, 4):
        kept = load_checkpoint(ckpts / f"mle_epoch{epoch:03d}.pt")
        cfg = saved_config(kept)
        task = build_task(cfg, torch.device("cpu"))
        gen = Generator(generator_config(cfg, task))
        gen.load_state_dict(kept["generator"])
        assert nll_test(gen.eval(), task.test) == pytest.approx(history[epoch], abs=1e-9)
    same = [torch.equal(a, b) for a, b in zip(kept["generator"].values(), pretrained["generator"].values())]
    assert all(same)  # epoch 4 is the last: D pretraining does not touch G
    assert out["mle_nll_test"] == pytest.approx(history[4], abs=1e-9)


# ---------------------------------------------------------------- bad input
def test_pipeline_kl_to_mle_with_log_odds_rewards_resumes_exactly(tmp_path):
    """The KL penalty's reference is the MLE checkpoint, which the run keeps, so a resumed run matches."""
    kw = {"reinforce.kl_coef": 0.5, "env.d_reward": "log_odds", "reinforce.baseline": "mean"}
    full = run(tiny_run_config(tmp_path / "full", {**kw}))
    run(tiny_run_config(tmp_path / "part", {"adv.updates": 2, **kw}))
    resumed = run(tiny_run_config(tmp_path / "part", {"adv.updates": 4, **kw}, resume=str(tmp_path / "part")))
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    with pytest.raises(ValueError, match="--reinforce.kl-coef: not used by this ppo run"):
        run(tiny_run_config(tmp_path / "ppo", {"reinforce.kl_coef": 0.5}, agent="ppo"))


def test_pipeline_run_dir_exists_without_resume(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("x")
    with pytest.raises(FileExistsError, match="pass --resume"):
        run(tiny_run_config(tmp_path / "run"))


def test_pipeline_resume_corrupt_and_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        run(tiny_run_config(tmp_path / "x", resume=str(tmp_path / "nope")))
    (tmp_path / "bad" / "checkpoints").mkdir(parents=True)
    (tmp_path / "bad" / "checkpoints" / "latest.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="bytes that are not a checkpoint"):
        run(tiny_run_config(tmp_path / "bad", resume=str(tmp_path / "bad")))
    save_checkpoint(tmp_path / "v.pt", {})
    data = torch.load(tmp_path / "v.pt", weights_only=False)
    data["checkpoint_version"] = 99
    torch.save(data, tmp_path / "v.pt")
    with pytest.raises(ValueError, match="has version 99"):
        load_checkpoint(tmp_path / "v.pt")


def test_pipeline_pretrained_from_mismatched_run(tmp_path):
    run(tiny_run_config(tmp_path / "a", {"adv.updates": 0}))
    with pytest.raises(ValueError, match="config differs in"):
        run(tiny_run_config(tmp_path / "b", {"task.vocab_size": 61}, pretrained=str(tmp_path / "a")))


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--preset", "huge"], "invalid choice: 'huge'"),
        (["--adv.updates", "-3"], "--adv.updates must be >= 0"),
        (["--env.num-envs", "0"], "--env.num-envs must be a positive integer"),
        (["--reinforce.lr", "0"], "--reinforce.lr must be > 0"),
        (["--ppo.n-steps", "7"], "--ppo.n-steps must be a positive multiple of --task.seq-len"),
        (["--ppo.minibatch-size", "7"], "--ppo.minibatch-size must be a positive divisor"),
    ],
)
def test_cli_bad_flags_give_one_clear_error(argv, match, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert match in capsys.readouterr().err


def test_from_preset_unknown_preset_and_field():
    with pytest.raises(ValueError, match="--preset must be one of"):
        from_preset("huge")
    with pytest.raises(ValueError, match="unknown config fields"):
        from_preset("quick", {"bogus": 1})


def test_train_reinforce_script_subprocess_smoke(tmp_path):
    args = [
        sys.executable,
        str(ROOT / "train" / "reinforce.py"),
        "--run-dir",
        str(tmp_path / "s"),
        *tiny_run_flags({"adv.updates": 2}),
    ]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["final_nll_oracle"] > 0
    bad = subprocess.run([*args[:2], "--resume", str(tmp_path / "nope")], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: --resume")
    assert "Traceback" not in bad.stderr


def test_saved_config_of_an_older_checkpoint_keeps_the_behaviour_it_was_written_with():
    """A field added after a checkpoint was written takes the class default (the old behaviour), not the
    preset's current value: an old `fast` run (shaped PPO rewards, before --ppo.advantage) still loads."""
    from agents.config import RENAMED, get
    from agents.rundir import saved_config

    fast = from_preset("fast")  # as the flat config earlier versions saved, with the agent beside it
    old = {"preset": "fast", "seed": 0, **{name: get(fast, path) for name, path in RENAMED.items()}}
    old.update(ppo_reward_mode="shaped", ppo_lr=1e-3)
    del old["ppo_advantage"], old["mle_keep_every"]
    old["a_field_from_a_newer_version"] = 1
    cfg = saved_config({"config": old, "agent": "ppo"})
    assert (cfg.preset, cfg.ppo.advantage, cfg.ppo.reward_mode, cfg.mle.keep_every) == ("fast", "critic", "shaped", 0)
    assert (cfg.agent, cfg.mle.epochs, cfg.disc.retrain_every) == ("ppo", fast.mle.epochs, fast.disc.retrain_every)


def test_tensorboard_steps_align_by_phase(tmp_path):
    """mle/* and eval/mle_* step by epoch (every epoch's loss is written), the adversarial phase's rows by generated
    tokens, like SB3's own rollout/* and train/*."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_run_config(tmp_path / "r", {"mle.epochs": 3, "eval.every": 2})
    run(cfg)
    acc = EventAccumulator(str(tmp_path / "r" / "tb"))
    acc.Reload()
    steps = {tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert steps["mle/loss"] == [1, 2, 3]
    assert steps["eval/mle_nll_test"] == [0, 2, 3]
    per_update = cfg.env.num_envs * cfg.task.seq_len
    assert steps["eval/adversarial_nll_test"] == [0, 2 * per_update, 4 * per_update]
    assert set(steps["train/grad_norm"]) <= set(range(per_update, 5 * per_update, per_update))
