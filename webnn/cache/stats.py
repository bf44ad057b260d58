"""Cache counters: how many hits, misses, saves, evictions and removals, and why.

Each context counts what it did (``MLContext.cache_stats()``); the store also keeps
per-partition totals across processes in the index (``partition_totals`` there,
and ``python -m webnn.cache info``). Every counter has reasons, e.g. misses by
"missing"/"stale"/"corrupt", corrupt entries removed by "checksum"/"wrong-length"/...,
save failures by "quota"/"too-large"/"disk-full"/"read-only".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

#: Every counter, in display order.
COUNTERS = ("hits", "misses", "saves", "save_failures", "evictions", "corrupt_removed", "stale_removed")


def summarize(events: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """``{counter: total, ..., "reasons": {counter: {reason: n}}}`` from ``(name, reason, n)`` events."""
    out: dict[str, Any] = {name: 0 for name in COUNTERS}
    reasons: dict[str, dict[str, int]] = {name: {} for name in COUNTERS}
    for name, reason, n in events:
        out[name] = out.get(name, 0) + n
        per = reasons.setdefault(name, {})
        per[reason] = per.get(reason, 0) + n
    out["reasons"] = {name: dict(sorted(r.items())) for name, r in reasons.items() if r}
    return out


class CacheStats:
    """Thread-safe in-process counters of one context."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, name: str, reason: str, n: int = 1) -> None:
        if name not in COUNTERS:
            raise ValueError(f"unknown cache counter {name!r}")
        with self._lock:
            self._counts[(name, reason)] = self._counts.get((name, reason), 0) + n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            items = list(self._counts.items())
        return summarize((name, reason, n) for (name, reason), n in items)
