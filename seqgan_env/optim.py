"""The optimiser every phase uses: Adam, with torch's fused kernel where the device has one."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adam(params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr)`` using the fused single-kernel update when it is supported (CPU and CUDA
    in torch ≥ 2.4; ~10 % of an MLE step here), else the default implementation. Same algorithm either way."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # a device without a fused Adam kernel
        return torch.optim.Adam(params, lr=lr)
