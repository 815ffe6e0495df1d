"""The SeqGAN-v0 environment: single (`gymnasium.Env`) and batched (`gymnasium.vector.VectorEnv`) forms."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from seqgan_env.discriminator import PrefixDiscriminator
from seqgan_env.generator import Generator, GeneratorConfig, State
from seqgan_env.rewards import REWARD_MODES, REWARD_SOURCES, RewardSource, make_source
from seqgan_env.rollout import SequenceScorer

__all__ = ["REWARD_MODES", "REWARD_SOURCES", "SeqGANCore", "SeqGANEnv", "SeqGANVectorEnv", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; otherwise the named device (validated)."""
    if isinstance(device, torch.device):
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"device must be a cpu or cuda device (or 'auto'), got {device!r}")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'cpu' or 'auto'")
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available; use 'cpu' or 'auto'")
    return torch.device(device)


def _check_render_mode(render_mode: str | None, modes: list[str]) -> None:
    """``None`` or a supported mode. ``"rgb_array"`` raises ``TypeError``: SB3's ``make_vec_env`` and
    ``PPO("MlpPolicy", "SeqGAN-v0")`` ask for it first and fall back to no render mode on exactly that error."""
    if render_mode == "rgb_array":
        raise TypeError(f"SeqGAN-v0 renders text only: render_mode must be None or one of {modes}, got 'rgb_array'")
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {modes}, got {render_mode!r}")


