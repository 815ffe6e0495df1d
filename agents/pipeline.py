"""The SeqGAN pipeline as library code: oracle data → MLE pretraining of G → pretraining of D →
adversarial training (REINFORCE or PPO with the shared callbacks), with a run directory, atomic
checkpoints and ``--resume``. ``train/*.py`` scripts are thin wrappers around :func:`run`."""

from __future__ import annotations

import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.vec_env import VecMonitor
from tqdm.auto import tqdm

from agents.callbacks import (
    DiscriminatorCallback,
    EvalEveryKUpdates,
    MLECallback,
    RolloutPolicyCallback,
    SaveEveryKUpdates,
    get_seqgan_env,
    timesteps_per_update,
)
from agents.checkpoint import (
    atomic_write_json,
    atomic_write_text,
    load_checkpoint,
    save_checkpoint,
)
from agents.config import PRETRAIN_ONLY, SeqGANConfig, check_agent, from_preset, to_dict, uses_discriminator
from agents.reference import PerStepKLReference
from agents.reinforce import Reinforce
from agents.report import plot_curve, summarize, write_samples
from agents.rundir import RunDir, checkpoint_at, require_run_keys, saved_config
from agents.task import Task, build_discriminator, build_task, evaluate_generator, generator_config, seed_everything
from seqgan_env.discriminator import (
    Discriminator,
    train_discriminator,
)
from seqgan_env.env import SeqGANVectorEnv, resolve_device
from seqgan_env.generator import Generator, mle_step
from seqgan_env.metrics import (
    discriminator_report,
    fold_temperature,
    matching_temperature,
    per_sequence_nll,
)
from seqgan_env.optim import adam
from seqgan_env.sb3 import SB3VecEnv

# Fields that may differ when resuming (they do not change what is computed).
RESUME_FREE = {"resume", "progress", "device", "run_dir", "adv_updates"}


def resolve_resume(cfg: SeqGANConfig) -> tuple[SeqGANConfig, dict[str, Any]]:
    """Load the last checkpoint of ``cfg.resume``; the run's saved config wins (``adv_updates`` may grow)."""
    run = RunDir(cfg.resume or "")
    if not run.path.is_dir():
        raise FileNotFoundError(f"--resume {run.path}: no such run directory")
    if cfg.run_dir and Path(cfg.run_dir) != run.path:
        raise ValueError(f"--resume {cfg.resume} continues in that directory; drop --run-dir {cfg.run_dir}")
    if not run.latest.is_file():
        raise FileNotFoundError(
            f"--resume {run.path}: it has no checkpoint yet (the run stopped before its first one); nothing to resume: "
            f"delete the directory and start again, or pass another --run-dir"
        )
    ckpt = require_run_keys(load_checkpoint(run.latest), run.latest)
    saved = saved_config(ckpt)
    given, defaults = to_dict(cfg), to_dict(from_preset(cfg.preset))
    clash = [
        k for k in given if k not in RESUME_FREE and given[k] != defaults[k] and given[k] != getattr(saved, k)
    ]  # flags set explicitly that disagree with the saved run
    if clash:
        raise ValueError(f"--resume {run.path}: flags {clash} differ from the run's saved config; drop them")
    saved.resume, saved.run_dir, saved.progress = str(run.path), str(run.path), cfg.progress
    saved.device = cfg.device
    if cfg.adv_updates != defaults["adv_updates"]:
        saved.adv_updates = cfg.adv_updates
    return saved, ckpt


# ------------------------------------------------------------------------------------------------ phases
def mle_epoch(
    gen: Generator,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    batch_size: int,
    rng: torch.Generator,
    max_grad_norm: float = 5.0,
) -> float:
    """One epoch of maximum-likelihood training (teacher forcing); returns the mean token NLL."""
    gen.train()
    perm = torch.randperm(len(data), generator=rng)
    total = 0.0
    for idx in torch.split(perm, batch_size):
        total += mle_step(gen, optimizer, data[idx], max_grad_norm) * len(idx)
    return total / len(data)


