"""Categorical sampling from a 5,000-way softmax: the project's sampler vs torch.multinomial.

    python bench/sample.py [--quick]

Prints the time per call for B rows × V = 5000 of: softmax + ``torch.multinomial`` (the naive way), a
one-level inverse CDF (one ``cumsum`` over the vocabulary, the project's previous sampler, kept here as a
reference) and the project's two-level inverse CDF (``seqgan_env.sampling.categorical_sample``); the
speed-ups; the matmul floor of the projection that produces the logits (32 × 5000 per row); and a
chi-square test that the samplers draw from the same fixed distribution.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, setup, table, timeit

from seqgan_env.sampling import categorical_sample


def flat_inverse_cdf(logits: torch.Tensor) -> torch.Tensor:
    """One-level inverse CDF: exp, one cumsum over the whole vocabulary, searchsorted."""
    weights = torch.exp((logits - logits.amax(dim=1, keepdim=True)).clamp_(min=-80.0))
    cdf = torch.cumsum(weights, dim=1)
    u = torch.rand((logits.shape[0], 1))
    return torch.searchsorted(cdf, u * cdf[:, -1:], right=True).squeeze(1).clamp_(max=logits.shape[1] - 1)


def chi_square(draws: torch.Tensor, probs: torch.Tensor) -> float:
    counts = torch.bincount(draws, minlength=len(probs)).double()
    expected = probs.double() * len(draws)
    return float(((counts - expected) ** 2 / expected).sum())


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    vocab, hidden = 5000, 32
    rows = []
    for b in (64,) if args.quick else (64, 1024):
        logits = torch.randn(b, vocab) * 3
        h, w = torch.randn(b, hidden), torch.randn(vocab, hidden)
        t_mm = timeit(lambda h=h, w=w: h @ w.T, args.repeats * 10)
        t_multi = timeit(lambda x=logits: torch.multinomial(torch.softmax(x, 1), 1), args.repeats * 10)
        t_flat = timeit(lambda x=logits: flat_inverse_cdf(x), args.repeats * 10)
        t_ours = timeit(lambda x=logits: categorical_sample(x), args.repeats * 10)
        rows.append({"rows": b, "projection matmul ms": t_mm * 1e3, "multinomial ms": t_multi * 1e3,
                     "1-level inverse-CDF ms": t_flat * 1e3, "2-level (ours) ms": t_ours * 1e3,
                     "vs multinomial": t_multi / t_ours, "vs 1-level": t_flat / t_ours,
                     "ours / matmul": t_ours / t_mm})  # fmt: skip
    print(table(rows))
    # the same distribution: 10 categories with unequal mass, chi-square with 9 degrees of freedom
    probs = torch.softmax(torch.linspace(-2, 2, 10), 0)
    n = 20_000 if args.quick else 200_000
    logits = probs.log().expand(n, 10).contiguous()
    g = torch.Generator().manual_seed(0)
    c_ours = chi_square(categorical_sample(logits, generator=g), probs)
    c_multi = chi_square(torch.multinomial(probs.expand(n, 10), 1, generator=g).squeeze(1), probs)
    crit = 27.88  # chi-square(9) at p = 0.001
    verdict = "same distribution" if max(c_ours, c_multi) < crit else "MISMATCH"
    print(f"chi-square (9 dof, {n} draws; p=0.001 critical value {crit}): two-level {c_ours:.1f}, "
          f"multinomial {c_multi:.1f} -> {verdict}")  # fmt: skip
    assert math.isfinite(c_ours)


if __name__ == "__main__":
    main()
