"""The generator G: embedding + LSTM + linear projection over the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from seqgan_env.sampling import ProjectionSampler

State = tuple[torch.Tensor, torch.Tensor]


@dataclass
class GeneratorConfig:
    """Sizes of a :class:`Generator` (defaults: the paper's synthetic-data generator)."""

    vocab_size: int = 5000
    """Number of tokens, including any special tokens."""
    seq_len: int = 20
    """Length of a generated sequence."""
    emb_dim: int = 32
    """Token embedding size."""
    hidden_dim: int = 32
    """LSTM hidden size."""
    start_token: int = 0
    """Token fed as the input of the first step (the official code uses 0)."""
    init_std: float = 0.1
    """Standard deviation of the N(0, std) initialisation of every parameter (official code: 0.1)."""
    eos_token: int | None = None
    """End-of-sequence token (real text), or None (the oracle task: every sequence has ``seq_len`` tokens).
    When set, a sequence ends at its first ``eos_token`` and every later position holds ``pad_token``."""
    pad_token: int = 0
    """Token that fills the positions after ``eos_token``."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "seq_len", "emb_dim", "hidden_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not 0 <= self.start_token < self.vocab_size:
            raise ValueError(f"start_token must be in [0, vocab_size={self.vocab_size}), got {self.start_token}")
        if self.init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std}")
        for name in ("eos_token", "pad_token"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < self.vocab_size:
                raise ValueError(f"{name} must be in [0, vocab_size={self.vocab_size}), got {value}")
        if self.eos_token is not None and self.eos_token == self.pad_token:
            raise ValueError(f"eos_token and pad_token must differ, both are {self.pad_token}")


class _TokenNLL(torch.autograd.Function):
    """``-log softmax(logits)[target]`` per row, with the softmax-minus-one-hot gradient computed in one pass."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        lse = torch.logsumexp(logits, dim=1)
        ctx.save_for_backward(logits, lse, targets)
        return lse - logits.gather(1, targets[:, None]).squeeze(1)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, lse, targets = ctx.saved_tensors
        grad = torch.sub(logits, lse[:, None]).exp_()  # softmax
        grad.scatter_add_(1, targets[:, None], torch.full_like(lse[:, None], -1.0))
        return grad.mul_(grad_out[:, None]), None


def token_nll(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-row negative log-likelihood ``-log softmax(logits)[targets]`` of ``logits`` ``(N, V)``, ``targets``
    ``(N,)`` — ``F.cross_entropy(reduction="none")``, with a backward pass that touches the logits twice, not
    five times (the MLE hot path; tested against ``F.cross_entropy``)."""
    return _TokenNLL.apply(logits, targets)


def valid_mask(tokens: torch.Tensor, eos_token: int | None) -> torch.Tensor:
    """``(B, T)`` bool: the positions that belong to each sequence — all of them without an end token,
    else those up to and including the first ``eos_token`` (the padding after it is excluded)."""
    if eos_token is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    ended_before = (tokens == eos_token).long().cumsum(dim=1) - (tokens == eos_token).long()
    return ended_before == 0


class Generator(nn.Module):
    """An LSTM language model over a fixed-length token sequence.

    The input at step ``t`` is the token at ``t-1`` (``start_token`` at ``t=0``); the output is the
    distribution of the token at ``t``. Besides the full-sequence forward pass used for MLE and the
    policy gradient, it exposes an incremental :meth:`step` API so that Monte Carlo rollouts continue
    from a cached LSTM state instead of re-reading the prefix.
    """

    block_rows: int = 512
    """Rows per block when sampling on CPU (see :meth:`rollout`)."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        c = self.config
        self.embedding = nn.Embedding(c.vocab_size, c.emb_dim)
        self.lstm = nn.LSTM(c.emb_dim, c.hidden_dim, batch_first=True)
        self.proj = nn.Linear(c.hidden_dim, c.vocab_size)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise every parameter from N(0, ``init_std``) (the official code's initialiser)."""
        with torch.no_grad():
            for p in self.parameters():
                p.normal_(0.0, self.config.init_std, generator=generator)

    @property
    def device(self) -> torch.device:
        return self.proj.weight.device

    # ----------------------------------------------------------------- full-sequence API
    def inputs_for(self, tokens: torch.Tensor) -> torch.Tensor:
        """The teacher-forcing inputs of ``tokens``: ``start_token`` then ``tokens[:, :-1]``."""
        start = torch.full_like(tokens[:, :1], self.config.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def hidden_states(self, tokens: torch.Tensor) -> torch.Tensor:
        """LSTM outputs ``(B, T, H)``: entry ``t`` is the state that predicts ``tokens[:, t]``."""
        out, _ = self.lstm(self.embedding(self.inputs_for(tokens)))
        return out

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits ``(B, T, V)`` for every position of ``tokens`` ``(B, T)``."""
        return self.proj(self.hidden_states(tokens))

    # ----------------------------------------------------------------- observed-prefix API (RL policies)
    def prefix_hidden(self, obs: torch.Tensor) -> torch.Tensor:
        """The LSTM state ``(B, H)`` after reading each observed prefix ``(B, T)`` (SeqGAN-v0's observation:
        the tokens so far, then padding = ``vocab_size``); the state that predicts the next token."""
        tokens = obs.long()
        vocab, seq_len = self.config.vocab_size, self.config.seq_len
        t = (tokens != vocab).sum(dim=1).clamp(max=seq_len - 1)
        hs = self.hidden_states(torch.where(tokens == vocab, torch.zeros_like(tokens), tokens))
        return hs[torch.arange(tokens.shape[0], device=tokens.device), t]

    def next_token_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, V)`` of the next token for observed prefixes ``(B, T)``: the policy π(· | prefix) = G."""
        return self.proj(self.prefix_hidden(obs))

    def valid_mask(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` bool: positions of ``tokens`` that belong to the sequence (see :func:`valid_mask`)."""
        return valid_mask(tokens, self.config.eos_token)

    def log_prob(self, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Per-token log-likelihood ``(B, T)`` of ``tokens`` under the model (log-softmax of logits)."""
        logits = self(tokens)
        if temperature != 1.0:
            logits = logits / temperature
        return torch.gather(F.log_softmax(logits, dim=-1), 2, tokens.unsqueeze(-1)).squeeze(-1)

    # ----------------------------------------------------------------- incremental API
    def initial_state(self, batch_size: int) -> State:
        """Zero LSTM state ``(h, c)``, each ``(B, H)``."""
        z = torch.zeros(batch_size, self.config.hidden_dim, device=self.device)
        return z, z.clone()

    def start_tokens(self, batch_size: int) -> torch.Tensor:
        """The first step's input tokens ``(B,)``."""
        return torch.full((batch_size,), self.config.start_token, dtype=torch.long, device=self.device)

    def advance(self, tokens: torch.Tensor, state: State) -> State:
        """Feed ``tokens`` ``(B,)`` into the LSTM: state in, state out."""
        h, c = state
        return torch.lstm_cell(
            self.embedding(tokens),
            (h, c),
            self.lstm.weight_ih_l0,
            self.lstm.weight_hh_l0,
            self.lstm.bias_ih_l0,
            self.lstm.bias_hh_l0,
        )

    def logits_from_state(self, state: State) -> torch.Tensor:
        """Next-token logits ``(B, V)`` of a state returned by :meth:`advance`."""
        return self.proj(state[0])

    # ----------------------------------------------------------------- sampling
    def first_state(self, batch_size: int) -> State:
        """The state after reading the start token: its logits give the first token's distribution."""
        return self.advance(self.start_tokens(batch_size), self.initial_state(batch_size))

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        batch_size: int = 1024,
    ) -> torch.Tensor:
        """Draw ``num_samples`` sequences ``(N, T)`` (int64), in chunks of ``batch_size`` rows."""
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        chunks = [
            self.rollout(
                self.first_state(min(batch_size, num_samples - s)),
                self.config.seq_len,
                temperature,
                generator,
            )
            for s in range(0, num_samples, batch_size)
        ]
        if not chunks:
            return torch.empty(0, self.config.seq_len, dtype=torch.long, device=self.device)
        return torch.cat(chunks)

    @torch.no_grad()
    def rollout(
        self,
        state: State,
        n_steps: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        finished: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``n_steps`` tokens ``(B, n_steps)`` continuing from ``state``.

        ``state`` is the LSTM state after reading a prefix (see :meth:`first_state` and :meth:`advance`):
        its logits give the distribution of the first sampled token. With an ``eos_token``, rows whose
        prefix already ended (``finished``, ``(B,)`` bool) and rows that sample it continue with ``pad_token``.
        """
        rows = state[0].shape[0]
        out = torch.empty(rows, n_steps, dtype=torch.long, device=state[0].device)
        eos, pad = self.config.eos_token, self.config.pad_token
        # Row blocks keep the (rows × vocab) logits small enough to stay in cache while they are sampled
        # (512 × 5,041 floats = 10 MB; 2,048 rows measured 2.5× slower per token on CPU, 128 rows 15 % slower).
        block = self.block_rows if state[0].device.type == "cpu" else rows
        sampler = self.sampler(temperature)
        for lo in range(0, rows, block):
            s = (state[0][lo : lo + block], state[1][lo : lo + block])
            done = None
            if eos is not None:
                done = torch.zeros(s[0].shape[0], dtype=torch.bool, device=s[0].device)
                if finished is not None:
                    done |= finished[lo : lo + block]
            for i in range(n_steps):
                tok = sampler(s[0], generator)
                if done is not None:
                    tok = tok.masked_fill_(done, pad)
                    done |= tok == eos
                out[lo : lo + block, i] = tok
                if i + 1 < n_steps:
                    s = self.advance(tok, s)
        return out

    def sample_next(
        self, state: State, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One next token ``(B,)`` per row of ``state``, computed in cache-sized row blocks."""
        rows = state[0].shape[0]
        block = self.block_rows if state[0].device.type == "cpu" else max(rows, 1)
        sampler = self.sampler(temperature)
        return torch.cat([
            sampler(state[0][lo : lo + block], generator) for lo in range(0, rows, block)
        ]) if rows else torch.empty(0, dtype=torch.long, device=state[0].device)  # fmt: skip

    def sampler(self, temperature: float = 1.0) -> ProjectionSampler:
        """Next-token sampler from LSTM outputs with the current projection (see :class:`ProjectionSampler`)."""
        return ProjectionSampler(self.proj.weight, self.proj.bias, temperature)


def mle_step(
    gen: Generator,
    optimizer: torch.optim.Optimizer,
    batch: torch.Tensor,
    max_grad_norm: float = 5.0,
    where: str = "MLE",
) -> float:
    """One maximum-likelihood gradient step on ``batch`` (teacher-forced mean NLL of the sequences' tokens).

    Returns the loss.

    ``where`` names the phase in the error raised on a non-finite loss.
    """
    batch = batch.to(gen.device)
    nll = token_nll(gen(batch).flatten(0, 1), batch.flatten()).view_as(batch)
    if gen.config.eos_token is None:
        loss = nll.mean()
    else:  # the padding after <eos> is not part of the sequence
        mask = gen.valid_mask(batch)
        loss = (nll * mask).sum() / mask.sum()
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{where} loss is {loss.item()} (non-finite)")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(gen.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
