"""What one process shares per remote configuration, and what each context counts.

* :class:`RemoteClient` - one per :class:`~webnn.cache.RemoteOptions` in a process:
  the Redis connection pool, the :class:`Health` of the remote (paused after a failed
  call for ``retry_ms``; one warning per outage), and the upload :class:`Writer` (one
  background thread, a queue bounded in bytes, drained at exit by :func:`flush_all`);
* :class:`RemoteStats` - a context's counters (``(name, reason) -> n``, also sent to
  the local index) and call latencies.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import remote_codec as codec
from . import remote_fill
from .remote_config import RemoteOptions
from .remote_redis import RedisTransport, RemoteError

log = logging.getLogger("webnn.cache")

#: How long destroying a context, or exiting, waits for queued uploads.
FLUSH_SECONDS = 30.0
#: Counter names (persisted in the local index with the partition's other counters).
COUNTERS = ("remote_hits", "remote_misses", "remote_rejected", "remote_removed", "remote_errors",
            "remote_saves", "remote_save_failures", "remote_bytes")


class Unavailable(Exception):
    """The remote was not asked (paused after a failure) or the call failed; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        except Exception as exc:  # a client library surprise must not break inference: counted, warned once
            log.debug("graph cache: remote %s call failed", what, exc_info=True)
            stats.latency(what, time.perf_counter() - start)
            stats.add("remote_errors", "internal")
            self.health.failed("internal", f"{type(exc).__name__}: {exc}")
            raise Unavailable("internal") from exc
        stats.latency(what, time.perf_counter() - start)
        self.health.succeeded(write=what == "put")
        return result


def flush_all(timeout: float = FLUSH_SECONDS) -> bool:
    """Finish this process's background work (at exit): the local copies of remote hits
    (``remote_fill``), then every upload queue; True when all finished in time."""
    deadline = time.monotonic() + timeout
    filled = remote_fill.wait_all(timeout)
    with RemoteClient._registry_lock:
        clients = list(RemoteClient._registry.values())
    return all([c.writer.flush(max(0.0, deadline - time.monotonic())) for c in clients]) and filled


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
