"""Element-wise builtins: arithmetic with fused activations, math, activations, logic.

Broadcasting is NumPy's in both TFLite and WebNN. TFLite's comparisons and logical
ops produce bool tensors; WebNN produces uint8 0/1, which is the same byte, so the
values are written into the bool buffers as they are.
"""

from __future__ import annotations

import math

from webnn import MLOperand
from webnn.converters import SupportQuery

from .._model import Op, Subgraph
from ._base import (
    FLOATS,
    ConvertContext,
    activation_of,
    check_activation,
    check_float,
    converter,
    fused,
    io_types,
)

_BINARY = {"ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div", "MAXIMUM": "max", "MINIMUM": "min",
           "POW": "pow"}


def _binary_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    ins, outs = io_types(op, sub)
    webnn_op = _BINARY[op.name]
    for k, i in enumerate(op.inputs):
        t = sub.tensors[i]
        if t.quant is not None and (t.dtype is None or t.dtype.kind != "f"):
            return f"input {k} is quantized ({t.type_name}); integer requantization stays with TFLite"
        if ins[k] is None or not query.data_type_ok(webnn_op, ins[k]):
            return f"input {k} is {t.type_name}, not supported by WebNN {webnn_op} on this context"
    if ins[0] != ins[1]:
        return f"mixed input types {ins[0]} and {ins[1]}"
    if ins[0] not in FLOATS and activation_of(op) != 0:
        return "integer arithmetic with a fused activation"
    if ins[0] not in FLOATS and op.name in ("DIV", "POW"):
        return f"integer {op.name} (TFLite truncates or checks ranges differently)"
    return check_activation(op)


def _binary(cx: ConvertContext, op: Op) -> MLOperand:
    a, b = cx.value(op.inputs[0]), cx.value(op.inputs[1])
    y = getattr(cx.builder, _BINARY[op.name])(a, b)
    return fused(cx, y, activation_of(op))


for _name, _webnn in _BINARY.items():
    converter(_name, webnn_ops=(_webnn, "relu", "clamp", "tanh"), check=_binary_check)(_binary)


def _float_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return check_float(op, sub)


@converter("SQUARED_DIFFERENCE", webnn_ops=("sub", "mul"), check=_float_check)
def squared_difference(cx: ConvertContext, op: Op) -> MLOperand:
    d = cx.builder.sub(cx.value(op.inputs[0]), cx.value(op.inputs[1]))
    return cx.builder.mul(d, d)


