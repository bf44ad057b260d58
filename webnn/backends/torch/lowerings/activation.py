"""Torch lowerings of the activation ops (see ``webnn/ops/activation.py``).

Each factory binds the node's (already cast) scalar options once and returns one
torch call, or a short composition where torch has no op with the spec's parameters
(hardSigmoid's alpha/beta, linear, prelu's two-way broadcast). Values arrive in compute
types: float16 is float32 on the CPU, uint32/uint64 are int64 (uint64 as the same bits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..registry import LoweringNode, lowering

_PLAIN: dict[str, Callable[..., Any]] = {
    "relu": torch.relu,
    "gelu": F.gelu,  # the exact erf form, as the spec's expression
    "hard_swish": F.hardswish,
    "sigmoid": torch.sigmoid,
    "softsign": F.softsign,
    "tanh": torch.tanh,
}

_INT64_MIN = -(2**63)


@lowering(*_PLAIN)
def plain(node: LoweringNode) -> Callable[..., Any]:
    return _PLAIN[node.op]


@lowering("softplus")
def softplus(node: LoweringNode) -> Callable[..., Any]:
    # ln(1 + e**x) without overflow: torch switches to x past x = 20, where the two
    # differ by less than e**-20 (below a float32 ulp of 20).
    return F.softplus


@lowering("leaky_relu")
def leaky_relu(node: LoweringNode) -> Callable[..., Any]:
    alpha = node.attrs["alpha"]
    return lambda x: F.leaky_relu(x, alpha)


@lowering("elu")
def elu(node: LoweringNode) -> Callable[..., Any]:
    alpha = node.attrs["alpha"]
    return lambda x: F.elu(x, alpha)


@lowering("hard_sigmoid")
def hard_sigmoid(node: LoweringNode) -> Callable[..., Any]:
    alpha, beta = node.attrs["alpha"], node.attrs["beta"]
    return lambda x: torch.clamp(x * alpha + beta, 0.0, 1.0)


@lowering("linear")
def linear(node: LoweringNode) -> Callable[..., Any]:
    alpha, beta = node.attrs["alpha"], node.attrs["beta"]
    return lambda x: x * alpha + beta


@lowering("prelu")
def prelu(node: LoweringNode) -> Callable[..., Any]:
    # torch's prelu wants a per-channel slope; the spec broadcasts both ways.
    return lambda x, slope: torch.where(x >= 0, x, x * slope)


@lowering("softmax")
def softmax(node: LoweringNode) -> Callable[..., Any]:
    axis = node.attrs["axis"]
    return lambda x: torch.softmax(x, axis)


@lowering("clamp")
def clamp(node: LoweringNode) -> Callable[..., Any]:
    lo, hi = node.attrs["min_value"], node.attrs["max_value"]
    if lo is None and hi is None:
        return lambda x: x
    if node.inputs[0].data_type == "uint64":  # type: ignore[union-attr]
        # uint64 travels as int64 with the same bits: flipping the sign bit maps
        # unsigned order onto signed order, so clamp there and flip back.
        lo_s = None if lo is None else lo + _INT64_MIN
        hi_s = None if hi is None else hi + _INT64_MIN

        def clamp_u64(x: torch.Tensor) -> torch.Tensor:
            flipped = torch.bitwise_xor(x, _INT64_MIN)
            return torch.bitwise_xor(torch.clamp(flipped, lo_s, hi_s), _INT64_MIN)

        return clamp_u64
    return lambda x: torch.clamp(x, lo, hi)
