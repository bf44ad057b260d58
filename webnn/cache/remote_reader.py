"""The read path of the remote tier: one plain connection, the manifest, then every chunk
straight into the buffer the arrays will be viewed from.

A remote hit moves the whole entry (about 100 MiB for a ResNet-50). Through redis-py
that is an import of the client (~0.1-0.2 s), a reply parsed into ``bytes`` objects and
a copy into an aligned buffer, which together cost about as much again as the transfer.
This reader speaks the few RESP2 commands a read needs (``AUTH``, ``SELECT``, ``GET``,
``EXISTS``, ``STRLEN``, ``GETRANGE``) on its own socket (``redis://`` or ``unix://``),
``recv_into``s each value at its place in a 64-byte-aligned buffer, and reports progress
so the checksum is computed while the bytes arrive. ``rediss://`` (TLS) reads through
redis-py (``GET``, ``MGET``).

Chunks are read in pieces of :data:`PIECE` bytes (``GETRANGE``), :data:`IN_FLIGHT` requests
ahead. One ``MGET`` of every chunk made Redis copy the whole entry into freshly allocated
reply buffers before sending its first byte, the client idle meanwhile; pieces of a few
MiB keep Redis's buffers small and reused and the two sides busy at once (loopback, 97 MiB:
about 65 ms instead of 115). A chunk is checked before its pieces are used: missing or not
a string (reported as missing) or of another length than the manifest's (reported with its
length; its pieces are skipped), so the caller rejects the entry for the right reason; a
chunk that changes while it is read is reported as missing. The whole-value checksum in the
authenticated manifest covers the reassembled result in every case.

Every socket operation is bounded by the configured timeout; failures are
:class:`~webnn.cache.remote_redis.RemoteError` with the tier's reasons.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from . import blobfile
from .remote_config import RemoteOptions
from .remote_redis import RemoteError

ALIGN = 64
_READ_AHEAD = 1 << 16
#: Bytes per ``GETRANGE`` request.
PIECE = 2 << 20
#: ``GETRANGE`` requests sent ahead of the one being read.
IN_FLIGHT = 2


def supported(opts: RemoteOptions) -> bool:
    """Whether this reader can talk to the configured server (plain TCP or a unix socket)."""
    return urlsplit(opts.url).scheme in ("redis", "unix")


def aligned_empty(size: int) -> np.ndarray:
    """An uninitialised uint8 buffer of ``size`` bytes, page-aligned (``blobfile.new_buffer``)."""
    return blobfile.new_buffer(size)


def _command(*args: bytes | str) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        raw = arg.encode() if isinstance(arg, str) else arg
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def _error(text: str) -> RemoteError:
    if text.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or "password" in text:
        return RemoteError("auth", f"Redis answered: {text}")
    if text.startswith("LOADING"):
        return RemoteError("busy", f"Redis answered: {text}")
    return RemoteError("protocol", f"Redis answered: {text}")


class Session:
    """One connection's reads (use within :meth:`RawReader.session`)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending = bytearray()

    # -- bytes off the socket ------------------------------------------------------------
    def _line(self) -> bytes:
        while True:
            end = self._pending.find(b"\r\n")
            if end >= 0:
                out = bytes(self._pending[:end])
                del self._pending[:end + 2]
                return out
            if len(self._pending) > 1 << 20:
                raise RemoteError("protocol", "a reply header longer than 1 MiB")
            data = self._sock.recv(_READ_AHEAD)
            if not data:
                raise ConnectionError("Redis closed the connection")
            self._pending += data

    def _read_into(self, view: memoryview, progress: Callable[[int], None] | None = None, base: int = 0) -> None:
        got = min(len(self._pending), len(view))
        if got:
            view[:got] = self._pending[:got]
            del self._pending[:got]
        while got < len(view):
            n = self._sock.recv_into(view[got:], len(view) - got)
            if not n:
                raise ConnectionError("Redis closed the connection in the middle of a value")
            got += n
            if progress is not None:
                progress(base + got)

    def _skip(self, count: int) -> None:
        scratch = memoryview(bytearray(min(max(count, 1), 1 << 20)))
        while count:
            step = min(count, len(scratch))
            self._read_into(scratch[:step])
            count -= step

    def _head(self, kind: bytes) -> bytes:
        head = self._line()
        if head[:1] == b"-":
            raise _error(head[1:].decode("utf-8", "replace"))
        if head[:1] != kind:
            raise RemoteError("protocol", f"unexpected reply {head[:40]!r}")
        return head[1:]

    # -- commands ------------------------------------------------------------------------
    def call_ok(self, *args: str) -> None:
        self._sock.sendall(_command(*args))
        self._head(b"+")

    def get(self, name: str) -> bytes | None:
        self._sock.sendall(_command("GET", name))
        length = int(self._head(b"$"))
        if length < 0:
            return None
        out = bytearray(length)
        self._read_into(memoryview(out))
        self._skip(2)
        return bytes(out)

    def _reply(self) -> tuple[bytes, bytes]:
        """The next reply's type byte and header (an error reply is returned, not raised)."""
        head = self._line()
        return head[:1], head[1:]

    def _integer(self) -> int | None:
        """An integer reply; None for an error reply that concerns the key (``WRONGTYPE``)."""
        kind, rest = self._reply()
        if kind == b"-" and rest.startswith(b"WRONGTYPE"):
            return None
        if kind == b"-":
            raise _error(rest.decode("utf-8", "replace"))
        if kind != b":":
            raise RemoteError("protocol", f"unexpected reply {kind + rest[:40]!r}")
        return int(rest)

    def read_values(self, names: Sequence[str], sizes: Sequence[int], out: np.ndarray,
                    progress: Callable[[int], None] | None = None) -> list[int | None]:
        """The values ``names`` into ``out`` end to end at the offsets ``sizes`` give; returns
        each value's length as Redis had it (None: no such string). A value of the wrong
        length is not read; ``progress(n)``: the first n bytes of ``out`` are final."""
        view = memoryview(out).cast("B")
        # per chunk: EXISTS, STRLEN, then its pieces; replies come back in this order
        plan: list[tuple[str, int, int, int]] = []  # (command, chunk, start, length)
        for i, size in enumerate(sizes):
            plan += [("EXISTS", i, 0, 0), ("STRLEN", i, 0, 0)]
            plan += [("GETRANGE", i, lo, min(PIECE, size - lo)) for lo in range(0, size, PIECE)]
        offsets = [0]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        sent = ranges_out = 0

        def send_ahead() -> None:
            nonlocal sent, ranges_out
            batch = []
            while sent < len(plan) and ranges_out < IN_FLIGHT:
                cmd, i, lo, n = plan[sent]
                if cmd == "GETRANGE":
                    batch.append(_command(cmd, names[i], str(lo), str(lo + n - 1)))
                    ranges_out += 1
                else:
                    batch.append(_command(cmd, names[i]))
                sent += 1
            if batch:
                self._sock.sendall(b"".join(batch))

        lengths: list[int | None] = [None] * len(sizes)
        usable = [False] * len(sizes)
        send_ahead()
        for cmd, i, lo, n in plan:
            if cmd == "EXISTS":
                exists = self._integer()
                usable[i] = bool(exists)
            elif cmd == "STRLEN":
                length = self._integer()
                if usable[i] and length is not None:
                    lengths[i] = length
                usable[i] = usable[i] and length == sizes[i]
            else:
                ranges_out -= 1
                kind, rest = self._reply()
                if kind == b"-" and not rest.startswith(b"WRONGTYPE"):
                    raise _error(rest.decode("utf-8", "replace"))
                if kind not in (b"$", b"-"):
                    raise RemoteError("protocol", f"unexpected reply {kind + rest[:40]!r}")
                got = int(rest) if kind == b"$" else -1
                send_ahead()  # the next request waits at Redis while this reply is read
                if usable[i] and got == n:
                    self._read_into(view[offsets[i] + lo:offsets[i] + lo + n], progress, offsets[i] + lo)
                else:
                    if usable[i]:  # changed since STRLEN (replaced, expired, evicted)
                        usable[i], lengths[i] = False, None
                    if got > 0:
                        self._skip(got)
                if got >= 0:
                    self._skip(2)
        return lengths


