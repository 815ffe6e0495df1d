"""Why sampled rewards trail the exact reference: the per-update gradient of each estimator against the true one.

    python docs/experiments/gradient_variance.py --pretrained runs/pre_es   # official oracle, ~3 min on 1 core

At the standard start (the early-stopped MLE G), the "true" gradient is the exact per-step KL gradient averaged over
many batches of G's own prefixes (``--true-batches`` × 64 sequences). Each estimator is then computed on fresh batches
of B sequences (the same sequences for all of them) and compared with it:

* ``reference``: the exact per-step KL gradient at the batch's prefixes (sums over the vocabulary);
* ``oracle-reward+analytic-entropy``: REINFORCE with per-step weight log p_O(y_t|y_<t), the batch-mean baseline per
  step and the analytic entropy gradient (recipe ``reinforce-step``);
* ``log-ratio``: REINFORCE with per-step weight log p_O − log p_G (the perfect reward), batch-mean baseline
  (recipe ``reinforce-step-logratio``).

Printed per estimator and batch size: the cosine with the true gradient and the relative error
‖g − g_true‖ / ‖g_true‖ (mean over ``--trials`` batches), and the batch size a sampled estimator needs to reach the
reference's error at B = 64 (its error falls as 1/√B: the variance of a mean over independent prefixes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agents.algorithms.reference import per_step_kl  # noqa: E402
from seqgan_env import Generator, Oracle, load_generator  # noqa: E402


def flat_grad(gen: Generator, loss: torch.Tensor) -> torch.Tensor:
    gen.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return torch.cat([p.grad.flatten() for p in gen.parameters() if p.grad is not None]).clone()


def losses(gen: Generator, oracle: Oracle, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each estimator's surrogate loss on one batch (its gradient is the estimate of ∇ per-step KL)."""
    log_all = F.log_softmax(gen(tokens), dim=-1)
    log_p = log_all.gather(2, tokens[..., None]).squeeze(-1)
    with torch.no_grad():
        log_o = oracle.log_prob(tokens)
    entropy = -(log_all.exp() * log_all).sum(-1).mean()
    w_oracle = log_o - log_o.mean(0, keepdim=True)  # batch-mean baseline per step
    ratio = log_o - log_p.detach()
    w_ratio = ratio - ratio.mean(0, keepdim=True)
    return {
        "oracle-reward+analytic-entropy": -(log_p * w_oracle).mean() - entropy,
        "log-ratio": -(log_p * w_ratio).mean(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pretrained", default="runs/pre_es")
    p.add_argument("--oracle-params", default=str(ROOT.parent / "shared" / "seqgan_oracle" / "target_params.npz"))
    p.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--true-batches", type=int, default=64)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    oracle = Oracle.from_params(a.oracle_params)
    gen, _ = load_generator(a.pretrained, "pretrained")
    rng = torch.Generator().manual_seed(0)

    true = torch.zeros_like(torch.cat([q.flatten() for q in gen.parameters()]))
    for _ in range(a.true_batches):
        tokens = gen.sample(64, generator=rng)
        true += flat_grad(gen, per_step_kl(gen, oracle, tokens).mean()) / a.true_batches
    result: dict[str, dict[int, dict[str, float]]] = {}
    for b in a.batches:
        stats: dict[str, list[tuple[float, float]]] = {}
        for _ in range(a.trials):
            tokens = gen.sample(b, generator=rng)
            grads = {"reference": flat_grad(gen, per_step_kl(gen, oracle, tokens).mean())}
            grads.update({k: flat_grad(gen, v) for k, v in losses(gen, oracle, tokens).items()})
            for name, g in grads.items():
                cos = float(F.cosine_similarity(g, true, dim=0))
                err = float((g - true).norm() / true.norm())
                stats.setdefault(name, []).append((cos, err))
        for name, vals in stats.items():
            result.setdefault(name, {})[b] = {"cosine": sum(c for c, _ in vals) / len(vals),
                                              "rel_error": sum(e for _, e in vals) / len(vals)}  # fmt: skip
    print("| estimator | B | cosine with the true gradient | relative error |")
    print("|---|---|---|---|")
    for name, by_b in result.items():
        for b, s in by_b.items():
            print(f"| {name} | {b} | {s['cosine']:.3f} | {s['rel_error']:.2f} |")
    ref64 = result["reference"][a.batches[0]]["rel_error"]
    print()
    for name in result:
        if name == "reference":
            continue
        err = result[name][a.batches[-1]]["rel_error"]
        needed = a.batches[-1] * (err / ref64) ** 2
        print(f"{name}: B ≈ {needed:,.0f} sequences per update for the reference's error at B = {a.batches[0]}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
