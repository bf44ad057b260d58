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

The checksum is the BLAKE3 hash of the whole file (:mod:`webnn.hashing`): a
cryptographic tree hash that runs at several GB/s per core, so verifying a 100 MiB
entry costs about as much as reading it from the page cache (SHA-256, format 1, cost
four times that). It is verified before any byte is parsed, and the arrays handed to
the backend are views of the verified buffer: no copy, no re-read.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..hashing import content_hasher

MAGIC = b"WNNGRAPH"
FORMAT_VERSION = 2  # 2: BLAKE3 checksum (1: two-level SHA-256)
_PREFIX = struct.Struct("<8sIIQ")
ALIGN = 64
CHUNK = 16 << 20  # bytes per read call and per streamed hashing piece
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


def write(fd: int, layout: Layout) -> str:
    """Write ``layout`` to ``fd`` from its current position; returns the checksum."""
    hasher = content_hasher()

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


def new_buffer(size: int) -> np.ndarray:
    """A writable, page-aligned uint8 buffer of ``size`` bytes for a blob being read.

    Plain anonymous memory (``mmap``), not numpy's allocation: numpy asks for transparent
    huge pages on large arrays, and on a host with fragmented memory the kernel's
    compaction for them stalled a 100 MiB read from 30 ms to 250 ms about every other time.
    """
    memory = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(memory, np.uint8)[:size]


def read_verified(fd: int, size: int) -> tuple[np.ndarray, str]:
    """Read ``size`` bytes of ``fd`` into a :func:`new_buffer` and checksum them.

    Two threads read halves (the page faults are half the cost). Raises
    ``BlobFormatError`` if the file ends early.
    """
    buf = new_buffer(size)
    view = memoryview(buf)
    short: list[int] = []

    def fill(lo: int, hi: int) -> None:
        pos = lo
        while pos < hi:
            got = os.preadv(fd, [view[pos:min(hi, pos + CHUNK)]], pos)
            if got <= 0:
                short.append(pos)
                return
            pos += got

    half = _align(size // 2)
    if size >= 2 * CHUNK and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(1, thread_name_prefix="webnn-cache-read") as pool:
            other = pool.submit(fill, half, size)
            fill(0, half)
            other.result()
    else:
        fill(0, size)
    if short:
        raise BlobFormatError(f"blob ends at byte {min(short)}, expected {size} bytes")
    return buf, checksum(buf)


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


def checksum(buf: np.ndarray) -> str:
    """The checksum of bytes already in memory (a 1-D uint8 array), hashed on every core."""
    return content_hasher(memoryview(buf).cast("B"), parallel=True).hexdigest()


class StreamingChecksum:
    """The checksum of a buffer that a reader fills front to back: each piece is hashed in
    a worker thread as soon as it is complete, so hashing overlaps the transfer."""

    def __init__(self, buf: np.ndarray) -> None:
        self._view = memoryview(buf).cast("B")
        self._size = len(self._view)
        self._hashed = 0
        self._hasher = content_hasher()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="webnn-cache-hash")  # one thread: in order
        self._pending: list[Future[None]] = []

    def advance(self, filled: int) -> None:
        """The first ``filled`` bytes are final: hash every whole piece they complete."""
        while self._hashed < self._size and min(self._size, self._hashed + CHUNK) <= filled:
            piece = self._view[self._hashed:min(self._size, self._hashed + CHUNK)]
            self._pending.append(self._pool.submit(self._hasher.update, piece))
            self._hashed += len(piece)

    def abandon(self) -> None:
        """Stop: the buffer will not be completed (pieces queued are dropped)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def hexdigest(self) -> str:
        """The checksum of the whole buffer (pieces not yet hashed are hashed now)."""
        self.advance(self._size)
        try:
            for done in self._pending:
                done.result()
        finally:
            self._pool.shutdown(wait=True)
        return self._hasher.hexdigest()
