"""The first parse of music:folk, measured: the earlier whole-file parse against the per-tune head parse that
``seqgan_env.music.parse_tunes`` does now, on music21's whole folk corpus, with a check that both give the same tunes.

    python docs/experiments/music_parse.py            # ~10 min on 2 cores (the earlier parse is most of it)
    python docs/experiments/music_parse.py --limit 40 # the first 40 files of each collection

Prints wall and CPU seconds of each and whether the token sequences are identical, tune for tune.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from seqgan_env.music import COLLECTIONS, _scores, parse_tunes, tune_tokens


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def whole_files(paths: list[Path]) -> list[list[str]]:
    """The earlier parse: each file whole, in this process, every tune's tokens in file order."""
    import music21

    out = []
    for path in paths:
        for score in _scores(music21.converter.parse(str(path))):
            tokens = tune_tokens(score)
            if tokens is not None:
                out.append(tokens)
    return out


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
    new = parse_tunes(paths, progress=False)
    new_wall, new_cpu = time.perf_counter() - t, cpu_s() - c
    t, c = time.perf_counter(), cpu_s()
    old = whole_files(paths)
    old_wall, old_cpu = time.perf_counter() - t, cpu_s() - c
    same = old == new
    print("| parse | tunes | wall s | CPU s |\n|---|---|---|---|")
    print(f"| whole files, one process (before) | {len(old)} | {old_wall:.0f} | {old_cpu:.0f} |")
    print(f"| each tune's first bars, all cores (now) | {len(new)} | {new_wall:.0f} | {new_cpu:.0f} |")
    print(f"\nwall {old_wall / new_wall:.1f}× faster, CPU {old_cpu / new_cpu:.1f}× less; identical tunes: {same}")
    if not same:
        diff = sum(a != b for a, b in zip(old, new)) + abs(len(old) - len(new))
        print(f"{diff} tunes differ")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
