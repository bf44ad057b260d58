"""The graph cache's remote tier: a Redis server shared by a fleet (``$WEBNN_CACHE_REMOTE``).

The facade (``webnn.cache.facade``) keeps the local store first and asks this tier
only on a local miss; a remote hit is verified (manifest MAC, whole-value checksum,
blob format and identity), handed to the backend, and written to the local store
before ``load_graph`` returns. ``save_graph`` saves locally, then writes through here.

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

import atexit
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from . import remote_codec as codec
from .remote_config import RemoteOptions
from .remote_redis import RedisTransport, RemoteError

log = logging.getLogger("webnn.cache")

#: How long destroying a context, or exiting, waits for queued uploads.
FLUSH_SECONDS = 30.0
#: Chunks of a replaced entry stay this long for readers still fetching them.
REPLACED_GRACE_MS = 60_000
#: Counter names (persisted in the local index with the partition's other counters).
COUNTERS = ("remote_hits", "remote_misses", "remote_rejected", "remote_removed", "remote_errors",
            "remote_saves", "remote_save_failures", "remote_bytes")
#: Rejections that point at tampering or damage (logged as warnings); the others are routine.
_ALARMING = frozenset({"bad-mac", "foreign", "checksum", "wrong-length", "malformed", "bad-format", "identity",
                       "backend-rejected"})


class Unavailable(Exception):
    """The remote was not asked (paused after a failure) or the call failed; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------------
class Health:
    """Whether a remote is usable now: one warning per outage, a pause between tries."""

    def __init__(self, url: str, retry_ms: int) -> None:
        self._url = url
        self._retry = retry_ms / 1000.0
        self._lock = threading.Lock()
        self._until = 0.0
        self.state = "unknown"
        self.reason: str | None = None
        self.outages = 0
        self._full_warned = False

    def paused(self) -> bool:
        return self.state == "down" and time.monotonic() < self._until

    def failed(self, reason: str, detail: str) -> None:
        with self._lock:
            if reason == "full":  # Redis refuses writes only; reads go on
                if not self._full_warned:
                    self._full_warned = True
                    log.warning("graph cache: remote %s refuses writes (%s); entries are kept locally only",
                                self._url, detail)
                return
            self._until = time.monotonic() + self._retry
            first = self.state != "down"
            self.state, self.reason = "down", reason
            if first:
                self.outages += 1
                log.warning("graph cache: remote %s is unavailable (%s: %s); using the local cache only, "
                            "trying again every %.1f s", self._url, reason, detail, self._retry)

    def succeeded(self, write: bool = False) -> None:
        if self.state == "up" and not (write and self._full_warned):
            return
        with self._lock:
            if self.state == "down":
                log.warning("graph cache: remote %s is reachable again", self._url)
            self.state, self.reason = "up", None
            if write:
                self._full_warned = False


