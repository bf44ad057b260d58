"""The spec's "cast" of an ``MLNumber`` option to an operand data type (section "Casting").

An ``MLNumber`` is a JavaScript bigint or an unrestricted double; in Python it is an
``int`` (exact, any size) or a ``float`` (NaN and +/-Infinity included). The result is a
Python number exactly representable in the target type: an ``int`` for integer types
(so 64-bit values above 2**53 stay exact) and a ``float`` for float types.

- ConvertToFloat rounds to nearest, ties to even, once (a huge ``int`` is not rounded
  through a double first) and overflows to +/-Infinity past the type's range.
- ConvertToInt maps NaN to 0, clamps to the type's range, then rounds half to even.

One deliberate difference from the text at c515210d: the spec casts "uint32" with
``ConvertToInt(x, 32, "signed")``, which would let -1 through for an unsigned type; we
use "unsigned" (range [0, 2**32 - 1]), as the type requires.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..dtypes import INT_RANGES

_FLOAT = {"float32": (np.float32, 24), "float16": (np.float16, 11)}


def _round_to_odd(x: int, keep: int) -> int:
    """``x`` with all but its top ``keep`` bits folded into a sticky lowest bit.

    Rounding this value once to fewer than ``keep - 1`` significant bits gives the same
    result as rounding ``x`` itself (the "round to odd" argument), and the value fits a
    double exactly when ``keep <= 53``.
    """
    sign = -1 if x < 0 else 1
    m = abs(x)
    drop = m.bit_length() - keep
    if drop <= 0:
        return x
    low = m & ((1 << drop) - 1)
    m = ((m >> drop) | (1 if low else 0)) << drop
    return sign * m


def convert_to_float(x: int | float, data_type: str) -> float:
    """Spec ConvertToFloat(x, 32 or 16) as a Python float."""
    np_type, precision = _FLOAT[data_type]
    if isinstance(x, int):
        x = _round_to_odd(x, precision + 3)
        try:
            x = float(x)
        except OverflowError:
            return math.inf if x > 0 else -math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np_type(x))


def convert_to_int(x: int | float, data_type: str) -> int:
    """Spec ConvertToInt(x, bits, signedness) for ``data_type`` as a Python int."""
    lo, hi = INT_RANGES[data_type]
    if isinstance(x, float):
        if math.isnan(x):
            return 0
        if math.isinf(x):
            return hi if x > 0 else lo
        x = min(max(x, lo), hi)
        return min(max(round(x), lo), hi)  # round(): half to even, exact on floats
    return min(max(int(x), lo), hi)


def cast_number(op: str, name: str, value: object, data_type: str) -> int | float:
    """Check ``value`` is an MLNumber and cast it to ``data_type`` (spec: cast)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number (int or float), got {value!r}")
    number: int | float = int(value) if isinstance(value, (int, np.integer)) else float(value)
    if data_type in _FLOAT:
        return convert_to_float(number, data_type)
    return convert_to_int(number, data_type)
