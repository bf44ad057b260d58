"""Lowering registry of the torch backend: one lowering per op.

A lowering is a factory: given the node (attributes, operand descriptors, device)
it does every static computation once, at build time, and returns the callable
the compiled graph calls with torch tensors (compute types, see ``dtypes.py``).
A lowering may declare the data types it takes (default: every type the spec
allows the op); ``op_support_limits()`` is derived from these declarations.
A CUDA-only lowering registered with ``device="cuda"`` overrides the common one there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ...operand import MLOperandDescriptor


@dataclass(frozen=True)
class LoweringNode:
    """What a lowering factory sees of a node."""

    op: str
    attrs: dict[str, Any]
    inputs: list[MLOperandDescriptor | None]
    outputs: list[MLOperandDescriptor]
    device: torch.device

    def compute_dtype(self, data_type: str) -> torch.dtype:
        from .dtypes import compute_dtype

        return compute_dtype(data_type, self.device)

    @property
    def out_dtype(self) -> torch.dtype:
        """Compute dtype of the first output."""
        return self.compute_dtype(self.outputs[0].data_type)


Lowering = Callable[[LoweringNode], Callable[..., Any]]


@dataclass(frozen=True)
class LoweringDef:
    op: str
    factory: Lowering
    data_types: tuple[str, ...] | None
    device: str | None


LOWERINGS: dict[tuple[str, str | None], LoweringDef] = {}


def lowering(*ops: str, data_types: Sequence[str] | None = None, device: str | None = None
             ) -> Callable[[Lowering], Lowering]:
    """Register a lowering factory for ``ops`` (for every device, or only ``device``)."""

    def register(factory: Lowering) -> Lowering:
        for name in ops:
            key = (name, device)
            old = LOWERINGS.get(key)
            if old is not None and old.factory.__qualname__ != factory.__qualname__:
                raise ValueError(f"torch lowering for {name} ({device or 'all devices'}) registered twice")
            LOWERINGS[key] = LoweringDef(name, factory, None if data_types is None else tuple(data_types), device)
        return factory

    return register


def find(op: str, device_type: str) -> LoweringDef | None:
    return LOWERINGS.get((op, device_type)) or LOWERINGS.get((op, None))


def load_all() -> None:
    """Import every lowering module (they register themselves)."""
    from . import lowerings  # noqa: F401
