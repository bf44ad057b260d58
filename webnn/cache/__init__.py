"""The persistent MLGraph cache (filled in by the cache issue)."""

from __future__ import annotations

from typing import Any


def open_context_cache(context: Any) -> Any:
    from ..errors import NotSupportedError

    raise NotSupportedError("the graph cache is not implemented yet")
