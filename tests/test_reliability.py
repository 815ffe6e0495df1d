"""Crash safety, numerical guards and property tests of the env's invariants."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from tests.helpers import tiny_run_flags

ROOT = Path(__file__).resolve().parents[1]
TINY = tiny_run_flags()


def script(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train" / "reinforce.py"), "--run-dir", str(run_dir), *TINY, *extra]


def final_metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())["summary"]


def final_metrics_or_none(run_dir: Path) -> dict | None:
    """The run's summary, or None if it has not written one (metrics.json carries it only once the run ends)."""
    return final_metrics(run_dir) or None


def wait_for_adversarial_checkpoint(run_dir: Path, proc: subprocess.Popen, min_step: int = 3) -> None:
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        metrics = run_dir / "metrics.json"
        if metrics.exists():
            try:
                rows = json.loads(metrics.read_text())["history"]
            except (json.JSONDecodeError, KeyError):
                rows = []
            if any(r["phase"] == "adversarial" and r["step"] >= min_step for r in rows):
                return
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes_to_the_same_final_metrics(tmp_path, sig):
    n = "60"  # long enough that the signal arrives mid-run (asserted below)
    ref = subprocess.run(script(tmp_path / "ref", "--adv.updates", n), capture_output=True, text=True, cwd=ROOT)
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(script(tmp_path / "run", "--adv.updates", n), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for_adversarial_checkpoint(tmp_path / "run", proc)
    assert proc.poll() is None, "the run finished before the signal: this test would not test an interruption"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=240)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "checkpoint saved; continue with --resume" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    assert final_metrics_or_none(tmp_path / "run") is None  # it stopped before writing its summary
    res = subprocess.run(script(tmp_path / "run", "--resume", str(tmp_path / "run"), "--adv.updates", n),
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert res.returncode == 0, res.stderr
    a, b = final_metrics(tmp_path / "ref"), final_metrics(tmp_path / "run")
    for key in ("final_nll_oracle", "final_nll_test", "mle_nll_oracle"):
        assert a[key] == b[key], key


def test_nan_discriminator_stops_with_a_clear_message():
    d = Discriminator(DiscriminatorConfig.small(20, 4, emb_dim=4))
    with torch.no_grad():
        d.out.bias.fill_(float("nan"))
    g = Generator(GeneratorConfig(vocab_size=20, seq_len=4, emb_dim=4, hidden_dim=4))
    env = SeqGANEnv(vocab_size=20, seq_len=4, n_rollouts=2, reward_mode="q", discriminator=d, rollout_policy=g)
    env.reset(seed=0)
    with pytest.raises(FloatingPointError, match=r"non-finite Q-value at step\(s\) \[1\]"):
        env.step(3)


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    from agents.run import checkpoint

    target = tmp_path / "c.pt"
    checkpoint.save_checkpoint(target, {"x": 1})
    before = target.read_bytes()

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(target, {"x": 2})
    assert target.read_bytes() == before  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind


# ---------------------------------------------------------------- property tests
env_configs = st.fixed_dictionaries(
    {
        "vocab_size": st.integers(2, 30),
        "seq_len": st.integers(1, 6),
        "n_rollouts": st.integers(1, 3),
        "reward_mode": st.sampled_from(["shaped", "q", "terminal"]),
    }
)


def make_env(cfg: dict) -> SeqGANEnv:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(vocab_size=cfg["vocab_size"], seq_len=cfg["seq_len"], emb_dim=4, hidden_dim=4))
    d = Discriminator(DiscriminatorConfig.small(cfg["vocab_size"], cfg["seq_len"], emb_dim=4))
    return SeqGANEnv(**cfg, discriminator=d, rollout_policy=g)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=env_configs, data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_property_env_invariants(cfg, data, seed):
    env = make_env(cfg)
    actions = data.draw(st.lists(st.integers(0, cfg["vocab_size"] - 1), min_size=cfg["seq_len"],
                                 max_size=cfg["seq_len"]))  # fmt: skip
    obs, info = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    q0 = info.get("q", 0.0)
    rewards, infos = [], []
    for i, a in enumerate(actions):
        obs, r, term, trunc, info = env.step(a)
        assert env.observation_space.contains(obs)
        assert np.isfinite(r)
        assert term == (i == cfg["seq_len"] - 1)
        assert not trunc
        rewards.append(r)
        infos.append(info)
    assert 0.0 <= infos[-1]["d_score"] <= 1.0
    if cfg["reward_mode"] == "shaped":
        assert sum(rewards) == pytest.approx(infos[-1]["d_score"] - q0, abs=1e-5)
    if cfg["reward_mode"] == "terminal":
        assert sum(rewards) == pytest.approx(infos[-1]["d_score"])
    # reset(seed) reproduces the episode exactly
    obs2, info2 = env.reset(seed=seed)
    again = [env.step(a)[1] for a in actions]
    assert again == rewards
    assert info2 == ({"q": q0} if cfg["reward_mode"] == "shaped" else {})


@settings(max_examples=15, deadline=None)
@given(cfg=env_configs, num_envs=st.integers(1, 5), seed=st.integers(0, 1000))
def test_property_vector_env_episodes_end_together_and_autoreset(cfg, num_envs, seed):
    torch.manual_seed(0)
    v = SeqGANVectorEnv(num_envs=num_envs, **cfg)
    obs, _ = v.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for episode in range(2):
        for t in range(cfg["seq_len"]):
            obs, r, term, trunc, info = v.step(rng.integers(cfg["vocab_size"], size=num_envs))
            assert v.observation_space.contains(obs)
            assert np.isfinite(r).all()
            assert term.all() == (t == cfg["seq_len"] - 1), episode
        assert np.all(obs == cfg["vocab_size"])  # reset on the same step


@pytest.mark.slow
def test_soak_vector_env_memory_does_not_grow():
    """10⁵ env steps (64 envs); RSS after the first 10% and at the end stay within 50 MB."""
    import resource

    v = SeqGANVectorEnv(num_envs=64, vocab_size=500, seq_len=20, n_rollouts=4)
    v.reset(seed=0)
    rng = np.random.default_rng(0)
    steps = 100_000 // 64
    rss = []
    for i in range(steps):
        v.step(rng.integers(500, size=64))
        if i in (steps // 10, steps - 1):
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    assert rss[1] - rss[0] < 50, rss
