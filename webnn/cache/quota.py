"""Quota per partition and least-recently-used eviction.

The quota covers every entry of one partition, an origin and a device kind (all
versions), as ``create_context(cache_quota=...)`` sets it. When a save would exceed
it, entries are chosen for eviction in this order: entries whose versions no longer
match (stale, already invisible), then
entries whose index row is damaged, then the rest by least recent use. The entry
being saved is never a candidate (the graph being saved has priority), nor is the
entry it replaces counted, nor an entry a process is reading right now (in use). If
evicting every candidate still would not make room, nothing is evicted and the save
is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .index import Row

#: Default bytes per partition (origin and device kind) without ``create_context(cache_quota=...)``.
DEFAULT_QUOTA = 4 << 30


def eviction_order(rows: Sequence[Row], device: str, versions: str) -> list[Row]:
    """``rows`` in the order they would be evicted."""

    def rank(row: Row) -> tuple[int, int, int, str]:
        stale = row.device == device and row.versions != versions
        return (0 if stale else 1 if not row.intact else 2, row.safe_last_used, row.id, str(row.key))

    return sorted(rows, key=rank)


def plan_eviction(rows: Sequence[Row], *, device: str, key: str, size: int, versions: str,
                  quota: int, in_use: Callable[[Row], bool]) -> list[Row] | None:
    """The rows (all of one partition) to evict so a new ``size``-byte entry fits, or None."""
    others = [r for r in rows if not (r.device == device and r.key == key)]
    used = sum(r.safe_size for r in others)
    victims: list[Row] = []
    for row in eviction_order(others, device, versions):
        if used + size <= quota:
            break
        if in_use(row):
            continue
        victims.append(row)
        used -= row.safe_size
    return victims if used + size <= quota else None