def machine_memory() -> int:
    """Bytes of physical memory of this machine (0 where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_memory(num_envs: int, vocab_size: int, seq_len: int, n_rollouts: int) -> None:
    """Refuse, before allocating, sizes whose least memory exceeds this machine's: the default G and paper D
    (embeddings and projection of ``vocab_size`` rows: 32 + 32 + 64 floats each, with a rollout copy), the token
    buffers (``num_envs × seq_len``, and the rollouts' ``num_envs × n_rollouts × seq_len``, twice) and one rollout
    step's logits (``num_envs × n_rollouts × vocab_size`` floats)."""
    tokens = num_envs * seq_len * (3 + 2 * n_rollouts)
    need = 4 * (vocab_size * (32 + 32 + 64 + 64) + num_envs * n_rollouts * vocab_size) + 8 * tokens
    have = machine_memory()
    if have and need > have:
        raise ValueError(
            f"num_envs={num_envs}, vocab_size={vocab_size}, seq_len={seq_len}, n_rollouts={n_rollouts} need at least "
            f"{need / 2**30:.1f} GiB (models, token buffers, one rollout step's logits); this machine has "
            f"{have / 2**30:.1f} GiB: use smaller sizes"
        )


def _check_options(options: object) -> None:
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"reset options must be a dict or None, got {type(options).__name__} {options!r}")


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class SeqGANCore:
    """The batched state machine behind both env forms: ``B`` sequences, each at its own position.

    Without an end token every sequence lasts ``seq_len`` steps, so the rows move in lock-step; with
    ``eos_token`` (real text) a row ends when it writes ``<eos>`` and can be reset on its own. The reward comes from
    a :class:`~seqgan_env.rewards.RewardSource` (``self.source``), asked at each reset and step.
    """

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
        eos_token: int | None = None,
        pad_token: int = 0,
        d_reward: str = "prob",
        reward_source: str = "rollout",
        oracle: Generator | None = None,
    ) -> None:
        self.num_envs = _positive_int("num_envs", num_envs)
        self.vocab_size = _positive_int("vocab_size", vocab_size)
        self.seq_len = _positive_int("seq_len", seq_len)
        self.n_rollouts = _positive_int("n_rollouts", n_rollouts)
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {REWARD_MODES}, got {reward_mode!r}")
        check_memory(self.num_envs, self.vocab_size, self.seq_len, self.n_rollouts if reward_source == "rollout" else 1)
        if eos_token is not None and not 0 <= eos_token < self.vocab_size:
            raise ValueError(f"eos_token must be None or in [0, vocab_size={self.vocab_size}), got {eos_token}")
        self.reward_mode = reward_mode
        self.source: RewardSource = make_source(
            reward_source, discriminator=discriminator, oracle=oracle, n_rollouts=self.n_rollouts,
            d_reward=d_reward, on_text=eos_token is not None,
        )  # fmt: skip
        if not self.source.uses_policy and rollout_policy is not None:
            raise ValueError(f"reward_source={reward_source!r} holds no generator: do not pass rollout_policy=")
        self.eos_token, self.pad_token = eos_token, pad_token
        self.device = resolve_device(device)
        self.pos = torch.full((self.num_envs,), -1, dtype=torch.long, device=self.device)  # -1: before reset()
        self.policy: Generator | None = None
        if self.source.uses_policy:
            if rollout_policy is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(0)  # default (untrained) parts are the same in every process
                    rollout_policy = Generator(
                        GeneratorConfig(self.vocab_size, self.seq_len, eos_token=eos_token, pad_token=pad_token)
                    )
            self.set_rollout_policy(rollout_policy)
        self.torch_rng = torch.Generator(device=self.device)
        self.tokens = torch.zeros(self.num_envs, self.seq_len, dtype=torch.long, device=self.device)
        self.ended = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.state: State | None = None  # the rollout policy's state after reading each prefix
        self.source.bind(self)

    # ---------------------------------------------------------------- injected parts
    def check_sizes(self, name: str, part: object) -> None:
        """Refuse a model whose ``config.vocab_size`` / ``config.seq_len`` differ from the env's."""
        config = getattr(part, "config", None)
        vocab, length = getattr(config, "vocab_size", None), getattr(config, "seq_len", None)
        if vocab != self.vocab_size or length != self.seq_len:
            raise ValueError(
                f"{name} has vocab_size={vocab}, seq_len={length}; the env needs vocab_size={self.vocab_size}, "
                f"seq_len={self.seq_len}"
            )

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        """Use ``discriminator`` (anything with ``config.vocab_size/seq_len`` and ``score``) for rewards; with
        ``reward_source="prefix"`` a :class:`PrefixDiscriminator` (episodes in progress are re-read with it)."""
        self.source.set_discriminator(discriminator)

    def set_rollout_policy(self, policy: Generator) -> None:
        """Use ``policy`` (a :class:`Generator`) to complete prefixes in Monte Carlo rollouts."""
        if not self.source.uses_policy:
            raise ValueError(f"reward_source={self.reward_source!r} holds no generator: it takes no rollout policy")
        if not isinstance(policy, Generator):
            raise TypeError(f"rollout_policy must be a seqgan_env.Generator, got {type(policy).__name__}")
        self.check_sizes("rollout_policy", policy)
        theirs = (policy.config.eos_token, policy.config.pad_token if policy.config.eos_token is not None else None)
        ours = (self.eos_token, self.pad_token if self.eos_token is not None else None)
        if theirs != ours:
            raise ValueError(
                f"rollout_policy has (eos_token, pad_token)={theirs}, the env needs {ours} "
                "(build the generator with the corpus's <eos> and <pad> ids)"
            )
        self.policy = policy.to(self.device)
        if self.source.core is not None:
            self.source.on_policy_changed()
        if bool((self.pos >= 0).all()):  # after reset(): re-read the prefixes with the new policy
            self.state = self.read_prefix(policy)

    @property
    def reward_source(self) -> str:
        """The reward source's name (``self.source`` is the object)."""
        return self.source.name

    @property
    def discriminator(self) -> SequenceScorer | None:
        """The discriminator rewards come from (None for a source that reads none)."""
        return self.source.get_discriminator()

    @property
    def rollout_policy(self) -> Generator | None:
        """The rollout policy (None for a source that holds no generator)."""
        return self.policy

    # ---------------------------------------------------------------- dynamics
    def set_rows(self, state: State | None, idx: torch.Tensor, rows: State) -> State:
        """``state`` with rows ``idx`` replaced by ``rows`` (``rows`` itself when every row is replaced)."""
        if state is None or len(idx) == self.num_envs:
            return rows
        state[0][idx] = rows[0]
        state[1][idx] = rows[1]
        return state

    def read_prefix(self, model: Generator | PrefixDiscriminator) -> State:
        """``model``'s recurrent state after reading each row's prefix (``first_state`` then ``advance``)."""
        with torch.inference_mode():
            h, c = model.first_state(self.num_envs)
            for p in range(int(self.pos.max())):
                nh, nc = model.advance(self.tokens[:, p], (h, c))
                inside = (p < self.pos)[:, None]
                h, c = torch.where(inside, nh, h), torch.where(inside, nc, c)
            return h, c

    def restore(self, tokens: torch.Tensor, pos: torch.Tensor) -> None:
        """Continue episodes in progress: prefixes ``tokens[i, :pos[i]]`` (e.g. saved in a checkpoint)."""
        if tokens.shape != self.tokens.shape or pos.shape != self.pos.shape:
            raise ValueError(f"tokens must be {tuple(self.tokens.shape)} and pos {tuple(self.pos.shape)}")
        if bool((pos < 0).any()) or bool((pos >= self.seq_len).any()):
            raise ValueError(f"pos must be in [0, seq_len={self.seq_len}) (episodes in progress), got {pos.tolist()}")
        self.tokens = tokens.to(self.device, torch.long).clone()
        self.pos = pos.to(self.device, torch.long).clone()
        self.ended = torch.zeros_like(self.ended)
        if self.policy is not None:
            self.state = self.read_prefix(self.policy)
        self.source.restore()

    def state_dict(self) -> dict[str, Any]:
        """The sampler's RNG, the episodes in progress and the reward source's own state (e.g. Q_(t−1))."""
        return {"torch_rng": self.torch_rng.get_state(), "tokens": self.tokens.cpu(), "pos": self.pos.cpu(),
                "source": self.source.state_dict()}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore :meth:`state_dict` (after a reset); returns whether it held episodes to continue (an earlier
        version's state holds only the RNG and ``q_prev``, the shaped rollout reward's Q_(t−1), at the top level)."""
        self.torch_rng.set_state(state["torch_rng"])
        source = state.get("source", {"q_prev": state["q_prev"]} if "q_prev" in state else {})
        if "pos" in state:
            self.restore(state["tokens"], state["pos"])
        self.source.load_state_dict(source)
        return "pos" in state

    def observation(self) -> np.ndarray:
        obs = self.tokens.clone()
        later = torch.arange(self.seq_len, device=self.device) >= self.pos.clamp(min=0)[:, None]
        obs[later] = self.vocab_size  # padding value: "no token yet"
        return obs.cpu().numpy()

    def reset(self, seed: int) -> dict[str, np.ndarray]:
        """Start ``B`` empty prefixes; ``seed`` seeds the rollout sampler. Returns the info arrays."""
        self.torch_rng.manual_seed(int(seed))
        return self.reset_rows(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def reset_rows(self, rows: torch.Tensor) -> dict[str, np.ndarray]:
        """Start empty prefixes in the ``rows`` ``(B,)`` bool mask; the others continue. Returns the info
        arrays (meaningful in ``rows``)."""
        idx = rows.nonzero().squeeze(1)
        with torch.inference_mode():
            self.tokens[idx] = self.pad_token
            self.pos[idx] = 0
            self.ended[idx] = False
            first = None
            if self.policy is not None:
                first = self.policy.first_state(len(idx))
                self.state = self.set_rows(self.state, idx, first)
            return self.source.reset_rows(idx, first)

    def check_actions(self, actions: Any) -> torch.Tensor:
        if bool((self.pos < 0).any()):
            raise RuntimeError("step() called before reset(): call reset() first")
        if bool(self.ended.any()):
            raise RuntimeError("step() called after the episode ended: call reset() first")
        arr = np.asarray(actions)
        if arr.shape not in ((self.num_envs,), ()) or (arr.shape == () and self.num_envs != 1):
            raise ValueError(f"action must have shape ({self.num_envs},), got shape {arr.shape}")
        integral = np.issubdtype(arr.dtype, np.integer) or (
            np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.mod(arr, 1) == 0))
        )
        if not integral:
            raise ValueError(f"action must be integer token ids in [0, {self.vocab_size}), got {arr!r}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:  # before the cast, which would wrap 1e30 around
            raise ValueError(f"action must be in [0, {self.vocab_size}) (Discrete({self.vocab_size})), got {arr}")
        arr = arr.astype(np.int64).reshape(self.num_envs)
        return torch.as_tensor(arr, device=self.device)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Append ``actions``; returns rewards ``(B,)``, which episodes ended ``(B,)`` and the info arrays
        (``"d_score"`` is meaningful where an episode ended)."""
        act = self.check_actions(actions)
        with torch.inference_mode():
            self.tokens[torch.arange(self.num_envs, device=self.device), self.pos] = act
            self.pos += 1
            before = self.state
            if self.policy is not None:
                assert before is not None
                self.state = self.policy.advance(act, before)
            ended = self.pos == self.seq_len
            if self.eos_token is not None:
                ended |= act == self.eos_token
            self.ended = ended.clone()  # reset_rows() writes into it in place
            reward, info = self.source.step(act, ended, before)
        return reward.cpu().numpy().astype(np.float32), ended.cpu().numpy(), info

    def end_only_keys(self) -> set[str]:
        """The info keys meaningful only where an episode ended (the vector env masks the others' entries)."""
        return self.source.end_only_keys(self.reward_mode)

    def render_rows(self) -> list[str]:
        return [
            " ".join(str(int(x)) for x in row[: max(int(p), 0)]) for row, p in zip(self.tokens.cpu(), self.pos.cpu())
        ]


