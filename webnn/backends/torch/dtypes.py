"""WebNN data types in torch: storage types (exact) and compute types.

Storage keeps every WebNN type exact (uint32 as torch.uint32, int4 unpacked in int8).
Inside a compiled graph values use a compute type torch has kernels for: uint32 as
int64 (exact), uint64 as int64 with the same bits (exact below 2**63), and float16 as
float32 on the CPU (rounded back to float16 at the graph's outputs). Lowerings see
only compute types; the compiler converts at the graph's edges.
"""

from __future__ import annotations

import torch

STORAGE: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float16": torch.float16,
    "int32": torch.int32,
    "uint32": torch.uint32,
    "int64": torch.int64,
    "uint64": torch.uint64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int4": torch.int8,
    "uint4": torch.uint8,
}


def compute_dtype(data_type: str, device: torch.device) -> torch.dtype:
    """The torch dtype a value of ``data_type`` has inside a compiled graph."""
    if data_type in ("uint32", "uint64"):
        return torch.int64
    if data_type == "float16" and device.type == "cpu":
        return torch.float32
    return STORAGE[data_type]


def to_compute(value: torch.Tensor, data_type: str, device: torch.device) -> torch.Tensor:
    """Storage -> compute type (at a graph input)."""
    if data_type == "uint64":
        return value.view(torch.int64)
    target = compute_dtype(data_type, device)
    return value if value.dtype == target else value.to(target)


def to_storage(value: torch.Tensor, data_type: str) -> torch.Tensor:
    """Compute -> storage type (at a graph output)."""
    if data_type == "uint64":
        return value.to(torch.int64).view(torch.uint64)
    target = STORAGE[data_type]
    if data_type in ("int4", "uint4"):
        lo, hi = (-8, 7) if data_type == "int4" else (0, 15)
        value = value.clamp(lo, hi)
    return value if value.dtype == target else value.to(target)


def needs_conversion(data_type: str, device: torch.device) -> bool:
    return compute_dtype(data_type, device) != STORAGE[data_type] or data_type == "uint64"
