"""Quality metrics for generators.

* **NLL-oracle** (Yu et al., 2017): the oracle's mean per-token negative log-likelihood of sequences
  sampled from the generator, ``-1/(N·T) Σ_n Σ_t log p_oracle(y_t^n | y_<t^n)`` with ``y^n ~ G``.
  Lower is better, but it rewards a generator that collapses onto a few likely sequences.
* **NLL-test**: the generator's mean per-token negative log-likelihood of held-out real sequences,
  ``-1/(N·T) Σ_n Σ_t log p_G(x_t^n | x_<t^n)`` with ``x^n`` from the test split. It penalises lost
  diversity (mode dropping), so it is always reported beside NLL-oracle (Caccia et al., 2018).

Both are in nats per token. A uniform generator over ``V`` tokens scores ``log V`` on NLL-test.

* **Entropy** of G: the Monte Carlo estimate of G's per-token entropy rate, ``H(G)/T ≈ -1/(N·T) Σ_n log p_G(y^n)``
  with ``y^n ~ G`` (G's NLL of its own samples). It falls towards 0 when G collapses onto a few sequences,
  which NLL-test (an average over real data) can hide for a long time.
* **KL(G ‖ oracle)** per token: ``NLL-oracle − entropy`` on the same samples, the Monte Carlo estimate of
  ``KL(G ‖ O)/T = 1/T · E_{y~G}[log p_G(y) − log p_O(y)]``; 0 only when G equals the oracle. It is what the
  perfect discriminator's reward (``reward_source="perfect"``) maximises the negative of.

* **BLEU-n / self-BLEU-n** (Texygen): see :func:`bleu` and :func:`self_bleu`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seqgan_env.discriminator import Discriminator, LMDiscriminator, PrefixDiscriminator
from seqgan_env.generator import Generator
from seqgan_env.oracle import Oracle, masked_token_nlls, per_sequence_nll, sequence_log_prob, sequence_nll


@torch.no_grad()
def nll_oracle(
    oracle: Oracle,
    generator: Generator,
    num_samples: int = 10_000,
    temperature: float = 1.0,
    seed: int | None = 0,
) -> float:
    """NLL-oracle of ``num_samples`` sequences drawn from ``generator`` at ``temperature`` (nats/token)."""
    return oracle.nll(_samples(oracle, generator, num_samples, temperature, seed).to(oracle.device))


def _samples(
    oracle: Oracle, generator: Generator, num_samples: int, temperature: float, seed: int | None
) -> torch.Tensor:
    """``num_samples`` sequences of ``generator`` (eval mode) at ``temperature``, checked against the oracle's sizes."""
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    if generator.config.vocab_size != oracle.config.vocab_size or generator.config.seq_len != oracle.config.seq_len:
        raise ValueError(
            f"generator (vocab_size={generator.config.vocab_size}, seq_len={generator.config.seq_len}) does not "
            f"match the oracle (vocab_size={oracle.config.vocab_size}, seq_len={oracle.config.seq_len})"
        )
    rng = None if seed is None else torch.Generator(device=generator.device).manual_seed(seed)
    was_training = generator.training
    generator.eval()
    samples = generator.sample(num_samples, temperature=temperature, generator=rng)
    generator.train(was_training)
    return samples


@dataclass(frozen=True)
class ScoredSamples:
    """Samples of G ``(N, T)`` with each token's NLL under the oracle and under G at temperature 1 (float64,
    ``(N, T)``): what NLL-oracle, the entropy, the KL and D's report all read."""

    tokens: torch.Tensor
    oracle_terms: torch.Tensor
    gen_terms: torch.Tensor
    oracle_count: int
    gen_count: int
    """The tokens each model counts (see :func:`~seqgan_env.oracle.sequence_nll`; all ``N·T`` on the oracle task)."""

    def oracle_nll(self) -> float:
        return float(self.oracle_terms.sum()) / self.oracle_count

    def entropy(self) -> float:
        return float(self.gen_terms.sum()) / self.gen_count


@torch.no_grad()
def score_samples(
    oracle: Oracle, generator: Generator, num_samples: int, temperature: float = 1.0, seed: int | None = 0
) -> ScoredSamples:
    """``num_samples`` samples of ``generator`` at ``temperature`` (seeded) and their token NLLs under the oracle and
    under ``generator`` at that temperature."""
    samples = _samples(oracle, generator, num_samples, temperature, seed)
    oracle_terms, oracle_mask = masked_token_nlls(oracle, samples.to(oracle.device))
    gen_terms, gen_mask = masked_token_nlls(generator, samples, temperature=temperature)
    return ScoredSamples(samples, oracle_terms, gen_terms, int(oracle_mask.sum()), int(gen_mask.sum()))


