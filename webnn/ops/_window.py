"""Sliding-window helpers shared by the convolution and pooling definitions.

The spec's 2-D windowed ops take the same option shapes (``padding`` of 4,
``strides`` and ``dilations`` of 2, an ``MLInputOperandLayout``) and compute output
sizes with the same formulas ("calculate conv output size", "calculate convtranspose
output size"). These helpers parse those options with errors that name the op and the
option, and do the arithmetic exactly (fractions, not floats).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from . import _common as c

#: WebIDL ``unsigned long`` upper bound ([EnforceRange] rejects larger values).
ULONG_MAX = 2**32 - 1
#: A valid dimension is an integer > 0 in the range of WebIDL ``long``.
LONG_MAX = 2**31 - 1
#: Spec ``MLInputOperandLayout``.
INPUT_LAYOUTS = ("nchw", "nhwc")


def ulong(op: str, name: str, value: object) -> int:
    """An ``[EnforceRange] unsigned long``."""
    v = c.integer(op, name, value)
    if not 0 <= v <= ULONG_MAX:
        raise c.fail(op, f"{name} must be an unsigned long in [0, {ULONG_MAX}], got {v}")
    return v


def ulongs(op: str, name: str, value: object, length: int) -> list[int]:
    """A ``sequence<[EnforceRange] unsigned long>`` of exactly ``length`` items."""
    out = c.ints(op, name, value)
    if len(out) != length:
        raise c.fail(op, f"{name} must have {length} values, got {len(out)} ({out})")
    if any(not 0 <= v <= ULONG_MAX for v in out):
        raise c.fail(op, f"{name} values must be unsigned longs in [0, {ULONG_MAX}], got {out}")
    return out


def option(op: str, name: str, value: object, length: int, default: Sequence[int],
           positive: bool = False) -> list[int]:
    """An optional list option: ``default`` when absent, else ``length`` unsigned longs.

    ``positive`` rejects zeros (strides, dilations, window dimensions).
    """
    if value is None:
        return list(default)
    out = ulongs(op, name, value, length)
    if positive and 0 in out:
        raise c.fail(op, f"{name} values must be > 0, got {out}")
    return out


def layout(op: str, name: str, value: object) -> str:
    """An ``MLInputOperandLayout`` ("nchw" when absent)."""
    return c.choice(op, name, "nchw" if value is None else value, INPUT_LAYOUTS)


def split_nchw(shape: Sequence[int], input_layout: str) -> tuple[int, int, int, int]:
    """``(batches, channels, height, width)`` of a 4-D shape in ``input_layout``."""
    if input_layout == "nchw":
        n, ch, h, w = shape
    else:
        n, h, w, ch = shape
    return n, ch, h, w


def join_nchw(n: int, ch: int, h: int, w: int, input_layout: str) -> list[int]:
    """A 4-D shape in ``input_layout`` from its four parts."""
    return [n, ch, h, w] if input_layout == "nchw" else [n, h, w, ch]


def conv_size(size: int, window: int, begin: int, end: int, stride: int, dilation: int) -> Fraction:
    """Spec "calculate conv output size", exact (the caller floors or ceils)."""
    effective = (window - 1) * dilation + 1
    return Fraction(size - effective + begin + end, stride) + 1


def conv_transpose_size(size: int, window: int, begin: int, end: int, stride: int,
                        dilation: int) -> int:
    """Spec "calculate convtranspose output size"."""
    effective = (window - 1) * dilation + 1
    return (size - 1) * stride + effective - begin - end


def valid_dimension(op: str, what: str, value: int | Fraction) -> int:
    """Check the spec's "valid dimension" (an integer in [1, 2**31 - 1])."""
    if value != int(value) or not 1 <= value <= LONG_MAX:
        raise c.fail(op, f"{what} must be a valid dimension (an integer in [1, {LONG_MAX}]), "
                         f"got {value}")
    return int(value)
