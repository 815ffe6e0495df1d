"""One MLE minibatch step (paper sizes: batch 64, T = 20, vocab 5,000, emb/hidden 32): the project's step vs a
straightforward one.

    python bench/mle.py [--quick]

* straightforward — ``-log_softmax(logits).gather(targets).mean()``, backward, ``torch.optim.Adam`` (default
  implementation): what a reader would write first;
* ours — ``seqgan_env.generator.mle_step``: a token NLL whose backward is softmax minus one-hot in one pass
  (``token_nll``) and Adam's fused kernel (``seqgan_env.optim.adam``).

Both train the same model from the same weights on the same batches; the losses after the timed steps are
printed too (they agree to float32 rounding).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, setup, table, timeit

from seqgan_env import Generator, GeneratorConfig
from seqgan_env.generator import mle_step
from seqgan_env.optim import adam


def main() -> None:
    args = parser(__doc__).parse_args()
    setup(args)
    vocab, seq_len, batch = 5000, 20, 64
    data = torch.randint(0, vocab, (batch, seq_len), generator=torch.Generator().manual_seed(0))

    def fresh() -> Generator:
        torch.manual_seed(0)
        return Generator(GeneratorConfig(vocab_size=vocab, seq_len=seq_len))

    plain, ours = fresh(), fresh()
    plain_opt = torch.optim.Adam(plain.parameters(), lr=0.01)
    ours_opt = adam(ours.parameters(), lr=0.01)

    def plain_step() -> float:
        logp = F.log_softmax(plain(data), dim=-1).gather(2, data.unsqueeze(-1)).squeeze(-1)
        loss = -logp.mean()
        plain_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(plain.parameters(), 5.0)
        plain_opt.step()
        return loss.item()

    repeats = args.repeats * (3 if args.quick else 10)
    t_plain = timeit(plain_step, repeats)
    t_ours = timeit(lambda: mle_step(ours, ours_opt, data), repeats)
    rows = [
        {"step": "straightforward (log_softmax + gather, Adam)", "ms": t_plain * 1e3, "speed-up": 1.0},
        {"step": "ours (token_nll, fused Adam)", "ms": t_ours * 1e3, "speed-up": t_plain / t_ours},
    ]
    print(f"batch {batch} × T={seq_len}, vocab {vocab}: one MLE step (forward, backward, clip, Adam)")
    print(table(rows))
    print(f"epoch of 10,000 sequences ({-(-10_000 // batch)} steps): {t_plain * 157:.1f} s vs {t_ours * 157:.1f} s; "
          f"loss after the timed steps: {plain_step():.5f} vs {mle_step(ours, ours_opt, data):.5f}")  # fmt: skip


if __name__ == "__main__":
    main()
