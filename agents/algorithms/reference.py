"""The exact per-step reference trainer: the best that a perfect teacher allows, labelled as a reference, not RL.

On the oracle task the perfect discriminator's dense reward is r_t = log p_O(y_t | y_<t) − log p_G(y_t | y_<t)
(``reward_source="perfect"``). An RL agent sees only sampled r_t. This trainer uses what the oracle knows exactly:
at the prefixes of G's own sampled sequences it minimises

    L = 1/(B·T) Σ_{b,t} KL(G(· | y^b_<t) ‖ O(· | y^b_<t)),

the per-step reverse KL summed over the whole vocabulary (no sampling of the next token) and with the prefixes
held fixed (no credit through later steps). Its gradient is the expectation, over the next token, of REINFORCE's
with the per-step weight r_t (``reward_mode="q"``): the same direction with no sampling noise. It needs the
oracle's full next-token distribution, so it is a yardstick for the RL agents on the perfect reward, not a
method for real data.
"""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from agents.algorithms.reinforce import Reinforce
from seqgan_env.generator import Generator


def per_step_kl(gen: Generator, oracle: Generator, tokens: torch.Tensor) -> torch.Tensor:
    """``(B, T)``: KL(G(· | y_<t) ‖ O(· | y_<t)) in nats at every prefix of ``tokens``; differentiable in G only."""
    log_g = F.log_softmax(gen(tokens), dim=-1)
    with torch.no_grad():
        log_o = F.log_softmax(oracle(tokens), dim=-1)
    return (log_g.exp() * (log_g - log_o)).sum(-1)


class PerStepKLReference(Reinforce):
    """Exact per-step KL minimisation at G's sampled prefixes (module docstring), with REINFORCE's machinery:
    one update = ``env.num_envs`` sequences sampled from G (the env is not stepped: the loss needs no reward),
    Adam, gradient clipping, the learning-rate schedule, callbacks, logging and checkpoints.

    Args:
        policy, env, learning_rate, max_grad_norm, policy_kwargs, seed, device: as for :class:`Reinforce`.
        oracle: the teacher whose next-token distributions G is moved toward: the oracle (a :class:`Generator`) whose
            samples are the real data, another run's G (``--adv.teacher``), or the LM of the full-vocabulary D
            (``--env.reward-source lm``), retrained in place between updates.
    """

    def __init__(self, policy: Any, env: VecEnv, oracle: Generator, **kwargs: Any) -> None:
        if not isinstance(oracle, Generator):
            raise TypeError(f"oracle must be a seqgan_env.Oracle (a Generator), got {type(oracle).__name__}")
        super().__init__(policy, env, **kwargs)
        mine = self.policy.generator.config
        if (oracle.config.vocab_size, oracle.config.seq_len) != (mine.vocab_size, mine.seq_len):
            raise ValueError(
                f"oracle has vocab_size={oracle.config.vocab_size}, seq_len={oracle.config.seq_len}; the generator "
                f"has vocab_size={mine.vocab_size}, seq_len={mine.seq_len}"
            )
        self.oracle = oracle.to(self.device)  # read under no_grad; not frozen here: a learned teacher keeps training

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "oracle"]

    def collect_rollouts(self, callback: BaseCallback) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Sample one batch of sequences from G (no env steps); ``None`` if a callback stopped training."""
        assert self.env is not None
        gen, b = self.policy.generator, self.env.num_envs
        callback.on_rollout_start()
        self.policy.set_training_mode(False)
        tokens = gen.sample(b, generator=self.sampling_rng)
        for _ in range(gen.config.seq_len):  # count the batch's tokens as env steps, for budgets and callbacks
            self.num_timesteps += b
            callback.update_locals(locals())
            if not callback.on_step():
                return None
        callback.on_rollout_end()
        return tokens, torch.zeros(tokens.shape, device=self.device)

    def compute_loss(self, tokens: torch.Tensor, rewards: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The mean per-step KL(G ‖ O) at the batch's prefixes (``rewards`` are not used)."""
        kl = per_step_kl(self.policy.generator, self.oracle, tokens)
        loss = kl.mean()
        return loss, {"per_step_kl": loss.item()}
