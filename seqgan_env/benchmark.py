"""The oracle benchmark's metrics for any next-token policy, from any RL library.

The benchmark (README, "The oracle benchmark"): ``gymnasium.make("SeqGAN-v0", reward_source="oracle", oracle=...)``
pays r_t = log p_O(y_t | y_<t); with an entropy bonus of weight 1 the return is −KL(π ‖ oracle), so the oracle is
the optimum. A policy is judged by four per-token figures at T = 1 (:func:`policy_metrics`) and by the gap it closes
to the exact reference at equal generated tokens (:func:`gap_closed`).

A policy enters as a *next-token log-probability function*: ``(B, T)`` int64 observations as the env gives them
(the prefix, then the padding value ``vocab_size``) → ``(B, V)`` log-probabilities of the next token.
:func:`sb3_log_probs` and :func:`generator_log_probs` make one from an SB3 model and from a
:class:`~seqgan_env.generator.Generator`; for CleanRL or RLlib write the few lines yourself (the log-softmax of your
actor's logits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from seqgan_env.generator import Generator
from seqgan_env.oracle import Oracle
from seqgan_env.sampling import categorical_sample

LogProbs = Callable[[torch.Tensor], torch.Tensor]
"""``obs (B, T) int64 → (B, V)`` next-token log-probabilities."""

TOKEN_BUDGETS = tuple(64_000 * k for k in range(1, 7))
"""Where a run is read, in generated tokens: every 64,000 (50 updates of 64 sequences × 20 tokens) up to 384,000,
the exact reference's 300 updates."""


def generator_log_probs(gen: Generator) -> LogProbs:
    """A :class:`Generator` as a next-token log-probability function."""

    @torch.no_grad()
    def f(obs: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(gen.next_token_logits(obs.to(gen.device)), dim=-1)

    return f


def sb3_log_probs(model: Any) -> LogProbs:
    """An SB3 model's policy (``PPO``, ``A2C``, sb3-contrib's ``TRPO``, … with any policy over the env's
    observations) as a next-token log-probability function."""

    @torch.no_grad()
    def f(obs: torch.Tensor) -> torch.Tensor:
        obs_t, _ = model.policy.obs_to_tensor(obs.cpu().numpy())
        logits = model.policy.get_distribution(obs_t).distribution.logits
        return torch.log_softmax(logits, dim=-1).cpu()

    return f


@torch.no_grad()
def policy_metrics(
    log_probs: LogProbs, oracle: Oracle, test: torch.Tensor, n_samples: int = 5000, seed: int = 0, batch: int = 500
) -> dict[str, float]:
    """KL(π ‖ O), π's entropy, NLL-test and NLL-oracle, per token in nats, at T = 1.

    On ``n_samples`` sequences sampled from π (seeded by ``seed``): NLL-oracle = −mean log p_O(y), entropy =
    −mean log π(y) (the Monte Carlo entropy rate) and KL = their difference, as in
    :func:`seqgan_env.metrics.oracle_metrics`; NLL-test = −mean log π(x) over the held-out real sequences ``test``."""
    vocab, seq_len = oracle.config.vocab_size, oracle.config.seq_len
    rng = torch.Generator().manual_seed(seed)
    lp_pi, lp_o = [], []
    for start in range(0, n_samples, batch):
        b = min(batch, n_samples - start)
        obs = torch.full((b, seq_len), vocab, dtype=torch.long)
        total = torch.zeros(b, dtype=torch.float64)
        for t in range(seq_len):
            lp = _checked(log_probs(obs), b, vocab)
            y = categorical_sample(lp.float(), generator=rng)
            total += lp.gather(1, y[:, None]).squeeze(1).double()
            obs[:, t] = y
        lp_pi.append(total)
        lp_o.append(oracle.log_prob(obs.to(oracle.device)).sum(1).double().cpu())
    entropy = float(-torch.cat(lp_pi).mean()) / seq_len
    nll_oracle = float(-torch.cat(lp_o).mean()) / seq_len
    return {"kl_oracle": nll_oracle - entropy, "entropy": entropy, "nll_test": nll_of(log_probs, test, vocab, batch),
            "nll_oracle": nll_oracle}  # fmt: skip


def nll_of(log_probs: LogProbs, data: torch.Tensor, vocab: int, batch: int = 500) -> float:
    """−mean log π(x_t | x_<t) over every token of ``data`` ``(N, T)`` (nats per token)."""
    total, n, seq_len = 0.0, 0, data.shape[1]
    for chunk in torch.split(data.cpu(), batch):
        for t in range(seq_len):
            obs = chunk.clone()
            obs[:, t:] = vocab
            lp = _checked(log_probs(obs), len(chunk), vocab)
            total -= float(lp.gather(1, chunk[:, t : t + 1]).double().sum())
            n += len(chunk)
    return total / n


def _checked(lp: torch.Tensor, rows: int, vocab: int) -> torch.Tensor:
    if not isinstance(lp, torch.Tensor) or lp.shape != (rows, vocab):
        got = tuple(lp.shape) if isinstance(lp, torch.Tensor) else type(lp).__name__
        raise ValueError(f"log_probs(obs) must return a ({rows}, {vocab}) tensor of log-probabilities, got {got}")
    return lp.cpu()


def gap_closed(kl_start: float, kl: float, kl_reference: float) -> float:
    """The share of the exact reference's KL gain a run gets at equal generated tokens:
    (KL_start − KL) / (KL_start − KL_reference); 1 = as far as the reference, < 0 = further from the oracle."""
    if kl_start == kl_reference:
        raise ValueError("the reference did not move from the start: the gap closed is undefined")
    return (kl_start - kl) / (kl_start - kl_reference)


def reference_kl(curve: dict[int, float], tokens: int) -> float:
    """The reference's KL at ``tokens``, linear between its evaluated token counts (``curve``: tokens → KL)."""
    xs = sorted(curve)
    if not xs[0] <= tokens <= xs[-1]:
        raise ValueError(f"tokens={tokens} lies outside the reference curve's range [{xs[0]}, {xs[-1]}]")
    return float(np.interp(tokens, xs, [curve[x] for x in xs]))
