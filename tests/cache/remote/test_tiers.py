"""The remote tier behind the local store, against a real redis-server: tiers, write-through,
union listing, deletes, partitions, versions, names, chunks, TTL, modes and configuration."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import webnn
from tests.cache import graphs
from tests.cache.remote.conftest import SECRET
from webnn.cache import RemoteOptions
from webnn.cache import remote_codec as codec
from webnn.cache.remote import RemoteTier

FEED = graphs.inputs(7)


def _local_checksum(ctx: webnn.MLContext, key: str) -> str | None:
    conn = sqlite3.connect(Path(ctx.cache_dir) / "v1" / "index.sqlite3")
    try:
        row = conn.execute("SELECT checksum FROM entries WHERE key=? AND origin=?", (key, ctx.origin)).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def _remote_entry(server, ctx: webnn.MLContext, key: str, secret: bytes | None = SECRET,
                  namespace: str = "webnn") -> tuple[codec.Manifest, bytes]:
    """The manifest and the reassembled value of ``key`` as Redis holds them (read independently)."""
    keys = codec.derive_keys(secret)
    names = codec.Names(namespace, keys)
    ident = codec.Identity(ctx.origin, ctx.device_kind, key, ctx._cache("t").versions)
    entry_id = names.entry_id(ident)
    r = server.client()
    manifest = codec.open_manifest(r.get(names.manifest(entry_id)), keys, 1 << 40)
    value = b"".join(r.mget(names.chunks(entry_id, manifest.token, manifest.chunks)))
    return manifest, value


def test_second_machine_loads_from_the_remote_and_keeps_it_locally(redis_server, remote_context):
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("shared", graphs.build(a, 3))
    assert b.list_graphs() == ["shared"]

    loaded = b.load_graph("shared")
    assert graphs.matches(b.compute(loaded, FEED), 3, FEED)  # numpy reference, not the saver's output
    stats = b.cache_stats()
    assert (stats["misses"], stats["hits"]) == (1, 0)  # the local tier missed ...
    assert (stats["remote"]["hits"], stats["remote"]["misses"]) == (1, 0)  # ... the remote hit
    assert stats["reasons"]["saves"] == {"remote-fill": 1}
    assert stats["remote"]["bytes_in"] > 4000
    assert stats["remote"]["latency_ms"]["get"]["calls"] == 1  # one session: the manifest, then the chunks

    # the remote value is the local store's blob, byte for byte, and the fill wrote the same blob
    manifest, value = _remote_entry(redis_server, a, "shared")
    assert _local_checksum(a, "shared") == manifest.checksum == _local_checksum(b, "shared")
    blob = Path(b.cache_dir) / "v1" / "blobs" / f"{manifest.checksum}.wnnb"
    assert blob.read_bytes() == value

    # the next load is a local hit: Redis is not asked
    calls = b.cache_stats()["remote"]["latency_ms"]["get"]["calls"]
    assert graphs.matches(b.compute(b.load_graph("shared"), FEED), 3, FEED)
    stats = b.cache_stats()
    assert stats["hits"] == 1 and stats["remote"]["latency_ms"]["get"]["calls"] == calls


def test_overwrite_replaces_the_remote_entry(remote_context):
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("k", graphs.build(a, 1))
    a.save_graph("k", graphs.build(a, 2))
    assert graphs.matches(b.compute(b.load_graph("k"), FEED), 2, FEED)


def test_list_and_deletes_work_over_the_union(redis_server, remote_context, tmp_path):
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("remote-and-a", graphs.build(a, 1))
    local_only = webnn.ml.create_context("cpu", cache_dir=tmp_path / "local-b", cache_remote=None)
    local_only.save_graph("only-b", graphs.build(local_only, 2))
    local_only.destroy()
    assert b.list_graphs() == ["only-b", "remote-and-a"]

    b.delete_graph("remote-and-a")  # gone from the fleet; a's own local copy is a's
    assert b.list_graphs() == ["only-b"]
    with pytest.raises(webnn.NotFoundError):
        b.load_graph("remote-and-a")
    c = remote_context("c")
    assert c.list_graphs() == []
    b.delete_graph("remote-and-a")  # idempotent

    b.save_graph("again", graphs.build(b, 4))
    assert c.list_graphs() == ["again"]
    b.delete_saved_graphs()
    assert b.list_graphs() == [] and c.list_graphs() == []
    r = redis_server.client()
    assert r.keys("webnn:g1:m:*") == []  # the entries are gone at once; their chunks expire shortly,
    assert all(0 < r.pttl(k) <= 60_000 for k in r.keys("webnn:g1:c:*"))  # for readers still fetching


def test_partitions_and_versions_stay_apart(redis_server, remote_context, remote_options):
    a = remote_context("a")
    a.save_graph("k", graphs.build(a, 1))
    other_origin = remote_context("b", origin="another-site")
    assert other_origin.list_graphs() == []
    with pytest.raises(webnn.NotFoundError):
        other_origin.load_graph("k")

    # entries written by the real writer for a cuda context and for another torch version
    header, arrays = a._backend.export(a.load_graph("k")._executable)
    versions = a._cache("t").versions
    stamp = json.loads(versions)
    stamp["lib:torch"] = "0.0.1-other"
    old = json.dumps(stamp, sort_keys=True, separators=(",", ":"))
    for device, stamp_text in (("cuda", versions), ("cpu", old)):
        RemoteTier(remote_options(), "default", device, stamp_text).save("other", header, arrays)
    assert len(redis_server.client().keys("webnn:g1:m:*")) == 3
    b = remote_context("c")
    assert b.list_graphs() == ["k"]  # neither the cuda entry nor the other version's
    with pytest.raises(webnn.NotFoundError):
        b.load_graph("other")
    assert b.cache_stats()["remote"]["reasons"]["misses"] == {"missing": 1}

    b.delete_saved_graphs()  # every device kind and version of the origin
    assert redis_server.client().keys("webnn:g1:m:*") == []


def test_redis_names_never_contain_user_keys(redis_server, remote_context):
    a = remote_context("a", origin="https://private.example")
    a.save_graph("customer-42/model.onnx", graphs.build(a, 1))
    names = [k.decode() for k in redis_server.client().keys("*")]
    assert names and all(k.startswith("webnn:g1:") for k in names)
    assert not any(word in k for k in names for word in ("customer", "model", "private", "cpu", "example"))


def test_large_values_are_chunked_and_checked_whole(redis_server, remote_context):
    a = remote_context("a", chunk_bytes=1024)
    b = remote_context("b", chunk_bytes=1024)
    a.save_graph("k", graphs.build(a, 5))
    manifest, value = _remote_entry(redis_server, a, "k")
    assert manifest.chunks == -(-manifest.size // 1024) > 3 and len(value) == manifest.size
    assert graphs.matches(b.compute(b.load_graph("k"), FEED), 5, FEED)
    c = remote_context("c")  # a reader with another chunk size reads the writer's layout (in the manifest)
    assert graphs.matches(c.compute(c.load_graph("k"), FEED), 5, FEED)


def test_ttl_is_set_on_every_part_of_an_entry(redis_server, remote_context):
    a = remote_context("a", ttl_s=100)
    a.save_graph("k", graphs.build(a, 1))
    r = redis_server.client()
    parts = r.keys("webnn:g1:[mc]:*")
    assert len(parts) == 2 and all(0 < r.pttl(k) <= 100_000 for k in parts)


def test_async_writes_land_and_are_counted(redis_server, remote_context):
    a = remote_context("a", write="async")
    for v in range(3):
        a.save_graph(f"k{v}", graphs.build(a, v))
    a.destroy()  # drains the upload queue
    b = remote_context("b")
    assert b.list_graphs() == ["k0", "k1", "k2"]
    assert graphs.matches(b.compute(b.load_graph("k2"), FEED), 2, FEED)
    assert b.cache_stats()["partition_totals"]["remote_hits"] == 1
    # a's counters persist in a's local index (what `webnn cache info` shows for that machine)
    totals = remote_context("a").cache_stats()["partition_totals"]
    assert (totals["remote_saves"], totals["saves"]) == (3, 3)


def test_async_queue_is_bounded(redis_server, remote_context):
    a = remote_context("a", write="async", queue_bytes=1, timeout_ms=500)
    redis_server.freeze()  # the first upload waits on the server: later ones do not fit
    try:
        for v in range(4):
            a.save_graph(f"k{v}", graphs.build(a, v))
        remote = a.cache_stats()["remote"]
        assert remote["reasons"]["save_failures"] == {"queue-full": 3}
        assert a.list_graphs() == ["k0", "k1", "k2", "k3"]  # all saved locally
    finally:
        redis_server.thaw()


def test_remote_off_and_environment(redis_server, tmp_path, monkeypatch):
    monkeypatch.setenv("WEBNN_CACHE_REMOTE", redis_server.url)
    monkeypatch.setenv("WEBNN_CACHE_REMOTE_SECRET", SECRET.decode())
    monkeypatch.setenv("WEBNN_CACHE_REMOTE_WRITE", "sync")
    off = webnn.ml.create_context("cpu", cache_dir=tmp_path / "off", cache_remote=None)
    off.save_graph("k", graphs.build(off, 1))
    assert off.cache_stats()["remote"] is None
    assert redis_server.client().keys("*") == []

    on = webnn.ml.create_context("cpu", cache_dir=tmp_path / "on")  # from the environment
    on.save_graph("k", graphs.build(on, 1))
    remote = on.cache_stats()["remote"]
    assert (remote["url"], remote["mode"], remote["write"], remote["saves"]) == \
        (redis_server.url, "read-write", "sync", 1)
    monkeypatch.delenv("WEBNN_CACHE_REMOTE")
    as_option = webnn.ml.create_context("cpu", cache_dir=tmp_path / "opt", cache_remote=redis_server.url)
    assert as_option.list_graphs() == ["k"]
    assert webnn.ml.create_context("cpu", cache_dir=tmp_path / "x").cache_stats()["remote"] is None
    for ctx in (off, on, as_option):
        ctx.destroy()


def test_without_a_secret_the_remote_is_read_only(redis_server, remote_context):
    writer = remote_context("w", secret=None, allow_unauthenticated_writes=True)  # the explicit opt-in
    writer.save_graph("k", graphs.build(writer, 1))
    reader = remote_context("r", secret=None)
    assert reader.list_graphs() == ["k"]
    assert graphs.matches(reader.compute(reader.load_graph("k"), FEED), 1, FEED)
    before = sorted(redis_server.client().keys("*"))
    reader.save_graph("new", graphs.build(reader, 2))
    remote = reader.cache_stats()["remote"]
    assert remote["mode"] == "read-only" and remote["reasons"]["save_failures"] == {"read-only": 1}
    reader.delete_graph("k")  # hides the fleet's copy from this context; removes nothing remote
    assert reader.list_graphs() == ["new"]
    assert sorted(redis_server.client().keys("*")) == before
    assert remote_context("r2", secret=None).list_graphs() == ["k"]
    # secret and no-secret entries live apart: neither sees the other's
    assert remote_context("s").list_graphs() == []


def test_configuration_errors(redis_server, tmp_path, monkeypatch):
    for bad, match in (("http://127.0.0.1:1/0", "redis://"), ("redis://", "no host"),
                       (RemoteOptions(url=redis_server.url, secret=b"short"), "at least 16 bytes"),
                       (RemoteOptions(url=redis_server.url, write="later"), "'async' or 'sync'"),
                       (RemoteOptions(url=redis_server.url, namespace="a b"), "namespace"),
                       (42, "cache_remote must be")):
        with pytest.raises(TypeError, match=match):
            webnn.ml.create_context("cpu", cache_dir=tmp_path, cache_remote=bad)
    monkeypatch.setenv("WEBNN_CACHE_REMOTE", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("WEBNN_CACHE_REMOTE_TIMEOUT_MS", "soon")
    with pytest.raises(TypeError, match="WEBNN_CACHE_REMOTE_TIMEOUT_MS"):
        webnn.ml.create_context("cpu", cache_dir=tmp_path)
    # cache=False needs no remote configuration at all
    assert webnn.ml.create_context("cpu", cache=False).cache_stats()["remote"] is None


def test_password_is_never_shown(redis_binary, tmp_path):
    from tests.cache.remote.server import RedisServer

    server = RedisServer(redis_binary, tmp_path / "redis", password="pw-0123456789")
    server.start()
    try:
        url = f"redis://:pw-0123456789@127.0.0.1:{server.port}/0"
        ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "l",
                                      cache_remote=RemoteOptions(url=url, secret=SECRET, write="sync"))
        ctx.save_graph("k", graphs.build(ctx, 1))
        remote = ctx.cache_stats()["remote"]
        assert remote["saves"] == 1 and "pw-0123456789" not in json.dumps(ctx.cache_stats())
        assert remote["url"] == f"redis://:***@127.0.0.1:{server.port}/0"
        ctx.destroy()
    finally:
        server.stop()


def test_missing_client_package_names_the_extra(redis_server, tmp_path):
    code = ("import sys; sys.modules['redis'] = None\n"
            "import webnn\n"
            "try:\n"
            f"    webnn.ml.create_context('cpu', cache_dir={str(tmp_path)!r})\n"
            "except webnn.NotSupportedError as e:\n"
            "    print('ERR', e)\n")
    env = {"WEBNN_CACHE_REMOTE": redis_server.url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert "ERR" in done.stdout and "pip install 'webnn[remote]'" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("path", ["tcp-password-db", "unix-socket", "redis-py"])
def test_reads_over_each_connection_path(redis_binary, tmp_path, monkeypatch, path):
    """The read path (own socket; redis-py for TLS) with a password, a database number, a unix socket."""
    from tests.cache.remote.server import RedisServer
    from webnn.cache import remote_reader

    sock = tmp_path / "redis.sock"
    server = RedisServer(redis_binary, tmp_path / "redis", password="pw/with:odd@chars",
                         extra=("--unixsocket", str(sock), "--unixsocketperm", "700"))
    server.start()
    try:
        if path == "unix-socket":
            url = f"unix://:pw%2Fwith%3Aodd%40chars@{sock}?db=3"
        else:
            url = f"redis://:pw%2Fwith%3Aodd%40chars@127.0.0.1:{server.port}/2"
        if path == "redis-py":
            monkeypatch.setattr(remote_reader, "supported", lambda opts: False)
        opts = RemoteOptions(url=url, secret=SECRET, write="sync", chunk_bytes=1024)
        a = webnn.ml.create_context("cpu", cache_dir=tmp_path / "a", cache_remote=opts)
        a.save_graph("k", graphs.build(a, 6))
        b = webnn.ml.create_context("cpu", cache_dir=tmp_path / "b", cache_remote=opts)
        assert graphs.matches(b.compute(b.load_graph("k"), FEED), 6, FEED)
        assert b.cache_stats()["remote"]["hits"] == 1
        import redis

        db = 3 if path == "unix-socket" else 2
        assert server.client().keys("*") == []  # nothing in database 0: the URL's database holds it
        assert redis.Redis(host="127.0.0.1", port=server.port, db=db, password=server.password).keys("*")
        for ctx in (a, b):
            ctx.destroy()
    finally:
        server.stop()