class SampleCache:
    """The last :func:`score_samples` result, returned again while G's weights (and the arguments) are unchanged:
    an evaluation and a D report of the same G read one set of samples and likelihoods. A cache only: the figures
    are those of a fresh :func:`score_samples` call."""

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._weights: torch.Tensor | None = None
        self._value: ScoredSamples | None = None

    def get(self, oracle: Oracle, generator: Generator, num_samples: int, seed: int | None = 0) -> ScoredSamples:
        key = (id(oracle), num_samples, seed, generator.config)
        weights = torch.cat([p.detach().flatten() for p in generator.parameters()])
        if self._value is None or self._key != key or not torch.equal(self._weights, weights):
            self._key, self._weights = key, weights.clone()
            self._value = score_samples(oracle, generator, num_samples, seed=seed)
        return self._value


@torch.no_grad()
def oracle_metrics(
    oracle: Oracle,
    generator: Generator,
    num_samples: int = 10_000,
    temperature: float = 1.0,
    seed: int | None = 0,
    cache: SampleCache | None = None,
) -> dict[str, float]:
    """NLL-oracle, G's entropy and KL(G ‖ oracle), all per token in nats, on one set of ``num_samples`` samples
    of ``generator`` at ``temperature`` (see the module docstring for the definitions). The NLL-oracle equals
    :func:`nll_oracle`'s with the same arguments. ``cache`` (temperature 1) keeps the samples for a D report."""
    if cache is not None and temperature == 1.0:
        scored = cache.get(oracle, generator, num_samples, seed)
    else:
        scored = score_samples(oracle, generator, num_samples, temperature, seed)
    oracle_nll, entropy = scored.oracle_nll(), scored.entropy()
    return {"nll_oracle": oracle_nll, "entropy": entropy, "kl_oracle": oracle_nll - entropy}


def nll_test(generator: Generator, test_data: torch.Tensor, temperature: float = 1.0) -> float:
    """NLL-test: ``generator``'s mean per-token NLL of held-out real sequences ``(N, T)`` (nats/token)."""
    return sequence_nll(generator, test_data, temperature=temperature)


def matching_temperature(
    generator: Generator,
    data: torch.Tensor,
    reference: torch.Tensor,
    z: float = 2.0,
    max_temperature: float = 3.0,
    tol: float = 1e-4,
) -> float:
    """The smallest temperature ``T ≥ 1`` at which ``generator``'s NLL of ``data`` is no worse than the reference
    model's with confidence: the mean per-sequence difference plus ``z`` standard errors (paired, over the rows of
    ``data``; ``reference`` = the reference's :func:`per_sequence_nll`) is ``≤ 0``. 1 if that already holds; if
    no ``T ≤ max_temperature`` reaches it, the ``T`` of the lowest bound on a 0.05 grid. The bound is unimodal in
    ``T`` (the NLL is convex in ``1/T``), so below its minimum it falls as ``T`` grows and bisection finds the
    crossing."""
    if reference.shape != (len(data),):
        raise ValueError(
            f"reference must hold one NLL per row of data ({len(data)}), got shape {tuple(reference.shape)}"
        )
    if len(data) < 2:
        raise ValueError(f"data must have at least 2 rows for a standard error, got {len(data)}")
    if not max_temperature > 1.0:
        raise ValueError(f"max_temperature must be > 1, got {max_temperature}")

    def bound(t: float) -> float:
        d = per_sequence_nll(generator, data, t) - reference
        return float(d.mean() + z * d.std() / math.sqrt(len(d)))

    at_one = bound(1.0)
    if at_one <= 0:
        return 1.0
    grid = [1.0 + 0.05 * k for k in range(1, round((max_temperature - 1.0) / 0.05) + 1)]
    lo, best = 1.0, (at_one, 1.0)
    for t in grid:
        value = bound(t)
        if value <= 0:
            hi = t
            break
        if value > best[0]:  # past the minimum, and the bound never reached 0
            return best[1]
        lo, best = t, (value, t)
    else:
        return best[1]
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if bound(mid) <= 0 else (mid, hi)
    return hi


@torch.no_grad()
def fold_temperature(generator: Generator, temperature: float) -> Generator:
    """Make ``generator`` sample at ``temperature`` from now on: its output layer is divided by it in place."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    generator.proj.weight.div_(temperature)
    generator.proj.bias.div_(temperature)
    return generator


def _ranks(x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x, dtype=torch.float64)
    out[x.argsort()] = torch.arange(len(x), dtype=torch.float64, device=x.device)
    return out


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman rank correlation of two ``(N,)`` tensors (ties broken by order)."""
    return float(torch.corrcoef(torch.stack([_ranks(a), _ranks(b)]))[0, 1])


