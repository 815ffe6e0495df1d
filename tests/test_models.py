from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, Oracle, OracleConfig
from seqgan_env.metrics import nll_oracle, nll_test
from seqgan_env.rollout import RolloutReward
from seqgan_env.sampling import ProjectionSampler, categorical_sample
from tests.helpers import SEQ_LEN, VOCAB, tiny_discriminator, tiny_generator

OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "seqgan_oracle" / "target_params.npz"


def test_generator_step_api_matches_full_forward():
    g = tiny_generator()
    tokens = torch.randint(0, VOCAB, (5, SEQ_LEN))
    full = g(tokens)
    state = g.first_state(5)
    stepped = g.advance(g.start_tokens(5), g.initial_state(5))  # state in, state out
    torch.testing.assert_close(stepped[0], state[0])
    for t in range(SEQ_LEN):
        torch.testing.assert_close(g.logits_from_state(state), full[:, t], atol=1e-5, rtol=1e-5)
        state = g.advance(tokens[:, t], state)


def test_generator_log_prob_is_log_softmax_of_logits():
    g = tiny_generator()
    tokens = torch.randint(0, VOCAB, (3, SEQ_LEN))
    lp = g.log_prob(tokens)
    manual = torch.log_softmax(g(tokens), -1).gather(2, tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(lp, manual)
    assert lp.shape == (3, SEQ_LEN)


def test_generator_sample_is_seeded_and_in_range():
    g = tiny_generator()
    a = g.sample(50, generator=torch.Generator().manual_seed(1))
    b = g.sample(50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.shape == (50, SEQ_LEN)
    assert a.min() >= 0
    assert a.max() < VOCAB


def test_uniform_generator_nll_is_log_vocab():
    g = tiny_generator()
    with torch.no_grad():
        g.proj.weight.zero_()
        g.proj.bias.zero_()
    data = torch.randint(0, VOCAB, (20, SEQ_LEN))
    assert nll_test(g, data) == pytest.approx(math.log(VOCAB), abs=1e-6)  # float32 log-softmax


def test_categorical_sample_matches_distribution_chi_square():
    probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05])
    logits = probs.log().expand(200_000, 5).contiguous()
    draws = categorical_sample(logits, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(draws, minlength=5).double()
    expected = probs.double() * 200_000
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 18.5  # chi-square(4) at p = 0.001


@pytest.mark.parametrize("vocab", [1, 2, 7, 103, 5000])
def test_categorical_sample_two_level_matches_distribution_for_any_vocab(vocab):
    """The block decomposition (√V blocks, zero-padded) must not bias any index, first, last or padded."""
    g = torch.Generator().manual_seed(vocab)
    probs = torch.softmax(torch.randn(vocab, generator=g) * 1.5, 0)
    n = 200_000
    draws = torch.cat([
        categorical_sample(probs.log().expand(20_000, vocab).contiguous(), generator=g) for _ in range(n // 20_000)
    ])  # fmt: skip
    assert int(draws.min()) >= 0
    assert int(draws.max()) < vocab
    counts = torch.bincount(draws, minlength=vocab).double()
    if vocab == 5000:  # too many sparse cells for chi-square: compare the first two moments
        idx = torch.arange(vocab, dtype=torch.float64)
        mean = float((probs.double() * idx).sum())
        std = (float((probs.double() * idx**2).sum()) - mean**2) ** 0.5
        assert abs(float(draws.double().mean()) - mean) < 5 * std / n**0.5
        return
    expected = probs.double() * n
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = max(vocab - 1, 1)
    z = 3.09  # p = 0.001, Wilson–Hilferty approximation of the chi-square quantile
    crit = df * (1 - 2 / (9 * df) + z * (2 / (9 * df)) ** 0.5) ** 3
    assert chi2 < crit


@pytest.mark.parametrize(
    ("temperature", "scale", "shift"),
    [(1.0, 1.0, 0.0), (0.7, 1.0, 0.0), (1.0, 4.0, 0.0), (0.7, 12.0, 0.0), (1.0, 4.0, 150.0), (1.0, 4.0, -150.0)],
)
def test_projection_sampler_draws_softmax_of_the_projection(temperature, scale, shift):
    """scale 1: logits provably within ±40; 4 and 12: exp checked by the row total; shift ±150: every logit
    overflows / underflows exp, so every row is recomputed with its maximum subtracted."""
    g = torch.Generator().manual_seed(0)
    weight, bias, h = torch.randn(103, 8, generator=g), torch.randn(103, generator=g), torch.randn(1, 8, generator=g)
    weight, bias = weight * scale, bias * scale + shift
    probs = torch.softmax((h @ weight.T + bias)[0] / temperature, 0).double()
    sampler = ProjectionSampler(weight, bias, temperature)
    n = 200_000
    draws = torch.cat([sampler(h.expand(20_000, 8).contiguous(), g) for _ in range(n // 20_000)])
    counts = torch.bincount(draws, minlength=103).double()
    keep = probs * n >= 5  # chi-square cells with enough expected counts; the rest pooled
    chi2 = float(((counts[keep] - probs[keep] * n) ** 2 / (probs[keep] * n)).sum())
    rest_obs, rest_exp = float(counts[~keep].sum()), float(probs[~keep].sum() * n)
    if rest_exp > 0:
        chi2 += (rest_obs - rest_exp) ** 2 / rest_exp
    df = int(keep.sum()) - (0 if rest_exp > 0 else 1)
    crit = df * (1 - 2 / (9 * df) + 3.09 * (2 / (9 * df)) ** 0.5) ** 3  # p = 0.001
    assert chi2 < crit


def test_categorical_sample_never_draws_masked_tokens_and_keeps_logits():
    logits = torch.randn(4096, 300)
    logits[:, ::3] = float("-inf")
    before = logits.clone()
    draws = categorical_sample(logits, generator=torch.Generator().manual_seed(0))
    assert (draws % 3 != 0).all()
    assert torch.equal(logits, before)


def test_categorical_sample_temperature_sharpens():
    logits = torch.tensor([[2.0, 1.0, 0.0]]).expand(50_000, 3).contiguous()
    cold = categorical_sample(logits, temperature=0.25, generator=torch.Generator().manual_seed(0))
    assert float((cold == 0).double().mean()) > 0.95
    with pytest.raises(ValueError, match="temperature must be > 0"):
        categorical_sample(logits, temperature=0.0)


def test_discriminator_scores_are_probabilities_and_batched():
    d = tiny_discriminator()
    x = torch.randint(0, VOCAB, (7, SEQ_LEN))
    s = d.score(x)
    assert s.shape == (7,)
    assert ((s > 0) & (s < 1)).all()
    torch.testing.assert_close(s[:3], d.score(x[:3]))
    with pytest.raises(ValueError, match=r"tokens must have shape \(B, seq_len=6\)"):
        d.score(x[:, :3])


def test_paper_discriminator_has_1720_filters():
    d = Discriminator(DiscriminatorConfig())
    assert sum(c.out_channels for c in d.convs) == 1720


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"filter_sizes": (1, 30), "num_filters": (2, 2)}, "filter_sizes must lie in"),
        ({"filter_sizes": (1,), "num_filters": (2, 2)}, "equal length"),
        ({"filter_sizes": (1,), "num_filters": (2,), "dropout": 1.0}, "dropout must be in"),
    ],
)
def test_discriminator_config_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DiscriminatorConfig(vocab_size=VOCAB, seq_len=SEQ_LEN, **kwargs)


def test_generator_config_bad_values():
    with pytest.raises(ValueError, match="vocab_size must be a positive int"):
        GeneratorConfig(vocab_size=0)
    with pytest.raises(ValueError, match="start_token must be in"):
        GeneratorConfig(vocab_size=5, start_token=5)


def test_rollout_q_all_matches_stepwise_q_in_expectation():
    g, d = tiny_generator(), tiny_discriminator()
    reward = RolloutReward(g, d, n_rollouts=3000)
    tokens = torch.randint(0, VOCAB, (2, SEQ_LEN))
    q_all = reward.q_all(tokens, torch.Generator().manual_seed(0))
    state = g.first_state(2)
    for t in range(SEQ_LEN):
        state = g.advance(tokens[:, t], state)
        q_t = reward.q_values(tokens[:, : t + 1], state, torch.Generator().manual_seed(1))
        torch.testing.assert_close(q_all[:, t], q_t, atol=0.01, rtol=0)
    torch.testing.assert_close(q_all[:, -1], d.score(tokens))


def test_oracle_seeded_is_reproducible_and_nll_is_between_entropy_and_uniform(tiny_oracle):
    again = Oracle(OracleConfig(vocab_size=VOCAB, seq_len=SEQ_LEN, emb_dim=8, hidden_dim=8, seed=0))
    for p, q in zip(tiny_oracle.parameters(), again.parameters()):
        assert torch.equal(p, q)
    train, test = tiny_oracle.make_data(200, 100, seed=0)
    assert train.shape == (200, SEQ_LEN)
    assert test.shape == (100, SEQ_LEN)
    self_nll = tiny_oracle.nll(train)
    uniform = tiny_oracle.nll(torch.randint(0, VOCAB, (500, SEQ_LEN)))
    assert self_nll < uniform
    assert nll_oracle(tiny_oracle, tiny_oracle, 300) == pytest.approx(self_nll, abs=0.3)


def test_oracle_data_come_from_the_reference_sampler_not_the_fast_path(monkeypatch):
    """The real data are drawn with each row's maximum subtracted, whatever the generators' CPU fast path does,
    so a change to that path cannot change the benchmark's data."""
    oracle = Oracle(OracleConfig(vocab_size=300, seq_len=6, seed=1))
    expected = oracle.sample(600, generator=torch.Generator().manual_seed(5))

    def broken(*args, **kwargs):
        raise AssertionError("fast path used")

    monkeypatch.setattr(ProjectionSampler, "_sample_fast_", broken)
    assert torch.equal(oracle.sample(600, generator=torch.Generator().manual_seed(5)), expected)
    twin = Generator(oracle.config)
    twin.load_state_dict(oracle.state_dict())
    with pytest.raises(AssertionError, match="fast path used"):  # a generator does take the fast path
        twin.sample(4)


@pytest.mark.skipif(not OFFICIAL.exists(), reason="official oracle parameters not present")
def test_official_oracle_loads_and_scores_published_figures():
    oracle = Oracle.from_params(OFFICIAL)
    samples = oracle.sample(2000, generator=torch.Generator().manual_seed(0))
    assert oracle.nll(samples) == pytest.approx(5.756, abs=0.05)
    uniform = torch.randint(0, 5000, (2000, 20), generator=torch.Generator().manual_seed(0))
    assert oracle.nll(uniform) == pytest.approx(11.43, abs=0.05)


def test_oracle_bad_params_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="oracle params file not found"):
        Oracle.from_params(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"is not a readable \.npz"):
        Oracle.from_params(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, embeddings=np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="lacks arrays"):
        Oracle.from_params(partial)


