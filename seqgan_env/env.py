"""The SeqGAN-v0 environment: single (`gymnasium.Env`) and batched (`gymnasium.vector.VectorEnv`) forms."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from seqgan_env.discriminator import Discriminator, DiscriminatorConfig
from seqgan_env.generator import Generator, GeneratorConfig, State
from seqgan_env.rollout import RolloutReward, SequenceScorer

REWARD_MODES = ("shaped", "q", "terminal")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise the named device (validated)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'cpu' or 'auto'")
    return torch.device(device)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class SeqGANCore:
    """The batched state machine behind both env forms: ``B`` sequences advanced in lock-step."""

    def __init__(
        self,
        num_envs: int,
        vocab_size: int,
        seq_len: int,
        n_rollouts: int,
        reward_mode: str,
        discriminator: SequenceScorer | None,
        rollout_policy: Generator | None,
        device: str | torch.device,
    ) -> None:
        self.num_envs = _positive_int("num_envs", num_envs)
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        self.seq_len = _positive_int("seq_len", seq_len)
        self.n_rollouts = _positive_int("n_rollouts", n_rollouts)
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        self.reward_mode = reward_mode
        self.device = resolve_device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)  # default (untrained) parts are the same in every process
            if rollout_policy is None:
                rollout_policy = Generator(GeneratorConfig(vocab_size=self.vocab_size, seq_len=self.seq_len))
            if discriminator is None:
                discriminator = Discriminator(DiscriminatorConfig.paper(self.vocab_size, self.seq_len))
        self.reward = RolloutReward(rollout_policy, discriminator, self.n_rollouts)
        self.set_rollout_policy(rollout_policy)
        self.set_discriminator(discriminator)
        self.torch_rng = torch.Generator(device=self.device)
        self.tokens = torch.zeros(self.num_envs, self.seq_len, dtype=torch.long, device=self.device)
        self.t = -1  # -1: reset() not called yet
        self.state: State | None = None
        self.q_prev = torch.zeros(self.num_envs, device=self.device)

    # ---------------------------------------------------------------- injected parts
    def _check_sizes(self, name: str, part: object) -> None:
        config = getattr(part, "config", None)
        vocab, length = getattr(config, "vocab_size", None), getattr(config, "seq_len", None)
        if vocab != self.vocab_size or length != self.seq_len:
            raise ValueError(
                f"{name} has vocab_size={vocab}, seq_len={length}; the env needs vocab_size={self.vocab_size}, "
                f"seq_len={self.seq_len}"
            )

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        """Use ``discriminator`` (anything with ``config.vocab_size/seq_len`` and ``score``) for rewards."""
        if not callable(getattr(discriminator, "score", None)):
            raise TypeError(f"discriminator must have a score(tokens) method, got {type(discriminator).__name__}")
        self._check_sizes("discriminator", discriminator)
        if isinstance(discriminator, torch.nn.Module):
            discriminator.to(self.device)
        self.reward.discriminator = discriminator

    def set_rollout_policy(self, policy: Generator) -> None:
        """Use ``policy`` (a :class:`Generator`) to complete prefixes in Monte Carlo rollouts."""
        if not isinstance(policy, Generator):
            raise TypeError(f"rollout_policy must be a seqgan_env.Generator, got {type(policy).__name__}")
        self._check_sizes("rollout_policy", policy)
        self.reward.policy = policy.to(self.device)
        if getattr(self, "t", -1) >= 0:  # mid-episode: re-read the prefixes with the new policy
            self.state = self._read_prefix()

    @property
    def discriminator(self) -> SequenceScorer:
        return self.reward.discriminator

    @property
    def rollout_policy(self) -> Generator:
        return self.reward.policy

    # ---------------------------------------------------------------- dynamics
    def _read_prefix(self) -> State:
        with torch.inference_mode():
            policy = self.reward.policy
            state = policy.first_state(self.num_envs)
            for pos in range(self.t):
                state = policy.advance(self.tokens[:, pos], state)
            return state

    def observation(self) -> np.ndarray:
        obs = self.tokens.clone()
        obs[:, max(self.t, 0) :] = self.vocab_size  # padding value: "no token yet"
        return obs.cpu().numpy()

    def reset(self, seed: int) -> dict[str, np.ndarray]:
        """Start ``B`` empty prefixes; ``seed`` seeds the rollout sampler. Returns the info arrays."""
        self.torch_rng.manual_seed(int(seed))
        self.tokens.zero_()
        self.t = 0
        with torch.inference_mode():
            self.state = self.reward.policy.first_state(self.num_envs)
            info: dict[str, np.ndarray] = {}
            if self.reward_mode == "shaped":
                self.q_prev = self.reward.q_values(self.tokens[:, :0], self.state, self.torch_rng)
                info["q"] = self.q_prev.cpu().numpy()
        return info

    def check_actions(self, actions: Any) -> torch.Tensor:
        if self.t < 0:
            raise RuntimeError("step() called before reset(): call reset() first")
        if self.t >= self.seq_len:
            raise RuntimeError("step() called after the episode ended: call reset() first")
        arr = np.asarray(actions)
        if arr.shape not in ((self.num_envs,), ()) or (arr.shape == () and self.num_envs != 1):
            raise ValueError(f"action must have shape ({self.num_envs},), got shape {arr.shape}")
        integral = np.issubdtype(arr.dtype, np.integer) or (
            np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.mod(arr, 1) == 0))
        )
        if not integral:
            raise ValueError(f"action must be integer token ids in [0, {self.vocab_size}), got {arr!r}")
        arr = arr.astype(np.int64).reshape(self.num_envs)
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise ValueError(f"action must be in [0, {self.vocab_size}) (Discrete({self.vocab_size})), got {arr}")
        return torch.as_tensor(arr, device=self.device)

    def step(self, actions: Any) -> tuple[np.ndarray, bool, dict[str, np.ndarray]]:
        """Append ``actions``; returns rewards ``(B,)``, whether the episodes ended, and the info arrays."""
        act = self.check_actions(actions)
        with torch.inference_mode():
            self.tokens[:, self.t] = act
            self.t += 1
            assert self.state is not None
            self.state = self.reward.policy.advance(act, self.state)
            done = self.t == self.seq_len
            info: dict[str, np.ndarray] = {}
            if done or self.reward_mode != "terminal":
                q = self.reward.q_values(self.tokens[:, : self.t], self.state, self.torch_rng)
                if not torch.isfinite(q).all():
                    raise FloatingPointError(f"non-finite Q-value at step t={self.t}: check the discriminator")
                info["q"] = q.cpu().numpy()
                if done:
                    info["d_score"] = info["q"]
                if self.reward_mode == "shaped":
                    reward = q - self.q_prev
                elif self.reward_mode == "q" or done:
                    reward = q
                self.q_prev = q
            else:
                reward = torch.zeros(self.num_envs, device=self.device)
        return reward.cpu().numpy().astype(np.float32), done, info

    def render_rows(self) -> list[str]:
        t = max(self.t, 0)
        return [" ".join(str(int(x)) for x in row[:t]) for row in self.tokens.cpu()]


_DOC_ARGS = """
    * ``vocab_size`` (int, 5000): number of tokens; the action space is ``Discrete(vocab_size)``.
    * ``corpus`` (path, dataset name such as ``"sotu:obama"``, or ``seqgan_env.text.Corpus``; default None):
      real text whose vocabulary defines the action space (``vocab_size`` then comes from it); sequences
      are the sentence, ``<eos>``, then ``<pad>`` up to ``seq_len`` (the original fixed-length layout), and
      ``render`` decodes them.
    * ``seq_len`` (int, 20): episode length.
    * ``n_rollouts`` (int, 16): Monte Carlo completions per prefix.
    * ``reward_mode`` (str, ``"shaped"``): ``"shaped"``, ``"q"`` or ``"terminal"`` (see Rewards).
    * ``discriminator`` (``Discriminator`` or any object with ``config.vocab_size``, ``config.seq_len`` and a
      batched ``score(tokens) -> P(real)``; default: an untrained paper-size CNN).
    * ``rollout_policy`` (``Generator``; default: an untrained paper-size LSTM).
    * ``device`` (str, ``"cpu"``): ``"auto"``, ``"cpu"`` or ``"cuda"``.
