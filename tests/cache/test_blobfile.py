"""The blob file format: layout, alignment, checksum and strict parsing."""

from __future__ import annotations

import mmap
import os

import blake3
import numpy as np
import pytest

from webnn.cache import blobfile

READERS = [blobfile.read_verified, blobfile.map_verified]


def _roundtrip(tmp_path, meta, arrays, reader=blobfile.map_verified):
    layout = blobfile.plan(meta, arrays)
    path = tmp_path / "blob"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        checksum = blobfile.write(fd, layout)
    finally:
        os.close(fd)
    assert path.stat().st_size == layout.size
    fd = os.open(path, os.O_RDONLY)
    try:
        buf, digest = reader(fd, layout.size)
    finally:
        os.close(fd)  # a mapping outlives its descriptor
    assert digest == checksum
    return blobfile.parse(buf), path, checksum


@pytest.mark.parametrize("reader", READERS, ids=["read", "map"])
def test_roundtrip_every_dtype_aligned_and_zero_copy(tmp_path, reader):
    arrays = {
        "f32": np.arange(12, dtype=np.float32).reshape(3, 4),
        "f16": np.array([1.5, -2.25], np.float16),
        "i64": np.array([-(2**62), 2**62], np.int64),
        "u64": np.array([2**64 - 1], np.uint64),
        "u32": np.array([2**32 - 1], np.uint32),
        "i8": np.array([-128, 127], np.int8),
        "u8": np.array([255], np.uint8),
        "scalar": np.array(3.0, np.float32),
        "strided": np.arange(20, dtype=np.int32)[::2],
    }
    (meta, got), _, _ = _roundtrip(tmp_path, {"hello": [1, "two"]}, arrays, reader)
    assert meta == {"hello": [1, "two"]}
    for name, want in arrays.items():
        assert got[name].dtype == want.dtype and got[name].shape == want.shape
        assert np.array_equal(got[name], want)
        assert got[name].ctypes.data % blobfile.ALIGN == 0
        assert got[name].flags.writeable

    def root(a):
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a

    assert len({id(root(a)) for a in got.values()}) == 1  # views of one verified buffer, no copies


@pytest.mark.parametrize("reader", READERS, ids=["read", "map"])
def test_checksum_is_the_documented_two_level_blake3(tmp_path, reader):
    big = np.random.default_rng(0).integers(0, 255, 40 << 20, dtype=np.uint8)  # several pieces
    (_, got), path, checksum = _roundtrip(tmp_path, {}, {"big": big}, reader)
    assert np.array_equal(got["big"], big)
    data = path.read_bytes()
    pieces = [blake3.blake3(data[i:i + blobfile.CHUNK]).digest() for i in range(0, len(data), blobfile.CHUNK)]
    expect = blake3.blake3(b"webnn-blob-tree-v3\0" + len(data).to_bytes(8, "little") + b"".join(pieces))
    assert checksum == expect.hexdigest()  # the documented two-level hash, computed independently
    stream = blobfile.StreamingChecksum(np.frombuffer(data, np.uint8))
    for filled in (5, blobfile.CHUNK + 7, 3 * blobfile.CHUNK, len(data)):
        stream.advance(filled)
    assert stream.hexdigest() == checksum
    assert blobfile.checksum(np.frombuffer(data, np.uint8)) == checksum


def test_mapped_arrays_are_copy_on_write_and_outlive_the_file(tmp_path):
    """Writing to a mapped entry's array changes only this process's copy, never the file;
    deleting the file (what a delete or an eviction does) leaves the mapping readable."""
    values = np.arange(3 << 18, dtype=np.float32)  # 3 MiB: mapped (over MAP_FROM), several pages
    (_, got), path, checksum = _roundtrip(tmp_path, {}, {"w": values})
    assert any(isinstance(getattr(b, "obj", None), mmap.mmap) for b in _bases(got["w"]))  # the mapping, no copy
    got["w"][:1000] = -1.0
    fd = os.open(path, os.O_RDONLY)
    try:
        assert blobfile.read_verified(fd, path.stat().st_size)[1] == checksum  # the file is untouched
    finally:
        os.close(fd)
    path.unlink()
    assert np.array_equal(got["w"][1000:], values[1000:]) and (got["w"][:1000] == -1.0).all()


def _bases(array):
    while array is not None:
        yield array
        array = getattr(array, "base", None)


def test_object_dtypes_refused():
    with pytest.raises(TypeError, match="dtype object"):
        blobfile.plan({}, {"bad": np.array([object()], dtype=object)})


def test_short_file_is_a_format_error(tmp_path):
    layout = blobfile.plan({}, {"a": np.zeros(100, np.float32)})
    path = tmp_path / "b"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    blobfile.write(fd, layout)
    os.ftruncate(fd, layout.size - 10)
    os.close(fd)
    fd = os.open(path, os.O_RDONLY)
    with pytest.raises(blobfile.BlobFormatError, match="ends at byte"):
        blobfile.read_verified(fd, layout.size)
    os.close(fd)


@pytest.mark.parametrize("mutate", ["magic", "version", "header_len", "json", "table_dtype", "table_offset",
                                    "length"])
def test_parse_rejects_malformed_headers(mutate):
    layout = blobfile.plan({"m": 1}, {"a": np.arange(8, dtype=np.float32)})
    data = bytearray(blobfile._PREFIX.pack(blobfile.MAGIC, blobfile.FORMAT_VERSION, 0, len(layout.header)))
    data += layout.header
    data += bytes(layout.data_start - len(data))
    data += np.arange(8, dtype=np.float32).tobytes()
    if mutate == "magic":
        data[0:8] = b"NOTMAGIC"
    elif mutate == "version":
        data[8] = 99
    elif mutate == "header_len":
        data[16:24] = (10**9).to_bytes(8, "little")
    elif mutate == "json":
        data[30] = ord("}")
    elif mutate == "table_dtype":
        text = bytes(data[24:layout.data_start]).replace(b'"<f4"', b'"|O8"')
        data[24:layout.data_start] = text
    elif mutate == "table_offset":
        text = bytes(data[24:layout.data_start]).replace(b'"offset":0', b'"offset":1')
        data[24:layout.data_start] = text
    elif mutate == "length":
        data += b"\0" * 64
    with pytest.raises(blobfile.BlobFormatError):
        blobfile.parse(np.frombuffer(bytes(data), np.uint8).copy())
