"""The graph cache's remote tier: a Redis server shared by a fleet (``$WEBNN_CACHE_REMOTE``).

The facade (``webnn.cache.facade``) keeps the local store first and asks this tier
only on a local miss; a remote hit is verified (manifest MAC, whole-value checksum,
blob format and identity) in memory and handed to the backend; its local copy is
written in the background (``webnn.cache.remote_fill``), never before the first result.
``save_graph`` saves locally, then writes through here.

Writes are asynchronous by default: one background thread per remote uploads from a
queue bounded by ``queue_bytes`` (an upload that does not fit is dropped and
counted, never waited for), because an upload of a large model takes as long as the
network needs and ``save_graph`` sits in compile paths that should not wait on it;
the local entry is already durable when the upload is queued. The queue is drained
when the context is destroyed and when the process exits (``atexit`` and
multiprocessing's exit hooks), each for at most :data:`FLUSH_SECONDS`.
``write="sync"`` uploads inside ``save_graph`` instead.

Trust: with a shared secret, manifests are authenticated (HMAC-SHA256) and names are
keyed by it; without one the tier reads entries written without a secret and writes
nothing, unless ``allow_unauthenticated_writes`` (``WEBNN_CACHE_REMOTE_UNAUTHENTICATED=1``).
A rejected entry (bad MAC, foreign, damaged, truncated, malformed) is counted, logged
as a warning, removed from Redis when this process may write (only if the manifest is
still the one read), and the caller rebuilds. Entries of other library versions have
other names: invisible, left for Redis to expire or evict (older replicas may still
use them). A read-only remote cannot delete: ``delete_graph``/``delete_saved_graphs``
then hide the remote copies from this context (the fleet's entries stay).

Failure: Redis down, slow, full, or refusing auth turns the tier off for ``retry_ms``
with one warning per outage and a counter per failed call; loads and saves go on
with the local store; the next call after the pause tries again and a success logs
that the remote is back. No call waits longer than ``timeout_ms``.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import blobfile
from . import remote_codec as codec
from .remote_client import FLUSH_SECONDS, RemoteClient, RemoteStats, Unavailable
from .remote_config import RemoteOptions
from .remote_reader import aligned_empty
from .remote_redis import RedisTransport

log = logging.getLogger("webnn.cache")

#: Chunks of a replaced or deleted entry stay this long for readers still fetching them.
REPLACED_GRACE_MS = 60_000
#: Rejections that point at tampering or damage (logged as warnings); the others are routine.
_ALARMING = frozenset({"bad-mac", "foreign", "checksum", "wrong-length", "malformed", "bad-format", "identity",
                       "backend-rejected"})


class RemoteTier:
    """The remote tier bound to one context's partition (origin, device kind, versions)."""

    def __init__(self, opts: RemoteOptions, origin: str, device: str, versions: str,
                 record: Callable[[list[tuple[str, str, int]]], None] | None = None) -> None:
        self.opts = opts
        self._client = RemoteClient.get(opts)
        self._names = self._client.names
        self._keys = self._client.keys
        self.origin, self.device, self.versions = origin, device, versions
        self.stats = RemoteStats()
        self.stats.sink = record
        self._hidden: set[str] = set()
        self._hidden_all = False
        self._pending = 0
        self._pending_cond = threading.Condition()

    def _ident(self, key: str) -> codec.Identity:
        return codec.Identity(self.origin, self.device, key, self.versions)

    def _call(self, what: str, fn: Callable[[RedisTransport], Any]) -> Any:
        return self._client.call(what, fn, self.stats)

    def _is_hidden(self, key: str) -> bool:
        return self._hidden_all or key in self._hidden

    # -- reading -----------------------------------------------------------------------
    def fetch(self, key: str) -> tuple[dict[str, Any], dict[str, np.ndarray], str] | None:
        """The verified ``(backend header, arrays, checksum)`` of ``key``, or None (counted).

        One connection: ``GET`` the manifest, check its MAC and identity, then ``MGET`` the
        chunks straight into the aligned buffer while a worker thread hashes what arrived."""
        if self._is_hidden(key):
            self.stats.add("remote_misses", "deleted-here")
            return None
        ident = self._ident(key)
        entry_id = self._names.entry_id(ident)
        name = self._names.manifest(entry_id)

        def read(t: RedisTransport) -> tuple[bytes | None, Any]:
            with t.reading() as session:
                raw = session.get(name)
                if raw is None:
                    return None, None
                try:
                    manifest = codec.open_manifest(raw, self._keys, self.opts.max_entry_bytes)
                    codec.check_identity(manifest, self._names, entry_id, ident)
                    buf = aligned_empty(manifest.size)
                except codec.Rejected as rejected:
                    return raw, rejected
                except MemoryError:
                    return raw, codec.Rejected("too-large", f"no memory for {manifest.size} bytes")
                hasher = blobfile.StreamingChecksum(buf)
                try:
                    lengths = session.read_values(self._names.chunks(entry_id, manifest.token, manifest.chunks),
                                                  codec.chunk_sizes(manifest), buf, hasher.advance)
                except BaseException:
                    hasher.abandon()
                    raise
                return raw, (manifest, buf, lengths, hasher.hexdigest())

        try:
            raw, got = self._call("get", read)
        except Unavailable as exc:
            self.stats.add("remote_misses", "unavailable" if exc.reason == "paused" else exc.reason)
            return None
        if raw is None:
            self.stats.add("remote_misses", "missing")
            return None
        try:
            if isinstance(got, codec.Rejected):
                self.stats.add("remote_bytes", "in", len(raw))
                raise got
            manifest, buf, lengths, checksum = got
            self.stats.add("remote_bytes", "in", len(raw) + sum(n for n in lengths if n is not None))
            header, arrays = codec.decode(codec.verify(manifest, buf, lengths, checksum), ident)
        except codec.Rejected as rejected:
            self.reject(key, rejected.reason, rejected.detail, raw, entry_id)
            return None
        self.stats.add("remote_hits", "ok")
        log.debug("graph cache: remote hit for %r (%d bytes in %d chunks)", key, manifest.size, manifest.chunks)
        return header, arrays, manifest.checksum

    def reject(self, key: str, reason: str, detail: str, raw: bytes | None = None,
               entry_id: str | None = None) -> None:
        """Count a rejected remote entry, and remove it when this process may write."""
        self.stats.add("remote_rejected", reason)
        self.stats.add("remote_misses", "rejected")
        level = logging.WARNING if reason in _ALARMING else logging.DEBUG
        log.log(level, "graph cache: rejected the remote entry for %r (origin %r, device %r): %s: %s",
                key, self.origin, self.device, reason, detail)
        if not self.opts.writable:
            return
        entry_id = entry_id or self._names.entry_id(self._ident(key))
        name = self._names.manifest(entry_id)
        if raw is None:
            try:
                raw = self._call("get", lambda t: t.get(name))
            except Unavailable:
                return
            if raw is None:
                return
        peek = codec.peek_chunks(raw)
        also = self._names.chunks(entry_id, *peek) if peek else []
        try:
            removed = self._call("delete", lambda t: t.delete_if_unchanged(
                name, raw, also, self._names.origin_set(self.origin), entry_id))
        except Unavailable:
            return
        if removed:
            self.stats.add("remote_removed", reason)

    def keys(self) -> list[str] | None:
        """Keys of this partition's current entries in the remote, or None when it cannot be asked."""
        set_name = self._names.origin_set(self.origin)
        try:
            members = [m for m in self._call("list", lambda t: t.members(set_name)) if codec.Names.is_entry_id(m)]
            raws = self._call("list", lambda t: t.mget([self._names.manifest(m) for m in members]))
        except Unavailable:
            return None
        found, dead = [], []
        for entry_id, raw in zip(members, raws):
            if raw is None:
                dead.append(entry_id)
                continue
            try:
                manifest = codec.open_manifest(raw, self._keys, self.opts.max_entry_bytes)
                codec.check_identity(manifest, self._names, entry_id, None)
            except codec.Rejected:
                continue  # counted and removed when someone loads it
            ident = manifest.ident
            if (ident.origin, ident.device, ident.versions) == (self.origin, self.device, self.versions) \
                    and not self._is_hidden(ident.key):
                found.append(ident.key)
        if dead and self.opts.writable:
            try:
                self._call("delete", lambda t: t.remove_members(set_name, dead))
            except Unavailable:
                pass
        return sorted(found)

    # -- writing -----------------------------------------------------------------------
    def save(self, key: str, backend_meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Write an entry through to the remote (queued, or now with ``write="sync"``); never raises."""
        if not self.opts.writable:
            self.stats.add("remote_save_failures", "read-only")
            return
        nbytes = sum(np.asarray(a).nbytes for a in arrays.values())
        if nbytes > self.opts.max_entry_bytes:
            self.stats.add("remote_save_failures", "too-large")
            return
        ident = self._ident(key)
        meta, arrays = dict(backend_meta), dict(arrays)
        if self.opts.write == "sync":
            self._upload(ident, meta, arrays)
            return
        with self._pending_cond:
            self._pending += 1

        def job() -> None:
            try:
                self._upload(ident, meta, arrays)
            finally:
                with self._pending_cond:
                    self._pending -= 1
                    self._pending_cond.notify_all()

        if not self._client.writer.submit(job, nbytes):
            with self._pending_cond:
                self._pending -= 1
            self.stats.add("remote_save_failures", "queue-full")
            log.debug("graph cache: upload queue full; %r stays local only", key)

    def _upload(self, ident: codec.Identity, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        buf, checksum = codec.encode(ident, meta, arrays)
        if buf.size > self.opts.max_entry_bytes:
            self.stats.add("remote_save_failures", "too-large")
            return
        entry_id = self._names.entry_id(ident)
        token = secrets.token_hex(16)
        manifest = codec.make_manifest(ident, int(buf.size), checksum, self.opts.chunk_bytes, token, time.time_ns())
        value = codec.seal(manifest, self._keys)
        chunk_names = self._names.chunks(entry_id, token, manifest.chunks)
        ttl_ms = self.opts.ttl_s * 1000 if self.opts.ttl_s else None
        set_name = self._names.origin_set(ident.origin)
        try:
            old = self._call("put", lambda t: t.put_entry(self._names.manifest(entry_id), value, chunk_names,
                                                          codec.split(buf, self.opts.chunk_bytes), set_name,
                                                          entry_id, ttl_ms))
        except Unavailable as exc:
            self.stats.add("remote_save_failures", "unavailable" if exc.reason == "paused" else exc.reason)
            return
        self.stats.add("remote_bytes", "out", int(buf.size) + len(value))
        self.stats.add("remote_saves", "ok")
        self._hidden.discard(ident.key)
        peek = codec.peek_chunks(old)
        if peek and peek[0] != token:
            try:  # readers may still be fetching the replaced chunks: let them go later
                self._call("delete", lambda t: t.expire(self._names.chunks(entry_id, *peek), REPLACED_GRACE_MS))
            except Unavailable:
                pass
        log.debug("graph cache: uploaded %r (%d bytes, %d chunks)", ident.key, buf.size, manifest.chunks)

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait for this tier's queued uploads; True when none is left."""
        deadline = time.monotonic() + timeout
        with self._pending_cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending_cond.wait(left)
        return True

    # -- deleting ----------------------------------------------------------------------
    def delete(self, key: str | None) -> None:
        """Delete ``key`` of this device kind (every version), or (``key`` None) every entry of the
        origin; a read-only remote hides them from this context instead. Never raises."""
        if not self.opts.writable:
            if key is None:
                self._hidden_all = True
            else:
                self._hidden.add(key)
            return
        self.flush()  # an upload still queued must not land after the delete
        set_name = self._names.origin_set(self.origin)
        try:
            members = [m for m in self._call("list", lambda t: t.members(set_name)) if codec.Names.is_entry_id(m)]
            if key is not None:
                mine = self._names.entry_id(self._ident(key))
                if mine not in members:
                    members.append(mine)
            raws = self._call("list", lambda t: t.mget([self._names.manifest(m) for m in members]))
        except Unavailable:
            return
        dead = []
        for entry_id, raw in zip(members, raws):
            if raw is None:
                dead.append(entry_id)
                continue
            if key is not None:
                try:
                    manifest = codec.open_manifest(raw, self._keys, self.opts.max_entry_bytes)
                except codec.Rejected:
                    continue
                if (manifest.ident.device, manifest.ident.key) != (self.device, key):
                    continue
            peek = codec.peek_chunks(raw)
            chunks = self._names.chunks(entry_id, *peek) if peek else []

            def drop(t: RedisTransport, entry_id: str = entry_id, raw: bytes = raw, chunks: list[str] = chunks) -> bool:
                # only the manifest read (a save that replaced it meanwhile came later and wins); the
                # chunks go a little later, so a reader that already holds the manifest finishes
                return t.delete_if_unchanged(self._names.manifest(entry_id), raw, chunks, set_name, entry_id,
                                             REPLACED_GRACE_MS)

            try:
                self._call("delete", drop)
            except Unavailable:
                return
        try:
            self._call("delete", lambda t: t.remove_members(set_name, dead))
        except Unavailable:
            return

    # -- observability -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        health = self._client.health
        out = {"url": self.opts.display_url, "namespace": self.opts.namespace,
               "mode": "read-write" if self.opts.writable else "read-only",
               "authenticated": self.opts.authenticated, "write": self.opts.write,
               "timeout_ms": self.opts.timeout_ms, "ttl_s": self.opts.ttl_s,
               "state": "down" if health.state == "down" else health.state, "down_reason": health.reason,
               "pending_uploads": self._pending}
        out.update(self.stats.snapshot())
        return out

    def close(self) -> None:
        """Finish this tier's queued uploads (bounded), then stop persisting counters."""
        self.flush()
        self.stats.sink = None


def open_tier(opts: RemoteOptions | None, origin: str, device: str, versions: str,
              record: Callable[[list[tuple[str, str, int]]], None] | None = None) -> RemoteTier | None:
    return None if opts is None else RemoteTier(opts, origin, device, versions, record)
