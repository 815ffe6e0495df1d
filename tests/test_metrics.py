from __future__ import annotations

import random
import time

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan_env.metrics import bleu, self_bleu


def nltk_bleu(hyps, refs, n):
    w = (1.0 / n,) * n
    sm = SmoothingFunction().method1
    return sum(sentence_bleu(refs, h, w, smoothing_function=sm) for h in hyps) / len(hyps)


def nltk_self_bleu(sents, n):
    w = (1.0 / n,) * n
    sm = SmoothingFunction().method1
    scores = [sentence_bleu(sents[:i] + sents[i + 1 :], s, w, smoothing_function=sm) for i, s in enumerate(sents)]
    return sum(scores) / len(scores)


def random_corpus(rng, n, vocab, lo, hi):
    return [[rng.randrange(vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_bleu_equals_nltk(seed):
    rng = random.Random(seed)
    vocab = rng.choice([3, 6, 20])
    hyps = random_corpus(rng, 25, vocab, 0 if seed == 0 else 1, 12)
    refs = random_corpus(rng, 30, vocab, 1, 14)
    ours = bleu(hyps, refs, max_n=5)
    for n in range(2, 6):
        assert ours[n] == pytest.approx(nltk_bleu(hyps, refs, n), abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_self_bleu_equals_nltk_leave_one_out(seed):
    rng = random.Random(100 + seed)
    vocab = rng.choice([3, 5, 15])
    sents = random_corpus(rng, 30, vocab, 1, 10)
    sents += [list(sents[0]), list(sents[1])]  # duplicates: the top-two counts matter
    ours = self_bleu(sents, max_n=5)
    for n in range(2, 6):
        assert ours[n] == pytest.approx(nltk_self_bleu(sents, n), abs=1e-9)


def test_bleu_accepts_word_tokens_and_identical_corpus_scores_one():
    sents = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "ran", "in", "the", "park"]]
    assert bleu(sents, sents, max_n=4)[4] == pytest.approx(1.0)


def test_bleu_bad_input():
    with pytest.raises(ValueError, match="hypotheses must hold at least 1"):
        bleu([], [[1]])
    with pytest.raises(ValueError, match="sentences must hold at least 2"):
        self_bleu([[1, 2]])
    with pytest.raises(ValueError, match="max_n must be >= 2"):
        bleu([[1]], [[1]], max_n=1)


def test_bleu_2000_by_2000_is_fast():
    """Not a timing assertion: it only has to finish in CI's time (nltk takes minutes here)."""
    rng = random.Random(0)
    hyps = random_corpus(rng, 2000, 5000, 20, 20)
    refs = random_corpus(rng, 2000, 5000, 20, 20)
    t0 = time.perf_counter()
    bleu(hyps, refs)
    self_bleu(hyps)
    assert time.perf_counter() - t0 < 120
