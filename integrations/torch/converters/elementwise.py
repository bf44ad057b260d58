"""Element-wise ATen ops: arithmetic, comparisons, logic, unary math, where, clamp, casts.

Type promotion follows torch: arithmetic is computed in the node's output dtype
(inputs cast to it), comparisons in the promoted dtype of their inputs; bool
values are uint8 0/1 inside WebNN.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx

from webnn import MLOperand
from webnn.converters import SupportQuery

from ._base import (
    ConvertContext,
    arg,
    aten,
    converter,
    dtype_of,
    dtype_reason,
    first_reason,
    float_output_check,
    is_scalar,
    out_dtype,
    promoted,
    shape_of,
)

# -- binary arithmetic ---------------------------------------------------------------------


def _arith_check(op: str, *extra_ops: str) -> Any:
    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        dt = dtype_of(node)
        if dt == torch.bool:
            return f"{node.target} on bool has no WebNN equivalent"
        return first_reason(dtype_reason(query, op, dt), *(dtype_reason(query, o, dt) for o in extra_ops))

    return check


_BINARY = {
    aten.add.Tensor: "add", aten.add.Scalar: "add", aten.sub.Tensor: "sub", aten.sub.Scalar: "sub",
    aten.mul.Tensor: "mul", aten.mul.Scalar: "mul", aten.maximum.default: "max", aten.minimum.default: "min",
}


def _alpha_check(op: str) -> Any:
    base = _arith_check(op)

    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        alpha = node.kwargs.get("alpha", 1)
        return first_reason(base(query, node), dtype_reason(query, "mul", dtype_of(node)) if alpha != 1 else None)

    return check


@converter(aten.add.Tensor, aten.add.Scalar, webnn_ops=("add",), check=_alpha_check("add"))
@converter(aten.sub.Tensor, aten.sub.Scalar, webnn_ops=("sub",), check=_alpha_check("sub"))
@converter(aten.mul.Tensor, aten.mul.Scalar, webnn_ops=("mul",), check=_arith_check("mul"))
@converter(aten.maximum.default, webnn_ops=("max",), check=_arith_check("max"))
@converter(aten.minimum.default, webnn_ops=("min",), check=_arith_check("min"))
def binary(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    a = cx.operand(node.args[0], dt)
    b = cx.operand(node.args[1], dt)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        b = cx.builder.mul(b, cx.scalar(alpha, dt))
    return getattr(cx.builder, _BINARY[node.target])(a, b)


def _div_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node)
    mode = arg(node, 2, "rounding_mode")
    if dt == torch.bool:
        return "div on bool"
    reason = dtype_reason(query, "div", dt)
    if reason:
        return reason
    if mode == "floor" and dt is not None and not dt.is_floating_point:
        return first_reason(*(dtype_reason(query, o, dt) for o in ("mul", "sub", "not_equal", "lesser"))) \
            or (None if query.op_supported("logical_and") and query.op_supported("cast") else
                "floor division of integers needs logical_and and cast")
    if mode is not None and dt is not None and dt.is_floating_point:
        return first_reason(dtype_reason(query, "floor", dt), dtype_reason(query, "ceil", dt) if mode == "trunc"
                            else None, dtype_reason(query, "where", dt, "true_value") if mode == "trunc" else None)
    return None


@converter(aten.div.Tensor, aten.div.Scalar, aten.div.Tensor_mode, aten.div.Scalar_mode,
           webnn_ops=("div",), check=_div_check)
def div(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    b_ = cx.builder
    mode = arg(node, 2, "rounding_mode")
    a = cx.operand(node.args[0], dt)
    b = cx.operand(node.args[1], dt)
    q = b_.div(a, b)
    if mode is None or (mode == "trunc" and not dt.is_floating_point):
        return q
    if dt.is_floating_point:
        if mode == "floor":
            return b_.floor(q)
        return _trunc(cx, q, dt)
    # integer floor division: truncated quotient, minus one where the remainder's sign differs from b's
    r = b_.sub(a, b_.mul(q, b))
    zero = cx.scalar(0, dt)
    adjust = b_.logical_and(b_.not_equal(r, zero), b_.not_equal(b_.lesser(r, zero), b_.lesser(b, zero)))
    return b_.sub(q, b_.cast(adjust, q.data_type))


def _trunc(cx: ConvertContext, x: MLOperand, dt: torch.dtype) -> MLOperand:
    b = cx.builder
    return b.where(b.lesser(x, cx.scalar(0, dt)), b.ceil(x), b.floor(x))


@converter(aten.trunc.default, webnn_ops=("floor", "ceil", "where", "lesser"), check=float_output_check("floor"))
def trunc(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return _trunc(cx, cx.operand(node.args[0]), out_dtype(node))


def _pow_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node)
    if dt is not None and not dt.is_floating_point:
        exp = node.args[1]
        if not is_scalar(exp) or exp < 0:
            return "integer pow is taken only with a non-negative scalar exponent"
    return _arith_check("pow")(query, node)


@converter(aten.pow.Tensor_Tensor, aten.pow.Tensor_Scalar, aten.pow.Scalar, webnn_ops=("pow",), check=_pow_check)
def pow_(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    base, exp = node.args[0], node.args[1]
    if is_scalar(exp) and exp == 2:
        x = cx.operand(base, dt)
        return cx.builder.mul(x, x)
    if is_scalar(exp) and exp == 1:
        return cx.operand(base, dt)
    if is_scalar(exp) and exp == 0.5 and dt.is_floating_point:
        return cx.builder.sqrt(cx.operand(base, dt))
    return cx.builder.pow(cx.operand(base, dt), cx.operand(exp, dt))


# -- comparisons and logic --------------------------------------------------------------------
_COMPARE = {
    aten.eq.Tensor: "equal", aten.eq.Scalar: "equal", aten.ne.Tensor: "not_equal", aten.ne.Scalar: "not_equal",
    aten.gt.Tensor: "greater", aten.gt.Scalar: "greater", aten.ge.Tensor: "greater_or_equal",
    aten.ge.Scalar: "greater_or_equal", aten.lt.Tensor: "lesser", aten.lt.Scalar: "lesser",
    aten.le.Tensor: "lesser_or_equal", aten.le.Scalar: "lesser_or_equal",
}


def _compare_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = _COMPARE[node.target]
    dt = promoted(*node.args[:2])
    if dt == torch.bool:
        return dtype_reason(query, op, torch.uint8)
    return dtype_reason(query, op, dt)


def _register_compare() -> None:
    for target, op in _COMPARE.items():
        converter(target, webnn_ops=(op,), check=_compare_check)(compare)


def compare(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = promoted(*node.args[:2])
    a = cx.operand(node.args[0], dt)
    b = cx.operand(node.args[1], dt)
    return getattr(cx.builder, _COMPARE[node.target])(a, b)


_register_compare()

_LOGICAL = {
    aten.logical_and.default: "logical_and", aten.logical_or.default: "logical_or",
    aten.logical_xor.default: "logical_xor", aten.bitwise_and.Tensor: "logical_and",
    aten.bitwise_or.Tensor: "logical_or", aten.bitwise_xor.Tensor: "logical_xor",
}


def _logical_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    is_bitwise = "bitwise" in str(node.target)
    for a in node.args[:2]:
        dt = dtype_of(a)
        if is_bitwise and dt != torch.bool:
            return "bitwise ops are taken only on bool"
        if dt is None:
            return "scalar operand of a logical op"
        if dt != torch.bool:
            reason = dtype_reason(query, "not_equal", dt)
            if reason:
                return reason
    return None


@converter(*_LOGICAL, webnn_ops=("logical_and", "logical_or", "logical_xor"), check=_logical_check)
def logical(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return getattr(cx.builder, _LOGICAL[node.target])(cx.to_bool(node.args[0]), cx.to_bool(node.args[1]))


def _not_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node.args[0])
    if node.target == aten.bitwise_not.default and dt != torch.bool:
        return "bitwise_not is taken only on bool"
    return None if dt == torch.bool else dtype_reason(query, "not_equal", dt)


@converter(aten.logical_not.default, aten.bitwise_not.default, webnn_ops=("logical_not",), check=_not_check)
def logical_not(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.logical_not(cx.to_bool(node.args[0]))


def _float_input_check(op: str) -> Any:
    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        dt = dtype_of(node.args[0])
        if dt is None or not dt.is_floating_point:
            return f"{node.target} is taken only on floating-point inputs"
        return dtype_reason(query, op, dt)

    return check


@converter(aten.isnan.default, webnn_ops=("is_nan",), check=_float_input_check("is_nan"))
def isnan(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.is_nan(cx.operand(node.args[0]))


@converter(aten.isinf.default, webnn_ops=("is_infinite",), check=_float_input_check("is_infinite"))
def isinf(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.is_infinite(cx.operand(node.args[0]))


# -- unary ------------------------------------------------------------------------------------
_SAME_TYPE_UNARY = {aten.abs.default: "abs", aten.neg.default: "neg", aten.sign.default: "sign"}
_FLOAT_UNARY = {
    aten.exp.default: "exp", aten.log.default: "log", aten.sin.default: "sin", aten.cos.default: "cos",
    aten.tan.default: "tan", aten.sqrt.default: "sqrt", aten.erf.default: "erf",
    aten.reciprocal.default: "reciprocal", aten.ceil.default: "ceil", aten.floor.default: "floor",
    aten.round.default: "round_even",
}


def _register_unary() -> None:
    for target, op in _SAME_TYPE_UNARY.items():
        converter(target, webnn_ops=(op,), check=_arith_check(op))(unary)
    for target, op in _FLOAT_UNARY.items():
        converter(target, webnn_ops=(op,), check=float_output_check(op))(unary)


def unary(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    op = _SAME_TYPE_UNARY.get(node.target) or _FLOAT_UNARY[node.target]
    return getattr(cx.builder, op)(cx.operand(node.args[0], out_dtype(node)))


_register_unary()


@converter(aten.rsqrt.default, webnn_ops=("sqrt", "reciprocal"), check=float_output_check("sqrt"))
def rsqrt(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.reciprocal(cx.builder.sqrt(cx.operand(node.args[0], out_dtype(node))))


_LOG_BASE = {aten.log2.default: 2.0, aten.log10.default: 10.0}


@converter(*_LOG_BASE, webnn_ops=("log", "div"), check=float_output_check("log"))
def log_base(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    return cx.builder.div(cx.builder.log(cx.operand(node.args[0], dt)), cx.scalar(math.log(_LOG_BASE[node.target]), dt))


# -- where, clamp ----------------------------------------------------------------------------
def _where_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node)
    cond = dtype_of(node.args[0])
    return first_reason(dtype_reason(query, "where", dt, "true_value"),
                        None if cond == torch.bool else "where condition is not bool")


@converter(aten.where.self, webnn_ops=("where",), check=_where_check)
def where(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    return cx.builder.where(cx.operand(node.args[0]), cx.operand(node.args[1], dt), cx.operand(node.args[2], dt))


def _clamp_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node)
    if dt == torch.bool:
        return "clamp on bool"
    if node.target == aten.clamp.Tensor:
        return first_reason(dtype_reason(query, "max", dt), dtype_reason(query, "min", dt))
    return dtype_reason(query, "clamp", dt)


@converter(aten.clamp.default, aten.clamp.Tensor, webnn_ops=("clamp",), check=_clamp_check)
def clamp(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    x = cx.operand(node.args[0], dt)
    lo, hi = arg(node, 1, "min"), arg(node, 2, "max")
    if node.target == aten.clamp.Tensor:
        if lo is not None:
            x = cx.builder.max(x, cx.operand(lo, dt))
        if hi is not None:
            x = cx.builder.min(x, cx.operand(hi, dt))
        return x
    kwargs = {}
    if lo is not None:
        kwargs["min_value"] = float(lo) if dt.is_floating_point else int(lo)
    if hi is not None:
        kwargs["max_value"] = float(hi) if dt.is_floating_point else int(hi)
    return cx.builder.clamp(x, **kwargs)


# -- copies and casts --------------------------------------------------------------------------
def _copy_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    src, dst = dtype_of(node.args[0]), dtype_of(node)
    v_in, v_out = node.args[0].meta.get("val"), node.meta.get("val")
    if isinstance(v_in, torch.Tensor) and isinstance(v_out, torch.Tensor) and v_in.device != v_out.device:
        return f"copies between devices ({v_in.device} -> {v_out.device})"
    if src == dst:
        return dtype_reason(query, "identity", dst)
    if dst == torch.bool:
        return dtype_reason(query, "not_equal", src)
    return first_reason(dtype_reason(query, "cast", src if src != torch.bool else torch.uint8),
                        dtype_reason(query, "cast", dst))


@converter(aten._to_copy.default, aten.clone.default, aten.alias.default, aten.lift_fresh_copy.default,
           webnn_ops=("identity",), check=_copy_check)
def copy(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    src, dst = dtype_of(node.args[0]), out_dtype(node)
    return cx.cast(cx.operand(node.args[0]), src, dst)  # same operand when nothing changes


def _fill_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return dtype_reason(query, "expand", dtype_of(node))


@converter(aten.full.default, aten.scalar_tensor.default, aten.full_like.default, aten.zeros_like.default,
           aten.ones_like.default, aten.fill.Scalar, webnn_ops=("expand",), check=_fill_check)
def full(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    shape = list(shape_of(node))
    if node.target == aten.zeros_like.default:
        value: Any = 0
    elif node.target == aten.ones_like.default:
        value = 1
    elif node.target == aten.scalar_tensor.default:
        value = node.args[0]
    else:
        value = node.args[1]
    scalar = cx.scalar(value, dt)
    return cx.builder.expand(scalar, shape) if shape else scalar
