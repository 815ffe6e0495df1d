"""SeqGAN as a Gymnasium environment: ``gymnasium.make("SeqGAN-v0")`` after ``import seqgan_env``."""

from gymnasium.envs.registration import register, registry

from seqgan_env.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    PrefixDiscriminator,
    PrefixDiscriminatorConfig,
)
from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.oracle import Oracle, OracleConfig
from seqgan_env.rollout import RolloutReward
from seqgan_env.trained import load_generator

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "Oracle",
    "OracleConfig",
    "PrefixDiscriminator",
    "PrefixDiscriminatorConfig",
    "RolloutReward",
    "load_generator",
]
__version__ = "0.1.0"

if "SeqGAN-v0" not in registry:
    register(
        id="SeqGAN-v0",
        entry_point="seqgan_env.env:SeqGANEnv",
        vector_entry_point="seqgan_env.env:SeqGANVectorEnv",
        max_episode_steps=None,
    )
