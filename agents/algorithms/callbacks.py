"""SB3 callbacks that serve both agents (REINFORCE and PPO): D retraining, rollout-policy sync,
oracle evaluation and checkpointing. Each acts "every k generator updates", where one update is one
batch of ``num_envs`` sequences (REINFORCE) or one PPO iteration of ``n_steps × num_envs`` steps."""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from seqgan_env.discriminator import Discriminator, LMDiscriminator, PrefixDiscriminator, retrain_discriminator
from seqgan_env.generator import Generator, mle_step
from seqgan_env.optim import adam


def get_generator(model: BaseAlgorithm) -> Generator:
    """The :class:`Generator` an SB3 model trains (``model.policy.generator``)."""
    gen = getattr(model.policy, "generator", None)
    if not isinstance(gen, Generator):
        raise TypeError(
            f"{type(model).__name__}'s policy {type(model.policy).__name__} has no Generator; use GeneratorPolicy "
            "(REINFORCE) or GeneratorActorCriticPolicy (PPO)"
        )
    return gen


def get_seqgan_env(env: Any) -> Any:
    """Unwrap SB3 ``VecEnvWrapper``s down to the object that has ``set_discriminator``/``set_rollout_policy``: our
    ``SB3VecEnv`` / ``SeqGANVectorEnv``, or SB3's ``DummyVecEnv`` of SeqGAN-v0 envs (``make_vec_env("SeqGAN-v0")``),
    reached through :class:`SubEnvs`. A ``SubprocVecEnv`` is refused in one line: its envs hold copies of D and of
    the rollout policy in other processes, which the callbacks could not update in place."""
    seen = env
    while env is not None:
        cls = type(env)  # class attributes only: SB3 wrappers forward unknown attributes to the wrapped env
        if hasattr(cls, "set_discriminator") and hasattr(cls, "set_rollout_policy"):
            return env
        subs = getattr(env, "envs", None)  # DummyVecEnv: its envs live in this process
        if isinstance(subs, list) and subs and all(hasattr(type(e.unwrapped), "set_discriminator") for e in subs):
            return SubEnvs([e.unwrapped for e in subs])
        if hasattr(cls, "env_method") and not hasattr(env, "venv"):
            raise TypeError(
                f"{type(env).__name__} runs its envs out of this process (or they are not SeqGAN-v0 envs): the "
                "callbacks update D and the rollout policy in place, so they need SeqGAN-v0 envs in this process: "
                "seqgan_env.SB3VecEnv, or DummyVecEnv (make_vec_env's default)"
            )
        env = getattr(env, "venv", None)
    raise TypeError(f"{type(seen).__name__} does not wrap a SeqGAN-v0 env (SB3VecEnv / SeqGANVectorEnv)")


class SubEnvs:
    """The SeqGAN-v0 envs of a ``DummyVecEnv`` as one: a D or a rollout policy set on it is set on each of them (the
    same object: they share it), and ``core`` is the first env's (they share its settings)."""

    def __init__(self, envs: list[Any]) -> None:
        self.envs = envs

    @property
    def core(self) -> Any:
        return self.envs[0].core

    def set_discriminator(self, discriminator: Any) -> None:
        for env in self.envs:
            env.set_discriminator(discriminator)

    def set_rollout_policy(self, policy: Generator) -> None:
        for env in self.envs:
            env.set_rollout_policy(policy)


def warn_if_discounted(model: BaseAlgorithm) -> None:
    """Warn when ``model`` discounts (γ ≠ 1) rewards whose meaning assumes γ = 1: the env's ``"shaped"`` return
    telescopes to D(final) − Q_0 only undiscounted, and ``"terminal"`` puts D's score at the last step only. SB3's
    default is γ = 0.99; pass ``gamma=1.0``. (``"q"`` is a per-step weight, so any γ is the user's choice there.)"""
    gamma = getattr(model, "gamma", None)
    if gamma is None or gamma == 1.0 or model.env is None:
        return
    mode = get_seqgan_env(model.env).core.reward_mode
    if mode in ("shaped", "terminal"):
        warnings.warn(
            f"{type(model).__name__} has gamma={gamma}, but SeqGAN-v0's {mode!r} rewards assume γ = 1 (the shaped "
            "return telescopes to D(final) − Q_0 only undiscounted); pass gamma=1.0",
            UserWarning,
            stacklevel=3,
        )


@torch.no_grad()
def delay_update(rollout_policy: Generator, generator: Generator, beta: float) -> None:
    """The rollout policy's delayed copy of G: ``θ_rollout ← β·θ_rollout + (1 − β)·θ`` (β = 0: a plain copy)."""
    for p_r, p in zip(rollout_policy.parameters(), generator.parameters()):
        p_r.mul_(beta).add_(p.detach().to(p_r.device), alpha=1.0 - beta)


def timesteps_per_update(model: BaseAlgorithm) -> int:
    """Env steps of one generator update: ``n_steps × num_envs`` for PPO, ``seq_len × num_envs`` otherwise."""
    assert model.env is not None
    n_steps = getattr(model, "n_steps", None) or get_generator(model).config.seq_len
    return int(n_steps) * model.env.num_envs


