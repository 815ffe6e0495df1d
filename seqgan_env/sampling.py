"""Fast categorical sampling from unnormalised logits.

Sampling from a 5,000-way softmax is the hot path of Monte Carlo rollouts. ``torch.multinomial`` on
softmax probabilities is slow on CPU; inverse-CDF sampling (one ``cumsum`` and one ``searchsorted``
per row) draws from exactly the same distribution several times faster.
"""

from __future__ import annotations

import torch


def categorical_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw one index per row from ``softmax(logits / temperature)``.

    Args:
        logits: ``(B, V)`` unnormalised log-probabilities.
        temperature: softmax temperature (> 0); 1 samples the model's own distribution.
        generator: optional ``torch.Generator`` for reproducible draws.

    Returns:
        ``(B,)`` int64 tensor of sampled indices in ``[0, V)``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    scaled = logits if temperature == 1.0 else logits / temperature
    # Unnormalised inverse CDF: exp(l - max) avoids overflow; the total mass scales the uniform draw.
    # Clamping at -80 keeps every weight a normal float (denormals make exp/cumsum several times slower
    # on CPU); it changes probabilities below e^-80 ≈ 2e-35 relative to the mode, i.e. nothing measurable.
    weights = torch.exp((scaled - scaled.amax(dim=1, keepdim=True)).clamp_(min=-80.0))
    cdf = torch.cumsum(weights, dim=1)
    u = torch.rand((logits.shape[0], 1), generator=generator, device=logits.device, dtype=cdf.dtype)
    idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    return idx.squeeze(1).clamp_(max=logits.shape[1] - 1)
