from __future__ import annotations

import random
import time

import pytest
import torch
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


# ---------------------------------------------------------------- discriminator diagnostic
def test_discriminator_report_measures_accuracy_and_rank_correlation(tiny_oracle):
    import torch

    from seqgan_env.metrics import discriminator_report
    from tests.helpers import tiny_discriminator, tiny_generator

    gen, real_test = tiny_generator(), tiny_oracle.sample(64, generator=torch.Generator().manual_seed(1))
    fake = gen.sample(64, generator=torch.Generator().manual_seed(2))
    middle = -0.5 * float(tiny_oracle.log_prob(real_test).sum(1).mean() + tiny_oracle.log_prob(fake).sum(1).mean())

    class ByOracle:  # P(real) = a monotone function of the oracle's log-likelihood (sign +1) or its reverse (−1)
        def __init__(self, sign: float) -> None:
            self.sign, self.device, self.config = sign, torch.device("cpu"), tiny_discriminator().config

        def score(self, tokens: torch.Tensor) -> torch.Tensor:
            return torch.sigmoid(self.sign * (tiny_oracle.log_prob(tokens).sum(1) + middle))

    good, bad = (discriminator_report(ByOracle(s), gen, tiny_oracle, real_test, 500) for s in (1.0, -1.0))
    assert good["spearman"] > 0.99
    assert bad["spearman"] < -0.99
    assert good["accuracy"] > 0.8 > 0.2 > bad["accuracy"]
    plain = discriminator_report(tiny_discriminator(), gen, tiny_oracle, real_test, 500)
    assert 0.0 <= plain["accuracy"] <= 1.0
    assert -1.0 <= plain["spearman"] <= 1.0
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        discriminator_report(tiny_discriminator(), gen, tiny_oracle, real_test, 1)


def test_an_evaluation_and_a_d_report_share_one_scored_sample_set_with_the_same_figures(tiny_oracle):
    import torch

    from seqgan_env.metrics import SampleCache, discriminator_report, nll_oracle, oracle_metrics, score_samples
    from seqgan_env.oracle import sequence_nll
    from tests.helpers import tiny_discriminator, tiny_generator

    gen, disc = tiny_generator(), tiny_discriminator()
    real_test = tiny_oracle.sample(64, generator=torch.Generator().manual_seed(1))
    cache = SampleCache()
    fresh = oracle_metrics(tiny_oracle, gen, 300, seed=3)
    assert oracle_metrics(tiny_oracle, gen, 300, seed=3, cache=cache) == fresh
    assert fresh["nll_oracle"] == nll_oracle(tiny_oracle, gen, 300, seed=3)
    scored = cache.get(tiny_oracle, gen, 300, seed=3)
    assert scored is cache.get(tiny_oracle, gen, 300, seed=3)  # unchanged G: no new samples
    assert fresh["entropy"] == sequence_nll(gen, scored.tokens)
    # the report on the shared samples = the report that draws the same samples itself
    assert discriminator_report(disc, gen, tiny_oracle, real_test, 300, seed=3, scored=scored) == discriminator_report(
        disc, gen, tiny_oracle, real_test, 300, seed=3
    )
    assert discriminator_report(disc, gen, tiny_oracle, real_test, 100, scored=scored)["accuracy"] >= 0
    with pytest.raises(ValueError, match="fewer than num_samples=400"):
        discriminator_report(disc, gen, tiny_oracle, real_test, 400, scored=scored)
    with torch.no_grad():
        gen.proj.bias[0] += 1.0  # G changed: the cache draws again, as score_samples would
    again = cache.get(tiny_oracle, gen, 300, seed=3)
    assert again is not scored
    assert torch.equal(again.gen_terms, score_samples(tiny_oracle, gen, 300, seed=3).gen_terms)


