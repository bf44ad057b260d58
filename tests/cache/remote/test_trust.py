"""The remote is a trust boundary: damaged, truncated, forged, foreign and wrongly keyed values in
a real Redis are rejected, counted, removed where this process may write, and the graph is
rebuilt; never a wrong output, never an exception other than NotFoundError."""

from __future__ import annotations

import random

import numpy as np
import pytest

import webnn
from tests.cache import graphs
from tests.cache.remote.conftest import SECRET
from webnn.cache import remote_codec as codec
from webnn.cache import remote_reader

FEED = graphs.inputs(11)


class Entry:
    """Names and values of one key's remote entry, read straight from Redis."""

    def __init__(self, server, ctx: webnn.MLContext, key: str, secret: bytes | None = SECRET) -> None:
        self.r = server.client()
        self.keys = codec.derive_keys(secret)
        self.names = codec.Names("webnn", self.keys)
        self.ident = codec.Identity(ctx.origin, ctx.device_kind, key, ctx._cache("t").versions)
        self.id = self.names.entry_id(self.ident)
        self.manifest_name = self.names.manifest(self.id)
        self.raw = self.r.get(self.manifest_name)
        self.manifest = codec.open_manifest(self.raw, self.keys, 1 << 40)
        self.chunk_names = self.names.chunks(self.id, self.manifest.token, self.manifest.chunks)

    def exists(self) -> bool:
        return self.r.get(self.manifest_name) is not None


def _damage(entry: Entry, kind: str, other: Entry, rng: random.Random) -> str:
    """Damage the remote entry; returns the rejection reason expected."""
    r = entry.r
    chunk = entry.chunk_names[rng.randrange(len(entry.chunk_names))]
    data = bytearray(r.get(chunk))
    if kind == "chunk-bitflip":
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        r.set(chunk, bytes(data))
        return "checksum"
    if kind == "chunk-truncated":
        r.set(chunk, bytes(data[:rng.randrange(len(data))]))
        return "wrong-length"
    if kind == "chunk-appended":
        r.set(chunk, bytes(data) + b"\0" * rng.randint(1, 64))
        return "wrong-length"
    if kind == "chunk-missing":
        r.delete(chunk)
        return "missing-chunk"
    if kind == "chunk-swapped":  # same length, other bytes: another entry's chunk
        swapped = bytearray(r.get(other.chunk_names[0])[:len(data)].ljust(len(data), b"\0"))
        if swapped == data:
            swapped[0] ^= 1
        r.set(chunk, bytes(swapped))
        return "checksum"
    if kind == "manifest-bitflip":
        raw = bytearray(entry.raw)
        pos = rng.randrange(5, len(raw))
        raw[pos] ^= 1 << rng.randrange(8)
        r.set(entry.manifest_name, bytes(raw))
        return "bad-mac"
    if kind == "manifest-truncated":
        r.set(entry.manifest_name, entry.raw[:rng.randrange(40, len(entry.raw))])
        return "bad-mac"
    if kind == "manifest-garbage":
        r.set(entry.manifest_name, b"\x80\x04\x95 not a manifest (and not a pickle either)")
        return "malformed"
    if kind == "manifest-empty":
        r.set(entry.manifest_name, b"")
        return "malformed"
    if kind == "manifest-foreign":  # an authentic manifest of another entry, moved under this name
        r.set(entry.manifest_name, other.raw)
        return "foreign"
    if kind == "forged-other-secret":  # well-formed, pointing at real chunks, signed with another secret
        forged = codec.seal(entry.manifest, codec.derive_keys(b"attacker-guessed-secret-000"))
        r.set(entry.manifest_name, forged)
        return "bad-mac"
    if kind == "forged-unsigned":
        r.set(entry.manifest_name, codec.seal(entry.manifest, codec.derive_keys(None)))
        return "bad-mac"
    raise ValueError(kind)


