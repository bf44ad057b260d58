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

The checksum is a two-level BLAKE3 (:mod:`webnn.hashing`, a cryptographic hash at several
GB/s per core): each 8 MiB piece of the file is hashed on its own, and the checksum is the
hash of the file size and the piece digests. Pieces are independent, so a reader hashes
each one right after reading it, on as many threads as it reads with: verifying a 100 MiB
entry then costs little beyond reading it (SHA-256, format 1, cost four times the read).
It is verified before any byte is parsed, and the arrays handed to
the backend are views of the verified buffer: no copy, no re-read. The local store maps
a blob (:func:`map_verified`) rather than reading it, so that buffer is the OS page cache.
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

from .. import memory
from ..hashing import content_hasher

MAGIC = b"WNNGRAPH"
FORMAT_VERSION = 3  # 3: two-level BLAKE3 (2: BLAKE3 of the file; 1: two-level SHA-256)
_PREFIX = struct.Struct("<8sIIQ")
ALIGN = 64
#: Blobs from this size on are mapped rather than read (a mapping holds a file descriptor).
MAP_FROM = 1 << 20
CHUNK = 8 << 20  # bytes per read call and per hashed piece
_TREE_TAG = b"webnn-blob-tree-v3\0"
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
    """The two-level checksum of a byte stream fed in order (what :func:`write` uses)."""

    def __init__(self) -> None:
        self._piece = content_hasher()
        self._in_piece = 0
        self._digests: list[bytes] = []
        self.size = 0

    def update(self, data: memoryview | bytes) -> None:
        view = memoryview(data).cast("B")
        while len(view):
            take = min(CHUNK - self._in_piece, len(view))
            self._piece.update(view[:take])
            self._in_piece += take
            self.size += take
            view = view[take:]
            if self._in_piece == CHUNK:
                self._digests.append(self._piece.digest())
                self._piece = content_hasher()
                self._in_piece = 0

    def hexdigest(self) -> str:
        return _combine(self.size, self._digests + ([self._piece.digest()] if self._in_piece else []))


def _combine(size: int, digests: list[bytes]) -> str:
    return content_hasher(_TREE_TAG + size.to_bytes(8, "little") + b"".join(digests)).hexdigest()


def _piece_digest(view: memoryview) -> bytes:
    return content_hasher(view).digest()


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


def new_buffer(size: int) -> np.ndarray:
    """A writable uint8 buffer of ``size`` bytes for a blob being read (:mod:`webnn.memory`:
    page-aligned, without numpy's huge-page request, which stalled such reads)."""
    return memory.empty(max(size, 1), np.uint8)[:size]


def read_verified(fd: int, size: int) -> tuple[np.ndarray, str]:
    """Read ``size`` bytes of ``fd`` into a :func:`new_buffer` and checksum them.

    Pieces are read with ``pread`` and each is hashed right after, on two threads where
    there are two cores (page faults, copies and hashing all split). Raises
    ``BlobFormatError`` if the file ends early.
    """
    buf = new_buffer(size)
    view = memoryview(buf)
    count = max(1, math.ceil(size / CHUNK))

    def piece(i: int) -> bytes:
        lo, hi = i * CHUNK, min(size, (i + 1) * CHUNK)
        pos = lo
        while pos < hi:
            got = os.preadv(fd, [view[pos:hi]], pos)
            if got <= 0:
                raise BlobFormatError(f"blob ends at byte {pos}, expected {size} bytes")
            pos += got
        return _piece_digest(view[lo:hi])

    if count > 1 and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(2, thread_name_prefix="webnn-cache-read") as pool:
            digests = list(pool.map(piece, range(count)))
    else:
        digests = [piece(i) for i in range(count)]
    return buf, _combine(size, digests if size else [])


def map_verified(fd: int, size: int) -> tuple[np.ndarray, str]:
    """Map ``size`` bytes of ``fd`` copy-on-write and checksum them through the mapping.

    The arrays handed to the backend are then views of the OS page cache: nothing is
    copied, no fresh memory is faulted in (that was two thirds of reading a 100 MiB entry
    into a new buffer), and processes loading the same entry share its pages. The mapping
    is private and writable, so a backend writing to a constant changes only its own copy.
    A blob is never modified in place once written (saves write a new file and rename
    it; deletes unlink, which keeps a mapped file's pages), so the verified bytes stay
    those bytes; the caller checks the file's length first. Blobs under ``MAP_FROM`` bytes,
    and files that cannot be mapped, are read with :func:`read_verified` instead.
    """
    if size < MAP_FROM or not hasattr(mmap, "MAP_PRIVATE"):  # (no POSIX mmap flags on Windows)
        return read_verified(fd, size)
    try:
        mapping = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    except (OSError, ValueError):  # a file system without mmap support
        return read_verified(fd, size)
    buf = np.frombuffer(mapping, np.uint8)
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
    """The checksum of bytes already in memory (a 1-D uint8 array), pieces hashed in parallel."""
    view = memoryview(buf).cast("B")
    size = len(view)
    count = max(1, math.ceil(size / CHUNK))
    pieces = [view[i * CHUNK:min(size, (i + 1) * CHUNK)] for i in range(count)]
    if count > 1 and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(min(4, os.cpu_count() or 1), thread_name_prefix="webnn-cache-hash") as pool:
            digests = list(pool.map(_piece_digest, pieces))
    else:
        digests = [_piece_digest(p) for p in pieces]
    return _combine(size, digests if size else [])


class StreamingChecksum:
    """The checksum of a buffer that a reader fills front to back: each piece is hashed in
    a worker thread as soon as it is complete, so hashing overlaps the transfer."""

    def __init__(self, buf: np.ndarray) -> None:
        self._view = memoryview(buf).cast("B")
        self._size = len(self._view)
        self._count = max(1, math.ceil(self._size / CHUNK))
        self._next = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="webnn-cache-hash")
        self._digests: list[Future[bytes]] = []

    def advance(self, filled: int) -> None:
        """The first ``filled`` bytes are final: hash every piece they complete."""
        while self._next < self._count and min(self._size, (self._next + 1) * CHUNK) <= filled:
            piece = self._view[self._next * CHUNK:min(self._size, (self._next + 1) * CHUNK)]
            self._digests.append(self._pool.submit(_piece_digest, piece))
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
