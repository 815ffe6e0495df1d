"""Sample from a trained run: decoded text for a corpus run, token ids for an oracle run.

    python train/generate.py RUN_DIR --n 20 --temperature 0.8
    python train/generate.py RUN_DIR --n 100000 --out samples.txt --seed 1 --checkpoint pretrained

One sample per line, streamed in batches (stdout, or ``--out``: written as drawn to a temporary file, then moved into
place; memory stays one batch, whatever ``--n``). A closed pipe (``| head``) ends it quietly. ``--checkpoint latest``
(the run's final G), ``pretrained`` (the MLE G it started from) or ``best`` (the adversarial G with the lowest
validation NLL, for a run with ``--task.n-valid``); in Python: ``seqgan_env.load_generator(run_dir)``.

    python train/generate.py MUSIC_RUN_DIR --n 8 --midi tunes.mid    # a music:folk run: the tunes as one MIDI file
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from agents.run.rundir import RunDir
from seqgan_env.trained import CHECKPOINTS, load_generator


def generate(
    run_dir: str, n: int, temperature: float = 1.0, seed: int = 0, checkpoint: str = "latest", batch_size: int = 4096
) -> Iterator[str]:
    """``n`` samples of the run's generator at ``temperature``, one line each (decoded text, or token ids)."""
    gen, vocab = load_generator(run_dir, checkpoint)
    rng = torch.Generator().manual_seed(seed)
    for start in range(0, n, batch_size):
        rows = gen.sample(min(batch_size, n - start), temperature=temperature, generator=rng)
        for row in rows:
            yield vocab.decode(row) if vocab else " ".join(map(str, row.tolist()))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a run directory (train/reinforce.py, train/ppo.py, …)")
    p.add_argument("--n", type=int, default=20, help="number of samples (default 20)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature, > 0 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--checkpoint", choices=CHECKPOINTS, default="latest", help="which generator (default latest)")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    p.add_argument("--midi", default=None, help="a music:folk run: also write the samples as this MIDI file")
    args = p.parse_args(argv)
    if args.n <= 0:
        p.error(f"--n must be a positive integer, got {args.n}")
    if not args.temperature > 0 or args.temperature == float("inf"):
        p.error(f"--temperature must be a finite number > 0, got {args.temperature}")
    if args.seed < 0:
        p.error(f"--seed must be >= 0, got {args.seed}")
    for flag, value in (("--out", args.out), ("--midi", args.midi)):
        if value is not None:
            _check_out(p, Path(value), flag)
    if args.midi is not None:
        _check_music(p, args.run_dir, args.n)
    try:
        lines = generate(args.run_dir, args.n, args.temperature, args.seed, args.checkpoint)
        first = next(lines)  # load errors surface here, before any output
    except (FileNotFoundError, ValueError, TypeError) as exc:
        p.error(str(exc))
    if args.midi is not None:
        from seqgan_env.music import write_midi

        lines = [first, *lines]
        write_midi([line.split() for line in lines], args.midi)
        print(f"wrote {len(lines)} tunes to {args.midi}", file=sys.stderr)
        lines = iter(lines[1:])
    if args.out is None:
        try:
            print(first)
            for line in lines:
                print(line)
            sys.stdout.flush()
        except BrokenPipeError:  # `| head`: the reader has all it wants; stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    _check_room(p, Path(args.out), first, args.n)
    _stream_to(Path(args.out), first, lines, args.n)
    print(f"wrote {args.n} samples to {args.out}", file=sys.stderr)
    return 0


def _check_out(p: argparse.ArgumentParser, out: Path, flag: str = "--out") -> None:
    """``--out`` (``--midi``) must name a file in a writable directory: one line before any work otherwise."""
    if out.is_dir():
        p.error(f"{flag} {out} is a directory: name a file")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        p.error(f"{flag} {out}: no such directory {parent}")
    if not os.access(parent, os.W_OK):
        p.error(f"{flag} {out}: the directory {parent} is not writable")


def _check_room(p: argparse.ArgumentParser, out: Path, first: str, n: int) -> None:
    """``--n`` samples must fit on ``--out``'s filesystem (sized by the first sample, 1.5× for longer ones)."""
    need = int(1.5 * n * (len((first + "\n").encode("utf-8"))))
    free = shutil.disk_usage(out.parent if str(out.parent) else ".").free
    if need > free:
        size = tqdm.format_sizeof
        p.error(
            f"--n {n} would write about {size(need, 'B')} to --out {out}, but its filesystem has {size(free, 'B')} free"
        )


MIDI_MAX = 10_000
"""The most tunes ``--midi`` writes (one MIDI file holds them all, built in memory)."""


def _check_music(p: argparse.ArgumentParser, run_dir: str, n: int) -> None:
    """``--midi`` needs a music run, music21, and a number of tunes one file can hold."""
    run = RunDir(run_dir)
    data = run.config().task.data if run.config_json.is_file() else None  # the run directory's reader
    if data != "music:folk":
        p.error(f"--midi: {run_dir} is not a music run (its --task.data is {data!r}, not 'music:folk')")
    if n > MIDI_MAX:
        p.error(f"--midi writes at most {MIDI_MAX} tunes into one file, got --n {n}")
    import importlib.util

    if importlib.util.find_spec("music21") is None:
        p.error("--midi needs music21: pip install -e '.[music]'")


def _stream_to(out: Path, first: str, lines: Iterator[str], n: int) -> None:
    """Write the samples to a temporary file beside ``out`` as they are drawn (memory stays one batch), then move it
    into place: a reader never sees a half-written file."""
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    main_thread = threading.current_thread() is threading.main_thread()  # (signal handlers live there only)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)) if main_thread else None  # `kill`: no temp file
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(first + "\n")
            for line in tqdm(lines, total=n - 1, desc="sampling", unit="seq", disable=n < 50_000):
                f.write(line + "\n")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SystemExit(f"error: --out {out}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
