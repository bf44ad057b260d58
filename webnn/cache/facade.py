"""The cache as one context sees it: its origin, its device kind, its backend, its quota.

:class:`ContextCache` turns MLGraphs into store entries and back, and store
outcomes into the API's errors (MLGraph cache explainer semantics, decided in
design.md):

* keys are non-empty strings (else ``TypeError``) and are only ever SQL parameters;
* ``save_graph`` replaces an entry atomically, or raises ``QuotaExceededError``
  (``.reason``: "quota", "too-large", "disk-full", "read-only", "io-error") and
  changes nothing; the graph and the context keep working either way;
* ``load_graph`` of a missing, evicted, stale or corrupt entry raises
  ``NotFoundError`` naming the key and partition (``.reason`` says which); stale
  and corrupt entries are removed first. Loading runs no validation, no pass and
  no weight preparation: the backend gets the stored optimised IR and prepared
  constants;
* deletes are idempotent.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import NotFoundError, NotSupportedError, QuotaExceededError, UnknownError
from . import blobfile
from .index import SCHEMA_VERSION
from .location import resolve_root
from .quota import DEFAULT_QUOTA
from .remote import open_tier
from .remote_fill import Fills
from .stats import CacheStats, summarize
from .store import Miss, Refused, Store

if TYPE_CHECKING:
    from ..context import MLContext, MLGraph

log = logging.getLogger("webnn.cache")


def check_key(what: str, key: object) -> str:
    """``key`` if it is a non-empty string, else the API's ``TypeError``."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"{what}: key must be a non-empty string, got {key!r}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(f"{what}: key must be valid Unicode text, got {key!r}") from None
    return key


def versions_stamp(backend: Any, device_kind: str) -> str:
    """Everything an entry must match to be used: formats, library versions, backend, device."""
    from .. import __version__
    from ..graph import IR_VERSION

    parts = {"blob_format": blobfile.FORMAT_VERSION, "index_schema": SCHEMA_VERSION, "ir": IR_VERSION,
             "webnn": __version__, "backend": backend.name, "device": device_kind}
    parts.update({f"lib:{k}": str(v) for k, v in backend.versions().items()})
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


