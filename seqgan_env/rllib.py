"""SeqGAN-v0 under Ray RLlib (new API stack): the env creator, an RLModule whose policy IS the
:class:`~seqgan_env.Generator`, and the driver-to-runner sync of the discriminator and rollout policy.

What runs where (``agents.rllib`` drives it; requires ``pip install -e ".[ray]"``):

- **env runners** (remote actors) build SeqGAN-v0 envs with :func:`env_creator` (RLlib hands them one config
  dict; Gymnasium's registry does not reach them). Each env holds its own copy of D and of the rollout policy and
  computes the Monte Carlo rewards; the runner's :class:`GeneratorRLModule` (inference only: no critic) picks tokens.
- **the learner** updates :class:`GeneratorRLModule` (actor = G, critic = a separate LSTM copy + linear head, so
  the value loss never moves G).
- **the driver** holds D, its optimiser, the real data and the oracle; it retrains D and pushes the weights of D,
  of the rollout policy and of the generator with :class:`PartsSync` (one ``ray.put`` per part, a version per push,
  recorded on each runner). :class:`SeqGANPPO` starts every training step with the driver's check, so a runner
  holding another version — restarted since, whoever restarted it — is brought up to date before it samples.
  :class:`SeqGANCallback` (module level, so RLlib pickles nothing but its name into the runners' config) asks the
  driver-side object attached to the algorithm (``algorithm.seqgan_driver``) to act after each training iteration,
  re-pushes every part to env runners RLlib recreated after a failure, and has each runner note the version its
  episodes were sampled with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

import gymnasium as gym
import numpy as np
import ray
import torch
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis import InferenceOnlyAPI, ValueFunctionAPI
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch import TorchRLModule
from ray.tune.registry import register_env

from seqgan_env.discriminator import Discriminator, DiscriminatorConfig
from seqgan_env.env import SeqGANEnv, SeqGANVectorEnv
from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.oracle import Oracle, OracleConfig
from seqgan_env.rewards import SOURCES

ENV_NAME = "SeqGAN-v0"
ENV_KEYS = ("vocab_size", "seq_len", "n_rollouts", "reward_mode", "d_reward", "device", "reward_source")
SYNC_TIMEOUT_S = 120.0
"""Seconds a weight push waits for every env runner (never 0: RLlib skips a 0 s sync while another is in flight)."""


def env_creator(config: dict[str, Any]) -> gym.Env:
    """Build one SeqGAN-v0 env from an RLlib ``env_config`` dict.

    The observation (the padded prefix) is cast to float32, which RLlib's connectors expect.

    Keys: the env kwargs ``vocab_size``, ``seq_len``, ``n_rollouts``, ``reward_mode``, ``d_reward``, ``device``, plus
    ``generator_config`` / ``discriminator_config`` (dicts of :class:`GeneratorConfig` /
    :class:`DiscriminatorConfig` kwargs) for the rollout policy and the discriminator, and ``reward_source`` with
    ``oracle_config`` (a dict of :class:`~seqgan_env.oracle.OracleConfig` kwargs: ``params_path`` of the official
    oracle, or ``seed`` of a random one; every runner builds the same oracle) for the oracle task's rewards:
    ``reward_source="oracle"`` needs no D, no G and no weight pushes, so any RLlib algorithm can train on it.
    A text corpus's ``<eos>``/``<pad>`` reach the env as the rollout policy's ``eos_token``/``pad_token``. With
    ``num_envs`` (what RLlib passes with ``gym_env_vectorize_mode="vector_entry_point"``) it builds one
    :class:`SeqGANVectorEnv` of that many sequences, whose rollouts are batched, with RLlib's next-step autoreset.
    """
    config = dict(config)
    allowed = [*ENV_KEYS, "generator_config", "discriminator_config", "oracle_config", "num_envs"]
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"unknown SeqGAN-v0 env_config keys {unknown}; allowed: {allowed}")
    kwargs = {k: config[k] for k in ENV_KEYS if k in config}
    vocab, seq_len = kwargs.setdefault("vocab_size", 5000), kwargs.setdefault("seq_len", 20)
    source = SOURCES.get(kwargs.get("reward_source", "rollout"))  # None: unknown, the env names the allowed ones
    if source is not None and source.needs_oracle:
        oracle_cfg = {**config.get("oracle_config", {}), "vocab_size": vocab, "seq_len": seq_len}
        kwargs["oracle"] = Oracle(OracleConfig(**oracle_cfg))
    elif "oracle_config" in config:
        raise ValueError("oracle_config is read only with reward_source 'perfect' or 'oracle'")
    # only the parts the reward source reads (the per-prefix D is the env's own default)
    policy, disc = None, None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        if source is None or source.uses_policy:
            policy = Generator(GeneratorConfig(**{**config.get("generator_config", {}), "vocab_size": vocab,
                                                  "seq_len": seq_len}))  # fmt: skip
        if source is None or source.discriminator == "sequence":
            disc_cfg = {**config.get("discriminator_config", {}), "vocab_size": vocab, "seq_len": seq_len}
            if "filter_sizes" not in disc_cfg:
                paper = DiscriminatorConfig.paper(vocab, seq_len)
                disc_cfg.update(filter_sizes=paper.filter_sizes, num_filters=paper.num_filters)
            disc = Discriminator(DiscriminatorConfig(**disc_cfg))
    if "num_envs" in config:
        venv = SeqGANVectorEnv(
            num_envs=int(config["num_envs"]), discriminator=disc, rollout_policy=policy, autoreset_mode="next_step",
            **kwargs,
        )  # fmt: skip
        return gym.wrappers.vector.DtypeObservation(venv, np.float32)
    env = SeqGANEnv(discriminator=disc, rollout_policy=policy, **kwargs)
    return gym.wrappers.DtypeObservation(env, np.float32)


def register(name: str = ENV_NAME) -> str:
    """Register :func:`env_creator` with Ray Tune's registry under ``name``; returns the name."""
    register_env(name, env_creator)
    return name


