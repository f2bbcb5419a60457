"""Keep freed activation memory in the process for the next frame (glibc's malloc).

PyTorch's CPU tensors come straight from ``malloc``. With glibc's default thresholds, the
megabyte-sized activations of a landmark network go back to the kernel when freed (trimmed off
the top of the heap, or unmapped), so the next frame faults every page in again and the kernel
zero-fills it: some 2000 page faults per pose landmark frame, a fifth of its time on one thread.
XNNPACK plans one arena for the whole graph and never pays this.
"""

from __future__ import annotations

import ctypes
import functools
import sys

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks up to glibc's own ceiling for its adaptive mmap threshold come from the heap...
MMAP_THRESHOLD = 32 << 20
# ... which gives memory back only when this much lies free at its top.
TRIM_THRESHOLD = 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds, for the whole process, once; False where the C
    library is not glibc (the call is then a no-op). Memory stays bounded by the peak in use:
    freed blocks are reused rather than returned."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process already runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # musl and other C libraries export a mallopt that accepts nothing and returns 0.
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
