"""Folk tunes as pitch-token sequences (the paper's music task), from music21's bundled corpus, and the paper's
music metric.

The paper trains on Nottingham folk tunes: "88 pitches sampled every 0.4 s, length 32". Nottingham does not install
offline; music21 bundles tunes of the same genre (reels, jigs, hornpipes, strathspeys) in ABC:
``ryansMammoth`` (Ryan's Mammoth Collection, 1,059 tunes) and ``oneills1850`` (O'Neill's 1850 tunes). Each tune
becomes one sequence: its melody (the first part; a chord counts as its top note) sampled on a fixed grid of
:data:`STEP` quarter notes from the start, one token per step — ``p<MIDI pitch>`` for the note sounding then, ``rest``
for silence — the first :data:`LENGTH` steps. An eighth-note grid (``STEP = 0.5``) because these dance tunes move in
eighth notes, so a step is about one note (the paper's 0.4 s is a time step of recorded MIDI, which ABC has not);
32 steps are 4 bars of a reel, 5⅓ of a jig. Tunes shorter than that are dropped.

Each tune is parsed on its own from its first bars (all 32 steps need), in parallel: the first parse takes about a
minute on 2 cores (``docs/experiments/music_parse.py``). The token file is cached in the user's cache directory
(``$XDG_CACHE_HOME/seqgan_env`` or ``~/.cache/seqgan_env``), written atomically; requires ``pip install -e
".[music]"``.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

STEP = 0.5
"""Sampling step, in quarter notes (an eighth note)."""
LENGTH = 32
"""Tokens per tune (the paper's length); a run needs ``--task.seq-len 33`` (the tokens and ``<eos>``)."""
COLLECTIONS = ("ryansMammoth", "oneills1850")
REST = "rest"
CACHE_VERSION = 2


def _music21() -> Any:
    try:
        import music21
    except ModuleNotFoundError:
        raise ValueError(
            "the music:folk dataset needs music21 (its bundled corpus): pip install -e '.[music]'"
        ) from None
    return music21


def tune_tokens(score: Any, step: float = STEP, length: int = LENGTH) -> list[str] | None:
    """The first ``length`` tokens of ``score``'s melody sampled every ``step`` quarter notes (``p<midi>`` or
    ``rest``), or None when the tune is shorter."""
    parts = getattr(score, "parts", None)
    melody = parts[0] if parts is not None and len(parts) else score
    events = []
    for el in melody.flatten().notesAndRests:
        start, end = float(el.offset), float(el.offset + el.quarterLength)
        if end <= start:  # grace notes take no time
            continue
        if el.isRest:
            token = REST
        elif el.isChord:
            token = f"p{max(p.midi for p in el.pitches)}"
        else:
            token = f"p{el.pitch.midi}"
        events.append((start, end, token))
    if not events or events[-1][1] < step * length:
        return None
    tokens, i = [], 0
    for k in range(length):
        t = k * step
        while i < len(events) and events[i][1] <= t:
            i += 1
        tokens.append(events[i][2] if i < len(events) and events[i][0] <= t else REST)
    return tokens


def _scores(parsed: Any) -> Iterable[Any]:
    return parsed.scores if hasattr(parsed, "scores") else [parsed]


HEAD_BARS = 12
"""Bars of a tune's body parsed first (1.6× faster than the whole tune on O'Neill's): 32 eighth-note steps are 16
quarter notes, at most 11 bars of 3/8; a tune whose head gives fewer steps is parsed whole (:func:`abc_tune_tokens`), so
the cut never changes a tune (``docs/experiments/music_parse.py`` checks every tune of the corpus)."""
_BAR = re.compile(r"[:\[\]|]*\|[:\[\]|0-9]*")  # one bar line: |, ||, |], [|, :|, |:, :||:, |1 …


def split_tunes(text: str) -> tuple[str, list[str]]:
    """An ABC file's text as its file header (what precedes the first ``X:``) and its tunes (each from ``X:``)."""
    parts = re.split(r"(?m)^(?=X:)", text)
    head = "" if parts[0].startswith("X:") else parts[0]
    return head, [p for p in parts if p.startswith("X:")]


def tune_head(tune: str, bars: int = HEAD_BARS) -> str:
    """The tune's header lines and the first ``bars`` bars of its body, whole lines (all of it when shorter)."""
    out: list[str] = []
    body, n = False, 0
    for line in tune.splitlines():
        out.append(line)
        if re.match(r"^[A-Za-z+]:", line):  # a header or inline field line (K: ends the header)
            body = body or line.startswith("K:")
            continue
        if body:
            n += len(_BAR.findall(line))
            if n >= bars:
                break
    return "\n".join(out) + "\n"


def abc_tune_tokens(header: str, tune: str, bars: int | None = HEAD_BARS) -> list[str] | None:
    """One ABC tune's tokens (:func:`tune_tokens`), parsed with its file's ``header``: its first ``bars`` bars first,
    the whole tune only if they are too short (``bars=None``: the whole tune). None for a tune too short, or one
    music21 cannot read."""
    music21 = _music21()
    head = tune_head(tune, bars) if bars is not None else tune
    for text in (head, tune) if head != tune else (tune,):
        try:
            scores = list(_scores(music21.converter.parse(header + text, format="abc")))
        except Exception:  # music21 raises many kinds on malformed ABC: such a tune is dropped
            return None
        tokens = next((t for t in map(tune_tokens, scores) if t is not None), None)
        if tokens is not None:
            return tokens
    return None


def _parse_tune(job: tuple[str, str]) -> list[str] | None:
    return abc_tune_tokens(*job)  # (a module-level function: what a process pool can send)


def parse_tunes(
    paths: Sequence[str | os.PathLike[str]], progress: bool = True, workers: int | None = None
) -> list[list[str]]:
    """Token sequences of every tune in the ABC files ``paths`` (a file may hold many tunes), in file order; see
    :func:`parse_tune_files`."""
    return [tokens for tunes in parse_tune_files(paths, progress, workers) for tokens in tunes]


def parse_tune_files(
    paths: Sequence[str | os.PathLike[str]], progress: bool = True, workers: int | None = None
) -> list[list[list[str]]]:
    """For each ABC file of ``paths``, the token sequences of its tunes (those long enough). Each tune is parsed on
    its own (with the file's header), as ABC defines a tune, from its first :data:`HEAD_BARS` bars (all a sequence
    needs), over ``workers`` processes (default: the CPU count), with a progress bar in tunes."""
    _music21()
    from tqdm.auto import tqdm

    jobs, owner = [], []
    for i, path in enumerate(paths):
        header, tunes = split_tunes(Path(path).read_text(encoding="utf-8", errors="replace"))
        jobs += [(header, tune) for tune in tunes]
        owner += [i] * len(tunes)
    workers = min(workers or os.cpu_count() or 1, max(len(jobs) // 64, 1))
    with contextlib.ExitStack() as stack:
        parsed: Iterable[list[str] | None] = map(_parse_tune, jobs)
        if workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"  # fork: no re-imports
            pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)))
            parsed = pool.map(_parse_tune, jobs, chunksize=16)
        results = list(tqdm(parsed, total=len(jobs), desc="parsing ABC tunes (once)", disable=not progress,
                            unit="tune"))  # fmt: skip
    out: list[list[list[str]]] = [[] for _ in paths]
    for i, tokens in zip(owner, results, strict=True):
        if tokens is not None:
            out[i].append(tokens)
    return out


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/seqgan_env``, else ``~/.cache/seqgan_env``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "seqgan_env"


