"""Agents that train the SeqGAN generator: the paper's REINFORCE and a PPO baseline on stable-baselines3.

Rooms: :mod:`agents.algorithms` (what trains G: the SB3 algorithms, policies and callbacks), :mod:`agents.run` (one
run of the pipeline: its phases, the interfaces they receive, the run directory, checkpoints, the report),
:mod:`agents.experiments` (comparisons over seeds, self-imitation); :mod:`agents.config` and :mod:`agents.cli` (the
grouped config and its command line) and :mod:`agents.rllib` (the scale-out) at the top. The names below are the
algorithm parts a user plugs into SB3 directly."""

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
