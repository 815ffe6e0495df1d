"""The adversarial phase of a run: the agent (REINFORCE, PPO or the reference trainer) on a fresh vector env with the
shared callbacks, what it saves and restores (side by side, in :class:`AdversarialPhase`), and the optional tempering of
the final G back to the MLE checkpoint's diversity."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecMonitor

from agents.algorithms.callbacks import (
    DiscriminatorCallback,
    EvalEveryKUpdates,
    MLECallback,
    RolloutPolicyCallback,
    SaveEveryKUpdates,
    get_generator,
    timesteps_per_update,
)
from agents.algorithms.mac import MeanActorCritic
from agents.algorithms.ppo import make_actor_critic
from agents.algorithms.reference import PerStepKLReference
from agents.algorithms.reinforce import Reinforce
from agents.config import ACTOR_CRITIC, SeqGANConfig, to_dict, uses_discriminator
from agents.run.checkpoint import save_checkpoint
from agents.run.progress import progress
from agents.run.recording import Checkpointer, Models, Recorder
from agents.run.rundir import Phase, checkpoint_at
from agents.run.task import Task, make_generator
from seqgan_env.discriminator import LMDiscriminator
from seqgan_env.env import SeqGANVectorEnv
from seqgan_env.generator import Generator
from seqgan_env.metrics import fold_temperature, matching_temperature, per_sequence_nll
from seqgan_env.rewards import SOURCES
from seqgan_env.rundir import upgrade_adversarial_state
from seqgan_env.sb3 import SB3VecEnv
from seqgan_env.trained import load_generator


def lr_schedule(lr: float, cfg: SeqGANConfig) -> float | Callable[[float], float]:
    """A constant rate, or SB3's linear schedule from ``lr`` to 0 over the adversarial phase."""
    if cfg.adv.lr_schedule == "constant":
        return lr
    return LinearDecay(lr)


@dataclass(frozen=True)
class LinearDecay:
    """``lr × progress_remaining`` (SB3 passes progress_remaining from 1 down to 0); picklable for save()."""

    lr: float

    def __call__(self, progress_remaining: float) -> float:
        return self.lr * progress_remaining