def cpu_state(module: torch.nn.Module, numpy: bool = False) -> dict[str, Any]:
    """``module``'s weights on the CPU, detached (as numpy arrays if ``numpy``): what travels between processes."""
    return {k: (v.detach().cpu().numpy() if numpy else v.detach().cpu()) for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------------------------- the RLModule
class GeneratorRLModule(TorchRLModule, ValueFunctionAPI, InferenceOnlyAPI):
    """RLlib's policy module for SeqGAN-v0 whose actor IS :class:`Generator`: π(· | prefix) = G(· | prefix).

    ``model_config``: ``generator_config`` (a dict of :class:`GeneratorConfig` kwargs; vocab and length must
    match the env) and ``critic`` (default True: a separate LSTM copy + linear value head, built only on the
    learner; False: every value is 0). The counterpart of SB3's ``GeneratorActorCriticPolicy``.
    """

    def setup(self) -> None:
        cfg = dict(self.model_config.get("generator_config") or {})
        vocab, seq_len = int(self.action_space.n), int(self.observation_space.shape[0])
        cfg.setdefault("vocab_size", vocab)
        cfg.setdefault("seq_len", seq_len)
        if (cfg["vocab_size"], cfg["seq_len"]) != (vocab, seq_len):
            raise ValueError(
                f"generator_config has vocab_size={cfg['vocab_size']}, seq_len={cfg['seq_len']}; the env needs "
                f"vocab_size={vocab}, seq_len={seq_len}"
            )
        self.generator = Generator(GeneratorConfig(**cfg))
        self.use_critic = bool(self.model_config.get("critic", True))
        if self.use_critic and not self.inference_only:
            self.critic = Generator(GeneratorConfig(**cfg))
            self.value_head = torch.nn.Linear(self.generator.config.hidden_dim, 1)

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {Columns.ACTION_DIST_INPUTS: self.generator.next_token_logits(batch[Columns.OBS])}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        obs = batch[Columns.OBS]
        if not self.use_critic:
            return obs.new_zeros(obs.shape[0])
        return self.value_head(self.critic.prefix_hidden(obs)).squeeze(-1)

    def get_non_inference_attributes(self) -> list[str]:
        return ["critic", "value_head"] if self.use_critic else []

    def load_generator_state(self, state_dict: dict[str, Any]) -> None:
        """Start the actor (and the critic's LSTM) from the same (e.g. MLE-pretrained) generator weights."""
        state = {k: torch.as_tensor(np.asarray(v)) for k, v in state_dict.items()}
        self.generator.load_state_dict(state)
        if hasattr(self, "critic"):
            self.critic.load_state_dict(state)


def module_spec(generator_config: GeneratorConfig, critic: bool = True) -> Any:
    """An ``RLModuleSpec`` for :class:`GeneratorRLModule` with ``generator_config``'s sizes."""
    return RLModuleSpec(
        module_class=GeneratorRLModule,
        model_config={"generator_config": asdict(generator_config), "critic": critic},
    )


def learner_generator_state(algorithm: Any) -> dict[str, torch.Tensor]:
    """The generator weights the (first) learner holds now: the policy being trained."""

    def fetch(learner: Any) -> dict[str, torch.Tensor]:
        return cpu_state(learner.module[DEFAULT_MODULE_ID].generator)

    return next(iter(algorithm.learner_group.foreach_learner(fetch))).get()


def load_learner_generator(algorithm: Any, state_dict: dict[str, torch.Tensor]) -> None:
    """Load ``state_dict`` into every learner's generator (and critic LSTM), then push the module to every env
    runner, waiting up to :data:`SYNC_TIMEOUT_S` (a 0 s sync can be skipped while another is in flight)."""
    ref = ray.put({k: v.detach().cpu() for k, v in state_dict.items()})
    results = algorithm.learner_group.foreach_learner(
        lambda learner: learner.module[DEFAULT_MODULE_ID].load_generator_state(ray.get(ref))
    )
    for r in results:
        r.get()  # re-raises a learner's error
    algorithm.env_runner_group.sync_weights(
        from_worker_or_learner_group=algorithm.learner_group, inference_only=True, timeout_seconds=SYNC_TIMEOUT_S
    )


# --------------------------------------------------------------------------------------------- D / rollout sync
def _seqgan_envs(env: Any) -> Iterator[SeqGANEnv | SeqGANVectorEnv]:
    """Every SeqGAN-v0 env (single or vector) inside an env runner's env."""
    stack = [env]
    while stack:
        e = stack.pop()
        if isinstance(e, (SeqGANEnv, SeqGANVectorEnv)):
            yield e
            continue
        for attr in ("envs", "env", "unwrapped"):
            inner = getattr(e, attr, None)
            if inner is None or inner is e:
                continue
            if isinstance(inner, (list, tuple)):
                stack.extend(inner)
            else:
                stack.append(inner)
            break


def set_parts_on_runner(
    env_runner: Any,
    disc_state: dict | None,
    policy_state: dict | None,
    generator_state: dict | None = None,
    version: int | None = None,
) -> int:
    """Load the given weights into every SeqGANEnv of ``env_runner`` (D, rollout policy) and into its policy module
    (the generator), and record the driver's ``version`` of them on the runner; returns how many envs were
    updated."""
    n = 0
    for env in _seqgan_envs(getattr(env_runner, "env", None)):
        if disc_state is not None:
            env.core.discriminator.load_state_dict(disc_state)  # type: ignore[attr-defined]
        if policy_state is not None:
            env.core.rollout_policy.load_state_dict(policy_state)
            env.core.set_rollout_policy(env.core.rollout_policy)
        n += 1
    module = getattr(env_runner, "module", None)
    if generator_state is not None and module is not None:
        module.load_generator_state(generator_state)
    if version is not None:
        env_runner.seqgan_version = version
    return n


def take_sampled_version(env_runner: Any) -> int | None:
    """The lowest version of the driver's parts the runner's episodes were sampled with since the last call (None:
    no episode ended), and forget it."""
    return env_runner.__dict__.pop("seqgan_sampled", None)


def sampled_version(algorithm: Any, local: bool = False) -> int | None:
    """The lowest version any runner's episodes were sampled with since the last call (see
    :func:`take_sampled_version`), over every healthy runner; None if no episode ended."""
    held = algorithm.env_runner_group.foreach_env_runner(take_sampled_version, local_env_runner=local,
                                                         timeout_seconds=SYNC_TIMEOUT_S)  # fmt: skip
    found = [v for v in held if v is not None]
    return min(found) if found else None


def runner_version(env_runner: Any) -> tuple[int, int | None]:
    """``(worker_index, version)``: the runner's index and the version of the driver's parts it holds (None: a
    runner constructed or restarted since the last push, holding freshly initialised parts)."""
    return int(getattr(env_runner, "worker_index", 0)), getattr(env_runner, "seqgan_version", None)


def runner_parts(algorithm: Any, local: bool = False) -> list[list[dict[str, dict[str, np.ndarray]]]]:
    """For each env runner (remote ones; plus the local one if ``local``), for each of its SeqGAN-v0 envs, the
    weights it holds (for checks): ``discriminator`` and ``rollout_policy`` where its reward source reads them, and
    ``generator``, the runner's policy module."""

    def fetch(env_runner: Any) -> list[dict[str, dict[str, np.ndarray]]]:
        module = getattr(env_runner, "module", None)
        out = []
        for env in _seqgan_envs(getattr(env_runner, "env", None)):
            parts = {"discriminator": env.core.discriminator, "rollout_policy": env.core.rollout_policy,
                     "generator": getattr(module, "generator", None)}  # fmt: skip
            out.append({k: cpu_state(m, numpy=True) for k, m in parts.items() if m is not None})
        return out

    return algorithm.env_runner_group.foreach_env_runner(fetch, local_env_runner=local)


def runner_modules(algorithm: Any, obs: torch.Tensor | None = None) -> list[dict[str, Any]]:
    """For each remote env runner: its process id (``pid``), the Ray node it runs on (``node``), where it imported
    ``seqgan_env`` from (``package``), its policy module's generator weights (``generator``) and, given observations
    ``obs``, the module's next-token logits for them (``logits``); for checks."""
    import os

    import seqgan_env

    def fetch(env_runner: Any) -> dict[str, Any]:
        module = env_runner.module  # a single-agent runner holds the module itself (a learner: a MultiRLModule)
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "package": seqgan_env.__file__,
            "generator": cpu_state(module.generator),
        }
        if obs is not None:
            with torch.no_grad():
                out["logits"] = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
        return out

    return algorithm.env_runner_group.foreach_env_runner(fetch, local_env_runner=False)


