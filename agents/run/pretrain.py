"""The two pretraining phases of a run, G by maximum likelihood then D on real vs generated, and the start from
another run's pretraining (``--pretrained``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from agents.config import PRETRAIN_ONLY, SeqGANConfig, flag, get, preset_config, replace, uses_discriminator
from agents.run.checkpoint import load_checkpoint
from agents.run.progress import progress
from agents.run.recording import Checkpointer, Models, Recorder
from agents.run.rundir import Phase, checkpoint_at, saved_config
from agents.run.task import Task, data_seed
from seqgan_env.discriminator import LMDiscriminator, train_discriminator
from seqgan_env.generator import Generator, mle_step
from seqgan_env.metrics import nll_test
from seqgan_env.rewards import SOURCES


def train_mle_epoch(
    gen: Generator,
    optimizer: torch.optim.Optimizer,
    data: torch.Tensor,
    batch_size: int,
    rng: torch.Generator,
    max_grad_norm: float = 5.0,
) -> float:
    """One epoch of maximum-likelihood training (teacher forcing); returns the mean token NLL."""
    gen.train()
    perm = torch.randperm(len(data), generator=rng)
    total = 0.0
    for idx in torch.split(perm, batch_size):
        total += mle_step(gen, optimizer, data[idx], max_grad_norm) * len(idx)
    return total / len(data)


def d_kind(cfg: SeqGANConfig) -> str:
    """Which D a config trains: "prefix" (the LSTM D), "cnn", or "none" (a reward that reads no learned D)."""
    if not uses_discriminator(cfg):
        return "none"
    return "prefix" if SOURCES[cfg.env.reward_source].discriminator == "prefix" else "cnn"


MUST_MATCH = ("task.oracle_params", "task.oracle_seed", "task.vocab_size", "task.seq_len", "task.n_train",
              "task.n_test", "generator.emb_dim", "generator.hidden_dim", "disc.size", "disc.emb_dim")  # fmt: skip
"""What a run starting from another's pretraining must share with it (the D's sizes only when it loads that D)."""


def _same(path: str, a: Any, b: Any) -> bool:
    """Whether two values of field ``path`` agree: the oracle's file by where it resolves to, not by spelling."""
    if path == "task.oracle_params" and a is not None and b is not None:
        return os.path.realpath(a) == os.path.realpath(b)
    return a == b


def load_pretrained(cfg: SeqGANConfig) -> tuple[dict[str, Any], SeqGANConfig]:
    """The ``pretrained.pt`` of ``cfg.pretrained``, checked to match ``cfg``'s task and model sizes, and ``cfg`` with
    the pretraining's own settings (:data:`~agents.config.PRETRAIN_ONLY`) recorded from it."""
    path = Path(cfg.pretrained or "")
    ckpt = checkpoint_at(path, "pretrained")
    theirs = saved_config(ckpt)
    must_match = list(MUST_MATCH)
    if d_kind(theirs) != d_kind(cfg) or d_kind(cfg) == "none":  # its D is not loaded
        must_match = [k for k in must_match if not k.startswith("disc.")]
    diff = {k: (get(theirs, k), get(cfg, k)) for k in must_match if not _same(k, get(theirs, k), get(cfg, k))}
    if data_seed(theirs) != data_seed(cfg):
        diff["task.data_seed"] = (data_seed(theirs), data_seed(cfg))
    if diff:
        raise ValueError(f"--pretrained {path}: config differs in {diff} (saved, given); pass matching flags")
    preset = preset_config(cfg.preset)
    for k in PRETRAIN_ONLY:  # this run does no MLE: it records the pretraining it starts from, or refuses a clash
        if get(cfg, k) != get(theirs, k) and get(cfg, k) != get(preset, k):
            raise ValueError(
                f"{flag(k)} {get(cfg, k)}: this run starts from --pretrained {path}, whose pretraining used "
                f"{get(theirs, k)}; it runs no MLE of its own: drop the flag"
            )
    return ckpt, replace(cfg, {k: get(theirs, k) for k in PRETRAIN_ONLY})