"""


def _corpus_vocab(corpus: Any, vocab_size: int | None, seq_len: int) -> tuple[int, Any]:
    """Resolve the ``corpus`` kwarg: its vocabulary fixes ``vocab_size``."""
    if corpus is None:
        return (5000 if vocab_size is None else vocab_size), None
    from seqgan_env.text import Corpus, CorpusConfig, load_corpus

    if isinstance(corpus, (str, os.PathLike)):
        corpus = load_corpus(CorpusConfig(source=str(corpus), seq_len=seq_len))
    if not isinstance(corpus, Corpus):
        raise TypeError(
            f"corpus must be a path, a dataset name or a seqgan_env.text.Corpus, got {type(corpus).__name__}"
        )
    if corpus.config.seq_len != seq_len:
        raise ValueError(f"corpus was tokenized for seq_len={corpus.config.seq_len}, the env has seq_len={seq_len}")
    if vocab_size is not None and vocab_size != len(corpus.vocab):
        raise ValueError(f"vocab_size={vocab_size} does not match the corpus vocabulary ({len(corpus.vocab)} tokens)")
    return len(corpus.vocab), corpus


class SeqGANEnv(gym.Env):
    __doc__ = f"""
    ## Description
    SeqGAN (Yu et al., 2017) as a reinforcement-learning problem: an agent writes a sequence of
    ``seq_len`` tokens one at a time, and a discriminator D judges whether the finished sequence looks
    real. The state is the prefix written so far, the action is the next token, and the per-step
    reward comes from Monte Carlo rollouts: Q(Y_1..t) is the mean D-score ("probability real") of
    ``n_rollouts`` completions of the prefix sampled by a rollout policy (a copy of the generator).

    ## Action Space
    ``Discrete(vocab_size)``: the next token id.

    ## Observation Space
    ``Box(0, vocab_size, (seq_len,), int64)``: the prefix, left-aligned; positions not yet written hold
    the padding value ``vocab_size``. The number of non-padding entries is the step ``t``.

    ## Rewards
    * ``"shaped"`` (default): r_t = Q_t − Q_(t−1), with Q_0 the rollout estimate of the empty prefix
      (computed at reset). The undiscounted return telescopes to D(final) − Q_0, so any RL algorithm
      with γ = 1 optimises D's score of the finished sequence.
    * ``"q"``: r_t = Q_t, the paper's per-step reward (use it as the weight of log π(a_t|s_t), as SeqGAN's
      REINFORCE does, not summed into a return).
    * ``"terminal"``: 0 until the last step, then D(final). No rollouts are run.

    ## Starting State
    The empty prefix. ``reset(seed=...)`` seeds the rollout sampler.

    ## Episode End
    Terminated after exactly ``seq_len`` steps. Never truncated.

    ## Info
    ``"q"``: Q_t after each step (in ``"terminal"`` mode only at the last step; in ``"shaped"`` mode also
    Q_0 at reset); ``"d_score"``: D's P(real) of the finished sequence, at the last step.

    ## Arguments
    {_DOC_ARGS}
    * ``render_mode`` (``None`` or ``"ansi"``): ``"ansi"`` renders the prefix as token ids.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        vocab_size: int | None = None,
        seq_len: int = 20,
        n_rollouts: int = 16,
        reward_mode: str = "shaped",
        discriminator: SequenceScorer | None = None,
        rollout_policy: Generator | None = None,
        device: str = "cpu",
        render_mode: str | None = None,
        corpus: Any = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        vocab_size, self.corpus = _corpus_vocab(corpus, vocab_size, seq_len)
        self.core = SeqGANCore(1, vocab_size, seq_len, n_rollouts, reward_mode, discriminator, rollout_policy, device)
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(self.core.vocab_size)
        self.observation_space = spaces.Box(0, self.core.vocab_size, (self.core.seq_len,), dtype=np.int64)

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        """Plug in a (re)trained discriminator."""
        self.core.set_discriminator(discriminator)

    def set_rollout_policy(self, policy: Generator) -> None:
        """Plug in the rollout policy (a copy of the generator)."""
        self.core.set_rollout_policy(policy)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        super().reset(seed=seed)
        info = self.core.reset(int(self.np_random.integers(2**62)))
        return self.core.observation()[0], {k: float(v[0]) for k, v in info.items()}

    def step(self, action: Any):  # type: ignore[override]
        if isinstance(action, np.ndarray) and action.shape not in ((), (1,)):
            raise ValueError(f"action must be a single token id, got an array of shape {action.shape}")
        reward, done, info = self.core.step(np.asarray(action).reshape(1))
        return (
            self.core.observation()[0],
            float(reward[0]),
            done,
            False,
            {k: float(v[0]) for k, v in info.items()},
        )

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            if self.corpus is not None:
                return self.corpus.decode(self.core.tokens[:, : max(self.core.t, 0)].cpu())[0] + "\n"
            return self.core.render_rows()[0] + "\n"
        return None