@converter("FLOOR_DIV", webnn_ops=("div", "floor"), check=_float_check)
def floor_div(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.floor(cx.builder.div(cx.value(op.inputs[0]), cx.value(op.inputs[1])))


_UNARY = {"ABS": "abs", "NEG": "neg", "EXP": "exp", "LOG": "log", "SQRT": "sqrt", "SIN": "sin", "COS": "cos",
          "FLOOR": "floor", "CEIL": "ceil", "ROUND": "round_even", "TANH": "tanh", "LOGISTIC": "sigmoid",
          "RELU": "relu", "HARD_SWISH": "hard_swish", "ELU": "elu", "SIGN": "sign"}


def _unary(cx: ConvertContext, op: Op) -> MLOperand:
    return getattr(cx.builder, _UNARY[op.name])(cx.value(op.inputs[0]))


for _name, _webnn in _UNARY.items():
    converter(_name, webnn_ops=(_webnn,), check=_float_check)(_unary)


@converter("RSQRT", webnn_ops=("sqrt", "reciprocal"), check=_float_check)
def rsqrt(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.reciprocal(cx.builder.sqrt(cx.value(op.inputs[0])))


@converter("SQUARE", webnn_ops=("mul",), check=_float_check)
def square(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    return cx.builder.mul(x, x)


@converter("RELU6", webnn_ops=("clamp",), check=_float_check)
def relu6(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.clamp(cx.value(op.inputs[0]), min_value=0.0, max_value=6.0)


@converter("RELU_N1_TO_1", webnn_ops=("clamp",), check=_float_check)
def relu_n1_to_1(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.clamp(cx.value(op.inputs[0]), min_value=-1.0, max_value=1.0)


@converter("RELU_0_TO_1", webnn_ops=("clamp",), check=_float_check)
def relu_0_to_1(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.clamp(cx.value(op.inputs[0]), min_value=0.0, max_value=1.0)


@converter("LEAKY_RELU", webnn_ops=("leaky_relu",), check=_float_check)
def leaky_relu(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.leaky_relu(cx.value(op.inputs[0]), alpha=float(op.options.alpha))


@converter("PRELU", webnn_ops=("prelu",), check=_float_check)
def prelu(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.prelu(cx.value(op.inputs[0]), cx.value(op.inputs[1]))


@converter("GELU", webnn_ops=("gelu", "tanh", "mul", "add", "pow"), check=_float_check)
def gelu(cx: ConvertContext, op: Op) -> MLOperand:
    b = cx.builder
    x = cx.value(op.inputs[0])
    if not getattr(op.options, "approximate", False):
        return b.gelu(x)
    # 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
    inner = b.mul(cx.scalar(math.sqrt(2.0 / math.pi), x),
                  b.add(x, b.mul(cx.scalar(0.044715, x), b.mul(x, b.mul(x, x)))))
    return b.mul(b.mul(cx.scalar(0.5, x), x), b.add(cx.scalar(1.0, x), b.tanh(inner)))


_COMPARE = {"EQUAL": "equal", "NOT_EQUAL": "not_equal", "LESS": "lesser", "LESS_EQUAL": "lesser_or_equal",
            "GREATER": "greater", "GREATER_EQUAL": "greater_or_equal"}


def _compare_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    ins, _ = io_types(op, sub)
    for k, i in enumerate(op.inputs):
        t = sub.tensors[i]
        if t.quant is not None and (t.dtype is None or t.dtype.kind != "f"):
            return f"input {k} is quantized"
        if ins[k] is None or not query.data_type_ok(_COMPARE[op.name], ins[k]):
            return f"input {k} is {t.type_name}, not supported by WebNN {_COMPARE[op.name]}"
    if ins[0] != ins[1]:
        return f"mixed input types {ins[0]} and {ins[1]}"
    return None


def _compare(cx: ConvertContext, op: Op) -> MLOperand:
    return getattr(cx.builder, _COMPARE[op.name])(cx.value(op.inputs[0]), cx.value(op.inputs[1]))


for _name, _webnn in _COMPARE.items():
    converter(_name, webnn_ops=(_webnn,), check=_compare_check)(_compare)

_LOGICAL = {"LOGICAL_AND": "logical_and", "LOGICAL_OR": "logical_or", "LOGICAL_NOT": "logical_not"}


def _logical(cx: ConvertContext, op: Op) -> MLOperand:
    fn = getattr(cx.builder, _LOGICAL[op.name])
    return fn(*[cx.value(i) for i in op.inputs])


for _name, _webnn in _LOGICAL.items():
    converter(_name, webnn_ops=(_webnn,))(_logical)


def _select_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    ins, _ = io_types(op, sub)
    if ins[0] != "uint8" or sub.tensors[op.inputs[0]].dtype.name != "bool":
        return "condition is not bool"
    if ins[1] is None or ins[1] != ins[2] or not query.data_type_ok("where", ins[1], "true_value"):
        return f"values are {ins[1]} / {ins[2]}"
    if any(sub.tensors[i].quant is not None and sub.tensors[i].dtype.kind != "f" for i in op.inputs[1:]):
        return "quantized values"
    return None


@converter("SELECT", "SELECT_V2", webnn_ops=("where",), check=_select_check)
def select(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.where(*[cx.value(i) for i in op.inputs])


def _cast_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    ins, outs = io_types(op, sub)
    src, dst = sub.tensors[op.inputs[0]], sub.tensors[op.outputs[0]]
    if ins[0] is None or outs[0] is None:
        return f"cast {src.type_name} -> {dst.type_name}"
    if src.quant is not None or dst.quant is not None:
        return "quantized cast"
    if dst.dtype.name == "bool":
        return "cast to bool (TFLite tests != 0, WebNN truncates)"
    if src.dtype.kind == "f" and dst.dtype.kind in "iu":
        return "float -> integer cast (out-of-range values differ)"
    if not query.data_type_ok("cast", ins[0]):
        return f"cast from {ins[0]} not supported"
    return None


@converter("CAST", webnn_ops=("cast",), check=_cast_check)
def cast(cx: ConvertContext, op: Op) -> MLOperand:
    from ._base import webnn_type

    return cx.builder.cast(cx.value(op.inputs[0]), webnn_type(cx.tensor(op.outputs[0])))
