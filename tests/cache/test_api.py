"""The cache API's semantics (design.md, "The graph cache"), on real files and real SQLite."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

import webnn
from tests.cache import graphs

FEED = graphs.inputs(7)


def test_save_list_load_roundtrip(make_context):
    ctx = make_context()
    g = graphs.build(ctx, 3)
    assert ctx.list_graphs() == []
    ctx.save_graph("model-a", g)
    assert ctx.list_graphs() == ["model-a"]
    loaded = ctx.load_graph("model-a")
    assert isinstance(loaded, webnn.MLGraph)
    assert graphs.matches(ctx.compute(loaded, FEED), 3, FEED)


def test_loaded_graph_exposes_descriptors(make_context):
    ctx = make_context()
    g = graphs.build(ctx, 1)
    ctx.save_graph("k", g)
    other = make_context()  # a caller holding only the key
    loaded = other.load_graph("k")
    assert loaded.inputs == g.inputs and loaded.outputs == g.outputs
    assert loaded.inputs["xh"] == webnn.MLOperandDescriptor("float16", graphs.SHAPE)
    feed = {name: np.zeros(d.shape, np.dtype({"float32": "f4", "float16": "f2", "int32": "i4",
                                              "uint32": "u4"}[d.data_type])) for name, d in loaded.inputs.items()}
    assert set(other.compute(loaded, feed)) == set(loaded.outputs)


def test_loaded_graph_runs_through_dispatch(make_context):
    ctx = make_context()
    ctx.save_graph("k", graphs.build(ctx, 2))
    loaded = ctx.load_graph("k")
    ins = {}
    for name, desc in loaded.inputs.items():
        ins[name] = ctx.create_tensor(desc, writable=True)
        ctx.write_tensor(ins[name], FEED[name])
    outs = {name: ctx.create_tensor(desc, readable=True) for name, desc in loaded.outputs.items()}
    ctx.dispatch(loaded, ins, outs)
    got = {name: ctx.read_tensor(t) for name, t in outs.items()}
    assert graphs.matches(got, 2, FEED)


@pytest.mark.parametrize("method", ["save_graph", "load_graph", "delete_graph"])
@pytest.mark.parametrize("key", ["", None, 3, b"bytes", "\ud800"])
def test_bad_keys_are_type_errors(make_context, method, key):
    ctx = make_context()
    args = (key, graphs.build(ctx, 0)) if method == "save_graph" else (key,)
    with pytest.raises(TypeError, match=f"{method}: key must be"):
        getattr(ctx, method)(*args)


def test_overwrite_replaces_entry(make_context, cache_root):
    ctx = make_context()
    ctx.save_graph("k", graphs.build(ctx, 1))
    ctx.save_graph("k", graphs.build(ctx, 2))
    assert ctx.list_graphs() == ["k"]
    assert graphs.matches(ctx.compute(ctx.load_graph("k"), FEED), 2, FEED)
    assert len(list((cache_root / "v1" / "blobs").iterdir())) == 1  # the old blob is gone


def test_missing_key_not_found_names_key_and_partition(make_context):
    ctx = make_context(origin="https://a.example")
    with pytest.raises(webnn.NotFoundError, match=r"'nope'.*origin 'https://a.example', device 'cpu'") as info:
        ctx.load_graph("nope")
    assert info.value.reason == "missing"
    assert ctx.cache_stats()["misses"] == 1


def test_delete_is_idempotent_and_loaded_graph_survives(make_context):
    ctx = make_context()
    ctx.save_graph("k", graphs.build(ctx, 4))
    loaded = ctx.load_graph("k")
    ctx.delete_graph("k")
    ctx.delete_graph("k")
    ctx.delete_graph("never-saved")
    assert ctx.list_graphs() == []
    with pytest.raises(webnn.NotFoundError):
        ctx.load_graph("k")
    assert graphs.matches(ctx.compute(loaded, FEED), 4, FEED)


def test_delete_saved_graphs_clears_only_this_origin(make_context, cache_root):
    a = make_context(origin="a")
    b = make_context(origin="b")
    a.save_graph("k1", graphs.build(a, 1))
    a.save_graph("k2", graphs.build(a, 2))
    b.save_graph("k1", graphs.build(b, 3))
    a.delete_saved_graphs()
    a.delete_saved_graphs()
    assert a.list_graphs() == []
    assert b.list_graphs() == ["k1"]
    assert len(list((cache_root / "v1" / "blobs").iterdir())) == 1


def test_origin_partitions_are_isolated(make_context):
    a = make_context(origin="a")
    b = make_context(origin="b")
    a.save_graph("shared-name", graphs.build(a, 1))
    b.save_graph("shared-name", graphs.build(b, 2))
    assert graphs.matches(a.compute(a.load_graph("shared-name"), FEED), 1, FEED)
    assert graphs.matches(b.compute(b.load_graph("shared-name"), FEED), 2, FEED)
    b.delete_graph("shared-name")
    assert a.list_graphs() == ["shared-name"]


def test_default_origin_and_env_origin(make_context, monkeypatch):
    assert make_context().origin == "default"
    monkeypatch.setenv("WEBNN_ORIGIN", "from-env")
    assert make_context().origin == "from-env"


def _write_foreign_entry(cache_root: Path, origin: str, device: str, key: str, versions: str) -> None:
    """An entry as another device kind / library version would write it, via the real store."""
    from webnn.cache.store import Store

    store = Store(cache_root)
    store.put(origin, device, key, versions, {"note": "written by another build"},
              {"c0": np.arange(16, dtype=np.float32)}, quota=1 << 30)
    store.close()


def test_device_kind_partition(make_context, cache_root):
    ctx = make_context()
    ctx.save_graph("k", graphs.build(ctx, 1))
    stamp = json.loads(ctx._cache("t").versions)
    stamp["device"] = "cuda"
    _write_foreign_entry(cache_root, "default", "cuda", "cuda-only", json.dumps(stamp))
    assert ctx.list_graphs() == ["k"]
    with pytest.raises(webnn.NotFoundError):
        ctx.load_graph("cuda-only")
    devices = {(e["key"], e["device"], e["visible"]) for e in ctx.cache_info()}
    assert devices == {("k", "cpu", True), ("cuda-only", "cuda", False)}


def test_version_mismatch_is_invisible_and_removed(make_context, cache_root):
    ctx = make_context()
    stamp = json.loads(ctx._cache("t").versions)
    stamp["lib:torch"] = "0.0.1"
    _write_foreign_entry(cache_root, "default", "cpu", "old", json.dumps(stamp, sort_keys=True))
    assert ctx.list_graphs() == []
    assert [e["visible"] for e in ctx.cache_info()] == [False]
    with pytest.raises(webnn.NotFoundError, match="other library versions") as info:
        ctx.load_graph("old")
    assert info.value.reason == "version-mismatch"
    assert ctx.cache_info() == []
    assert ctx.cache_stats()["stale_removed"] == 1
    assert list((cache_root / "v1" / "blobs").iterdir()) == []


def test_cache_disabled(make_context):
    ctx = make_context(cache=False)
    assert ctx.cache_enabled is False and ctx.cache_dir is None
    g = graphs.build(ctx, 0)
    for call in (lambda: ctx.save_graph("k", g), lambda: ctx.load_graph("k"), ctx.list_graphs, ctx.cache_info):
        with pytest.raises(webnn.NotSupportedError, match="cache=False"):
            call()
    ctx.delete_graph("k")  # documented no-ops
    ctx.delete_saved_graphs()
    assert ctx.cache_stats()["hits"] == 0
    assert make_context().cache_enabled is True


def test_files_and_dirs_are_private_and_keys_are_not_paths(make_context, cache_root):
    ctx = make_context()
    hostile = ["../../escape", "/etc/passwd", "a/b", "..", "nul\0byte", "ünïcode ☃", "x" * 5000]
    for i, key in enumerate(hostile):
        ctx.save_graph(key, graphs.build(ctx, i))
    assert ctx.list_graphs() == sorted(hostile)
    for i, key in enumerate(hostile):
        assert graphs.matches(ctx.compute(ctx.load_graph(key), FEED), i, FEED)
    assert not (cache_root.parent / "escape").exists()
    for path in [cache_root, *cache_root.rglob("*")]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert not path.is_symlink()
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
        assert all(part not in path.name for part in ("escape", "passwd", "☃", "xxxx"))


def test_loading_skips_passes_and_weight_preparation(make_context, monkeypatch):
    ctx = make_context()
    g = graphs.build(ctx, 5)
    ctx.save_graph("k", g)

    def forbidden(*args, **kwargs):
        raise AssertionError("load_graph must not run passes or prepare weights")

    import webnn.backends.torch.compiler as compiler
    import webnn.passes

    monkeypatch.setattr(webnn.passes, "optimize", forbidden)
    monkeypatch.setattr(compiler, "prepare_constants", forbidden)
    loaded = make_context().load_graph("k")
    # the stored IR is the optimised one: "z" was folded to a constant at build time
    assert loaded.ir.op_counts() == g.ir.op_counts()
    assert loaded.ir.digest() == g.ir.digest()  # and its constants are the true values


def test_stats_and_info(make_context):
    ctx = make_context()
    ctx.save_graph("a", graphs.build(ctx, 1))
    ctx.save_graph("b", graphs.build(ctx, 2))
    ctx.load_graph("a")
    with pytest.raises(webnn.NotFoundError):
        ctx.load_graph("zzz")
    stats = ctx.cache_stats()
    assert (stats["saves"], stats["hits"], stats["misses"]) == (2, 1, 1)
    assert stats["reasons"]["misses"] == {"missing": 1}
    other = make_context()  # totals are shared through the index
    other.load_graph("b")
    totals = other.cache_stats()["partition_totals"]
    assert (totals["saves"], totals["hits"], totals["misses"]) == (2, 2, 1)
    info = ctx.cache_info()
    assert [e["key"] for e in info] == ["b", "a"]  # most recently used first
    assert all(e["size"] > 0 and e["device"] == "cpu" and e["visible"] for e in info)


def test_index_is_wal_with_documented_columns(make_context, cache_root):
    ctx = make_context()
    ctx.save_graph("k", graphs.build(ctx, 1))
    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = {r[1] for r in conn.execute("PRAGMA table_info(entries)")}
    finally:
        conn.close()
    assert {"key", "origin", "device", "versions", "size", "checksum", "created", "last_used"} <= cols


def test_destroyed_context_refuses_cache_calls(make_context):
    ctx = make_context()
    ctx.destroy()
    with pytest.raises(webnn.InvalidStateError):
        ctx.list_graphs()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="lists open files through /proc/self/fd")
def test_dropped_context_closes_its_cache_at_once(cache_root):
    """No reference cycle through the cache: dropping a context's last reference frees it
    and closes its index files at once, without waiting for the cyclic collector."""
    import gc
    import weakref

    def open_under(root: Path) -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(root)):
                found.append(target)
        return found

    ctx = webnn.ml.create_context("cpu", cache_dir=cache_root)
    ctx.save_graph("k", graphs.build(ctx, 2))
    assert graphs.matches(ctx.compute(ctx.load_graph("k"), FEED), 2, FEED)
    assert open_under(cache_root)  # the index is open while the context lives
    ref = weakref.ref(ctx)
    gc.collect()
    gc.disable()
    try:
        del ctx
        assert ref() is None
        assert open_under(cache_root) == []
    finally:
        gc.enable()


def test_threads_share_a_context_and_a_directory(make_context):
    import threading

    shared = make_context()
    other = make_context()
    errors: list[BaseException] = []
    built = {v: graphs.build(shared, v) for v in range(4)}
    built_other = {v: graphs.build(other, v) for v in range(4)}

    def work(ctx, table, seed):
        try:
            for i in range(12):
                key = f"t{(seed + i) % 4}"
                ctx.save_graph(key, table[(seed + i) % 4])
                try:
                    out = ctx.compute(ctx.load_graph(f"t{(seed + i + 1) % 4}"), FEED)
                    assert graphs.matches(out, (seed + i + 1) % 4, FEED)
                except webnn.NotFoundError:
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ctx, table, s))
               for s in range(3) for ctx, table in ((shared, built), (other, built_other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert shared.list_graphs() == ["t0", "t1", "t2", "t3"]
