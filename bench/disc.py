"""Discriminator training throughput (sequences/s, forward + backward + Adam) of the paper-size CNN:
the project's ``Discriminator`` vs a straightforward implementation with one Conv2d per filter width over a
(B, 1, T, E) "image", as the original TensorFlow and PyTorch implementations build it.

    python bench/disc.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, setup, table, timeit

from seqgan_env.discriminator import Discriminator, DiscriminatorConfig


class NaiveDiscriminator(nn.Module):
    """The originals' layout: Conv2d(1, n, (w, E)) per width on a (B, 1, T, E) tensor."""

    def __init__(self, c: DiscriminatorConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(c.vocab_size, c.emb_dim)
        self.convs = nn.ModuleList(nn.Conv2d(1, n, (s, c.emb_dim)) for s, n in zip(c.filter_sizes, c.num_filters))
        total = sum(c.num_filters)
        self.highway = nn.Linear(total, total)
        self.gate = nn.Linear(total, total)
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(total, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embedding(tokens).unsqueeze(1)
        pooled = [F.relu(conv(x)).squeeze(3).max(dim=2).values for conv in self.convs]
        h = torch.cat(pooled, 1)
        g = torch.sigmoid(self.gate(h))
        h = g * F.relu(self.highway(h)) + (1 - g) * h
        return self.out(self.dropout(h))


def throughput(model: nn.Module, batches: list[torch.Tensor], labels: torch.Tensor, repeats: int) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def epoch() -> None:
        for x in batches:
            loss = F.cross_entropy(model(x), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return len(batches) * len(labels) / timeit(epoch, repeats)


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    cfg = DiscriminatorConfig()
    torch.manual_seed(0)
    n_batches = 4 if args.quick else 40
    batches = [torch.randint(0, cfg.vocab_size, (64, cfg.seq_len)) for _ in range(n_batches)]
    labels = torch.randint(0, 2, (64,))
    ours = throughput(Discriminator(cfg), batches, labels, args.repeats)
    naive = throughput(NaiveDiscriminator(cfg), batches, labels, args.repeats)
    print(f"paper-size D (1,720 filters, widths 1–10, 15, 20, emb 64), batch 64, {n_batches} batches per timing")
    print(table([
        {"implementation": "Conv2d per width (originals)", "sequences/s": naive, "ratio": 1.0},
        {"implementation": "seqgan_env.Discriminator", "sequences/s": ours, "ratio": ours / naive},
    ]))  # fmt: skip
    print("one official D round (20k sequences × 3 epochs) would take "
          f"{60_000 / ours:.0f} s here (official TF code: 3 × 28.3 s)")  # fmt: skip


if __name__ == "__main__":
    main()
