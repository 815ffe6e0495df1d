"""The synthetic oracle: a random LSTM that defines the "real" data distribution of the paper's benchmark."""

from __future__ import annotations

import importlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqgan_env.generator import Generator, GeneratorConfig
from seqgan_env.sampling import ProjectionSampler

OFFICIAL_ARRAYS = (
    "embeddings",
    "Wi",
    "Ui",
    "bi",
    "Wf",
    "Uf",
    "bf",
    "Wog",
    "Uog",
    "bog",
    "Wc",
    "Uc",
    "bc",
    "Wo",
    "bo",
)


@dataclass
class OracleConfig:
    """The oracle task (defaults: the paper's sizes)."""

    vocab_size: int = 5000
    """Vocabulary size of the oracle."""
    seq_len: int = 20
    """Length of every real sequence."""
    emb_dim: int = 32
    """Embedding size of the oracle LSTM."""
    hidden_dim: int = 32
    """Hidden size of the oracle LSTM."""
    seed: int = 0
    """Seed of the N(0, 1) parameters (ignored when ``params_path`` is given)."""
    params_path: str | None = None
    """Path of the official oracle parameters (``target_params.npz``); None draws random ones from ``seed``."""


class Oracle(Generator):
    """A standard LSTM with N(0, 1) parameters (or the official ones) that generates the real data.

    It is a :class:`~seqgan_env.generator.Generator` whose parameters are frozen; ``start_token`` is 0
    and the initial state is zero, as in the official ``target_lstm``.
    """

    def __init__(self, config: OracleConfig | None = None) -> None:
        self.oracle_config = config = config or OracleConfig()
        super().__init__(
            GeneratorConfig(
                vocab_size=config.vocab_size,
                seq_len=config.seq_len,
                emb_dim=config.emb_dim,
                hidden_dim=config.hidden_dim,
                init_std=1.0,
            )
        )
        if config.params_path is not None:
            self.load_official(config.params_path)
        else:
            self.reset_parameters(torch.Generator().manual_seed(config.seed))
            with torch.no_grad():
                self.lstm.bias_hh_l0.zero_()  # one bias per gate, as in the official cell
        self.requires_grad_(False)

    @classmethod
    def from_params(cls, path: str | os.PathLike[str], seq_len: int = 20) -> Oracle:
        """Load the official oracle parameters from ``path`` (sizes are read from the file)."""
        arrays = _read_npz(path)
        vocab, emb = arrays["embeddings"].shape
        hidden = arrays["Ui"].shape[0]
        return cls(
            OracleConfig(vocab_size=vocab, seq_len=seq_len, emb_dim=emb, hidden_dim=hidden, params_path=str(path))
        )

    def load_official(self, path: str | os.PathLike[str]) -> None:
        """Copy the official ``target_params.npz`` arrays into this LSTM (gate order i, f, g, o)."""
        a = _read_npz(path)
        c = self.config
        expected = {
            "embeddings": (c.vocab_size, c.emb_dim),
            "Wi": (c.emb_dim, c.hidden_dim),
            "Ui": (c.hidden_dim, c.hidden_dim),
            "Wo": (c.hidden_dim, c.vocab_size),
            "bo": (c.vocab_size,),
        }
        for name, shape in expected.items():
            if a[name].shape != shape:
                raise ValueError(
                    f"oracle params {path}: array {name!r} has shape {a[name].shape}, expected {shape} for "
                    f"vocab_size={c.vocab_size}, emb_dim={c.emb_dim}, hidden_dim={c.hidden_dim}"
                )
        t = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in a.items()}
        with torch.no_grad():
            self.embedding.weight.copy_(t["embeddings"])
            self.lstm.weight_ih_l0.copy_(torch.cat([t["Wi"], t["Wf"], t["Wc"], t["Wog"]], dim=1).T)
            self.lstm.weight_hh_l0.copy_(torch.cat([t["Ui"], t["Uf"], t["Uc"], t["Uog"]], dim=1).T)
            self.lstm.bias_ih_l0.copy_(torch.cat([t["bi"], t["bf"], t["bc"], t["bog"]]))
            self.lstm.bias_hh_l0.zero_()
            self.proj.weight.copy_(t["Wo"].T)
            self.proj.bias.copy_(t["bo"])

    def sampler(self, temperature: float = 1.0) -> ProjectionSampler:
        """The oracle always samples on the reference path (each row's maximum subtracted before ``exp``), so the
        benchmark's data depend on the seed only, not on the generators' fast-path arithmetic."""
        sampler = super().sampler(temperature)
        sampler.exact = True
        return sampler

    @torch.no_grad()
    def make_data(self, n_train: int = 10_000, n_test: int = 5_000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample the "real" training set and a disjointly drawn held-out test set, ``(N, T)`` each."""
        for name, n in (("n_train", n_train), ("n_test", n_test)):
            if not isinstance(n, int) or n <= 0:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        rng = torch.Generator(device=self.device).manual_seed(seed)
        data = self.sample(n_train + n_test, generator=rng)
        return data[:n_train], data[n_train:]

    @torch.no_grad()
    def nll(self, tokens: torch.Tensor, batch_size: int | None = None) -> float:
        """Mean per-token negative log-likelihood of ``tokens`` ``(N, T)`` under the oracle (nats)."""
        return sequence_nll(self, tokens, batch_size)


@torch.no_grad()
def sequence_nll(
    model: Generator, tokens: torch.Tensor, batch_size: int | None = None, temperature: float = 1.0
) -> float:
    """Mean over all tokens of ``-log p_model(token | prefix)`` for ``tokens`` ``(N, T)``, in nats.

    ``temperature`` divides the model's logits before the softmax. When the model has an ``eos_token``
    (real text), the tokens are each sentence's words and its ``<eos>``; the padding after it is excluded.
    """
    terms, mask = masked_token_nlls(model, tokens, batch_size, temperature)
    return float(terms.sum()) / int(mask.sum())


@torch.no_grad()
def per_sequence_nll(
    model: Generator, tokens: torch.Tensor, temperature: float = 1.0, batch_size: int | None = None
) -> torch.Tensor:
    """``(N,)`` float64 on the CPU: each sequence's mean per-token NLL under ``model`` at ``temperature`` (the
    tokens counted as in :func:`sequence_nll`)."""
    terms, mask = masked_token_nlls(model, tokens, batch_size, temperature)
    return (terms.sum(1) / mask.sum(1).clamp(min=1)).cpu()


@torch.no_grad()
def sequence_log_prob(model: Generator, tokens: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """``(N,)`` float64 on the CPU: each sequence's log-likelihood under ``model`` (its tokens as in
    :func:`sequence_nll`), computed in chunks (see :data:`LOGITS_CHUNK`)."""
    terms, _ = masked_token_nlls(model, tokens, batch_size, 1.0)
    return (-terms.sum(1)).cpu()


LOGITS_CHUNK = 1 << 22
"""Most logits (4M float32: 16 MB) one chunk of a no-gradient likelihood materialises: small enough that the
allocator reuses the block from chunk to chunk instead of mapping fresh pages from the OS each time (at 5,000 tokens
a 4,096-row chunk is 1.6 GB, and the page faults cost more system time than the matmul costs user time)."""


def chunk_rows(model: Generator, batch_size: int | None = None) -> int:
    """Rows per chunk of a no-gradient pass over ``(N, T)`` sequences: ``batch_size``, or as many as keep the
    ``(rows, T, V)`` logits within :data:`LOGITS_CHUNK`."""
    if batch_size is not None:
        return batch_size
    return max(1, LOGITS_CHUNK // (model.config.seq_len * model.config.vocab_size))


def masked_token_nlls(
    model: Generator, tokens: torch.Tensor, batch_size: int | None = None, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The token NLLs ``(N, T)`` (float64, 0 outside the sequence) and the mask, computed chunk by chunk into
    tensors allocated before the loop: a small result allocated after each chunk's logits would pin the heap above
    them, so the allocator could not reuse their blocks, and memory would grow by a chunk's logits per chunk
    (1.5 GB for 5,000 sequences at vocabulary 5,000; ``bench/phases.py``)."""
    if tokens.dim() != 2 or tokens.shape[0] == 0:
        raise ValueError(f"tokens must be a non-empty (N, T) tensor, got shape {tuple(tokens.shape)}")
    if tokens.shape[1] != model.config.seq_len:
        raise ValueError(f"tokens have length {tokens.shape[1]}, the model expects seq_len={model.config.seq_len}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= model.config.vocab_size:
        raise ValueError(f"tokens must lie in [0, vocab_size={model.config.vocab_size})")
    was_training = model.training
    model.eval()
    tokens = tokens.to(model.device)
    mask = model.valid_mask(tokens)
    terms = torch.empty(tokens.shape, dtype=torch.float64, device=model.device)
    rows = chunk_rows(model, batch_size)
    for lo in range(0, tokens.shape[0], rows):
        terms[lo : lo + rows] = model.log_prob(tokens[lo : lo + rows], temperature)
    terms.neg_().mul_(mask)
    model.train(was_training)
    return terms, mask


def _read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"oracle params file not found: {path!s} (pass --task.oracle-params PATH to target_params.npz)"
        )
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise ValueError(f"oracle params {path!s} is not a readable .npz file: {exc}") from None
    missing = [k for k in OFFICIAL_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"oracle params {path!s} lacks arrays {missing}; expected {list(OFFICIAL_ARRAYS)}")
    return arrays


