"""Cache keys for integrations: ordered, named components -> one stable string.

An integration names every component that decides the compiled result (host graph
digest, weights digest, input signature, device, options) and gets back a key of
the form ``"<host>-<blake3 hex>"``. The webnn format/library versions are mixed in too,
so a key never survives a change that could change the compiled graph. Each
component is logged at debug level, as JAX's cache key does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..hashing import content_hasher

log = logging.getLogger("webnn.cache")


def _feed(h: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(f"nd:{arr.dtype.str}:{arr.shape}:".encode())
        h.update(memoryview(arr).cast("B"))
    elif isinstance(value, (bytes, bytearray, memoryview)):
        h.update(b"b:")
        h.update(bytes(value))
    elif isinstance(value, Mapping):
        h.update(b"{")
        for k in sorted(value, key=str):
            h.update(json.dumps(str(k)).encode())
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for v in value:
            _feed(h, v)
        h.update(b"]")
    else:
        h.update(json.dumps(value, default=str).encode())


def digest(value: Any) -> str:
    """Content hash (BLAKE3) hex of a value built from dicts, lists, scalars, bytes and arrays."""
    h = content_hasher()
    _feed(h, value)
    return h.hexdigest()


def graph_cache_key(host: str, components: Mapping[str, Any]) -> str:
    """A cache key for ``host`` ("torch", "onnx", "tflite"...) from named components."""
    from .. import __version__
    from ..graph import IR_VERSION

    full = {"webnn": __version__, "ir_version": IR_VERSION, **components}
    for name in full:
        log.debug("cache key component %s=%s", name, digest(full[name])[:16])
    return f"{host}-{digest(full)}"
