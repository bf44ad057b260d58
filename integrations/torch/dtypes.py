"""torch dtypes <-> WebNN data types.

WebNN has no bool: a torch.bool tensor crosses as a uint8 view (0/1, zero-copy) and
comparisons come back as uint8, viewed as bool again. float64, bfloat16, int16,
complex and quantized dtypes have no WebNN type; nodes using them stay in torch.
"""

from __future__ import annotations

import torch

#: torch dtype -> WebNN data type (bool is carried as uint8).
WEBNN_TYPES: dict[torch.dtype, str] = {
    torch.float32: "float32",
    torch.float16: "float16",
    torch.int32: "int32",
    torch.uint32: "uint32",
    torch.int64: "int64",
    torch.uint64: "uint64",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "uint8",
}


def webnn_type(dtype: torch.dtype) -> str | None:
    """The WebNN data type that carries ``dtype``, or None when WebNN has none."""
    return WEBNN_TYPES.get(dtype)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"`` (for reports and cache keys)."""
    return str(dtype).replace("torch.", "")


def is_float(dtype: torch.dtype) -> bool:
    return dtype.is_floating_point
