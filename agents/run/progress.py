"""Progress that reads everywhere: a tqdm bar on a terminal, plain periodic lines in a log file (nohup, CI, a pipe).

Every phase of a run shows one labelled bar: what it is, done/total in its own unit, elapsed time, ETA and the latest
metric (``set_postfix``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tqdm.auto import tqdm

LINE_EVERY_S = 30.0
"""A log file gets a line at most this often (and at the first and last step)."""


class PlainProgress:
    """tqdm's interface (iteration, ``update``, ``set_postfix``, ``close``) as plain lines: ``desc: n/total unit
    (p %), elapsed, ETA, metrics``."""

    def __init__(self, iterable: Iterable[Any] | None, desc: str, unit: str, total: int, initial: int = 0,
                 file: TextIO | None = None, every_s: float = LINE_EVERY_S) -> None:  # fmt: skip
        self.iterable, self.desc, self.unit, self.total = iterable, desc, unit, total
        self.n, self.start_n = initial, initial
        self.file = file or sys.stderr
        self.every_s = every_s
        self.t0 = time.monotonic()
        self.last = -float("inf")
        self.postfix: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def set_postfix(self, **kw: Any) -> None:
        self.postfix = kw

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every_s or self.n >= self.total:
            self._line(now)

    def _line(self, now: float) -> None:
        self.last = now
        elapsed = now - self.t0
        done = self.n - self.start_n
        eta = elapsed / done * (self.total - self.n) if done else float("nan")
        pct = 100 * self.n / self.total if self.total else 100.0
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {self.n}/{self.total} {self.unit} ({pct:.0f} %), {elapsed:.0f} s elapsed, ETA "
              f"{eta:.0f} s{extra}", file=self.file, flush=True)  # fmt: skip

    def close(self) -> None:
        if self.n < self.total and self.n > self.start_n:
            self._line(time.monotonic())


def progress(iterable: Iterable[Any] | None = None, *, desc: str, unit: str, total: int, initial: int = 0,
             disable: bool = False) -> Any:  # fmt: skip
    """A progress bar for ``total`` steps: tqdm when stderr is a terminal, :class:`PlainProgress` lines otherwise,
    nothing with ``disable`` (``--no-progress``) or nothing to do."""
    if disable or total <= initial:
        return tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial, disable=True)
    if sys.stderr.isatty():
        return tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial)
    return PlainProgress(iterable, desc, unit, total, initial)
