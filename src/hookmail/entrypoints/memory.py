"""Big buffers go back to the system as soon as they are freed (glibc).

glibc's malloc serves a block of 128 KiB or more with mmap and unmaps it on free, but after
the first such free it raises that threshold to the block's size (up to 32 MiB): from then on
a 25 MB message, its payload and its body come from the heap, and the heap keeps what a big
message left behind (measured: the delivery worker's RSS stepped from 96 to 146 MB after its
second 25 MiB message and stayed there). A fixed threshold (set with mallopt) turns that
adjustment off, so every big buffer is unmapped when it is freed. Elsewhere (not glibc) this
does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("hookmail")

_M_MMAP_THRESHOLD = -3  # <malloc.h>
MMAP_THRESHOLD = 1024 * 1024  # blocks this big or bigger are mapped, and unmapped when freed


def release_big_buffers() -> bool:
    """Fix glibc's mmap threshold for this process; whether it was set."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if not done:
        log.warning("could not set malloc's mmap threshold; big messages may leave RSS high")
    return done
