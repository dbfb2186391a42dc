"""glibc's malloc, set at import for training's large, short-lived tensors (issue 19).

A training step allocates and frees the same large buffers every step: the decoder's gates and states for every
time step, their gradients, the encoder's packed activations, oneDNN's LSTM workspaces. By default glibc hands each
buffer above 32 MB (its mmap threshold grows to that) to the kernel with mmap and returns it on free, and trims the
heap's free top beyond 64 MB; every step then faults its pages back in, zero-filled (about 300,000 page faults a step
at the paper's sizes in float32, 0.6-0.7 CPU s of kernel time). tcmalloc avoids this by keeping freed memory; the
settings here get the same from glibc in-process, with no LD_PRELOAD: every buffer comes from the heap (no mmap; an
mmap threshold alone cannot go above 32 MB, and the gates of a step are 100-200 MB), and freed memory is kept. In
float32 a whole `sketchlab train` then runs 1.28x faster, its peak 1.04 against 0.95 GB; under bf16 3% faster and
0.80 against 0.83 GB (benchmarks/README.md). Elsewhere (musl, macOS, Windows) nothing is changed.

`SKETCHLAB_SYSTEM_MALLOC=1` leaves glibc's defaults, for measuring the difference (`benchmarks/peer_ratio.md`).
"""

from __future__ import annotations

import ctypes
import os
import sys

# glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
# Keep up to this much freed memory at the heap's top instead of giving it back: a step's buffers are needed again
# at the next step.
TRIM_THRESHOLD = 1 << 30


def tune_glibc_malloc() -> bool:
    """Serve every buffer from the heap and keep freed memory; True when glibc took the settings."""
    if not sys.platform.startswith("linux") or os.environ.get("SKETCHLAB_SYSTEM_MALLOC") == "1":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only (musl has mallopt but ignores these)
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