class ContextCache:
    """The graph cache bound to one :class:`~webnn.MLContext`."""

    def __init__(self, context: MLContext) -> None:
        # Weak: the context owns this object, so a context its user drops is freed (and its
        # index and remote connections closed) at once, not at the next cyclic collection.
        self._context_ref = weakref.ref(context)
        self.origin: str = context.origin
        self.device: str = context.device_kind
        self.quota: int = context._cache_quota or DEFAULT_QUOTA
        self.root = resolve_root(context._cache_dir)
        self.versions = versions_stamp(context._backend, self.device)
        self._store = Store(self.root)
        self._stats = CacheStats()
        self._resets_seen = 0
        # the remote tier (Redis, ``webnn.cache.remote``), behind the local store; None when off
        store, origin, device = self._store, self.origin, self.device
        self._remote = open_tier(getattr(context, "_cache_remote", None), origin, device, self.versions,
                                 lambda events: store.record(origin, device, events))
        # local copies of remote hits still being written; every call below waits for those it touches
        self._fills = Fills()

    @property
    def _context(self) -> MLContext:
        context = self._context_ref()
        if context is None:  # only reachable through its context, so this is a bug
            raise RuntimeError("graph cache: its MLContext no longer exists")
        return context

    def _where(self) -> str:
        return f"origin {self.origin!r}, device {self.device!r}"

    # -- explainer API -----------------------------------------------------------------
    def list_graphs(self) -> list[str]:
        self._fills.wait()
        try:
            local = self._store.keys(self.origin, self.device, self.versions)
        except Miss as exc:
            raise UnknownError(f"list_graphs: {exc.detail} ({self._where()}, cache {str(self.root)!r})") from exc
        finally:
            self._note_resets()
        remote = self._remote.keys() if self._remote is not None else None
        return sorted(set(local) | set(remote)) if remote else local

    def save_graph(self, key: str, graph: MLGraph) -> None:
        check_key("save_graph", key)
        self._fills.wait(key)  # a pending copy of the remote's value must not land after this save
        backend = self._context._backend
        header, arrays = backend.export(graph._executable)
        try:
            evicted = self._store.put(self.origin, self.device, key, self.versions, header, arrays,
                                      self.quota, events=[("saves", "ok")])
        except Refused as exc:
            self._stats.add("save_failures", exc.reason)
            self._store.record(self.origin, self.device, [("save_failures", exc.reason)])
            log.debug("graph cache: save %r refused (%s): %s", key, exc.reason, exc.detail)
            err = QuotaExceededError(f"save_graph: cannot keep the graph under key {key!r} "
                                     f"({self._where()}, cache {str(self.root)!r}): {exc.detail}")
            err.reason = exc.reason  # type: ignore[attr-defined]
            raise err from exc
        finally:
            self._note_resets()
        self._stats.add("saves", "ok")
        if self._remote is not None:  # write-through; never raises (see webnn.cache.remote)
            self._remote.save(key, header, arrays)
        self._note_evictions(evicted)
        log.debug("graph cache: saved %r (%s)", key, self._where())

    def _note_evictions(self, evicted: list[Any]) -> None:
        for row in evicted:
            reason = "stale" if row.device == self.device and row.versions != self.versions else "quota"
            self._stats.add("evictions", reason)
            log.debug("graph cache: evicted %r (%s, %d bytes, %s)", row.key, row.device, row.size, reason)

    def load_graph(self, key: str) -> MLGraph:
        check_key("load_graph", key)
        self._fills.wait(key)
        try:
            return self._load_local(key)
        except NotFoundError:
            graph = self._load_remote(key) if self._remote is not None else None
            if graph is None:
                raise
            return graph

    def _load_remote(self, key: str) -> MLGraph | None:
        """A remote hit, verified and loaded by the backend, else None. Its local copy is written in
        the background (``webnn.cache.remote_fill``): not needed for the first result, and this
        context's next cache call that touches the key waits for it."""
        from ..context import MLGraph

        assert self._remote is not None
        found = self._remote.fetch(key)
        if found is None:
            return None
        header, arrays, _checksum = found
        first_run = threading.Event()
        self._fills.start(key, lambda: self._fill_local(key, header, arrays), first_run)
        try:
            executable = self._context._backend.load(header, arrays)
        except Exception as exc:  # authentic and intact, yet refused: a bug or a format drift
            self._fills.wait(key)
            self._store.delete(self.origin, self.device, key)
            self._remote.reject(key, "backend-rejected", f"the {self._context._backend.name} backend rejected "
                                                         f"it: {exc}")
            return None
        log.debug("graph cache: loaded %r from the remote (%s)", key, self._where())
        graph = MLGraph(self._context, executable.graph, executable)
        graph._first_run_gate = first_run  # the local copy starts after the first result
        return graph

    def _fill_local(self, key: str, header: dict[str, Any], arrays: dict[str, Any]) -> None:
        """Write a verified remote entry to the local store (the same blob, byte for byte)."""
        try:
            self._note_evictions(self._store.put(self.origin, self.device, key, self.versions, header, arrays,
                                                 self.quota, events=[("saves", "remote-fill")]))
            self._stats.add("saves", "remote-fill")
        except Refused as exc:  # the graph is still good to use; the next process fetches it again
            self._stats.add("save_failures", exc.reason)
            self._store.record(self.origin, self.device, [("save_failures", exc.reason)])
            log.debug("graph cache: remote hit %r not kept locally (%s): %s", key, exc.reason, exc.detail)
        except Exception as exc:  # never lose the loaded graph over its local copy
            log.warning("graph cache: could not keep the remote hit %r locally: %s", key, exc)
        finally:
            self._note_resets()

    def _load_local(self, key: str) -> MLGraph:
        from ..context import MLGraph

        try:
            header, arrays, row = self._store.get(self.origin, self.device, key, self.versions)
        except Miss as miss:
            self._miss(key, miss)
        finally:
            self._note_resets()
        try:
            executable = self._context._backend.load(header, arrays)
        except Exception as exc:  # the checksum matched, so the backend refusing it is a bug or a stale format
            log.warning("graph cache: the %s backend rejected entry %r: %s", self._context._backend.name, key, exc)
            self._miss(key, Miss("corrupt", "backend-rejected", f"the backend rejected it: {exc}", row))
        self._store.touch(row, [("hits", "ok")])
        self._stats.add("hits", "ok")
        log.debug("graph cache: loaded %r (%s, %d bytes)", key, self._where(), row.size)
        return MLGraph(self._context, executable.graph, executable)

    def _miss(self, key: str, miss: Miss) -> NoReturn:
        events = [("misses", miss.kind)]
        if miss.kind in ("stale", "corrupt") and miss.row is not None:  # index resets: _note_resets
            events.append(("stale_removed" if miss.kind == "stale" else "corrupt_removed", miss.reason))
        for name, reason in events:
            self._stats.add(name, reason)
        if len(events) > 1:
            self._store.remove(miss.row, events)
        else:
            self._store.record(self.origin, self.device, events)
        level = logging.WARNING if miss.kind == "corrupt" else logging.DEBUG
        log.log(level, "graph cache: miss for %r (%s): %s: %s", key, self._where(), miss.reason, miss.detail)
        err = NotFoundError(f"load_graph: no usable graph under key {key!r} ({self._where()}): "
                            f"{miss.detail}" + (" (the entry was removed)" if len(events) > 1 else ""))
        err.reason = miss.reason  # type: ignore[attr-defined]
        raise err from None

    def delete_graph(self, key: str) -> None:
        check_key("delete_graph", key)
        self._delete("delete_graph", self.device, key)

    def delete_saved_graphs(self) -> None:
        self._delete("delete_saved_graphs", None, None)

    def _delete(self, what: str, device: str | None, key: str | None) -> None:
        self._fills.wait(key)
        try:
            count = self._store.delete(self.origin, device, key)
        except Refused as exc:
            raise NotSupportedError(f"{what}: the cache directory {str(self.root)!r} cannot be "
                                    f"changed: {exc.detail}") from exc
        log.debug("graph cache: %s removed %d entries (%s)", what, count, self._where())
        if self._remote is not None:
            self._remote.delete(key)

    # -- observability -----------------------------------------------------------------
    def info(self) -> list[dict[str, Any]]:
        """Entries of this origin (every device kind), most recently used first."""
        self._fills.wait()
        try:
            rows = self._store.rows(self.origin)
        except Miss as exc:
            raise UnknownError(f"cache_info: {exc.detail} (cache {str(self.root)!r})") from exc
        return [{"key": r.key, "device": r.device, "size": r.safe_size,
                 "created": r.created / 1e9 if isinstance(r.created, int) else 0.0,
                 "last_used": r.safe_last_used / 1e9,
                 "visible": r.device == self.device and r.versions == self.versions and r.intact}
                for r in reversed(rows)]

    def stats(self) -> dict[str, Any]:
        """This context's counters plus the partition's totals across processes."""
        self._fills.wait()
        out = self._stats.snapshot()
        try:
            totals = self._store.counters(self.origin, self.device)
        except Miss:  # the index cannot be read now: this context's counters still can
            totals = []
        out["partition_totals"] = summarize((name, reason, value) for _o, _d, name, reason, value in totals)
        out["index_resets"] = self._store.index_resets
        out["directory"] = str(self.root)
        out["remote"] = self._remote.snapshot() if self._remote is not None else None
        return out

    def _note_resets(self) -> None:
        resets = self._store.index_resets
        if resets > self._resets_seen:
            self._stats.add("corrupt_removed", "index-corrupt", resets - self._resets_seen)
            self._resets_seen = resets

    def close(self) -> None:
        self._fills.wait()
        if self._remote is not None:
            self._remote.close()
        self._store.close()
