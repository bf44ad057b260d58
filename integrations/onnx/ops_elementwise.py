"""ONNX -> WebNN converters: element-wise arithmetic, comparison, logic, unary math, Cast, Clip, Where.

ONNX broadcasting (multidirectional, numpy rules) is WebNN's bidirectional
broadcasting, so binary ops map one to one. ONNX bool tensors are WebNN uint8 0/1.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
from onnx import TensorProto

from webnn import MLOperand
from webnn.converters import SupportQuery

from .model import ONNX_TO_WEBNN
from .registry import Check, Convert, ConvertContext, NodeView, converter, dtype_reason

BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow"}
COMPARE = {"Equal": "equal", "Greater": "greater", "Less": "lesser", "GreaterOrEqual": "greater_or_equal",
           "LessOrEqual": "lesser_or_equal"}
LOGICAL = {"And": "logical_and", "Or": "logical_or", "Xor": "logical_xor"}
UNARY = {"Abs": "abs", "Ceil": "ceil", "Cos": "cos", "Erf": "erf", "Exp": "exp", "Floor": "floor", "Log": "log",
         "Neg": "neg", "Reciprocal": "reciprocal", "Sin": "sin", "Sqrt": "sqrt", "Tan": "tan", "Sign": "sign",
         "Round": "round_even", "Not": "logical_not", "IsNaN": "is_nan"}
VARIADIC = {"Sum": "add", "Max": "max", "Min": "min", "Mean": "add"}


def _same_input_types(node: NodeView) -> str | None:
    types = {node.in_type(i) for i in range(len(node.inputs)) if node.has_input(i)}
    if len(types) > 1:
        return f"inputs have different data types {sorted(types)}"
    return None


def _binary_check(query: SupportQuery, node: NodeView) -> str | None:
    op = BINARY[node.op_type]
    if node.op_type == "Pow" and node.in_type(0) != node.in_type(1):
        if node.const(1) is None:
            return "Pow with an exponent of another data type needs a constant exponent"
    elif (reason := _same_input_types(node)) is not None:
        return reason
    return dtype_reason(query, op, node.in_type(0))


def convert_binary(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    a = cx.operand(node.inputs[0])
    if node.op_type == "Pow" and node.in_type(0) != node.in_type(1):
        b = cx.constant(node.const(1), a.data_type)
    else:
        b = cx.operand(node.inputs[1])
    return [getattr(cx.builder, BINARY[node.op_type])(a, b)]


def _compare_check(query: SupportQuery, node: NodeView) -> str | None:
    return _same_input_types(node) or dtype_reason(query, COMPARE[node.op_type], node.in_type(0))


def convert_compare(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    a, b = cx.operand(node.inputs[0]), cx.operand(node.inputs[1])
    return [getattr(cx.builder, COMPARE[node.op_type])(a, b)]


def _logical_check(query: SupportQuery, node: NodeView) -> str | None:
    return dtype_reason(query, LOGICAL[node.op_type], "uint8")


def convert_logical(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    a, b = cx.operand(node.inputs[0]), cx.operand(node.inputs[1])
    return [getattr(cx.builder, LOGICAL[node.op_type])(a, b)]


def _unary_check(query: SupportQuery, node: NodeView) -> str | None:
    return dtype_reason(query, UNARY[node.op_type], node.in_type(0))


def convert_unary(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [getattr(cx.builder, UNARY[node.op_type])(cx.operand(node.inputs[0]))]


def _is_inf_check(query: SupportQuery, node: NodeView) -> str | None:
    pos, neg = node.attr("detect_positive", 1), node.attr("detect_negative", 1)
    if not pos and not neg:
        return "IsInf with both detect_positive and detect_negative off"
    return dtype_reason(query, "is_infinite", node.in_type(0))


@converter("IsInf", webnn_ops=("is_infinite", "logical_and", "greater", "lesser"), opsets=(10, None),
           check=_is_inf_check)
def convert_is_inf(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    inf = b.is_infinite(x)
    pos, neg = node.attr("detect_positive", 1), node.attr("detect_negative", 1)
    if pos and neg:
        return [inf]
    zero = cx.scalar(0, x.data_type)
    sign = b.greater(x, zero) if pos else b.lesser(x, zero)
    return [b.logical_and(inf, sign)]


@converter("Identity", webnn_ops=("identity",), opsets=(1, None),
           check=lambda q, n: dtype_reason(q, "identity", n.in_type(0)))
def convert_identity(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.identity(cx.operand(node.inputs[0]))]


def _dropout_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.opset >= 12 and node.has_input(2):
        training = node.const(2)
        if training is None or bool(np.asarray(training).reshape(-1)[0]):
            return "Dropout in training mode (training_mode must be a constant false)"
    if node.opset < 7 and node.attr("is_test", 0) == 0:
        return "Dropout in training mode (is_test=0)"
    return dtype_reason(query, "identity", node.in_type(0))


@converter("Dropout", webnn_ops=("identity", "expand"), opsets=(1, None), check=_dropout_check)
def convert_dropout(cx: ConvertContext, node: NodeView) -> list[MLOperand | None]:
    x = cx.operand(node.inputs[0])
    outs: list[MLOperand | None] = [cx.builder.identity(x)]
    if node.has_output(1):  # the mask is all true at inference
        outs.append(cx.builder.expand(cx.scalar(1, "uint8", len(x.shape)), list(x.shape)))
    return outs


def _variadic_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.op_type == "Mean" and node.in_type(0) not in ("float32", "float16"):
        return "Mean of integers"
    reason = _same_input_types(node)
    if reason is None and len([n for n in node.inputs if n]) == 1:
        return dtype_reason(query, "identity", node.in_type(0))
    return reason or dtype_reason(query, VARIADIC[node.op_type], node.in_type(0))


@converter(*VARIADIC, webnn_ops=("add", "max", "min", "div", "identity"), opsets=(6, None), check=_variadic_check)
def convert_variadic(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    operands = [cx.operand(n) for n in node.inputs if n]
    if len(operands) == 1:
        return [b.identity(operands[0])]
    fn = getattr(b, VARIADIC[node.op_type])
    result = reduce(fn, operands)
    if node.op_type == "Mean":
        result = b.div(result, cx.scalar(len(operands), result.data_type))
    return [result]


def _where_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.in_type(1) != node.in_type(2):
        return "X and Y have different data types"
    return dtype_reason(query, "where", node.in_type(1), "true_value")


@converter("Where", webnn_ops=("where",), opsets=(9, None), check=_where_check)
def convert_where(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    c, x, y = (cx.operand(n) for n in node.inputs[:3])
    return [cx.builder.where(c, x, y)]


def _cast_target(node: NodeView) -> int:
    if node.op_type == "CastLike":
        return node.elem_type(node.inputs[1])
    return int(node.attr("to"))


def _cast_check(query: SupportQuery, node: NodeView) -> str | None:
    to = _cast_target(node)
    if to not in ONNX_TO_WEBNN:
        return f"Cast to element type {to} (no WebNN equivalent)"
    if to == TensorProto.BOOL:
        return dtype_reason(query, "not_equal", node.in_type(0))
    return dtype_reason(query, "cast", node.in_type(0))


@converter("Cast", "CastLike", webnn_ops=("cast", "not_equal", "identity"), opsets=(6, None), check=_cast_check)
def convert_cast(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    to = _cast_target(node)
    if to == TensorProto.BOOL:  # any non-zero is true; a plain cast would keep 2 as 2
        if node.in_is_bool(0):
            return [b.identity(x)]
        return [b.not_equal(x, cx.scalar(0, x.data_type))]
    target = ONNX_TO_WEBNN[to]
    if target == x.data_type:
        return [b.identity(x)]
    return [b.cast(x, target)]


def _clip_bounds(node: NodeView) -> tuple[float | int | None, float | int | None]:
    if node.opset < 11:
        return node.attr("min"), node.attr("max")
    lo = node.const(1) if node.has_input(1) else None
    hi = node.const(2) if node.has_input(2) else None
    return (None if lo is None else np.asarray(lo).reshape(-1)[0].item(),
            None if hi is None else np.asarray(hi).reshape(-1)[0].item())


def _clip_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.opset >= 11 and any(node.has_input(i) and node.const(i) is None for i in (1, 2)):
        # Bounds known only at run time: max(x, min) then min(.., max), as ORT computes it.
        return dtype_reason(query, "max", node.in_type(0)) or dtype_reason(query, "min", node.in_type(0))
    return dtype_reason(query, "clamp", node.in_type(0))


@converter("Clip", webnn_ops=("clamp",), opsets=(6, None), check=_clip_check)
def convert_clip(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    if node.opset >= 11 and any(node.has_input(i) and node.const(i) is None for i in (1, 2)):
        b = cx.builder
        y = cx.operand(node.inputs[0])
        if node.has_input(1):
            y = b.max(y, cx.operand(node.inputs[1]))
        if node.has_input(2):
            y = b.min(y, cx.operand(node.inputs[2]))
        return [y]
    lo, hi = _clip_bounds(node)
    kwargs = {}
    if lo is not None:
        kwargs["min_value"] = lo
    if hi is not None:
        kwargs["max_value"] = hi
    x = cx.operand(node.inputs[0])
    if lo is not None and hi is not None and lo > hi:  # ONNX: every value becomes max
        return [cx.builder.expand(cx.scalar(hi, x.data_type, len(x.shape)), list(x.shape))]
    return [cx.builder.clamp(x, **kwargs)]


def _register_table(table: dict[str, str], fn: Convert, check: Check, first_opset: int) -> None:
    for onnx_op, webnn_op in table.items():
        converter(onnx_op, webnn_ops=(webnn_op,), opsets=(first_opset, None), check=check)(fn)


_register_table(BINARY, convert_binary, _binary_check, 7)
_register_table(COMPARE, convert_compare, _compare_check, 7)
_register_table(LOGICAL, convert_logical, _logical_check, 7)
_register_table(UNARY, convert_unary, _unary_check, 6)
