"""A converter registry for integrations: host op -> MLGraphBuilder calls.

Each integration (torch FX/ATen, ONNX, TFLite) keeps one :class:`ConverterRegistry`
keyed by its host op type. A converter is registered with a capability check
("can I take this node, and if not, why"); the integration's partitioner asks the
same registry, so support and conversion never disagree. The check also consults
the context's ``op_support_limits()`` through :meth:`SupportQuery.data_type_ok`.
Modelled on torch-tensorrt's dynamo converter registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K")

#: A capability check: returns None when the node can be converted, else the reason.
Check = Callable[..., "str | None"]


@dataclass(frozen=True)
class Converter:
    """A registered converter and the check that guards it."""

    key: Any
    convert: Callable[..., Any]
    check: Check | None
    webnn_ops: tuple[str, ...]


class SupportQuery:
    """What a capability check may ask about the target context."""

    def __init__(self, limits: dict[str, Any]) -> None:
        self.limits = limits

    def op_supported(self, op: str) -> bool:
        return op in self.limits

    def data_type_ok(self, op: str, data_type: str, operand: str | None = None) -> bool:
        """Whether ``op`` takes ``data_type`` for ``operand`` (default: its main input)."""
        entry = self.limits.get(op)
        if entry is None:
            return False
        if operand is None:
            operand = next(k for k in entry if k not in ("output", "outputs"))
        slot = entry.get(operand)
        return slot is not None and data_type in slot["data_types"]

    def rank_ok(self, op: str, rank: int, operand: str | None = None) -> bool:
        entry = self.limits.get(op)
        if entry is None:
            return False
        if operand is None:
            operand = next(k for k in entry if k not in ("output", "outputs"))
        rr = entry[operand]["rank_range"]
        return rr["min"] <= rank <= rr["max"]


class ConverterRegistry(Generic[K]):
    """Host op type -> converter, with capability checks. One per integration."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._converters: dict[Any, Converter] = {}

    def register(self, *keys: K, check: Check | None = None, webnn_ops: Iterable[str] = ()
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register ``fn`` as the converter of every key in ``keys``.

        ``webnn_ops`` names the WebNN ops the converter emits; a node is supported
        only if the context supports all of them.
        """

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            for key in keys:
                old = self._converters.get(key)
                if old is not None and old.convert.__qualname__ != fn.__qualname__:
                    raise ValueError(f"{self.host}: converter for {key!r} registered twice")
                self._converters[key] = Converter(key, fn, check, tuple(webnn_ops))
            return fn

        return decorate

    def get(self, key: K) -> Converter | None:
        return self._converters.get(key)

    def keys(self) -> list[Any]:
        return list(self._converters)

    def why_not(self, key: K, query: SupportQuery, *args: Any, **kwargs: Any) -> str | None:
        """None when a node of type ``key`` can be converted, else the reason."""
        conv = self._converters.get(key)
        if conv is None:
            return f"no converter for {key}"
        for name in conv.webnn_ops:
            if not query.op_supported(name):
                return f"WebNN op {name} not supported by this context"
        if conv.check is not None:
            try:
                return conv.check(query, *args, **kwargs)
            except Exception as exc:  # a check that cannot decide says why
                return f"capability check failed: {type(exc).__name__}: {exc}"
        return None
