"""The grouped config: its CLI (tyro), the agent it carries, and run directories written by earlier versions."""

from __future__ import annotations

import json

import pytest

from agents.cli import parse_args
from agents.config import RENAMED, from_preset, get, paths, to_dict
from agents.run.checkpoint import load_checkpoint, save_checkpoint
from agents.run.pipeline import run
from agents.run.rundir import RunDir
from tests.helpers import tiny_run_config


def test_help_lists_the_flags_by_group_with_the_presets_values(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--mle.epochs", "--disc.retrain-every", "--env.num-envs", "--reinforce.kl-coef", "--ppo.clip-range"):
        assert flag in out
    assert "Epochs over the training set" in out  # the field's docstring
    assert "(default: 15)" in out  # the quick preset's MLE epochs
    with pytest.raises(SystemExit):
        parse_args(["--preset", "paper", "--help"])
    assert "(default: 120)" in capsys.readouterr().out


def test_cli_sets_nested_fields_and_booleans():
    cfg = parse_args(["--mle.epochs", "3", "--task.no-lowercase", "--adv.lr-schedule", "linear", "--no-progress"])
    assert (cfg.mle.epochs, cfg.task.lowercase, cfg.adv.lr_schedule, cfg.progress) == (3, False, "linear", False)
    assert cfg.disc.retrain_every == from_preset("quick").disc.retrain_every  # the rest: the preset's


def test_old_flat_flags_are_refused_with_their_new_name(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--mle-epochs", "3", "--batch-size=8", "--no-match-mle-diversity"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--mle-epochs was renamed --mle.epochs" in err
    assert "--batch-size was renamed --env.num-envs" in err
    assert "--no-match-mle-diversity was renamed --adv.no-match-mle-diversity" in err


def test_a_training_script_refuses_another_agent(capsys):
    assert parse_args([], agent="ppo").agent == "ppo"
    with pytest.raises(SystemExit) as exc:
        parse_args(["--agent", "ppo"], agent="reinforce")
    assert exc.value.code == 2
    assert "this script trains the reinforce agent" in capsys.readouterr().err


def test_every_old_name_maps_to_a_field_and_every_field_has_one_path():
    known = set(paths())
    assert set(RENAMED.values()) <= known
    assert len(set(RENAMED.values())) == len(RENAMED)  # no two old names collapse into one field


def _flat(config: dict) -> dict:
    """A config as earlier versions saved it: one flat dict, the agent beside it."""
    cfg = from_preset(config["preset"], {p: v for g in config if isinstance(config[g], dict)
                                         for p, v in ((f"{g}.{k}", v) for k, v in config[g].items())})  # fmt: skip
    top = {k: v for k, v in config.items() if not isinstance(v, dict) and k != "agent"}
    return {**top, **{old: get(cfg, new) for old, new in RENAMED.items()}}


def _old_adversarial(state: dict, names: list[str]) -> dict:
    """An adversarial checkpoint entry in the layout earlier versions wrote (flat keys, callbacks by position)."""
    agent, cbs = state["agent"], state["callbacks"]
    env = agent["env"]
    return {
        **{k: agent[k] for k in ("policy", "policy_optimizer", "num_timesteps", "n_updates")},
        "sampling_rng": agent["sampling_rng"], "kl_reference": agent["kl_reference"],
        "env_torch_rng": env["torch_rng"], "env_np_random": env["np_random"], "env_q_prev": env["source"]["q_prev"],
        "env_tokens": env["tokens"], "env_pos": env["pos"],
        "callbacks_last_done": [cbs[n]["last_done"] for n in names],
        "d_callback_rng": cbs["discriminator"]["rng"], "mle_callback": None,
        "rollout_policy": cbs["rollout_policy"]["rollout_policy"],
    }  # fmt: skip


def test_a_run_directory_of_an_earlier_version_loads_and_resumes_exactly(tmp_path):
    """An earlier version's run (flat config.json and checkpoint config, flat adversarial state) reads back as the same
    config, and resuming it mid-adversarial ends exactly where an uninterrupted run does."""
    full = run(tiny_run_config(tmp_path / "full", {"adv.updates": 4}))
    run(tiny_run_config(tmp_path / "old", {"adv.updates": 2}))
    rundir = RunDir(tmp_path / "old")
    new_cfg = rundir.config()
    config = json.loads((rundir.path / "config.json").read_text())
    (rundir.path / "config.json").write_text(json.dumps({"agent": config["agent"], **_flat(config)}))
    assert to_dict(rundir.config()) == to_dict(new_cfg)
    ckpt = load_checkpoint(rundir.latest)
    ckpt["config"] = _flat(ckpt["config"])
    ckpt["adversarial"] = _old_adversarial(ckpt["adversarial"], ["rollout_policy", "discriminator", "eval", "save"])
    save_checkpoint(rundir.latest, ckpt)
    resumed = run(tiny_run_config(tmp_path / "old", {"adv.updates": 4}, resume=str(tmp_path / "old")))
    assert resumed["final_nll_oracle"] == full["final_nll_oracle"]
    assert resumed["final_nll_test"] == full["final_nll_test"]


def test_preset_is_read_in_both_spellings():
    from agents.cli import preset_arg

    assert preset_arg(["--preset=fast"]) == preset_arg(["--preset", "fast"]) == "fast"
    assert preset_arg(["--seed", "1"]) == "quick"
    assert parse_args(["--preset=fast"]).mle.epochs == from_preset("fast").mle.epochs


def test_from_preset_takes_group_paths_and_top_level_fields():
    cfg = from_preset("quick", {"mle.epochs": 5, "env.num_envs": 32}, agent="ppo", seed=1)  # the README's example
    assert (cfg.mle.epochs, cfg.env.num_envs, cfg.agent, cfg.seed, cfg.preset) == (5, 32, "ppo", 1, "quick")
    with pytest.raises(ValueError, match=r"unknown config fields \['mle_epochs \(now mle.epochs\)'\]"):
        from_preset("quick", {"mle_epochs": 5})
    with pytest.raises(ValueError, match="--agent must be one of"):
        from_preset("quick", agent="sac")


def test_mle_early_stopping_keeps_the_best_validation_epoch(tmp_path):
    """--mle.patience: G in pretrained.pt is the epoch with the lowest validation NLL, recorded as best_epoch."""
    import torch

    cfg = tiny_run_config(
        tmp_path / "es",
        {
            "mle.epochs": 40,
            "mle.patience": 2,
            "mle.lr": 0.3,
            "task.n_valid": 64,
            "task.n_train": 64,
            "generator.hidden_dim": 32,
            "adv.updates": 0,
            "eval.every": 1,
        },
    )  # 64 sequences and a large rate: it overfits within a few epochs
    run(cfg)
    rundir = RunDir(tmp_path / "es")
    mle = rundir.rows("mle")
    best = next(r for r in mle if "best_epoch" in r)
    evaluated = [r for r in mle if "best_epoch" not in r and r["step"] > 0]
    assert best["nll_valid"] == pytest.approx(min(r["nll_valid"] for r in evaluated))
    assert best["step"] == best["best_epoch"] + 2 < 40  # stopped after 2 epochs without a gain
    kept, final = load_checkpoint(rundir.mle_best)["generator"], load_checkpoint(rundir.pretrained)["generator"]
    assert all(torch.equal(kept[k], final[k]) for k in kept)
    with pytest.raises(ValueError, match=r"--mle.patience \(early stopping\) needs --task.n-valid"):
        run(tiny_run_config(tmp_path / "bad", {"mle.patience": 2}))
