"""Dimension helpers for the shape and gather/scatter op definitions.

The spec's ``sequence<[EnforceRange] unsigned long>`` arguments, its "valid dimension"
(an integer > 0 in the range of ``long``) and the output descriptor every op creates,
with errors that name the op and the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..operand import MAX_ELEMENTS, MLOperandDescriptor
from . import _common as c
from ._registry import MAX_RANK

#: WebIDL ``unsigned long`` upper bound ([EnforceRange] rejects larger values).
ULONG_MAX = 2**32 - 1
#: WebIDL ``long`` upper bound: a valid dimension is at most this.
LONG_MAX = 2**31 - 1
#: The spec's "valid tensor count" upper bound (concat inputs, split outputs).
MAX_TENSOR_COUNT = 8192


def ulong(op: str, name: str, value: object) -> int:
    """An ``[EnforceRange] unsigned long``."""
    v = c.integer(op, name, value)
    if not 0 <= v <= ULONG_MAX:
        raise c.fail(op, f"{name} must be in [0, {ULONG_MAX}] (unsigned long), got {v}")
    return v


def ulongs(op: str, name: str, value: object, length: int | None = None) -> list[int]:
    """A ``sequence<[EnforceRange] unsigned long>``, optionally of a fixed length."""
    out = c.ints(op, name, value)
    bad = [v for v in out if not 0 <= v <= ULONG_MAX]
    if bad:
        raise c.fail(op, f"{name} values must be in [0, {ULONG_MAX}] (unsigned long), got {out}")
    if length is not None and len(out) != length:
        raise c.fail(op, f"{name} must have {length} values (the input rank), got {len(out)} ({out})")
    return out


def valid_dims(op: str, what: str, shape: Sequence[int]) -> None:
    """Every item a valid dimension (spec: 0 < d <= 2**31 - 1)."""
    for d in shape:
        if not 0 < d <= LONG_MAX:
            raise c.fail(op, f"{what} must hold valid dimensions (integers in [1, {LONG_MAX}]), "
                             f"got {list(shape)}")


def out_desc(op: str, data_type: str, shape: Sequence[int], what: str = "output shape"
             ) -> MLOperandDescriptor:
    """The output descriptor, checked against the dimension, rank and size limits."""
    shape = [int(d) for d in shape]
    valid_dims(op, what, shape)
    if len(shape) > MAX_RANK:
        raise c.fail(op, f"{what} rank must be at most {MAX_RANK}, got {len(shape)} ({shape})")
    if math.prod(shape) > MAX_ELEMENTS:
        raise c.fail(op, f"{what} {shape} has more than 2**31 - 1 elements")
    return MLOperandDescriptor(data_type, tuple(shape))


def axis_option(op: str, value: object, rank: int, name: str = "axis") -> int:
    """An ``[EnforceRange] unsigned long`` axis that must be < ``rank``."""
    v = ulong(op, name, value)
    if v >= rank:
        raise c.fail(op, f"{name} must be in [0, {rank - 1}] (input rank {rank}), got {v}")
    return v


def axes_list(op: str, name: str, value: object, rank: int) -> list[int]:
    """Distinct axes, each in [0, rank) (spec: no negative axes, no duplicates)."""
    out = ulongs(op, name, value)
    if any(a >= rank for a in out):
        raise c.fail(op, f"{name} values must be in [0, {rank}) (input rank {rank}), got {out}")
    if len(set(out)) != len(out):
        raise c.fail(op, f"{name} must not repeat a value, got {out}")
    return out