def build_agent(cfg: SeqGANConfig, task: Task, models: Models, logger: Logger) -> BaseAlgorithm:
    """The adversarial-phase agent on a fresh vector env, its generator starting from ``models.gen``; it logs to
    ``logger`` (the run's TensorBoard)."""
    gen, disc, device = models.gen, models.disc, models.device
    reward_mode = cfg.ppo.reward_mode if cfg.agent in ACTOR_CRITIC else cfg.reinforce.reward_mode
    source = SOURCES[cfg.env.reward_source]
    venv = SeqGANVectorEnv(
        num_envs=cfg.env.num_envs,
        vocab_size=gen.config.vocab_size,
        seq_len=cfg.task.seq_len,
        n_rollouts=cfg.env.n_rollouts,
        reward_mode=reward_mode,
        discriminator=disc if source.discriminator else None,
        rollout_policy=gen if source.uses_policy else None,
        device=str(device),
        d_reward=cfg.env.d_reward,
        reward_source=cfg.env.reward_source,
        oracle=task.oracle if source.needs_oracle else None,
    )
    env = VecMonitor(SB3VecEnv(venv, seed=cfg.seed))
    gen_kwargs = {"generator_config": vars(gen.config).copy()}
    if cfg.agent == "reinforce":
        model: BaseAlgorithm = Reinforce(
            "GeneratorPolicy", env, learning_rate=lr_schedule(cfg.reinforce.lr, cfg), baseline=cfg.reinforce.baseline,
            ent_coef=cfg.adv.ent_coef, max_grad_norm=cfg.adv.max_grad_norm, loss_reduction=cfg.reinforce.loss_reduction,
            kl_coef=cfg.reinforce.kl_coef, reference=gen if cfg.reinforce.kl_coef > 0 else None,
            policy_kwargs=gen_kwargs, seed=cfg.seed, device=device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(gen.state_dict())
    elif cfg.agent == "mac":
        model = MeanActorCritic(
            "GeneratorPolicy", env, learning_rate=lr_schedule(cfg.reinforce.lr, cfg), loss_reduction="mean",
            max_grad_norm=cfg.adv.max_grad_norm, policy_kwargs=gen_kwargs, seed=cfg.seed, device=device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(gen.state_dict())
        model.start_critic_from_policy()
    elif cfg.agent == "reference":
        teacher = load_teacher(cfg, gen, device) if cfg.adv.teacher else task.oracle
        if source.discriminator == "lm":  # the learned full-vocabulary D's LM, retrained in place every D round
            assert isinstance(disc, LMDiscriminator)
            teacher = disc.lm
        assert teacher is not None
        model = PerStepKLReference(
            "GeneratorPolicy", env, oracle=teacher, learning_rate=lr_schedule(cfg.reinforce.lr, cfg),
            max_grad_norm=cfg.adv.max_grad_norm, policy_kwargs=gen_kwargs, seed=cfg.seed, device=device,
        )  # fmt: skip
        model.policy.generator.load_state_dict(gen.state_dict())
    else:
        model = make_actor_critic(
            cfg.agent, env, cfg, gen.state_dict(), device=device, learning_rate=lr_schedule(cfg.ppo.lr, cfg)
        )
    if isinstance(disc, LMDiscriminator):  # D scores against the G being trained
        disc.set_noise(get_generator(model))
    model.set_logger(logger)
    return model


def load_teacher(cfg: SeqGANConfig, gen: Generator, device: torch.device) -> Generator:
    """The reference trainer's teacher from ``--adv.teacher``: that run's pretrained G with its own sizes
    (:func:`seqgan_env.load_generator`), frozen; its vocabulary and length must be this run's."""
    teacher, _ = load_generator(cfg.adv.teacher or "", "pretrained", device)
    theirs, mine = teacher.config, gen.config
    if (theirs.vocab_size, theirs.seq_len) != (mine.vocab_size, mine.seq_len):
        raise ValueError(f"--adv.teacher {cfg.adv.teacher}: its generator has vocabulary {theirs.vocab_size} and "
                         f"length {theirs.seq_len}, this run's {mine.vocab_size} and {mine.seq_len}")  # fmt: skip
    return teacher.requires_grad_(False)


class UpdateProgress(BaseCallback):
    """Moves a progress bar by each completed generator update (``per_update`` timesteps each)."""

    def __init__(self, bar: Any, per_update: int) -> None:
        super().__init__()
        self.bar, self.per_update, self.seen = bar, per_update, -1

    def _advance(self) -> None:
        n = self.model.num_timesteps // self.per_update
        if self.seen < 0:
            self.seen = n
        if n > self.seen:
            self.bar.update(n - self.seen)
            self.seen = n

    def _on_training_start(self) -> None:
        self._advance()

    def _on_rollout_start(self) -> None:
        self._advance()

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self._advance()
        self.bar.close()


class AdversarialPhase:
    """The agent and its callbacks for one run's adversarial phase, by name: ``mle`` (with ``--adv.mle-steps``),
    ``rollout_policy``, ``discriminator`` (when the reward reads a learned D), ``eval`` and ``save``. It receives the
    run's :class:`~agents.run.recording.Models` (it trains a copy of G and hands it back at the end of :meth:`train`),
    :class:`~agents.run.recording.Recorder` and :class:`~agents.run.recording.Checkpointer`.

    :meth:`state_dict` / :meth:`load_state_dict` are what a checkpoint holds of the phase: the agent's own
    :meth:`~agents.algorithms.resumable.ResumableMixin.resume_state` and each callback's state, by name.
    """

    def __init__(self, cfg: SeqGANConfig, task: Task, models: Models, rec: Recorder, ckpt: Checkpointer) -> None:
        self.cfg, self.task, self.models, self.rec, self.ckpt = cfg, task, models, rec, ckpt
        self.model = build_agent(cfg, task, models, rec.logger)
        self.per_update = timesteps_per_update(self.model)
        self.stopper = StopOnInterrupt(ckpt, self._save_now)
        callbacks: dict[str, BaseCallback] = {}
        if cfg.adv.mle_steps:
            callbacks["mle"] = MLECallback(task.train, steps=cfg.adv.mle_steps, batch_size=cfg.mle.batch_size,
                                           lr=cfg.mle.lr, seed=cfg.seed)  # fmt: skip
        if SOURCES[cfg.env.reward_source].uses_policy:  # the env holds a copy of G to keep in sync
            callbacks["rollout_policy"] = RolloutPolicyCallback(beta=cfg.env.rollout_beta)
        if uses_discriminator(cfg):  # the perfect and the constant reward read no D: it is not retrained
            callbacks["discriminator"] = DiscriminatorCallback(
                models.disc,
                task.train,
                every=cfg.disc.retrain_every,
                rounds=cfg.disc.retrain_rounds,
                epochs=cfg.disc.retrain_epochs,
                n_negatives=cfg.disc.negatives,
                batch_size=cfg.disc.batch_size,
                optimizer=models.disc_opt,
                seed=cfg.seed,
                on_retrained=self._on_d_round,
            )
        callbacks["eval"] = EvalEveryKUpdates(rec.evaluate, every=cfg.eval.every, eval_at_start=False,
                                              on_eval=self._on_eval)  # fmt: skip
        callbacks["save"] = SaveEveryKUpdates(self._save, every=cfg.eval.checkpoint_every)
        self.callbacks = callbacks
        self.restored = False

    @property
    def generator(self) -> Generator:
        """The generator the agent trains."""
        return self.model.policy.generator

    @property
    def updates_done(self) -> int:
        return self.model.num_timesteps // self.per_update

    # ---- what a checkpoint holds of the phase, and how it is read back
    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.model.resume_state(),
            "callbacks": {name: cb.state_dict() for name, cb in self.callbacks.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = upgrade_adversarial_state(state, list(self.callbacks))
        self.model.load_resume_state(state["agent"])
        for name, cb in self.callbacks.items():
            cb.load_state_dict(state["callbacks"][name])
        self.restored = True

    # ---- training
    def learn(self, updates: int) -> None:
        """``updates`` more generator updates (continuing a restored state where it stopped), with a labelled
        progress bar in updates (plain lines when output is not a terminal)."""
        done = self.updates_done if self.restored else 0
        self.bar = progress(desc=f"adversarial ({self.cfg.agent})", unit="updates", total=done + updates,
                            initial=done, disable=not self.cfg.progress)  # fmt: skip
        tracker = UpdateProgress(self.bar, self.per_update)
        self.model.learn(updates * self.per_update, callback=[*self.callbacks.values(), self.stopper, tracker],
                         reset_num_timesteps=not self.restored)  # fmt: skip
        self.restored = True

    def _on_eval(self, row: dict[str, Any]) -> None:
        metric = next((k for k in ("kl_oracle", "nll_oracle", "bleu2", "nll_test") if k in row), None)
        if metric is not None and getattr(self, "bar", None) is not None:
            self.bar.set_postfix(**{metric: f"{row[metric]:.3f}"})
        if self.stopper.stop:  # interrupted: the checkpoint already holds the last update boundary
            return
        metrics = {k: v for k, v in row.items() if k not in ("update", "timesteps")}
        self.keep_if_best(self.rec.record(Phase.ADVERSARIAL, row["update"], row["timesteps"], metrics))

    def _save_now(self, _: BaseAlgorithm | None = None) -> None:
        self.ckpt.save(Phase.ADVERSARIAL, self.updates_done)

    def _save(self, model: BaseAlgorithm) -> None:
        if not self.stopper.stop:  # interrupted: the stopper already saved the last update boundary
            self._save_now(model)

    def _on_d_round(self, n_updates: int) -> None:
        if not self.stopper.stop:
            self.rec.d_report(self.models.disc, self.generator, Phase.D_ROUND, n_updates, n_updates * self.per_update)

    def keep_if_best(self, row: dict[str, Any]) -> None:
        """Save the agent's G as the run's ``best`` checkpoint (:attr:`RunDir.best`) when ``row``, its just-recorded
        evaluation, has the lowest validation NLL of the phase so far (the start, update 0, included: the kept G is
        never worse on validation than the one the phase began from). Nothing without a validation split."""
        if "nll_valid" not in row:
            return
        earlier = [r["nll_valid"] for r in self.rec.rows(Phase.ADVERSARIAL) if "nll_valid" in r and r is not row]
        if earlier and min(earlier) <= row["nll_valid"]:
            return
        task = self.task
        save_checkpoint(self.ckpt.rundir.best, {
            "generator": self.generator.state_dict(), "config": to_dict(self.cfg), "phase": "best",
            "step": row["step"], "nll_valid": row["nll_valid"], "data_digest": task.digest(),
            "vocab": task.vocab_tokens,
        })  # fmt: skip

    def train(self) -> None:
        """Adversarial training until ``adv.updates`` (continuing a restored phase where it stopped; the start is
        evaluated first), then the trained G copied into the run's G (``models.gen``) and checkpointed as done."""
        cfg, rec = self.cfg, self.rec
        if not rec.rows(Phase.ADVERSARIAL):
            self.keep_if_best(rec.record(Phase.ADVERSARIAL, 0, 0, rec.evaluate(self.generator)))
        remaining = cfg.adv.updates - self.updates_done
        if remaining > 0:
            self.learn(remaining)
            self.ckpt.stop_if_interrupted(Phase.ADVERSARIAL, self.updates_done, save=False)  # saved at the boundary
        self.models.gen.load_state_dict(self.generator.state_dict())
        self.ckpt.save(Phase.DONE, cfg.adv.updates)


def match_mle_diversity(
    cfg: SeqGANConfig, task: Task, models: Models, rec: Recorder, ckpt: Checkpointer, step: int
) -> None:
    """``--adv.match-mle-diversity``: fold into the final G (``models.gen``, after ``step`` updates) the smallest
    T ≥ 1 at which its validation NLL is no worse than the MLE checkpoint's with confidence (paired, mean + 2 standard
    errors ≤ 0; see :func:`~seqgan_env.metrics.matching_temperature`), record that G (a
    ``match_mle_diversity`` row, with its ``temperature``) as the run's final one and checkpoint it."""
    assert task.valid is not None
    pretrained = checkpoint_at(cfg.pretrained or ckpt.rundir.path, "pretrained")  # this run's or its source's
    mle = make_generator(cfg, task, pretrained["generator"], models.device)
    reference = per_sequence_nll(mle, task.valid)
    temperature = matching_temperature(models.gen, task.valid, reference)
    fold_temperature(models.gen, temperature)
    timesteps = rec.history[-1]["timesteps"]
    rec.record(Phase.MATCHED_MLE_DIVERSITY, step, timesteps, {**rec.evaluate(models.gen), "temperature": temperature})
    ckpt.save(Phase.DONE, step)


class StopOnInterrupt(BaseCallback):
    """After Ctrl-C: at the next update boundary save a checkpoint, then stop ``learn``."""

    def __init__(self, ckpt: Checkpointer, save: Callable[[BaseAlgorithm], None]) -> None:
        super().__init__()
        self.ckpt, self.save, self.stop = ckpt, save, False

    def _on_rollout_start(self) -> None:
        if self.ckpt.interrupted and not self.stop:
            self.save(self.model)
            self.stop = True

    def _on_step(self) -> bool:
        return not self.stop
