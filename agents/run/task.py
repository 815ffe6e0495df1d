"""What G learns and how it is scored: the task (oracle data or a text corpus, with its splits), the model sizes a
config asks for, and the evaluation every run records (NLL-oracle, NLL-test, entropy, KL; BLEU, self-BLEU, MSE)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch

from agents.config import SeqGANConfig
from seqgan_env.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    LMDiscriminator,
    LMDiscriminatorConfig,
    PrefixDiscriminator,
    PrefixDiscriminatorConfig,
)
from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.metrics import SampleCache, bleu, nll_test, oracle_metrics, self_bleu
from seqgan_env.oracle import Oracle, OracleConfig
from seqgan_env.rewards import SOURCES
from seqgan_env.text import Corpus, CorpusConfig, load_corpus


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch's (CPU and CUDA) from one ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global RNG that user code may draw from)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------------------------------ parts
@dataclass
class Task:
    """What G learns: training and held-out sequences, from the synthetic oracle or from a text corpus."""

    train: torch.Tensor
    test: torch.Tensor
    vocab_size: int
    oracle: Oracle | None = None
    corpus: Corpus | None = None
    random_nll_oracle: float = field(default=float("nan"))
    valid: torch.Tensor | None = None
    _digest: str | None = field(default=None, init=False, repr=False)

    def digest(self) -> str:
        """SHA-256 of the training and test sequences: a run resumes only on the very same split. Computed once (the
        split never changes), though every checkpoint records it."""
        if self._digest is None:
            import hashlib

            h = hashlib.sha256()
            for part in (self.train, self.test):
                h.update(part.cpu().contiguous().numpy().tobytes())
            self._digest = h.hexdigest()
        return self._digest

    @property
    def vocab_tokens(self) -> list[str] | None:
        """A text task's vocabulary (what checkpoints record beside G, to refuse a changed corpus); None on the oracle
        task."""
        return self.corpus.vocab.tokens if self.corpus is not None else None

    def decode(self, tokens: torch.Tensor) -> list[str]:
        if self.corpus is not None:
            return self.corpus.decode(tokens.cpu())
        return [" ".join(str(int(t)) for t in row) for row in tokens.cpu()]


VALID_SEED = 1_000_003  # offset of the validation sample's seed from the data seed


def data_seed(cfg: SeqGANConfig) -> int:
    """The seed of the task's data sample and split: ``task.data_seed``, or the run's seed."""
    return cfg.seed if cfg.task.data_seed is None else cfg.task.data_seed


def build_task(cfg: SeqGANConfig, device: torch.device) -> Task:
    """Build the oracle (official parameters or seeded random) and sample its train/test sets, or read the corpus."""
    seed = data_seed(cfg)
    if cfg.task.data is not None:
        corpus = load_corpus(
            CorpusConfig(
                source=cfg.task.data,
                seq_len=cfg.task.seq_len,
                level=cfg.task.text_level,
                lowercase=cfg.task.lowercase,
                max_vocab=cfg.task.max_vocab,
                min_freq=cfg.task.min_freq,
                long=cfg.task.long_sentences,
                seed=seed,
            ),
            min_sentences=max(cfg.env.num_envs, cfg.mle.batch_size) + 1,
        )
        train, valid = corpus.train, None
        if cfg.task.n_valid:  # validation sentences come out of the training split; the test split is untouched
            if cfg.task.n_valid > len(train) // 2:
                raise ValueError(
                    f"--task.n-valid {cfg.task.n_valid}: the corpus has {len(train)} training sentences; at most half "
                    f"of them ({len(train) // 2}) can be held out for validation"
                )
            train, valid = train[: -cfg.task.n_valid], train[-cfg.task.n_valid :]
        return Task(train, corpus.test, len(corpus.vocab), corpus=corpus, valid=valid)
    if cfg.task.oracle_params is not None:
        oracle = Oracle.from_params(cfg.task.oracle_params, seq_len=cfg.task.seq_len)
    else:
        oracle = Oracle(
            OracleConfig(vocab_size=cfg.task.vocab_size, seq_len=cfg.task.seq_len, seed=cfg.task.oracle_seed)
        )
    oracle.to(device)
    train, test = oracle.make_data(cfg.task.n_train, cfg.task.n_test, seed=seed)
    vocab = oracle.config.vocab_size
    uniform = torch.randint(
        0, vocab, (cfg.eval.samples, cfg.task.seq_len), generator=torch.Generator().manual_seed(cfg.seed)
    )
    valid = None
    if cfg.task.n_valid:  # its own stream, so train and test are those of a run without it
        valid = oracle.sample(cfg.task.n_valid, generator=torch.Generator(device=device).manual_seed(seed + VALID_SEED))
    return Task(train, test, vocab, oracle=oracle, random_nll_oracle=oracle.nll(uniform.to(device)), valid=valid)


def text_metrics(
    task: Task, gen: Generator, n_samples: int, seed: int, temperature: float = 1.0, refs: torch.Tensor | None = None
) -> dict[str, float]:
    """BLEU-2…4 of ``n_samples`` samples of ``gen`` at ``temperature`` against the references (default: the whole test
    split, as in the paper and Texygen), self-BLEU-2…4 among them, how they end (:func:`ending_stats`: the ``<eos>``
    rate and the length distribution), and on the music task the paper's MSE (:func:`seqgan_env.music.nearest_mse`)."""
    assert task.corpus is not None
    rng = torch.Generator(device=gen.device).manual_seed(seed)
    samples = gen.sample(n_samples, temperature=temperature, generator=rng).cpu()
    hyps = task.corpus.sentences(samples)
    ref_rows = task.corpus.sentences(task.test if refs is None else refs)
    metrics = ending_stats(samples, task.corpus.vocab.eos_id)
    metrics.update({f"bleu{k}": v for k, v in bleu(hyps, ref_rows, max_n=4).items()})
    metrics.update({f"self_bleu{k}": v for k, v in self_bleu(hyps, max_n=4).items()})
    if task.corpus.config.source == "music:folk":  # the paper's second music metric
        from seqgan_env.music import nearest_mse

        tokens = task.corpus.vocab.tokens
        metrics["mse"] = nearest_mse([[tokens[i] for i in h] for h in hyps], [[tokens[i] for i in r] for r in ref_rows])
    return metrics