@torch.no_grad()
def discriminator_report(
    discriminator: Discriminator | PrefixDiscriminator | LMDiscriminator,
    generator: Generator,
    oracle: Oracle | None,
    real_test: torch.Tensor,
    num_samples: int = 5000,
    seed: int = 0,
    scored: ScoredSamples | None = None,
) -> dict[str, float]:
    """How informative D is, on data it was not trained on (D's score of a whole sequence). With ``scored`` (G's
    evaluation samples, e.g. from a :class:`SampleCache`), G's samples are its first ``num_samples`` rows and their
    likelihoods are read from it instead of being drawn and computed again.

    * ``accuracy``: balanced accuracy at 0.5 on held-out real sequences vs ``num_samples`` fresh samples of G;
    * ``p_real`` / ``p_fake``: D's mean P(real) on each;
    * ``spearman``: Spearman rank correlation, over G's samples, between D's score and the oracle's
      log-likelihood of the sequence (ties broken by order): whether D ranks G's samples by true quality,
      which is what a reward for G needs. Only on the oracle task (``oracle`` given); real text has no
      likelihood to rank by.
    * ``spearman_ratio``: the same with the true log density ratio log p_O(x) − log p_G(x) instead, the quantity the
      perfect discriminator D* = p_O/(p_O + p_G) is monotone in: 1 for a D that ranks like D* (oracle task only).
    * ``kl_q_oracle`` (a full-vocabulary :class:`~seqgan_env.discriminator.LMDiscriminator` on the oracle task):
      KL(q_φ ‖ oracle) per token of D's own language model, on ``num_samples`` samples of q_φ (as ``kl_oracle`` of
      :func:`oracle_metrics`): how far what D knows is from the truth.

    A D with a ``logit`` method (the LM D) is ranked by its logit, which does not saturate the way P(real) does.
    """
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2, got {num_samples}")
    if scored is not None and scored.tokens.shape[0] < num_samples:
        raise ValueError(f"scored holds {scored.tokens.shape[0]} samples, fewer than num_samples={num_samples}")
    if scored is not None:
        fake = scored.tokens[:num_samples].to(discriminator.device)
    else:
        rng = torch.Generator(device=generator.device).manual_seed(seed)
        fake = generator.sample(num_samples, generator=rng).to(discriminator.device)
    if hasattr(discriminator, "logit"):  # one pass: P(real) is the logit's sigmoid
        rank_by = discriminator.logit(fake).double()
        p_fake = torch.sigmoid(rank_by)
    else:
        rank_by = p_fake = discriminator.score(fake).double()
    p_real = discriminator.score(real_test.to(discriminator.device)).double()
    accuracy = 0.5 * (float((p_real > 0.5).double().mean()) + float((p_fake < 0.5).double().mean()))
    report = {"accuracy": accuracy, "p_real": float(p_real.mean()), "p_fake": float(p_fake.mean())}
    if oracle is not None:
        if scored is not None:
            loglik = -scored.oracle_terms[:num_samples].sum(1).cpu().to(p_fake.device)
            gen_loglik = -scored.gen_terms[:num_samples].sum(1).cpu().to(p_fake.device)
        else:
            loglik = sequence_log_prob(oracle, fake).to(p_fake.device)
            gen_loglik = sequence_log_prob(generator, fake).to(p_fake.device)
        report["spearman"] = _spearman(rank_by, loglik)
        report["spearman_ratio"] = _spearman(rank_by, loglik - gen_loglik)
        lm = getattr(discriminator, "lm", None)
        if isinstance(lm, Generator):
            report["kl_q_oracle"] = oracle_metrics(oracle, lm, num_samples, seed=seed)["kl_oracle"]
    return report


# ------------------------------------------------------------------------------------------------ BLEU
# Texygen's definitions (Zhu et al., 2018): BLEU-n of each hypothesis is nltk's
# ``sentence_bleu(references, hypothesis, weights=(1/n,)*n, smoothing_function=SmoothingFunction().method1)``
# and the metric is the mean over hypotheses; references are held-out real sentences (BLEU) or all the
# *other* generated sentences (self-BLEU, a diversity measure: lower is more diverse). nltk rebuilds the
# references' n-gram counts for every hypothesis; here each n-gram's maximum reference count is computed
# once (for self-BLEU the top two counts, so leaving the hypothesis itself out stays exact), which gives
# the same numbers (tested against nltk to 1e-9) several hundred times faster.

_EPSILON = 0.1  # nltk SmoothingFunction().method1 default


