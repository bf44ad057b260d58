"""The persistent MLGraph cache (MLGraph cache explainer; same-origin model cache proposal).

``MLContext.save_graph/load_graph/list_graphs/delete_graph/delete_saved_graphs``
land here through :func:`open_context_cache`. The store is split by job:

* ``location`` - which directory (option > ``$WEBNN_CACHE_DIR`` > platformdirs) and
  the safety checks (no symlink, our owner, 0700);
* ``blobfile`` - one entry's file: JSON header + 64-byte-aligned raw arrays, a
  chunked SHA-256 checksum; no pickle anywhere;
* ``index`` - the SQLite (WAL) index of entries and counters;
* ``locking`` - the cross-process store lock and the readers' blob locks;
* ``quota`` - the per-origin quota and LRU eviction order;
* ``store`` - the above put together, addressed by (origin, device, key);
* ``facade`` - what one context sees: API errors, counters, MLGraph <-> entry;
* ``keys`` - cache keys for integrations; ``cli`` - ``python -m webnn.cache info``;
* ``remote`` - the fleet-shared tier on Redis behind the local store (``remote_config``:
  ``$WEBNN_CACHE_REMOTE`` and ``RemoteOptions``; ``remote_codec``: names, signed manifest,
  chunks; ``remote_client``: health, upload queue, counters; ``remote_reader``: the read path
  on its own socket; ``remote_redis``: the other Redis calls, through redis-py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .location import ENV_VAR, CacheDirectoryError, resolve_root
from .quota import DEFAULT_QUOTA
from .remote_config import RemoteOptions

if TYPE_CHECKING:
    from ..context import MLContext
    from .facade import ContextCache

__all__ = ["DEFAULT_QUOTA", "ENV_VAR", "CacheDirectoryError", "RemoteOptions", "open_context_cache", "resolve_root"]


def open_context_cache(context: MLContext) -> ContextCache:
    """The cache bound to ``context`` (its origin, device kind, backend and quota)."""
    from .facade import ContextCache

    return ContextCache(context)
