"""SB3 policies whose next-token distribution IS the shared :class:`~seqgan_env.Generator`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from seqgan_env.generator import Generator, GeneratorConfig


def _config_from(obs_space: spaces.Space, action_space: spaces.Space, generator_config: dict | None) -> GeneratorConfig:
    if not isinstance(obs_space, spaces.Box) or obs_space.shape is None or len(obs_space.shape) != 1:
        raise ValueError(f"observation_space must be the SeqGAN-v0 Box(0, V, (T,)), got {obs_space}")
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"action_space must be Discrete(vocab_size), got {action_space}")
    cfg = GeneratorConfig(**(generator_config or {}))
    vocab, seq_len = int(action_space.n), int(obs_space.shape[0])
    if cfg.vocab_size != vocab or cfg.seq_len != seq_len:
        raise ValueError(
            f"generator_config has vocab_size={cfg.vocab_size}, seq_len={cfg.seq_len}; the env needs "
            f"vocab_size={vocab}, seq_len={seq_len}"
        )
    return cfg


class GeneratorPolicy(BasePolicy):
    """The REINFORCE policy: π(a | prefix) = G(a | prefix), plus an optional value head for a baseline.

    Args:
        generator_config: kwargs of :class:`GeneratorConfig` (vocab and length must match the env).
        lr_schedule: SB3 learning-rate schedule.
        value_baseline: whether to build the learned value head ``V(h_t)``.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        generator_config: dict | None = None,
        value_baseline: bool = False,
        optimizer_class: type[torch.optim.Optimizer] = torch.optim.Adam,
        optimizer_kwargs: dict | None = None,
    ) -> None:
        super().__init__(
            observation_space, action_space, optimizer_class=optimizer_class, optimizer_kwargs=optimizer_kwargs
        )
        self.generator_config = _config_from(observation_space, action_space, generator_config)
        self.value_baseline = value_baseline
        self.generator = Generator(self.generator_config)
        self.value_net = nn.Linear(self.generator_config.hidden_dim, 1) if value_baseline else None
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(generator_config=asdict(self.generator_config), value_baseline=self.value_baseline)
        return data

    def next_token_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, V)`` of the next token for observed prefixes ``(B, T)``."""
        return self.generator.next_token_logits(obs)

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        logits = self.next_token_logits(observation)
        if deterministic:
            return logits.argmax(dim=1)
        return torch.distributions.Categorical(logits=logits).sample()


class GeneratorFeatures(BaseFeaturesExtractor):
    """Features for SB3's actor-critic: the generator's LSTM state after reading the observed prefix."""

    def __init__(self, observation_space: spaces.Box, generator_config: dict | None = None) -> None:
        cfg = GeneratorConfig(**(generator_config or {}))
        super().__init__(observation_space, cfg.hidden_dim)
        self.generator = Generator(cfg)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.generator.prefix_hidden(observations)


class ZeroValue(nn.Module):
    """A value head without parameters that predicts 0 for every state (a policy with no critic)."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.new_zeros(features.shape[0], 1)


class GeneratorActorCriticPolicy(ActorCriticPolicy):
    """SB3 ``ActorCriticPolicy`` whose actor is exactly the :class:`Generator`.

    The features extractor is the generator's embedding + LSTM, the MLP extractor is the identity and
    the action head IS the generator's output projection, so the action distribution equals
    ``softmax(G(prefix))``. The critic has its own LSTM copy and a linear value head (no shared
    features, so the value loss never moves the generator).

    Args:
        generator_config: kwargs of :class:`GeneratorConfig` (vocab and length must match the env).
        critic: ``False``: no critic, every value is 0 (with γ = 0 the advantage is then the step's reward).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Any,
        generator_config: dict | None = None,
        critic: bool = True,
        **kwargs: Any,
    ) -> None:
        self.critic = critic
        cfg = _config_from(observation_space, action_space, generator_config)
        kwargs.setdefault("net_arch", [])
        kwargs.setdefault("ortho_init", False)
        # no critic: nothing to keep apart, so the value path reuses the actor's features instead of a second LSTM
        kwargs.setdefault("share_features_extractor", not critic)
        kwargs["features_extractor_class"] = GeneratorFeatures
        kwargs["features_extractor_kwargs"] = {"generator_config": asdict(cfg)}
        self.generator_config = cfg
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = self.generator.proj  # the action head IS the generator's projection
        if not self.critic:
            self.value_net = ZeroValue()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["generator_config"] = asdict(self.generator_config)
        data["critic"] = self.critic
        data.pop("features_extractor_class", None)
        data.pop("features_extractor_kwargs", None)
        return data

    @property
    def generator(self) -> Generator:
        """The actor: a :class:`Generator` sharing its parameters with this policy."""
        extractor = self.pi_features_extractor if not self.share_features_extractor else self.features_extractor
        return extractor.generator

    def load_generator_state(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Start actor and critic LSTM from the same (e.g. MLE-pretrained) generator weights."""
        self.generator.load_state_dict(state_dict)
        if not self.share_features_extractor:
            self.vf_features_extractor.generator.load_state_dict(state_dict)
