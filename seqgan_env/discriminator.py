"""The discriminator D: the paper's CNN text classifier, returning P(real) per sequence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


@dataclass
class DiscriminatorConfig:
    """Sizes of a :class:`Discriminator` (defaults: the official synthetic-data CNN, 1,720 filters)."""

    vocab_size: int = 5000
    """Number of tokens (must match the generator's)."""
    seq_len: int = 20
    """Sequence length (must match the generator's)."""
    emb_dim: int = 64
    """Token embedding size."""
    filter_sizes: Sequence[int] = field(default_factory=lambda: PAPER_FILTER_SIZES)
    """Convolution widths (each ≤ ``seq_len``)."""
    num_filters: Sequence[int] = field(default_factory=lambda: PAPER_NUM_FILTERS)
    """Number of filters of each width."""
    dropout: float = 0.25
    """Dropout probability before the output layer (official keep-prob 0.75)."""
    l2_reg: float = 0.2
    """L2 penalty on the output layer's weights and bias, added to the loss (official: 0.2)."""
    lr: float = 1e-4
    """Adam learning rate (official: 1e-4)."""

    def __post_init__(self) -> None:
        self.filter_sizes = tuple(int(s) for s in self.filter_sizes)
        self.num_filters = tuple(int(n) for n in self.num_filters)
        for name in ("vocab_size", "seq_len", "emb_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if len(self.filter_sizes) == 0 or len(self.filter_sizes) != len(self.num_filters):
            raise ValueError(
                f"filter_sizes and num_filters must be non-empty and of equal length, got "
                f"{len(self.filter_sizes)} and {len(self.num_filters)}"
            )
        if any(not 1 <= s <= self.seq_len for s in self.filter_sizes):
            raise ValueError(f"filter_sizes must lie in [1, seq_len={self.seq_len}], got {self.filter_sizes}")
        if any(n <= 0 for n in self.num_filters):
            raise ValueError(f"num_filters must be positive, got {self.num_filters}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @classmethod
    def paper(cls, vocab_size: int, seq_len: int, **kw: object) -> DiscriminatorConfig:
        """The official CNN, keeping only the filter widths that fit in ``seq_len``."""
        pairs = [(s, n) for s, n in zip(PAPER_FILTER_SIZES, PAPER_NUM_FILTERS) if s <= seq_len]
        return cls(
            vocab_size=vocab_size,
            seq_len=seq_len,
            filter_sizes=[s for s, _ in pairs],
            num_filters=[n for _, n in pairs],
            **kw,
        )  # type: ignore[arg-type]

    @classmethod
    def small(cls, vocab_size: int, seq_len: int, **kw: object) -> DiscriminatorConfig:
        """A cheap D (widths 1–5, 32 filters each) for tests and fast presets."""
        sizes = tuple(s for s in (1, 2, 3, 4, 5) if s <= seq_len)
        return cls(
            vocab_size=vocab_size,
            seq_len=seq_len,
            emb_dim=kw.pop("emb_dim", 32),  # type: ignore[arg-type]
            filter_sizes=sizes,
            num_filters=(32,) * len(sizes),
            **kw,
        )  # type: ignore[arg-type]


class Discriminator(nn.Module):
    """CNN over token embeddings: convolutions of several widths, max-over-time pooling, one highway
    layer, dropout and a 2-class output; :meth:`score` returns P(real) per sequence.

    Filters of the same width share one ``conv1d`` call; all widths read one embedded batch.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or DiscriminatorConfig()
        self.embedding = nn.Embedding(c.vocab_size, c.emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(c.emb_dim, n, s) for s, n in zip(c.filter_sizes, c.num_filters))
        total = sum(c.num_filters)
        self.highway = nn.Linear(total, 2 * total)
        self.dropout = nn.Dropout(c.dropout)
        self.out = nn.Linear(total, 2)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1)
            nn.init.constant_(conv.bias, 0.1)

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 2)`` for ``tokens`` ``(B, T)``; column 1 is "real"."""
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, T)
        pooled = torch.cat([F.relu(conv(x)).amax(dim=2) for conv in self.convs], dim=1)
        t, g = self.highway(pooled).chunk(2, dim=1)
        gate = torch.sigmoid(g)
        h = gate * F.relu(t) + (1.0 - gate) * pooled
        return self.out(self.dropout(h))

    def score(self, tokens: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """P(real) ``(B,)`` for ``tokens`` ``(B, T)``; evaluation mode, no gradient."""
        self._check_tokens(tokens)
        was_training = self.training
        self.eval()
        with torch.inference_mode():
            probs = torch.cat([torch.softmax(self(chunk), dim=1)[:, 1] for chunk in torch.split(tokens, batch_size)])
        self.train(was_training)
        return probs

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of ``labels`` (1 = real) plus the L2 penalty on the output layer."""
        ce = F.cross_entropy(self(tokens), labels)
        l2 = 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())
        return ce + self.config.l2_reg * l2

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        c = self.config
        if tokens.dim() != 2 or tokens.shape[1] != c.seq_len:
            raise ValueError(f"tokens must have shape (B, seq_len={c.seq_len}), got {tuple(tokens.shape)}")


def train_discriminator(
    disc: Discriminator,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    epochs: int = 3,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
) -> float:
    """Train ``disc`` for ``epochs`` passes over ``real`` (label 1) and ``fake`` (label 0), shuffled.

    Returns:
        The mean loss of the last epoch.
    """
    data = torch.cat([real, fake]).to(disc.device)
    labels = torch.cat([torch.ones(len(real), dtype=torch.long), torch.zeros(len(fake), dtype=torch.long)])
    labels = labels.to(disc.device)
    disc.train()
    last = float("nan")
    for _ in range(epochs):
        perm = torch.randperm(len(data), generator=generator).to(disc.device)
        total, n = 0.0, 0
        for idx in torch.split(perm, batch_size):
            loss = disc.loss(data[idx], labels[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"discriminator loss is {loss.item()} (non-finite) during D training")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            n += len(idx)
        last = total / max(n, 1)
    return last
