"""Agents that train the SeqGAN generator: the paper's REINFORCE and a PPO baseline on stable-baselines3."""

from agents.callbacks import (
    CheckpointCallback,
    DiscriminatorCallback,
    EvalCallback,
    MLECallback,
    OracleEvalCallback,
    RolloutPolicyCallback,
    get_generator,
    get_seqgan_env,
)
from agents.policies import GeneratorActorCriticPolicy, GeneratorPolicy
from agents.reinforce import Reinforce

__all__ = [
    "CheckpointCallback",
    "DiscriminatorCallback",
    "EvalCallback",
    "GeneratorActorCriticPolicy",
    "GeneratorPolicy",
    "MLECallback",
    "OracleEvalCallback",
    "Reinforce",
    "RolloutPolicyCallback",
    "get_generator",
    "get_seqgan_env",
]
