"""glibc's malloc, set at import for training's large, short-lived tensors (issue 19).

A training step allocates and frees the same large buffers every step: the decoder's gates and states for every
time step, their gradients, the encoder's packed activations. By default glibc hands each buffer above 32 MB (its
mmap threshold grows to that) to the kernel with mmap and returns it on free, and trims the heap's free top beyond
64 MB; every step then faults its pages back in, zero-filled (about 300,000 page faults a step at the paper's
sizes, 0.6-1 CPU s of kernel time). tcmalloc avoids this by keeping freed memory; the settings here get the same
from glibc in-process, with no LD_PRELOAD. Elsewhere (musl, macOS, Windows) nothing is changed.

`SKETCHLAB_SYSTEM_MALLOC=1` leaves glibc's defaults, for measuring the difference (`benchmarks/peer_ratio.md`).
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# The largest mmap threshold glibc takes on 64-bit (half its heap size): buffers up to it come from the heap.
MMAP_THRESHOLD = 32 << 20
# Keep up to this much freed memory at the heap's top instead of giving it back: a step's buffers are needed again
# at the next step.
TRIM_THRESHOLD = 1 << 30


def tune_glibc_malloc() -> bool:
    """Serve buffers up to 32 MB from the heap from the start and keep freed memory; True when glibc took the settings.
    """
    if not sys.platform.startswith("linux") or os.environ.get("SKETCHLAB_SYSTEM_MALLOC") == "1":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (musl has mallopt but ignores these)
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