_DOC_ARGS = """
    * ``vocab_size`` (int, 5000): number of tokens; the action space is ``Discrete(vocab_size)``.
    * ``corpus`` (path, dataset name such as ``"sotu:obama"``, or ``seqgan_env.text.Corpus``; default None):
      real text whose vocabulary defines the action space (``vocab_size`` then comes from it). An episode
      then ends when the agent writes ``<eos>`` (or after ``seq_len`` tokens); the discriminator and the
      rollouts see the sentence, ``<eos>``, then ``<pad>`` up to ``seq_len`` (the layout of the real data),
      and ``render`` decodes the text.
    * ``seq_len`` (int, 20): episode length.
    * ``n_rollouts`` (int, 16): Monte Carlo completions per prefix.
    * ``reward_mode`` (str, ``"shaped"``): ``"shaped"``, ``"q"`` or ``"terminal"`` (see Rewards).
    * ``d_reward`` (str, ``"prob"``): the score that Q averages: D's P(real) (``"prob"``, the paper), its
      log-odds log D/(1 − D) (``"log_odds"``, P clipped to [1e-6, 1 − 1e-6]; for a KL-regularised agent), or
      1 for every sequence (``"constant"``: an ablation without D's signal).
    * ``reward_source`` (str, ``"rollout"``): where Q comes from (see Reward sources): ``"rollout"`` (Monte Carlo
      rollouts scored by D, the paper), ``"prefix"`` (a per-prefix ``PrefixDiscriminator``, no rollouts) or
      ``"perfect"`` (the oracle task's perfect discriminator: an upper bound, not a learned D) or ``"oracle"`` (the
      oracle's log-likelihood of each token: a known-optimum reward that needs no G).
    * ``discriminator`` (``Discriminator`` or any object with ``config.vocab_size``, ``config.seq_len`` and a
      batched ``score(tokens) -> P(real)``; a ``PrefixDiscriminator`` for ``reward_source="prefix"``; default: an
      untrained paper-size CNN, or an untrained ``PrefixDiscriminator``; none with ``"perfect"`` or ``"oracle"``).
    * ``oracle`` (``Oracle``, default None): the oracle whose samples are the real data; needed by, and only by,
      ``reward_source="perfect"`` and ``"oracle"``.
    * ``rollout_policy`` (``Generator``; default: an untrained paper-size LSTM; none with ``"oracle"``). Its
      ``eos_token`` (if any) ends episodes; with a ``corpus`` it must be the corpus's ``<eos>`` (and ``pad_token``
      its ``<pad>``).
    * ``device`` (str, ``"cpu"``): ``"auto"``, ``"cpu"`` or ``"cuda"``.
"""


