"""The paper's REINFORCE update with every reward equal to 1, run without env, rollouts or discriminator.

An ablation: with Q ≡ 1 the update is ``∇ Σ_t log G(y_t)`` over G's own samples, whose expectation is zero, so
whatever it does to G comes from the finite batch and the optimiser, not from any reward (RESULTS.md).
"""

from __future__ import annotations

import torch

from agents.algorithms.reinforce import reinforce_loss
from seqgan_env.generator import Generator

OPTIMIZERS = ("adam", "sgd")


def self_imitation(
    gen: Generator,
    steps: int,
    batch_size: int = 64,
    optimizer: str = "adam",
    lr: float = 0.02,
    max_grad_norm: float = 5.0,
    generator: torch.Generator | None = None,
    reference_batch: int = 64,
) -> Generator:
    """Train ``gen`` in place for ``steps`` updates of the REINFORCE loss with every weight 1 on ``batch_size``
    fresh samples each, as the `fast` preset's adversarial phase does with Q ≡ 1: the summed loss (scaled to a
    ``reference_batch``-sequence batch, so the batch size changes the noise, not the scale), the gradient
    clipped to ``max_grad_norm``, the rate decaying linearly from ``lr`` to 0; Adam or SGD (torch defaults)."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("reference_batch", reference_batch)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not lr > 0 or not max_grad_norm > 0:
        raise ValueError(f"lr and max_grad_norm must be positive, got {lr} and {max_grad_norm}")
    params = list(gen.parameters())
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
    gen.train()
    for k in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (1 - k / steps)
        with torch.no_grad():
            tokens = gen.sample(batch_size, generator=generator)
        log_probs = gen.log_prob(tokens)
        ones = torch.ones_like(log_probs)
        loss = reinforce_loss(log_probs, ones, "sum", gen.valid_mask(tokens)) * (reference_batch / batch_size)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        opt.step()
    return gen.eval()
