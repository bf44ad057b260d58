"""webnn.memory: the allocator for large arrays webnn fills itself (no huge-page request)."""

from __future__ import annotations

import mmap

import numpy as np
import pytest

from webnn import memory


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (512, 1024)])  # the last is LARGE: its own mapping
def test_empty_is_aligned_writable_and_contiguous(shape):
    a = memory.empty(shape, np.float32)
    assert a.shape == shape and a.dtype == np.float32
    assert a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % memory.ALIGN == 0
    a[...] = 7  # every byte is usable
    assert np.all(a == 7)
    base = a
    while isinstance(base.base, np.ndarray):
        base = base.base
    owner = getattr(base.base, "obj", base.base)  # numpy wraps a foreign buffer in a memoryview
    assert isinstance(owner, mmap.mmap) == (a.nbytes >= memory.LARGE)


def test_copy_of_converts_and_lays_out_independently():
    source = np.arange(2 * 600 * 300, dtype=np.float64).reshape(2, 600, 300).transpose(2, 0, 1)  # not contiguous
    copy = memory.copy_of(source, np.float32)
    assert copy.dtype == np.float32 and copy.shape == (300, 2, 600) and copy.flags.c_contiguous
    np.testing.assert_array_equal(copy, source.astype(np.float32))
    source[0, 0, 0] = -1
    assert copy[0, 0, 0] == 0  # a copy, not a view
