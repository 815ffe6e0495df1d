"""RLlib scale-out (needs the ray extra): the generator IS RLlib's policy, D and the rollout policy stay in sync on
every runner (also after a runner is killed and recreated), the PPO settings map onto RLlib's, bad flags fail early."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ray.rllib")

from agents.config import from_preset, replace
from tests.helpers import tiny_run_config

REPO = Path(__file__).resolve().parents[1]


def tiny(tmp_path: Path, overrides: dict | None = None):
    """The suite's tiny run (tests/helpers.py) as PPO at vocab 30, length 5, evaluated every iteration."""
    kw = {"task.vocab_size": 30, "task.seq_len": 5, "task.n_train": 128, "task.n_test": 32, "mle.epochs": 1,
          "disc.negatives": 64, "disc.retrain_every": 1, "eval.every": 1, "eval.samples": 64,
          "disc.report_samples": 32, "adv.updates": 2, "eval.checkpoint_every": 10, **(overrides or {})}  # fmt: skip
    return tiny_run_config(tmp_path / "run", kw, agent="ppo")


def test_rllib_run_trains_the_generator_and_keeps_every_runner_in_sync_even_after_a_restart(tmp_path):
    from agents.rllib import RLlibRun
    from seqgan_env import load_generator
    from seqgan_env import rllib as seqgan_rllib

    # d_every 100: D is never retrained, so a recreated runner can only get the driver's D from the restore hook
    session = RLlibRun(tiny(tmp_path, {"disc.retrain_every": 100, "adv.updates": 6}), num_env_runners=2)
    session.start()
    try:
        algo = session.algo
        pre = json.loads((tmp_path / "run" / "pretrain" / "metrics.json").read_text())
        mle = [r for r in (pre["history"] if isinstance(pre, dict) else pre) if r["phase"] == "mle"][-1]
        first = session.history[0]
        assert (first["nll_oracle"], first["nll_test"]) == (mle["nll_oracle"], mle["nll_test"])  # exactly the MLE G

        # the env runners' policy module IS the learner's generator, and its next-token logits are G's
        learner = seqgan_rllib.learner_generator_state(algo)
        obs = torch.tensor([[30.0] * 5, [3.0, 7.0, 30.0, 30.0, 30.0]])
        runners = seqgan_rllib.runner_modules(algo, obs)
        assert len(runners) == 2
        assert all(torch.equal(r["generator"][k], v) for r in runners for k, v in learner.items())
        want = session.gen.next_token_logits(obs)
        assert all(torch.allclose(r["logits"], want, atol=1e-6) for r in runners)

        row = session.iterate()
        assert session.runners_in_sync()
        assert row["sync_runners"] == 2
        assert row["sampled_in_sync"]

        # kill a runner between iterations: Ray restarts the actor before RLlib calls it again, so RLlib sees no
        # failure and no recreation hook fires. Without the pre-sample check the next iteration samples from it
        # with a freshly built D, rollout policy and generator (version -1)...
        def kill_and_wait(pid: int) -> None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(15)  # the actor is restarted by Ray meanwhile

        pids = [r["pid"] for r in seqgan_rllib.runner_modules(algo)]
        session.driver.check_before_sample = False
        kill_and_wait(pids[0])
        row = session.iterate()
        assert row["sampled_version"] == -1  # what the issue saw: a sample from a fresh runner, silently
        assert not row["sampled_in_sync"]
        # ... with it, the stale runner gets every part before it samples (also the one above: the end-of-iteration
        # push sent it no D, so it kept its old version and the check caught it)
        session.driver.check_before_sample = True
        row = session.iterate()
        assert row["sync_stale"] == 1
        assert row["sampled_in_sync"]
        pids = [r["pid"] for r in seqgan_rllib.runner_modules(algo)]
        kill_and_wait(pids[-1])
        row = session.iterate()
        assert (row["sync_runners"], row["sync_stale"]) == (2, 1)
        assert row["sampled_version"] == row["sync_version"]  # every episode: the driver's D, rollout policy and G
        new_pids = [r["pid"] for r in seqgan_rllib.runner_modules(algo)]
        assert pids[-1] not in new_pids
        assert len(new_pids) == 2
        assert session.runners_in_sync()
    except BaseException:
        session.close()
        raise
    result = session.finish()
    assert result["runners_in_sync"]
    assert result["num_env_runners"] == 2
    from agents.run.rundir import RunDir

    rows = RunDir(tmp_path / "run").rows("adversarial")  # the SB3 runs' schema: phase, step, timesteps, wall_s
    assert [r["step"] for r in rows] == list(range(len(rows)))
    assert all("nll_oracle" in r for r in rows)
    assert result["final_nll_oracle"] == rows[-1]["nll_oracle"]
    gen, _ = load_generator(tmp_path / "run")
    assert all(torch.equal(v, session.gen.state_dict()[k]) for k, v in gen.state_dict().items())


