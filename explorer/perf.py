"""Process-level settings that make CPU inference faster without changing any result."""
from __future__ import annotations

import ctypes
import sys

_tuned = False


def tune_allocator() -> None:
    """Keep freed large buffers in the heap instead of returning them to the OS.

    glibc hands blocks over 128 KiB back with munmap, so every activation-sized tensor costs fresh
    page faults (measured: 11 ms to allocate and touch 32 MB, 10x the arithmetic on it). Raising the
    mmap and trim thresholds lets the next frame reuse the same pages.
    """
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    except OSError:  # not glibc (musl, ...): nothing to tune
        pass
    _tuned = True