@dataclass
class Pipeline:
    """State of one run; :func:`run` drives it through the phases, checkpointing after each step."""

    cfg: SeqGANConfig
    agent: str
    run: RunDir
    task: Task
    device: torch.device
    gen: Generator
    disc: Discriminator
    gen_opt: torch.optim.Optimizer
    disc_opt: torch.optim.Optimizer
    rng: torch.Generator
    logger: Logger
    history: list[dict[str, Any]] = field(default_factory=list)
    phase: str = "mle"
    step: int = 0
    wall: float = 0.0
    model: BaseAlgorithm | None = None
    d_callback: DiscriminatorCallback | None = None
    rollout_callback: RolloutPolicyCallback | None = None
    callbacks: list[Any] = field(default_factory=list)
    mle_callback: MLECallback | None = None
    interrupted: bool = False
    _t0: float = field(default_factory=time.perf_counter)

    # ---- bookkeeping
    def elapsed(self) -> float:
        return self.wall + time.perf_counter() - self._t0

    def tempered(self) -> dict[str, Any] | None:
        """The evaluation of the generator ``--match-mle-diversity`` tempered at the end of the run, if it has been."""
        return next((r for r in reversed(self.history) if r["phase"] == "calibrated"), None)

    def record(self, phase: str, step: int, timesteps: int, metrics: dict[str, float]) -> dict[str, Any]:
        row = {"phase": phase, "step": step, "timesteps": timesteps, "wall_s": round(self.elapsed(), 2), **metrics}
        self.history.append(row)
        for k, v in metrics.items():
            self.logger.record(f"eval/{phase}_{k}", v)
        self.logger.dump(step=len(self.history))
        self.run.write_metrics(self.history)
        return row

    def evaluate(self, gen: Generator | None = None) -> dict[str, float]:
        """:func:`evaluate_generator` of ``gen`` (default: this run's generator) on this run's task."""
        return evaluate_generator(gen or self.gen, self.task, self.cfg)

    def d_report(self, phase: str, step: int, timesteps: int) -> dict[str, float] | None:
        """D's quality now (``--d-report-samples`` fresh G samples vs the held-out real data; see
        :func:`~seqgan_env.metrics.discriminator_report`), recorded as a ``phase`` row of metrics and TensorBoard."""
        if not self.cfg.d_report_samples:
            return None
        seed = self.cfg.seed + 7_919 * (len(self.history) + 1)  # fresh samples for each report, reproducibly
        report = discriminator_report(
            self.disc, self.gen if self.model is None else self.model.policy.generator, self.task.oracle,
            self.task.test, self.cfg.d_report_samples, seed=seed,
        )  # fmt: skip
        self.record(phase, step, timesteps, {f"d_{k}": v for k, v in report.items()})
        return report

    def state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here."""
        out: dict[str, Any] = {
            "config": to_dict(self.cfg), "agent": self.agent, "phase": self.phase, "step": self.step,
            "wall": self.elapsed(), "history": self.history,
            "generator": self.gen.state_dict(), "gen_optimizer": self.gen_opt.state_dict(),
            "discriminator": self.disc.state_dict(), "disc_optimizer": self.disc_opt.state_dict(),
            "rng": self.rng.get_state(), "torch_rng": torch.get_rng_state(),
            "vocab": self.task.corpus.vocab.tokens if self.task.corpus is not None else None,
            "data_digest": self.task.digest(),
            "numpy_rng": np.random.get_state(),  # noqa: NPY002
            "python_rng": random.getstate(),
        }  # fmt: skip
        if self.model is not None:
            model = self.model
            core = get_seqgan_env(model.env).core
            out["adversarial"] = {
                "policy": model.policy.state_dict(),
                "policy_optimizer": model.policy.optimizer.state_dict(),
                "num_timesteps": model.num_timesteps,
                "n_updates": model._n_updates,
                "sampling_rng": model.sampling_rng.get_state() if hasattr(model, "sampling_rng") else None,
                "env_torch_rng": core.torch_rng.get_state(),
                "env_np_random": get_seqgan_env(model.env).venv.np_random.bit_generator.state,
                "env_q_prev": core.q_prev.cpu(),
                "env_tokens": core.tokens.cpu(),  # episodes in progress (text: PPO stops mid-episode)
                "env_pos": core.pos.cpu(),
                "callbacks_last_done": [cb.last_done for cb in self.callbacks],
                "d_callback_rng": self.d_callback.rng.get_state() if self.d_callback else None,
                "mle_callback": {
                    "rng": self.mle_callback.rng.get_state(),
                    "opt": self.mle_callback.optimizer.state_dict(),
                }
                if self.mle_callback is not None and self.mle_callback.optimizer is not None
                else None,
                "rollout_policy": self.rollout_callback.rollout_policy.state_dict()
                if self.rollout_callback and self.rollout_callback.rollout_policy is not None
                else None,
                # the KL penalty's G_ref (the MLE checkpoint; "generator" becomes the final G when a run ends)
                "kl_reference": ref.state_dict() if (ref := getattr(model, "reference", None)) is not None else None,
            }
        return out

    def stop_if_interrupted(self, save: bool = True) -> None:
        """After Ctrl-C (see :class:`GracefulInterrupt`): save a checkpoint at this safe point and exit."""
        if self.interrupted:
            if save:
                self.checkpoint()
            tqdm.write(f"interrupted: checkpoint saved; continue with --resume {self.run.path}", file=sys.stderr)
            raise SystemExit(130)

    def checkpoint(self, also: Path | None = None) -> None:
        payload = self.state()
        save_checkpoint(self.run.latest, payload)
        if also is not None:
            save_checkpoint(also, payload)


# Flags that only one kind of agent reads: set under another agent they would be silently ignored, so they are refused.
def build_pipeline(cfg: SeqGANConfig, agent: str, ckpt: dict[str, Any] | None = None) -> Pipeline:
    """Create (or restore from ``ckpt``) every part of a run (``agent`` and ``cfg`` checked by :func:`run`)."""
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    pretrained = load_pretrained(cfg) if cfg.pretrained and ckpt is None else None
    run = RunDir(cfg.resume) if ckpt is not None else RunDir.create(cfg, agent)
    run.lock()
    if ckpt is None:
        atomic_write_json(run.path / "config.json", {"agent": agent, **to_dict(cfg)})
    task = build_task(cfg, device)
    vocab = task.vocab_size
    if task.corpus is not None:
        atomic_write_text(run.path / "vocab.json", task.corpus.vocab.to_json() + "\n")
    gen = Generator(generator_config(cfg, task)).to(device)
    disc = build_discriminator(cfg, vocab).to(device)
    gen_opt = adam(gen.parameters(), lr=cfg.mle_lr)
    disc_opt = adam(disc.parameters(), lr=disc.config.lr)
    rng = torch.Generator().manual_seed(cfg.seed)
    logger = configure(str(run.path / "tb"), ["tensorboard"])
    pipe = Pipeline(cfg, agent, run, task, device, gen, disc, gen_opt, disc_opt, rng, logger)
    source = ckpt or pretrained
    saved_vocab = (source or {}).get("vocab")
    if task.corpus is not None and saved_vocab is not None and saved_vocab != task.corpus.vocab.tokens:
        raise ValueError(f"the corpus {cfg.data} no longer yields the checkpoint's vocabulary (was the file changed?)")
    saved_digest = (source or {}).get("data_digest")
    if saved_digest is not None and saved_digest != task.digest():
        raise ValueError(
            f"the task's data ({cfg.data or 'oracle sample'}) no longer yields the checkpoint's train/test split "
            "(were the corpus lines changed or reordered?): restore the data the run was started with"
        )
    # A per-prefix D cannot start from another run's CNN D: it is pretrained here, from the pretrained G.
    new_d = pretrained is not None and ckpt is None and _d_kind(pretrained["config"]) != _d_kind(to_dict(cfg))
    if source is not None:
        try:
            gen.load_state_dict(source["generator"])
            gen_opt.load_state_dict(source["gen_optimizer"])
            if not new_d:
                disc.load_state_dict(source["discriminator"])
                disc_opt.load_state_dict(source["disc_optimizer"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise ValueError(f"checkpoint does not match this config's models: {exc}") from None
    if ckpt is not None:
        pipe.history, pipe.phase, pipe.step, pipe.wall = ckpt["history"], ckpt["phase"], ckpt["step"], ckpt["wall"]
        rng.set_state(ckpt["rng"])
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])
    elif pretrained is not None:
        pipe.history = [dict(r, phase=f"pretrained_{r['phase']}") for r in pretrained["history"]]
        pipe.phase, pipe.step = ("disc" if new_d else "adversarial"), 0
        pipe.wall = pretrained["wall"]  # wall times count the pretraining this run starts from
        rng.set_state(pretrained["rng"])
    return pipe


def _d_kind(config: dict[str, Any]) -> str:
    """Which D a (saved) config builds: "prefix" (the LSTM D) or "cnn"."""
    return "prefix" if config.get("reward_source") == "prefix" else "cnn"


def load_pretrained(cfg: SeqGANConfig) -> dict[str, Any]:
    """The ``pretrained.pt`` of ``cfg.pretrained``, checked to match ``cfg``'s task and model sizes."""
    path = Path(cfg.pretrained or "")
    ckpt = checkpoint_at(path, "pretrained.pt")
    must_match = ["oracle_params", "oracle_seed", "vocab_size", "seq_len", "n_train", "n_test", "gen_emb_dim",
                  "gen_hidden_dim", "disc_size", "disc_emb_dim"]  # fmt: skip
    theirs = ckpt["config"]
    if _d_kind(theirs) != _d_kind(to_dict(cfg)) or cfg.reward_source == "perfect":  # its D is not loaded
        must_match = [k for k in must_match if k not in ("disc_size", "disc_emb_dim")]
    diff = {k: (theirs.get(k), getattr(cfg, k)) for k in must_match if theirs.get(k) != getattr(cfg, k)}
    data_seed = (theirs.get("data_seed"), theirs.get("seed")), (cfg.data_seed, cfg.seed)
    if _effective(*data_seed[0]) != _effective(*data_seed[1]):
        diff["data_seed"] = (_effective(*data_seed[0]), _effective(*data_seed[1]))
    if diff:
        raise ValueError(f"--pretrained {path}: config differs in {diff} (saved, given); pass matching flags")
    preset = from_preset(cfg.preset)
    for k in PRETRAIN_ONLY:  # this run does no MLE: it records the pretraining it starts from, or refuses a clash
        if k in theirs and getattr(cfg, k) != theirs[k]:
            if getattr(cfg, k) != getattr(preset, k):
                raise ValueError(
                    f"--{k.replace('_', '-')} {getattr(cfg, k)}: this run starts from --pretrained {path}, whose "
                    f"pretraining used {theirs[k]}; it runs no MLE of its own: drop the flag"
                )
            setattr(cfg, k, theirs[k])
    return ckpt


