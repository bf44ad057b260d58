"""Damaged entries: every load either gives the right outputs or NotFoundError (and the
entry is gone); never another exception, never wrong numbers. Damage is done to the
real files on disk: blobs, the SQLite index, its WAL, and single index rows."""

from __future__ import annotations

import os
import random
import sqlite3
from pathlib import Path

import pytest

import webnn
from tests.cache import graphs
from webnn.cache.index import row_check

FEED = graphs.inputs(3)


def _blob_of(cache_root: Path, key: str, origin: str = "default") -> Path:
    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    try:
        (checksum,) = conn.execute("SELECT checksum FROM entries WHERE key=? AND origin=?", (key, origin)).fetchone()
    finally:
        conn.close()
    return cache_root / "v1" / "blobs" / f"{checksum}.wnnb"


def _damage_blob(path: Path, other: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    kind = rng.choice(["truncate", "bitflip", "bitflips", "append", "empty", "other-blob", "zero-page",
                       "delete", "symlink", "header-byte"])
    if kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "bitflip":
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
    elif kind == "bitflips":
        for _ in range(rng.randint(2, 50)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "append":
        data += os.urandom(rng.randint(1, 200))
    elif kind == "empty":
        data = bytearray()
    elif kind == "other-blob":
        data = bytearray(other.read_bytes())
    elif kind == "zero-page":
        start = rng.randrange(len(data))
        data[start:start + 4096] = bytes(len(data[start:start + 4096]))
        if bytes(data) == path.read_bytes():
            data[start] ^= 0xFF
    elif kind == "header-byte":
        data[rng.randrange(24, 200)] ^= 0x20
    if kind == "delete":
        path.unlink()
    elif kind == "symlink":
        path.unlink()
        path.symlink_to(other)
    else:
        path.write_bytes(bytes(data))
    return kind


def test_blob_corruption_fuzz(make_context, cache_root):
    rng = random.Random(1234)
    seen = set()
    for round_ in range(60):
        ctx = make_context()
        ctx.save_graph("victim", graphs.build(ctx, 1))
        ctx.save_graph("bystander", graphs.build(ctx, 2))
        victim, bystander = _blob_of(cache_root, "victim"), _blob_of(cache_root, "bystander")
        kind = _damage_blob(victim, bystander, rng)
        seen.add(kind)
        fresh = make_context()
        with pytest.raises(webnn.NotFoundError) as info:
            fresh.load_graph("victim")
        assert "victim" in str(info.value), kind
        assert fresh.list_graphs() == ["bystander"], kind
        assert fresh.cache_stats()["corrupt_removed"] == 1, kind
        assert not victim.exists() or victim.resolve() == bystander.resolve(), kind
        assert graphs.matches(fresh.compute(fresh.load_graph("bystander"), FEED), 2, FEED), (round_, kind)
        ctx.destroy()
        fresh.destroy()
    assert len(seen) == 10


def _checkpointed(cache_root: Path) -> Path:
    index = cache_root / "v1" / "index.sqlite3"
    conn = sqlite3.connect(index)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return index


def _damage_index(path: Path, rng: random.Random) -> str:
    data = bytearray(path.read_bytes())
    kind = rng.choice(["truncate", "bitflip", "bitflips", "append", "empty", "garbage", "zero-page", "header"])
    if kind == "truncate":
        data = data[: rng.randrange(len(data))]
    elif kind == "bitflip":
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "bitflips":
        for _ in range(rng.randint(2, 40)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == "append":
        data += os.urandom(rng.randint(1, 5000))
    elif kind == "empty":
        data = bytearray()
    elif kind == "garbage":
        data = bytearray(os.urandom(len(data)))
    elif kind == "zero-page":
        page = rng.randrange(max(1, len(data) // 4096))
        data[page * 4096:(page + 1) * 4096] = bytes(4096)
    elif kind == "header":
        data[rng.randrange(100)] ^= 0xFF
    path.write_bytes(bytes(data))
    return kind


def _check_outcomes(ctx, keys: dict[str, int], what: str) -> int:
    """Each key loads right or is NotFoundError and unlisted; returns how many survived."""
    listed = ctx.list_graphs()
    survived = 0
    for key, variant in keys.items():
        try:
            graph = ctx.load_graph(key)
        except webnn.NotFoundError:
            assert key not in ctx.list_graphs(), what
            continue
        assert graphs.matches(ctx.compute(graph, FEED), variant, FEED), what
        survived += 1
    assert set(ctx.list_graphs()) <= set(listed), what
    return survived


def test_index_corruption_fuzz(make_context, cache_root):
    rng = random.Random(99)
    keys = {f"k{i}": i for i in range(6)}
    kinds = set()
    for round_ in range(40):
        ctx = make_context()
        ctx.delete_saved_graphs()
        for key, variant in keys.items():
            ctx.save_graph(key, graphs.build(ctx, variant))
        ctx.destroy()
        index = _checkpointed(cache_root)
        kind = _damage_index(index, rng)
        kinds.add(kind)
        fresh = make_context()
        _check_outcomes(fresh, keys, f"round {round_}: {kind}")
        # the store still works afterwards: save and load again
        fresh.save_graph("after", graphs.build(fresh, 9))
        assert graphs.matches(fresh.compute(fresh.load_graph("after"), FEED), 9, FEED)
        fresh.destroy()
    assert {"truncate", "garbage", "empty"} <= kinds


def test_wal_corruption_with_a_live_writer(make_context, cache_root):
    rng = random.Random(5)
    keys = {f"w{i}": i for i in range(4)}
    for round_ in range(10):
        writer = make_context()
        writer.delete_saved_graphs()
        for key, variant in keys.items():
            writer.save_graph(key, graphs.build(writer, variant))
        wal = cache_root / "v1" / "index.sqlite3-wal"
        if wal.exists() and wal.stat().st_size:
            data = bytearray(wal.read_bytes())
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            wal.write_bytes(bytes(data))
        reader = make_context()
        _check_outcomes(reader, keys, f"wal round {round_}")
        writer.destroy()
        reader.destroy()


def test_damaged_index_row_is_caught(make_context, cache_root):
    ctx = make_context()
    ctx.save_graph("a", graphs.build(ctx, 1))
    ctx.save_graph("b", graphs.build(ctx, 2))
    b_blob = _blob_of(cache_root, "b").stem
    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    conn.execute("UPDATE entries SET checksum=? WHERE key='a'", (b_blob,))  # a flipped field
    conn.commit()
    conn.close()
    with pytest.raises(webnn.NotFoundError) as info:
        make_context().load_graph("a")
    assert info.value.reason == "index-row"
    assert graphs.matches(ctx.compute(ctx.load_graph("b"), FEED), 2, FEED)


def test_row_pointing_at_another_entrys_blob_is_caught(make_context, cache_root):
    """Even a consistent row (row_check recomputed) cannot hand out another entry's graph."""
    ctx = make_context()
    ctx.save_graph("a", graphs.build(ctx, 1))
    ctx.save_graph("b", graphs.build(ctx, 2))
    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    b = conn.execute("SELECT checksum, size FROM entries WHERE key='b'").fetchone()
    origin, device, versions, created = conn.execute(
        "SELECT origin, device, versions, created FROM entries WHERE key='a'").fetchone()
    check = row_check(origin, device, "a", versions, b[0], b[1], created)
    conn.execute("UPDATE entries SET checksum=?, size=?, row_check=? WHERE key='a'", (*b, check))
    conn.commit()
    conn.close()
    fresh = make_context()
    with pytest.raises(webnn.NotFoundError) as info:
        fresh.load_graph("a")
    assert info.value.reason == "identity"
    assert graphs.matches(fresh.compute(fresh.load_graph("b"), FEED), 2, FEED)


def test_orphans_and_stale_temp_files_are_swept(make_context, cache_root):
    ctx = make_context()
    ctx.save_graph("a", graphs.build(ctx, 1))
    blobs = cache_root / "v1" / "blobs"
    orphan = blobs / ("0" * 64 + ".wnnb")
    orphan.write_bytes(b"left by a crashed writer")
    old_tmp = cache_root / "v1" / "tmp" / "dead.part"
    old_tmp.write_bytes(b"x")
    os.utime(old_tmp, (1, 1))
    live_tmp = cache_root / "v1" / "tmp" / "live.part"
    live_tmp.write_bytes(b"x")
    fresh = make_context()
    assert fresh.list_graphs() == ["a"]
    assert not orphan.exists() and not old_tmp.exists() and live_tmp.exists()