AUTORESET_MODES = ("same_step", "next_step")


def _corpus_vocab(corpus: Any, vocab_size: int | None, seq_len: int) -> tuple[int, Any]:
    """Resolve the ``corpus`` kwarg: its vocabulary fixes ``vocab_size`` (and ``<eos>`` ends episodes)."""
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


def _end_tokens(corpus: Any, rollout_policy: Generator | None) -> dict[str, int | None]:
    """Where episodes end: the corpus's ``<eos>``, else the rollout policy's ``eos_token`` (None: never early)."""
    if corpus is not None:
        return dict(corpus.vocab.end_tokens)
    config = getattr(rollout_policy, "config", None)
    return {"eos_token": getattr(config, "eos_token", None), "pad_token": getattr(config, "pad_token", 0)}


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

    ## Reward sources
    * ``"rollout"`` (default, the paper): Q as above, from ``n_rollouts`` Monte Carlo completions scored by D.
    * ``"prefix"``: Q_t = D(y_1..t), the score of the prefix itself by a ``PrefixDiscriminator`` (ScratchGAN's
      recurrent D, which emits a score after every token); the env reads one token per step into D's state, so no
      rollouts are run. Q_0 (``"shaped"``) is D's score of the empty prefix.
    * ``"perfect"`` — **an upper bound that no real task has**: on the oracle task both likelihoods are known, so
      the Bayes-optimal discriminator against the current generator G (the ``rollout_policy``, kept equal to G)
      is D*(x) = p_O(x) / (p_O(x) + p_G(x)). Its dense form needs no rollouts:
      r_t = log p_O(y_t | y_<t) − log p_G(y_t | y_<t), exactly, in ``"q"`` and ``"shaped"`` modes; ``"terminal"``
      gives Σ_t r_t = log D*(x) / (1 − D*(x)) at the last step. The expected return under G is −KL(G ‖ oracle),
      0 only at G = oracle. As a per-step weight (``"q"``, REINFORCE) r_t alone gives a sampled form of the
      gradient of the per-step KL(G(·|prefix) ‖ O(·|prefix)) at G's prefixes, without credit through later steps;
      as a reward summed into returns-to-go (``"shaped"``) the full sequence-level gradient.
      ``info["d_score"]`` is D*(x) at the last step. It reads the agent's own G, so only an agent that keeps the
      env's ``rollout_policy`` equal to its policy can use it.
    * ``"oracle"`` — **a known-optimum benchmark any RL library can use**: r_t = log p_O(y_t | y_<t), the oracle's
      log-likelihood of the token, with no G inside the env (pass ``oracle=``, no ``rollout_policy``). With an
      entropy bonus of weight 1 at every step (undiscounted), E_π[Σ_t r_t] + Σ_t E_π[H(π(·|y_<t))] =
      E_π[log p_O(Y)] + H(π) = −KL(π ‖ oracle): the oracle is the unique optimum, with value 0. ``"perfect"`` pays
      the same return once −log p_G(y_t | y_<t), a sample of that entropy, is added to each step.
      ``"terminal"`` pays log p_O(y) at the last step; ``info["oracle_log_prob"]`` is the episode's log p_O so far.

    ## Starting State
    The empty prefix. ``reset(seed=...)`` seeds the rollout sampler.

    ## Episode End
    Terminated after ``seq_len`` steps, or (with a ``corpus``) on the step that writes ``<eos>``.
    Never truncated.

    ## Info
    ``"q"``: Q_t after each step (in ``"terminal"`` mode only at the last step; in ``"shaped"`` mode also
    Q_0 at reset); ``"d_score"``: D's P(real) of the finished sequence, at the last step. Q of a prefix
    that ends with ``<eos>`` is D's score of the sentence padded to ``seq_len`` (no rollouts needed).

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
        d_reward: str = "prob",
        reward_source: str = "rollout",
        oracle: Generator | None = None,
    ) -> None:
        _check_render_mode(render_mode, self.metadata["render_modes"])
        vocab_size, self.corpus = _corpus_vocab(corpus, vocab_size, seq_len)
        self.core = SeqGANCore(
            1, vocab_size, seq_len, n_rollouts, reward_mode, discriminator, rollout_policy, device,
            **_end_tokens(self.corpus, rollout_policy), d_reward=d_reward, reward_source=reward_source, oracle=oracle,
        )  # fmt: skip
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
        _check_options(options)
        if options:  # honoured or refused, never ignored
            raise ValueError(f"SeqGAN-v0 takes no reset options, got {sorted(options)}")
        super().reset(seed=seed)
        info = self.core.reset(int(self.np_random.integers(2**62)))
        return self.core.observation()[0], {k: float(v[0]) for k, v in info.items()}

    def step(self, action: Any):  # type: ignore[override]
        shape = np.shape(action)
        if shape not in ((), (1,)):
            raise ValueError(
                f"action must be a single token id (an int in [0, {self.core.vocab_size})), got {action!r} of shape "
                f"{shape}"
            )
        reward, ended, info = self.core.step(np.asarray(action).reshape(1))
        return (
            self.core.observation()[0],
            float(reward[0]),
            bool(ended[0]),
            False,
            {k: float(v[0]) for k, v in info.items()},
        )

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            if self.corpus is not None:
                return self.corpus.decode(self.core.tokens[:, : max(int(self.core.pos[0]), 0)].cpu())[0] + "\n"
            return self.core.render_rows()[0] + "\n"
        return None


