"""Large arrays in plain anonymous memory, allocated without a huge-page request.

numpy asks the kernel for transparent huge pages (``madvise``) on every large array; where
the kernel must compact memory to find them (``defrag`` set to "madvise", a host whose
memory is fragmented: common on VMs), each first touch of such an array stalls. On this
project's machine that doubled the cold build of a ResNet-50 (140 -> 320 ms) and made
100 MiB cache reads take 250 ms instead of 30 about every other time. Arrays of a MiB or
more that webnn fills itself (weights copied or rewritten at build, cache entries read
back) come from here instead: ordinary pages, no stall, freed with the array.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

#: Arrays at least this large come from their own anonymous mapping.
LARGE = 1 << 20
#: Every array starts at a multiple of this (cache blobs and oneDNN want it).
ALIGN = 64


def empty(shape: Any, dtype: Any) -> np.ndarray:
    """An uninitialised, writable, C-contiguous array starting at a 64-byte boundary
    (page-aligned when large)."""
    dtype = np.dtype(dtype)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < LARGE:
        raw = np.empty(nbytes + ALIGN, np.uint8)
        start = (-raw.ctypes.data) % ALIGN
        return raw[start:start + nbytes].view(dtype).reshape(shape)
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(memory, dtype).reshape(shape)


def copy_of(array: Any, dtype: Any = None) -> np.ndarray:
    """A C-contiguous copy of ``array`` (converted to ``dtype`` if given) in :func:`empty` memory."""
    source = np.asarray(array)
    out = empty(source.shape, source.dtype if dtype is None else dtype)
    np.copyto(out, source, casting="unsafe")
    return out
