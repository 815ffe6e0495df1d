"""The first parse of music:folk, measured: the earlier whole-file parse against the per-tune head parse that
``seqgan_env.music.parse_tunes`` does now, on music21's whole folk corpus, and every tune that differs explained:
whether parsing only its first bars changed it (it must not), or parsing it on its own rather than inside its file
(music21 carries a tune's unit note length into the next tune of a file; ABC gives a tune without ``L:`` its own
default, 1/16 below 3/4 time and 1/8 otherwise).

    python docs/experiments/music_parse.py            # ~10 min on 2 cores (the earlier parse is most of it)
    python docs/experiments/music_parse.py --limit 40 # the first 40 files of each collection

Prints wall and CPU seconds of each and the differences by cause; exits 1 if cutting a tune to its first bars
changed any.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from seqgan_env.music import COLLECTIONS, _scores, abc_tune_tokens, parse_tune_files, split_tunes, tune_tokens


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def whole_files(paths: list[Path]) -> list[list[list[str]]]:
    """The earlier parse: each file whole, in this process; per file, its tunes' tokens in order. From the source
    (``forceSource``), as on a first use: music21 otherwise reads the pickles it cached from an earlier parse."""
    import music21

    def tunes(path: Path) -> list[list[str]]:
        scores = _scores(music21.converter.parse(str(path), forceSource=True))
        return [t for t in map(tune_tokens, scores) if t is not None]

    return [tunes(p) for p in paths]


def alone(path: Path) -> list[list[str]]:
    """Each tune of ``path`` parsed whole but on its own (with the file's header): the reference for the cut."""
    header, tunes = split_tunes(path.read_text(encoding="utf-8", errors="replace"))
    return [t for t in (abc_tune_tokens(header, tune, bars=None) for tune in tunes) if t is not None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=None, help="files per collection (default: all)")
    args = p.parse_args()
    import music21

    paths = []
    for c in COLLECTIONS:
        found = sorted(x for x in music21.corpus.getCorePaths() if f"/{c}/" in str(x))
        paths += found[: args.limit] if args.limit else found
    print(f"{len(paths)} ABC files of {', '.join(COLLECTIONS)}")
    t, c = time.perf_counter(), cpu_s()
    new = parse_tune_files(paths, progress=False)
    new_wall, new_cpu = time.perf_counter() - t, cpu_s() - c
    t, c = time.perf_counter(), cpu_s()
    old = whole_files(paths)
    old_wall, old_cpu = time.perf_counter() - t, cpu_s() - c
    n_old, n_new = sum(map(len, old)), sum(map(len, new))
    print("| parse | tunes | wall s | CPU s |\n|---|---|---|---|")
    print(f"| whole files, one process (before) | {n_old} | {old_wall:.0f} | {old_cpu:.0f} |")
    print(f"| each tune's first bars, all cores (now) | {n_new} | {new_wall:.0f} | {new_cpu:.0f} |")
    print(f"\nwall {old_wall / new_wall:.1f}× faster, CPU {old_cpu / new_cpu:.1f}× less")
    by_cut = by_file = 0
    for path, o, n in zip(paths, old, new, strict=True):
        if o == n:
            continue
        ref = alone(path)  # the tunes parsed whole, each on its own
        by_cut += sum(a != b for a, b in zip(ref, n, strict=False)) + abs(len(ref) - len(n))
        by_file += sum(a != b for a, b in zip(o, ref, strict=False)) + abs(len(o) - len(ref))
        print(f"  {path.parent.name}/{path.name}: {sum(a != b for a, b in zip(o, n, strict=False))} tunes differ")
    print(f"tunes changed by parsing only the first bars: {by_cut}; by parsing each tune on its own instead of "
          f"inside its file: {by_file} (music21 carries the unit note length across a file's tunes)")  # fmt: skip
    if by_cut:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