class SeqGANVectorEnv(gym.vector.VectorEnv):
    __doc__ = f"""
    ``num_envs`` SeqGAN-v0 episodes stepped as one tensor computation (``gymnasium.make_vec``). Rewards are float64
    arrays, as with Gymnasium's sync and async vector envs over the single env.

    Same spaces, rewards and info keys as :class:`SeqGANEnv`, batched. Each episode resets on the same
    step it ends ("same-step" autoreset): that step returns the first observation of the next episode,
    with the finished one in ``info["final_obs"]`` and its info in ``info["final_info"]`` (both with the
    ``"_final_obs"`` / ``"_final_info"`` masks of the episodes that ended). Without a ``corpus`` every
    episode lasts ``seq_len`` steps, so all of them end together; with one, each ends at its own
    ``<eos>``.

    ``autoreset_mode="next_step"`` gives Gymnasium's default semantics instead (what Ray RLlib's env runners
    expect): the step that ends the episodes returns their last observation, and the next ``step()`` ignores its
    actions and returns the first observation of new episodes, reward 0. Offered where it is cheap, when all
    episodes end together: without a corpus and without ``eos_token``, and without a partial ``reset_mask``.

    ## Arguments
    * ``num_envs`` (int): number of sequences per batch.
    * ``autoreset_mode`` (str): ``"same_step"`` (default) or ``"next_step"``.
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
        d_reward: str = "prob",
        reward_source: str = "rollout",
        oracle: Generator | None = None,
        autoreset_mode: str = "same_step",
    ) -> None:
        _check_render_mode(render_mode, self.metadata["render_modes"])
        if autoreset_mode not in AUTORESET_MODES:
            raise ValueError(f"autoreset_mode must be one of {AUTORESET_MODES}, got {autoreset_mode!r}")
        vocab_size, self.corpus = _corpus_vocab(corpus, vocab_size, seq_len)
        self.core = SeqGANCore(
            num_envs, vocab_size, seq_len, n_rollouts, reward_mode, discriminator, rollout_policy, device,
            **_end_tokens(self.corpus, rollout_policy), d_reward=d_reward, reward_source=reward_source, oracle=oracle,
        )  # fmt: skip
        self.num_envs = self.core.num_envs
        self.render_mode = render_mode
        self.single_action_space = spaces.Discrete(self.core.vocab_size)
        self.single_observation_space = spaces.Box(0, self.core.vocab_size, (self.core.seq_len,), dtype=np.int64)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        if autoreset_mode == "next_step" and self.core.eos_token is not None:
            raise ValueError(
                "autoreset_mode='next_step' needs episodes that all end together: not with a corpus or an eos_token "
                "(use the default 'same_step')"
            )
        self.autoreset_mode = autoreset_mode
        mode = (
            gym.vector.AutoresetMode.NEXT_STEP if autoreset_mode == "next_step" else gym.vector.AutoresetMode.SAME_STEP
        )
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self._reset_next = False  # next_step mode: the episodes ended on the last step

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
        """Reset every episode, or with ``options={"reset_mask": mask}`` (bool ``(num_envs,)``) only those in the mask
        (the others continue); ``seed`` reseeds the env's RNG. Other options are refused."""
        _check_options(options)
        unknown = sorted(set(options or {}) - {"reset_mask"})
        if unknown:
            raise ValueError(f"SeqGAN-v0 reset options: only 'reset_mask' is supported, got {unknown}")
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        mask = (options or {}).get("reset_mask")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must be a bool array of shape ({self.num_envs},), got {mask!r}")
        if mask is None or mask.all():
            info = self.core.reset(int(self.np_random.integers(2**62)))
            self._reset_next = False
        elif self.autoreset_mode == "next_step":
            raise ValueError("autoreset_mode='next_step' keeps every episode in step: reset_mask must be all True")
        else:
            info = self.core.reset_rows(torch.as_tensor(mask, device=self.core.device))
        return self.core.observation(), self._info(info)

    def step(self, actions: Any):  # type: ignore[override]
        if self._reset_next:  # next_step mode: this step starts new episodes; its actions are ignored
            self._reset_next = False
            info = self._info(self.core.reset(int(self.np_random.integers(2**62))))
            done = np.zeros(self.num_envs, dtype=bool)
            return self.core.observation(), np.zeros(self.num_envs), done, done.copy(), info
        reward, ended, info = self.core.step(actions)
        obs = self.core.observation()
        infos: dict[str, Any] = {}
        only_ended = self.core.end_only_keys()
        for k, v in info.items():
            infos[k], infos[f"_{k}"] = v, (ended.copy() if k in only_ended else np.ones(self.num_envs, dtype=bool))
        if ended.any() and self.autoreset_mode == "next_step":  # all ended together (checked at construction)
            self._reset_next = True
        elif ended.any():
            final_info = dict(infos)
            if ended.all():  # every episode ended (always so without a corpus): a fresh batch, reseeded
                reset_info = self.core.reset(int(self.np_random.integers(2**62)))
            else:
                reset_info = self.core.reset_rows(torch.as_tensor(ended, device=self.core.device))
            for k, v in reset_info.items():  # the reset info replaces the step info of the episodes that ended
                infos[k] = np.where(ended, v, infos[k]) if k in infos else v
                infos[f"_{k}"] = ended | infos.get(f"_{k}", np.zeros(self.num_envs, dtype=bool))
            for k in [k for k in infos if not k.startswith("_") and k not in reset_info]:
                infos[f"_{k}"] = infos[f"_{k}"] & ~ended
                if not infos[f"_{k}"].any():
                    del infos[k], infos[f"_{k}"]
            infos["final_obs"] = obs
            infos["_final_obs"] = ended.copy()
            infos["final_info"] = final_info
            infos["_final_info"] = ended.copy()
            obs = self.core.observation()
        # float64, as Gymnasium's sync and async vector envs stack the single env's Python-float rewards
        return obs, reward.astype(np.float64), ended, np.zeros(self.num_envs, dtype=bool), infos

    def render(self) -> tuple[str, ...] | None:
        if self.render_mode == "ansi":
            return tuple(row + "\n" for row in self.core.render_rows())
        return None
