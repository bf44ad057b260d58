"""The blob file of one cache entry: a JSON header and raw, aligned array buffers.

Layout (all integers little-endian)::

    0   8 bytes   magic b"WNNGRAPH"
    8   u32       blob format version (FORMAT_VERSION)
    12  u32       reserved, 0
    16  u64       header length H
    24  H bytes   UTF-8 JSON header, padded with spaces to a multiple of 64
    D   ...       array buffers, each starting at a multiple of 64 from D

The header holds the entry's identity (key, origin, device, versions), the
backend's JSON-safe header and an array table ``[{name, dtype, shape, offset,
nbytes}]`` with offsets relative to ``D``. Only plain numeric dtypes are allowed;
nothing in a blob can execute code.

The checksum is a two-level SHA-256: each 4 MiB chunk is hashed on its own (in
parallel threads when reading), and the checksum is the SHA-256 of the size and the
chunk digests. It is verified before any byte is parsed, and the arrays handed to
the backend are views of the verified buffer: no copy, no re-read.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

MAGIC = b"WNNGRAPH"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIQ")
ALIGN = 64
CHUNK = 4 << 20
_TREE_TAG = b"webnn-blob-tree-v1\0"
#: dtype strings a blob may hold (numpy ``dtype.str``, little-endian).
DTYPES = frozenset({"<f4", "<f2", "<f8", "<i4", "<u4", "<i8", "<u8", "|i1", "|u1", "|b1", "<i2", "<u2"})


class BlobFormatError(ValueError):
    """The bytes are not a well-formed blob (bad magic, header, table or length)."""


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass
class Layout:
    """A blob planned in memory: header bytes, array placements and the total size."""

    header: bytes
    data_start: int
    arrays: list[tuple[int, np.ndarray]]
    size: int


def plan(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Layout:
    """Place ``arrays`` after a header holding ``meta`` (JSON-safe) and the array table."""
    table = []
    placed = []
    offset = 0
    for name, value in arrays.items():
        arr = np.asarray(value)
        if not arr.flags.c_contiguous:  # (np.ascontiguousarray would turn 0-D into 1-D)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.dtype.str not in DTYPES:
            raise TypeError(f"graph cache: array {name!r} has dtype {arr.dtype}, which a blob cannot hold")
        table.append({"name": str(name), "dtype": arr.dtype.str, "shape": list(arr.shape),
                      "offset": offset, "nbytes": arr.nbytes})
        placed.append((offset, arr))
        offset = _align(offset + arr.nbytes)
    data_len = placed[-1][0] + placed[-1][1].nbytes if placed else 0
    doc = {"meta": meta, "arrays": table, "data_length": data_len}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    data_start = _align(_PREFIX.size + len(text))
    header = text + b" " * (data_start - _PREFIX.size - len(text))
    return Layout(header, data_start, placed, data_start + data_len)


class TreeHasher:
    """The two-level SHA-256 of a byte stream fed in order (what :func:`write` uses)."""

    def __init__(self) -> None:
        self._chunk = hashlib.sha256()
        self._in_chunk = 0
        self._digests: list[bytes] = []
        self.size = 0

    def update(self, data: memoryview | bytes) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            take = min(CHUNK - self._in_chunk, len(view))
            self._chunk.update(view[:take])
            self._in_chunk += take
            self.size += take
            view = view[take:]
            if self._in_chunk == CHUNK:
                self._digests.append(self._chunk.digest())
                self._chunk = hashlib.sha256()
                self._in_chunk = 0

    def hexdigest(self) -> str:
        digests = self._digests + ([self._chunk.digest()] if self._in_chunk else [])
        return _combine(self.size, digests)


def _combine(size: int, digests: list[bytes]) -> str:
    return hashlib.sha256(_TREE_TAG + size.to_bytes(8, "little") + b"".join(digests)).hexdigest()


def write(fd: int, layout: Layout) -> str:
    """Write ``layout`` to ``fd`` from its current position; returns the checksum."""
    hasher = TreeHasher()

    def put(data: memoryview | bytes) -> None:
        view = memoryview(data).cast("B")
        hasher.update(view)
        while len(view):
            view = view[os.write(fd, view):]

    put(_PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(layout.header)))
    put(layout.header)
    pos = 0
    for offset, arr in layout.arrays:
        if offset > pos:
            put(bytes(offset - pos))
        if arr.nbytes:
            put(memoryview(arr.reshape(-1)).cast("B"))
        pos = offset + arr.nbytes
    return hasher.hexdigest()


def read_verified(fd: int, size: int, workers: int | None = None) -> tuple[np.ndarray, str]:
    """Read ``size`` bytes of ``fd`` into a 64-byte-aligned buffer and checksum them.

    Chunks are read with ``pread`` and hashed in parallel threads (both release the
    GIL). Raises ``BlobFormatError`` if the file ends early.
    """
    raw = np.empty(size + ALIGN, np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    buf = raw[start:start + size]
    view = memoryview(buf)
    count = max(1, math.ceil(size / CHUNK))

    def chunk(i: int) -> bytes:
        lo, hi = i * CHUNK, min(size, (i + 1) * CHUNK)
        pos = lo
        while pos < hi:
            got = os.preadv(fd, [view[pos:hi]], pos)
            if got <= 0:
                raise BlobFormatError(f"blob ends at byte {pos}, expected {size} bytes")
            pos += got
        return hashlib.sha256(view[lo:hi]).digest()

    workers = workers or min(8, os.cpu_count() or 1, count)
    if workers <= 1 or count == 1:
        digests = [chunk(i) for i in range(count)]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="webnn-cache-read") as pool:
            digests = list(pool.map(chunk, range(count)))
    return buf, _combine(size, digests if size else [])


def parse(buf: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Header metadata and array views of a verified blob buffer; strict about every field."""
    size = buf.size
    if size < _PREFIX.size:
        raise BlobFormatError(f"blob has {size} bytes, shorter than its {_PREFIX.size}-byte prefix")
    magic, version, _reserved, header_len = _PREFIX.unpack_from(buf, 0)
    if magic != MAGIC:
        raise BlobFormatError(f"bad magic {magic!r}")
    if version != FORMAT_VERSION:
        raise BlobFormatError(f"blob format {version}, this library reads {FORMAT_VERSION}")
    data_start = _PREFIX.size + header_len
    if header_len <= 0 or data_start > size or data_start % ALIGN:
        raise BlobFormatError(f"header length {header_len} does not fit a {size}-byte blob")
    try:
        doc = json.loads(bytes(buf[_PREFIX.size:data_start]).decode())
        meta, table, data_len = doc["meta"], doc["arrays"], doc["data_length"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BlobFormatError(f"unreadable header: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(table, list) or not _is_int(data_len):
        raise BlobFormatError("header fields have the wrong types")
    if data_start + data_len != size:
        raise BlobFormatError(f"blob has {size} bytes, its header says {data_start + data_len}")
    arrays: dict[str, np.ndarray] = {}
    end = 0
    for item in table:
        try:
            name, dtype, shape = item["name"], item["dtype"], item["shape"]
            offset, nbytes = item["offset"], item["nbytes"]
        except (KeyError, TypeError):
            raise BlobFormatError(f"bad array table entry {item!r}") from None
        if (not isinstance(name, str) or name in arrays or dtype not in DTYPES
                or not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape)
                or not _is_int(offset) or not _is_int(nbytes) or offset % ALIGN or offset < end):
            raise BlobFormatError(f"bad array table entry {item!r}")
        dt = np.dtype(dtype)
        if math.prod(shape) * dt.itemsize != nbytes or offset + nbytes > data_len:
            raise BlobFormatError(f"array {name!r}: {nbytes} bytes at {offset} do not fit {dtype} {shape}")
        lo = data_start + offset
        arrays[name] = buf[lo:lo + nbytes].view(dt).reshape(shape)
        end = offset + nbytes
    return meta, arrays


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def encode(layout: Layout) -> tuple[np.ndarray, str]:
    """``layout`` as one 64-byte-aligned in-memory buffer and its checksum: byte for byte
    what :func:`write` puts in a file (the remote tier ships these bytes)."""
    raw = np.zeros(layout.size + ALIGN, np.uint8)
    start = (-raw.ctypes.data) % ALIGN
    buf = raw[start:start + layout.size]
    _PREFIX.pack_into(buf, 0, MAGIC, FORMAT_VERSION, 0, len(layout.header))
    buf[_PREFIX.size:layout.data_start] = np.frombuffer(layout.header, np.uint8)
    for offset, arr in layout.arrays:
        if arr.nbytes:
            lo = layout.data_start + offset
            buf[lo:lo + arr.nbytes] = np.frombuffer(memoryview(arr.reshape(-1)).cast("B"), np.uint8)
    return buf, checksum(buf)


def checksum(buf: np.ndarray, workers: int | None = None) -> str:
    """The checksum of bytes already in memory (a 1-D uint8 array), chunks hashed in parallel."""
    view = memoryview(buf).cast("B")
    size = len(view)
    count = max(1, math.ceil(size / CHUNK))

    def chunk(i: int) -> bytes:
        return hashlib.sha256(view[i * CHUNK:min(size, (i + 1) * CHUNK)]).digest()

    workers = workers or min(8, os.cpu_count() or 1, count)
    if workers <= 1 or count == 1:
        digests = [chunk(i) for i in range(count)]
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="webnn-cache-hash") as pool:
            digests = list(pool.map(chunk, range(count)))
    return _combine(size, digests if size else [])


