"""The pipeline (agents.run.pipeline) and its phases: a run end to end, seeded repeats, resume after a stop or a crash,
the run directory, bad input; and each phase driven alone through its narrow interfaces (agents.run.recording)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.cli import parse_args
from agents.config import from_preset
from agents.run.checkpoint import load_checkpoint, save_checkpoint
from agents.run.pipeline import run
from tests.helpers import tiny_run_config, tiny_run_flags

ROOT = Path(__file__).resolve().parents[1]


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
    import agents.run.pretrain as pretrain

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
    from agents.run.rundir import saved_config
    from agents.run.task import build_task, generator_config
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
    from agents.run.rundir import saved_config

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


# ---------------------------------------------------------------- each phase alone, through its narrow interfaces
def _phase_parts(tmp_path, overrides: dict | None = None):
    """A tiny run's task, models, recorder and checkpointer, built without a Pipeline; the checkpointer's state is
    only the position it is asked to save (what a phase decides), collected in ``saved``."""
    from stable_baselines3.common.logger import Logger

    from agents.run.recording import Checkpointer, Models, Recorder
    from agents.run.rundir import RunDir
    from agents.run.task import build_discriminator, build_task, generator_config
    from seqgan_env.generator import Generator
    from seqgan_env.optim import adam

    cfg = tiny_run_config(tmp_path / "r", overrides or {})
    task = build_task(cfg, torch.device("cpu"))
    gen, disc = Generator(generator_config(cfg, task)), build_discriminator(cfg, task)
    rng = torch.Generator().manual_seed(0)
    models = Models(gen, disc, adam(gen.parameters(), lr=cfg.mle.lr), adam(disc.parameters(), lr=1e-3), rng,
                    torch.device("cpu"))  # fmt: skip
    rundir = RunDir(tmp_path / "r")
    rundir.checkpoints.mkdir(parents=True)
    rec = Recorder(cfg, task, rundir, Logger(folder=None, output_formats=[]))
    saved: list[tuple[str, int]] = []

    def state(phase: str, step: int) -> dict:
        saved.append((phase, step))
        return {"phase": phase, "step": step, "generator": gen.state_dict()}

    return cfg, task, models, rec, Checkpointer(rundir, state), saved


def test_mle_pretraining_alone_records_evaluations_and_checkpoints_each(tmp_path):
    from agents.run.pretrain import pretrain_generator

    cfg, task, models, rec, ckpt, saved = _phase_parts(tmp_path, {"mle.epochs": 3, "eval.every": 2})
    pretrain_generator(cfg, task, models, rec, ckpt, start=0)
    assert [(r["phase"], r["step"]) for r in rec.history] == [("mle", 0), ("mle", 2), ("mle", 3)]
    assert saved == [("mle", 2), ("mle", 3)]
    assert rec.history[-1]["nll_test"] < rec.history[0]["nll_test"]
    assert json.loads(ckpt.rundir.metrics_json.read_text())["history"] == rec.history


def test_mle_pretraining_alone_stops_after_ctrl_c_with_a_checkpoint_at_that_epoch(tmp_path):
    from agents.run.pretrain import pretrain_generator

    cfg, task, models, rec, ckpt, saved = _phase_parts(tmp_path, {"mle.epochs": 5, "eval.every": 10})
    ckpt.interrupted = True  # as GracefulInterrupt sets it on Ctrl-C
    with pytest.raises(SystemExit) as exit_:
        pretrain_generator(cfg, task, models, rec, ckpt, start=0)
    assert exit_.value.code == 130
    assert saved == [("mle", 1)]
    assert load_checkpoint(ckpt.rundir.latest)["step"] == 1


def test_d_pretraining_alone_reports_each_round_and_ends_at_the_adversarial_start(tmp_path):
    from agents.run.pretrain import pretrain_discriminator

    cfg, task, models, rec, ckpt, saved = _phase_parts(tmp_path, {"disc.pretrain_rounds": 2, "disc.report_samples": 64})
    pretrain_discriminator(cfg, task, models, rec, ckpt, start=0)
    assert [(r["phase"], r["step"]) for r in rec.history] == [("d_pretrain", 1), ("d_pretrain", 2)]
    assert all(0.0 <= r["d_accuracy"] <= 1.0 for r in rec.history)
    assert saved == [("disc", 1), ("disc", 2), ("adversarial", 0)]
    assert ckpt.rundir.pretrained.is_file()


def test_adversarial_phase_alone_trains_a_copy_and_hands_back_the_final_generator(tmp_path):
    from agents.run.adversarial import AdversarialPhase

    cfg, task, models, rec, ckpt, saved = _phase_parts(
        tmp_path, {"adv.updates": 3, "eval.checkpoint_every": 1, "disc.report_samples": 64}
    )
    before = {k: v.clone() for k, v in models.gen.state_dict().items()}
    phase = AdversarialPhase(cfg, task, models, rec, ckpt)
    phase.train()
    assert [r["step"] for r in rec.rows("adversarial")] == [0, 2, 3]
    assert [r["step"] for r in rec.rows("d_round")] == [2]  # D is retrained every 2 updates, before the next
    assert saved == [("adversarial", 1), ("adversarial", 2), ("adversarial", 3), ("done", 3)]
    after = models.gen.state_dict()
    assert all(torch.equal(after[k], v) for k, v in phase.generator.state_dict().items())
    assert any(not torch.equal(after[k], v) for k, v in before.items())


def test_history_rows_of_earlier_versions_read_with_this_versions_phase_names(tmp_path):
    """The tempered final G's row was called ``calibrated``; a run directory or checkpoint holding it still reads."""
    from agents.run.rundir import Phase, RunDir, upgrade_history

    rows = [{"phase": "adversarial", "step": 4}, {"phase": "calibrated", "step": 4, "temperature": 1.2}]
    assert [r["phase"] for r in upgrade_history(rows)] == ["adversarial", Phase.MATCHED_MLE_DIVERSITY]
    (tmp_path / "metrics.json").write_text(json.dumps({"history": rows, "summary": {}}))
    assert RunDir(tmp_path).rows(Phase.MATCHED_MLE_DIVERSITY) == [{"phase": "match_mle_diversity", "step": 4,
                                                                   "temperature": 1.2}]  # fmt: skip
