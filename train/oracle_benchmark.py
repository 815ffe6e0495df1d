"""Put any SB3 / sb3-contrib algorithm on the oracle benchmark's table (README, "The oracle benchmark").

    # from the standard early-stopped MLE checkpoint (the project's LSTM policy, loaded from it)
    python train/oracle_benchmark.py --algo PPO --start runs/pre_es --reference runs/study/final/reference_s0
    # from scratch, with SB3's own MlpPolicy (any policy over the env's observations works)
    python train/oracle_benchmark.py --algo A2C --policy MlpPolicy --tokens 128000
    python train/oracle_benchmark.py --algo TRPO --start runs/pre_es        # sb3-contrib (pip install -e ".[contrib]")

The env is ``SeqGAN-v0`` with ``reward_source="oracle"`` (r_t = log p_O(y_t | y_<t); nothing of the agent inside),
the entropy coefficient 1 and γ = 1, so the return is −KL(π ‖ oracle). At every 64,000 generated tokens the script
prints KL(π ‖ O), entropy, NLL-test and NLL-oracle at T = 1 (``seqgan_env.benchmark.policy_metrics``), and with
``--reference`` (a run directory of ``train/reference.py``, or of the study's reference) the gap closed at equal
tokens. The last line is a JSON row; ``--json`` writes every row. For CleanRL or RLlib, copy the three steps below
(make the env, train, call ``policy_metrics`` with your actor's log-softmax).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402

from agents.run.checkpoint import atomic_write_json  # noqa: E402
from agents.run.rundir import Phase, RunDir  # noqa: E402
from seqgan_env.benchmark import TOKEN_BUDGETS, gap_closed, policy_metrics, reference_kl, sb3_log_probs  # noqa: E402
from seqgan_env.env import SeqGANVectorEnv  # noqa: E402
from seqgan_env.oracle import Oracle, OracleConfig  # noqa: E402
from seqgan_env.sb3 import SB3VecEnv  # noqa: E402
from seqgan_env.trained import load_generator  # noqa: E402

ALGOS = ("PPO", "A2C", "TRPO")


class Evaluate(BaseCallback):
    """At each of ``budgets`` (generated tokens), the benchmark's metrics of the policy, printed and kept."""

    def __init__(self, oracle: Oracle, test: torch.Tensor, budgets: list[int], n_samples: int, seed: int) -> None:
        super().__init__()
        self.oracle, self.test, self.budgets, self.n_samples, self.seed = oracle, test, budgets, n_samples, seed
        self.rows: list[dict[str, float]] = []

    def measure(self) -> None:
        row = {"tokens": self.num_timesteps, **policy_metrics(sb3_log_probs(self.model), self.oracle, self.test,
                                                              self.n_samples, self.seed)}  # fmt: skip
        self.rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    def _on_training_start(self) -> None:
        self.measure()

    def _on_step(self) -> bool:
        if self.budgets and self.num_timesteps >= self.budgets[0]:
            self.budgets.pop(0)
            self.measure()
        return True


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", choices=ALGOS, default="PPO", help="SB3's PPO or A2C, or sb3-contrib's TRPO")
    p.add_argument("--policy", default="generator",
                   help="'generator' (the project's LSTM policy; from --start's weights) or an SB3 policy name, e.g. "
                        "MlpPolicy (from scratch)")  # fmt: skip
    p.add_argument("--start", default=None, help="a run directory whose pretrained.pt starts the generator policy")
    p.add_argument("--oracle-params", default=str(ROOT.parent / "shared" / "seqgan_oracle" / "target_params.npz"),
                   help="the official oracle (target_params.npz); 'random' for the seeded random oracle")  # fmt: skip
    p.add_argument("--oracle-seed", type=int, default=0, help="seed of the random oracle (--oracle-params random)")
    p.add_argument("--vocab-size", type=int, default=5000, help="the random oracle's vocabulary")
    p.add_argument("--seq-len", type=int, default=20)
    p.add_argument("--tokens", type=int, default=TOKEN_BUDGETS[-1], help="generated tokens to train for")
    p.add_argument("--num-envs", type=int, default=64, help="sequences per rollout")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--ent-coef", type=float, default=1.0, help="1 makes the return −KL(π ‖ oracle)")
    p.add_argument("--eval-samples", type=int, default=5000)
    p.add_argument("--eval-every", type=int, default=64_000, help="generated tokens between evaluations")
    p.add_argument("--n-test", type=int, default=5000, help="held-out oracle sequences for NLL-test")
    p.add_argument("--reference", default=None, help="a reference run directory: report the gap closed against it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write every evaluation row here")
    a = p.parse_args(argv)
    for name in ("tokens", "num_envs", "eval_samples", "eval_every", "n_test", "seq_len", "vocab_size"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(a, name)}")
    if a.policy == "generator" and a.start is None:
        p.error("--policy generator starts from an MLE checkpoint: pass --start RUN_DIR (or --policy MlpPolicy)")
    if a.policy != "generator" and a.start is not None:
        p.error(f"--start loads the project's generator policy; --policy {a.policy} starts from scratch: drop one")
    if a.oracle_params != "random" and not Path(a.oracle_params).is_file():
        p.error(f"--oracle-params {a.oracle_params}: no such file (or pass 'random')")
    if a.reference is not None and not RunDir(a.reference).metrics_json.is_file():
        p.error(f"--reference {a.reference}: no metrics.json there (a train/reference.py run directory)")
    return a


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    a = parse(argv)
    torch.manual_seed(a.seed)
    # 1. the env: the oracle reward, from any RL library's point of view just a Gymnasium (vector) env
    if a.oracle_params == "random":
        oracle = Oracle(OracleConfig(vocab_size=a.vocab_size, seq_len=a.seq_len, seed=a.oracle_seed))
    else:
        oracle = Oracle.from_params(a.oracle_params, seq_len=a.seq_len)
    test = oracle.make_data(1, a.n_test, seed=a.seed)[1]
    venv = SeqGANVectorEnv(num_envs=a.num_envs, vocab_size=oracle.config.vocab_size, seq_len=a.seq_len,
                           reward_source="oracle", oracle=oracle)  # fmt: skip
    env = SB3VecEnv(venv, seed=a.seed)
    # 2. the algorithm: γ = 1 (undiscounted), entropy coefficient 1, one rollout = one sequence per env
    algo = _algo(a.algo)
    kwargs = {"learning_rate": a.lr, "n_steps": a.seq_len, "gamma": 1.0, "gae_lambda": 1.0, "seed": a.seed,
              "device": "cpu"}  # fmt: skip
    if a.algo != "TRPO":  # sb3-contrib's TRPO has no entropy bonus
        kwargs["ent_coef"] = a.ent_coef
    if a.policy == "generator":
        from agents.algorithms.policies import GeneratorActorCriticPolicy

        start, _ = load_generator(a.start, "pretrained")  # the policy checks its sizes against the env's
        model = algo(
            GeneratorActorCriticPolicy, env, policy_kwargs={"generator_config": asdict(start.config)}, **kwargs
        )
        model.policy.load_generator_state(start.state_dict())
    else:
        model = algo(a.policy, env, **kwargs)
    # 3. train, reading the benchmark's metrics at every budget
    budgets = list(range(a.eval_every, a.tokens + 1, a.eval_every))
    evaluate = Evaluate(oracle, test, budgets, a.eval_samples, a.seed)
    model.learn(a.tokens, callback=evaluate)
    rows = evaluate.rows
    if a.reference is not None:
        ref_rows = RunDir(Path(a.reference)).rows(Phase.ADVERSARIAL)
        curve = {r["timesteps"]: r["kl_oracle"] for r in ref_rows}
        for row in rows[1:]:
            if row["tokens"] <= max(curve):
                row["gap_closed"] = gap_closed(rows[0]["kl_oracle"], row["kl_oracle"],
                                               reference_kl(curve, row["tokens"]))  # fmt: skip
    print(json.dumps({"algo": a.algo, "policy": a.policy, **rows[-1]}))
    if a.json:
        atomic_write_json(Path(a.json), {"args": vars(a), "rows": rows})
    return rows


def _algo(name: str) -> type:
    if name == "TRPO":
        try:
            from sb3_contrib import TRPO
        except ImportError:
            raise SystemExit("error: --algo TRPO is sb3-contrib's: pip install -e '.[contrib]'") from None
        return TRPO
    import stable_baselines3

    return getattr(stable_baselines3, name)


if __name__ == "__main__":
    main()
