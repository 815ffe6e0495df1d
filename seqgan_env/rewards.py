"""Where the reward comes from: one object per reward source, each owning its per-step state, its argument checks and
what it persists. :class:`~seqgan_env.env.SeqGANCore` asks its source and never branches on the source's name.

* :class:`RolloutSource` (``"rollout"``, the paper): Q from Monte Carlo completions scored by a learned D.
* :class:`PrefixSource` (``"prefix"``): Q_t = D(y_1..t) from a per-prefix D read one token per step, no rollouts.
* :class:`PerfectSource` (``"perfect"``): the oracle task's perfect discriminator against the current G,
  r_t = log p_O(y_t | y_<t) − log p_G(y_t | y_<t). It depends on the agent's own G, held in sync in the env.
* :class:`OracleSource` (``"oracle"``): r_t = log p_O(y_t | y_<t), the oracle's log-likelihood of the token. No G
  inside the env, so any RL library can use it. With an entropy bonus of weight 1 per step the expected return is
  ``−KL(π ‖ oracle)`` (see :class:`OracleSource`): maximum-entropy RL with a known optimum, the oracle itself.
* :class:`LMSource` (``"lm"``): r_t = log q_φ(y_t | y_<t), the oracle reward with a learned language model q_φ in
  the oracle's place: the full-vocabulary discriminator :class:`~seqgan_env.discriminator.LMDiscriminator`, trained
  by NCE against G. Dense, learned, no G inside the env, on any task (real text too).

``SOURCES`` maps each name to its class; :func:`check_source` holds the rules of each source's arguments, shared by the
env and the training config (which words them as flags).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

import numpy as np
import torch

from seqgan_env.discriminator import (
    Discriminator,
    DiscriminatorConfig,
    LMDiscriminator,
    LMDiscriminatorConfig,
    PrefixDiscriminator,
    PrefixDiscriminatorConfig,
)
from seqgan_env.generator import Generator, GeneratorConfig, State
from seqgan_env.rollout import D_REWARDS, RolloutReward, SequenceScorer, check_scores, log_odds

if TYPE_CHECKING:
    from seqgan_env.env import SeqGANCore

RewardSourceName = Literal["rollout", "prefix", "perfect", "oracle", "lm"]
REWARD_SOURCES: tuple[str, ...] = get_args(RewardSourceName)
RewardModeName = Literal["shaped", "q", "terminal"]
REWARD_MODES: tuple[str, ...] = get_args(RewardModeName)

Info = dict[str, np.ndarray]


def _kwarg(name: str, value: object = None) -> str:
    """An argument as the env's keyword arguments spell it: ``name``, or ``name='value'``."""
    return name if value is None else f"{name}={value!r}"


def check_source(
    source: str,
    *,
    d_reward: str = "prob",
    on_text: bool = False,
    rollout_beta: float = 0.0,
    spell: Callable[..., str] = _kwarg,
) -> type[RewardSource]:
    """The class of reward source ``source`` after checking the arguments it needs or excludes; one ``ValueError``
    naming them. ``spell(name, value=None)`` writes an argument (``reward_source``, ``d_reward``, ``rollout_beta``,
    ``corpus``), with its value when given, in the caller's words (``reward_source='oracle'`` for the env's keyword
    arguments, ``--env.reward-source oracle`` for the training config's flags)."""
    if source not in SOURCES:
        raise ValueError(f"{spell('reward_source')} must be one of {REWARD_SOURCES}, got {source!r}")
    if d_reward not in D_REWARDS:
        raise ValueError(f"{spell('d_reward')} must be one of {D_REWARDS}, got {d_reward!r}")
    cls = SOURCES[source]
    what = spell("reward_source", source)
    if cls.needs_oracle and on_text:
        raise ValueError(
            f"{what} needs the oracle task (its likelihood is the reward): real text ({spell('corpus')}) has no "
            f"known likelihood; use {spell('reward_source', 'rollout')} or 'prefix'"
        )
    if cls.discriminator in (None, "lm") and d_reward != "prob":
        reads = "reads no D" if cls.discriminator is None else "reads its D's log-likelihood, not a probability"
        raise ValueError(f"{spell('d_reward', d_reward)} transforms a learned D's probability; {what} {reads}")
    if source == "prefix" and d_reward == "constant":
        raise ValueError(f"{spell('d_reward', 'constant')} is an ablation of the rollout reward; use "
                         f"{spell('reward_source', 'rollout')}")  # fmt: skip
    if cls.needs_oracle and rollout_beta:
        raise ValueError(
            f"{what} scores against the current G, not a delayed copy: it needs {spell('rollout_beta', 0)}"
        )
    return cls


