"""BLEU-2…5 and self-BLEU-2…5 (Texygen definitions) of 2,000 sentences against 2,000 references, length 20:
seqgan_env.metrics vs nltk's sentence_bleu called per hypothesis (Texygen's way).

    python bench/bleu.py [--quick]

nltk's cost is linear in the number of hypotheses, so it is timed on a subset (--nltk-hyps) and scaled to
2,000; its scores on that subset are compared with ours.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import parser, setup, table

from seqgan_env.metrics import bleu, self_bleu


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--nltk-hyps", type=int, default=100, help="hypotheses nltk is timed on")
    args = p.parse_args()
    setup(args)
    n = 200 if args.quick else 2000
    k = min(args.nltk_hyps, n) if not args.quick else 20
    rng = random.Random(0)
    hyps = [[rng.randrange(5000) for _ in range(20)] for _ in range(n)]
    refs = [[rng.randrange(5000) for _ in range(20)] for _ in range(n)]
    t0 = time.perf_counter()
    ours = bleu(hyps, refs)
    t_bleu = time.perf_counter() - t0
    t0 = time.perf_counter()
    self_bleu(hyps)
    t_self = time.perf_counter() - t0
    sm = SmoothingFunction().method1
    t0 = time.perf_counter()
    sub = [[sentence_bleu(refs, h, (1 / o,) * o, smoothing_function=sm) for o in range(2, 6)] for h in hyps[:k]]
    t_nltk = (time.perf_counter() - t0) * n / k
    ours_sub = bleu(hyps[:k], refs)
    diff = max(abs(ours_sub[o] - sum(r[o - 2] for r in sub) / k) for o in range(2, 6))
    print(f"{n} hypotheses × {n} references, length 20, vocab 5000; nltk timed on {k} and scaled ×{n / k:g}")
    print(table([
        {"computation": "BLEU-2..5, nltk sentence_bleu (scaled)", "seconds": t_nltk, "speed-up": 1.0},
        {"computation": "BLEU-2..5, seqgan_env.metrics.bleu", "seconds": t_bleu, "speed-up": t_nltk / t_bleu},
        {"computation": "self-BLEU-2..5, seqgan_env.metrics.self_bleu", "seconds": t_self, "speed-up": float("nan")},
    ]))  # fmt: skip
    print(f"max |ours - nltk| over BLEU-2..5 on the subset: {diff:.2e};  BLEU-2 = {ours[2]:.4f}")


if __name__ == "__main__":
    main()
