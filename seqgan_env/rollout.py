"""Monte Carlo rollout reward: Q(prefix) = mean D-score of N completions sampled by a rollout policy."""

from __future__ import annotations

from typing import Literal, Protocol, get_args

import torch

from seqgan_env.generator import Generator, State


class SequenceScorer(Protocol):
    """What the env needs of a discriminator: sizes and a batched P(real)."""

    config: object

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        """P(real) ``(B,)`` of complete sequences ``(B, T)``."""
        ...


DRewardName = Literal["prob", "log_odds", "constant"]
D_REWARDS: tuple[str, ...] = get_args(DRewardName)
LOG_ODDS_EPS = 1e-6
"""P(real) is clipped to [eps, 1 − eps] before taking log-odds, so they lie within ±13.8."""


def log_odds(p: torch.Tensor) -> torch.Tensor:
    """``log p − log(1 − p)`` of probabilities ``p``, clipped to ``[LOG_ODDS_EPS, 1 − LOG_ODDS_EPS]``."""
    p = p.clamp(LOG_ODDS_EPS, 1.0 - LOG_ODDS_EPS)
    return torch.log(p) - torch.log1p(-p)


def check_scores(p: object, rows: int, name: str = "discriminator") -> torch.Tensor:
    """``p`` if it is what ``score(tokens)`` must return: a floating tensor of shape ``(rows,)`` of probabilities in
    [0, 1] (non-finite values pass, for the caller's non-finite error); else one error saying what came back."""
    if not isinstance(p, torch.Tensor) or not p.is_floating_point() or p.shape != (rows,):
        what = f"a {p.dtype} tensor of shape {tuple(p.shape)}" if isinstance(p, torch.Tensor) else type(p).__name__
        raise TypeError(f"{name}.score(tokens) must return a floating tensor of shape ({rows},) (P(real) per row), "
                        f"got {what}")  # fmt: skip
    if bool(((p < 0) | (p > 1)).any()):
        bad = p[(p < 0) | (p > 1)][0].item()
        raise ValueError(f"{name}.score(tokens) must return probabilities in [0, 1], got {bad}")
    return p