class RewardSource:
    """One reward source bound to one :class:`~seqgan_env.env.SeqGANCore` (its tokens, positions, rollout policy
    and RNG). Subclasses set the class attributes and implement :meth:`reset_rows` and :meth:`step`."""

    name: ClassVar[str]
    discriminator: ClassVar[Literal["sequence", "prefix", "lm"] | None] = None
    """Which learned D the source reads: any ``score(tokens)`` (``"sequence"``), a ``PrefixDiscriminator``
    (``"prefix"``), an ``LMDiscriminator`` (``"lm"``) or none."""
    needs_oracle: ClassVar[bool] = False
    """Whether the source needs ``oracle=`` (the oracle task's likelihood)."""
    uses_policy: ClassVar[bool] = True
    """Whether the env holds G (its ``rollout_policy``, kept equal to the agent's generator) and follows it through
    each episode: the rollout reward completes prefixes with it, the perfect one scores against it, the prefix one
    keeps it (as it always has; its reward does not read it); the oracle reward holds no G."""
    info_keys: ClassVar[tuple[str, ...]] = ("q", "d_score")
    """The info keys of a step; those in ``end_keys`` only where an episode ended."""
    end_keys: ClassVar[tuple[str, ...]] = ("d_score",)

    def __init__(self) -> None:
        self.core: SeqGANCore | None = None

    # ---------------------------------------------------------------- wiring
    def bind(self, core: SeqGANCore) -> None:
        """Attach to ``core`` (called once, by the core's constructor)."""
        self.core = core

    @property
    def c(self) -> SeqGANCore:
        assert self.core is not None, "the reward source is not bound to an env"
        return self.core

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        raise ValueError(f"reward_source={self.name!r} reads no learned discriminator; it takes no discriminator")

    def get_discriminator(self) -> SequenceScorer | None:
        return None

    def default_discriminator(self, vocab_size: int, seq_len: int) -> SequenceScorer | None:
        """The untrained D the env builds when none is given (None: the source reads no D)."""
        return None

    def end_only_keys(self, reward_mode: str) -> set[str]:
        """Info keys meaningful only where an episode ended."""
        return set(self.end_keys)

    # ---------------------------------------------------------------- dynamics
    def reset_rows(self, idx: torch.Tensor, policy_first: State | None) -> Info:
        """Start empty prefixes in rows ``idx``; returns the reset's info arrays (``"q"``: Q_0 in shaped mode)."""
        raise NotImplementedError

    def step(self, act: torch.Tensor, ended: torch.Tensor, policy_before: State | None) -> tuple[torch.Tensor, Info]:
        """Rewards ``(B,)`` and info after the core appended ``act``; ``policy_before`` is G's state before it read
        ``act`` (the core's ``tokens``, ``pos`` and policy state are already advanced)."""
        raise NotImplementedError

    def restore(self) -> None:
        """Re-read the core's episodes in progress (after :meth:`SeqGANCore.restore` set tokens and positions)."""

    def on_policy_changed(self) -> None:
        """The rollout policy was replaced (its state was re-read by the core)."""

    def state_dict(self) -> dict[str, Any]:
        """What continuing exactly needs beyond the core's tokens, positions and RNG."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class _QSource(RewardSource):
    """A learned-D source whose ``"shaped"`` mode pays Q_t − Q_(t−1): it keeps Q_(t−1) (``q_prev``)."""

    def __init__(self, discriminator: SequenceScorer | None, d_reward: str) -> None:
        super().__init__()
        self.d_reward = d_reward
        self._disc = discriminator
        self.q_prev = torch.zeros(0)

    def bind(self, core: SeqGANCore) -> None:
        super().bind(core)
        self.q_prev = torch.zeros(core.num_envs, device=core.device)
        if self._disc is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # default (untrained) parts are the same in every process
                self._disc = self.default_discriminator(core.vocab_size, core.seq_len)
        assert self._disc is not None
        self.set_discriminator(self._disc)

    def get_discriminator(self) -> SequenceScorer | None:
        return self._disc

    def _check_discriminator(self, discriminator: SequenceScorer) -> None:
        if not callable(getattr(discriminator, "score", None)):
            raise TypeError(f"discriminator must have a score(tokens) method, got {type(discriminator).__name__}")
        self.c.check_sizes("discriminator", discriminator)
        if isinstance(discriminator, torch.nn.Module):
            discriminator.to(self.c.device)

    def value(self, p: torch.Tensor) -> torch.Tensor:
        """What the reward makes of D's P(real): itself, or its log-odds (``d_reward``; not "constant")."""
        return log_odds(p) if self.d_reward == "log_odds" else p

    def state_dict(self) -> dict[str, Any]:
        return {"q_prev": self.q_prev.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "q_prev" in state:
            self.q_prev = state["q_prev"].to(self.c.device)


class RolloutSource(_QSource):
    """The paper's reward: Q(y_1..t) = mean D-score of ``n_rollouts`` completions of the prefix sampled by the
    rollout policy (``"terminal"``: D's score of the finished sequence, no rollouts)."""

    name = "rollout"
    discriminator = "sequence"

    def __init__(self, discriminator: SequenceScorer | None = None, n_rollouts: int = 16, d_reward: str = "prob"):
        self.reward: RolloutReward | None = None
        self.n_rollouts = n_rollouts
        super().__init__(discriminator, d_reward)

    def default_discriminator(self, vocab_size: int, seq_len: int) -> SequenceScorer:
        return Discriminator(DiscriminatorConfig.paper(vocab_size, seq_len))

    def bind(self, core: SeqGANCore) -> None:
        assert core.policy is not None
        self.reward = RolloutReward(core.policy, self._disc, self.n_rollouts, self.d_reward)  # type: ignore[arg-type]
        super().bind(core)

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        self._check_discriminator(discriminator)
        self._disc = discriminator
        assert self.reward is not None
        self.reward.discriminator = discriminator

    def on_policy_changed(self) -> None:
        assert self.reward is not None
        assert self.c.policy is not None
        self.reward.policy = self.c.policy

    def reset_rows(self, idx: torch.Tensor, policy_first: State | None) -> Info:
        c = self.c
        if c.reward_mode != "shaped":
            return {}
        assert self.reward is not None
        assert policy_first is not None
        self.q_prev[idx] = self.reward.q_values(c.tokens[idx, :0], policy_first, c.torch_rng)
        return {"q": self.q_prev.cpu().numpy().copy()}

    def end_only_keys(self, reward_mode: str) -> set[str]:
        return {"d_score", "q"} if reward_mode == "terminal" else {"d_score"}

    def step(self, act: torch.Tensor, ended: torch.Tensor, policy_before: State | None) -> tuple[torch.Tensor, Info]:
        c, reward_fn = self.c, self.reward
        assert reward_fn is not None
        info: Info = {}
        if c.reward_mode != "terminal":
            assert c.state is not None
            q = reward_fn.q_rows(c.tokens, c.pos, c.state, c.torch_rng)
            if not torch.isfinite(q).all():
                raise FloatingPointError(f"non-finite Q-value at step(s) {c.pos.unique().tolist()}: check D")
            reward = q - self.q_prev if c.reward_mode == "shaped" else q
            self.q_prev = q.clone()  # reset_rows() writes into q_prev in place
            info["q"] = q.cpu().numpy()
        else:
            reward = torch.zeros(c.num_envs, device=c.device)
            if bool(ended.any()):
                reward[ended] = reward_fn.sequence_reward(c.tokens[ended]).to(reward.dtype)
                if not torch.isfinite(reward).all():
                    raise FloatingPointError("non-finite discriminator score: check the discriminator")
                info["q"] = reward.cpu().numpy()
        if bool(ended.any()):  # an ended row's Q is its score: D's P(real) itself with d_reward="prob"
            info["d_score"] = info["q"] if self.d_reward == "prob" else self._d_scores(ended)
        return reward, info

    def _d_scores(self, ended: torch.Tensor) -> np.ndarray:
        """D's P(real) ``(B,)`` of the rows that ended (0 elsewhere), for ``info["d_score"]``."""
        c = self.c
        d_score = torch.zeros(c.num_envs, device=c.device)
        rows = c.tokens[ended]
        assert self._disc is not None
        d_score[ended] = check_scores(self._disc.score(rows), len(rows)).to(d_score.dtype)
        return d_score.cpu().numpy()


class PrefixSource(_QSource):
    """Q_t = D(y_1..t), the score of the prefix itself by a :class:`PrefixDiscriminator` whose state reads one token
    per step: no rollouts. Q_0 (``"shaped"``) is D's score of the empty prefix."""

    name = "prefix"
    discriminator = "prefix"

    def __init__(self, discriminator: PrefixDiscriminator | None = None, d_reward: str = "prob") -> None:
        self.d_state: State | None = None
        super().__init__(discriminator, d_reward)

    def default_discriminator(self, vocab_size: int, seq_len: int) -> SequenceScorer:
        return PrefixDiscriminator(PrefixDiscriminatorConfig(vocab_size, seq_len))

    @property
    def disc(self) -> PrefixDiscriminator:
        assert isinstance(self._disc, PrefixDiscriminator)
        return self._disc

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        self._check_discriminator(discriminator)
        if not isinstance(discriminator, PrefixDiscriminator):
            raise TypeError(
                "reward_source='prefix' needs a seqgan_env.PrefixDiscriminator (it scores every prefix), got "
                f"{type(discriminator).__name__}"
            )
        self._disc = discriminator
        if bool((self.c.pos >= 0).all()):  # episodes in progress are re-read with the new D
            self.d_state = self.c.read_prefix(discriminator)

    def reset_rows(self, idx: torch.Tensor, policy_first: State | None) -> Info:
        c = self.c
        d_first = self.disc.first_state(len(idx))
        self.d_state = c.set_rows(self.d_state, idx, d_first)
        if c.reward_mode != "shaped":
            return {}
        self.q_prev[idx] = self.value(self.disc.prob(d_first))
        return {"q": self.q_prev.cpu().numpy().copy()}

    def step(self, act: torch.Tensor, ended: torch.Tensor, policy_before: State | None) -> tuple[torch.Tensor, Info]:
        assert self.d_state is not None
        self.d_state = self.disc.advance(act, self.d_state)
        p = self.disc.prob(self.d_state)
        q = self.value(p)
        mode = self.c.reward_mode
        reward = {"q": q, "shaped": q - self.q_prev, "terminal": q * ended}[mode]
        self.q_prev = q.clone()
        info = {"q": (reward if mode == "terminal" else q).cpu().numpy()}
        if bool(ended.any()):
            info["d_score"] = (p * ended).cpu().numpy()
        return reward, info

    def restore(self) -> None:
        self.d_state = self.c.read_prefix(self.disc)


class _Likelihood(RewardSource):
    """A source that reads a language model's next-token distribution (``self.model``: the oracle, or a learned
    LM): it keeps the model's state and a per-row sum."""

    needs_oracle = True
    discriminator = None
    model_name: ClassVar[str] = "oracle"

    def __init__(self, oracle: Generator) -> None:
        super().__init__()
        if not isinstance(oracle, Generator):
            hint = (" (a path: load it first with seqgan_env.Oracle.from_params(path))"
                    if isinstance(oracle, (str, os.PathLike)) else "")  # fmt: skip
            raise TypeError(f"oracle must be a seqgan_env.Oracle (a Generator), got {type(oracle).__name__}{hint}")
        self.model: Generator = oracle
        self.model_state: State | None = None
        self.total = torch.zeros(0)

    def bind(self, core: SeqGANCore) -> None:
        super().bind(core)
        core.check_sizes(self.model_name, self.model)
        self.model = self.model.to(core.device)
        self.total = torch.zeros(core.num_envs, device=core.device)

    def reset_rows(self, idx: torch.Tensor, policy_first: State | None) -> Info:
        c = self.c
        self.model_state = c.set_rows(self.model_state, idx, self.model.first_state(len(idx)))
        self.total[idx] = 0.0
        return {}

    def model_log_prob(self, act: torch.Tensor) -> torch.Tensor:
        """``log p(act | prefix)`` ``(B,)`` under the model, from its state before reading ``act``; advances it."""
        assert self.model_state is not None
        lp = torch.log_softmax(self.model.logits_from_state(self.model_state), dim=1).gather(1, act[:, None])
        self.model_state = self.model.advance(act, self.model_state)
        return lp.squeeze(1)

    def token_reward(self, act: torch.Tensor, policy_before: State | None) -> torch.Tensor:
        raise NotImplementedError

    def step(self, act: torch.Tensor, ended: torch.Tensor, policy_before: State | None) -> tuple[torch.Tensor, Info]:
        r = self.token_reward(act, policy_before)
        self.total += r
        reward = torch.where(ended, self.total, 0.0) if self.c.reward_mode == "terminal" else r
        return reward, self.episode_info(reward, ended)

    def episode_info(self, reward: torch.Tensor, ended: torch.Tensor) -> Info:
        raise NotImplementedError

    def prefix_token_rewards(self) -> torch.Tensor:
        """``(B, T)``: each position's token reward for the core's prefixes (positions past ``pos`` are 0)."""
        raise NotImplementedError

    def restore(self) -> None:
        c = self.c
        self.model_state = c.read_prefix(self.model)
        with torch.inference_mode():
            inside = torch.arange(c.seq_len, device=c.device) < c.pos[:, None]
            self.total = (self.prefix_token_rewards() * inside).sum(dim=1)


class PerfectSource(_Likelihood):
    """The perfect discriminator of the oracle task, against the current G (the env's ``rollout_policy``, kept equal
    to the agent's generator): D*(x) = p_O(x) / (p_O(x) + p_G(x)). Its dense form is
    r_t = log p_O(y_t | y_<t) − log p_G(y_t | y_<t); ``"terminal"`` pays Σ_t r_t = log D*/(1 − D*) at the last step.
    The expected return under G is −KL(G ‖ oracle). It depends on G, so only an agent that keeps the env's G in sync
    (ours) can use it; :class:`OracleSource` is the agent-independent form."""

    name = "perfect"

    def token_reward(self, act: torch.Tensor, policy_before: State | None) -> torch.Tensor:
        c = self.c
        assert policy_before is not None
        assert c.policy is not None
        lp_g = torch.log_softmax(c.policy.logits_from_state(policy_before), dim=1).gather(1, act[:, None]).squeeze(1)
        return self.model_log_prob(act) - lp_g

    def prefix_token_rewards(self) -> torch.Tensor:
        c = self.c
        assert c.policy is not None
        return self.model.log_prob(c.tokens) - c.policy.log_prob(c.tokens)

    def episode_info(self, reward: torch.Tensor, ended: torch.Tensor) -> Info:
        info = {"q": reward.cpu().numpy()}
        if bool(ended.any()):  # D*(x) = p_O / (p_O + p_G) = sigmoid(log p_O(x) − log p_G(x))
            info["d_score"] = (torch.sigmoid(self.total) * ended).cpu().numpy()
        return info


class OracleSource(_Likelihood):
    """The oracle's own likelihood: r_t = log p_O(y_t | y_<t), with no G inside the env (any agent can use it).

    For an autoregressive policy π the per-step entropies sum to its sequence entropy, so with an entropy bonus of
    weight 1 at every step

        E_π[Σ_t r_t] + Σ_t E_π[H(π(· | y_<t))] = E_π[log p_O(Y)] + H(π) = −KL(π ‖ oracle),

    maximised, with value 0, by π = the oracle and nothing else. Entropy-regularised RL on this reward (the entropy
    coefficient 1, undiscounted) therefore has a known optimum and a known optimal value. ``"perfect"`` pays the same
    per-step total once −log p_G(y_t | y_<t) (a sample of that entropy) is added. ``"terminal"`` pays log p_O(y) at
    the last step. ``info["oracle_log_prob"]`` is the episode's log p_O(y_1..t) so far (the whole sequence's at the
    last step) and ``info["q"]`` the step's reward."""

    name = "oracle"
    uses_policy = False
    info_keys = ("q", "oracle_log_prob")
    end_keys = ()

    def token_reward(self, act: torch.Tensor, policy_before: State | None) -> torch.Tensor:
        return self.model_log_prob(act)

    def prefix_token_rewards(self) -> torch.Tensor:
        return self.model.log_prob(self.c.tokens)

    def end_only_keys(self, reward_mode: str) -> set[str]:
        return {"q"} if reward_mode == "terminal" else set()

    def episode_info(self, reward: torch.Tensor, ended: torch.Tensor) -> Info:
        return {"q": reward.cpu().numpy(), "oracle_log_prob": self.total.cpu().numpy().copy()}


class LMSource(OracleSource):
    """A learned full-vocabulary D's language model in the oracle's place: r_t = log q_φ(y_t | y_<t), where q_φ is
    the :class:`~seqgan_env.discriminator.LMDiscriminator`'s LM (trained by NCE, real data against G's samples, so
    that its optimum is the data distribution). Like :class:`OracleSource` it holds no G, and with an entropy bonus
    of weight 1 per step the expected return is −KL(π ‖ q_φ); unlike it, it is learned and works on real text.
    ``info["lm_log_prob"]`` is the episode's log q_φ(y_1..t) so far. A retrained D (:meth:`set_discriminator`) is
    read from the next token on; the episodes in progress are re-read with it."""

    name = "lm"
    model_name = "discriminator"
    needs_oracle = False
    discriminator = "lm"
    info_keys = ("q", "lm_log_prob")

    def __init__(self, discriminator: LMDiscriminator | None = None) -> None:
        RewardSource.__init__(self)
        self._disc = discriminator
        self.model_state = None
        self.total = torch.zeros(0)

    def default_discriminator(self, vocab_size: int, seq_len: int) -> LMDiscriminator:
        return LMDiscriminator(LMDiscriminatorConfig(GeneratorConfig(vocab_size=vocab_size, seq_len=seq_len)))

    def bind(self, core: SeqGANCore) -> None:
        if self._disc is None:
            self._disc = self.default_discriminator(core.vocab_size, core.seq_len)
        self.model = self._disc.lm
        super().bind(core)
        self.set_discriminator(self._disc)

    def set_discriminator(self, discriminator: SequenceScorer) -> None:
        if not isinstance(discriminator, LMDiscriminator):
            raise TypeError(
                f"reward_source='lm' reads an LMDiscriminator (a language model), got {type(discriminator).__name__}"
            )
        self.c.check_sizes("discriminator", discriminator)
        self._disc = discriminator
        self.model = discriminator.lm.to(self.c.device)
        if self.model_state is not None:  # episodes in progress: re-read with the new q_φ
            self.restore()

    def get_discriminator(self) -> LMDiscriminator | None:
        return self._disc

    def episode_info(self, reward: torch.Tensor, ended: torch.Tensor) -> Info:
        return {"q": reward.cpu().numpy(), "lm_log_prob": self.total.cpu().numpy().copy()}


SOURCES: dict[str, type[RewardSource]] = {
    cls.name: cls for cls in (RolloutSource, PrefixSource, PerfectSource, OracleSource, LMSource)
}
assert tuple(SOURCES) == REWARD_SOURCES, "every reward source has a class, in the order of RewardSourceName"


def make_source(
    name: str,
    *,
    discriminator: SequenceScorer | None = None,
    oracle: Generator | None = None,
    n_rollouts: int = 16,
    d_reward: str = "prob",
    on_text: bool = False,
) -> RewardSource:
    """Build reward source ``name`` from the env's arguments, refusing those it does not take (one ``ValueError``)."""
    cls = check_source(name, d_reward=d_reward, on_text=on_text)
    if cls.needs_oracle and oracle is None:
        raise ValueError(
            f"reward_source={name!r} needs the oracle task: pass oracle= (the seqgan_env.Oracle whose samples are "
            "the real data)"
        )
    if not cls.needs_oracle and oracle is not None:
        needing = [n for n, c in SOURCES.items() if c.needs_oracle]
        raise ValueError(f"oracle= is used only by reward_source in {needing}, got reward_source={name!r}")
    if cls.discriminator is None and discriminator is not None:
        raise ValueError(f"reward_source={name!r} rewards with the oracle's likelihood; do not pass discriminator=")
    if cls is RolloutSource:
        return RolloutSource(discriminator, n_rollouts, d_reward)
    if cls is PrefixSource:
        return PrefixSource(discriminator, d_reward)  # type: ignore[arg-type]
    if cls is LMSource:
        return LMSource(discriminator)  # type: ignore[arg-type]
    assert oracle is not None
    return cls(oracle)  # type: ignore[call-arg]