KINDS = ("chunk-bitflip", "chunk-truncated", "chunk-appended", "chunk-missing", "chunk-swapped",
         "manifest-bitflip", "manifest-truncated", "manifest-garbage", "manifest-empty", "manifest-foreign",
         "forged-other-secret", "forged-unsigned")


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_remote_values_are_rejected_removed_and_rebuilt(redis_server, remote_context, kind):
    writer = remote_context("w", chunk_bytes=1024)  # several chunks per entry
    writer.save_graph("victim", graphs.build(writer, 1))
    writer.save_graph("other", graphs.build(writer, 2))
    victim, other = Entry(redis_server, writer, "victim"), Entry(redis_server, writer, "other")
    expected = _damage(victim, kind, other, random.Random(kind))

    reader = remote_context("r")
    with pytest.raises(webnn.NotFoundError):
        reader.load_graph("victim")
    remote = reader.cache_stats()["remote"]
    assert remote["reasons"]["rejected"] == {expected: 1}
    assert remote["reasons"]["removed"] == {expected: 1}
    assert not victim.exists()  # removed from Redis: the next reader does not trip on it
    assert reader.list_graphs() == ["other"]

    # the caller rebuilds and saves; everyone gets the right graph again
    reader.save_graph("victim", graphs.build(reader, 1))
    fresh = remote_context("f")
    assert graphs.matches(fresh.compute(fresh.load_graph("victim"), FEED), 1, FEED)
    assert graphs.matches(fresh.compute(fresh.load_graph("other"), FEED), 2, FEED)


def test_read_only_reader_counts_but_does_not_remove(redis_server, remote_context):
    writer = remote_context("w", secret=None, allow_unauthenticated_writes=True)
    writer.save_graph("k", graphs.build(writer, 1))
    entry = Entry(redis_server, writer, "k", secret=None)
    redis_server.client().set(entry.chunk_names[0], b"x" * 10)
    reader = remote_context("r", secret=None)
    with pytest.raises(webnn.NotFoundError):
        reader.load_graph("k")
    remote = reader.cache_stats()["remote"]
    assert remote["reasons"]["rejected"] == {"wrong-length": 1} and remote["removed"] == 0
    assert entry.exists()


def test_signed_manifest_over_another_entrys_blob_is_caught_by_the_blob_identity(redis_server, remote_context):
    """Even an insider holding the secret cannot make one key serve another key's graph."""
    writer = remote_context("w")
    writer.save_graph("a", graphs.build(writer, 1))
    writer.save_graph("b", graphs.build(writer, 2))
    a, b = Entry(redis_server, writer, "a"), Entry(redis_server, writer, "b")
    # a's manifest now names b's chunks (b's size and checksum), signed with the right secret
    m = codec.Manifest(a.ident, b.manifest.size, b.manifest.checksum, b.manifest.chunk_bytes, b.manifest.chunks,
                       b.manifest.token, b.manifest.created)
    r = redis_server.client()
    for src, dst in zip(b.chunk_names, a.names.chunks(a.id, b.manifest.token, b.manifest.chunks)):
        r.set(dst, r.get(src))
    r.set(a.manifest_name, codec.seal(m, a.keys))
    reader = remote_context("r")
    with pytest.raises(webnn.NotFoundError):
        reader.load_graph("a")
    assert reader.cache_stats()["remote"]["reasons"]["rejected"] == {"identity": 1}


def test_wrong_secret_sees_nothing_and_harms_nothing(redis_server, remote_context):
    writer = remote_context("w")
    writer.save_graph("k", graphs.build(writer, 1))
    before = sorted(redis_server.client().keys("*"))
    wrong = remote_context("x", secret=b"another-fleet-secret-000000")
    assert wrong.list_graphs() == []
    with pytest.raises(webnn.NotFoundError):
        wrong.load_graph("k")
    assert wrong.cache_stats()["remote"]["reasons"]["misses"] == {"missing": 1}
    wrong.save_graph("k", graphs.build(wrong, 9))  # its own name space: the fleet's entry is untouched
    fleet = remote_context("f")
    assert graphs.matches(fleet.compute(fleet.load_graph("k"), FEED), 1, FEED)
    assert set(before) <= set(redis_server.client().keys("*"))


