"""Fixtures for the remote-tier tests: a real redis-server per test, contexts that use it.

Skips (with the reason) only where no ``redis-server`` binary can be found; ``.ci/run``
installs Debian's package. Nothing here contacts anything but 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import webnn
from tests.cache.remote.server import RedisServer, redis_server_binary
from webnn.cache import RemoteOptions

#: A shared secret for the tests (>= 16 bytes).
SECRET = b"fleet-secret-for-tests-0123456789"


@pytest.fixture
def redis_binary() -> str:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run does it)")
    pytest.importorskip("redis", reason="the 'redis' package (pip install 'webnn[remote]') is not installed")
    return binary


@pytest.fixture
def redis_server(redis_binary: str, tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary, tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def remote_options(redis_server: RedisServer) -> Callable[..., RemoteOptions]:
    """``remote_options(**changes)``: options for the test server, with the secret, synchronous writes."""

    def make(**changes: object) -> RemoteOptions:
        fields: dict[str, object] = {"url": redis_server.url, "secret": SECRET, "write": "sync",
                                     "timeout_ms": 2000, "retry_ms": 200}
        fields.update(changes)
        return RemoteOptions(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def remote_context(tmp_path: Path,
                   remote_options: Callable[..., RemoteOptions]) -> Iterator[Callable[..., webnn.MLContext]]:
    """``remote_context(name, **remote_changes)``: a CPU context with its own local directory
    ``tmp_path/<name>`` and the test server as its remote tier."""
    made: list[webnn.MLContext] = []

    def make(name: str = "a", origin: str | None = None, **changes: object) -> webnn.MLContext:
        ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / f"local-{name}", origin=origin,
                                      cache_remote=remote_options(**changes))
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.destroy()