def _ngrams(sentence: Sequence[Hashable], n: int) -> Counter:
    return Counter(tuple(sentence[i : i + n]) for i in range(len(sentence) - n + 1))


def _sentence_bleus(
    hyp: Sequence[Hashable], max_n: int, max_ref_count: Callable[[int, tuple], int], ref_len: int
) -> list[float]:
    """nltk's sentence_bleu (uniform weights 1/k, smoothing method1) for every order k = 2 … max_n at once,
    given each n-gram's maximum count in the references and the closest reference length."""
    hyp_len = len(hyp)
    logs = []
    for n in range(1, max_n + 1):
        counts = _ngrams(hyp, n)
        numerator = sum(min(c, max_ref_count(n, g)) for g, c in counts.items())
        denominator = max(1, sum(counts.values()))
        if n == 1 and numerator == 0:
            return [0.0] * (max_n - 1)
        p = (numerator + _EPSILON) / denominator if numerator == 0 else numerator / denominator
        logs.append(math.log(p))
    if hyp_len > ref_len:
        bp = 1.0
    elif hyp_len == 0:
        bp = 0.0
    else:
        bp = math.exp(1 - ref_len / hyp_len)
    return [bp * math.exp(math.fsum(x / k for x in logs[:k])) for k in range(2, max_n + 1)]


def _mean_by_order(rows: list[list[float]], max_n: int) -> dict[int, float]:
    return {k: math.fsum(r[k - 2] for r in rows) / len(rows) for k in range(2, max_n + 1)}


def _closest(lengths: Sequence[int], hyp_len: int) -> int:
    return min(lengths, key=lambda r: (abs(r - hyp_len), r))


def _check_sentences(name: str, sentences: Sequence[Sequence[Hashable]], minimum: int) -> None:
    if len(sentences) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} sentence(s), got {len(sentences)}")


def bleu(
    hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]], max_n: int = 5
) -> dict[int, float]:
    """Texygen BLEU-2 … BLEU-``max_n``: mean sentence BLEU of each hypothesis against all references.

    Args:
        hypotheses: generated sentences, each a sequence of tokens (ints or strings).
        references: held-out real sentences.
        max_n: highest n-gram order (BLEU-2 … BLEU-max_n are returned).

    Returns:
        ``{n: BLEU-n}``.
    """
    _check_sentences("hypotheses", hypotheses, 1)
    _check_sentences("references", references, 1)
    if max_n < 2:
        raise ValueError(f"max_n must be >= 2, got {max_n}")
    max_counts: list[dict[tuple, int]] = [{}]
    for n in range(1, max_n + 1):
        table: dict[tuple, int] = {}
        for ref in references:
            for g, c in _ngrams(ref, n).items():
                if c > table.get(g, 0):
                    table[g] = c
        max_counts.append(table)
    lengths = sorted({len(r) for r in references})

    def lookup(n: int, g: tuple) -> int:
        return max_counts[n].get(g, 0)

    return _mean_by_order([_sentence_bleus(h, max_n, lookup, _closest(lengths, len(h))) for h in hypotheses], max_n)


def self_bleu(sentences: Sequence[Sequence[Hashable]], max_n: int = 5) -> dict[int, float]:
    """Texygen self-BLEU-2 … self-BLEU-``max_n``: each sentence scored against all the *other* sentences.

    Returns:
        ``{n: self-BLEU-n}`` (higher means less diverse).
    """
    _check_sentences("sentences", sentences, 2)
    if max_n < 2:
        raise ValueError(f"max_n must be >= 2, got {max_n}")
    # per n-gram: (largest count, index of a sentence holding it, second largest count over other sentences)
    top: list[dict[tuple, tuple[int, int, int]]] = [{}]
    for n in range(1, max_n + 1):
        table: dict[tuple, tuple[int, int, int]] = {}
        for i, s in enumerate(sentences):
            for g, c in _ngrams(s, n).items():
                first, who, second = table.get(g, (0, -1, 0))
                if c > first:
                    table[g] = (c, i, first)
                elif c > second:
                    table[g] = (first, who, c)
        top.append(table)
    length_counts = Counter(len(s) for s in sentences)
    rows = []
    for i, s in enumerate(sentences):

        def lookup(n: int, g: tuple, i: int = i) -> int:
            first, who, second = top[n].get(g, (0, -1, 0))
            return second if who == i else first

        lengths = [r for r, c in length_counts.items() if c > (1 if r == len(s) else 0)]
        rows.append(_sentence_bleus(s, max_n, lookup, _closest(lengths, len(s))))
    return _mean_by_order(rows, max_n)
