"""The cache index: one SQLite database in WAL mode (stdlib ``sqlite3``).

One row per entry: ``(origin, device, key)`` -> versions stamp, blob checksum (the
blob's file name), size, created and last-used times (ns), and ``row_check``, a
hash over the row's fixed fields so that a bit flip inside a row is caught as
corruption instead of pointing at the wrong blob. A ``counters`` table keeps totals
per partition (hits, misses, saves, evictions, removals; each with a reason).

SQLite itself reports damaged pages (SQLITE_CORRUPT / SQLITE_NOTADB) and a failed
``quick_check``; those surface here as :class:`IndexCorrupt`, and the store then
starts a fresh index. Keys are only ever bound as SQL parameters.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("webnn.cache")

SCHEMA_VERSION = 1
_CHECKSUM_RE = re.compile(r"[0-9a-f]{64}")
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL, device TEXT NOT NULL, key TEXT NOT NULL,
    versions TEXT NOT NULL, checksum TEXT NOT NULL, size INTEGER NOT NULL,
    created INTEGER NOT NULL, last_used INTEGER NOT NULL, row_check TEXT NOT NULL,
    UNIQUE (origin, device, key));
CREATE INDEX IF NOT EXISTS entries_by_checksum ON entries (checksum);
CREATE TABLE IF NOT EXISTS counters (
    origin TEXT NOT NULL, device TEXT NOT NULL, name TEXT NOT NULL, reason TEXT NOT NULL,
    value INTEGER NOT NULL, PRIMARY KEY (origin, device, name, reason)) WITHOUT ROWID;
"""
_CREATE = f"BEGIN IMMEDIATE;{_SCHEMA}INSERT OR IGNORE INTO meta VALUES ('schema', '{SCHEMA_VERSION}');COMMIT;"  # noqa: S608


class IndexCorrupt(Exception):
    """SQLite says the index file is damaged."""


class IndexUnavailable(Exception):
    """The index cannot be opened at all (no such file and no way to create it)."""


