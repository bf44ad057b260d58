"""Fused activations: the ``activation`` attribute the fusion passes put on a node.

``webnn/passes/fusion.py`` folds an element-wise activation that follows a conv2d,
conv_transpose2d or gemm into that node's ``activation`` attribute (the activation's
op name and attributes). The lowering applies it in place to the result it has just
allocated, which saves the activation's output tensor and one pass over memory; where a
oneDNN kernel can apply it exactly (:func:`kernel_activation`), inside the kernel instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

InPlace = Callable[[torch.Tensor], Any]


def _clamp(attrs: dict[str, Any]) -> InPlace | None:
    lo, hi = attrs.get("min_value"), attrs.get("max_value")
    if lo is None and hi is None:
        return None
    return lambda t: t.clamp_(lo, hi)


def _leaky_relu(attrs: dict[str, Any]) -> InPlace:
    slope = attrs["alpha"]
    return lambda t: F.leaky_relu_(t, slope)


#: Activation op -> factory of its in-place form (None: nothing to do).
FUSABLE: dict[str, Callable[[dict[str, Any]], InPlace | None]] = {
    "relu": lambda attrs: torch.relu_,
    "clamp": _clamp,
    "leaky_relu": _leaky_relu,
    "sigmoid": lambda attrs: torch.sigmoid_,
    "tanh": lambda attrs: torch.tanh_,
}


def in_place_activation(attrs: dict[str, Any]) -> InPlace | None:
    """The in-place activation a node's ``activation`` attribute asks for, if any."""
    spec = attrs.get("activation")
    if not spec:
        return None
    factory = FUSABLE.get(spec["op"])
    if factory is None:
        raise ValueError(f"fused activation {spec['op']!r} has no in-place torch form")
    return factory(spec.get("attrs", {}))


def kernel_activation(spec: dict[str, Any], *, residual: bool) -> tuple[str | None, list[float]]:
    """The oneDNN eltwise post-op (torch's unary attr and its scalars) for a fused activation,
    where the kernel computes exactly what the separate op would (checked bit for bit): relu,
    and without a residual also clamp (hardtanh) and leaky_relu, torch fusing only relu after
    a binary post-op. ``(None, [])``: the activation stays an in-place op after the kernel."""
    op, attrs = spec.get("op"), spec.get("attrs", {})
    if op == "relu":
        return "relu", []
    if residual:
        return None, []
    if op == "clamp":
        lo, hi = attrs.get("min_value"), attrs.get("max_value")
        if lo is None and hi is None:
            return None, []
        return "hardtanh", [-math.inf if lo is None else float(lo), math.inf if hi is None else float(hi)]
    if op == "leaky_relu":
        return "leaky_relu", [float(attrs["alpha"])]
    return None, []
