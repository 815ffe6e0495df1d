"""The C allocator's settings for this workload: keep freed blocks for reuse instead of returning them to the OS.

Every step of sampling, rollouts, evaluation and MLE allocates and frees tensors of tens of megabytes (logits over a
5,000-token vocabulary). glibc's malloc by default serves blocks that large with ``mmap`` and gives them back on
``free`` (its thresholds adapt, but trail the sizes used), so the next step faults the same pages in again: on the
quick run a fifth of the CPU time went to the kernel. :func:`keep_freed_memory` fixes the two thresholds
(``M_MMAP_THRESHOLD`` 256 MB, ``M_TRIM_THRESHOLD`` 512 MB) so such blocks stay in the heap and are reused; peak memory
hardly moves (``bench/phases.py``). The pipeline and the benchmarks call it; it is a no-op off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 512 << 20
_done = False


def keep_freed_memory() -> bool:
    """Set glibc malloc's mmap and trim thresholds (module docstring) once per process; True when they are set
    (False off glibc, e.g. on macOS)."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
