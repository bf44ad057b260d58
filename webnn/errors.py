"""WebNN error types.

Argument and validation failures are plain :class:`TypeError` (the spec says so).
Runtime failures use the spec's DOMException names; the graph cache adds
``QuotaExceededError`` and ``NotFoundError`` (DOMException names too, our extension).
"""

from __future__ import annotations


class DOMException(Exception):
    """Base of the DOMException-named errors (spec: ``DOMException``)."""

    name = "DOMException"


class OperationError(DOMException):
    """The backend failed to compile or run a graph (spec: ``OperationError``)."""

    name = "OperationError"


class NotSupportedError(DOMException):
    """The context cannot run this op, data type or device (spec: ``NotSupportedError``)."""

    name = "NotSupportedError"


class InvalidStateError(DOMException):
    """An object was used after it was built, destroyed or lost (spec: ``InvalidStateError``)."""

    name = "InvalidStateError"


class UnknownError(DOMException):
    """An unexpected runtime failure (spec: ``UnknownError``)."""

    name = "UnknownError"


class QuotaExceededError(DOMException):
    """The graph cache cannot keep an entry (DOMException name; cache extension)."""

    name = "QuotaExceededError"


class NotFoundError(DOMException):
    """A graph cache entry is missing, evicted, corrupt or stale (DOMException name)."""

    name = "NotFoundError"


__all__ = [
    "DOMException",
    "InvalidStateError",
    "NotFoundError",
    "NotSupportedError",
    "OperationError",
    "QuotaExceededError",
    "UnknownError",
]