def folk_lines(progress: bool = True) -> list[str]:
    """The folk tunes as lines of space-separated tokens, read from the cache or parsed once and cached."""
    music21 = _music21()
    path = cache_dir() / f"music_folk_v{CACHE_VERSION}_{music21.__version__}.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8").splitlines()
    corpus_paths = sorted(p for p in music21.corpus.getCorePaths() if any(f"/{c}/" in str(p) for c in COLLECTIONS))
    lines = [" ".join(t) for t in parse_tunes(corpus_paths, progress)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write("\n".join(lines) + "\n")
        tmp = f.name
    os.replace(tmp, path)
    return lines


def pitches(tokens: Sequence[str]) -> list[float]:
    """MIDI pitch per step, a rest holding the previous pitch (a leading rest takes the first pitch; all rests: 0)."""
    values = [float(t[1:]) if t.startswith("p") and t[1:].isdigit() else None for t in tokens]
    first = next((v for v in values if v is not None), 0.0)
    out, last = [], first
    for v in values:
        last = v if v is not None else last
        out.append(last)
    return out


def nearest_mse(generated: Sequence[Sequence[str]], references: Sequence[Sequence[str]], length: int = LENGTH) -> float:
    """The paper's music "MSE", which it reports without a formula; our definition: for each generated tune, the
    mean squared difference in MIDI pitch (semitones², per step, rests holding the previous pitch; :func:`pitches`)
    to its nearest held-out tune, averaged over the generated tunes. The held-out set plays the part it plays in
    BLEU (references); sequences are padded or cut to ``length`` steps with their last pitch."""

    def matrix(rows: Sequence[Sequence[str]]) -> torch.Tensor:
        out = torch.zeros(len(rows), length, dtype=torch.float64)
        for i, row in enumerate(rows):
            p = pitches(row)[:length] or [0.0]
            out[i] = torch.tensor(p + [p[-1]] * (length - len(p)), dtype=torch.float64)
        return out

    if not generated or not references:
        raise ValueError("nearest_mse needs at least one generated and one reference sequence")
    g, r = matrix(generated), matrix(references)
    d2 = torch.cdist(g, r).pow(2) / length  # (n_gen, n_ref) mean squared difference per step
    return float(d2.min(dim=1).values.mean())


def write_midi(tunes: Sequence[Sequence[str]], path: str | os.PathLike[str], step: float = STEP) -> Path:
    """Write ``tunes`` (token sequences) one after another, a bar of rest apart, as a MIDI file."""
    music21 = _music21()
    stream = music21.stream.Stream()
    for tokens in tunes:
        for t in tokens:
            el = music21.note.Note(int(t[1:])) if t.startswith("p") and t[1:].isdigit() else music21.note.Rest()
            el.quarterLength = step
            stream.append(el)
        stream.append(music21.note.Rest(quarterLength=4.0))
    path = Path(path)
    stream.write("midi", fp=str(path))
    return path
