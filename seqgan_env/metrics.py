"""Quality metrics for generators.

* **NLL-oracle** (Yu et al., 2017): the oracle's mean per-token negative log-likelihood of sequences
  sampled from the generator, ``-1/(N·T) Σ_n Σ_t log p_oracle(y_t^n | y_<t^n)`` with ``y^n ~ G``.
  Lower is better, but it rewards a generator that collapses onto a few likely sequences.
* **NLL-test**: the generator's mean per-token negative log-likelihood of held-out real sequences,
  ``-1/(N·T) Σ_n Σ_t log p_G(x_t^n | x_<t^n)`` with ``x^n`` from the test split. It penalises lost
  diversity (mode dropping), so it is always reported beside NLL-oracle (Caccia et al., 2018).

Both are in nats per token. A uniform generator over ``V`` tokens scores ``log V`` on NLL-test.
"""

from __future__ import annotations

import torch

from seqgan_env.generator import Generator
from seqgan_env.oracle import Oracle, sequence_nll


@torch.no_grad()
def nll_oracle(
    oracle: Oracle,
    generator: Generator,
    num_samples: int = 10_000,
    temperature: float = 1.0,
    seed: int | None = 0,
) -> float:
    """NLL-oracle of ``num_samples`` sequences drawn from ``generator`` at ``temperature`` (nats/token)."""
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    if generator.config.vocab_size != oracle.config.vocab_size or generator.config.seq_len != oracle.config.seq_len:
        raise ValueError(
            f"generator (vocab_size={generator.config.vocab_size}, seq_len={generator.config.seq_len}) does not "
            f"match the oracle (vocab_size={oracle.config.vocab_size}, seq_len={oracle.config.seq_len})"
        )
    rng = None if seed is None else torch.Generator(device=generator.device).manual_seed(seed)
    was_training = generator.training
    generator.eval()
    samples = generator.sample(num_samples, temperature=temperature, generator=rng)
    generator.train(was_training)
    return oracle.nll(samples.to(oracle.device))


def nll_test(generator: Generator, test_data: torch.Tensor, temperature: float = 1.0) -> float:
    """NLL-test: ``generator``'s mean per-token NLL of held-out real sequences ``(N, T)`` (nats/token)."""
    return sequence_nll(generator, test_data, temperature=temperature)
