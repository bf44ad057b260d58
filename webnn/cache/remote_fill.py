"""Local copies of remote hits, written in the background while the graph is already in use.

A remote hit is verified in memory (manifest MAC, then the whole value against the
authenticated checksum) and handed to the backend at once. Keeping it in the local store
(temp file, fsync, rename, index row) moves the whole entry through the page cache to
disk, about as long again as the fetch for a large model, and nothing of it is needed
for the first result. So each copy runs in a daemon thread of its own, which starts
copying once the loaded graph has finished its first run (or after a short bound, or
when anything waits for it), at a lower CPU priority where the OS sets one per thread
(Linux: ``setpriority`` on the thread id): on a two-core machine a copy running beside
the first dispatch doubled that dispatch's time.

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

#: Longest a copy waits for its graph's first run before it starts anyway (seconds).
FIRST_RUN_WAIT_S = 2.0

_live: set[threading.Thread] = set()
_gates: dict[threading.Thread, threading.Event] = {}
_live_lock = threading.Lock()


def _lower_priority() -> None:
    """Make the calling thread (only) yield the CPU to the process's other threads."""
    if not sys.platform.startswith("linux"):  # elsewhere a thread id may be another process's id
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), FILL_NICENESS)
    except (AttributeError, OSError):
        pass


def _run(fn: Callable[[], None], gate: threading.Event | None) -> None:
    try:
        _lower_priority()
        if gate is not None:
            gate.wait(FIRST_RUN_WAIT_S)
        fn()
    finally:
        with _live_lock:
            _live.discard(threading.current_thread())
            _gates.pop(threading.current_thread(), None)


def _open_gates(threads: list[threading.Thread]) -> None:
    with _live_lock:
        gates = [_gates[t] for t in threads if t in _gates]
    for gate in gates:
        gate.set()


class Fills:
    """The background copies one context started, by key (``fn`` must not raise; it counts
    its own failures)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[tuple[str, threading.Thread]] = []

    def start(self, key: str, fn: Callable[[], None], gate: threading.Event | None = None) -> None:
        """Run ``fn`` in the background once ``gate`` is set (the loaded graph's first run
        has finished: the copy then competes with nothing the first result needs), or
        after :data:`FIRST_RUN_WAIT_S`, or as soon as anyone waits for it."""
        thread = threading.Thread(target=_run, args=(fn, gate), name="webnn-cache-fill", daemon=True)
        with _live_lock:
            _live.add(thread)
            if gate is not None:
                _gates[thread] = gate
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
        _open_gates(threads)
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
    _open_gates(threads)
    return _join(threads, timeout)