def parts_match(
    held: Sequence[Sequence[dict[str, dict[str, np.ndarray]]]],
    discriminator: torch.nn.Module | None,
    rollout_policy: torch.nn.Module | None,
    generator: torch.nn.Module | None = None,
) -> bool:
    """Whether every env of every runner in ``held`` (from :func:`runner_parts`) holds exactly the given parts'
    weights (``None``: a part the reward source does not read, not compared). Raises ``ValueError`` when ``held`` has
    no runner or a runner has no env, so a check over nothing cannot pass."""
    if not held:
        raise ValueError("no env runner to check (num_env_runners=0 checks nothing)")
    given = {"discriminator": discriminator, "rollout_policy": rollout_policy, "generator": generator}
    ours = {k: cpu_state(m, numpy=True) for k, m in given.items() if m is not None}
    for i, envs in enumerate(held):
        if not envs:
            raise ValueError(f"env runner {i} holds no SeqGAN-v0 env")
        for env in envs:
            for part, weights in ours.items():
                if part not in env or env[part].keys() != weights.keys():
                    return False
                if not all(np.array_equal(env[part][k], w) for k, w in weights.items()):
                    return False
    return True


class PartsSync:
    """Driver side: the latest weights of D, of the rollout policy and of the generator (the runners' policy module),
    each put in Ray's object store once per push, and their version (one number, raised by every push); env runners
    fetch the objects and record the version.

    :meth:`check` runs before every sample (``SeqGANPPO.training_step``): each runner reports the version it holds,
    and one that differs — constructed or restarted since the last push, whoever restarted it — is sent every part
    before it samples. A push or check that does not reach every healthy runner within :data:`SYNC_TIMEOUT_S` is
    retried once, then raises: never silent. :meth:`restore` re-sends everything to runners RLlib recreated."""

    PARTS = ("discriminator", "rollout_policy", "generator")

    def __init__(self, local: bool = False) -> None:
        self.refs: dict[str, Any] = dict.fromkeys(self.PARTS)
        self.version = 0  # raised by every push
        self.local = local  # whether the driver's own env runner samples (num_env_runners=0)

    def push(
        self,
        algorithm: Any,
        discriminator: torch.nn.Module | None = None,
        rollout_policy: torch.nn.Module | None = None,
        generator: torch.nn.Module | None = None,
    ) -> None:
        """Store the given parts' weights, raise the version and load them into every env runner (local and
        remote); a part not given is not re-sent (the runners keep what they hold)."""
        given = {"discriminator": discriminator, "rollout_policy": rollout_policy, "generator": generator}
        for name, part in given.items():
            if part is not None:
                self.refs[name] = ray.put(cpu_state(part))
        self.version += 1
        self._send(algorithm, None, [name for name, part in given.items() if part is not None])

    def check(self, algorithm: Any) -> dict[str, int]:
        """Before a sample: every healthy runner's version against the driver's; the stale ones get every part now.
        Returns ``{"runners": checked, "stale": found and repaired, "version": the driver's}``."""
        held = self._each(algorithm, runner_version, None)
        stale = [index for index, version in held if version != self.version]
        if stale and self.version:
            remote = [i for i in stale if i > 0]
            if remote:
                self._send(algorithm, remote, list(self.PARTS))
            if 0 in stale:  # the driver's own runner (num_env_runners=0)
                self._send(algorithm, [], list(self.PARTS))
        return {"runners": len(held), "stale": len(stale), "version": self.version}

    def restore(self, algorithm: Any, runner_ids: Sequence[int]) -> None:
        """Send the latest parts to the env runners ``runner_ids`` (recreated after a failure)."""
        if runner_ids and any(r is not None for r in self.refs.values()):
            self._send(algorithm, list(runner_ids), list(self.PARTS))

    def _send(self, algorithm: Any, runner_ids: list[int] | None, parts: list[str]) -> None:
        """Load ``parts`` into the runners ``runner_ids`` (None: every healthy one and the local one; []: the local
        one only) and record the version there."""
        refs = {name: self.refs[name] if name in parts else None for name in self.PARTS}
        version, full = self.version, set(parts) == set(self.PARTS)
        previous = version - 1  # what a runner held if the last push reached it (partial pushes come from push())

        def load(env_runner: Any) -> int:
            got = {name: ray.get(ref) if ref is not None else None for name, ref in refs.items()}
            # a partial push brings a runner up to date only if it held the previous version: one that was stale
            # (e.g. restarted since) keeps its old version, so the next check sends it everything
            up_to_date = full or getattr(env_runner, "seqgan_version", None) == previous
            return set_parts_on_runner(env_runner, got["discriminator"], got["rollout_policy"], got["generator"],
                                       version if up_to_date else None)  # fmt: skip

        self._each(algorithm, load, runner_ids)

    def _each(self, algorithm: Any, fn: Any, runner_ids: list[int] | None) -> list[Any]:
        """``fn`` on the runners ``runner_ids`` (None: every healthy remote one, and the local one when it samples;
        ``[]``: the local one only), retried once if a healthy runner did not answer within :data:`SYNC_TIMEOUT_S`;
        then a ``RuntimeError`` naming how many did not. A runner that died meanwhile is not waited for: RLlib
        recreates it and :meth:`restore` (or the next :meth:`check`) brings it up to date."""
        group = algorithm.env_runner_group
        if runner_ids == []:
            return [fn(group.local_env_runner)]
        local = runner_ids is None and self.local
        for _ in range(2):
            out = group.foreach_env_runner(fn, local_env_runner=local, remote_worker_ids=runner_ids,
                                           timeout_seconds=SYNC_TIMEOUT_S)  # fmt: skip
            healthy = set(group.healthy_worker_ids())
            expected = len(healthy if runner_ids is None else healthy & set(runner_ids)) + int(local)
            if len(out) >= expected:
                return out
        raise RuntimeError(
            f"env runners did not answer within {SYNC_TIMEOUT_S:.0f} s ({len(out)} of {expected}): D, the rollout "
            "policy or the generator would be stale there; stopping rather than sampling with them"
        )