def test_nll_oracle_rejects_mismatched_generator(tiny_oracle):
    g = Generator(GeneratorConfig(vocab_size=VOCAB + 1, seq_len=SEQ_LEN))
    with pytest.raises(ValueError, match="does not match the oracle"):
        nll_oracle(tiny_oracle, g, 10)


def test_token_nll_matches_cross_entropy_values_and_gradients():
    from seqgan_env.generator import token_nll

    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(50, 37, generator=g) * 3).requires_grad_()
    targets = torch.randint(0, 37, (50,), generator=g)
    weights = torch.rand(50, generator=g)
    ours = (token_nll(logits, targets) * weights).sum()
    (g_ours,) = torch.autograd.grad(ours, logits)
    ref = (torch.nn.functional.cross_entropy(logits, targets, reduction="none") * weights).sum()
    (g_ref,) = torch.autograd.grad(ref, logits)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(g_ours, g_ref)


def test_projection_sampler_recomputes_only_the_rows_whose_exp_fails():
    """Rows whose logits overflow (or all underflow) exp are redrawn with the row maximum subtracted; the others
    keep the direct exp. Either way each row's draw is the one the exact path makes from the same uniform."""
    import seqgan_env.sampling as sampling

    g = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(103, 8, generator=g) * 4, torch.randn(103, generator=g)
    weight[:, -1] = 0.0
    bias_col = torch.randn(103, generator=g)
    weight[:, -1] = 150.0 + bias_col  # h[:, -1] = ±1 moves every logit of the row by about ±150
    h = torch.randn(4096, 8, generator=g) * 0.3
    h[:, -1] = torch.tensor([0.0, 1.0, -1.0, 0.0]).repeat(1024)
    sampler = ProjectionSampler(weight, bias)
    ours = sampler(h, torch.Generator().manual_seed(1))
    assert not sampler.exact  # half the rows failed, not most
    logits = torch.cat([h @ weight.T + bias, torch.full((4096, sampler.n_blocks * sampler.size - 103), -torch.inf)], 1)
    exact = sampling._sample_padded_(logits, 103, sampler.size, sampler.n_blocks, torch.Generator().manual_seed(1))
    assert (ours == exact).float().mean() > 0.999  # the same uniform per row: only rounding at a boundary differs
    always_failing = ProjectionSampler(weight, bias)
    always_failing(h[1::4].contiguous(), g)
    assert always_failing.exact  # every row failed: later calls subtract the maximum first


