"""TFLite builtin -> WebNN converters, one module per family; importing registers them all."""

from __future__ import annotations

from . import elementwise, nn, reduce, shape  # noqa: F401  (register the converters)
from ._base import REGISTRY, ConvertContext, webnn_type

__all__ = ["REGISTRY", "ConvertContext", "webnn_type"]