class SeqGANCallback(RLlibCallback):
    """Hooks the driver-side SeqGAN logic (``algorithm.seqgan_driver``: anything with ``after_iteration`` and
    ``sync``) into RLlib: it runs after every training iteration (D retraining, rollout-policy push) and re-pushes
    D and the rollout policy to env runners recreated after a failure. Holds no state, so RLlib ships only its name."""

    def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
        driver = getattr(algorithm, "seqgan_driver", None)
        if driver is not None:
            driver.after_iteration(algorithm, result)

    def on_episode_end(self, *, env_runner: Any = None, **kwargs: Any) -> None:
        """On the runner: keep the lowest version of the driver's parts an episode was sampled with since the driver
        last asked (:func:`take_sampled_version`; −1: none pushed since the runner was built)."""
        if env_runner is not None:
            version = getattr(env_runner, "seqgan_version", None)
            version = -1 if version is None else version
            env_runner.seqgan_sampled = min(getattr(env_runner, "seqgan_sampled", version), version)

    def on_env_runners_recreated(
        self, *, algorithm: Any, env_runner_group: Any, env_runner_indices: list[int], is_evaluation: bool, **kw: Any
    ) -> None:
        driver = getattr(algorithm, "seqgan_driver", None)
        if driver is not None and not is_evaluation:
            driver.sync.restore(algorithm, env_runner_indices)


class SeqGANPPO(PPO):
    """RLlib's PPO whose every training step starts with the driver's check (``algorithm.seqgan_driver``'s
    ``before_sample``, :meth:`PartsSync.check`): no runner samples with a D, a rollout policy or a generator older
    than the driver's, whoever restarted it."""

    def training_step(self) -> Any:
        driver = getattr(self, "seqgan_driver", None)
        if driver is not None:
            driver.before_sample(self)
        return super().training_step()
