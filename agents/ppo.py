"""PPO baseline: SB3's ``PPO`` whose actor is the shared :class:`~seqgan_env.Generator`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecEnv

from agents.policies import GeneratorActorCriticPolicy

if TYPE_CHECKING:
    from agents.config import SeqGANConfig


def make_ppo(
    env: VecEnv,
    cfg: SeqGANConfig,
    generator_state: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "auto",
    **overrides: Any,
) -> PPO:
    """SB3 PPO on the SeqGAN vector env with γ = 1 and λ = 1 (Monte Carlo advantages over a learned value), or
    with ``cfg.ppo_advantage == "q"`` the paper's un-centred weights (no critic, advantage = Q_t); its actor
    (and the critic's LSTM) starting from ``generator_state`` (e.g. the MLE-pretrained G)."""
    from agents.callbacks import get_seqgan_env

    core = get_seqgan_env(env).core
    gen_config = {
        "vocab_size": core.vocab_size, "seq_len": core.seq_len,
        "emb_dim": cfg.gen_emb_dim, "hidden_dim": cfg.gen_hidden_dim,
        "eos_token": core.eos_token, "pad_token": core.pad_token,
    }  # fmt: skip
    from agents.config import ppo_sizes

    n_steps, minibatch = ppo_sizes(cfg)
    kwargs: dict[str, Any] = dict(
        learning_rate=cfg.ppo_lr,
        n_steps=n_steps,
        batch_size=minibatch,
        n_epochs=cfg.ppo_n_epochs,
        gamma=1.0,
        gae_lambda=1.0,
        clip_range=cfg.ppo_clip_range,
        ent_coef=cfg.ent_coef,
        max_grad_norm=cfg.max_grad_norm,
        target_kl=cfg.ppo_target_kl,
        policy_kwargs={"generator_config": gen_config},
        seed=cfg.seed,
        device=device,
    )
    if cfg.ppo_advantage == "q":  # advantage_t = r_t + 0·V − 0 = Q_t: the paper's weights, clipped by PPO
        kwargs.update(gamma=0.0, normalize_advantage=False, vf_coef=0.0)
        kwargs["policy_kwargs"]["critic"] = False
    kwargs.update(overrides)
    model = PPO(GeneratorActorCriticPolicy, env, **kwargs)
    if generator_state is not None:
        model.policy.load_generator(generator_state)
    return model
