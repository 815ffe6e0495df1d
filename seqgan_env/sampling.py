"""Fast categorical sampling from unnormalised logits.

Sampling from a 5,000-way softmax is the hot path of Monte Carlo rollouts. ``torch.multinomial`` on
softmax probabilities is slow on CPU. Inverse-CDF sampling draws from exactly the same distribution:
pick the first index whose cumulative weight exceeds ``u × total``. A full-length ``cumsum`` over the
vocabulary is itself slow (a sequential scan), so the scan is done in two levels: the vocabulary is cut
into ~√V blocks, one uniform draw picks a block from the cumulative block sums, and the same draw, less
the mass of the blocks before it, picks the token inside that block. Only the block sums (a vectorised
reduction) touch every weight; the scans cover √V entries each (``bench/sample.py``).
"""

from __future__ import annotations

import math

import torch


def _blocks(vocab: int) -> tuple[int, int]:
    """(block size, number of blocks) that cover ``vocab`` entries."""
    size = max(1, math.isqrt(vocab - 1) + 1) if vocab > 1 else 1
    return size, -(-vocab // size)


def categorical_sample(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw one index per row from ``softmax(logits / temperature)``.

    Args:
        logits: ``(B, V)`` unnormalised log-probabilities (not modified).
        temperature: softmax temperature (> 0); 1 samples the model's own distribution.
        generator: optional ``torch.Generator`` for reproducible draws (one uniform per row).

    Returns:
        ``(B,)`` int64 tensor of sampled indices in ``[0, V)``.
    """
    _check_temperature(temperature)
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    rows, vocab = logits.shape
    size, n_blocks = _blocks(vocab)
    buf = torch.empty(rows, n_blocks * size, device=logits.device, dtype=logits.dtype)
    buf[:, vocab:] = float("-inf")
    if temperature == 1.0:
        buf[:, :vocab] = logits
    else:
        torch.div(logits, temperature, out=buf[:, :vocab])
    return _sample_padded_(buf, vocab, size, n_blocks, generator)


class ProjectionSampler:
    """Samples the next token straight from hidden states ``h`` for ``softmax((h Wᵀ + b) / temperature)``.

    The bias is folded into the matrix (``[h, 1] · [W, b]ᵀ``) and the matrix is padded to the sampler's block
    layout with rows of zero weights and a −∞ bias (logit −∞, weight 0), so the logits are written once, by
    one matmul, into the buffer that is then sampled in place: no bias copy and no extra pass. Same
    distribution as ``categorical_sample(h @ W.T + b)``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, temperature: float = 1.0) -> None:
        _check_temperature(temperature)
        vocab, hidden = weight.shape
        self.vocab = vocab
        self.size, self.n_blocks = _blocks(vocab)
        aug = torch.zeros(self.n_blocks * self.size, hidden + 1, device=weight.device, dtype=weight.dtype)
        aug[:vocab, :hidden] = weight.detach()
        aug[:vocab, hidden] = bias.detach()
        aug[vocab:, hidden] = float("-inf")  # padding columns: never the max; zeroed after the exp
        aug = aug / temperature if temperature != 1.0 else aug
        self.weight_t = aug.t().contiguous()
        self.max_row_norm = float(aug[:vocab].norm(dim=1).max()) if vocab else 0.0
        self.exact = False  # True: subtract each row's maximum before exp (see __call__)

    def __call__(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One token ``(B,)`` per row of ``h`` ``(B, H)``."""
        h_aug = torch.cat([h, torch.ones(h.shape[0], 1, device=h.device, dtype=h.dtype)], dim=1)
        buf = torch.mm(h_aug, self.weight_t)
        if buf.device.type != "cpu" or self.exact:
            return _sample_padded_(buf, self.vocab, self.size, self.n_blocks, generator)
        return self._sample_fast_(buf, h_aug, generator)

    def _sample_fast_(self, buf: torch.Tensor, h_aug: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """CPU path: sample the logits ``buf`` (overwritten) of ``h_aug`` without the row-max pass where exact."""
        # On CPU the row-max and subtraction passes cost a fifth of a step, so the weights are taken as exp(logit)
        # directly. Cauchy–Schwarz: every logit lies within ±‖[h, 1]‖·max‖[W_v, b_v]‖; below 40, exp is exact as it
        # is. Otherwise (a trained generator: logits within about −65..+25 on the oracle task) the logits are
        # clamped to ±80 (exp of anything beyond ±88 is some 30–70× slower on CPU) and each row's total weight
        # is checked: a total in [e^-40, e^79) means no logit reached the upper clamp and the ones at the lower
        # clamp weigh < 1e-17 of the total, so the draw is the same; the rows that fail are recomputed with
        # their maximum subtracted.
        bound = float(h_aug.norm(dim=1).max()) * self.max_row_norm
        if bound >= 40.0:
            buf.clamp_(min=-80.0, max=80.0).exp_()
            buf[:, self.vocab :] = 0.0  # the clamp lifted the padding's −∞
        else:
            buf.exp_()  # exp(−∞) = 0 for the padding columns
        rows = buf.shape[0]
        block_cdf = _block_cdf(buf, self.n_blocks, self.size)
        if bound >= 40.0:
            total = block_cdf[:, -1]
            bad = ~((total >= math.exp(-40.0)) & (total < math.exp(79.0)))
            if bool(bad.any()):
                idx = bad.nonzero().squeeze(1)
                redo = _weights_(torch.mm(h_aug[idx], self.weight_t), self.vocab)
                buf[idx] = redo
                block_cdf[idx] = _block_cdf(redo, self.n_blocks, self.size)
                self.exact = len(idx) * 2 > rows  # mostly failing: this sampler's later calls go straight there
        return _draw(buf, block_cdf, self.vocab, self.size, self.n_blocks, generator)


def _check_temperature(temperature: float) -> None:
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


def _sample_padded_(
    buf: torch.Tensor, vocab: int, size: int, n_blocks: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Sample from the logits in ``buf[:, :vocab]`` (``buf``: ``(B, n_blocks × size)``, padding columns
    ``-inf``; overwritten)."""
    return _sample_weights_(_weights_(buf, vocab), vocab, size, n_blocks, generator)


def _weights_(buf: torch.Tensor, vocab: int) -> torch.Tensor:
    """Unnormalised weights exp(l − row max) of the logits ``buf`` (padded after ``vocab``), in place; returns ``buf``.

    Clamping at −80 keeps every weight a normal float (denormals make exp and the sums several times slower on
    CPU); it changes probabilities below e^-80 ≈ 2e-35 relative to the mode, i.e. nothing measurable. The
    padding columns get weight 0.
    """
    buf.sub_(buf.amax(dim=1, keepdim=True)).clamp_(min=-80.0).exp_()
    buf[:, vocab:] = 0.0
    return buf


def _block_cdf(buf: torch.Tensor, n_blocks: int, size: int) -> torch.Tensor:
    """Cumulative sums ``(B, n_blocks)`` of the weights ``buf`` ``(B, n_blocks × size)`` over its blocks."""
    return buf.view(buf.shape[0], n_blocks, size).sum(dim=2).cumsum_(dim=1)


def _sample_weights_(
    buf: torch.Tensor, vocab: int, size: int, n_blocks: int, generator: torch.Generator | None
) -> torch.Tensor:
    """One index in ``[0, vocab)`` per row of the unnormalised weights ``buf`` ``(B, n_blocks × size)`` (zero
    after ``vocab``), by two-level inverse CDF."""
    return _draw(buf, _block_cdf(buf, n_blocks, size), vocab, size, n_blocks, generator)


def _draw(
    buf: torch.Tensor,
    block_cdf: torch.Tensor,
    vocab: int,
    size: int,
    n_blocks: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """The two-level inverse-CDF draw from weights ``buf`` given their cumulative block sums ``block_cdf``."""
    rows = buf.shape[0]
    blocks = buf.view(rows, n_blocks, size)
    u = torch.rand((rows, 1), generator=generator, device=buf.device, dtype=buf.dtype) * block_cdf[:, -1:]
    k = torch.searchsorted(block_cdf, u, right=True).clamp_(max=n_blocks - 1)  # the block holding u
    before = torch.where(k > 0, block_cdf.gather(1, (k - 1).clamp(min=0)), torch.zeros_like(u))
    inner_cdf = blocks[torch.arange(rows, device=buf.device), k.squeeze(1)].cumsum_(dim=1)  # (B, size)
    j = torch.searchsorted(inner_cdf, u - before, right=True).clamp_(max=size - 1)
    return (k * size + j).squeeze(1).clamp_(max=vocab - 1)
