"""The two pretraining phases of a run, G by maximum likelihood then D on real vs generated, and the start from
another run's pretraining (``--pretrained``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from agents.checkpoint import load_checkpoint, save_checkpoint
from agents.config import PRETRAIN_ONLY, SeqGANConfig, flag, get, preset_config, replace, uses_discriminator
from agents.progress import progress
from agents.rundir import Phase, checkpoint_at, saved_config
from agents.task import data_seed
from seqgan_env.discriminator import LMDiscriminator, train_discriminator
from seqgan_env.generator import Generator, mle_step
from seqgan_env.metrics import nll_test
from seqgan_env.rewards import SOURCES

if TYPE_CHECKING:
    from agents.pipeline import Pipeline


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
    ckpt = checkpoint_at(path, "pretrained.pt")
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


def pretrain_generator(pipe: Pipeline) -> None:
    """MLE pretraining of G, evaluating every ``eval.every`` epochs and checkpointing after each evaluation."""
    cfg = pipe.cfg
    if pipe.phase != Phase.MLE:
        return
    if pipe.step == 0 and not pipe.history:
        pipe.record(Phase.MLE, 0, 0, pipe.evaluate())
    bar = progress(range(pipe.step, cfg.mle.epochs), desc="MLE pretraining", unit="epochs", disable=not cfg.progress,
                   initial=pipe.step, total=cfg.mle.epochs)  # fmt: skip
    for epoch in bar:
        loss = train_mle_epoch(pipe.gen, pipe.gen_opt, pipe.task.train, cfg.mle.batch_size, pipe.rng)
        pipe.step = epoch + 1
        pipe.logger.record("mle/loss", loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if pipe.step % cfg.eval.every == 0 or pipe.step == cfg.mle.epochs:
            row = pipe.record(Phase.MLE, pipe.step, 0, pipe.evaluate())
            bar.set_postfix(loss=f"{loss:.3f}", nll_test=f"{row['nll_test']:.3f}")
            pipe.checkpoint()
        if cfg.mle.keep_every and pipe.step % cfg.mle.keep_every == 0:
            save_checkpoint(pipe.rundir.mle_epoch_path(pipe.step), pipe.state())
        stop = bool(cfg.mle.patience) and _early_stop(pipe, bar)
        pipe.logger.dump(step=pipe.step)  # TensorBoard: mle/* against the epoch
        if stop:
            break
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = Phase.DISC, 0


def _early_stop(pipe: Pipeline, bar: Any) -> bool:
    """Early stopping on validation NLL: keep G at its best epoch (``RunDir.mle_best``, with that epoch and its NLL);
    after ``mle.patience`` epochs without improvement, or at the last epoch, load it back, record it as an MLE row
    (``best_epoch``; the evaluation's ``nll_valid`` is the best one) and return True when the schedule should stop."""
    cfg, path = pipe.cfg, pipe.rundir.mle_best
    assert pipe.task.valid is not None
    nll_valid = nll_test(pipe.gen, pipe.task.valid)
    pipe.logger.record("mle/nll_valid", nll_valid)
    if pipe.mle_best is None and path.exists():  # resumed: the best so far is on disk
        pipe.mle_best = load_checkpoint(path)["mle_best"]
    best = pipe.mle_best
    if best is None or nll_valid < best["nll_valid"]:
        best = pipe.mle_best = {"epoch": pipe.step, "nll_valid": nll_valid}
        save_checkpoint(path, {**pipe.state(), "mle_best": best})
    bar.set_postfix(nll_valid=f"{nll_valid:.3f}", best_epoch=best["epoch"])
    if pipe.step - best["epoch"] < cfg.mle.patience and pipe.step < cfg.mle.epochs:
        return False
    pipe.gen.load_state_dict(load_checkpoint(path)["generator"])
    pipe.record(Phase.MLE, pipe.step, 0, {**pipe.evaluate(), "best_epoch": best["epoch"]})  # its nll_valid: the best
    pipe.checkpoint()
    return True


def pretrain_discriminator(pipe: Pipeline) -> None:
    """Pretrain D: ``disc.pretrain_rounds`` rounds of fresh negatives, ``disc.pretrain_epochs`` epochs each."""
    cfg = pipe.cfg
    if pipe.phase != Phase.DISC:
        return
    rounds = cfg.disc.pretrain_rounds if uses_discriminator(cfg) else 0  # a reward with no learned D trains none
    bar = progress(range(pipe.step, rounds), desc="D pretraining", unit="rounds", disable=not cfg.progress,
                   initial=pipe.step, total=rounds)  # fmt: skip
    if isinstance(pipe.disc, LMDiscriminator) and pipe.step == 0:  # q_φ starts as G: every logit 0
        pipe.disc.init_from(pipe.gen)
    for r in bar:
        fake = pipe.gen.sample(cfg.disc.negatives, generator=pipe.rng)
        loss = train_discriminator(
            pipe.disc, pipe.disc_opt, pipe.task.train, fake, cfg.disc.pretrain_epochs, cfg.disc.batch_size, pipe.rng
        )
        pipe.step = r + 1
        pipe.logger.record("discriminator/pretrain_loss", loss)
        report = pipe.d_report(Phase.D_PRETRAIN, pipe.step, 0)
        pipe.logger.dump(step=pipe.step)
        bar.set_postfix(loss=f"{loss:.3f}", **({"acc": f"{report['accuracy']:.3f}"} if report else {}))
        pipe.checkpoint()
        pipe.stop_if_interrupted()
    pipe.phase, pipe.step = Phase.ADVERSARIAL, 0
    pipe.checkpoint(also=pipe.rundir.pretrained)
