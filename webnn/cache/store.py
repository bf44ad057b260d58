"""The cache store: index + blob files + locks + quota, addressed by explicit partition.

A :class:`Store` knows nothing about contexts or graphs: it keeps entries
``(origin, device, key) -> (backend header, arrays)`` under one cache root, stamped
with a versions string. ``webnn.cache.facade`` binds it to a context.

Saving writes the blob to ``v1/tmp`` (0600, ``O_EXCL``, fsync), then, holding the
store lock, plans eviction, renames the blob to ``v1/blobs/<checksum>.wnnb``, and
commits the index row; replaced and evicted blobs are unlinked once no row names
them. Loading reads the row, opens the blob under a shared lock, checks its length
and checksum, parses it and checks that the blob says it is the entry asked for.
Any failure there is reported as :class:`Miss` with a kind ("missing", "stale",
"corrupt", "unavailable") and a reason; the caller removes stale and corrupt
entries with :meth:`Store.remove`. A damaged index is replaced by an empty one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import sqlite3
import stat
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import blobfile, location
from .index import Index, IndexCorrupt, IndexUnavailable, Row, new_row
from .locking import StoreLock, blob_in_use, close_blob, open_blob_for_reading
from .quota import plan_eviction

log = logging.getLogger("webnn.cache")

_BLOB_RE = re.compile(r"([0-9a-f]{64})\.wnnb")
_OPEN_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
#: A temp file this old belongs to a writer that died; the sweep removes it.
STALE_TMP_SECONDS = 3600
T = TypeVar("T")


class Miss(Exception):
    """No usable entry: ``kind`` is "missing", "stale", "corrupt" or "unavailable"."""

    def __init__(self, kind: str, reason: str, detail: str, row: Row | None = None) -> None:
        super().__init__(detail)
        self.kind, self.reason, self.detail, self.row = kind, reason, detail, row


class Refused(Exception):
    """The store cannot keep an entry: ``reason`` is "too-large", "quota", "disk-full",
    "read-only" or "io-error"."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class Store:
    """One cache root; safe to share between threads, and between processes via the disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / location.LAYOUT
        self.blobs = self.dir / "blobs"
        self._index = Index(self.dir / "index.sqlite3")
        self._lock = StoreLock(self.dir / "lock")
        self._mutex = threading.RLock()
        # A store dropped without close() closes its files at once: its sqlite3 connection
        # sits in a reference cycle of its own and would otherwise wait for the collector.
        weakref.finalize(self, _close_files, self._index, self._lock)
        self._ready = False
        #: Damaged indexes this store replaced (the facade reports them).
        self.index_resets = 0

    # -- opening -------------------------------------------------------------------
    def _ensure(self, write: bool) -> bool:
        """Check/create the directories; False when there is no store to read."""
        if self._ready:
            return True
        try:
            layout = location.prepare(self.root, create=True)
        except location.CacheDirectoryError:
            raise
        except OSError:
            if write:
                raise
            layout = location.prepare(self.root, create=False)
        if layout is None:
            return False
        self._ready = True
        self._sweep(blocking=False)
        return True

    def _run(self, fn: Callable[[], T], *, write: bool, empty: T, reset_is_miss: bool = False) -> T:
        """Run ``fn`` with the store open; replace a damaged index and try once more."""
        with self._mutex:
            try:
                if not self._ensure(write):
                    return empty
            except location.CacheDirectoryError:
                raise
            except OSError as exc:
                if write:
                    raise Refused(location.unwritable(exc) or "io-error",
                                  f"cannot create the cache directory: {exc}") from exc
                return empty
            for attempt in (0, 1):
                try:
                    return fn()
                except (OSError, sqlite3.OperationalError) as exc:
                    if not write:
                        raise Miss("unavailable", "io-error", f"the cache cannot be read: {exc}") from exc
                    raise Refused(location.unwritable(exc) or "io-error",
                                  f"the cache directory cannot be written: {exc}") from exc
                except IndexUnavailable as exc:
                    if write:
                        raise Refused("read-only", f"cannot open the index: {exc}") from exc
                    return empty
                except IndexCorrupt as exc:
                    if attempt and write:
                        raise Refused("io-error", f"the index stays damaged: {exc}") from exc
                    if attempt:
                        raise Miss("unavailable", "index-corrupt", f"the index stays damaged: {exc}") from exc
                    try:
                        self._reset_index(str(exc), self._index.generation)
                    except (OSError, sqlite3.Error) as failed:
                        detail = f"cannot replace the damaged index: {failed}"
                        raise (Refused("io-error", detail) if write
                               else Miss("unavailable", "index-corrupt", detail)) from failed

                    if reset_is_miss:
                        raise Miss("corrupt", "index-corrupt", f"the index was damaged and replaced: {exc}") from exc
            raise AssertionError("unreachable")

    def _reset_index(self, why: str, damaged: str | None) -> None:
        """Replace a damaged index with an empty one; every blob becomes an orphan and goes.

        ``damaged`` is the generation of the index found damaged (None if it could not
        even be opened). If the file now at the path is another, intact generation,
        another process has replaced it already and nothing is done.
        """
        with self._lock.exclusive():
            self._index.close()
            now = self._index.current_generation()
            if now is not None and now != damaged:
                return
            log.warning("graph cache: index %s is damaged (%s); starting an empty one", self._index.path, why)
            self.index_resets += 1
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self._index.path}{suffix}")
            self._sweep(blocking=True)  # opens the new, empty index; every blob is an orphan now

    def close(self) -> None:
        with self._mutex:
            _close_files(self._index, self._lock)

    # -- reading -------------------------------------------------------------------
    def keys(self, origin: str, device: str, versions: str) -> list[str]:
        """Keys of intact, current entries of one partition, sorted."""
        rows = self._run(lambda: self._index.rows(origin, device), write=False, empty=[])
        return sorted(r.key for r in rows if r.versions == versions and r.intact)

    def rows(self, origin: str | None = None, device: str | None = None) -> list[Row]:
        """Every index row of a partition (or of all), least recently used first."""
        return self._run(lambda: self._index.rows(origin, device), write=False, empty=[])

    def counters(self, origin: str | None = None,
                 device: str | None = None) -> list[tuple[str, str, str, str, int]]:
        """Persisted counter rows ``(origin, device, name, reason, value)`` (optionally of one partition)."""
        return self._run(lambda: self._index.counters(origin, device), write=False, empty=[])

    def get(self, origin: str, device: str, key: str,
            versions: str) -> tuple[dict[str, Any], dict[str, np.ndarray], Row]:
        """The verified ``(backend header, arrays, row)`` of an entry, or :class:`Miss`."""
        missing = Miss("missing", "missing", "no such entry")

        def read() -> tuple[dict[str, Any], dict[str, np.ndarray], Row]:
            for _ in range(3):
                row = self._index.get(origin, device, key)
                if row is None:
                    raise missing
                found = self._read(row, versions)
                if found is not None:
                    return found[0], found[1], row
            raise Miss("missing", "missing", "the entry kept changing while it was read")

        found = self._run(read, write=False, empty=None, reset_is_miss=True)
        if found is None:
            raise missing
        return found

    def _read(self, row: Row, versions: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
        """Read one entry's blob; None when the row changed under us (look again)."""
        if not row.intact:
            raise Miss("corrupt", "index-row", "its index row is damaged", row)
        if row.versions != versions:
            raise Miss("stale", "version-mismatch", "it was saved by other library versions", row)
        path = self.blobs / f"{row.checksum}.wnnb"
        try:
            fd = open_blob_for_reading(path)
        except FileNotFoundError:
            if self._index.get(row.origin, row.device, row.key) != row:
                return None
            raise Miss("corrupt", "missing-blob", "its blob file is missing", row) from None
        except OSError as exc:
            if location.unwritable(exc) == "read-only":  # no permission to read: leave it alone
                raise Miss("unavailable", "unreadable", f"its blob cannot be read: {exc}") from exc
            raise Miss("corrupt", "unreadable-blob", f"its blob cannot be opened: {exc}", row) from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size != row.size:
                raise Miss("corrupt", "wrong-length", f"its blob has {st.st_size} bytes, the index says {row.size}",
                           row)
            try:
                buf, digest = blobfile.map_verified(fd, row.size)
            except blobfile.BlobFormatError as exc:
                raise Miss("corrupt", "wrong-length", str(exc), row) from exc
            except OSError as exc:
                raise Miss("corrupt", "unreadable-blob", f"reading its blob failed: {exc}", row) from exc
        finally:
            close_blob(fd)
        if digest != row.checksum:
            raise Miss("corrupt", "checksum", "its blob does not match its checksum", row)
        try:
            meta, arrays = blobfile.parse(buf)
        except blobfile.BlobFormatError as exc:
            raise Miss("corrupt", "bad-format", f"its blob is malformed: {exc}", row) from exc
        identity = {"origin": row.origin, "device": row.device, "key": row.key, "versions": row.versions}
        if meta.get("entry") != identity or not isinstance(meta.get("backend"), dict):
            raise Miss("corrupt", "identity", "its blob belongs to another entry", row)
        return meta["backend"], arrays

    def touch(self, row: Row, events: Iterable[tuple[str, str]] = ()) -> None:
        """Mark an entry used and add counter events; best effort (a read-only store skips it)."""
        def do() -> None:
            with self._index.transaction(durable=False) as conn:
                self._index.touch(conn, row)
                for name, reason in events:
                    self._index.bump(conn, row.origin, row.device, name, reason)
        self._best_effort(do)

    def record(self, origin: str, device: str, events: Iterable[tuple[str, str] | tuple[str, str, int]]) -> None:
        """Add counter events ``(name, reason)`` or ``(name, reason, n)`` to the persisted totals; best effort."""
        events = list(events)
        if not events:
            return

        def do() -> None:
            with self._index.transaction(durable=False) as conn:
                for name, reason, *n in events:
                    self._index.bump(conn, origin, device, name, reason, *n)
        self._best_effort(do)

    def _best_effort(self, fn: Callable[[], None]) -> None:
        try:
            self._run(fn, write=False, empty=None)
        except (sqlite3.Error, OSError, Miss) as exc:
            log.debug("graph cache: bookkeeping skipped: %s", exc)

    # -- writing -------------------------------------------------------------------
    def put(self, origin: str, device: str, key: str, versions: str, backend_meta: Mapping[str, Any],
            arrays: Mapping[str, np.ndarray], quota: int,
            events: Iterable[tuple[str, str]] = ()) -> list[Row]:
        """Save an entry, replacing any under the same key; returns the rows evicted.

        Raises :class:`Refused` when the entry cannot be kept; nothing changes then.
        """
        meta = {"entry": {"origin": origin, "device": device, "key": key, "versions": versions},
                "backend": dict(backend_meta)}
        layout = blobfile.plan(meta, arrays)
        if layout.size > quota:
            raise Refused("too-large", f"the graph needs {layout.size} bytes, more than the "
                                       f"partition's quota of {quota} bytes")

        def save() -> list[Row]:
            tmp = self.dir / "tmp" / f"{secrets.token_hex(16)}.part"
            try:
                checksum = self._write_tmp(tmp, layout)
                row = new_row(origin, device, key, versions, checksum, layout.size)
                with self._lock.exclusive():
                    victims, old = self._commit(tmp, row, quota, events)
                    self._collect([v.checksum for v in victims] + ([old.checksum] if old else []))
                return victims
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

        return self._run(save, write=True, empty=[])

    @staticmethod
    def _write_tmp(tmp: Path, layout: blobfile.Layout) -> str:
        fd = os.open(tmp, _OPEN_WRITE, 0o600)
        try:
            os.fchmod(fd, 0o600)
            checksum = blobfile.write(fd, layout)
            os.fsync(fd)
        finally:
            os.close(fd)
        return checksum

    def _commit(self, tmp: Path, row: Row, quota: int,
                events: Iterable[tuple[str, str]]) -> tuple[list[Row], Row | None]:
        """Under the store lock: evict, move the blob in place, write the row."""
        with self._index.transaction() as conn:
            rows = self._index.rows(row.origin, row.device)
            victims = plan_eviction(rows, device=row.device, key=row.key, size=row.size,
                                    versions=row.versions, quota=quota, in_use=self._in_use)
            if victims is None:
                used = sum(r.safe_size for r in rows if (r.device, r.key) != (row.device, row.key))
                raise Refused("quota", f"the graph needs {row.size} bytes; the partition's quota is {quota} "
                                       f"bytes, {used} are used and the rest of the entries are in use")
            os.replace(tmp, self.blobs / f"{row.checksum}.wnnb")
            _fsync_dir(self.blobs)
            old = self._index.get(row.origin, row.device, row.key)
            for victim in victims:
                Index.delete_exact(conn, victim)
                Index.bump(conn, victim.origin, victim.device, "evictions",
                           "stale" if victim.versions != row.versions and victim.device == row.device
                           else "quota")
            Index.upsert(conn, row)
            for name, reason in events:
                Index.bump(conn, row.origin, row.device, name, reason)
        return victims, old

    def _in_use(self, row: Row) -> bool:
        return row.intact and blob_in_use(self.blobs / f"{row.checksum}.wnnb")

    def remove(self, row: Row, events: Iterable[tuple[str, str]] = ()) -> bool:
        """Remove a stale or corrupt entry if the index still holds exactly ``row``."""
        def do() -> bool:
            with self._lock.exclusive():
                with self._index.transaction() as conn:
                    gone = Index.delete_exact(conn, row)
                    for name, reason in events:
                        Index.bump(conn, row.origin, row.device, name, reason)
                self._collect([row.checksum])
            return gone

        try:
            return self._run(do, write=True, empty=False)
        except (Refused, Miss, OSError, sqlite3.Error) as exc:
            log.debug("graph cache: could not remove %r: %s", row.key, exc)
            return False

    def delete(self, origin: str, device: str | None, key: str | None) -> int:
        """Delete one key of a partition, or (``key`` None) every entry of ``origin``."""
        def do() -> int:
            if not self._index.path.exists():
                return 0
            with self._lock.exclusive():
                with self._index.transaction() as conn:
                    if key is None:
                        doomed = self._index.rows(origin)
                        conn.execute("DELETE FROM entries WHERE origin=?", (origin,))
                    else:
                        found = self._index.get(origin, device or "", key)
                        doomed = [found] if found else []
                        conn.execute("DELETE FROM entries WHERE origin=? AND device=? AND key=?",
                                     (origin, device, key))
                self._collect([r.checksum for r in doomed])
            return len(doomed)

        return self._run(do, write=True, empty=0)

    # -- blob garbage --------------------------------------------------------------
    def _collect(self, checksums: Iterable[str]) -> None:
        """Unlink the blobs among ``checksums`` that no row names (store lock held)."""
        wanted = {c for c in checksums if isinstance(c, str) and _BLOB_RE.fullmatch(f"{c}.wnnb")}
        if not wanted:
            return
        live = self._index.checksums()
        for checksum in wanted - live:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.blobs / f"{checksum}.wnnb")

    def _sweep(self, *, blocking: bool) -> None:
        """Remove blobs no row names and temp files of writers that died."""
        try:
            with contextlib.ExitStack() as stack:
                if blocking:
                    stack.enter_context(self._lock.exclusive())
                elif not stack.enter_context(self._lock.try_exclusive()):
                    return
                live = self._index.checksums()
                for entry in os.scandir(self.blobs):
                    match = _BLOB_RE.fullmatch(entry.name)
                    if match and match.group(1) not in live:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
                cutoff = time.time() - STALE_TMP_SECONDS
                for entry in os.scandir(self.dir / "tmp"):
                    if entry.name.endswith(".part") and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)
        except (OSError, sqlite3.Error, IndexUnavailable, IndexCorrupt) as exc:
            log.debug("graph cache: sweep skipped: %s", exc)


def _close_files(index: Index, lock: StoreLock) -> None:
    index.close()
    lock.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
