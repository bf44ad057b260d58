"""Several real processes (multiprocessing, spawn) on one cache directory; storage that
cannot be written (a file-size limit from the kernel, a read-only directory)."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path

import webnn
from tests.cache import graphs, workers

SPAWN = multiprocessing.get_context("spawn")
PROCESSES = 8


def _run(target, *args, timeout: float = 300) -> dict:
    queue = SPAWN.Queue()
    proc = SPAWN.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get(timeout=timeout)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    return result


def test_eight_processes_hammering_one_directory(cache_root):
    probe = webnn.ml.create_context("cpu", cache_dir=cache_root, origin="probe")
    probe.save_graph("p", graphs.build(probe, 0))
    size = probe.cache_info()[0]["size"]
    probe.delete_saved_graphs()
    probe.destroy()
    quota = size * 12  # fewer than the 20 keys in play: eviction happens under contention too

    barrier = SPAWN.Barrier(PROCESSES)
    queue = SPAWN.Queue()
    procs = [SPAWN.Process(target=workers.race_and_hammer,
                           args=(str(cache_root), w, barrier, queue, 40, quota)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    assert [r["unexpected"] for r in results] == [[]] * PROCESSES
    assert [r["wrong"] for r in results] == [[]] * PROCESSES
    assert sum(r["ops"] for r in results) == PROCESSES * 40
    documented = {}
    for r in results:
        for name, n in r["documented"].items():
            documented[name] = documented.get(name, 0) + n
    # the only documented errors seen are misses on load (deleted or evicted meanwhile)
    # and refused saves when every other entry was being read
    assert all(name.startswith(("load:NotFoundError:", "save:QuotaExceededError:quota")) for name in documented), \
        documented

    # two (here eight) processes saving one key end with one complete entry
    race = webnn.ml.create_context("cpu", cache_dir=cache_root, origin="race")
    assert race.list_graphs() == ["same-key"]
    feed = graphs.inputs(42)
    assert graphs.which_variant(race.compute(race.load_graph("same-key"), feed),
                                workers.candidates("same-key"), feed) is not None

    # every listed key loads, with the outputs of a graph saved under that key
    ctx = webnn.ml.create_context("cpu", cache_dir=cache_root, origin="hammer", cache_quota=quota)
    listed = ctx.list_graphs()
    assert listed
    for key in listed:
        out = ctx.compute(ctx.load_graph(key), feed)
        assert graphs.which_variant(out, workers.candidates(key), feed) is not None, key
    assert sum(e["size"] for e in ctx.cache_info()) <= quota

    # no blob is orphaned and none is missing
    conn = sqlite3.connect(cache_root / "v1" / "index.sqlite3")
    referenced = {r[0] for r in conn.execute("SELECT checksum FROM entries")}
    conn.close()
    on_disk = {p.stem for p in (cache_root / "v1" / "blobs").iterdir()}
    assert on_disk == referenced
    assert list((cache_root / "v1" / "tmp").iterdir()) == []


def test_disk_full_is_a_clear_error_and_inference_continues(cache_root):
    out = _run(workers.disk_full, str(cache_root))
    assert "unexpected" not in out, out.get("unexpected")
    assert out["save"].startswith("QuotaExceededError:disk-full:"), out["save"]
    assert "cannot be written" in out["save"]
    assert out["inference_ok"] and out["small_ok"]
    assert out["listed"] == ["small"]
    assert out["tmp_left"] == []


def _make_read_only(root: Path, uid: int | None) -> None:
    for path in sorted([root, *root.rglob("*")], key=lambda p: -len(p.parts)):
        if uid is not None:
            os.chown(path, uid, uid)
        os.chmod(path, 0o500 if path.is_dir() else 0o400)


def test_read_only_directory_loads_and_refuses_saves_clearly(tmp_path):
    parent = Path(tempfile.mkdtemp(prefix="webnn-ro-"))  # reachable by an unprivileged user
    os.chmod(parent, 0o755)
    root = parent / "cache"
    try:
        ctx = webnn.ml.create_context("cpu", cache_dir=root)
        ctx.save_graph("k", graphs.build(ctx, 1))
        ctx.destroy()
        uid = 65534 if os.geteuid() == 0 else None  # root ignores permissions: drop to nobody
        _make_read_only(root, uid)
        out = _run(workers.read_only, str(root), str(tmp_path / "scratch"), uid)
        assert "unexpected" not in out, out.get("unexpected")
        assert out["listed"] == ["k"] and out["load_ok"]
        assert out["save"].startswith("QuotaExceededError:read-only:"), out["save"]
        assert out["inference_ok"]
        assert out["delete"].startswith("NotSupportedError:"), out["delete"]
        assert out["listed_after"] == ["k"]
        assert stat.S_IMODE(os.stat(root / "v1").st_mode) == 0o500
    finally:
        for path in [parent, *parent.rglob("*")]:
            if os.geteuid() == 0 or not path.is_symlink():
                os.chmod(path, 0o700)
        shutil.rmtree(parent)


def test_a_process_loads_what_another_saved(cache_root):
    out = _run(workers.save_one, str(cache_root), "from-child", 6)
    assert out == {"saved": True}
    ctx = webnn.ml.create_context("cpu", cache_dir=cache_root)
    feed = graphs.inputs(1)
    assert graphs.matches(ctx.compute(ctx.load_graph("from-child"), feed), 6, feed)
