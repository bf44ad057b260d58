"""Cross-process locks for the cache store (POSIX ``flock``).

Two kinds of lock:

* the store lock, an exclusive ``flock`` on ``v1/lock`` taken by every change that
  moves blob files (save, delete, eviction, removal of a corrupt entry, sweeping
  orphans), so that "is this blob still referenced?" and "unlink it" happen with no
  writer in between. Readers never take it: SQLite in WAL mode gives them a
  consistent index and a blob is never rewritten in place.
* a shared ``flock`` a reader holds on the blob file it is reading. Eviction skips a
  blob whose exclusive lock it cannot take: that entry is in use. (A reader that
  opened the file before an unlink still reads it whole: POSIX keeps it alive.)

``flock`` locks belong to an open file description, so two stores in one process
exclude each other like two processes do; a thread lock covers threads sharing one.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_OPEN_FLAGS = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class StoreLock:
    """The exclusive store lock on one lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = os.getpid()
        self._thread_lock = threading.RLock()
        self._depth = 0

    def _open(self) -> int:
        if self._fd is not None and self._pid != os.getpid():  # forked: the parent's lock is not ours
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._pid = os.getpid()
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, 0o600)
            except PermissionError:
                self._fd = os.open(self.path, os.O_RDONLY | _OPEN_FLAGS)  # read-only store
        return self._fd

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the store lock (re-entrant within one thread)."""
        with self._thread_lock:
            if self._depth == 0:
                fcntl.flock(self._open(), fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextmanager
    def try_exclusive(self) -> Iterator[bool]:
        """Take the store lock if nobody holds it; yields whether it was taken."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield True
                finally:
                    self._depth -= 1
                return
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            self._depth = 1
            try:
                yield True
            finally:
                self._depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def open_blob_for_reading(path: Path) -> int:
    """Open a blob read-only (never through a symlink) and hold a shared lock on it."""
    fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    return fd


def close_blob(fd: int) -> None:
    """Release the shared lock and close a blob opened by :func:`open_blob_for_reading`.

    The unlock is explicit because a mapping of the blob keeps its own duplicate of the
    descriptor (so the lock would outlive this close): a loaded graph does not pin its entry.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def blob_in_use(path: Path) -> bool:
    """True when some process holds a blob open for reading (its shared lock)."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe lock
    return False
