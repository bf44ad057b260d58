"""The local copy of a remote hit is written in the background: never before the first
result, yet complete before anything of the same context (or an exiting process) looks.

The copy is held back for real: the test takes the local store's lock (an ``flock`` on
``v1/lock``, as another process saving would), so the copy has written its temp file
but cannot commit it while the graph is loaded and run.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

import webnn
from tests.cache import graphs
from tests.cache.remote.conftest import SECRET

FEED = graphs.inputs(11)
ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


def _local_keys(cache_dir: Path) -> list[str]:
    path = Path(cache_dir) / "v1" / "index.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    try:
        return sorted(k for (k,) in conn.execute("SELECT key FROM entries"))
    finally:
        conn.close()


@contextmanager
def _store_locked(cache_dir: Path) -> Iterator[None]:
    fd = os.open(Path(cache_dir) / "v1" / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _parts(cache_dir: Path) -> list[str]:
    return os.listdir(Path(cache_dir) / "v1" / "tmp")


def _bounded(fn: Callable[[], T], seconds: float = 30) -> T:
    """``fn()`` in a thread; fails (instead of hanging) if it is still waiting after ``seconds``."""
    out: list[T] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert out, "load_graph waited for the local copy (held back by the store lock)"
    return out[0]


def test_first_result_does_not_wait_for_the_local_copy(remote_context):
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("k", graphs.build(a, 3))
    assert b.list_graphs() == ["k"]  # (opens b's empty local store)
    with _store_locked(b.cache_dir):
        outputs = _bounded(lambda: b.compute(b.load_graph("k"), FEED))
        assert graphs.matches(outputs, 3, FEED)  # the first result (numpy reference) came while the copy waits
        assert _local_keys(b.cache_dir) == []
        deadline = time.monotonic() + 10
        while not _parts(b.cache_dir) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_parts(b.cache_dir)) == 1  # ... its temp file written, invisible to the index
    stats = b.cache_stats()  # waits for the copy
    assert stats["reasons"]["saves"] == {"remote-fill": 1}
    assert _local_keys(b.cache_dir) == ["k"] and _parts(b.cache_dir) == []
    local_only = webnn.ml.create_context("cpu", cache_dir=b.cache_dir, cache_remote=None)
    assert graphs.matches(local_only.compute(local_only.load_graph("k"), FEED), 3, FEED)
    local_only.destroy()


@pytest.mark.parametrize("then", ["delete", "save"])
def test_a_pending_copy_never_lands_after_a_later_change(remote_context, then):
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("k", graphs.build(a, 3))
    newer = graphs.build(b, 5)
    b.list_graphs()
    with _store_locked(b.cache_dir):
        _bounded(lambda: b.load_graph("k"))  # its copy (variant 3) cannot commit yet
        change = threading.Thread(target=(lambda: b.delete_graph("k")) if then == "delete"
                                  else (lambda: b.save_graph("k", newer)))
        change.start()
        change.join(0.3)
        assert change.is_alive()  # waits for the copy first
    change.join(30)
    assert not change.is_alive()
    local_only = webnn.ml.create_context("cpu", cache_dir=b.cache_dir, cache_remote=None)
    if then == "delete":
        assert local_only.list_graphs() == []
    else:
        assert graphs.matches(local_only.compute(local_only.load_graph("k"), FEED), 5, FEED)
    local_only.destroy()


_LOAD_AND_EXIT = textwrap.dedent("""
    import fcntl, os, sys, threading, time
    import webnn
    from tests.cache import graphs
    from webnn.cache import RemoteOptions
    url, secret, local = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    ctx = webnn.ml.create_context("cpu", cache_dir=local, cache_remote=RemoteOptions(url=url, secret=secret))
    ctx.list_graphs()
    fd = os.open(os.path.join(local, "v1", "lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # holds the copy back until after the main thread has finished
    threading.Thread(target=lambda: (time.sleep(0.5), os.close(fd)), daemon=True).start()
    feed = graphs.inputs(2)
    print("OK", graphs.matches(ctx.compute(ctx.load_graph("k"), feed), 4, feed))
    # exits without destroy() while the copy waits: the exit hook lets it finish
""")


def test_a_process_that_exits_right_after_a_remote_hit_keeps_a_whole_local_copy(redis_server, remote_context,
                                                                                   tmp_path):
    a = remote_context("a")
    a.save_graph("k", graphs.build(a, 4))
    local = tmp_path / "exiting"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _LOAD_AND_EXIT, redis_server.url, SECRET.decode(), str(local)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    assert done.returncode == 0 and "OK True" in done.stdout, done.stdout + done.stderr
    assert _local_keys(local) == ["k"] and _parts(local) == []
    local_only = webnn.ml.create_context("cpu", cache_dir=local, cache_remote=None)
    assert graphs.matches(local_only.compute(local_only.load_graph("k"), FEED), 4, FEED)
    local_only.destroy()


def test_the_local_copy_starts_after_the_first_run(remote_context, monkeypatch):
    """Nothing of the copy happens between load_graph and the graph's first run (on a
    small machine it slowed that run); the run itself lets it go."""
    from webnn.cache import remote_fill

    monkeypatch.setattr(remote_fill, "FIRST_RUN_WAIT_S", 60.0)  # only the run may start it here
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("k", graphs.build(a, 3))
    assert b.list_graphs() == ["k"]
    graph = b.load_graph("k")
    time.sleep(0.3)
    assert _parts(b.cache_dir) == [] and _local_keys(b.cache_dir) == []  # not started
    assert graphs.matches(b.compute(graph, FEED), 3, FEED)
    deadline = time.monotonic() + 20
    while _local_keys(b.cache_dir) != ["k"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _local_keys(b.cache_dir) == ["k"]  # the run released it; nothing waited for it


def test_a_graph_never_run_is_still_copied_when_the_context_asks(remote_context, monkeypatch):
    from webnn.cache import remote_fill

    monkeypatch.setattr(remote_fill, "FIRST_RUN_WAIT_S", 60.0)
    a, b = remote_context("a"), remote_context("b")
    a.save_graph("k", graphs.build(a, 4))
    assert b.list_graphs() == ["k"]
    b.load_graph("k")
    started = time.monotonic()
    assert b.cache_stats()["reasons"]["saves"] == {"remote-fill": 1}  # waits: opens the gate, no 60 s
    assert time.monotonic() - started < 30 and _local_keys(b.cache_dir) == ["k"]
