"""Torch lowerings of the element-wise ops (see ``webnn/ops/elementwise.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..registry import LoweringNode, lowering

_U8 = torch.uint8


def _int_div(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.div(a, b, rounding_mode="trunc")


_BINARY: dict[str, Callable[..., Any]] = {
    "add": torch.add, "sub": torch.sub, "mul": torch.mul, "max": torch.maximum,
    "min": torch.minimum, "pow": torch.pow,
}
_COMPARE: dict[str, Callable[..., Any]] = {
    "equal": torch.eq, "not_equal": torch.ne, "greater": torch.gt, "greater_or_equal": torch.ge,
    "lesser": torch.lt, "lesser_or_equal": torch.le, "logical_and": torch.logical_and,
    "logical_or": torch.logical_or, "logical_xor": torch.logical_xor,
}
_UNARY: dict[str, Callable[..., Any]] = {
    "abs": torch.abs, "ceil": torch.ceil, "cos": torch.cos, "erf": torch.erf, "exp": torch.exp,
    "floor": torch.floor, "log": torch.log, "neg": torch.neg, "reciprocal": torch.reciprocal,
    "sign": torch.sign, "sin": torch.sin, "sqrt": torch.sqrt, "tan": torch.tan,
    "round_even": torch.round, "identity": torch.clone,
}


@lowering(*_BINARY)
def binary(node: LoweringNode) -> Callable[..., Any]:
    return _BINARY[node.op]


@lowering("div")
def div(node: LoweringNode) -> Callable[..., Any]:
    return torch.div if node.out_dtype.is_floating_point else _int_div


@lowering(*_COMPARE)
def compare(node: LoweringNode) -> Callable[..., Any]:
    fn = _COMPARE[node.op]
    return lambda a, b: fn(a, b).to(_U8)


@lowering(*_UNARY)
def unary(node: LoweringNode) -> Callable[..., Any]:
    return _UNARY[node.op]


@lowering("logical_not")
def logical_not(node: LoweringNode) -> Callable[..., Any]:
    return lambda x: torch.logical_not(x).to(_U8)


@lowering("is_nan")
def is_nan(node: LoweringNode) -> Callable[..., Any]:
    return lambda x: torch.isnan(x).to(_U8)


@lowering("is_infinite")
def is_infinite(node: LoweringNode) -> Callable[..., Any]:
    return lambda x: torch.isinf(x).to(_U8)