@dataclass(frozen=True)
class Row:
    """One index entry. ``id`` is never reused (AUTOINCREMENT): a replaced entry gets a new one."""

    id: int
    origin: str
    device: str
    key: str
    versions: str
    checksum: str
    size: int
    created: int
    last_used: int
    row_check: str

    @property
    def intact(self) -> bool:
        """True when the fixed fields have their types, still hash to ``row_check``, and the
        checksum can name a blob file. (A damaged text field may arrive as ``bytes``.)"""
        texts = (self.origin, self.device, self.key, self.versions, self.checksum, self.row_check)
        ints = (self.size, self.created, self.last_used)
        return (all(isinstance(t, str) for t in texts) and all(_is_int(i) for i in ints)
                and _CHECKSUM_RE.fullmatch(self.checksum) is not None and self.size > 0
                and self.row_check == row_check(self.origin, self.device, self.key, self.versions,
                                                self.checksum, self.size, self.created))

    @property
    def safe_size(self) -> int:
        """``size`` for quota sums, 0 when the field is damaged."""
        return self.size if _is_int(self.size) and self.size > 0 else 0

    @property
    def safe_last_used(self) -> int:
        return self.last_used if _is_int(self.last_used) else 0


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(raw: bytes) -> str | bytes:
    """SQLite text as str; bytes that are not UTF-8 (a damaged field) stay bytes."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def row_check(origin: str, device: str, key: str, versions: str, checksum: str, size: int, created: int) -> str:
    text = json.dumps([origin, device, key, versions, checksum, size, created], ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def new_row(origin: str, device: str, key: str, versions: str, checksum: str, size: int) -> Row:
    now = time.time_ns()
    return Row(0, origin, device, key, versions, checksum, size, now, now,
               row_check(origin, device, key, versions, checksum, size, now))


_COLUMNS = "origin, device, key, versions, checksum, size, created, last_used, row_check"
_SELECT = f"SELECT id, {_COLUMNS} FROM entries"  # noqa: S608


def _schema_of(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return sorted(tuple(r) for r in conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


@functools.cache
def _expected_schema() -> list[tuple[object, ...]]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(_SCHEMA)
        return _schema_of(conn)
    finally:
        conn.close()


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return any(sign in text for sign in ("malformed", "not a database", "no such column", "no such table"))


class Index:
    """A connection to the index file (thread-safe use is the store's job)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.readonly = False
        self._conn: sqlite3.Connection | None = None
        self._ino: tuple[int, int] | None = None
        #: The random id of the index file the connection checked (None until one did).
        self.generation: str | None = None
        self._pid = os.getpid()
        self._durable = True

    # -- connection ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.text_factory = _text
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                if not _schema_of(conn):  # a new file (a damaged schema is _check's business)
                    conn.executescript(_CREATE)
                    # a random generation tells "this index" from "a new index at the same path"
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('generation', ?)", (secrets.token_hex(16),))
            except BaseException:
                conn.close()
                raise
            self.readonly = False
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.chmod(f"{self.path}{suffix}", 0o600)
                except FileNotFoundError:
                    pass
        except sqlite3.DatabaseError as exc:
            if _is_corruption(exc):
                raise IndexCorrupt(str(exc)) from exc
            conn = self._connect_readonly(exc)
        self._check(conn)
        return conn

    def _connect_readonly(self, why: sqlite3.DatabaseError) -> sqlite3.Connection:
        """Open an index we cannot write (read-only directory): loads still work."""
        if not self.path.exists():
            raise IndexUnavailable(f"{self.path}: {why}") from why
        last: Exception = why
        for query in ("mode=ro", "immutable=1"):
            try:
                conn = sqlite3.connect(f"{self.path.as_uri()}?{query}", uri=True, timeout=60,
                                       isolation_level=None, check_same_thread=False)
                conn.text_factory = _text
                conn.execute("SELECT count(*) FROM entries").fetchone()
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise IndexCorrupt(str(exc)) from exc
                last = exc
                continue
            log.debug("graph cache index %s opened read-only (%s)", self.path, why)
            self.readonly = True
            return conn
        raise IndexUnavailable(f"{self.path}: {last}") from last

    def _check(self, conn: sqlite3.Connection) -> None:
        """SQLite's quick_check, and the schema exactly as this module writes it."""
        try:
            result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            schema = _schema_of(conn)
            version = conn.execute("SELECT value FROM meta WHERE name='schema'").fetchone()
            generation = conn.execute("SELECT value FROM meta WHERE name='generation'").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_corruption(exc):
                raise IndexCorrupt(str(exc)) from exc
            raise
        if result != ["ok"] or schema != _expected_schema() or version != (str(SCHEMA_VERSION),):
            conn.close()
            raise IndexCorrupt(f"quick_check: {result[:3]}; schema as expected: {schema == _expected_schema()}; "
                               f"schema version {version}")
        self.generation = generation[0] if generation else None

    def current_generation(self) -> str | None:
        """The generation of the intact index file now at the path (read on a separate
        connection), or None when that file is damaged or gone. Other errors propagate:
        then nobody can tell, and nothing should be deleted."""
        if not self.path.exists():
            return None
        probe = Index(self.path)
        try:
            probe._connect_checked_readonly()
            return probe.generation or ""
        except IndexCorrupt:
            return None
        finally:
            probe.close()

    def _connect_checked_readonly(self) -> None:
        conn = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=60, isolation_level=None,
                               check_same_thread=False)
        conn.text_factory = _text
        self._conn = conn
        with self.guard():
            self._check(conn)

    def conn(self) -> sqlite3.Connection:
        """The connection, reopened after a fork or after the file was replaced."""
        try:
            st = os.stat(self.path)
            ino: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ino = None
        if self._conn is not None and (self._pid != os.getpid() or ino != self._ino):
            self.close()
        if self._conn is None:
            self.generation = None
            self._conn = self._connect()
            self._durable = True
            self._pid = os.getpid()
            st = os.stat(self.path)
            self._ino = (st.st_dev, st.st_ino)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            if self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's corruption errors into :class:`IndexCorrupt`."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if _is_corruption(exc):
                raise IndexCorrupt(str(exc)) from exc
            raise

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success.

        ``durable``: the commit is fsynced (saves, deletes). Bookkeeping (last use,
        counters) commits without fsync: a power cut may lose it, never corrupt it.
        """
        conn = self.conn()
        with self.guard():
            if durable != self._durable:
                conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
                self._durable = durable
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # -- queries -------------------------------------------------------------------
    def get(self, origin: str, device: str, key: str) -> Row | None:
        with self.guard():
            found = self.conn().execute(
                f"{_SELECT} WHERE origin=? AND device=? AND key=?",  # noqa: S608
                (origin, device, key)).fetchone()
        return None if found is None else Row(*found)

    def rows(self, origin: str | None = None, device: str | None = None) -> list[Row]:
        sql = _SELECT
        clauses, args = [], []
        if origin is not None:
            clauses.append("origin=?")
            args.append(origin)
        if device is not None:
            clauses.append("device=?")
            args.append(device)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with self.guard():
            return [Row(*r) for r in self.conn().execute(sql + " ORDER BY last_used, key", args)]

    def checksums(self) -> set[str]:
        with self.guard():
            return {r[0] for r in self.conn().execute("SELECT checksum FROM entries")}

    def counters(self, origin: str | None = None,
                 device: str | None = None) -> list[tuple[str, str, str, str, int]]:
        """Persisted counter rows ``(origin, device, name, reason, value)``."""
        with self.guard():
            rows = self.conn().execute(
                "SELECT origin, device, name, reason, value FROM counters WHERE (?1 IS NULL OR origin=?1) "
                "AND (?2 IS NULL OR device=?2) ORDER BY origin, device, name, reason", (origin, device))
            return [tuple(r) for r in rows]

    # -- changes (call inside ``transaction``) ------------------------------------------
    @staticmethod
    def upsert(conn: sqlite3.Connection, row: Row) -> None:
        conn.execute(f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608
                     (row.origin, row.device, row.key, row.versions, row.checksum, row.size,
                      row.created, row.last_used, row.row_check))

    @staticmethod
    def delete_exact(conn: sqlite3.Connection, row: Row) -> bool:
        """Delete ``row`` only if the index still holds it (not a replacement: ids are never reused)."""
        return conn.execute("DELETE FROM entries WHERE id=?", (row.id,)).rowcount > 0

    @staticmethod
    def touch(conn: sqlite3.Connection, row: Row) -> None:
        conn.execute("UPDATE entries SET last_used=? WHERE id=?", (max(time.time_ns(), row.last_used + 1), row.id))

    @staticmethod
    def bump(conn: sqlite3.Connection, origin: str, device: str, name: str, reason: str, n: int = 1) -> None:
        conn.execute("INSERT INTO counters VALUES (?,?,?,?,?) ON CONFLICT (origin, device, name, reason) "
                     "DO UPDATE SET value = value + excluded.value", (origin, device, name, reason, n))
