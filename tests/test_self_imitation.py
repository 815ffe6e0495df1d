from __future__ import annotations

import pytest
import torch

from agents.experiments.self_imitation import self_imitation
from tests.helpers import tiny_generator, tiny_run_config


def test_one_sgd_step_is_minus_lr_times_the_gradient_of_the_summed_log_likelihood_of_own_samples():
    gen, ref = tiny_generator(seed=3), tiny_generator(seed=3)
    self_imitation(gen, 1, batch_size=16, optimizer="sgd", lr=0.5, max_grad_norm=1e9,
                   generator=torch.Generator().manual_seed(7), reference_batch=32)  # fmt: skip
    ref.eval()
    with torch.no_grad():
        tokens = ref.sample(16, generator=torch.Generator().manual_seed(7))
    ref.train()
    (-(ref.log_prob(tokens).sum()) * 2).backward()  # summed loss, scaled from 16 to 32 sequences
    for p, q in zip(gen.parameters(), ref.parameters()):
        torch.testing.assert_close(p.detach(), q.detach() - 0.5 * q.grad, rtol=1e-5, atol=1e-6)


def test_self_imitation_repeats_with_its_seed_and_rejects_bad_arguments():
    def params(seed: int) -> torch.Tensor:
        gen = self_imitation(tiny_generator(), 3, 8, "adam", 0.05, generator=torch.Generator().manual_seed(seed))
        return torch.cat([p.detach().flatten() for p in gen.parameters()])

    assert torch.equal(params(0), params(0))
    assert not torch.equal(params(0), params(1))
    assert not torch.equal(params(0), torch.cat([p.detach().flatten() for p in tiny_generator().parameters()]))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        self_imitation(tiny_generator(), 1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        self_imitation(tiny_generator(), 1, batch_size=0)


def test_self_imitation_script_reports_start_and_each_variant_and_seed(tmp_path, capsys):
    from agents.run.pipeline import run
    from train import self_imitation as script

    run(tiny_run_config(tmp_path / "run", {"adv.updates": 0}))
    rows = script.main([str(tmp_path / "run"), "--variants", "adam:0.05:8", "sgd:0.1:4", "--steps", "2",
                        "--seeds", "0", "1", "--samples", "64"])  # fmt: skip
    assert [(r["variant"], r.get("seed")) for r in rows] == [
        ("start", None), ("adam:0.05:8", 0), ("adam:0.05:8", 1), ("sgd:0.1:4", 0), ("sgd:0.1:4", 1)
    ]  # fmt: skip
    assert rows[1]["nll_test"] != rows[0]["nll_test"]
    assert all(r["nll_oracle"] > 0 for r in rows)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "run"), "--variants", "lbfgs:1:8"])
    assert "OPTIMIZER:LR:BATCH" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "missing")])
    assert "checkpoint not found" in capsys.readouterr().err
