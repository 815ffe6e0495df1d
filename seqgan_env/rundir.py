"""A run directory's layout, in one place: the name of every file a run writes (and the phase names its checkpoints
and history rows use), the lock that keeps a second process out, the reader of its checkpoint files (weights-only: no
code from a file ever runs) and every earlier version's format. The library's loader (:func:`seqgan_env.load_generator`)
reads runs through it; ``agents.run.rundir.RunDir`` adds the config and metrics writers on top.

    RUN/config.json          the run's config (grouped; earlier versions' flat files load too)
    RUN/vocab.json           a text run's vocabulary
    RUN/checkpoints/         latest.pt, pretrained.pt, best.pt, mle_best.pt, mle_epochNNN.pt; an RLlib run's
                             algorithm in rllib_algorithm_NNNNN/ (latest.pt names it)
    RUN/metrics.json, .csv   every evaluation row and the closing summary
    RUN/samples.txt          samples of the final generator; RUN/curve.png its learning curve; RUN/tb/ TensorBoard
    RUN/pretrain/            the pretraining run a comparison or an RLlib run starts from
    RUN/.lock                held while a process writes the run
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

CHECKPOINTS = ("latest", "pretrained", "best")
"""The generators a run keeps for users: ``latest`` (its final G once finished), ``pretrained`` (the MLE G the
adversarial phase started from), ``best`` (the adversarial G with the lowest validation NLL, its start included)."""


class Phase:
    """The names a run uses for its phases: where a checkpoint stands (``MLE`` → ``DISC`` → ``ADVERSARIAL`` → ``DONE``)
    and what a ``metrics.json`` history row records (evaluations of G, reports of D's quality)."""

    # where a run stands (checkpoint "phase")
    MLE = "mle"
    DISC = "disc"
    ADVERSARIAL = "adversarial"
    DONE = "done"
    # history rows: evaluations of G (MLE, ADVERSARIAL, and the final G after --adv.match-mle-diversity) ...
    MATCHED_MLE_DIVERSITY = "match_mle_diversity"
    # ... and D-quality reports (``d_*`` keys) after each D pretraining round and each adversarial retraining
    D_PRETRAIN = "d_pretrain"
    D_ROUND = "d_round"
    PRETRAINED = "pretrained_"
    """Prefix of the rows a ``--pretrained`` run copies from the run it starts from."""


class RunLayout:
    """Where each part of the run directory ``path`` lives (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    # ---- files
    @property
    def config_json(self) -> Path:
        return self.path / "config.json"

    @property
    def vocab_json(self) -> Path:
        return self.path / "vocab.json"

    @property
    def metrics_json(self) -> Path:
        return self.path / "metrics.json"

    @property
    def metrics_csv(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def samples_txt(self) -> Path:
        return self.path / "samples.txt"

    @property
    def curve_png(self) -> Path:
        return self.path / "curve.png"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tb"

    @property
    def pretrain_dir(self) -> Path:
        """The pretraining run inside a comparison's or an RLlib run's directory."""
        return self.path / "pretrain"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    # ---- checkpoints
    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def checkpoint(self, name: str) -> Path:
        """``checkpoints/{name}.pt`` (``latest``, ``pretrained``, ``best``, ``mle_best``, …)."""
        return self.checkpoints / f"{name}.pt"

    def checkpoint_dir(self, name: str) -> Path:
        """``checkpoints/{name}/``: a checkpoint that is a directory (an RLlib algorithm: ``rllib_algorithm_NNNNN``)."""
        return self.checkpoints / name

    def checkpoint_files(self) -> list[Path]:
        """Every checkpoint file the run holds, by name."""
        return sorted(self.checkpoints.glob("*.pt"))

    @property
    def latest(self) -> Path:
        return self.checkpoint("latest")

    @property
    def pretrained(self) -> Path:
        return self.checkpoint("pretrained")

    @property
    def best(self) -> Path:
        """The adversarial generator with the best validation NLL so far (its start included); a generator-only
        checkpoint, for ``load_generator(run, "best")`` and ``generate.py --checkpoint best``."""
        return self.checkpoint("best")

    @property
    def mle_best(self) -> Path:
        """Where ``--mle.patience`` keeps G at its best validation NLL so far."""
        return self.checkpoint("mle_best")

    def mle_epoch_path(self, epoch: int) -> Path:
        """Where ``--mle.keep-every`` keeps G after MLE epoch ``epoch``."""
        return self.checkpoint(f"mle_epoch{epoch:03d}")

    def kept_mle_epochs(self) -> list[int]:
        """The MLE epochs whose G ``--mle.keep-every`` kept, in order."""
        kept = self.checkpoints.glob("mle_epoch*.pt")
        return sorted(int(p.stem.removeprefix("mle_epoch")) for p in kept)

    # ---- metrics
    def finished(self) -> bool:
        """Whether the run has finished: its metrics.json holds the closing summary."""
        return self.metrics_json.is_file() and bool(json.loads(self.metrics_json.read_text()).get("summary"))

    # ---- one process at a time
    def lock(self) -> None:
        """Hold an exclusive lock on the run directory until :meth:`unlock` (or the process ends); a second process
        that tries gets one clear error instead of writing into the same run."""
        import fcntl

        path = self.lock_file
        while True:
            self._lock = open(path, "a+")  # noqa: SIM115  (held open for the run's lifetime)
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._lock.seek(0)
                holder = self._lock.read().strip() or "another process"
                self._lock.close()
                raise FileExistsError(
                    f"run directory {self.path} is in use by {holder}; wait for it to finish (or stop it), then "
                    "--resume"
                ) from None
            try:  # the holder before us may have removed the file as it let go: lock the file that is there
                if os.stat(path).st_ino == os.fstat(self._lock.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self._lock.close()
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"process {os.getpid()}\n")
        self._lock.flush()

    def unlock(self) -> None:
        """Let go of the run directory and remove its ``.lock`` (still held while it is removed, so no other process
        can hold it in between)."""
        if getattr(self, "_lock", None) is not None:
            (self.lock_file).unlink(missing_ok=True)
            self._lock.close()
            self._lock = None


def run_finished(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` holds a finished run (studies skip such runs)."""
    return RunLayout(path).finished()


class UnsafeCheckpointError(ValueError):
    """A checkpoint file holds objects other than tensors and plain data: reading it would run code from the file."""


def read_weights_only(path: str | os.PathLike[str], allow: Sequence[Any] = (), trust_code: bool = False) -> Any:
    """What the file at ``path`` holds, read with ``torch.load(weights_only=True)`` (no code from the file runs;
    ``allow`` adds globals that build data, ``trust_code=True`` reads in full). Every failure is one ``ValueError``
    naming the file and what it holds: nothing, bytes that are not a checkpoint, or (``UnsafeCheckpointError``)
    objects whose loading would run code."""
    path = Path(path)
    try:
        with torch.serialization.safe_globals(list(allow)):
            return torch.load(path, map_location="cpu", weights_only=not trust_code)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if not trust_code and ("unsupported global" in text or "unsupported class" in text):
            lines = [line.strip() for line in str(exc).splitlines() if "Unsupported" in line]
            what = lines[0][:200] if lines else "a refused global"
            raise UnsafeCheckpointError(
                f"{path} holds objects other than tensors and plain data ({what}): loading it would run code from "
                "the file; refused"
            ) from None
        raise ValueError(f"{path} is not a readable checkpoint: it holds bytes that are not a checkpoint") from None
    except Exception as exc:  # zero bytes (EOFError), a truncated zip (RuntimeError), text (KeyError), ...
        if path.is_file() and path.stat().st_size == 0:
            raise ValueError(f"{path} is not a readable checkpoint: the file is empty") from None
        raise ValueError(
            f"{path} is not a readable checkpoint: it holds bytes that are not a checkpoint ({type(exc).__name__})"
        ) from None


# ---------------------------------------------------------------------------------------- earlier versions' formats
# Everything a run directory written by an earlier version holds under another name or shape, read in this one place.

RENAMED: dict[str, str] = {
    **{k: f"task.{k}" for k in ("data", "text_level", "lowercase", "max_vocab", "min_freq", "long_sentences",
                                "oracle_params", "oracle_seed", "vocab_size", "seq_len", "n_train", "n_test",
                                "data_seed", "n_valid")},
    "gen_emb_dim": "generator.emb_dim", "gen_hidden_dim": "generator.hidden_dim",
    **{f"mle_{k}": f"mle.{k}" for k in ("epochs", "batch_size", "lr", "keep_every")},
    **{f"disc_{k}": f"disc.{k}" for k in ("size", "emb_dim", "lr", "batch_size")},
    "d_negatives": "disc.negatives", "d_pretrain_rounds": "disc.pretrain_rounds",
    "d_pretrain_epochs": "disc.pretrain_epochs", "d_every": "disc.retrain_every",
    "d_rounds": "disc.retrain_rounds", "d_epochs": "disc.retrain_epochs", "d_report_samples": "disc.report_samples",
    **{f"prefix_d_{k}": f"disc.prefix_{k}" for k in ("hidden_dim", "dropout", "l2", "lr")},
    "batch_size": "env.num_envs",
    **{k: f"env.{k}" for k in ("n_rollouts", "reward_source", "d_reward", "rollout_beta")},
    "gen_lr": "reinforce.lr",
    **{k: f"reinforce.{k}" for k in ("reward_mode", "baseline", "kl_coef", "loss_reduction")},
    **{f"ppo_{k}": f"ppo.{k}" for k in ("lr", "reward_mode", "n_steps", "n_epochs", "clip_range", "target_kl",
                                        "advantage")},
    "ppo_batch_size": "ppo.minibatch_size",
    "adv_updates": "adv.updates",
    **{k: f"adv.{k}" for k in ("lr_schedule", "ent_coef", "max_grad_norm", "mle_steps", "match_mle_diversity")},
    "eval_every": "eval.every", "eval_samples": "eval.samples", "checkpoint_every": "eval.checkpoint_every",
}  # fmt: skip
"""The flat config of earlier versions (run directories' config.json, checkpoints, old flags): old name →
``group.field``."""

OLD_AGENT_NAMES = {"rllib_ppo": "ppo"}
"""Agents earlier versions named otherwise (RLlib runs named their trainer in the agent field)."""

OLD_PHASE_NAMES = {"calibrated": Phase.MATCHED_MLE_DIVERSITY}
"""History-row phases earlier versions wrote under another name (the tempered final G's row)."""


def config_paths(saved: dict[str, Any], agent: str | None = None) -> dict[str, Any]:
    """A saved config (config.json or a checkpoint's ``config``: this version's groups, or an earlier version's flat
    names) as ``{"group.field" or top-level name: value}``, with this version's names. ``agent``: the agent earlier
    versions kept beside the config, used when the config lacks one."""
    flat: dict[str, Any] = {}
    for key, value in saved.items():
        if isinstance(value, dict):  # a group
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[RENAMED.get(key, key)] = value
    if "agent" not in flat and agent is not None:
        flat["agent"] = agent
    if flat.get("agent") in OLD_AGENT_NAMES:
        flat["agent"] = OLD_AGENT_NAMES[flat["agent"]]
    return flat


def upgrade_history(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run's history rows (from ``metrics.json`` or a checkpoint) with this version's phase names."""
    return [dict(r, phase=OLD_PHASE_NAMES[r["phase"]]) if r["phase"] in OLD_PHASE_NAMES else r for r in history]


def upgrade_adversarial_state(state: dict[str, Any], callbacks: list[str]) -> dict[str, Any]:
    """A checkpoint's adversarial phase in this version's layout (``{"agent": …, "callbacks": {name: …}}``).
    Checkpoints written before agents and callbacks declared their own state hold flat keys, with the callbacks'
    counters by position (``callbacks``: their names, in the order the phase builds them)."""
    if "agent" in state:
        return state
    env = {"torch_rng": state["env_torch_rng"], "np_random": state["env_np_random"], "q_prev": state["env_q_prev"]}
    if "env_pos" in state:
        env.update(tokens=state["env_tokens"], pos=state["env_pos"])
    agent = {k: state[k] for k in ("policy", "policy_optimizer", "num_timesteps", "n_updates")}
    agent.update(env=env, sampling_rng=state.get("sampling_rng"), kl_reference=state.get("kl_reference"))
    by_name: dict[str, dict[str, Any]] = {n: {"last_done": d} for n, d in zip(callbacks, state["callbacks_last_done"])}
    if "discriminator" in by_name:
        by_name["discriminator"]["rng"] = state["d_callback_rng"]
    if "mle" in by_name:
        by_name["mle"].update(rng=state["mle_callback"]["rng"], optimizer=state["mle_callback"]["opt"])
    by_name["rollout_policy"]["rollout_policy"] = state.get("rollout_policy")
    return {"agent": agent, "callbacks": by_name}
