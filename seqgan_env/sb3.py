"""An SB3 ``VecEnv`` view of :class:`~seqgan_env.env.SeqGANVectorEnv`: one tensor step for all sequences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from seqgan_env.env import SeqGANVectorEnv


class SB3VecEnv(VecEnv):
    """Adapter so stable-baselines3 steps all ``num_envs`` sequences in one call (no per-env loop).

    Like any SB3 ``VecEnv`` it reports episode statistics (``rollout/ep_rew_mean``) only through a monitor: wrap it,
    ``VecMonitor(SB3VecEnv(...))``, as the pipeline does.

    Args:
        venv: the native vector env, or ``None`` to build one from ``kwargs``.
        seed: seed of the first reset.
        **kwargs: :class:`SeqGANVectorEnv` arguments when ``venv`` is None.
    """

    def __init__(self, venv: SeqGANVectorEnv | None = None, seed: int | None = None, **kwargs: Any) -> None:
        if venv is None:
            venv = SeqGANVectorEnv(**kwargs)
        elif kwargs:
            raise TypeError(f"pass either venv or SeqGANVectorEnv kwargs, not both (got {sorted(kwargs)})")
        if not isinstance(venv, SeqGANVectorEnv):
            raise TypeError(f"venv must be a SeqGANVectorEnv, got {type(venv).__name__}")
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._next_seed = seed
        self.render_mode = venv.render_mode

    # the parts callbacks plug in
    @property
    def core(self):
        return self.venv.core

    def set_discriminator(self, discriminator: Any) -> None:
        self.venv.set_discriminator(discriminator)

    def set_rollout_policy(self, policy: Any) -> None:
        self.venv.set_rollout_policy(policy)

    def state_dict(self) -> dict[str, Any]:
        """The env's RNGs and its episodes in progress: what continuing exactly after a restart needs."""
        return {**self.core.state_dict(), "np_random": self.venv.np_random.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore :meth:`state_dict`'s RNGs and episodes in progress (after a :meth:`reset`); returns whether the
        state held episodes to continue (checkpoints from before they were saved hold only the RNGs)."""
        self.venv.np_random.bit_generator.state = state["np_random"]
        return self.core.load_state_dict(state)

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        self._next_seed = seed
        return [seed] * self.num_envs

    def reset(self) -> VecEnvObs:
        """Reset every sequence; the reset's info (``"q"``: Q_0 in shaped mode) is in ``self.reset_infos``, where SB3
        keeps reset infos."""
        obs, info = self.venv.reset(seed=self._next_seed)
        self._next_seed = None
        self.reset_infos = [
            {k: float(v[i]) for k, v in info.items() if not k.startswith("_") and info[f"_{k}"][i]}
            for i in range(self.num_envs)
        ]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        arr = np.asarray(actions)
        if arr.size != self.num_envs:
            raise ValueError(f"actions must hold one token id per env ({self.num_envs}), got shape {arr.shape}")
        self._actions = arr.reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        ended = info.get("_final_obs", np.zeros(self.num_envs, dtype=bool))
        for i in range(self.num_envs):  # the step's info: from final_info where the episode ended
            step_info = info["final_info"] if ended[i] else info
            for key in self.core.source.info_keys:
                if key in step_info and step_info[f"_{key}"][i]:
                    infos[i][key] = float(step_info[key][i])
            if ended[i]:
                infos[i]["terminal_observation"] = info["final_obs"][i]
                infos[i]["TimeLimit.truncated"] = False
        return obs, reward, dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [getattr(self.venv, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs

    def render(self, mode: str | None = None) -> np.ndarray | None:
        return None
