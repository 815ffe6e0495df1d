"""The actor-critic agents: SB3's ``PPO`` (the baseline) and ``A2C``, and sb3-contrib's ``TRPO``, each with the
project's :class:`~agents.algorithms.policies.GeneratorActorCriticPolicy`, whose actor is the shared
:class:`~seqgan_env.Generator`."""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.algorithms.callbacks import get_seqgan_env
from agents.algorithms.policies import GeneratorActorCriticPolicy
from agents.algorithms.resumable import ResumableMixin
from agents.config import SeqGANConfig, ppo_sizes


class SeqGANPPO(ResumableMixin, PPO):
    """SB3's ``PPO``, unchanged, that can also write and read a run's mid-phase state (:class:`ResumableMixin`)."""


class SeqGANA2C(ResumableMixin, A2C):
    """SB3's ``A2C``, unchanged, that can also write and read a run's mid-phase state (:class:`ResumableMixin`)."""


def _trpo_class() -> type:
    try:
        from sb3_contrib import TRPO
    except ImportError:
        raise ValueError("--agent trpo is sb3-contrib's TRPO: pip install -e '.[contrib]'") from None

    class SeqGANTRPO(ResumableMixin, TRPO):
        """sb3-contrib's ``TRPO``, unchanged (it has no entropy bonus), with :class:`ResumableMixin`."""

    return SeqGANTRPO


def make_actor_critic(
    agent: str,
    env: VecEnv,
    cfg: SeqGANConfig,
    generator_state: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "auto",
    learning_rate: Any = None,
    **overrides: Any,
) -> Any:
    """``agent`` (``"ppo"``, ``"a2c"`` or ``"trpo"``) on the SeqGAN vector env, from the ``ppo`` group's settings:
    γ = λ = 1 (Monte Carlo advantages over a learned value), or with ``cfg.ppo.advantage == "q"`` the paper's
    un-centred per-step weights (no critic, advantage = the step's reward Q_t); its actor (and the critic's LSTM)
    starting from ``generator_state`` (e.g. the MLE-pretrained G); ``overrides`` last. A2C uses Adam (not SB3's
    default RMSprop), as every other agent here; TRPO's trust region is ``--ppo.target-kl`` (default 0.01) and it has
    no entropy bonus."""
    n_steps, minibatch = ppo_sizes(cfg)
    kwargs: dict[str, Any] = dict(
        learning_rate=cfg.ppo.lr if learning_rate is None else learning_rate, n_steps=n_steps, gamma=1.0,
        gae_lambda=1.0, policy_kwargs={"generator_config": _generator_config(env, cfg)}, seed=cfg.seed, device=device,
    )  # fmt: skip
    if agent == "ppo":
        cls: type = SeqGANPPO
        kwargs.update(batch_size=minibatch, n_epochs=cfg.ppo.n_epochs, clip_range=cfg.ppo.clip_range,
                      ent_coef=cfg.adv.ent_coef, max_grad_norm=cfg.adv.max_grad_norm,
                      target_kl=cfg.ppo.target_kl)  # fmt: skip
    elif agent == "a2c":
        cls = SeqGANA2C
        kwargs.update(ent_coef=cfg.adv.ent_coef, max_grad_norm=cfg.adv.max_grad_norm, use_rms_prop=False,
                      normalize_advantage=True)  # fmt: skip
    elif agent == "trpo":
        cls = _trpo_class()
        kwargs.update(batch_size=minibatch, target_kl=cfg.ppo.target_kl or 0.01)
    else:
        raise ValueError(f"agent must be one of ('ppo', 'a2c', 'trpo'), got {agent!r}")
    if cfg.ppo.advantage == "q":  # advantage_t = r_t + 0·V − 0 = Q_t: the paper's weights (clipped by PPO)
        kwargs.update(gamma=0.0, normalize_advantage=False)
        kwargs["policy_kwargs"]["critic"] = False
        if agent != "trpo":  # TRPO fits its critic apart from the policy step: no value-loss weight to zero
            kwargs["vf_coef"] = 0.0
    kwargs.update(overrides)
    model = cls(GeneratorActorCriticPolicy, env, **kwargs)
    if generator_state is not None:
        model.policy.load_generator_state(generator_state)
    return model


def _generator_config(env: VecEnv, cfg: SeqGANConfig) -> dict[str, Any]:
    core = get_seqgan_env(env).core
    return {
        "vocab_size": core.vocab_size, "seq_len": core.seq_len,
        "emb_dim": cfg.generator.emb_dim, "hidden_dim": cfg.generator.hidden_dim,
        "eos_token": core.eos_token, "pad_token": core.pad_token,
    }  # fmt: skip


def make_ppo(
    env: VecEnv,
    cfg: SeqGANConfig,
    generator_state: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "auto",
    **overrides: Any,
) -> SeqGANPPO:
    """SB3 PPO on the SeqGAN vector env (:func:`make_actor_critic` with ``agent="ppo"``)."""
    return make_actor_critic("ppo", env, cfg, generator_state, device=device, **overrides)