class SeqGANVectorEnv(gym.vector.VectorEnv):
    __doc__ = f"""
    ``num_envs`` SeqGAN-v0 episodes stepped as one tensor computation (``gymnasium.make_vec``).

    Same spaces, rewards and info keys as :class:`SeqGANEnv`, batched. All episodes run in lock-step
    (every episode lasts ``seq_len`` steps) and reset on the same step they end ("same-step" autoreset):
    the last step returns the first observation of the next episodes, with the finished ones in
    ``info["final_obs"]`` and their info in ``info["final_info"]``.

    ## Arguments
    * ``num_envs`` (int): number of sequences per batch.
    {_DOC_ARGS}
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["ansi"],
        "render_fps": 4,
        "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP,
    }

    def __init__(
        self,
        num_envs: int = 64,
        vocab_size: int | None = None,
        seq_len: int = 20,
        n_rollouts: int = 16,
        reward_mode: str = "shaped",
        discriminator: SequenceScorer | None = None,
        rollout_policy: Generator | None = None,
        device: str = "cpu",
        render_mode: str | None = None,
        corpus: Any = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        vocab_size, self.corpus = _corpus_vocab(corpus, vocab_size, seq_len)
        self.core = SeqGANCore(
            num_envs, vocab_size, seq_len, n_rollouts, reward_mode, discriminator, rollout_policy, device
        )
        self.num_envs = self.core.num_envs
        self.render_mode = render_mode
        self.single_action_space = spaces.Discrete(self.core.vocab_size)
        self.single_observation_space = spaces.Box(0, self.core.vocab_size, (self.core.seq_len,), dtype=np.int64)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        """Plug in a (re)trained discriminator for every sequence."""
        self.core.set_discriminator(discriminator)

    def set_rollout_policy(self, policy: Generator) -> None:
        """Plug in the rollout policy (a copy of the generator)."""
        self.core.set_rollout_policy(policy)

    def _info(self, info: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in info.items():
            out[k] = v
            out[f"_{k}"] = np.ones(self.num_envs, dtype=bool)
        return out

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # type: ignore[override]
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        info = self.core.reset(int(self.np_random.integers(2**62)))
        return self.core.observation(), self._info(info)

    def step(self, actions: Any):  # type: ignore[override]
        reward, done, info = self.core.step(actions)
        obs = self.core.observation()
        terminated = np.full(self.num_envs, done)
        infos = self._info(info)
        if done:
            final_info = infos
            infos = self._info(self.core.reset(int(self.np_random.integers(2**62))))
            infos["final_obs"] = obs
            infos["_final_obs"] = np.ones(self.num_envs, dtype=bool)
            infos["final_info"] = final_info
            infos["_final_info"] = np.ones(self.num_envs, dtype=bool)
            obs = self.core.observation()
        return obs, reward, terminated, np.zeros(self.num_envs, dtype=bool), infos

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode == "ansi":
            return tuple(row + "\n" for row in self.core.render_rows())
        return None