def test_runtime_env_ships_a_package_workers_cannot_import_otherwise(tmp_path):
    """What a remote node sees: the package exists only on the driver's disk, outside every worker's path; Ray ships
    it through runtime_env's py_modules, the mechanism agents.rllib.runtime_env() uses for seqgan_env."""
    import ray

    from agents.rllib import runtime_env

    pkg = tmp_path / "elsewhere" / "seqgan_probe_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("WHERE = __file__\n")
    env = runtime_env()
    assert env["py_modules"] == [str(REPO / "seqgan_env")]

    @ray.remote
    def where() -> str:
        import seqgan_probe_pkg  # type: ignore[import-not-found]

        return seqgan_probe_pkg.WHERE

    ray.init(runtime_env={"py_modules": [*env["py_modules"], str(pkg)]}, include_dashboard=False,
             log_to_driver=False)  # fmt: skip
    try:
        got = ray.get(where.remote(), timeout=120)
    finally:
        ray.shutdown()
    assert not got.startswith(str(tmp_path))
    assert got.endswith("__init__.py")


def test_rllib_sync_check_over_no_runner_fails_instead_of_passing():
    from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
    from seqgan_env.rllib import parts_match

    disc = Discriminator(DiscriminatorConfig(10, 4, emb_dim=4, filter_sizes=(2,), num_filters=(3,)))
    gen = Generator(GeneratorConfig(10, 4, emb_dim=4, hidden_dim=4))
    with pytest.raises(ValueError, match="no env runner"):
        parts_match([], disc, gen)
    with pytest.raises(ValueError, match="holds no SeqGAN-v0 env"):
        parts_match([[]], disc, gen)
    held = [[{"discriminator": {k: v.numpy() for k, v in disc.state_dict().items()},
              "rollout_policy": {k: v.numpy() for k, v in gen.state_dict().items()}}]]  # fmt: skip
    assert parts_match(held, disc, gen)
    assert not parts_match(held, disc, gen, gen)  # a part the runner does not report is not in sync
    assert parts_match(held, None, gen)  # a part its reward source does not read is not compared
    held[0][0]["rollout_policy"]["proj.bias"] = held[0][0]["rollout_policy"]["proj.bias"] + 1
    assert not parts_match(held, disc, gen)


def test_rllib_module_policy_is_the_generator_and_its_critic_is_separate():
    import gymnasium as gym

    from seqgan_env import Generator, GeneratorConfig
    from seqgan_env.rllib import module_spec

    cfg = GeneratorConfig(12, 4, emb_dim=6, hidden_dim=5)
    spec = module_spec(cfg, critic=True)
    spec.observation_space = gym.spaces.Box(0, 12, (4,), np.float32)
    spec.action_space = gym.spaces.Discrete(12)
    module = spec.build()
    gen = Generator(cfg)
    module.load_generator_state(gen.state_dict())
    obs = torch.tensor([[12.0, 12, 12, 12], [1.0, 2, 12, 12], [1.0, 2, 3, 4]])
    out = module.forward_train({"obs": obs})
    assert torch.allclose(out["action_dist_inputs"], gen.next_token_logits(obs))
    values = module.compute_values({"obs": obs})
    values.sum().backward()
    assert all(p.grad is None for p in module.generator.parameters())  # the value loss never moves G
    assert set(module.get_non_inference_attributes()) == {"critic", "value_head"}
    bad = module_spec(cfg)
    bad.observation_space, bad.action_space = spec.observation_space, gym.spaces.Discrete(13)
    with pytest.raises(ValueError, match="the env needs vocab_size=13"):
        bad.build()


