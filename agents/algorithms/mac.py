"""Mean actor-critic with a learned next-token critic: RL on the oracle reward that updates over the whole vocabulary.

REINFORCE on the oracle benchmark sees one sampled token per prefix and its reward r_t = log p_O(y_t | y_<t); the
exact reference sums over all V tokens with the oracle's full distribution. This agent sits between them (Allen et
al., 2017, "Mean Actor-Critic"): a critic q_φ, an LSTM language model of the same shape as G (initialised from it),
is regressed onto the *sampled* rewards,

    L_critic = mean_{b,t} (log q_φ(y_t | y_<t) − r_t)²,

so that log q_φ(· | prefix) estimates log p_O(· | prefix) for every token; the actor then takes the exact per-step
update of :mod:`agents.algorithms.reference` toward the critic instead of the oracle,

    L_actor = mean_{b,t} KL(G(· | y_<t) ‖ q_φ(· | y_<t))
            = −mean_{b,t} (Σ_a G(a | y_<t) log q_φ(a | y_<t) + H(G(· | y_<t))),

the all-action policy gradient of the return E[Σ r_t] + H with Q(s, a) = log q_φ(a | s). It reads the env's
rewards only (sampled tokens), never the oracle's distribution. Each update: one batch through the env, one critic
step (its own Adam, at the agent's rate), one actor step.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from agents.algorithms.callbacks import get_seqgan_env
from agents.algorithms.reference import per_step_kl
from agents.algorithms.reinforce import Reinforce
from seqgan_env.generator import Generator


class MeanActorCritic(Reinforce):
    """REINFORCE's machinery (env rollouts, Adam, clipping, schedule, callbacks, checkpoints) with a learned
    next-token critic and the exact per-step actor update toward it (module docstring). Needs the env's per-step
    oracle reward: ``reward_source="oracle"``, ``reward_mode="q"``.

    Args:
        policy, env, learning_rate, max_grad_norm, policy_kwargs, seed, device: as for :class:`Reinforce`.
    """

    def __init__(self, policy: Any, env: VecEnv, **kwargs: Any) -> None:
        core = get_seqgan_env(env).core
        if core.reward_source != "oracle" or core.reward_mode != "q":
            raise ValueError(
                "the mean actor-critic regresses its critic onto r_t = log p_O(y_t | y_<t): it needs "
                f"reward_source='oracle' and reward_mode='q', got {core.reward_source!r} and {core.reward_mode!r}"
            )
        super().__init__(policy, env, **kwargs)
        self.critic: Generator = copy.deepcopy(self.policy.generator)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=self.lr_schedule(1))

    def start_critic_from_policy(self) -> None:
        """Copy the policy's current weights into the critic (after the pipeline loads the pretrained G)."""
        self.critic.load_state_dict(self.policy.generator.state_dict())

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "critic", "critic_optimizer"]

    def resume_state(self) -> dict[str, Any]:
        return {**super().resume_state(), "critic": self.critic.state_dict(),
                "critic_optimizer": self.critic_optimizer.state_dict()}  # fmt: skip

    def load_resume_state(self, state: dict[str, Any]) -> None:
        super().load_resume_state(state)
        self.critic.load_state_dict(state["critic"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])

    def train_on_batch(self, tokens: torch.Tensor, rewards: torch.Tensor) -> None:
        """One critic step on the batch's sampled rewards, then the actor's step (:meth:`compute_loss`)."""
        self.critic.train()
        for group in self.critic_optimizer.param_groups:
            group["lr"] = self.lr_schedule(self._current_progress_remaining)
        log_q = F.log_softmax(self.critic(tokens), dim=-1).gather(2, tokens[..., None]).squeeze(-1)
        critic_loss = ((log_q - rewards) ** 2).mean()
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.critic.parameters(), self.max_grad_norm or float("inf"))
        self.critic_optimizer.step()
        self.critic.eval()
        self.logger.record("train/critic_loss", critic_loss.item())
        super().train_on_batch(tokens, rewards)

    def compute_loss(self, tokens: torch.Tensor, rewards: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The mean per-step KL(G ‖ q_φ) at the batch's prefixes (the critic held fixed)."""
        loss = per_step_kl(self.policy.generator, self.critic, tokens).mean()
        return loss, {"per_step_kl_to_critic": loss.item()}