def ending_stats(tokens: torch.Tensor, eos_id: int) -> dict[str, float]:
    """How sequences end: ``eos_rate``, the fraction that hold ``<eos>``, and their lengths in tokens before it (the
    whole row when there is none): ``len_mean``, ``len_std`` and ``len_p10`` / ``len_p90`` (10th and 90th
    percentiles)."""
    is_eos = tokens == eos_id
    has = is_eos.any(dim=1)
    lengths = torch.where(has, is_eos.int().argmax(dim=1), torch.full_like(has, tokens.shape[1], dtype=torch.long))
    lengths = lengths.double()
    p10, p90 = torch.quantile(lengths, torch.tensor([0.1, 0.9], dtype=torch.double)).tolist()
    return {"eos_rate": has.double().mean().item(), "len_mean": lengths.mean().item(),
            "len_std": lengths.std(unbiased=False).item(), "len_p10": p10, "len_p90": p90}  # fmt: skip


EOS_WARNING = 0.5
"""A text generator whose samples hold ``<eos>`` less often than this (every real sentence does) has stopped ending
its sentences: the run warns."""


def evaluate_generator(
    gen: Generator, task: Task, cfg: SeqGANConfig, cache: SampleCache | None = None
) -> dict[str, float]:
    """NLL-test (and NLL-valid with a validation split) and, on the oracle task, NLL-oracle, G's entropy and
    KL(G ‖ oracle) (per token, on ``cfg.eval.samples`` samples seeded by ``cfg.seed``, kept in ``cache`` for a D
    report of the same G); on text BLEU-2…4 and self-BLEU-2…4 (see :mod:`seqgan_env.metrics` for the definitions).
    Deterministic: the same G scores the same."""
    metrics = {"nll_test": nll_test(gen, task.test)}
    if task.valid is not None:
        metrics["nll_valid"] = nll_test(gen, task.valid)
    if task.oracle is not None:  # NLL-oracle, G's entropy and KL(G ‖ oracle) on the same samples
        metrics.update(oracle_metrics(task.oracle, gen, cfg.eval.samples, seed=cfg.seed, cache=cache))
    if task.corpus is not None:
        metrics.update(text_metrics(task, gen, min(cfg.eval.samples, 1000), seed=cfg.seed))
    return metrics