def test_rllib_ppo_config_maps_the_project_ppo_settings(tmp_path):
    from agents.rllib import ppo_config
    from seqgan_env import GeneratorConfig

    cfg = tiny(
        tmp_path,
        {
            "ppo.clip_range": 0.15,
            "adv.ent_coef": 0.01,
            "adv.max_grad_norm": 2.0,
            "ppo.n_epochs": 3,
            "ppo.minibatch_size": 10,
            "ppo.lr": 3e-4,
            "adv.lr_schedule": "linear",
            "adv.updates": 7,
        },
    )
    config = ppo_config(cfg, {"vocab_size": 30, "seq_len": 5}, GeneratorConfig(30, 5, emb_dim=8, hidden_dim=8), 2)
    assert (config.clip_param, config.entropy_coeff, config.grad_clip, config.grad_clip_by) == (
        0.15,
        0.01,
        2.0,
        "global_norm",
    )
    assert (config.num_epochs, config.minibatch_size, config.train_batch_size_per_learner) == (3, 10, 40)
    assert (config.gamma, config.lambda_, config.use_kl_loss, config.vf_loss_coeff) == (1.0, 1.0, False, 0.5)
    assert config.vf_clip_param == float("inf")
    assert config.lr == [[0, 3e-4], [7 * 40, 0.0]]
    assert config.num_env_runners == 2
    assert (config.num_envs_per_env_runner, config.gym_env_vectorize_mode) == (4, "vector_entry_point")  # 8 / 2
    text = ppo_config(cfg, {}, GeneratorConfig(30, 5, emb_dim=8, hidden_dim=8, eos_token=1, pad_token=0), 3)
    assert (text.num_envs_per_env_runner, text.gym_env_vectorize_mode) == (3, "sync")  # ceil(8 / 3)


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("reinforce.kl_coef", 0.1, "--reinforce.kl-coef: a REINFORCE setting"),
        ("ppo.target_kl", 0.05, "--ppo.target-kl 0.05: RLlib's PPO has no KL early stop"),
        ("env.reward_source", "prefix", "--env.reward-source"),
        ("agent", "reinforce", "--agent reinforce: an RLlib run trains the PPO agent"),
    ],
)
def test_rllib_refuses_flags_it_cannot_honour_before_any_work(tmp_path, flag, value, match):
    from agents.rllib import RLlibRun

    cfg = replace(tiny(tmp_path), {flag: value})
    with pytest.raises(ValueError, match=match):
        RLlibRun(cfg, num_env_runners=1)
    assert not (tmp_path / "run").exists()  # nothing was pretrained or written


def test_rllib_refuses_what_a_preset_asks_for_and_rllib_cannot_do(tmp_path):
    from agents.rllib import check_rllib_config

    preset_says = r"--adv.match-mle-diversity True \(from --preset fast\).*--ppo.advantage q \(from --preset fast\)"
    with pytest.raises(ValueError, match=preset_says):
        check_rllib_config(from_preset("fast", agent="ppo"), 1)
    fixed = {"ppo.advantage": "critic", "ppo.reward_mode": "shaped", "adv.match_mle_diversity": False}
    check_rllib_config(from_preset("fast", fixed, agent="ppo"), 1)


