"""The Redis calls of the remote tier (the only module that imports ``redis``).

Every call is bounded by the configured timeout (connect and each reply), redis-py's
own retries are off (the tier decides when to try again), and every failure comes
out as :class:`RemoteError` with a reason the counters use: "connection", "timeout",
"auth" (wrong or missing password, ACL refusal), "full" (Redis at ``maxmemory`` with
a ``noeviction`` policy), "read-only" (a replica), "busy" (loading its dataset) or
"protocol" (anything else Redis answered with an error).

Recommended server settings for a cache instance: ``maxmemory`` sized for the fleet's
models and ``maxmemory-policy allkeys-lru`` (a dedicated instance; ``volatile-lru``
together with ``WEBNN_CACHE_REMOTE_TTL_S`` when the instance holds other data). An
entry whose chunks Redis evicted is found incomplete, removed and rebuilt.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .remote_config import RemoteOptions


class RemoteError(Exception):
    """A Redis call failed; ``reason`` is one of the reasons in the module docstring."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _classify(exc: BaseException) -> str:
    import redis.exceptions as rex

    def kind(name: str) -> type[BaseException] | tuple[()]:
        return getattr(rex, name, ())

    if isinstance(exc, (kind("AuthenticationError"), kind("AuthenticationWrongNumberOfArgsError"),
                        kind("AuthorizationError"), kind("NoPermissionError"))):
        return "auth"
    if isinstance(exc, rex.TimeoutError):
        return "timeout"
    if isinstance(exc, kind("OutOfMemoryError")):
        return "full"
    if isinstance(exc, kind("ReadOnlyError")):
        return "read-only"
    if isinstance(exc, kind("BusyLoadingError")):
        return "busy"
    if isinstance(exc, rex.ConnectionError):
        return "connection"
    text = str(exc)
    if text.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or "invalid password" in text:
        return "auth"
    if text.startswith("OOM"):
        return "full"
    return "protocol"


class RedisTransport:
    """The calls to one Redis server: reads on a plain socket (``remote_reader``; redis-py for
    TLS), everything else through a redis-py connection pool made on first use (thread-safe,
    re-made after a fork by redis-py). A process that only loads never imports redis-py."""

    def __init__(self, opts: RemoteOptions) -> None:
        from .remote_reader import RawReader, supported

        self._opts = opts
        self._raw = RawReader(opts) if supported(opts) else None
        self._redis: Any = None
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if self._redis is None:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                timeout = self._opts.timeout_ms / 1000.0
                kwargs: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                                          "retry": Retry(NoBackoff(), 0), "retry_on_timeout": False,
                                          "health_check_interval": 0, "socket_read_size": 1 << 20,
                                          "client_name": "webnn-graph-cache"}
                if self._opts.password is not None:
                    kwargs["password"] = self._opts.password  # a password in the URL wins (redis-py)
                self._errors = (redis.exceptions.RedisError, OSError)
                self._redis = redis.Redis.from_url(self._opts.url, **kwargs)
            return self._redis

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(client, *args)`` with redis-py's errors turned into :class:`RemoteError`."""
        client = self._client()
        try:
            return fn(client, *args)
        except self._errors as exc:
            raise RemoteError(_classify(exc), f"{type(exc).__name__}: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read session: ``get(name)`` and ``read_values(names, sizes, out, progress)``."""
        from .remote_reader import RedisPySession

        if self._raw is not None:
            with self._raw.session() as session:
                yield session
            return
        client = self._client()
        try:
            yield RedisPySession(client)
        except self._errors as exc:
            raise RemoteError(_classify(exc), f"{type(exc).__name__}: {exc}") from exc

    # -- the operations (each is one round trip, two for a write) ------------------
    def get(self, name: str) -> bytes | None:
        return self.call(lambda r: r.get(name))

    def mget(self, names: Sequence[str]) -> list[bytes | None]:
        if not names:
            return []
        return self.call(lambda r: r.mget(list(names)))

    def members(self, set_name: str) -> list[str]:
        raw = self.call(lambda r: r.smembers(set_name))
        return sorted(m.decode("ascii", "replace") if isinstance(m, bytes) else str(m) for m in raw)

    def put_entry(self, manifest_name: str, manifest: bytes, chunk_names: Sequence[str],
                  chunks: Sequence[memoryview], set_name: str, entry_id: str, ttl_ms: int | None) -> bytes | None:
        """Write the chunks, then swap the manifest in and list the entry; returns the old manifest."""
        def write(r: Any) -> bytes | None:
            pipe = r.pipeline(transaction=False)
            for name, chunk in zip(chunk_names, chunks):
                pipe.set(name, chunk, px=ttl_ms)
            try:
                pipe.execute()
            except self._errors:  # e.g. Redis full after some chunks: do not leave them behind
                with contextlib.suppress(*self._errors):
                    r.delete(*chunk_names)
                raise
            tx = r.pipeline(transaction=True)
            tx.set(manifest_name, manifest, px=ttl_ms, get=True)
            tx.sadd(set_name, entry_id)
            old, _added = tx.execute()
            return old
        return self.call(write)

    def expire(self, names: Sequence[str], ms: int) -> None:
        if names:
            def run(r: Any) -> None:
                pipe = r.pipeline(transaction=False)
                for name in names:
                    pipe.pexpire(name, ms)
                pipe.execute()
            self.call(run)

    def delete(self, names: Sequence[str]) -> int:
        return self.call(lambda r: r.delete(*names)) if names else 0

    def delete_if_unchanged(self, name: str, expected: bytes, also: Sequence[str], set_name: str | None,
                            member: str | None, grace_ms: int | None = None) -> bool:
        """Delete ``name`` only if it still holds ``expected`` (WATCH/MULTI), and ``also`` with it,
        or (``grace_ms``) let ``also`` expire that much later, for readers still fetching them."""
        import redis

        def run(r: Any) -> bool:
            with r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(name)
                    if pipe.get(name) != expected:
                        return False
                    pipe.multi()
                    if grace_ms is None:
                        pipe.delete(name, *also)
                    else:
                        pipe.delete(name)
                        for other in also:
                            pipe.pexpire(other, grace_ms)
                    if set_name and member:
                        pipe.srem(set_name, member)
                    pipe.execute()
                    return True
                except redis.exceptions.WatchError:
                    return False
        return self.call(run)

    def remove_members(self, set_name: str, members: Sequence[str]) -> None:
        if members:
            self.call(lambda r: r.srem(set_name, *members))

    def ping(self) -> bool:
        return bool(self.call(lambda r: r.ping()))

    def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(*self._errors):
                self._redis.close()
