"""Agents that train the SeqGAN generator: the paper's REINFORCE and a PPO baseline on stable-baselines3."""

from agents.algorithms.callbacks import (
    DiscriminatorCallback,
    EvalEveryKUpdates,
    MLECallback,
    RolloutPolicyCallback,
    SaveEveryKUpdates,
    get_generator,
    get_seqgan_env,
)
from agents.algorithms.policies import GeneratorActorCriticPolicy, GeneratorPolicy
from agents.algorithms.reinforce import Reinforce

__all__ = [
    "DiscriminatorCallback",
    "EvalEveryKUpdates",
    "GeneratorActorCriticPolicy",
    "GeneratorPolicy",
    "MLECallback",
    "Reinforce",
    "RolloutPolicyCallback",
    "SaveEveryKUpdates",
    "get_generator",
    "get_seqgan_env",
]