def test_fuzzed_damage_never_gives_wrong_outputs(redis_server, remote_context):
    """Random damage, several rounds, one reader per round: the right graph or NotFoundError."""
    rng = random.Random(2026)
    writer = remote_context("w", chunk_bytes=2048)
    outcomes = {"ok": 0, "rejected": 0}
    for round_ in range(24):
        variant = round_ % 5
        writer.save_graph("k", graphs.build(writer, variant))
        writer.save_graph("o", graphs.build(writer, 50))
        entry, other = Entry(redis_server, writer, "k"), Entry(redis_server, writer, "o")
        for _ in range(rng.randint(0, 2)):
            try:
                _damage(entry, rng.choice(KINDS), other, rng)
            except TypeError:  # the chunk picked was already deleted by an earlier damage
                pass
        reader = remote_context(f"r{round_}")
        try:
            out = reader.compute(reader.load_graph("k"), FEED)
        except webnn.NotFoundError:
            outcomes["rejected"] += 1
            continue
        assert graphs.matches(out, variant, FEED), round_
        outcomes["ok"] += 1
        reader.destroy()
    assert outcomes["ok"] and outcomes["rejected"]


def _big_graph(ctx: webnn.MLContext, seed: int) -> tuple[webnn.MLGraph, np.ndarray]:
    """y = x + w with a 6 MiB constant: chunks larger than one read request (remote_reader.PIECE)."""
    w = np.random.default_rng(seed).standard_normal(6 * remote_reader.PIECE // 2 // 4).astype(np.float32)
    b = webnn.MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [w.size]})
    return b.build({"y": b.add(x, b.constant(w))}), w


@pytest.mark.parametrize("kind", ["intact", "bitflip-late", "truncated-mid", "appended", "missing"])
def test_chunks_read_in_several_requests_are_checked_whole(redis_server, remote_context, kind):
    writer = remote_context("w", chunk_bytes=5 << 20)  # a 5 MiB chunk (three requests) and a short one
    graph, w = _big_graph(writer, 3)
    writer.save_graph("big", graph)
    entry = Entry(redis_server, writer, "big")
    assert entry.manifest.chunks == 2
    first = entry.chunk_names[0]
    data = bytearray(entry.r.get(first))
    assert len(data) > 2 * remote_reader.PIECE
    expected = {"bitflip-late": "checksum", "truncated-mid": "wrong-length", "appended": "wrong-length",
                "missing": "missing-chunk"}.get(kind)
    if kind == "bitflip-late":  # in the last request's bytes
        data[-100] ^= 0x10
        entry.r.set(first, bytes(data))
    elif kind == "truncated-mid":  # ends inside the second request's bytes
        entry.r.set(first, bytes(data[:remote_reader.PIECE + 12345]))
    elif kind == "appended":
        entry.r.set(first, bytes(data) + b"\0" * 8)
    elif kind == "missing":
        entry.r.delete(first)

    reader = remote_context("r")
    x = np.random.default_rng(4).standard_normal(w.size).astype(np.float32)
    if expected is None:
        out = reader.compute(reader.load_graph("big"), {"x": x})["y"]
        np.testing.assert_array_equal(out, x + w)  # numpy reference
        assert reader.cache_stats()["remote"]["bytes_in"] >= entry.manifest.size
        return
    with pytest.raises(webnn.NotFoundError):
        reader.load_graph("big")
    remote = reader.cache_stats()["remote"]
    assert remote["reasons"]["rejected"] == {expected: 1} and not entry.exists()
    # rebuilt and saved again: the same reader loads it
    writer.save_graph("big", graph)
    out = reader.compute(reader.load_graph("big"), {"x": x})["y"]
    np.testing.assert_array_equal(out, x + w)
