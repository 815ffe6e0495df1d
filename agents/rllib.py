"""SeqGAN on Ray RLlib: PPO trains SeqGAN's own generator (:class:`seqgan_env.rllib.GeneratorRLModule`) on env
runners, while the driver retrains D and keeps every runner's D and rollout policy in sync.

What runs where: the **driver** (this process) holds the task (real data, oracle), D and its optimiser, a copy of
G for evaluation and D's negatives, and the rollout policy; after every training iteration it pulls the learner's
generator, retrains D every ``disc.retrain_every`` iterations (fresh negatives every round) and pushes D and the rollout
policy to every env runner through the object store. The **learner** (local to the driver unless RLlib is told
otherwise) runs PPO. The **env runners** step SeqGAN-v0 envs and compute Monte Carlo rewards. D retraining runs
inside ``algo.train()`` (``on_train_result``): the runners wait for it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import random
import shutil
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.algorithms.callbacks import delay_update
from agents.config import (
    SeqGANConfig,
    agent_config,
    flag,
    from_dict,
    get,
    ignored_by,
    ppo_sizes,
    preset_config,
    replace,
    to_dict,
    uses_discriminator,
)
from agents.run.checkpoint import atomic_write_json, load_checkpoint, save_checkpoint
from agents.run.pipeline import run
from agents.run.pretrain import load_pretrained
from agents.run.progress import progress
from agents.run.rundir import Phase, RunDir, report_seed
from agents.run.task import Task, build_discriminator, build_task, evaluate_generator, make_generator, seed_everything
from seqgan_env.discriminator import Discriminator, retrain_discriminator
from seqgan_env.env import resolve_device
from seqgan_env.generator import Generator
from seqgan_env.metrics import discriminator_report
from seqgan_env.optim import adam
from seqgan_env.rewards import SOURCES

UNUSED_BY_PPO = {k: "a REINFORCE setting (this is PPO)" for k in ignored_by("ppo")}
"""Settings an RLlib PPO run does not read: refused when set away from the preset's value (as in the SB3 runs)."""

NOT_ON_RLLIB = {
    "adv.match_mle_diversity": (False, "end-of-run tempering is implemented by the SB3 pipeline only"),
    "adv.mle_steps": (0, "interleaved MLE steps are implemented by the SB3 pipeline only"),
    "ppo.target_kl": (None, "RLlib's PPO has no KL early stop (its KL settings are a loss term, kept off)"),
    "ppo.advantage": ("critic", "RLlib always standardises advantages: the paper's un-centred Q_t weights cannot be "
                      "expressed (pass --ppo.advantage critic --ppo.reward-mode shaped)"),
}  # fmt: skip
"""Behaviour an RLlib run cannot honour: the only accepted value of each, and why. Refused whatever set it, a flag
or the preset (``--preset fast`` asks for ``--ppo.advantage q`` and end-of-run tempering)."""


RLLIB_SOURCES = ("rollout", "oracle", "perfect")
"""The reward sources an RLlib run honours: the paper's CNN D through rollouts, and the oracle task's exact rewards
(no D: nothing retrained, only the generator — and for ``perfect`` the rollout policy — pushed to the runners)."""

RESUME_FLAGS = frozenset({"resume", "adv.updates", "device", "progress"})
"""What a resumed RLlib run may set: it continues with its own config, ``--adv.updates`` growing it."""


