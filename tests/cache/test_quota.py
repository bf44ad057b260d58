"""Quota per partition (origin and device kind) and least-recently-used eviction, on real entries."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import webnn
from tests.cache import graphs
from webnn.cache.locking import open_blob_for_reading
from webnn.cache.store import Store

FEED = graphs.inputs(11)


def _entry_size(make_context) -> int:
    probe = make_context(origin="probe")
    probe.save_graph("probe", graphs.build(probe, 0))
    size = probe.cache_info()[0]["size"]
    probe.delete_saved_graphs()
    return size


def _blob_path(cache_root, ctx, key):
    import sqlite3

    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    try:
        (checksum,) = conn.execute("SELECT checksum FROM entries WHERE origin=? AND key=?",
                                   (ctx.origin, key)).fetchone()
    finally:
        conn.close()
    return cache_root / "v1" / "blobs" / f"{checksum}.wnnb"


def test_lru_eviction_order(make_context):
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=int(size * 3.5))
    for variant, key in enumerate("abc"):
        ctx.save_graph(key, graphs.build(ctx, variant))
    ctx.load_graph("a")  # a is now more recent than b and c
    ctx.save_graph("d", graphs.build(ctx, 3))
    assert ctx.list_graphs() == ["a", "c", "d"]  # b was least recently used
    with pytest.raises(webnn.NotFoundError, match="'b'"):
        ctx.load_graph("b")
    ctx.save_graph("e", graphs.build(ctx, 4))
    assert ctx.list_graphs() == ["a", "d", "e"]  # then c
    ctx.load_graph("a")
    ctx.load_graph("d")
    ctx.save_graph("f", graphs.build(ctx, 5))
    assert ctx.list_graphs() == ["a", "d", "f"]  # then e
    stats = ctx.cache_stats()
    assert stats["evictions"] == 3 and stats["reasons"]["evictions"] == {"quota": 3}
    assert graphs.matches(ctx.compute(ctx.load_graph("a"), FEED), 0, FEED)


def test_quota_is_per_partition(make_context, cache_root):
    """Per origin and device kind: neither another origin's nor another device's entries go."""
    size = _entry_size(make_context)
    a = make_context(origin="a", cache_quota=int(size * 1.5))
    b = make_context(origin="b", cache_quota=int(size * 1.5))
    a.save_graph("x", graphs.build(a, 1))
    b.save_graph("x", graphs.build(b, 2))
    stamp = json.loads(a._cache("t").versions)
    stamp["device"] = "cuda"
    store = Store(cache_root)
    store.put("a", "cuda", "gpu-entry", json.dumps(stamp, sort_keys=True), {},
              {"c": np.zeros(size // 4, np.float32)}, quota=int(size * 1.5))
    store.close()
    assert a.list_graphs() == ["x"] and b.list_graphs() == ["x"]
    a.save_graph("y", graphs.build(a, 3))
    assert a.list_graphs() == ["y"] and b.list_graphs() == ["x"]
    assert {(e["key"], e["device"]) for e in a.cache_info()} == {("y", "cpu"), ("gpu-entry", "cuda")}


def test_replacing_a_key_does_not_count_the_old_entry(make_context):
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=int(size * 1.5))
    ctx.save_graph("k", graphs.build(ctx, 1))
    ctx.save_graph("k", graphs.build(ctx, 2))
    assert ctx.cache_stats()["evictions"] == 0
    assert graphs.matches(ctx.compute(ctx.load_graph("k"), FEED), 2, FEED)


def test_too_large_is_refused_and_nothing_changes(make_context, cache_root):
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=size - 1)
    g = graphs.build(ctx, 1)
    with pytest.raises(webnn.QuotaExceededError, match="more than the partition's quota") as info:
        ctx.save_graph("k", g)
    assert info.value.reason == "too-large"
    assert ctx.list_graphs() == []
    assert graphs.matches(ctx.compute(g, FEED), 1, FEED)  # inference unaffected
    assert ctx.cache_stats()["reasons"]["save_failures"] == {"too-large": 1}
    assert list((cache_root / "v1" / "tmp").iterdir()) == []


def test_entries_in_use_are_not_evicted(make_context, cache_root):
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=int(size * 2.5))
    ctx.save_graph("a", graphs.build(ctx, 1))
    ctx.save_graph("b", graphs.build(ctx, 2))
    reader_a = open_blob_for_reading(_blob_path(cache_root, ctx, "a"))  # a reader is loading a
    try:
        ctx.save_graph("c", graphs.build(ctx, 3))
        assert ctx.list_graphs() == ["a", "c"]  # b went, though a was older
        reader_c = open_blob_for_reading(_blob_path(cache_root, ctx, "c"))
        try:
            with pytest.raises(webnn.QuotaExceededError, match="in use") as info:
                ctx.save_graph("d", graphs.build(ctx, 4))
            assert info.value.reason == "quota"
            assert ctx.list_graphs() == ["a", "c"]  # nothing evicted for a save that failed
        finally:
            os.close(reader_c)
    finally:
        os.close(reader_a)
    ctx.save_graph("d", graphs.build(ctx, 4))
    assert ctx.list_graphs() == ["c", "d"]


def test_a_loaded_graph_does_not_pin_its_entry(make_context):
    """An entry is in use while it is read: a graph loaded earlier (its weights mapped from the blob)
    leaves its entry evictable, and keeps working after the eviction removes the file."""
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=int(size * 2.5))
    ctx.save_graph("a", graphs.build(ctx, 1))
    ctx.save_graph("b", graphs.build(ctx, 2))
    loaded_a = ctx.load_graph("a")  # now the most recently used
    ctx.load_graph("b")
    ctx.save_graph("c", graphs.build(ctx, 3))
    assert ctx.list_graphs() == ["b", "c"]  # a was least recently used; holding it did not pin it
    assert graphs.matches(ctx.compute(loaded_a, FEED), 1, FEED)


def test_stale_entries_go_first(make_context, cache_root):
    size = _entry_size(make_context)
    ctx = make_context(cache_quota=int(size * 2.5))
    ctx.save_graph("old-but-current", graphs.build(ctx, 1))
    stamp = json.loads(ctx._cache("t").versions)
    stamp["webnn"] = "0.0.0"
    store = Store(cache_root)
    store.put("default", "cpu", "stale", json.dumps(stamp, sort_keys=True), {},
              {"c": np.zeros(size // 4, np.float32)}, quota=1 << 30)
    store.close()
    ctx.save_graph("new", graphs.build(ctx, 2))
    assert ctx.list_graphs() == ["new", "old-but-current"]
    assert [e["key"] for e in ctx.cache_info()] == ["new", "old-but-current"]
    assert ctx.cache_stats()["reasons"]["evictions"] == {"stale": 1}


def test_default_quota_is_documented(make_context):
    from webnn.cache import DEFAULT_QUOTA

    ctx = make_context()
    assert ctx._cache("t").quota == DEFAULT_QUOTA == 4 << 30
