"""WebNN data types (spec: ``MLOperandDataType``) and their numpy storage types.

int4/uint4 are held unpacked, one value per int8/uint8 element; they are packed
two to a byte (first value in the low nibble) only where bytes cross the API.
"""

from __future__ import annotations

import numpy as np

FLOAT_TYPES = ("float32", "float16")
INT_TYPES = ("int32", "uint32", "int64", "uint64", "int8", "uint8")
SUB_BYTE_TYPES = ("int4", "uint4")
#: The spec's eight data types, plus the two sub-byte ones.
DATA_TYPES = FLOAT_TYPES + INT_TYPES + SUB_BYTE_TYPES
ALL_EIGHT = FLOAT_TYPES + INT_TYPES

NUMPY_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "int32": np.dtype(np.int32),
    "uint32": np.dtype(np.uint32),
    "int64": np.dtype(np.int64),
    "uint64": np.dtype(np.uint64),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "int4": np.dtype(np.int8),
    "uint4": np.dtype(np.uint8),
}

_FROM_NUMPY = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float16): "float16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.bool_): "uint8",
}

#: Inclusive value ranges of the integer types, for checking constants and clamps.
INT_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int4": (-8, 7),
    "uint4": (0, 15),
}

#: Bytes per element as the spec counts them (sub-byte types: half a byte).
ITEM_SIZES: dict[str, float] = {
    "float32": 4, "float16": 2, "int32": 4, "uint32": 4, "int64": 8,
    "uint64": 8, "int8": 1, "uint8": 1, "int4": 0.5, "uint4": 0.5,
}


def check_data_type(value: object, what: str) -> str:
    """Return ``value`` if it names a WebNN data type, else raise ``TypeError``."""
    if not isinstance(value, str) or value not in DATA_TYPES:
        raise TypeError(f"{what}: expected one of {', '.join(DATA_TYPES)}, got {value!r}")
    return value


def numpy_dtype(data_type: str) -> np.dtype:
    """The numpy dtype that stores ``data_type`` (unpacked for int4/uint4)."""
    return NUMPY_DTYPES[data_type]


def from_numpy(dtype: np.dtype, what: str = "array") -> str:
    """The WebNN data type of a numpy dtype (bool maps to uint8, as the spec has it)."""
    try:
        return _FROM_NUMPY[np.dtype(dtype)]
    except KeyError:
        raise TypeError(
            f"{what}: numpy dtype {np.dtype(dtype)} has no WebNN data type "
            f"(expected one of {', '.join(ALL_EIGHT)})"
        ) from None


def is_float(data_type: str) -> bool:
    return data_type in FLOAT_TYPES


def pack_int4(values: np.ndarray) -> bytes:
    """Pack unpacked 4-bit values two to a byte, first value in the low nibble."""
    flat = values.astype(np.uint8).reshape(-1) & 0x0F
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, np.uint8)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()


def unpack_int4(buffer: bytes, count: int, signed: bool) -> np.ndarray:
    """Unpack ``count`` 4-bit values from ``buffer`` (inverse of :func:`pack_int4`)."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    out = np.empty(raw.size * 2, np.uint8)
    out[0::2] = raw & 0x0F
    out[1::2] = raw >> 4
    out = out[:count]
    if signed:
        return np.where(out >= 8, out.astype(np.int16) - 16, out).astype(np.int8)
    return out