def check_rllib_config(cfg: SeqGANConfig, num_env_runners: int, explicit: frozenset[str] | None = None) -> None:
    """Refuse, before any work, what an RLlib run would ignore and a bad ``num_env_runners``; with ``--resume``, any
    flag but :data:`RESUME_FLAGS` among ``explicit`` (the paths set on the command line)."""
    if isinstance(num_env_runners, bool) or not isinstance(num_env_runners, int) or num_env_runners < 0:
        raise ValueError(f"--num-env-runners must be an int >= 0, got {num_env_runners!r}")
    if cfg.resume is not None:
        extra = sorted(flag(k) for k in (explicit or frozenset()) - RESUME_FLAGS)
        if extra:
            raise ValueError(f"{', '.join(extra)}: a resumed RLlib run continues with its own config (only "
                             "--adv.updates may grow it)")  # fmt: skip
        return
    if cfg.agent != "ppo":
        raise ValueError(f"--agent {cfg.agent}: an RLlib run trains the PPO agent")
    preset = preset_config(cfg.preset)
    bad = [f"{flag(k)}: {why}" for k, why in UNUSED_BY_PPO.items() if get(cfg, k) != get(preset, k)]
    bad += [
        f"{flag(k)} {get(cfg, k)}"
        + (f" (from --preset {cfg.preset})" if get(cfg, k) == get(preset, k) else "")
        + f": {why}"
        for k, (ok, why) in NOT_ON_RLLIB.items()
        if get(cfg, k) != ok
    ]
    if cfg.env.reward_source not in RLLIB_SOURCES:
        bad.append(f"--env.reward-source {cfg.env.reward_source}: an RLlib run takes {', '.join(RLLIB_SOURCES)} (the "
                   "per-prefix and LM discriminators are trained by the SB3 pipeline only)")  # fmt: skip
    if bad:
        raise ValueError("; ".join(bad) + " — not possible in an RLlib run")


def runtime_env() -> dict[str, Any]:
    """Ray's ``runtime_env`` that ships the ``seqgan_env`` package (all that env runners and learners import) to
    every worker, so remote nodes need only Ray and the dependencies installed."""
    import seqgan_env

    return {"py_modules": [str(Path(seqgan_env.__file__).parent)]}