# ------------------------------------------------------------------------------------ the official file, converted
class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: any other global (the way a pickle runs code) is refused.
    (``_codecs.encode`` turns text into bytes: how protocol 2 stores an array's raw data when written by Python 3.)"""

    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")})  # fmt: skip

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: only numpy arrays are read")
        return getattr(importlib.import_module(module.replace("numpy.core.", "numpy._core.")), name)


def convert_official(pkl_path: str | os.PathLike[str], npz_path: str | os.PathLike[str]) -> dict[str, tuple]:
    """Convert the SeqGAN authors' ``save/target_params.pkl`` (LantaoYu/SeqGAN: a Python 2 pickle of the oracle's 15
    arrays, in ``target_lstm.py``'s order) into the ``.npz`` this project reads, with a restricted unpickler that
    accepts only numpy arrays and never runs code from the file. Returns the arrays' shapes by name."""
    pkl_path, npz_path = Path(pkl_path), Path(npz_path)
    if not pkl_path.is_file():
        raise FileNotFoundError(f"{pkl_path}: no such file (the official repository's save/target_params.pkl)")
    try:
        with pkl_path.open("rb") as f:
            params = _ArraysOnly(f, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{pkl_path}: not the official oracle file ({exc})") from None
    except Exception as exc:
        raise ValueError(f"{pkl_path}: unreadable as a pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(params, (list, tuple)) or len(params) != len(OFFICIAL_ARRAYS):
        got = f"a {type(params).__name__}" + (f" of {len(params)}" if isinstance(params, (list, tuple)) else "")
        raise ValueError(f"{pkl_path}: expected a list of {len(OFFICIAL_ARRAYS)} arrays, got {got}")
    arrays = {name: np.asarray(p, dtype=np.float32) for name, p in zip(OFFICIAL_ARRAYS, params, strict=True)}
    vocab, emb = arrays["embeddings"].shape if arrays["embeddings"].ndim == 2 else (0, 0)
    hidden = arrays["Ui"].shape[0] if arrays["Ui"].ndim == 2 else 0
    shapes = {"embeddings": (vocab, emb), "Wo": (hidden, vocab), "bo": (vocab,),
              **{f"{w}{g}": (emb if w == "W" else hidden, hidden) for w in "WU" for g in ("i", "f", "og", "c")},
              **{f"b{g}": (hidden,) for g in ("i", "f", "og", "c")}}  # fmt: skip
    bad = {k: a.shape for k, a in arrays.items() if a.shape != shapes[k] or not vocab}
    if bad:
        raise ValueError(f"{pkl_path}: arrays of unexpected shapes {bad} (expected {shapes})")
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz_path.with_name(npz_path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, npz_path)
    return {k: a.shape for k, a in arrays.items()}


def main(argv: list[str] | None = None) -> None:
    """``python -m seqgan_env.oracle convert target_params.pkl target_params.npz``: the official oracle, converted."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m seqgan_env.oracle", description=main.__doc__)
    p.add_argument("command", choices=["convert"])
    p.add_argument("pkl", help="the SeqGAN repository's save/target_params.pkl")
    p.add_argument("npz", help="where to write the .npz (pass it as --task.oracle-params)")
    a = p.parse_args(argv)
    try:
        shapes = convert_official(a.pkl, a.npz)
    except (ValueError, FileNotFoundError, OSError) as exc:
        p.exit(2, f"error: {exc}\n")
    print(f"wrote {a.npz}: vocabulary {shapes['embeddings'][0]}, embedding {shapes['embeddings'][1]}, hidden "
          f"{shapes['Ui'][0]}")  # fmt: skip


if __name__ == "__main__":
    main()