def test_rllib_script_bad_input_is_one_line(tmp_path, capsys):
    from train.rllib_ppo import main

    with pytest.raises(SystemExit) as exc:
        main(["--num-env-runners", "-1", "--run-dir", str(tmp_path / "r")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --num-env-runners must be an int >= 0, got -1"
    with pytest.raises(SystemExit):
        main(["--ppo.advantage", "q", "--ppo.reward-mode", "q", "--run-dir", str(tmp_path / "r")])
    assert "RLlib always standardises advantages" in capsys.readouterr().err


def test_rllib_env_creator_rejects_unknown_keys():
    from seqgan_env.rllib import env_creator

    with pytest.raises(ValueError, match="unknown SeqGAN-v0 env_config keys"):
        env_creator({"vocab_size": 10, "colour": "red"})


def test_rllib_env_creator_passes_env_kwargs_and_a_corpus_end_tokens():
    from seqgan_env.rllib import env_creator

    env = env_creator({"vocab_size": 10, "seq_len": 4, "n_rollouts": 2, "reward_mode": "q", "d_reward": "log_odds"})
    core = env.unwrapped.core
    assert (core.vocab_size, core.seq_len, core.n_rollouts, core.reward_mode) == (10, 4, 2, "q")
    assert core.source.d_reward == "log_odds"
    env = env_creator({"vocab_size": 10, "seq_len": 4, "generator_config": {"eos_token": 2, "pad_token": 0}})
    assert (env.unwrapped.core.eos_token, env.unwrapped.core.pad_token) == (2, 0)


def test_rllib_trains_its_own_default_module_on_the_oracle_reward(tmp_path):
    """Any RLlib algorithm can use the oracle reward: RLlib's own PPO with its default MLP module, nothing of the
    project's agents, on env_creator's oracle env (every runner builds the same seeded oracle)."""
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    from seqgan_env import Oracle, OracleConfig
    from seqgan_env import rllib as seqgan_rllib

    env_config = {"vocab_size": 6, "seq_len": 3, "reward_source": "oracle", "reward_mode": "q",
                  "oracle_config": {"seed": 3, "emb_dim": 4, "hidden_dim": 4}}  # fmt: skip
    env = seqgan_rllib.env_creator(env_config)
    assert env.unwrapped.core.rollout_policy is None
    assert env.unwrapped.core.discriminator is None
    with pytest.raises(ValueError, match="oracle_config is read only with reward_source"):
        seqgan_rllib.env_creator({"vocab_size": 6, "seq_len": 3, "oracle_config": {"seed": 3}})
    ray.init(num_cpus=1, include_dashboard=False, ignore_reinit_error=True)
    try:
        config = (
            PPOConfig()
            .environment(seqgan_rllib.register(), env_config=env_config)
            .env_runners(num_env_runners=0)
            .training(
                gamma=1.0,
                lambda_=1.0,
                entropy_coeff=1.0,
                train_batch_size_per_learner=120,
                minibatch_size=60,
                num_epochs=2,
                lr=3e-3,
            )
        )
        algo = config.build_algo()
        result = algo.train()
        algo.stop()
    finally:
        ray.shutdown()
    ret = result["env_runners"]["episode_return_mean"]
    oracle = Oracle(OracleConfig(vocab_size=6, seq_len=3, seed=3, emb_dim=4, hidden_dim=4))
    every = torch.cartesian_prod(*[torch.arange(6)] * 3)
    worst = float(oracle.log_prob(every).sum(1).min())
    assert worst <= ret < 0  # an episode's return is log p_O of its sequence


def test_rllib_run_resumes_to_more_iterations_with_every_runner_in_sync(tmp_path, capsys):
    from agents.config import replace
    from agents.rllib import train
    from agents.run.rundir import RunDir

    train(tiny(tmp_path, {"adv.updates": 2, "eval.checkpoint_every": 1}), num_env_runners=1)
    run_dir = tmp_path / "run"
    first = RunDir(run_dir).history()
    assert {r["phase"] for r in first} == {"adversarial", "d_round"}  # D's reports are rows, as in SB3 runs
    ckpts = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert ckpts == ["latest.pt", "rllib_algorithm_00002"]  # the older algorithm checkpoint was removed
    assert not (run_dir / ".lock").exists()

    def resume(updates: int | None, **extra: object) -> dict:
        grow = {"adv.updates": updates} if updates else {}
        cfg = replace(tiny(tmp_path / "other"), {"resume": str(run_dir), **grow})
        explicit = frozenset({"resume", *(["adv.updates"] if updates else []), *extra})
        return train(cfg, num_env_runners=1, explicit=explicit)

    grown = resume(4)
    history = RunDir(run_dir).history()
    assert [r["step"] for r in history if r["phase"] == "adversarial"] == [0, 1, 2, 3, 4]
    assert history[: len(first)] == first  # the first iterations are kept as they were
    assert grown["runners_in_sync"]
    assert grown["iterations"] == 4
    assert all(r["sampled_in_sync"] for r in history[len(first) :] if r["phase"] == "adversarial")
    from seqgan_env.rundir import run_finished

    assert run_finished(run_dir)
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["latest.pt", "rllib_algorithm_00004"]
    from seqgan_env import load_generator

    gen, _ = load_generator(run_dir)  # the final generator, for the library's loader
    assert gen.config.vocab_size == 30

    capsys.readouterr()
    resume(None)  # its own --adv.updates: done already
    assert "nothing to do" in capsys.readouterr().err
    with pytest.raises(ValueError, match="cannot shrink"):
        resume(3)
    with pytest.raises(ValueError, match="continues with its own config"):
        resume(5, **{"ppo.lr": True})
    with pytest.raises(FileNotFoundError, match="no such run directory"):
        train(replace(tiny(tmp_path / "x"), {"resume": str(tmp_path / "nope")}), num_env_runners=1,
              explicit=frozenset({"resume"}))  # fmt: skip
    with pytest.raises(ValueError, match="not an RLlib run"):
        train(replace(tiny(tmp_path / "x"), {"resume": str(run_dir / "pretrain")}), num_env_runners=1,
              explicit=frozenset({"resume"}))  # fmt: skip


def test_rllib_trains_across_two_ray_nodes_with_runners_on_each(tmp_path):
    from ray.cluster_utils import Cluster

    from agents.rllib import RLlibRun
    from seqgan_env import rllib as seqgan_rllib

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})  # two raylets on this machine
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        with pytest.raises(ValueError, match="has 2 CPUs and each env runner takes one"):  # before any pretraining
            RLlibRun(tiny(tmp_path / "short", {"adv.updates": 1}), num_env_runners=3, address=cluster.address)
        assert not (tmp_path / "short").exists()
        session = RLlibRun(tiny(tmp_path, {"adv.updates": 1}), num_env_runners=2, address=cluster.address)
        session.start()
        try:
            nodes = {r["node"] for r in seqgan_rllib.runner_modules(session.algo)}
            assert len(nodes) == 2  # one env runner (1 CPU each) on each node
            row = session.iterate()
            assert row["sync_runners"] == 2
            assert row["sampled_in_sync"]
        except BaseException:
            session.close()
            raise
        assert session.finish()["runners_in_sync"]
    finally:
        cluster.shutdown()