class StreamingChecksum:
    """The checksum of a buffer that a reader fills front to back: each 4 MiB piece is hashed
    in a worker thread as soon as it is complete, so hashing overlaps the transfer."""

    def __init__(self, buf: np.ndarray) -> None:
        self._view = memoryview(buf).cast("B")
        self._size = len(self._view)
        self._count = max(1, math.ceil(self._size / CHUNK))
        self._next = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="webnn-cache-hash")
        self._digests: list[Any] = []

    def advance(self, filled: int) -> None:
        """The first ``filled`` bytes are final: hash every piece they complete."""
        while self._next < self._count and min(self._size, (self._next + 1) * CHUNK) <= filled:
            piece = self._view[self._next * CHUNK:min(self._size, (self._next + 1) * CHUNK)]
            self._digests.append(self._pool.submit(lambda p: hashlib.sha256(p).digest(), piece))
            self._next += 1

    def abandon(self) -> None:
        """Stop: the buffer will not be completed (pieces queued are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def hexdigest(self) -> str:
        """The checksum of the whole buffer (pieces not yet hashed are hashed now)."""
        self.advance(self._size)
        try:
            digests = [f.result() for f in self._digests]
        finally:
            self._pool.shutdown(wait=True)
        return _combine(self._size, digests if self._size else [])