def _check_every(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_real_data(real_data: object) -> None:
    if not isinstance(real_data, torch.Tensor) or real_data.dim() != 2 or len(real_data) == 0:
        raise ValueError("real_data must be a non-empty (N, T) tensor of token ids")


class _EveryKUpdates(BaseCallback):
    """Base: calls :meth:`_on_update` after every ``every`` completed generator updates."""

    def __init__(self, every: int = 1, at_end: bool = False, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.every = _check_every("every", every)
        self.at_end = at_end
        self.last_done = -1

    @property
    def n_updates(self) -> int:
        return self.model.num_timesteps // timesteps_per_update(self.model)

    def _maybe(self, force: bool = False) -> None:
        n = self.n_updates
        if n != self.last_done and (n % self.every == 0 or force) and n > 0:
            self.last_done = n
            self._on_update(n)

    def _on_rollout_start(self) -> None:
        self._maybe()

    def _on_training_end(self) -> None:
        if self.at_end:
            self._maybe(force=True)

    def _on_step(self) -> bool:
        return True

    def _on_update(self, n_updates: int) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """What continuing a run exactly needs (here: the last update acted on); subclasses add their own."""
        return {"last_done": self.last_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (before ``learn``; parts built by ``_init_callback`` are restored there)."""
        self.last_done = state["last_done"]


class DiscriminatorCallback(_EveryKUpdates):
    """Every ``every`` generator updates, retrain D on real data vs fresh generator samples and plug it
    into the env (paper: every update, 5 rounds × 3 epochs, 10k negatives per round).

    Args:
        discriminator: the D the env scores with.
        real_data: ``(N, T)`` real sequences (positives; all of them are used each round).
        every: generator updates between retrainings.
        rounds: rounds per retraining, each with fresh negatives.
        epochs: epochs over positives + negatives per round.
        n_negatives: generated sequences per round (default: ``len(real_data)``).
        batch_size: D minibatch size.
        optimizer: D's optimizer (default: Adam at ``discriminator.config.lr``).
        seed: seed of negative sampling and shuffling.
        on_retrained: called with the number of generator updates after each retraining (e.g. to report D's
            quality, as the pipeline does).
    """

    def __init__(
        self,
        discriminator: Discriminator | PrefixDiscriminator | LMDiscriminator,
        real_data: torch.Tensor,
        every: int = 1,
        rounds: int = 5,
        epochs: int = 3,
        n_negatives: int | None = None,
        batch_size: int = 64,
        optimizer: torch.optim.Optimizer | None = None,
        seed: int = 0,
        on_retrained: Callable[[int], None] | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(every, verbose=verbose)
        if not isinstance(discriminator, (Discriminator, PrefixDiscriminator, LMDiscriminator)):
            raise TypeError(
                "discriminator must be a seqgan_env.Discriminator, PrefixDiscriminator or LMDiscriminator, got "
                f"{type(discriminator).__name__}"
            )
        _check_real_data(real_data)
        if real_data.shape[1] != discriminator.config.seq_len:
            raise ValueError(
                f"real_data has length {real_data.shape[1]}, discriminator seq_len={discriminator.config.seq_len}"
            )
        self.rounds = _check_every("rounds", rounds)
        self.epochs = _check_every("epochs", epochs)
        self.batch_size = _check_every("batch_size", batch_size)
        self.n_negatives = _check_every("n_negatives", n_negatives if n_negatives is not None else len(real_data))
        self.discriminator = discriminator
        self.real_data = real_data
        self.optimizer = optimizer or adam(discriminator.parameters(), lr=discriminator.config.lr)
        self.rng = torch.Generator().manual_seed(seed)
        self.seconds = 0.0
        self.on_retrained = on_retrained

    def _init_callback(self) -> None:
        try:
            get_generator(self.model)  # its negatives are samples of the agent's generator
        except TypeError as exc:
            raise TypeError(f"DiscriminatorCallback samples D's negatives from the agent's generator: {exc}") from None
        get_seqgan_env(self.training_env).set_discriminator(self.discriminator)

    def _on_update(self, n_updates: int) -> None:
        start = time.perf_counter()
        gen = get_generator(self.model)
        loss = retrain_discriminator(
            self.discriminator, self.optimizer, self.real_data, gen, self.rounds, self.epochs, self.n_negatives,
            self.batch_size, self.rng,
        )  # fmt: skip
        get_seqgan_env(self.training_env).set_discriminator(self.discriminator)
        self.seconds += time.perf_counter() - start
        self.logger.record("discriminator/loss", loss)
        self.logger.record("discriminator/seconds", self.seconds)
        if self.on_retrained is not None:
            self.on_retrained(n_updates)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rng.set_state(state["rng"])


class RolloutPolicyCallback(_EveryKUpdates):
    """Keep the env's rollout policy a (optionally delayed) copy of the generator:
    ``θ_rollout ← β·θ_rollout + (1 − β)·θ`` every ``every`` updates.

    The default β = 0 makes the rollout policy the current generator. The paper describes a delayed
    copy and the official code calls an update with rate 0.8, but that update builds tensors the
    rollout graph never reads, so the official rollouts always used the current generator; β = 0
    reproduces what the code really did.
    """

    def __init__(self, beta: float = 0.0, every: int = 1, verbose: int = 0) -> None:
        super().__init__(every, verbose=verbose)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        self.beta = beta
        self.rollout_policy: Generator | None = None
        self._restored: dict[str, torch.Tensor] | None = None  # the rollout policy to start from when resuming

    def _init_callback(self) -> None:
        warn_if_discounted(self.model)
        gen = get_generator(self.model)
        self.rollout_policy = copy.deepcopy(gen).requires_grad_(False).eval()
        if self._restored is not None:
            self.rollout_policy.load_state_dict(self._restored)
        get_seqgan_env(self.training_env).set_rollout_policy(self.rollout_policy)

    def _on_update(self, n_updates: int) -> None:
        assert self.rollout_policy is not None
        delay_update(self.rollout_policy, get_generator(self.model), self.beta)
        get_seqgan_env(self.training_env).set_rollout_policy(self.rollout_policy)

    def state_dict(self) -> dict[str, Any]:
        policy = self.rollout_policy.state_dict() if self.rollout_policy is not None else None
        return {**super().state_dict(), "rollout_policy": policy}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._restored = state["rollout_policy"]


class EvalEveryKUpdates(_EveryKUpdates):
    """Evaluate the generator with ``evaluate(generator) -> {metric: value}`` every ``every`` updates and at
    the end; each row is logged under ``eval/``, appended to ``history`` and passed to ``on_eval``."""

    def __init__(
        self,
        evaluate: Callable[[Generator], dict[str, float]],
        every: int = 5,
        eval_at_start: bool = True,
        on_eval: Callable[[dict[str, Any]], None] | None = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(every, at_end=True, verbose=verbose)
        self.evaluate = evaluate
        self.eval_at_start = eval_at_start
        self.on_eval = on_eval

    def _on_training_start(self) -> None:
        if self.eval_at_start and self.n_updates != self.last_done:
            self._on_update(self.n_updates)

    def _on_update(self, n_updates: int) -> None:
        metrics = self.evaluate(get_generator(self.model))
        self.last_done = n_updates
        row: dict[str, Any] = {"update": n_updates, "timesteps": int(self.model.num_timesteps), **metrics}
        for k, v in metrics.items():
            self.logger.record(f"eval/{k}", v)
        if self.verbose:
            tqdm.write(f"update {n_updates}: " + "  ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if self.on_eval is not None:
            self.on_eval(row)


class MLECallback(_EveryKUpdates):
    """Interleave maximum-likelihood steps on real data with the adversarial updates (as LeakGAN does):
    every ``every`` generator updates, ``steps`` minibatches of teacher-forced NLL on ``real_data``.

    It keeps the generator close to the data distribution (NLL-test) while the policy gradient sharpens
    it (NLL-oracle). ``steps=0`` is the paper's schedule (no interleaving).
    """

    def __init__(
        self,
        real_data: torch.Tensor,
        steps: int = 1,
        every: int = 1,
        batch_size: int = 64,
        lr: float = 0.01,
        max_grad_norm: float = 5.0,
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(every, verbose=verbose)
        _check_real_data(real_data)
        self.real_data = real_data
        self.steps = _check_every("steps", steps)
        self.batch_size = _check_every("batch_size", batch_size)
        self.lr = lr
        self.max_grad_norm = max_grad_norm
        self.rng = torch.Generator().manual_seed(seed)
        self.optimizer: torch.optim.Optimizer | None = None
        self._restored: dict[str, Any] | None = None  # the optimizer state to start from when resuming

    def _init_callback(self) -> None:
        self.optimizer = adam(get_generator(self.model).parameters(), lr=self.lr)
        if self._restored is not None:
            self.optimizer.load_state_dict(self._restored)

    def _on_update(self, n_updates: int) -> None:
        gen = get_generator(self.model)
        assert self.optimizer is not None
        gen.train()
        total = 0.0
        for _ in range(self.steps):
            idx = torch.randint(0, len(self.real_data), (self.batch_size,), generator=self.rng)
            total += mle_step(gen, self.optimizer, self.real_data[idx], self.max_grad_norm,
                              where=f"interleaved MLE (update {n_updates})")  # fmt: skip
        self.logger.record("train/interleaved_mle_loss", total / self.steps)

    def state_dict(self) -> dict[str, Any]:
        optimizer = self.optimizer.state_dict() if self.optimizer is not None else None
        return {**super().state_dict(), "rng": self.rng.get_state(), "optimizer": optimizer}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rng.set_state(state["rng"])
        self._restored = state["optimizer"]


class SaveEveryKUpdates(_EveryKUpdates):
    """Call ``save_fn(model)`` (which writes an atomic checkpoint) every ``every`` updates and at the end."""

    def __init__(self, save_fn: Callable[[BaseAlgorithm], None], every: int = 10, verbose: int = 0) -> None:
        super().__init__(every, at_end=True, verbose=verbose)
        self.save_fn = save_fn

    def _on_update(self, n_updates: int) -> None:
        self.save_fn(self.model)