def test_the_official_oracle_file_converts_with_arrays_only_and_payloads_are_refused(tmp_path):
    """python -m seqgan_env.oracle convert: the authors' target_params.pkl layout (a protocol-2 pickle of 15 arrays)
    becomes the .npz the project reads, equal to the file it came from; a pickle carrying code never runs."""
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np

    from seqgan_env.oracle import OFFICIAL_ARRAYS, Oracle, OracleConfig, convert_official

    rng = np.random.default_rng(0)
    v, e, h = 7, 3, 4
    shapes = {
        "embeddings": (v, e),
        "Wo": (h, v),
        "bo": (v,),
        **{f"W{g}": (e, h) for g in ("i", "f", "og", "c")},
        **{f"U{g}": (h, h) for g in ("i", "f", "og", "c")},
        **{f"b{g}": (h,) for g in ("i", "f", "og", "c")},
    }
    arrays = [rng.normal(size=shapes[k]).astype(np.float32) for k in OFFICIAL_ARRAYS]  # fmt: skip
    (tmp_path / "target_params.pkl").write_bytes(pickle.dumps(arrays, protocol=2))
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "seqgan_env.oracle", "convert", str(tmp_path / "target_params.pkl"),
                          str(tmp_path / "o.npz")], cwd=root, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    oracle = Oracle.from_params(tmp_path / "o.npz", seq_len=4)
    assert (oracle.config.vocab_size, oracle.config.emb_dim, oracle.config.hidden_dim) == (v, e, h)
    assert np.array_equal(oracle.embedding.weight.detach().numpy(), arrays[0])

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps([Payload()], protocol=2))
    with pytest.raises(ValueError, match="refused global"):
        convert_official(tmp_path / "evil.pkl", tmp_path / "x.npz")
    assert not marker.exists()
    (tmp_path / "short.pkl").write_bytes(pickle.dumps(arrays[:3], protocol=2))
    with pytest.raises(ValueError, match="expected a list of 15 arrays, got a list of 3"):
        convert_official(tmp_path / "short.pkl", tmp_path / "x.npz")
    assert OracleConfig().vocab_size == 5000