class Writer:
    """One background thread uploading queued jobs; bounded by bytes (and made anew after a fork)."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Callable[[], None], int]] = deque()
        self._bytes = 0
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pid = 0

    def submit(self, job: Callable[[], None], nbytes: int) -> bool:
        """Queue ``job``; False (nothing queued) when it does not fit. One job always fits an idle queue."""
        import os

        with self._cond:
            if self._pid != os.getpid():  # a forked child: the parent's thread and jobs are not ours
                self._jobs.clear()
                self._bytes, self._busy, self._thread, self._pid = 0, False, None, os.getpid()
            idle = not self._jobs and not self._busy
            if not idle and self._bytes + nbytes > self._max:
                return False
            self._jobs.append((job, nbytes))
            self._bytes += nbytes
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webnn-cache-upload", daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                job, nbytes = self._jobs.popleft()
                self._busy = True
            try:
                job()
            except Exception:  # a bug in an upload must not kill the thread; the job counted what it could
                log.exception("graph cache: remote upload failed")
            finally:
                with self._cond:
                    self._busy = False
                    self._bytes -= nbytes
                    self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._jobs) + self._busy

    def flush(self, timeout: float) -> bool:
        """Wait until the queue is empty (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True


class RemoteClient:
    """What one process shares per remote configuration: connections, health, the upload queue."""

    _registry: dict[RemoteOptions, RemoteClient] = {}
    _registry_lock = threading.Lock()
    _hooks_installed = False

    def __init__(self, opts: RemoteOptions) -> None:
        self.opts = opts
        self.keys = codec.derive_keys(opts.secret)
        self.names = codec.Names(opts.namespace, self.keys)
        self.health = Health(opts.display_url, opts.retry_ms)
        self.writer = Writer(opts.queue_bytes)
        self._transport: RedisTransport | None = None
        self._lock = threading.Lock()

    @classmethod
    def get(cls, opts: RemoteOptions) -> RemoteClient:
        with cls._registry_lock:
            client = cls._registry.get(opts)
            if client is None:
                client = cls._registry[opts] = RemoteClient(opts)
                if not cls._hooks_installed:
                    cls._hooks_installed = True
                    atexit.register(flush_all)
                    from multiprocessing import util  # its exit hook also runs in multiprocessing children

                    util.Finalize(None, flush_all, exitpriority=100)
            return client

    def call(self, what: str, fn: Callable[[RedisTransport], Any], stats: RemoteStats) -> Any:
        """``fn(transport)``, unless the remote is paused; failures become :class:`Unavailable`."""
        if self.health.paused():
            raise Unavailable("paused")
        start = time.perf_counter()
        try:
            with self._lock:
                if self._transport is None:
                    self._transport = RedisTransport(self.opts)
                transport = self._transport
            result = fn(transport)
        except RemoteError as exc:
            stats.latency(what, time.perf_counter() - start)
            stats.add("remote_errors", exc.reason)
            self.health.failed(exc.reason, exc.detail)
            raise Unavailable(exc.reason) from exc
        stats.latency(what, time.perf_counter() - start)
        self.health.succeeded(write=what == "put")
        return result


def flush_all(timeout: float = FLUSH_SECONDS) -> bool:
    """Drain every upload queue of this process (at exit); True when all finished in time."""
    deadline = time.monotonic() + timeout
    with RemoteClient._registry_lock:
        clients = list(RemoteClient._registry.values())
    return all(c.writer.flush(max(0.0, deadline - time.monotonic())) for c in clients)


# ---------------------------------------------------------------------------------------
class RemoteStats:
    """In-process counters (``(name, reason) -> n``) and call latencies of one context's tier."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._lat: dict[str, deque[float]] = {}
        self._lat_n: dict[str, int] = {}
        self._lat_sum: dict[str, float] = {}
        self._lat_max: dict[str, float] = {}
        self.sink: Callable[[list[tuple[str, str, int]]], None] | None = None

    def add(self, name: str, reason: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(name, reason)] = self._counts.get((name, reason), 0) + n
        if self.sink is not None:
            self.sink([(name, reason, n)])

    def latency(self, what: str, seconds: float) -> None:
        ms = seconds * 1e3
        with self._lock:
            self._lat.setdefault(what, deque(maxlen=512)).append(ms)
            self._lat_n[what] = self._lat_n.get(what, 0) + 1
            self._lat_sum[what] = self._lat_sum.get(what, 0.0) + ms
            self._lat_max[what] = max(self._lat_max.get(what, 0.0), ms)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            lat = {w: (sorted(d), self._lat_n[w], self._lat_sum[w], self._lat_max[w]) for w, d in self._lat.items()}
        out: dict[str, Any] = {}
        reasons: dict[str, dict[str, int]] = {}
        for (name, reason), n in sorted(counts.items()):
            short = name.removeprefix("remote_")
            out[short] = out.get(short, 0) + n
            reasons.setdefault(short, {})[reason] = n
        for name in COUNTERS:
            out.setdefault(name.removeprefix("remote_"), 0)
        out["bytes_in"] = reasons.get("bytes", {}).get("in", 0)
        out["bytes_out"] = reasons.get("bytes", {}).get("out", 0)
        out.pop("bytes", None)
        reasons.pop("bytes", None)
        out["reasons"] = reasons
        out["latency_ms"] = {w: {"calls": n, "mean": round(total / n, 3), "p50": round(s[len(s) // 2], 3),
                                 "p95": round(s[min(len(s) - 1, int(len(s) * 0.95))], 3), "max": round(mx, 3)}
                             for w, (s, n, total, mx) in sorted(lat.items())}
        return out


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
        """The verified ``(backend header, arrays, checksum)`` of ``key``, or None (counted)."""
        if self._is_hidden(key):
            self.stats.add("remote_misses", "deleted-here")
            return None
        ident = self._ident(key)
        entry_id = self._names.entry_id(ident)
        name = self._names.manifest(entry_id)
        try:
            raw = self._call("get", lambda t: t.get(name))
        except Unavailable as exc:
            self.stats.add("remote_misses", "unavailable" if exc.reason == "paused" else exc.reason)
            return None
        if raw is None:
            self.stats.add("remote_misses", "missing")
            return None
        received = len(raw)
        try:
            manifest = codec.open_manifest(raw, self._keys, self.opts.max_entry_bytes)
            codec.check_identity(manifest, self._names, entry_id, ident)
            chunk_names = self._names.chunks(entry_id, manifest.token, manifest.chunks)
            try:
                chunks = self._call("get", lambda t: t.mget(chunk_names))
            except Unavailable as exc:
                self.stats.add("remote_misses", "unavailable" if exc.reason == "paused" else exc.reason)
                return None
            received += sum(len(c) for c in chunks if isinstance(c, bytes))
            buf = codec.assemble(manifest, chunks)
            header, arrays = codec.decode(buf, ident)
        except codec.Rejected as rejected:
            self.stats.add("remote_bytes", "in", received)
            self.reject(key, rejected.reason, rejected.detail, raw, entry_id)
            return None
        self.stats.add("remote_bytes", "in", received)
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
    def delete(self, key: str | None, devices: Iterable[str] | None = None) -> None:
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
        doomed, gone = [], []
        for entry_id, raw in zip(members, raws):
            peek = codec.peek_chunks(raw)
            if key is not None:
                try:
                    manifest = codec.open_manifest(raw, self._keys, self.opts.max_entry_bytes)
                except codec.Rejected:
                    continue
                if (manifest.ident.device, manifest.ident.key) != (self.device, key):
                    continue
            doomed.append(self._names.manifest(entry_id))
            doomed.extend(self._names.chunks(entry_id, *peek) if peek else [])
            gone.append(entry_id)
        try:
            self._call("delete", lambda t: t.delete(doomed))
            if gone:
                self._call("delete", lambda t: t.remove_members(set_name, gone))
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