class RawReader:
    """Opens a :class:`Session` per read (a remote hit is one read per model load)."""

    def __init__(self, opts: RemoteOptions) -> None:
        parts = urlsplit(opts.url)
        query = parse_qs(parts.query)
        self._unix = parts.path if parts.scheme == "unix" else None
        self._host = parts.hostname or "localhost"
        self._port = parts.port or 6379
        db = (query.get("db") or [""])[0] or (parts.path.strip("/") if parts.scheme != "unix" else "")
        self._db = int(db) if db.isdigit() else 0
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password is not None else opts.password
        self._timeout = opts.timeout_ms / 1000.0

    @contextmanager
    def session(self) -> Iterator[Session]:
        try:
            if self._unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._timeout)
                sock.connect(self._unix)
            else:
                sock = socket.create_connection((self._host, self._port), timeout=self._timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except TimeoutError as exc:
            raise RemoteError("timeout", f"connecting: {exc}") from exc
        except OSError as exc:
            raise RemoteError("connection", f"connecting: {type(exc).__name__}: {exc}") from exc
        try:
            sock.settimeout(self._timeout)
            session = Session(sock)
            if self._password:
                if self._user:
                    session.call_ok("AUTH", self._user, self._password)
                else:
                    session.call_ok("AUTH", self._password)
            if self._db:
                session.call_ok("SELECT", str(self._db))
            yield session
        except TimeoutError as exc:
            raise RemoteError("timeout", f"TimeoutError: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise RemoteError("connection", f"{type(exc).__name__}: {exc}") from exc
        finally:
            sock.close()


class RedisPySession:
    """The same reads through redis-py (TLS connections)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get(self, name: str) -> bytes | None:
        return self._client.get(name)

    def read_values(self, names: Sequence[str], sizes: Sequence[int], out: np.ndarray,
                    progress: Callable[[int], None] | None = None) -> list[int | None]:
        lengths: list[int | None] = []
        offset = 0
        for value, size in zip(self._client.mget(list(names)), sizes):
            if not isinstance(value, bytes):
                lengths.append(None)
            else:
                lengths.append(len(value))
                if len(value) == size:
                    out[offset:offset + size] = np.frombuffer(value, np.uint8)
            offset += size
        if progress is not None:
            progress(offset)
        return lengths