class RolloutReward:
    """Batched Monte Carlo estimate of Q(Y_{1:t}) for a batch of prefixes.

    For a prefix of length ``t < T``, each of ``n_rollouts`` completions is sampled by ``policy`` from
    the cached LSTM state of the prefix, and Q is the mean discriminator score of the completed
    sequences; for ``t = T``, Q is the discriminator score of the sequence itself. All ``B × N``
    completions of a call are one tensor computation.

    The score is D's P(real) (``d_reward="prob"``, the paper) or its log-odds log D/(1 − D)
    (``"log_odds"``: with a KL penalty to the MLE generator, the policy that maximises the expected
    log-odds is the MLE generator reweighted by D's density-ratio estimate D/(1 − D)), or 1 for every
    sequence (``"constant"``: an ablation that removes D's signal and keeps everything else).
    """

    def __init__(
        self, policy: Generator, discriminator: SequenceScorer, n_rollouts: int = 16, d_reward: str = "prob"
    ) -> None:
        if not isinstance(n_rollouts, int) or isinstance(n_rollouts, bool) or n_rollouts <= 0:
            raise ValueError(f"n_rollouts must be a positive int, got {n_rollouts!r}")
        if d_reward not in D_REWARDS:
            raise ValueError(f"d_reward must be one of {D_REWARDS}, got {d_reward!r}")
        self.policy = policy
        self.discriminator = discriminator
        self.n_rollouts = n_rollouts
        self.d_reward = d_reward

    def sequence_reward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The reward of complete sequences ``(B, T)``: D's P(real), its log-odds, or 1 (see ``d_reward``). (D's own
        ``score`` is always P(real).)"""
        if self.d_reward == "constant":
            return torch.ones(tokens.shape[0], device=tokens.device)
        return self.value(
            check_scores(self.discriminator.score(tokens), tokens.shape[0], type(self.discriminator).__name__)
        )

    def value(self, p: torch.Tensor) -> torch.Tensor:
        """What the reward makes of D's P(real) ``p``: itself, or its log-odds (``d_reward``; not "constant")."""
        return log_odds(p) if self.d_reward == "log_odds" else p

    @torch.inference_mode()
    def q_values(self, prefix: torch.Tensor, state: State, generator: torch.Generator | None = None) -> torch.Tensor:
        """Q ``(B,)`` of ``prefix`` ``(B, t)`` whose rollout-policy state (after reading it) is ``state``."""
        seq_len, eos = self.policy.config.seq_len, self.policy.config.eos_token
        b, t = prefix.shape
        if self.d_reward == "constant":  # every completion scores 1: no rollouts needed
            return torch.ones(b, device=prefix.device)
        if t == seq_len:
            return self.sequence_reward(prefix)
        n = self.n_rollouts
        rows_state = (state[0].repeat_interleave(n, dim=0), state[1].repeat_interleave(n, dim=0))
        finished = None if eos is None else (prefix == eos).any(dim=1).repeat_interleave(n)
        completion = self.policy.rollout(rows_state, seq_len - t, generator=generator, finished=finished)
        full = torch.cat([prefix.repeat_interleave(n, dim=0), completion], dim=1)
        return self.sequence_reward(full).view(b, n).mean(dim=1)

    @torch.inference_mode()
    def q_rows(
        self, tokens: torch.Tensor, lengths: torch.Tensor, state: State, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Q ``(B,)`` of prefixes of different lengths: row ``i`` is ``tokens[i, :lengths[i]]``.

        ``tokens`` is ``(B, T)`` (entries at and after ``lengths[i]`` are ignored) and ``state`` the rollout
        policy's state after reading each prefix. Completions of every row advance together for
        ``T − min(lengths)`` steps; each row keeps the ``T − lengths[i]`` it needs. A row of length ``T``
        (or one that ended with ``eos_token``) is scored as it is.
        """
        b, seq_len = tokens.shape
        if self.d_reward == "constant":  # every completion scores 1: no rollouts needed
            return torch.ones(b, device=tokens.device)
        first = int(lengths.min())
        if first == int(lengths.max()):
            return self.q_values(tokens[:, :first], state, generator)
        n, eos = self.n_rollouts, self.policy.config.eos_token
        positions = torch.arange(seq_len, device=tokens.device)
        in_prefix = positions < lengths[:, None]
        finished = None if eos is None else ((tokens == eos) & in_prefix).any(dim=1).repeat_interleave(n)
        rows_state = (state[0].repeat_interleave(n, dim=0), state[1].repeat_interleave(n, dim=0))
        completion = self.policy.rollout(rows_state, seq_len - first, generator=generator, finished=finished)
        full = tokens.repeat_interleave(n, dim=0)
        where = lengths.repeat_interleave(n)[:, None] + torch.arange(seq_len - first, device=tokens.device)
        keep = where < seq_len
        rows = torch.arange(full.shape[0], device=tokens.device)[:, None].expand_as(where)
        full[rows[keep], where[keep]] = completion[keep]
        return self.sequence_reward(full).view(b, n).mean(dim=1)

    @torch.inference_mode()
    def q_all(self, tokens: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Q ``(B, T)`` of every prefix ``tokens[:, :t+1]`` of complete sequences ``(B, T)`` at once.

        The env computes Q step by step (:meth:`q_values` / :meth:`q_rows`); this is the same reward for sequences
        sampled elsewhere, in one call — what the official code's ``get_reward`` computes — for a trainer of your
        own that samples whole batches first. ``bench/rollout.py`` times the sampler through it.

        The rollout policy reads each sequence once (teacher forcing); completions of all ``t`` and all
        rollouts then advance together, one row per (sequence, t, rollout), with rows that start later
        joining as the loop over positions reaches them.
        """
        policy, n = self.policy, self.n_rollouts
        b, seq_len = tokens.shape
        # Prefix states after reading tokens[:, :t+1], for t = 0 .. T-2: (B, T-1, H).
        h_all, c_all = _prefix_states(policy, tokens)
        q = torch.empty(b, seq_len, device=tokens.device)
        q[:, -1] = self.sequence_reward(tokens)
        if seq_len == 1:
            return q
        # Rows ordered by prefix length t (1 .. T-1), then sequence, then rollout.
        seq_idx = torch.arange(b, device=tokens.device).repeat_interleave(n).repeat(seq_len - 1)
        full = tokens[seq_idx].clone()  # (R, T): positions >= t are overwritten by samples
        rows = torch.arange((seq_len - 1) * b, device=tokens.device).repeat_interleave(n)
        state = tuple(x[:, : seq_len - 1].transpose(0, 1).reshape(-1, x.shape[-1])[rows] for x in (h_all, c_all))
        eos, pad = policy.config.eos_token, policy.config.pad_token
        for pos in range(1, seq_len):  # sample position `pos` for rows with t <= pos
            active = b * n * pos
            s = (state[0][:active], state[1][:active])
            sampled = policy.sample_next(s, generator=generator)
            if eos is not None:  # after <eos> comes padding
                sampled = sampled.masked_fill_((full[:active, :pos] == eos).any(dim=1), pad)
            full[:active, pos] = sampled
            if pos + 1 < seq_len:
                nh, nc = policy.advance(sampled, s)
                state[0][:active] = nh
                state[1][:active] = nc
        scores = self.sequence_reward(full).view(seq_len - 1, b, n).mean(dim=2)
        q[:, :-1] = scores.T
        return q


def _prefix_states(policy: Generator, tokens: torch.Tensor) -> State:
    """Rollout-policy states ``(B, T, H)`` after reading ``tokens[:, :t+1]`` for every ``t``."""
    b, seq_len = tokens.shape
    state = policy.first_state(b)
    hs, cs = [], []
    for pos in range(seq_len):
        state = policy.advance(tokens[:, pos], state)
        hs.append(state[0])
        cs.append(state[1])
    return torch.stack(hs, dim=1), torch.stack(cs, dim=1)
