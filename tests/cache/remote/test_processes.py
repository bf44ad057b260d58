"""Real processes sharing one Redis: two "machines" (different ``WEBNN_CACHE_DIR``, one
``WEBNN_CACHE_REMOTE``) share a graph; eight save and load the same and different keys."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import webnn
from tests.cache import graphs, workers
from tests.cache.remote import workers as remote_workers
from tests.cache.remote.conftest import SECRET
from webnn.cache import RemoteOptions
from webnn.cache import remote_codec as codec

SPAWN = multiprocessing.get_context("spawn")
ROOT = Path(__file__).resolve().parents[3]

_SAVER = textwrap.dedent("""
    import webnn
    from tests.cache import graphs
    ctx = webnn.ml.create_context("cpu")
    ctx.save_graph("model-v1", graphs.build(ctx, 7))
    print("SAVED", ctx.cache_stats()["remote"]["write"])
    # exits without destroy(): the queued upload is drained at exit
""")
_LOADER = textwrap.dedent("""
    import webnn
    from tests.cache import graphs
    import sys
    ctx = webnn.ml.create_context("cpu")
    feed = graphs.inputs(3)
    ok = graphs.matches(ctx.compute(ctx.load_graph("model-v1"), feed), 7, feed)
    s = ctx.cache_stats()
    print("LOADED", ok, s["misses"], s["remote"]["hits"], s["remote"]["bytes_in"] > 0)
    print("REDIS-PY IMPORTED", "redis" in sys.modules)  # a process that only loads does not need it
    print("LISTED", ctx.list_graphs())
""")


def _run(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_two_machines_share_a_graph_through_the_environment(redis_server, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("WEBNN_")}
    base.update(WEBNN_CACHE_REMOTE=redis_server.url, WEBNN_CACHE_REMOTE_SECRET=SECRET.decode(),
                PYTHONPATH=str(ROOT))
    first, second = tmp_path / "machine-1", tmp_path / "machine-2"
    assert "SAVED async" in _run(_SAVER, {**base, "WEBNN_CACHE_DIR": str(first)})
    out = _run(_LOADER, {**base, "WEBNN_CACHE_DIR": str(second)})
    assert "LISTED ['model-v1']" in out
    assert "LOADED True 1 1 True" in out  # local miss, remote hit, right outputs (numpy reference)
    assert "REDIS-PY IMPORTED False" in out
    assert sorted(p.name for p in (second / "v1" / "blobs").iterdir()) == \
        sorted(p.name for p in (first / "v1" / "blobs").iterdir())  # the same entry, byte for byte


def test_eight_processes_share_one_redis(redis_server, tmp_path):
    processes, rounds = 8, 30
    barrier = SPAWN.Barrier(processes)
    queue = SPAWN.Queue()
    procs = [SPAWN.Process(target=remote_workers.fleet_member,
                           args=(redis_server.url, SECRET, str(tmp_path / f"m{w}"), w, barrier, queue, rounds))
             for w in range(processes)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    assert [r["unexpected"] for r in results] == [[]] * processes
    assert [r["wrong"] for r in results] == [[]] * processes
    assert sum(r["ops"] for r in results) == processes * rounds
    # no remote error and no rejection: a reader holding a manifest while another process
    # replaces or deletes the entry still reads whole chunks (they expire a minute later)
    assert [(r["remote_errors"], r["remote_rejected"]) for r in results] == [(0, {})] * processes
    assert sum(r["remote_hits"] for r in results) > 0  # entries did travel between processes
    documented = {name for r in results for name in r["documented"]}
    assert all(name.startswith("load:NotFoundError:") for name in documented), documented

    opts = RemoteOptions(url=redis_server.url, secret=SECRET, write="sync")
    feed = graphs.inputs(42)
    # eight processes saving one key: one complete entry, loadable anywhere
    race = webnn.ml.create_context("cpu", cache_dir=tmp_path / "check-race", origin="race", cache_remote=opts)
    assert race.list_graphs() == ["same-key"]
    assert graphs.which_variant(race.compute(race.load_graph("same-key"), feed),
                                workers.candidates("same-key"), feed) is not None
    # every key the fleet lists loads on a machine that has never seen it, with a right graph
    fresh = webnn.ml.create_context("cpu", cache_dir=tmp_path / "check", origin="fleet", cache_remote=opts)
    listed = fresh.list_graphs()
    assert listed
    for key in listed:
        out = fresh.compute(fresh.load_graph(key), feed)
        assert graphs.which_variant(out, workers.candidates(key), feed) is not None, key
    assert fresh.cache_stats()["remote"]["hits"] == len(listed)

    # no chunk is left behind without an expiry: each belongs to a live manifest
    r = redis_server.client()
    keys = codec.derive_keys(SECRET)
    live = set()
    for name in r.keys("webnn:g1:m:*"):
        m = codec.open_manifest(r.get(name), keys, 1 << 40)
        live.update(codec.Names("webnn", keys).chunks(name.decode().rsplit(":", 1)[1], m.token, m.chunks))
    orphans = [c for c in r.keys("webnn:g1:c:*") if c.decode() not in live and r.pttl(c) < 0]
    assert orphans == []
    for ctx in (race, fresh):
        ctx.destroy()


def test_a_multiprocessing_child_drains_its_uploads_at_exit(redis_server, tmp_path):
    proc = SPAWN.Process(target=remote_workers.save_and_exit, args=(redis_server.url, SECRET, str(tmp_path / "c")))
    proc.start()
    proc.join(timeout=300)
    assert proc.exitcode == 0
    ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "d",
                                  cache_remote=RemoteOptions(url=redis_server.url, secret=SECRET))
    feed = graphs.inputs(1)
    assert graphs.matches(ctx.compute(ctx.load_graph("from-a-child"), feed), 4, feed)
    ctx.destroy()
