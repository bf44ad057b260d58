"""Local copies of remote hits, written in the background while the graph is already in use.

A remote hit is verified in memory (manifest MAC, then the whole value against the
authenticated checksum) and handed to the backend at once. Keeping it in the local store
(temp file, fsync, rename, index row) moves the whole entry through the page cache to
disk, about as long again as the fetch for a large model, and nothing of it is needed
for the first result. So each copy runs in a daemon thread of its own, at a lower CPU
priority where the OS sets one per thread (Linux: ``setpriority`` on the thread id), so
that on a small machine it takes the cycles the backend load and the first dispatch leave.

What a context observes does not change: its other cache calls (load, save, list,
delete, info, stats, destroy) first wait for its pending copies (:meth:`Fills.wait`), so
a save or delete never races a copy of an older value. Another process sees the copy
only once it is complete: the store writes a temp file, fsyncs it, and only then renames
it in and commits its index row. At interpreter exit (``atexit`` and multiprocessing's
exit hooks, via :func:`webnn.cache.remote_client.flush_all`) pending copies are waited
for, at most a bounded time; one cut short leaves only a temp file, which the store
sweeps, never a half-written blob in the index.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

#: The niceness of a copying thread (Linux): the lowest, yet a share of a busy CPU (unlike
#: ``SCHED_IDLE``, which other busy processes could starve until the exit wait runs out).
FILL_NICENESS = 19

_live: set[threading.Thread] = set()
_live_lock = threading.Lock()


def _lower_priority() -> None:
    """Make the calling thread (only) yield the CPU to the process's other threads."""
    if not sys.platform.startswith("linux"):  # elsewhere a thread id may be another process's id
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FILL_NICENESS)
    except (AttributeError, OSError):
        pass


def _run(fn: Callable[[], None]) -> None:
    try:
        _lower_priority()
        fn()
    finally:
        with _live_lock:
            _live.discard(threading.current_thread())


class Fills:
    """The background copies one context started, by key (``fn`` must not raise; it counts
    its own failures)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[tuple[str, threading.Thread]] = []

    def start(self, key: str, fn: Callable[[], None]) -> None:
        thread = threading.Thread(target=_run, args=(fn,), name="webnn-cache-fill", daemon=True)
        with _live_lock:
            _live.add(thread)
        with self._lock:
            self._threads = [(k, t) for k, t in self._threads if t.is_alive()] + [(key, thread)]
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: copy now instead
            with _live_lock:
                _live.discard(thread)
            with self._lock:
                self._threads = [(k, t) for k, t in self._threads if t is not thread]
            fn()

    def wait(self, key: str | None = None, timeout: float | None = None) -> bool:
        """Wait for the copies of ``key`` (None: all) started so far; True when none is left."""
        me = threading.current_thread()
        with self._lock:
            threads = [t for k, t in self._threads if (key is None or k == key) and t is not me]
        if not threads:
            return True
        done = _join(threads, timeout)
        with self._lock:
            self._threads = [(k, t) for k, t in self._threads if t.is_alive()]
        return done


def _join(threads: list[threading.Thread], timeout: float | None) -> bool:
    deadline = None if timeout is None else time.monotonic() + timeout
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            return False
    return True


def wait_all(timeout: float) -> bool:
    """Wait for every copy of this process (at exit); True when all finished in time."""
    with _live_lock:
        threads = [t for t in _live if t is not threading.current_thread()]
    return _join(threads, timeout)
