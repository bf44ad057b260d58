"""One partition's compiled graph from the shared graph cache, or built and saved there.

Used by both ONNX routes (the drop-in session's plans and the plugin EP), so a cache
lookup, a stale entry, an unreadable cache and a refused save behave the same in both.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

from webnn import MLContext, MLGraph, MLOperandDescriptor, NotFoundError, QuotaExceededError


def load_or_build(context: MLContext, usable: bool, key: str, want_in: Mapping[str, MLOperandDescriptor],
                  want_out: Mapping[str, MLOperandDescriptor], build: Callable[[], MLGraph], who: str
                  ) -> tuple[MLGraph, str]:
    """The graph under ``key`` if the cache holds a matching one, else ``build()`` saved
    under ``key``; the status says which ("hit", "miss, saved", "off"...). Cache failures
    warn (naming ``who``) and never stop the session."""
    status = "off"
    if usable:
        try:
            graph = context.load_graph(key)
            if dict(graph.inputs) == dict(want_in) and dict(graph.outputs) == dict(want_out):
                return graph, "hit"
            status = "miss (entry did not match; replaced)"
        except NotFoundError:
            status = "miss"
        except Exception as exc:  # a cache that cannot be read: run without it, and say so
            warnings.warn(f"{who}: graph cache unavailable ({type(exc).__name__}: {exc})", RuntimeWarning,
                          stacklevel=4)
            status = f"unavailable: {exc}"
    graph = build()
    if usable and not status.startswith("unavailable"):
        try:
            context.save_graph(key, graph)
            status += ", saved"
        except QuotaExceededError as exc:
            warnings.warn(f"{who}: compiled partition not cached ({exc}); the session keeps running",
                          RuntimeWarning, stacklevel=4)
            status += f", not saved: {exc}"
        except Exception as exc:
            warnings.warn(f"{who}: compiled partition not cached ({type(exc).__name__}: {exc})",
                          RuntimeWarning, stacklevel=4)
            status += f", not saved: {type(exc).__name__}: {exc}"
    return graph, status
