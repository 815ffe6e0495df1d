"""The Monte Carlo reward of one adversarial batch: Q for 64 sequences at every t, 16 rollouts, paper sizes.

    python bench/rollout.py [--quick] [--disc paper|small|none]

Compares, in the same run:
* naive — a reference written the way the original implementations work: a loop over t and over
  rollouts, each rollout re-reading the prefix with the LSTM and sampling with softmax + torch.multinomial;
* env   — the project's step-wise path (what SeqGAN-v0 computes at each step: cached prefix state,
  all 64 × 16 completions of a step in one batch, inverse-CDF sampling);
* q_all — the project's all-t-at-once path (``RolloutReward.q_all``);
* q_all with a trained-scale generator — the same, with the projection scaled up as training makes it, so that
  the sampler cannot prove the logits bounded and checks each row's total weight (see ``seqgan_env.sampling``);
* q_all with logits beyond exp's range — the projection scaled further, until exp overflows on every row, so
  that every draw takes the exact path (row maximum subtracted): the worst case of the check.

"--disc none" scores with a free stand-in so that only rollout sampling is timed; the fraction of the
matmul floor is computed for that part: FLOPs of the LSTM and the 32 × 5000 projection of every
sampled token, divided by this machine's measured fp32 GEMM rate.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_floor, matmul_gflops, parser, peak_rss_mb, setup, table, timeit

from seqgan_env import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from seqgan_env.rollout import RolloutReward


class FreeScorer:
    """A stand-in discriminator that costs nothing, to time the rollouts alone."""

    def __init__(self, vocab: int, seq_len: int) -> None:
        self.config = DiscriminatorConfig(vocab_size=vocab, seq_len=seq_len, filter_sizes=(1,), num_filters=(1,))

    def score(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens[:, -1].float() / self.config.vocab_size


@torch.inference_mode()
def naive_q(gen: Generator, disc, tokens: torch.Tensor, n_rollouts: int) -> torch.Tensor:
    """Q (B, T) the way the original code computes it: loops over t and rollouts, multinomial sampling."""
    b, seq_len = tokens.shape
    q = torch.zeros(b, seq_len)
    for t in range(1, seq_len):
        for _ in range(n_rollouts):
            out, state = gen.lstm(gen.embedding(gen.inputs_for(tokens[:, :t])))  # re-read the prefix
            h = (state[0][0], state[1][0])
            h = gen.advance(tokens[:, t - 1], h)
            seq = [tokens[:, :t]]
            for _ in range(t, seq_len):
                probs = torch.softmax(gen.logits_from_state(h), dim=1)
                tok = torch.multinomial(probs, 1).squeeze(1)
                seq.append(tok[:, None])
                h = gen.advance(tok, h)
            q[:, t - 1] += disc.score(torch.cat(seq, dim=1)) / n_rollouts
    q[:, -1] = disc.score(tokens)
    return q


@torch.inference_mode()
def env_q(reward: RolloutReward, tokens: torch.Tensor) -> torch.Tensor:
    """Q (B, T) step by step, as SeqGAN-v0 computes it while an episode runs."""
    gen = reward.policy
    state = gen.first_state(tokens.shape[0])
    qs = []
    for t in range(tokens.shape[1]):
        state = gen.advance(tokens[:, t], state)
        qs.append(reward.q_values(tokens[:, : t + 1], state))
    return torch.stack(qs, dim=1)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--disc", choices=("paper", "small", "none"), default="none", help="discriminator that scores")
    args = p.parse_args()
    setup(args)
    vocab, seq_len, batch, n = (5000, 20, 64, 16) if not args.quick else (5000, 20, 8, 4)
    torch.manual_seed(0)
    gen = Generator(GeneratorConfig(vocab_size=vocab, seq_len=seq_len)).eval()
    if args.disc == "none":
        disc = FreeScorer(vocab, seq_len)
    else:
        cfg = DiscriminatorConfig() if args.disc == "paper" else DiscriminatorConfig.small(vocab, seq_len)
        disc = Discriminator(cfg)
    reward = RolloutReward(gen, disc, n)
    tokens = gen.sample(batch)
    t_naive = timeit(lambda: naive_q(gen, disc, tokens, n), max(1, args.repeats - 2), warmup=0)
    t_env = timeit(lambda: env_q(reward, tokens), args.repeats)
    t_all = timeit(lambda: reward.q_all(tokens), args.repeats)

    # A trained generator's logits are larger (max ‖[W_v, b_v]‖ ≈ 11–25 on the oracle task vs ≈ 0.6 at init), so
    # the sampler cannot prove them within ±40 and checks each row's total weight after exp: time that too, with
    # the projection scaled to a max row norm of 50 (bound ≥ 50 since ‖[h, 1]‖ ≥ 1; logits here within ±25).
    # Scaled to 2,000, the logits overflow exp on every row, which then takes the exact (row-max) path.
    def scaled(max_row_norm: float) -> Generator:
        out = Generator(GeneratorConfig(vocab_size=vocab, seq_len=seq_len)).eval()
        out.load_state_dict(gen.state_dict())
        with torch.no_grad():
            norm = torch.cat([out.proj.weight, out.proj.bias[:, None]], 1).norm(dim=1).max()
            out.proj.weight.mul_(max_row_norm / norm)
            out.proj.bias.mul_(max_row_norm / norm)
        return out

    reward_trained = RolloutReward(scaled(50.0), disc, n)
    t_trained = timeit(lambda: reward_trained.q_all(tokens), args.repeats)
    reward_extreme = RolloutReward(scaled(2000.0), disc, n)
    t_extreme = timeit(lambda: reward_extreme.q_all(tokens), args.repeats)
    sampled = batch * n * sum(seq_len - t for t in range(1, seq_len))
    h, e = gen.config.hidden_dim, gen.config.emb_dim
    flops = sampled * (2 * h * vocab + 2 * 4 * h * (e + h))
    gflops = matmul_gflops()
    floor = flops / (gflops * 1e9)
    rows = []
    paths = (("naive (loops, multinomial)", t_naive), ("env step-wise", t_env), ("q_all", t_all),
             ("q_all, trained-scale G (checked exp)", t_trained),
             ("q_all, logits beyond exp's range (exact path)", t_extreme))  # fmt: skip
    for name, sec in paths:
        row = {"path": name, "seconds": sec, "sequences/s": batch / sec, "speed-up vs naive": t_naive / sec}
        if args.disc == "none":
            row["% of matmul floor"] = 100 * floor / sec
        rows.append(row)
    print(f"batch {batch} × {n} rollouts × T={seq_len}, vocab {vocab}, discriminator: {args.disc}; "
          f"{sampled:,} sampled tokens, {flops / 1e9:.1f} GFLOP; fp32 GEMM rate {gflops:.0f} GFLOP/s "
          f"-> floor {floor * 1e3:.0f} ms")  # fmt: skip
    print(table(rows))
    if args.disc == "none":  # the floor ratio that holds under load: GEMM and q_all timed alternately
        pairs = 3 if args.quick else 9
        r = interleaved_floor(lambda: reward.q_all(tokens), flops, pairs=pairs)
        share = f"{100 * r['share']:.1f} % (range {100 * r['share_min']:.1f}–{100 * r['share_max']:.1f} %)"
        gemm = f"{r['gflops_min']:.0f}–{r['gflops_max']:.0f} GFLOP/s (median {r['gflops']:.0f})"
        print(f"\nq_all against a GEMM timed just before it, {pairs} pairs (A B A B …): {share} of the matmul floor, "
              f"while the GEMM ran at {gemm} and q_all took {1e3 * r['seconds_min']:.0f}–{1e3 * r['seconds_max']:.0f} "
              "ms: a busy machine moves the last two, a regression the first")  # fmt: skip
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