def test_a_run_s_d_reports_read_the_evaluations_samples(tmp_path, monkeypatch):
    import json

    import seqgan_env.metrics as metrics
    from agents.run.pipeline import run
    from tests.helpers import tiny_run_config

    fresh = []  # a report that draws and scores samples of its own calls sequence_log_prob
    real = metrics.sequence_log_prob
    monkeypatch.setattr(metrics, "sequence_log_prob", lambda *a, **k: fresh.append(1) or real(*a, **k))
    summary = run(tiny_run_config(tmp_path / "r", {"disc.pretrain_rounds": 2, "disc.report_samples": 64}))
    cpu = summary["cpu"]  # what the reports cost, measured in the run
    assert 0 < cpu["evaluation_s"] + cpu["d_report_s"] < cpu["total_s"]
    assert 0 < cpu["evaluation_share"] < 1
    assert 0 < cpu["d_report_share"] < 1
    rows = json.loads((tmp_path / "r" / "metrics.json").read_text())["history"]
    assert {r["phase"] for r in rows if "d_spearman" in r} == {"d_pretrain", "d_round"}
    assert fresh == []  # D rounds fall on evaluated updates (every 2), pretraining reports on the start's G
    run(tiny_run_config(tmp_path / "odd", {"disc.retrain_every": 1, "disc.report_samples": 64}))
    assert fresh  # a D round between evaluations draws its own samples


def test_disc_diagnostic_script_reports_each_round(tmp_path, capsys):
    from agents.run.pipeline import run
    from tests.helpers import tiny_run_config
    from train import disc_diagnostic

    run(tiny_run_config(tmp_path / "run"))
    reports = disc_diagnostic.main([str(tmp_path / "run"), "--rounds", "1", "--samples", "64"])
    assert [r["round"] for r in reports] == [0, 1]
    assert all(-1.0 <= r["spearman"] <= 1.0 and 0.0 <= r["accuracy"] <= 1.0 for r in reports)
    assert capsys.readouterr().out.count('"spearman"') == 2
    capsys.readouterr()
    with pytest.raises(SystemExit):
        disc_diagnostic.main([str(tmp_path / "missing")])
    assert "checkpoint not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        disc_diagnostic.main([str(tmp_path / "run"), "--samples", "1"])
    assert "--samples must be >= 2, got 1" in capsys.readouterr().err
    # a fresh per-prefix D, reported on fresh validation sequences: its settings are checked, never ignored
    fresh = disc_diagnostic.main([str(tmp_path / "run"), "--fresh", "prefix", "--disc.prefix-dropout", "0.1",
                                  "--disc.prefix-hidden-dim", "16", "--valid", "32", "--samples", "32"])  # fmt: skip
    assert [r["round"] for r in fresh] == [0]
    capsys.readouterr()
    for bad, message in (
        (["--fresh", "prefix", "--disc.prefix-dropout", "1.0"], "--disc.prefix-dropout must be in [0, 1), got 1.0"),
        (["--disc.prefix-dropout", "0.1"], "--disc.prefix-dropout set(s) the fresh per-prefix D: pass --fresh prefix"),
        (["--fresh", "cnn", "--disc.prefix-lr", "0.01"], "--disc.prefix-lr set(s) the fresh per-prefix D"),
        (["--valid", "1"], "--valid must be >= 2, got 1"),
    ):
        with pytest.raises(SystemExit):
            disc_diagnostic.main([str(tmp_path / "run"), *bad])
        assert message in capsys.readouterr().err, bad


def test_chunked_likelihoods_equal_the_one_pass_computation():
    """The evaluation's chunked likelihoods (written into tensors allocated before the loop, to keep memory flat)
    give what one pass over all the sequences gives."""
    from seqgan_env.generator import Generator, GeneratorConfig
    from seqgan_env.oracle import per_sequence_nll, sequence_log_prob, sequence_nll

    torch.manual_seed(0)
    g = Generator(GeneratorConfig(vocab_size=50, seq_len=7, emb_dim=8, hidden_dim=8, eos_token=1, pad_token=0))
    x = g.sample(301)
    with torch.no_grad():
        lp = g.log_prob(x).double() * g.valid_mask(x)
    count = int(g.valid_mask(x).sum())
    for batch_size in (None, 1, 64, 301):  # one chunk of all rows: the very same numbers; others: float32 matmul
        tol = 1e-12 if batch_size == 301 else 1e-6  # blocking differs with the rows, at float32's precision
        assert sequence_nll(g, x, batch_size) == pytest.approx(float(-lp.sum()) / count, rel=tol)
        torch.testing.assert_close(sequence_log_prob(g, x, batch_size), lp.sum(1), rtol=tol, atol=tol)
    per_seq = -lp.sum(1) / g.valid_mask(x).sum(1)
    torch.testing.assert_close(per_sequence_nll(g, x, batch_size=301), per_seq, rtol=1e-12, atol=1e-12)