def pretrain_generator(
    cfg: SeqGANConfig, task: Task, models: Models, rec: Recorder, ckpt: Checkpointer, start: int
) -> None:
    """MLE pretraining of G from epoch ``start``, evaluating every ``eval.every`` epochs and checkpointing after each
    evaluation; with ``mle.patience``, early stopping on validation NLL (G left at its best epoch)."""
    gen = models.gen
    if start == 0 and not rec.history:
        rec.record(Phase.MLE, 0, 0, rec.evaluate(gen))
    bar = progress(range(start, cfg.mle.epochs), desc="MLE pretraining", unit="epochs", disable=not cfg.progress,
                   initial=start, total=cfg.mle.epochs)  # fmt: skip
    stopper = EarlyStopping(cfg, task, ckpt) if cfg.mle.patience else None
    for epoch in bar:
        loss = train_mle_epoch(gen, models.gen_opt, task.train, cfg.mle.batch_size, models.rng)
        step = epoch + 1
        rec.logger.record("mle/loss", loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if step % cfg.eval.every == 0 or step == cfg.mle.epochs:
            row = rec.record(Phase.MLE, step, 0, rec.evaluate(gen))
            bar.set_postfix(loss=f"{loss:.3f}", nll_test=f"{row['nll_test']:.3f}")
            ckpt.save(Phase.MLE, step)
        if cfg.mle.keep_every and step % cfg.mle.keep_every == 0:
            ckpt.save_as(ckpt.rundir.mle_epoch_path(step), Phase.MLE, step)
        stop = stopper is not None and stopper.done(gen, step, rec, bar)
        rec.logger.dump(step=step)  # TensorBoard: mle/* against the epoch
        if stop:
            break
        ckpt.stop_if_interrupted(Phase.MLE, step)


class EarlyStopping:
    """Early stopping on validation NLL: G at its best epoch so far is kept (``RunDir.mle_best``, with that epoch and
    its NLL; a resumed run reads it back); after ``mle.patience`` epochs without improvement, or at the last epoch,
    G is loaded back from it and recorded as an MLE row (``best_epoch``; that row's ``nll_valid`` is the best one)."""

    def __init__(self, cfg: SeqGANConfig, task: Task, ckpt: Checkpointer) -> None:
        assert task.valid is not None
        self.cfg, self.valid, self.ckpt, self.path = cfg, task.valid, ckpt, ckpt.rundir.mle_best
        self.best: dict[str, Any] | None = load_checkpoint(self.path)["mle_best"] if self.path.exists() else None

    def done(self, gen: Generator, step: int, rec: Recorder, bar: Any) -> bool:
        """After epoch ``step``: whether the schedule should stop (G then holds the best epoch's weights)."""
        nll_valid = nll_test(gen, self.valid)
        rec.logger.record("mle/nll_valid", nll_valid)
        if self.best is None or nll_valid < self.best["nll_valid"]:
            self.best = {"epoch": step, "nll_valid": nll_valid}
            self.ckpt.save_as(self.path, Phase.MLE, step, mle_best=self.best)
        bar.set_postfix(nll_valid=f"{nll_valid:.3f}", best_epoch=self.best["epoch"])
        if step - self.best["epoch"] < self.cfg.mle.patience and step < self.cfg.mle.epochs:
            return False
        gen.load_state_dict(load_checkpoint(self.path)["generator"])
        rec.record(Phase.MLE, step, 0, {**rec.evaluate(gen), "best_epoch": self.best["epoch"]})  # its nll_valid: best
        self.ckpt.save(Phase.MLE, step)
        return True


def pretrain_discriminator(
    cfg: SeqGANConfig, task: Task, models: Models, rec: Recorder, ckpt: Checkpointer, start: int
) -> None:
    """Pretrain D from round ``start``: ``disc.pretrain_rounds`` rounds of fresh negatives, ``disc.pretrain_epochs``
    epochs each, D's quality reported and a checkpoint saved after each; at the end, the run's ``pretrained``
    checkpoint (the adversarial phase's start)."""
    gen, disc = models.gen, models.disc
    rounds = cfg.disc.pretrain_rounds if uses_discriminator(cfg) else 0  # a reward with no learned D trains none
    bar = progress(range(start, rounds), desc="D pretraining", unit="rounds", disable=not cfg.progress,
                   initial=start, total=rounds)  # fmt: skip
    if isinstance(disc, LMDiscriminator) and start == 0:  # q_φ starts as G: every logit 0
        disc.init_from(gen)
    for r in bar:
        fake = gen.sample(cfg.disc.negatives, generator=models.rng)
        loss = train_discriminator(
            disc, models.disc_opt, task.train, fake, cfg.disc.pretrain_epochs, cfg.disc.batch_size, models.rng
        )
        step = r + 1
        rec.logger.record("discriminator/pretrain_loss", loss)
        report = rec.d_report(disc, gen, Phase.D_PRETRAIN, step, 0)
        rec.logger.dump(step=step)
        bar.set_postfix(loss=f"{loss:.3f}", **({"acc": f"{report['accuracy']:.3f}"} if report else {}))
        ckpt.save(Phase.DISC, step)
        ckpt.stop_if_interrupted(Phase.DISC, step)
    ckpt.save(Phase.ADVERSARIAL, 0, also=ckpt.rundir.pretrained)
