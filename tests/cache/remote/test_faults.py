"""A remote that is down, frozen, refusing auth or full: inference goes on with the local cache,
one warning per outage, a counter per failed call, no call longer than the timeout, and the
tier comes back when Redis does. Every fault is real: the server is stopped, SIGSTOPped,
started with a password or with a tiny ``maxmemory``."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

import webnn
from tests.cache import graphs
from tests.cache.remote.conftest import SECRET
from tests.cache.remote.server import RedisServer
from webnn.cache import RemoteOptions

FEED = graphs.inputs(5)


def _messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "webnn.cache" and text in r.getMessage()]


def test_redis_stopped_mid_run_and_restarted(redis_server, remote_context, caplog):
    caplog.set_level(logging.WARNING, logger="webnn.cache")
    a = remote_context("a", timeout_ms=500, retry_ms=300)
    a.save_graph("before", graphs.build(a, 1))
    redis_server.stop()

    b = remote_context("b", timeout_ms=500, retry_ms=300)
    for i in range(4):
        with pytest.raises(webnn.NotFoundError):
            b.load_graph("before")
        g = graphs.build(b, 1)  # the caller rebuilds, and inference goes on
        assert graphs.matches(b.compute(g, FEED), 1, FEED)
        b.save_graph(f"during-{i}", g)
        time.sleep(0.1)
    assert b.list_graphs() == [f"during-{i}" for i in range(4)]
    assert graphs.matches(b.compute(b.load_graph("during-0"), FEED), 1, FEED)  # local hits still work
    assert len(_messages(caplog, "is unavailable")) == 1  # one warning for the whole outage
    remote = b.cache_stats()["remote"]
    assert remote["state"] == "down" and remote["errors"] >= 1
    assert set(remote["reasons"]["errors"]) == {"connection"}
    assert remote["reasons"]["save_failures"].keys() <= {"connection", "unavailable"}

    redis_server.start(keep_port=True)  # its dump brings the entries back
    time.sleep(0.4)  # past retry_ms
    assert b.list_graphs() == ["before"] + [f"during-{i}" for i in range(4)]
    assert len(_messages(caplog, "reachable again")) == 1
    assert b.cache_stats()["remote"]["state"] == "up"
    assert graphs.matches(b.compute(b.load_graph("before"), FEED), 1, FEED)
    b.save_graph("after", graphs.build(b, 2))
    c = remote_context("c", timeout_ms=500, retry_ms=300)
    assert graphs.matches(c.compute(c.load_graph("after"), FEED), 2, FEED)


def test_a_frozen_redis_costs_one_timeout_then_nothing(redis_server, remote_context, caplog):
    caplog.set_level(logging.WARNING, logger="webnn.cache")
    a = remote_context("a", timeout_ms=300, retry_ms=60_000)
    a.save_graph("k", graphs.build(a, 1))
    b = remote_context("b", timeout_ms=300, retry_ms=60_000)
    redis_server.freeze()
    try:
        start = time.perf_counter()
        with pytest.raises(webnn.NotFoundError):
            b.load_graph("k")
        first = time.perf_counter() - start
        assert first < 0.3 + 1.5, first  # one timeout (plus a loaded machine's slack), not retries
        start = time.perf_counter()
        for i in range(5):
            with pytest.raises(webnn.NotFoundError):
                b.load_graph("k")
            b.save_graph(f"k{i}", graphs.build(b, 1))
            b.list_graphs()
        paused = time.perf_counter() - start
        assert paused < 1.0, paused  # the remote is not asked while paused
        assert graphs.matches(b.compute(b.load_graph("k0"), FEED), 1, FEED)
        remote = b.cache_stats()["remote"]
        assert remote["reasons"]["errors"] == {"timeout": 1}
        assert remote["reasons"]["misses"] == {"timeout": 1, "unavailable": 5}
        assert len(_messages(caplog, "is unavailable")) == 1
    finally:
        redis_server.thaw()


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_refused_auth_degrades_to_local_only(redis_binary, tmp_path, caplog, password):
    caplog.set_level(logging.WARNING, logger="webnn.cache")
    server = RedisServer(redis_binary, tmp_path / "redis", password="right-password-0123")
    server.start()
    try:
        opts = RemoteOptions(url=f"redis://127.0.0.1:{server.port}/0", password=password, secret=SECRET,
                             write="sync", timeout_ms=1000, retry_ms=60_000)
        ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "l", cache_remote=opts)
        g = graphs.build(ctx, 3)
        ctx.save_graph("k", g)  # kept locally
        with pytest.raises(webnn.NotFoundError):
            ctx.load_graph("missing")
        assert ctx.list_graphs() == ["k"]
        assert graphs.matches(ctx.compute(ctx.load_graph("k"), FEED), 3, FEED)
        remote = ctx.cache_stats()["remote"]
        assert remote["state"] == "down" and remote["down_reason"] == "auth"
        assert remote["reasons"]["errors"] == {"auth": 1}
        assert len(_messages(caplog, "is unavailable")) == 1
        assert server.client().keys("*") == []
        ctx.destroy()
        good = webnn.ml.create_context("cpu", cache_dir=tmp_path / "m", cache_remote=RemoteOptions(
            url=f"redis://:right-password-0123@127.0.0.1:{server.port}/0", secret=SECRET, write="sync"))
        good.save_graph("k", graphs.build(good, 3))
        assert good.cache_stats()["remote"]["saves"] == 1
        good.destroy()
    finally:
        server.stop()


def test_full_redis_refuses_writes_and_reads_go_on(redis_binary, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="webnn.cache")
    server = RedisServer(redis_binary, tmp_path / "redis", extra=("--maxmemory", "4mb",
                                                                   "--maxmemory-policy", "noeviction"))
    server.start()
    try:
        opts = RemoteOptions(url=server.url, secret=SECRET, write="sync", chunk_bytes=1 << 20)
        ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "a", cache_remote=opts)
        ctx.save_graph("small", graphs.build(ctx, 1))
        b = webnn.MLGraphBuilder(ctx)
        x = b.input("x", {"dataType": "float32", "shape": [1024, 2048]})
        weights = np.random.default_rng(0).standard_normal((1024, 2048)).astype(np.float32)  # 8 MiB
        big = b.build({"y": b.add(x, b.constant(weights))})
        ctx.save_graph("big", big)  # kept locally; Redis refuses it
        remote = ctx.cache_stats()["remote"]
        assert remote["reasons"]["save_failures"] == {"full": 1} and remote["state"] != "down"
        assert len(_messages(caplog, "refuses writes")) == 1
        small_size = next(e["size"] for e in ctx.cache_info() if e["key"] == "small")
        # the small entry's chunks; none left of big
        assert len(server.client().keys("webnn:g1:c:*")) == -(-small_size // (1 << 20))
        feed = np.ones((1024, 2048), np.float32)
        assert np.array_equal(ctx.compute(ctx.load_graph("big"), {"x": feed})["y"], feed + weights)
        other = webnn.ml.create_context("cpu", cache_dir=tmp_path / "b", cache_remote=opts)
        assert graphs.matches(other.compute(other.load_graph("small"), FEED), 1, FEED)  # reads go on
        for c in (ctx, other):
            c.destroy()
    finally:
        server.stop()