@pytest.mark.slow
def test_ray_job_submit_runs_the_rllib_script_on_a_started_head(tmp_path):
    """The README's `ray job submit` command, run: needs the cluster extra (ray[default]); stops every Ray process
    of this machine at the end (`ray stop --force`), so it is kept out of the default run."""
    pytest.importorskip("ray.dashboard.modules.job", reason="the cluster extra is not installed")
    import shutil
    import subprocess
    import sys

    ray_cli = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "OMP_NUM_THREADS": "1"}
    tiny_flags = ["--device", "cpu", "--task.vocab-size", "30", "--task.seq-len", "5", "--task.n-train", "128",
                  "--task.n-test", "32", "--generator.emb-dim", "8", "--generator.hidden-dim", "8", "--mle.epochs", "1",
                  "--disc.size", "small", "--disc.emb-dim", "8", "--disc.negatives", "64", "--disc.pretrain-rounds",
                  "1", "--disc.pretrain-epochs", "1", "--env.num-envs", "8", "--env.n-rollouts", "2",
                  "--eval.samples", "64", "--disc.report-samples", "32"]  # fmt: skip
    head = [ray_cli, "start", "--head", "--num-cpus", "2", "--dashboard-port", "8365", "--include-dashboard", "true",
            "--disable-usage-stats"]  # fmt: skip
    subprocess.run(head, env=env, check=True, capture_output=True, timeout=300)
    try:
        job = [ray_cli, "job", "submit", "--address", "http://127.0.0.1:8365", "--working-dir", ".", "--", "python",
               "train/rllib_ppo.py", *tiny_flags, "--address", "auto", "--num-env-runners", "1", "--adv.updates", "2",
               "--run-dir", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
        out = subprocess.run(job, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        assert "succeeded" in out.stdout + out.stderr
        assert json.loads((tmp_path / "run" / "metrics.json").read_text())["runners_in_sync"]
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=300)


@pytest.mark.parametrize("source", ["oracle", "perfect"])
def test_rllib_ppo_trains_on_the_oracle_tasks_exact_rewards(tmp_path, source):
    from agents.rllib import train

    kw = {"task.vocab_size": 30, "task.seq_len": 5, "task.n_train": 128, "task.n_test": 32, "mle.epochs": 1,
          "eval.every": 1, "eval.samples": 64, "adv.updates": 2, "env.reward_source": source}  # fmt: skip
    out = train(tiny_run_config(tmp_path / "run", kw, agent="ppo"), num_env_runners=1)
    assert out["runners_in_sync"]  # the rollout policy (perfect) and the generator; no D exists
    from agents.run.rundir import RunDir

    rows = RunDir(tmp_path / "run").history()
    assert {r["phase"] for r in rows} == {"adversarial"}  # no D: no D reports
    assert all("kl_oracle" in r for r in rows)  # the benchmark's metrics
    assert all(r["sampled_in_sync"] and not r["d_retrained"] for r in rows[1:])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["env"]["reward_source"] == source
    with pytest.raises(ValueError, match="--overlap-d: --env.reward-source .* trains no D"):
        train(tiny_run_config(tmp_path / "again", kw, agent="ppo"), num_env_runners=1, overlap_d=True)
    assert not (tmp_path / "again").exists()  # refused before any work


def test_rllib_overlapped_d_is_pushed_one_iteration_later_and_ends_in_sync(tmp_path):
    from agents.rllib import train
    from agents.run.rundir import RunDir

    out = train(tiny(tmp_path, {"adv.updates": 3}), num_env_runners=1, overlap_d=True)
    rows = RunDir(tmp_path / "run").rows("adversarial")[1:]
    # D retrained after every iteration, each round in a thread while the next iteration runs: pushed a round later
    assert [r["d_retrained"] for r in rows] == [False, True, True]
    assert all(r["sampled_in_sync"] for r in rows)
    assert len(RunDir(tmp_path / "run").rows("d_round")) == 3  # the last round landed before the end
    assert out["runners_in_sync"]  # the runners hold the D of the last round
