"""PPO baseline: SB3's ``PPO`` whose actor is the shared :class:`~seqgan_env.Generator`."""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.callbacks import get_seqgan_env
from agents.config import SeqGANConfig, ppo_sizes
from agents.policies import GeneratorActorCriticPolicy
from agents.resumable import ResumableMixin


class SeqGANPPO(ResumableMixin, PPO):
    """SB3's ``PPO``, unchanged, that can also write and read a run's mid-phase state (:class:`ResumableMixin`)."""


def make_ppo(
    env: VecEnv,
    cfg: SeqGANConfig,
    generator_state: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "auto",
    **overrides: Any,
) -> SeqGANPPO:
    """SB3 PPO on the SeqGAN vector env with γ = 1 and λ = 1 (Monte Carlo advantages over a learned value), or
    with ``cfg.ppo.advantage == "q"`` the paper's un-centred weights (no critic, advantage = Q_t); its actor
    (and the critic's LSTM) starting from ``generator_state`` (e.g. the MLE-pretrained G)."""
    core = get_seqgan_env(env).core
    gen_config = {
        "vocab_size": core.vocab_size, "seq_len": core.seq_len,
        "emb_dim": cfg.generator.emb_dim, "hidden_dim": cfg.generator.hidden_dim,
        "eos_token": core.eos_token, "pad_token": core.pad_token,
    }  # fmt: skip
    n_steps, minibatch = ppo_sizes(cfg)
    kwargs: dict[str, Any] = dict(
        learning_rate=cfg.ppo.lr,
        n_steps=n_steps,
        batch_size=minibatch,
        n_epochs=cfg.ppo.n_epochs,
        gamma=1.0,
        gae_lambda=1.0,
        clip_range=cfg.ppo.clip_range,
        ent_coef=cfg.adv.ent_coef,
        max_grad_norm=cfg.adv.max_grad_norm,
        target_kl=cfg.ppo.target_kl,
        policy_kwargs={"generator_config": gen_config},
        seed=cfg.seed,
        device=device,
    )
    if cfg.ppo.advantage == "q":  # advantage_t = r_t + 0·V − 0 = Q_t: the paper's weights, clipped by PPO
        kwargs.update(gamma=0.0, normalize_advantage=False, vf_coef=0.0)
        kwargs["policy_kwargs"]["critic"] = False
    kwargs.update(overrides)
    model = SeqGANPPO(GeneratorActorCriticPolicy, env, **kwargs)
    if generator_state is not None:
        model.policy.load_generator(generator_state)
    return model
