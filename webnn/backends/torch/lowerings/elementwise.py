"""Torch lowerings of the element-wise ops (see ``webnn/ops/elementwise.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ....dtypes import FLOAT_TYPES, INT_RANGES
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


# -- cast ------------------------------------------------------------------------
# The spec's table (section "cast"): float -> float rounds to nearest (overflow to
# +/-Infinity); int -> float rounds to nearest; int -> int keeps the lowest N bits,
# two's complement; float -> int truncates in range and is implementation-defined out
# of range. Ours, out of range: saturate to the target's bounds, NaN -> 0 (the same on
# every device, unlike a bare C cast). uint32/uint64 are int64 inside a graph (uint64
# with the same bits); float16 is float32 on the CPU, so a cast to float16 there
# rounds through float16 explicitly.

_INT64_MIN = -(2**63)


def _float_to_int(target: str, out: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    lo, hi = INT_RANGES[target]
    if target in ("int8", "uint8", "int32", "uint32"):
        # The bounds are exact in float32 (8-bit) or float64 (32-bit): map NaN to 0,
        # clamp, and let the C conversion truncate toward zero.
        wide = torch.float64 if target in ("int32", "uint32") else torch.float32

        def narrow(x: torch.Tensor) -> torch.Tensor:
            return torch.nan_to_num(x.to(wide), nan=0.0).clamp_(lo, hi).to(out)

        return narrow
    top = float(hi + 1)  # 2**63 or 2**64: exact in float32, while hi is not
    if target == "uint64":

        def to_u64(x: torch.Tensor) -> torch.Tensor:
            t = torch.nan_to_num(torch.trunc(x.float()), nan=0.0).clamp(min=0.0)
            over, big = t >= top, t >= 2.0**63
            low = torch.where(over, 0.0, torch.where(big, t - 2.0**63, t)).to(torch.int64)
            bits = torch.where(big, torch.bitwise_or(low, _INT64_MIN), low)
            return torch.where(over, -1, bits)

        return to_u64

    def to_int64(x: torch.Tensor) -> torch.Tensor:
        t = torch.nan_to_num(torch.trunc(x.float()), nan=0.0).clamp(min=float(lo))
        over = t >= top
        v = torch.where(over, 0.0, t).to(torch.int64)
        return torch.where(over, hi, v)

    return to_int64


def _int_to_int(source: str, target: str, out: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    if target == "uint32":
        return lambda x: torch.bitwise_and(x.to(torch.int64), 0xFFFFFFFF)
    return lambda x: x.to(out)  # a narrowing .to() keeps the low bits; int64 sign-extends


def _to_float(source: str, target: str, node: LoweringNode) -> Callable[[torch.Tensor], torch.Tensor]:
    out = node.out_dtype
    via_half = target == "float16" and out != torch.float16  # float16 held as float32
    unsigned64 = source == "uint64"

    def to_float(x: torch.Tensor) -> torch.Tensor:
        if unsigned64:
            x = x.view(torch.uint64).to(torch.float32)
        if via_half:
            return x.to(torch.float16).to(out)
        return x.to(out)

    return to_float


@lowering("cast")
def cast(node: LoweringNode) -> Callable[..., Any]:
    source = node.inputs[0].data_type  # type: ignore[union-attr]
    target = node.attrs["data_type"]
    if target in FLOAT_TYPES:
        return _to_float(source, target, node)
    if source in FLOAT_TYPES:
        return _float_to_int(target, node.out_dtype)
    return _int_to_int(source, target, node.out_dtype)


@lowering("where")
def where(node: LoweringNode) -> Callable[..., Any]:
    return lambda condition, a, b: torch.where(condition != 0, a, b)
