"""What an agent persists to continue a run mid-phase, declared on the agent (as SB3 declares what ``save()`` keeps
in ``_get_torch_save_params``): SB3's ``save()`` keeps the policy and its optimizer, but not the env's episodes in
progress, its RNGs or the update counter a resumed run must continue from."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.algorithms.callbacks import get_seqgan_env


class ResumableMixin:
    """Mix into an SB3 algorithm (before it in the bases) to write and read a run's mid-phase state.

    :meth:`resume_state` is a dict of tensors and plain values (``torch.load(weights_only=True)`` reads it back);
    subclasses add what they own (REINFORCE: its sampling RNG and the KL reference) and call ``super()``.
    """

    def resume_state(self: Any) -> dict[str, Any]:
        """Policy, optimizer, counters and env: everything :meth:`load_resume_state` needs to continue exactly."""
        return {
            "policy": self.policy.state_dict(),
            "policy_optimizer": self.policy.optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "n_updates": self._n_updates,
            "env": get_seqgan_env(self.env).state_dict(),
        }

    def load_resume_state(self: Any, state: dict[str, Any]) -> None:
        """Continue from :meth:`resume_state`: the next ``learn(..., reset_num_timesteps=False)`` picks up the episodes
        that were in progress."""
        self.policy.load_state_dict(state["policy"])
        self.policy.optimizer.load_state_dict(state["policy_optimizer"])
        self.num_timesteps = state["num_timesteps"]
        self._n_updates = state["n_updates"]
        env = get_seqgan_env(self.env)
        self._last_obs = self.env.reset()  # also resets the monitor's episode statistics
        self._last_episode_starts = np.ones((env.num_envs,), dtype=bool)
        if env.load_state_dict(state["env"]):  # episodes in progress (text: PPO stops mid-episode)
            self._last_obs = env.core.observation()
            self._last_episode_starts = (state["env"]["pos"] == 0).numpy()