def ppo_config(cfg: SeqGANConfig, env_config: dict[str, Any], gen_config: Any, num_env_runners: int) -> Any:
    """RLlib ``PPOConfig`` with the project's PPO settings (what SB3's ``agents.algorithms.ppo.make_ppo`` uses):

    ============================  =============================================================
    project flag                  RLlib setting
    ============================  =============================================================
    ``--ppo.lr`` (+ schedule)     ``lr`` (``--adv.lr-schedule linear``: to 0 over the run's env steps)
    ``--ppo.clip-range``          ``clip_param``
    ``--adv.ent-coef``                ``entropy_coeff``
    ``--adv.max-grad-norm``           ``grad_clip`` by global norm
    ``--ppo.n-epochs``            ``num_epochs``
    ``--ppo.minibatch-size``          ``minibatch_size``
    ``--ppo.n-steps × --env.num-envs``  ``train_batch_size_per_learner`` (one iteration = one SB3 update)
    γ = λ = 1, SB3's vf_coef 0.5  ``gamma``, ``lambda_``, ``vf_loss_coeff``
    ============================  =============================================================

    Turned off because the SB3 run has no such thing: the KL loss (``use_kl_loss=False``) and the value-loss
    clipping (``vf_clip_param=inf``). One difference stays: RLlib standardises advantages over the whole train
    batch, SB3 per minibatch.
    """
    from ray.rllib.algorithms.ppo import PPOConfig

    from seqgan_env import rllib as seqgan_rllib

    n_steps, minibatch = ppo_sizes(cfg)
    batch = n_steps * cfg.env.num_envs
    lr: Any = cfg.ppo.lr
    if cfg.adv.lr_schedule == "linear":
        lr = [[0, cfg.ppo.lr], [cfg.adv.updates * batch, 0.0]]
    device = resolve_device(cfg.device)
    # the run's --env.num-envs sequences at a time, split over the runners; one SeqGANVectorEnv per runner (batched
    # rollouts) when every episode ends together, else Gymnasium's sync vector env over single envs (text corpora)
    envs_per_runner = -(-cfg.env.num_envs // max(num_env_runners, 1))
    vectorize = "vector_entry_point" if gen_config.eos_token is None else "sync"
    return (
        PPOConfig(algo_class=seqgan_rllib.SeqGANPPO)
        .environment(seqgan_rllib.register(), env_config=env_config)
        .env_runners(
            num_env_runners=num_env_runners, num_envs_per_env_runner=envs_per_runner, gym_env_vectorize_mode=vectorize
        )
        .learners(num_gpus_per_learner=1 if device.type == "cuda" else 0)
        .rl_module(rl_module_spec=seqgan_rllib.module_spec(gen_config, critic=True))
        .training(
            gamma=1.0,
            lambda_=1.0,
            lr=lr,
            clip_param=cfg.ppo.clip_range,
            entropy_coeff=cfg.adv.ent_coef,
            grad_clip=cfg.adv.max_grad_norm,
            grad_clip_by="global_norm",
            num_epochs=cfg.ppo.n_epochs,
            minibatch_size=minibatch,
            train_batch_size_per_learner=batch,
            use_kl_loss=False,
            kl_coeff=0.0,
            vf_loss_coeff=0.5,
            vf_clip_param=float("inf"),
        )
        .fault_tolerance(restart_failed_env_runners=True)
        .callbacks(seqgan_rllib.SeqGANCallback)
        .debugging(seed=cfg.seed, log_level="ERROR")  # the runners' errors reach the driver's log, not their chatter
    )


class RLlibDriver:
    """The driver side of an RLlib SeqGAN run (attached as ``algorithm.seqgan_driver``; see
    :class:`seqgan_env.rllib.SeqGANCallback`): D retraining and the push of D and the rollout policy."""

    def __init__(
        self,
        cfg: SeqGANConfig,
        task: Task,
        gen: Generator,
        disc: Discriminator | None,
        num_env_runners: int = 2,
        overlap_d: bool = False,
    ) -> None:
        from seqgan_env.rllib import PartsSync

        self.cfg, self.task, self.gen, self.disc = cfg, task, gen, disc
        self.d_opt = adam(disc.parameters(), lr=cfg.disc.lr) if disc is not None else None
        self.rollout = copy.deepcopy(gen).requires_grad_(False).eval()
        self.uses_policy = SOURCES[cfg.env.reward_source].uses_policy  # the env's rollout policy (rollout, perfect)
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.sync = PartsSync(local=num_env_runners == 0)
        self.check_before_sample = True  # False only to show what happens without the check (tests)
        self.overlap_d = overlap_d
        self._pending: Future[float] | None = None  # an overlapped D round (overlap_d)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seqgan-d") if overlap_d else None
        self.last_check: dict[str, int] = {}
        self.iteration = 0
        self.reports: list[dict[str, float]] = []  # D's reports not yet recorded by the run

    def state_dict(self) -> dict[str, Any]:
        """What the driver holds that the algorithm's checkpoint does not: D with its optimiser, the rollout policy,
        the negatives' RNG and the iteration count (D's reports are rows of the run's history)."""
        return {"discriminator": self.disc.state_dict() if self.disc is not None else None,
                "disc_optimizer": self.d_opt.state_dict() if self.d_opt is not None else None,
                "rollout_policy": self.rollout.state_dict(), "rng": self.rng.get_state(),
                "iteration": self.iteration}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.disc is not None and self.d_opt is not None:
            self.disc.load_state_dict(state["discriminator"])
            self.d_opt.load_state_dict(state["disc_optimizer"])
        self.rollout.load_state_dict(state["rollout_policy"])
        self.rng.set_state(state["rng"])
        self.iteration = int(state["iteration"])

    def start(self, algorithm: Any) -> None:
        """Attach to ``algorithm``, start the learner's (and runners') generator from ``self.gen`` and push D and
        the rollout policy to every runner."""
        from seqgan_env.rllib import load_learner_generator

        algorithm.seqgan_driver = self
        load_learner_generator(algorithm, self.gen.state_dict())
        self.sync.push(algorithm, self.disc, self.rollout if self.uses_policy else None, self.gen)

    def before_sample(self, algorithm: Any) -> None:
        """Every runner's parts against the driver's, the stale ones brought up to date (before each sample)."""
        if self.check_before_sample:
            self.last_check = self.sync.check(algorithm)
        else:
            self.last_check = {"runners": 0, "stale": 0, "version": self.sync.version}

    def after_iteration(self, algorithm: Any, result: dict[str, Any]) -> None:
        """Pull the learner's G; every ``disc.retrain_every`` iterations retrain D; update the rollout policy
        (θ_r ← β·θ_r + (1 − β)·θ); push them with G (a new version). Timings and the sync check of this iteration go
        to ``result["seqgan"]``: the runners checked before sampling, how many were stale (and repaired), the
        version they then held, and the lowest version an episode was sampled with (``sampled_version``).

        With ``overlap_d``, D's retraining runs in a thread of its own while the next iteration samples and learns,
        on a snapshot of this iteration's G: the round started after iteration k is pushed after iteration k + 1,
        so the runners score with a D one round older than without the overlap (``d_wait_s``: how long the driver
        still waited for it)."""
        from seqgan_env.rllib import learner_generator_state, sampled_version

        self.iteration += 1
        t0 = time.perf_counter()
        self.gen.load_state_dict(learner_generator_state(algorithm))
        retrain = self.disc is not None and self.iteration % self.cfg.disc.retrain_every == 0
        wait_s = d_s = 0.0
        new_d = False
        if self.overlap_d:
            if self._pending is not None:  # the round started after the previous iteration
                t_w = time.perf_counter()
                d_s = self._pending.result()
                wait_s, new_d, self._pending = time.perf_counter() - t_w, True, None
            if retrain:
                self._pending = self._pool.submit(self._retrain, copy.deepcopy(self.gen), self.iteration)
        elif retrain:
            d_s, new_d = self._retrain(self.gen, self.iteration), True
            wait_s = d_s
        delay_update(self.rollout, self.gen, self.cfg.env.rollout_beta)
        sampled = sampled_version(algorithm, local=self.sync.local)
        check = self.last_check
        self.sync.push(algorithm, self.disc if new_d else None, self.rollout if self.uses_policy else None, self.gen)
        result["seqgan"] = {
            "d_retrained": new_d, "d_retrain_s": d_s, "d_wait_s": wait_s, "driver_s": time.perf_counter() - t0,
            "sync_runners": check.get("runners", 0), "sync_stale": check.get("stale", 0),
            "sync_version": check.get("version", 0), "sampled_version": None if sampled is None else int(sampled),
            "sampled_in_sync": sampled is not None and int(sampled) == check.get("version"),
        }  # fmt: skip

    def _retrain(self, gen: Generator, iteration: int) -> float:
        """One retraining of D against samples of ``gen`` (fresh negatives every round), and D's report; seconds."""
        assert self.disc is not None
        assert self.d_opt is not None
        t_d = time.perf_counter()
        cfg = self.cfg.disc
        retrain_discriminator(self.disc, self.d_opt, self.task.train, gen, cfg.retrain_rounds, cfg.retrain_epochs,
                              cfg.negatives, cfg.batch_size, self.rng)  # fmt: skip
        d_s = time.perf_counter() - t_d
        if cfg.report_samples:
            report = discriminator_report(self.disc, gen, self.task.oracle, self.task.test, cfg.report_samples,
                                          seed=report_seed(self.cfg.seed, iteration))  # fmt: skip
            self.reports.append({f"d_{k}": v for k, v in report.items()})
        return d_s

    def settle(self, algorithm: Any | None = None) -> None:
        """Wait for an overlapped D round still running and, given ``algorithm``, push its D (before a checkpoint or
        the end: D's state is then the one the runners hold)."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None
            if algorithm is not None:
                self.sync.push(algorithm, self.disc)


class RLlibRun:
    """One RLlib SeqGAN run, step by step: ``RLlibRun(cfg, …)`` checks the flags, pretrains (or loads
    ``--pretrained``; or, with ``--resume``, reads the run's last checkpoint) and builds the task, G, D and the
    driver; :meth:`start` starts Ray and the algorithm; :meth:`iterate` runs one PPO iteration (checkpointing every
    ``eval.checkpoint_every`` and at the last); :meth:`finish` writes the results and stops Ray. :func:`train` runs
    it end to end.

    A checkpoint is the algorithm's own (``Algorithm.save_to_path``: learner weights and optimiser, env runner and
    connector states, counters) in ``checkpoints/rllib_algorithm_NNNNN/``, written to a temporary directory and
    renamed, then ``checkpoints/latest.pt`` naming it, with what lives on the driver: D and its optimiser, the
    rollout policy, the generator, every RNG, the history. The run directory is locked while a process writes it."""

    def __init__(
        self,
        cfg: SeqGANConfig,
        num_env_runners: int = 2,
        address: str | None = None,
        explicit: frozenset[str] | None = None,
        overlap_d: bool = False,
    ) -> None:
        check_rllib_config(cfg, num_env_runners, explicit)
        self.num_env_runners, self.address = num_env_runners, address
        self.resumed: dict[str, Any] | None = None
        if cfg.resume is not None:
            self.out = Path(cfg.resume)
            cfg, self.resumed = read_resume(cfg, explicit)
        if overlap_d and not uses_discriminator(cfg):
            raise ValueError(f"--overlap-d: --env.reward-source {cfg.env.reward_source} trains no D, so there is no D "
                             "retraining to overlap; drop it")  # fmt: skip
        if self.resumed is not None:
            self.pre_dir = Path(self.resumed["pretrained_dir"])
            gen_state, disc_state = self.resumed["generator"], self.resumed["driver"]["discriminator"]
        else:
            self.out = Path(
                cfg.run_dir or f"runs/rllib_ppo__{cfg.preset}__{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
            )
            if self.out.exists() and any(p != RunDir(self.out).pretrain_dir for p in self.out.iterdir()):
                raise FileExistsError(f"run directory {self.out} already exists: pass --resume {self.out} to continue "
                                      "it, or choose another --run-dir")  # fmt: skip
            self.pre_dir = Path(cfg.pretrained) if cfg.pretrained else RunDir(self.out).pretrain_dir
            if address is not None:  # a cluster too small for the runners: said before the pretraining, not after
                self._join_ray()
            if not cfg.pretrained:
                run(agent_config(replace(cfg, {"adv.updates": 0, "run_dir": str(self.pre_dir)}), "reinforce"))
            ckpt, cfg = load_pretrained(replace(cfg, {"pretrained": str(self.pre_dir)}))  # checked against its task
            gen_state, disc_state = ckpt["generator"], ckpt["discriminator"]
        self.cfg = cfg
        seed_everything(cfg.seed)
        device = resolve_device(cfg.device)
        self.task = task = build_task(cfg, device)
        gen = make_generator(cfg, task, gen_state, device)
        disc = None
        if uses_discriminator(cfg):  # the rollout reward's CNN D (oracle and perfect read none)
            disc = build_discriminator(cfg, task).to(device)
            disc.load_state_dict(disc_state)
        self.gen, self.disc = gen, disc
        self.driver = RLlibDriver(cfg, task, gen, disc, num_env_runners, overlap_d=overlap_d)
        self.env_config = env_config(cfg, task, gen, disc)
        self.rundir = RunDir(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rundir.lock()
        self.history: list[dict[str, Any]] = []
        if self.resumed is not None:
            self.driver.load_state_dict(self.resumed["driver"])
            self.history = list(self.resumed["history"])
            rngs = self.resumed["rngs"]
            torch.set_rng_state(rngs["torch"])
            np.random.set_state(rngs["numpy"])  # noqa: NPY002
            random.setstate(rngs["python"])
        else:
            atomic_write_json(self.rundir.config_json, {**to_dict(cfg), "trainer": "rllib",
                                                        "num_env_runners": num_env_runners})  # fmt: skip
        self.algo: Any = None
        self.saved_iteration = self.driver.iteration if self.resumed is not None else -1

    def _join_ray(self) -> None:
        """Start a local Ray, or join the cluster at ``address``, with :func:`runtime_env`; one error (and Ray left)
        when the cluster has fewer CPUs than the env runners need."""
        import ray

        # a local Ray gets a logical CPU per env runner (and one for the driver) even on fewer cores: the runners
        # then share the cores instead of waiting, forever, for CPUs that do not exist
        cpus = None if self.address is not None else max(os.cpu_count() or 1, self.num_env_runners + 1)
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=cpus, runtime_env=runtime_env(), include_dashboard=False,
                     log_to_driver=True)  # fmt: skip
            # Tune's env registry keys its entries by the first job's id and keeps it: a process that joins a
            # cluster again is a new job, whose runners would miss the env (and fall back to gymnasium.make)
            from ray.tune.registry import _global_registry

            _global_registry._prefix = None
        have = ray.cluster_resources().get("CPU", 0)
        if self.num_env_runners > have:
            ray.shutdown()
            raise ValueError(
                f"--num-env-runners {self.num_env_runners}: the Ray cluster at {self.address} has "
                f"{have:g} CPUs and each env runner takes one: it would wait for them forever"
            )

    def start(self) -> None:
        """Start (or join) Ray (:meth:`_join_ray`), build the algorithm (restored from the checkpoint when
        resuming), start the learner's generator from G, push D, the rollout policy and G, and evaluate (iteration 0
        of a new run)."""
        self._join_ray()
        self.algo = ppo_config(self.cfg, self.env_config, self.gen.config, self.num_env_runners).build_algo()
        if self.resumed is not None:
            self.algo.restore_from_path(str(self.rundir.checkpoint_dir(self.resumed["algorithm"]).resolve()))
        self.driver.start(self.algo)
        if self.resumed is None:
            start = evaluate_generator(self.gen, self.task, self.cfg)
            self.history = [{"phase": Phase.ADVERSARIAL, "step": 0, "timesteps": 0, "wall_s": 0.0, **start}]
        self._t0 = time.perf_counter() - (self.history[-1].get("wall_s", 0.0) if self.history else 0.0)

    @property
    def remaining(self) -> int:
        """Iterations left to ``adv.updates``."""
        return max(self.cfg.adv.updates - self.driver.iteration, 0)

    def iterate(self) -> dict[str, Any]:
        """One PPO iteration (sampling, learning, the driver's D retraining and pushes); evaluated every
        ``eval.every`` iterations and at the last; checkpointed every ``eval.checkpoint_every`` and at the last."""
        t_it = time.perf_counter()
        result = self.algo.train()
        it = self.driver.iteration
        timesteps, wall = int(result.get("num_env_steps_sampled_lifetime", 0)), time.perf_counter() - self._t0
        at = {"step": it, "timesteps": timesteps, "wall_s": round(wall, 2)}
        row: dict[str, Any] = {"phase": Phase.ADVERSARIAL, **at, "iteration_s": time.perf_counter() - t_it,
                               **result["seqgan"]}  # fmt: skip
        if it % self.cfg.eval.every == 0 or it == self.cfg.adv.updates:
            row.update(evaluate_generator(self.gen, self.task, self.cfg))
        checkpoint = it % self.cfg.eval.checkpoint_every == 0 or it == self.cfg.adv.updates
        if checkpoint:  # an overlapped D round lands first: the checkpoint holds the D the runners do
            self.driver.settle(self.algo)
        self.history += [*self._reports(at), row]
        self.rundir.write_metrics(self.history)  # the run so far (no summary yet)
        if checkpoint:
            self.save()
        return row

    def _reports(self, at: dict[str, Any]) -> list[dict[str, Any]]:
        """D's reports since the last call, as ``d_round`` history rows at ``at`` (step, timesteps, wall), as in SB3
        runs."""
        rows = [{"phase": Phase.D_ROUND, **at, **r} for r in self.driver.reports]
        self.driver.reports.clear()
        return rows

    def save(self) -> None:
        """Checkpoint the run (see the class docstring): the algorithm's directory first, then ``latest.pt`` naming
        it, then the older algorithm directories removed — a crash at any point leaves a consistent pair."""
        self.driver.settle(self.algo)  # an overlapped D round lands first: the checkpoint holds the D the runners do
        it = self.driver.iteration
        name = f"rllib_algorithm_{it:05d}"
        final = self.rundir.checkpoint_dir(name)
        tmp = final.with_name(f".{name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        self.rundir.checkpoints.mkdir(parents=True, exist_ok=True)
        self.algo.save_to_path(str(tmp.resolve()))
        os.replace(tmp, final)
        save_checkpoint(self.rundir.latest, {
            "config": to_dict(self.cfg), "generator": self.gen.state_dict(), "vocab": self.task.vocab_tokens,
            "rllib": {"algorithm": name, "driver": self.driver.state_dict(), "history": self.history,
                      "pretrained_dir": str(self.pre_dir), "rngs": {"torch": torch.get_rng_state(),
                      "numpy": np.random.get_state(), "python": random.getstate()}},  # noqa: NPY002
        })  # fmt: skip
        for old in self.rundir.checkpoints.glob("rllib_algorithm_*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        self.saved_iteration = it

    def runners_in_sync(self) -> bool:
        """Whether every env of every env runner holds the driver's D and rollout policy (those its reward source
        reads) and every runner's policy module the learner's generator (an error over no runner)."""
        from seqgan_env import rllib as seqgan_rllib

        held = seqgan_rllib.runner_parts(self.algo, local=self.num_env_runners == 0)
        rollout = self.driver.rollout if self.driver.uses_policy else None
        return seqgan_rllib.parts_match(held, self.disc, rollout, self.gen)

    def finish(self) -> dict[str, Any]:
        """Check the runners' sync, stop the algorithm and Ray, write metrics.json (the final generator is in the
        last checkpoint, ``checkpoints/latest.pt``)."""
        import ray

        try:
            self.driver.settle(self.algo)
            last = self.history[-1]
            self.history += self._reports({k: last[k] for k in ("step", "timesteps", "wall_s")})
            in_sync = self.runners_in_sync()
            if self.saved_iteration != self.driver.iteration:  # stopped before --adv.updates: checkpoint where it is
                self.save()
        finally:
            self.algo.stop()
            ray.shutdown()
        summary = self.results(in_sync)
        self.rundir.write_metrics(self.history, summary)
        self.rundir.unlock()
        return summary

    def results(self, in_sync: bool | None) -> dict[str, Any]:
        """The run's summary, as metrics.json holds it beside the history (the SB3 runs' schema): the final
        evaluation, the sync check, the timings (per iteration, with D's retraining and its share)."""
        timed = [r for r in self.history if "iteration_s" in r]
        it_s = sum(r["iteration_s"] for r in timed) / max(len(timed), 1)
        d_s = sum(r["d_retrain_s"] for r in timed) / max(len(timed), 1)
        wait_s = sum(r.get("d_wait_s", r["d_retrain_s"]) for r in timed) / max(len(timed), 1)
        evals = [r for r in self.history if r["phase"] == Phase.ADVERSARIAL and "nll_test" in r]
        skip = {"phase", "step", "timesteps", "wall_s", "iteration_s"}
        final = {f"final_{k}": v for k, v in evals[-1].items() if k not in skip and not k.startswith(("d_", "sync_",
                 "sampled_", "driver_"))} if evals else {}  # fmt: skip
        return {
            "trainer": "rllib", "agent": "ppo", "run_dir": str(self.out), "num_env_runners": self.num_env_runners,
            "pretrained": str(self.pre_dir), "iterations": self.driver.iteration, **final,
            "runners_in_sync": in_sync, "mean_iteration_s": it_s, "mean_d_retrain_s": d_s, "mean_d_wait_s": wait_s,
            "d_share": wait_s / it_s if it_s else 0.0,  # of an iteration, the runners waiting for D
        }  # fmt: skip

    def close(self) -> None:
        """Stop the algorithm and Ray without writing results (after an error)."""
        import ray

        self.driver.settle()
        if self.algo is not None:
            self.algo.stop()
        ray.shutdown()
        self.rundir.unlock()


def env_config(cfg: SeqGANConfig, task: Task, gen: Generator, disc: Discriminator | None) -> dict[str, Any]:
    """The runners' ``env_config`` (:func:`seqgan_env.rllib.env_creator`): the task's sizes, the reward source and
    what it reads — D's and the rollout policy's sizes, or the oracle (its file, or the seed every runner builds it
    from)."""
    out: dict[str, Any] = {
        "vocab_size": task.vocab_size, "seq_len": cfg.task.seq_len, "reward_source": cfg.env.reward_source,
        "reward_mode": cfg.ppo.reward_mode,
        "generator_config": dataclasses.asdict(gen.config),  # carries a corpus's <eos>/<pad> to the runners
    }  # fmt: skip
    if disc is not None:
        d_cfg = dataclasses.asdict(disc.config)
        out["discriminator_config"] = {k: d_cfg[k] for k in ("emb_dim", "filter_sizes", "num_filters", "dropout")}
        out["d_reward"] = cfg.env.d_reward
    if cfg.env.reward_source == "rollout":
        out["n_rollouts"] = cfg.env.n_rollouts
    if SOURCES[cfg.env.reward_source].needs_oracle:
        assert task.oracle is not None
        c = task.oracle.config
        where = {"params_path": cfg.task.oracle_params} if cfg.task.oracle_params else {"seed": cfg.task.oracle_seed}
        out["oracle_config"] = {**where, "emb_dim": c.emb_dim, "hidden_dim": c.hidden_dim}
    return out


def read_resume(cfg: SeqGANConfig, explicit: frozenset[str] | None) -> tuple[SeqGANConfig, dict[str, Any]]:
    """The saved config of the RLlib run ``cfg.resume`` (``--adv.updates`` grown when given) and what its last
    checkpoint holds for resuming; one clear error for a directory that is not such a run."""
    run_dir = RunDir(cfg.resume or "")
    if not run_dir.path.is_dir():
        raise FileNotFoundError(f"--resume {run_dir.path}: no such run directory")
    if not run_dir.config_json.is_file():
        raise FileNotFoundError(f"--resume {run_dir.path}: no config.json there (not a run directory)")
    saved = json.loads(run_dir.config_json.read_text())
    if saved.pop("trainer", None) != "rllib":
        raise ValueError(f"--resume {run_dir.path}: not an RLlib run (resume it with the script that made it)")
    saved.pop("num_env_runners", None)
    if not run_dir.latest.is_file():
        raise FileNotFoundError(f"--resume {run_dir.path}: no checkpoint yet (it stopped before its first); delete "
                                "the directory and start again")  # fmt: skip
    ckpt = load_checkpoint(run_dir.latest)
    if "rllib" not in ckpt:
        raise ValueError(f"--resume {run_dir.path}: its checkpoint holds the final generator only (written before "
                         "RLlib runs were resumable)")  # fmt: skip
    state = {**ckpt["rllib"], "generator": ckpt["generator"]}
    done = int(state["driver"]["iteration"])
    out = from_dict(saved)
    if explicit is not None and "adv.updates" in explicit:
        if cfg.adv.updates < done:
            raise ValueError(f"--adv.updates {cfg.adv.updates}: the run has done {done} iterations already; a resume "
                             "cannot shrink it")  # fmt: skip
        out = replace(out, {"adv.updates": cfg.adv.updates})
    return replace(out, {"device": cfg.device, "progress": cfg.progress}), state


def train(
    cfg: SeqGANConfig,
    num_env_runners: int = 2,
    address: str | None = None,
    explicit: frozenset[str] | None = None,
    overlap_d: bool = False,
) -> dict[str, Any]:
    """Pretrain (or load ``--pretrained``), then ``cfg.adv.updates`` RLlib PPO iterations of the generator with D
    retrained on the driver; evaluations every ``eval.every`` iterations (and at 0 and the end) from the learner's
    generator. Writes ``config.json``, ``metrics.json`` and ``checkpoints/`` (``latest.pt`` holds the generator, for
    ``seqgan_env.load_generator``) into the run directory and returns the metrics. With ``--resume RUN`` it
    continues RUN from its last checkpoint up to ``--adv.updates`` (default: the run's own). ``overlap_d``: retrain
    D while the runners sample (:meth:`RLlibDriver.after_iteration`)."""
    session = RLlibRun(cfg, num_env_runners, address, explicit, overlap_d)
    if session.resumed is not None and session.remaining == 0:
        session.rundir.unlock()
        print(f"nothing to do: {session.out} has done {session.driver.iteration} of its {session.cfg.adv.updates} "
              "iterations (pass a larger --adv.updates to grow it)", file=sys.stderr)  # fmt: skip
        return session.results(None)
    try:
        session.start()
        done, total = session.driver.iteration, session.cfg.adv.updates
        bar = progress(
            range(done, total),
            desc="RLlib PPO",
            unit="iterations",
            total=total,
            initial=done,
            disable=not session.cfg.progress,
        )  # fmt: skip (plain lines when not on a terminal)
        for _ in bar:
            row = session.iterate()
            bar.set_postfix(**{k: f"{row[k]:.3f}" for k in ("nll_oracle", "nll_test") if k in row})
    except BaseException:
        session.close()
        raise
    return session.finish()