def generator_config(cfg: SeqGANConfig, task: Task) -> GeneratorConfig:
    """The generator's sizes; on real text, sequences end at the corpus's ``<eos>`` (padding after it)."""
    ends = {} if task.corpus is None else task.corpus.vocab.end_tokens
    return GeneratorConfig(
        vocab_size=task.vocab_size,
        seq_len=cfg.task.seq_len,
        emb_dim=cfg.generator.emb_dim,
        hidden_dim=cfg.generator.hidden_dim,
        **ends,
    )


def make_generator(
    cfg: SeqGANConfig, task: Task, state: dict[str, torch.Tensor] | None = None, device: torch.device | str = "cpu"
) -> Generator:
    """The run's generator (sizes from ``cfg`` and the task) on ``device``, holding ``state`` (e.g. a checkpoint's
    ``"generator"``) when given; in eval mode."""
    gen = Generator(generator_config(cfg, task)).to(device)
    if state is not None:
        gen.load_state_dict(state)
    return gen.eval()


def discriminator_config(
    cfg: SeqGANConfig, task: Task
) -> DiscriminatorConfig | PrefixDiscriminatorConfig | LMDiscriminatorConfig:
    """D's sizes: the per-prefix LSTM D with ``--env.reward-source prefix``, the full-vocabulary LM D (G's config,
    :func:`generator_config`: it starts as a copy of G) with ``lm``, else the CNN (``--disc.size``)."""
    kind = SOURCES[cfg.env.reward_source].discriminator
    if kind == "prefix":
        return PrefixDiscriminatorConfig(
            task.vocab_size, cfg.task.seq_len, emb_dim=cfg.disc.emb_dim, hidden_dim=cfg.disc.prefix_hidden_dim,
            dropout=cfg.disc.prefix_dropout, l2_reg=cfg.disc.prefix_l2, lr=cfg.disc.prefix_lr,
        )  # fmt: skip
    if kind == "lm":
        return LMDiscriminatorConfig(generator_config(cfg, task), lr=cfg.disc.lm_lr)
    make = DiscriminatorConfig.paper if cfg.disc.size == "paper" else DiscriminatorConfig.small
    return make(task.vocab_size, cfg.task.seq_len, emb_dim=cfg.disc.emb_dim, lr=cfg.disc.lr)


def build_discriminator(cfg: SeqGANConfig, task: Task) -> Discriminator | PrefixDiscriminator | LMDiscriminator:
    """An untrained D of the kind ``cfg`` uses for ``task`` (see :func:`discriminator_config`)."""
    config = discriminator_config(cfg, task)
    if isinstance(config, PrefixDiscriminatorConfig):
        return PrefixDiscriminator(config)
    if isinstance(config, LMDiscriminatorConfig):
        return LMDiscriminator(config)
    return Discriminator(config)


# ------------------------------------------------------------------------------------------------ run dir


@dataclass(frozen=True)
class Axes:
    """The quality metric of a task (y) and its diversity metric (x) for tables and plots."""

    quality: str
    quality_label: str
    lower_is_better: bool
    diversity: str
    diversity_label: str


ORACLE_AXES = Axes("nll_oracle", "NLL-oracle", True, "nll_test", "NLL-test")
TEXT_AXES = Axes("bleu4", "BLEU-4", False, "self_bleu4", "self-BLEU-4")
POEM_AXES = Axes("bleu2", "BLEU-2", False, "self_bleu2", "self-BLEU-2")

PAPER_REAL_DATA = {
    "poems": {"bleu2": (0.6670, 0.7389)},
    "sotu": {"bleu3": (0.519, 0.556), "bleu4": (0.416, 0.427)},
    "music": {"bleu4": (0.9210, 0.9406), "mse": (22.38, 20.62)},
}
"""The paper's real-data results (Yu et al., 2017, Tables 3–5): task → metric → (MLE, SeqGAN)."""


def task_family(source: str | None) -> str | None:
    """Which of the paper's real-data tasks a ``--task.data`` source is: ``poems``, ``sotu`` (speeches), ``music``."""
    if source is None:
        return None
    return next((f for f in ("poems", "sotu", "music") if source.startswith(f + ":")), None)


def text_axes(source: str | None) -> Axes:
    """The paper's metric of a real-data task on the y axis (BLEU-2 for poems, BLEU-4 otherwise), its self-BLEU."""
    return POEM_AXES if task_family(source) == "poems" else TEXT_AXES
