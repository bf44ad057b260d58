"""The content hash behind every cache key and blob checksum: BLAKE3.

Cache keys digest whole models (weights included) and every cache load verifies a
whole entry before use, so the hash is on the path of every warm start. BLAKE3 is a
cryptographic hash (collision-resistant, like SHA-256) that runs at several GB/s per
core and can use every core on one large buffer; SHA-256 on the same bytes costs
four to eight times as much, which was most of a warm start's time.
"""

from __future__ import annotations

from typing import Any

import blake3

#: Anything with the buffer protocol (``collections.abc.Buffer`` from Python 3.12 on).
Buffer = Any

#: Below this many bytes one thread is faster than spreading the work.
_PARALLEL_FROM = 1 << 20


def content_hasher(data: Buffer = b"", *, parallel: bool = False) -> blake3.blake3:
    """A new incremental hasher (hashlib-like: ``update``, ``digest``, ``hexdigest``).

    ``parallel`` lets it hash large inputs on several cores (worth it from about a MiB;
    small updates cost the same either way): for a hasher fed large buffers, or one
    large ``data``.
    """
    if parallel:
        return blake3.blake3(data, max_threads=blake3.blake3.AUTO)
    return blake3.blake3(data)


def content_digest(data: Buffer) -> str:
    """Hex digest of one buffer, on several cores when it is large."""
    return content_hasher(data, parallel=memoryview(data).nbytes >= _PARALLEL_FROM).hexdigest()
