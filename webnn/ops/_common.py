"""Validation helpers shared by the op definitions.

Every error names the op and the argument, says what was expected and quotes what came.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..dtypes import FLOAT_TYPES, INT_RANGES
from ..operand import MLOperand, MLOperandDescriptor


def fail(op: str, message: str) -> TypeError:
    """A ``TypeError`` labelled with the op (raise the result)."""
    return TypeError(f"{op}: {message}")


def operand(op: str, name: str, value: object, optional: bool = False) -> MLOperand | None:
    """Check that ``value`` is an MLOperand (or None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, MLOperand):
        raise fail(op, f"{name} must be an MLOperand, got {type(value).__name__}")
    return value


def same_type(op: str, name: str, value: MLOperand | None, ref: MLOperand, ref_name: str) -> None:
    """Check that ``value`` has the data type of ``ref``."""
    if value is not None and value.data_type != ref.data_type:
        raise fail(op, f"{name} data type must match {ref_name} ({ref.data_type}), "
                       f"got {value.data_type}")


def data_types(op: str, name: str, value: MLOperand | None, allowed: Sequence[str]) -> None:
    if value is not None and value.data_type not in allowed:
        raise fail(op, f"{name} data type must be one of {', '.join(allowed)}, got {value.data_type}")


def shape_is(op: str, name: str, value: MLOperand | None, shape: Sequence[int]) -> None:
    if value is not None and tuple(value.shape) != tuple(shape):
        raise fail(op, f"{name} shape must be {list(shape)}, got {list(value.shape)}")


def rank_is(op: str, name: str, value: MLOperand | None, rank: int) -> None:
    if value is not None and value.rank != rank:
        raise fail(op, f"{name} rank must be {rank}, got {value.rank} (shape {list(value.shape)})")


def float_input(op: str, name: str, value: MLOperand) -> None:
    data_types(op, name, value, FLOAT_TYPES)


def ints(op: str, name: str, value: object, length: int | None = None, minimum: int | None = None
         ) -> list[int]:
    """A sequence of Python ints, optionally of a fixed length and lower bound."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise fail(op, f"{name} must be a sequence of integers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise fail(op, f"{name} must be a sequence of integers, got {list(value)!r}")
        out.append(int(v))
    if length is not None and len(out) != length:
        raise fail(op, f"{name} must have {length} values, got {len(out)} ({out})")
    if minimum is not None and any(v < minimum for v in out):
        raise fail(op, f"{name} values must be >= {minimum}, got {out}")
    return out


def integer(op: str, name: str, value: object, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise fail(op, f"{name} must be an integer, got {value!r}")
    v = int(value)  # type: ignore[call-overload]
    if minimum is not None and v < minimum:
        raise fail(op, f"{name} must be >= {minimum}, got {v}")
    return v


def number(op: str, name: str, value: object) -> float | int:
    """A finite-or-not Python number (int kept exact for 64-bit values)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise fail(op, f"{name} must be a number, got {value!r}")
    if isinstance(value, int):
        return value
    if hasattr(value, "__index__"):
        return int(value)  # type: ignore[call-overload]
    return float(value)  # type: ignore[arg-type]


def choice(op: str, name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise fail(op, f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return str(value)


def axis(op: str, name: str, value: object, rank: int) -> int:
    """An axis in [0, rank) (the spec has no negative axes)."""
    v = integer(op, name, value)
    if not 0 <= v < max(rank, 1) or rank == 0:
        raise fail(op, f"{name} must be in [0, {rank}), got {v}")
    return v


def axes(op: str, name: str, value: object, rank: int, allow_empty: bool = True) -> list[int]:
    """Distinct axes, each in [0, rank)."""
    out = ints(op, name, value)
    for a in out:
        if not 0 <= a < rank:
            raise fail(op, f"{name} values must be in [0, {rank}), got {out}")
    if len(set(out)) != len(out):
        raise fail(op, f"{name} must not repeat an axis, got {out}")
    if not allow_empty and not out:
        raise fail(op, f"{name} must not be empty")
    return out


def broadcast(op: str, a: Sequence[int], b: Sequence[int], what: str = "a and b") -> tuple[int, ...]:
    """Bidirectional (numpy) broadcasting of two shapes (spec: broadcast-shapes)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and da != 1 and db != 1:
            raise fail(op, f"shapes of {what} cannot be broadcast: {list(a)} and {list(b)}")
        out.append(max(da, db))
    return tuple(reversed(out))


def unidirectional(op: str, src: Sequence[int], dst: Sequence[int], what: str) -> None:
    """Check ``src`` broadcasts to ``dst`` one way (spec: unidirectionally broadcastable)."""
    if len(src) > len(dst):
        raise fail(op, f"{what} shape {list(src)} cannot broadcast to {list(dst)}")
    for i in range(1, len(src) + 1):
        if src[-i] != dst[-i] and src[-i] != 1:
            raise fail(op, f"{what} shape {list(src)} cannot broadcast to {list(dst)}")


def in_range(op: str, name: str, value: float | int, data_type: str) -> float | int:
    """Check an option value fits ``data_type`` (integers exactly, floats any)."""
    if data_type in FLOAT_TYPES:
        return float(value)
    lo, hi = INT_RANGES[data_type]
    if isinstance(value, float):
        if value != value:
            raise fail(op, f"{name} must be a number representable as {data_type}, got NaN")
        if value in (float("inf"), float("-inf")):
            return value
        if value != int(value):
            raise fail(op, f"{name} must be an integer for {data_type}, got {value}")
        value = int(value)
    if not lo <= value <= hi:
        raise fail(op, f"{name} must be in [{lo}, {hi}] for {data_type}, got {value}")
    return value


def desc(data_type: str, shape: Sequence[int]) -> MLOperandDescriptor:
    return MLOperandDescriptor(data_type, tuple(int(s) for s in shape))


def same_desc(x: MLOperand) -> MLOperandDescriptor:
    return x.descriptor


def opt(options: dict[str, Any], name: str, default: Any) -> Any:
    v = options.get(name)
    return default if v is None else v
