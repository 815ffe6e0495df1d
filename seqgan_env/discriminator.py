"""The discriminator D: the paper's CNN text classifier, returning P(real) per sequence; the per-prefix LSTM D; and
a D with a full-vocabulary head (:class:`LMDiscriminator`, a language model trained by NCE against G)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from seqgan_env.generator import Generator, GeneratorConfig


def check_tokens(tokens: torch.Tensor, seq_len: int) -> None:
    """One clear error unless ``tokens`` is a ``(B, seq_len)`` batch (every D's input)."""
    if tokens.dim() != 2 or tokens.shape[1] != seq_len:
        raise ValueError(f"tokens must have shape (B, seq_len={seq_len}), got {tuple(tokens.shape)}")


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
        check_tokens(tokens, self.config.seq_len)


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


# ------------------------------------------------------------------------------------------------ per-prefix D
def retrain_discriminator(
    disc: Discriminator | LMDiscriminator,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    generator_model: Generator,
    rounds: int = 5,
    epochs: int = 3,
    n_negatives: int = 10_000,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
) -> float:
    """One D retraining of the adversarial loop: ``rounds`` rounds, each on ``n_negatives`` fresh samples of
    ``generator_model`` (a :class:`~seqgan_env.Generator`) vs all of ``real``, ``epochs`` epochs per round (paper:
    5 × 3, 10k negatives). Returns the last epoch's mean loss."""
    loss = float("nan")
    if isinstance(disc, LMDiscriminator):  # its negatives' generator is its noise model
        disc.set_noise(generator_model)
    for _ in range(rounds):
        fake = generator_model.sample(n_negatives, generator=generator).to(disc.device)
        loss = train_discriminator(disc, optimizer, real, fake, epochs, batch_size, generator)
    return loss


@dataclass
class PrefixDiscriminatorConfig:
    """Sizes and regularisation of a :class:`PrefixDiscriminator` (defaults: chosen on held-out data of the
    official oracle, see RESULTS.md "A reward that carries signal")."""

    vocab_size: int = 5000
    """Number of tokens (must match the generator's)."""
    seq_len: int = 20
    """Sequence length (must match the generator's)."""
    emb_dim: int = 64
    """Token embedding size."""
    hidden_dim: int = 128
    """LSTM size."""
    dropout: float = 0.25
    """Dropout on the embeddings and on the LSTM outputs during training."""
    l2_reg: float = 1e-4
    """L2 penalty ``l2_reg/2 · Σ w²`` on every weight, added to the loss."""
    lr: float = 1e-3
    """Adam learning rate."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "seq_len", "emb_dim", "hidden_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.l2_reg >= 0:
            raise ValueError(f"l2_reg must be >= 0, got {self.l2_reg}")


class PrefixDiscriminator(nn.Module):
    """A recurrent discriminator that scores every prefix in one pass (ScratchGAN's design, de Masson
    d'Autume et al., 2019): an LSTM reads a start symbol then ``y_1 … y_T``, and after each input a layer-normed
    linear head gives the logit of D(y_1..t) = P(real | the first t tokens), for t = 0 … T.

    Trained on whole real and generated sequences, every prefix carrying its sequence's label (:meth:`loss`), it
    gives a dense per-step reward with no Monte Carlo rollouts: the env advances its state by one token per step
    (:meth:`first_state`, :meth:`advance`, :meth:`prob`). D(y_1..t) depends on ``y_1..t`` only (causal).
    :meth:`score` (the whole sequence, t = T) makes it usable wherever the CNN :class:`Discriminator` is.
    """

    def __init__(self, config: PrefixDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or PrefixDiscriminatorConfig()
        self.embedding = nn.Embedding(c.vocab_size + 1, c.emb_dim)  # index vocab_size: the start symbol
        self.lstm = nn.LSTM(c.emb_dim, c.hidden_dim, batch_first=True)
        self.norm = nn.LayerNorm(c.hidden_dim)
        self.out = nn.Linear(c.hidden_dim, 1)

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, T + 1)`` of D(y_1..t) for t = 0 … T (column 0: the empty prefix)."""
        self._check_tokens(tokens)
        start = torch.full_like(tokens[:, :1], self.config.vocab_size)
        x = F.dropout(self.embedding(torch.cat([start, tokens], dim=1)), self.config.dropout, self.training)
        h, _ = self.lstm(x)
        return self.out(F.dropout(self.norm(h), self.config.dropout, self.training)).squeeze(-1)

    def prefix_scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """D(y_1..t) ``(B, T)`` for t = 1 … T; evaluation mode, no gradient."""
        with _eval(self):
            return torch.sigmoid(self(tokens)[:, 1:])

    def score(self, tokens: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """P(real) ``(B,)`` of whole sequences ``tokens`` ``(B, T)``; evaluation mode, no gradient."""
        self._check_tokens(tokens)
        with _eval(self):
            return torch.cat([torch.sigmoid(self(chunk)[:, -1]) for chunk in torch.split(tokens, batch_size)])

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of ``labels`` (1 = real) at every prefix (t = 0 … T), averaged, plus the L2 penalty."""
        logits = self(tokens)
        target = labels.to(logits.dtype)[:, None].expand_as(logits)
        bce = F.binary_cross_entropy_with_logits(logits, target)
        l2 = 0.5 * sum(p.square().sum() for name, p in self.named_parameters() if "weight" in name)
        return bce + self.config.l2_reg * l2

    # ---------------------------------------------------------------- incremental scoring (the env's reward)
    def first_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM state after reading the start symbol: :meth:`prob` of it is D of the empty prefix."""
        z = torch.zeros(batch_size, self.config.hidden_dim, device=self.device)
        start = torch.full((batch_size,), self.config.vocab_size, dtype=torch.long, device=self.device)
        return self.advance(start, (z, z.clone()))

    def advance(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """Read one token per row ``(B,)``: state in, state out (no dropout)."""
        return torch.lstm_cell(
            self.embedding(tokens), state, self.lstm.weight_ih_l0, self.lstm.weight_hh_l0,
            self.lstm.bias_ih_l0, self.lstm.bias_hh_l0,
        )  # fmt: skip

    def prob(self, state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """D(prefix) ``(B,)`` of the prefixes whose state is ``state`` (no dropout)."""
        return torch.sigmoid(self.out(self.norm(state[0])).squeeze(-1))

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        check_tokens(tokens, self.config.seq_len)


class _eval:
    """Evaluation mode and inference mode inside the block; the module's mode is restored after it."""

    def __init__(self, module: nn.Module) -> None:
        self.module, self.was_training = module, module.training
        self.inference = torch.inference_mode()

    def __enter__(self) -> None:
        self.module.eval()
        self.inference.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.inference.__exit__(*exc)
        self.module.train(self.was_training)


# ------------------------------------------------------------------------------------------------ full-vocabulary D
@dataclass
class LMDiscriminatorConfig:
    """A :class:`LMDiscriminator`: the language model's sizes (those of G: it starts as a copy of G) and its rate."""

    generator: GeneratorConfig
    lr: float = 1e-3

    @property
    def vocab_size(self) -> int:
        return self.generator.vocab_size

    @property
    def seq_len(self) -> int:
        return self.generator.seq_len


class LMDiscriminator(nn.Module):
    """A discriminator with a full-vocabulary head: a language model q_φ (an LSTM like G, initialised from G by
    :meth:`init_from`) scored against the generator p_G whose samples are its negatives (the "noise", set by
    :meth:`set_noise`; not a parameter). Its per-token logit is

        s_t(y) = log q_φ(y | y_<t) − log p_G(y | y_<t),

    defined for every token y of the vocabulary; a sequence's logit is Σ_t s_t(y_t) = log q_φ(x) − log p_G(x), and
    P(real | x) = σ(that). It is trained with the logistic (NCE) loss, real sequences against G's samples
    (:func:`train_discriminator`), whose optimum is q_φ = p_data: D then knows the data's whole next-token
    distribution, so the reward ``reward_source="lm"`` (r_t = log q_φ(y_t | y_<t)) and the exact per-step update
    toward q_φ (``--agent reference``) need no token sampling. Positions after ``<eos>`` (padding) count zero."""

    def __init__(self, config: LMDiscriminatorConfig) -> None:
        from seqgan_env.generator import Generator

        super().__init__()
        self.config = config
        self.lm = Generator(config.generator)
        self._noise: list[Generator] = []  # a list, so the noise model is not registered as a submodule

    @property
    def device(self) -> torch.device:
        return self.lm.device

    @property
    def noise(self) -> Generator:
        if not self._noise:
            raise RuntimeError("the LM discriminator has no noise model: call set_noise(generator) first")
        return self._noise[0]

    def set_noise(self, generator: Generator) -> None:
        """Score against ``generator`` (the G whose samples are the negatives) from now on."""
        self._noise[:] = [generator]

    def init_from(self, generator: Generator) -> None:
        """q_φ ← G's weights (every sequence then has logit 0: P(real) = 1/2), and G as the noise."""
        self.lm.load_state_dict(generator.state_dict())
        self.set_noise(generator)

    def token_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)``: s_t(y_t) at every position (0 after ``<eos>``); differentiable in q_φ only."""
        with torch.no_grad():
            noise = self.noise.log_prob(tokens.to(self.noise.device)).to(self.device)
        return (self.lm.log_prob(tokens) - noise) * self.lm.valid_mask(tokens)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The sequence logit ``(B,)``: log q_φ(x) − log p_G(x)."""
        return self.token_logits(tokens).sum(dim=1)

    def logit(self, tokens: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` in evaluation mode, without gradient, in chunks (for ranking: it does not saturate)."""
        from seqgan_env.oracle import sequence_log_prob

        self._check_tokens(tokens)
        with _eval(self):
            return (sequence_log_prob(self.lm, tokens) - sequence_log_prob(self.noise, tokens)).float().to(self.device)

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        """P(real) ``(B,)`` = σ(log q_φ(x) − log p_G(x))."""
        return torch.sigmoid(self.logit(tokens))

    def loss(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The logistic (NCE) loss of ``labels`` (1 = real) with the sequence logit."""
        return F.binary_cross_entropy_with_logits(self(tokens), labels.to(torch.float32))

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        check_tokens(tokens, self.config.seq_len)