def _effective(data_seed: int | None, seed: int) -> int:
    return seed if data_seed is None else data_seed


def pretrain_generator(pipe: Pipeline) -> None:
    """MLE pretraining of G, evaluating every ``eval_every`` epochs and checkpointing after each evaluation."""
    cfg = pipe.cfg
    if pipe.phase != "mle":
        return
    if pipe.step == 0 and not pipe.history:
        pipe.record("mle", 0, 0, pipe.evaluate())
    bar = tqdm(range(pipe.step, cfg.mle_epochs), desc="MLE pretraining", unit="epoch", disable=not cfg.progress,
               initial=pipe.step, total=cfg.mle_epochs)  # fmt: skip
    for epoch in bar:
        loss = mle_epoch(pipe.gen, pipe.gen_opt, pipe.task.train, cfg.mle_batch_size, pipe.rng)
        pipe.step = epoch + 1
        pipe.logger.record("mle/loss", loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if pipe.step % cfg.eval_every == 0 or pipe.step == cfg.mle_epochs:
            row = pipe.record("mle", pipe.step, 0, pipe.evaluate())
            bar.set_postfix(loss=f"{loss:.3f}", nll_test=f"{row['nll_test']:.3f}")
            pipe.checkpoint()
        if cfg.mle_keep_every and pipe.step % cfg.mle_keep_every == 0:
            save_checkpoint(pipe.run.mle_epoch_path(pipe.step), pipe.state())
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = "disc", 0
    pipe.checkpoint()


def pretrain_discriminator(pipe: Pipeline) -> None:
    """Pretrain D: ``d_pretrain_rounds`` rounds of fresh negatives, ``d_pretrain_epochs`` epochs each."""
    cfg = pipe.cfg
    if pipe.phase != "disc":
        return
    bar = tqdm(range(pipe.step, cfg.d_pretrain_rounds), desc="D pretraining", unit="round",
               disable=not cfg.progress, initial=pipe.step, total=cfg.d_pretrain_rounds)  # fmt: skip
    for r in bar:
        fake = pipe.gen.sample(cfg.d_negatives, generator=pipe.rng)
        loss = train_discriminator(
            pipe.disc, pipe.disc_opt, pipe.task.train, fake, cfg.d_pretrain_epochs, cfg.disc_batch_size, pipe.rng
        )
        pipe.step = r + 1
        pipe.logger.record("discriminator/pretrain_loss", loss)
        report = pipe.d_report("d_pretrain", pipe.step, 0)
        pipe.logger.dump(step=pipe.step)
        bar.set_postfix(loss=f"{loss:.3f}", **({"acc": f"{report['accuracy']:.3f}"} if report else {}))
        pipe.checkpoint()
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = "adversarial", 0
    pipe.checkpoint(also=pipe.run.pretrained)


def lr_schedule(lr: float, cfg: SeqGANConfig) -> float | Callable[[float], float]:
    """A constant rate, or SB3's linear schedule from ``lr`` to 0 over the adversarial phase."""
    if cfg.lr_schedule == "constant":
        return lr
    return LinearDecay(lr)


@dataclass(frozen=True)
class LinearDecay:
    """``lr × progress_remaining`` (SB3 passes progress_remaining from 1 down to 0); picklable for save()."""

    lr: float

    def __call__(self, progress_remaining: float) -> float:
        return self.lr * progress_remaining


def build_agent(pipe: Pipeline) -> BaseAlgorithm:
    """The adversarial-phase agent on a fresh vector env, its generator starting from ``pipe.gen``."""
    cfg = pipe.cfg
    reward_mode = cfg.reward_mode if pipe.agent == "reinforce" else cfg.ppo_reward_mode
    perfect = cfg.reward_source == "perfect"
    venv = SeqGANVectorEnv(
        num_envs=cfg.batch_size, vocab_size=pipe.gen.config.vocab_size, seq_len=cfg.seq_len,
        n_rollouts=cfg.n_rollouts, reward_mode=reward_mode, discriminator=None if perfect else pipe.disc,
        rollout_policy=pipe.gen, device=str(pipe.device), d_reward=cfg.d_reward, reward_source=cfg.reward_source,
        oracle=pipe.task.oracle if perfect else None,
    )  # fmt: skip
    env = VecMonitor(SB3VecEnv(venv, seed=cfg.seed))
    gen_kwargs = {"generator_config": vars(pipe.gen.config).copy()}
    if pipe.agent == "reinforce":
        model: BaseAlgorithm = Reinforce(
            "GeneratorPolicy", env, learning_rate=lr_schedule(cfg.gen_lr, cfg), baseline=cfg.baseline,
            ent_coef=cfg.ent_coef, max_grad_norm=cfg.max_grad_norm, loss_reduction=cfg.loss_reduction,
            kl_coef=cfg.kl_coef, reference=pipe.gen if cfg.kl_coef > 0 else None,
            policy_kwargs=gen_kwargs, seed=cfg.seed, device=pipe.device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(pipe.gen.state_dict())
    elif pipe.agent == "reference":
        assert pipe.task.oracle is not None
        model = PerStepKLReference(
            "GeneratorPolicy", env, oracle=pipe.task.oracle, learning_rate=lr_schedule(cfg.gen_lr, cfg),
            max_grad_norm=cfg.max_grad_norm, policy_kwargs=gen_kwargs, seed=cfg.seed, device=pipe.device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(pipe.gen.state_dict())
    else:
        from agents.ppo import make_ppo

        model = make_ppo(
            env, cfg, pipe.gen.state_dict(), device=pipe.device, learning_rate=lr_schedule(cfg.ppo_lr, cfg)
        )
    model.set_logger(pipe.logger)
    return model


def adversarial(pipe: Pipeline, ckpt: dict[str, Any] | None) -> None:
    """Adversarial training: the agent's updates with the shared callbacks until ``adv_updates``."""
    cfg = pipe.cfg
    if pipe.phase != "adversarial":
        return
    model = pipe.model = build_agent(pipe)
    gen = model.policy.generator
    per_update = timesteps_per_update(model)

    def on_eval(row: dict[str, Any]) -> None:
        if stopper.stop:  # interrupted: the checkpoint already holds the last update boundary
            return
        pipe.step = row["update"]
        metrics = {k: v for k, v in row.items() if k not in ("update", "timesteps")}
        pipe.record("adversarial", row["update"], row["timesteps"], metrics)

    def save_now(_: BaseAlgorithm) -> None:
        pipe.step = model.num_timesteps // per_update
        pipe.checkpoint()

    def save(m: BaseAlgorithm) -> None:
        if not stopper.stop:  # interrupted: the stopper already saved the last update boundary
            save_now(m)

    def on_d_round(n_updates: int) -> None:
        if not stopper.stop:
            pipe.d_report("d_round", n_updates, n_updates * per_update)

    stopper = _StopOnInterrupt(pipe, save_now)
    pipe.rollout_callback = RolloutPolicyCallback(beta=cfg.rollout_beta)
    evaluator = EvalEveryKUpdates(pipe.evaluate, every=cfg.eval_every, eval_at_start=False, on_eval=on_eval)
    saver = SaveEveryKUpdates(save, every=cfg.checkpoint_every)
    callbacks = pipe.callbacks = [pipe.rollout_callback, evaluator, saver]
    if uses_discriminator(cfg):  # the perfect and the constant reward read no D: it is not retrained
        pipe.d_callback = DiscriminatorCallback(
            pipe.disc, pipe.task.train, every=cfg.d_every, rounds=cfg.d_rounds, epochs=cfg.d_epochs,
            n_negatives=cfg.d_negatives, batch_size=cfg.disc_batch_size, optimizer=pipe.disc_opt, seed=cfg.seed,
            on_retrained=on_d_round,
        )  # fmt: skip
        callbacks.insert(1, pipe.d_callback)
    if cfg.mle_steps:
        pipe.mle_callback = MLECallback(pipe.task.train, steps=cfg.mle_steps, batch_size=cfg.mle_batch_size,
                                        lr=cfg.mle_lr, seed=cfg.seed)  # fmt: skip
        callbacks.insert(0, pipe.mle_callback)
    done = 0
    if ckpt is not None and "adversarial" in ckpt:
        done = _restore_adversarial(pipe, ckpt["adversarial"])
        for cb, last in zip(callbacks, ckpt["adversarial"]["callbacks_last_done"]):
            cb.last_done = last
        # building the agent re-seeded the global RNGs (SB3's set_random_seed): put the saved ones back
        torch.set_rng_state(ckpt["torch_rng"])
        np.random.set_state(ckpt["numpy_rng"])  # noqa: NPY002
        random.setstate(ckpt["python_rng"])
    elif not any(r["phase"] == "adversarial" for r in pipe.history):
        pipe.record("adversarial", 0, 0, pipe.evaluate(gen))
    remaining = cfg.adv_updates - done
    if remaining > 0:
        model.learn(remaining * per_update, callback=[*callbacks, stopper], reset_num_timesteps=done == 0,
                    progress_bar=cfg.progress)  # fmt: skip
        pipe.stop_if_interrupted(save=False)  # the stopper saved at the last update boundary
    pipe.gen.load_state_dict(gen.state_dict())
    pipe.phase, pipe.step = "done", cfg.adv_updates
    pipe.checkpoint()


def match_mle_diversity(pipe: Pipeline) -> None:
    """With ``--match-mle-diversity``: fold into G the smallest T ≥ 1 at which its validation NLL is no worse than
    the MLE checkpoint's with confidence (paired, mean + 2 standard errors ≤ 0; see
    :func:`~seqgan_env.metrics.matching_temperature`), then record the tempered G as the run's final one."""
    if not pipe.cfg.match_mle_diversity or pipe.phase != "done" or pipe.tempered() is not None:
        return
    assert pipe.task.valid is not None
    mle = Generator(pipe.gen.config).to(pipe.device)  # the MLE checkpoint: this run's pretraining or --pretrained's
    mle.load_state_dict(checkpoint_at(pipe.cfg.pretrained or pipe.run.path, "pretrained.pt")["generator"])
    reference = per_sequence_nll(mle, pipe.task.valid)
    temperature = matching_temperature(pipe.gen, pipe.task.valid, reference)
    fold_temperature(pipe.gen, temperature)
    timesteps = pipe.history[-1]["timesteps"]
    pipe.record("calibrated", pipe.step, timesteps, {**pipe.evaluate(), "temperature": temperature})
    pipe.checkpoint()


class _StopOnInterrupt(BaseCallback):
    """After Ctrl-C: at the next update boundary save a checkpoint, then stop ``learn``."""

    def __init__(self, pipe: Pipeline, save: Any) -> None:
        super().__init__()
        self.pipe, self.save, self.stop = pipe, save, False

    def _on_rollout_start(self) -> None:
        if self.pipe.interrupted and not self.stop:
            self.save(self.model)
            self.stop = True

    def _on_step(self) -> bool:
        return not self.stop


class GracefulInterrupt:
    """Context manager: the first Ctrl-C asks the pipeline to checkpoint at its next safe point and exit;
    a second one interrupts at once."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pipe.interrupted:
            raise KeyboardInterrupt
        self.pipe.interrupted = True
        tqdm.write("Ctrl-C: saving a checkpoint at the next safe point (press again to abort at once)", file=sys.stderr)

    def __enter__(self) -> GracefulInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _restore_adversarial(pipe: Pipeline, adv: dict[str, Any]) -> int:
    model = pipe.model
    assert model is not None
    model.policy.load_state_dict(adv["policy"])
    model.policy.optimizer.load_state_dict(adv["policy_optimizer"])
    model.num_timesteps = adv["num_timesteps"]
    model._n_updates = adv["n_updates"]
    if adv.get("sampling_rng") is not None and hasattr(model, "sampling_rng"):
        model.sampling_rng.set_state(adv["sampling_rng"])
    assert model.env is not None
    model._last_obs = model.env.reset()  # type: ignore[assignment]
    env = get_seqgan_env(model.env)
    model._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
    env.core.torch_rng.set_state(adv["env_torch_rng"])
    env.venv.np_random.bit_generator.state = adv["env_np_random"]
    env.core.q_prev = adv["env_q_prev"].to(env.core.device)
    if "env_pos" in adv:  # continue the episodes in progress exactly where they were
        env.core.restore(adv["env_tokens"], adv["env_pos"])
        model._last_obs = env.core.observation()  # type: ignore[assignment]
        model._last_episode_starts = (adv["env_pos"] == 0).numpy()
    if pipe.d_callback is not None and adv.get("d_callback_rng") is not None:
        pipe.d_callback.rng.set_state(adv["d_callback_rng"])
    if adv.get("mle_callback") is not None and pipe.mle_callback is not None:
        pipe.mle_callback.rng.set_state(adv["mle_callback"]["rng"])
        pipe.mle_callback.restored_optimizer = adv["mle_callback"]["opt"]
    if adv.get("rollout_policy") is not None:
        assert pipe.rollout_callback is not None
        pipe.rollout_callback.restored_state = adv["rollout_policy"]
    if adv.get("kl_reference") is not None and (ref := getattr(model, "reference", None)) is not None:
        ref.load_state_dict(adv["kl_reference"])
    return adv["num_timesteps"] // timesteps_per_update(model)


def run(cfg: SeqGANConfig, agent: str = "reinforce") -> dict[str, Any]:
    """Run (or resume) the whole pipeline; returns the summary also written to ``metrics.json``."""
    ckpt = None
    check_agent(cfg, agent)
    if cfg.resume:
        cfg, ckpt = resolve_resume(cfg)
        if ckpt["agent"] != agent:
            raise ValueError(
                f"--resume {cfg.resume}: it is a {ckpt['agent']} run; continue it with train/{ckpt['agent']}.py, "
                f"not as {agent}"
            )
    pipe = build_pipeline(cfg, agent, ckpt)
    try:
        return _run(pipe, cfg, ckpt)
    finally:
        pipe.run.unlock()


def _run(pipe: Pipeline, cfg: SeqGANConfig, ckpt: dict[str, Any] | None) -> dict[str, Any]:
    if ckpt is None and pipe.phase == "mle":
        pipe.checkpoint()
    with GracefulInterrupt(pipe):
        pretrain_generator(pipe)
        pretrain_discriminator(pipe)
        if pipe.phase == "done" and pipe.step < cfg.adv_updates:  # resumed with a larger --adv-updates
            if pipe.tempered() is not None:
                raise ValueError(f"--resume {pipe.run.path}: its generator was tempered (--match-mle-diversity) "
                                 "at the end of the run; it cannot take more updates")  # fmt: skip
            pipe.phase = "adversarial"
        adversarial(pipe, ckpt if ckpt is not None and ckpt["phase"] in ("adversarial", "done") else None)
        match_mle_diversity(pipe)
    summary = summarize(pipe)
    pipe.run.write_metrics(pipe.history, summary)
    write_samples(pipe)
    plot_curve(pipe)
    summary["run_dir"] = str(pipe.run.path)
    if not all(math.isfinite(r["nll_test"]) for r in pipe.history if "nll_test" in r):
        raise FloatingPointError("a non-finite NLL-test was recorded; see metrics.json")
    return summary
