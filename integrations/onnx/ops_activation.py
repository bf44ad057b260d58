"""ONNX -> WebNN converters: activations and softmax.

Direct mappings where WebNN has the op (Relu, LeakyRelu, Elu, Gelu, HardSigmoid,
HardSwish, PRelu, Sigmoid, Softplus, Softsign, Tanh, Softmax); short compositions for
the ONNX activations WebNN lacks (Selu, Celu, ThresholdedRelu, Mish, LogSoftmax, tanh
Gelu).
"""

from __future__ import annotations

import math

import numpy as np

from webnn import MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason, normalize_axis

PLAIN = {"Relu": "relu", "Sigmoid": "sigmoid", "Softplus": "softplus", "Softsign": "softsign", "Tanh": "tanh",
         "HardSwish": "hard_swish"}


def _plain_check(query: SupportQuery, node: NodeView) -> str | None:
    return dtype_reason(query, PLAIN[node.op_type], node.in_type(0))


def convert_plain(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [getattr(cx.builder, PLAIN[node.op_type])(cx.operand(node.inputs[0]))]


for _onnx, _webnn in PLAIN.items():
    converter(_onnx, webnn_ops=(_webnn,), opsets=(6, None), check=_plain_check)(convert_plain)


@converter("LeakyRelu", webnn_ops=("leaky_relu",), opsets=(6, None),
           check=lambda q, n: dtype_reason(q, "leaky_relu", n.in_type(0)))
def convert_leaky_relu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.leaky_relu(cx.operand(node.inputs[0]), alpha=float(node.attr("alpha", 0.01)))]


@converter("Elu", webnn_ops=("elu",), opsets=(6, None), check=lambda q, n: dtype_reason(q, "elu", n.in_type(0)))
def convert_elu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.elu(cx.operand(node.inputs[0]), alpha=float(node.attr("alpha", 1.0)))]


@converter("Selu", webnn_ops=("elu", "mul"), opsets=(6, None), check=lambda q, n: dtype_reason(q, "elu", n.in_type(0)))
def convert_selu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    alpha = float(node.attr("alpha", 1.67326319217681884765625))
    gamma = float(node.attr("gamma", 1.05070102214813232421875))
    return [cx.builder.mul(cx.builder.elu(x, alpha=alpha), cx.scalar(gamma, x.data_type))]


@converter("Celu", webnn_ops=("elu", "mul", "div"), opsets=(12, None),
           check=lambda q, n: dtype_reason(q, "elu", n.in_type(0)))
def convert_celu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    alpha = cx.scalar(float(node.attr("alpha", 1.0)), x.data_type)
    return [b.mul(b.elu(b.div(x, alpha), alpha=1.0), alpha)]


@converter("ThresholdedRelu", webnn_ops=("greater", "where"), opsets=(10, None),
           check=lambda q, n: dtype_reason(q, "greater", n.in_type(0)))
def convert_thresholded_relu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    keep = b.greater(x, cx.scalar(float(node.attr("alpha", 1.0)), x.data_type))
    return [b.where(keep, x, cx.scalar(0.0, x.data_type))]


@converter("Mish", webnn_ops=("softplus", "tanh", "mul"), opsets=(18, None),
           check=lambda q, n: dtype_reason(q, "softplus", n.in_type(0)))
def convert_mish(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    return [b.mul(x, b.tanh(b.softplus(x)))]


@converter("HardSigmoid", webnn_ops=("hard_sigmoid",), opsets=(6, None),
           check=lambda q, n: dtype_reason(q, "hard_sigmoid", n.in_type(0)))
def convert_hard_sigmoid(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.hard_sigmoid(cx.operand(node.inputs[0]), alpha=float(node.attr("alpha", 0.2)),
                                    beta=float(node.attr("beta", 0.5)))]


def _gelu_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.attr("approximate", "none") not in ("none", "tanh"):
        return f"Gelu approximate={node.attr('approximate')!r}"
    return dtype_reason(query, "gelu", node.in_type(0))


@converter("Gelu", webnn_ops=("gelu", "tanh", "mul", "add", "pow"), opsets=(20, None), check=_gelu_check)
def convert_gelu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    if node.attr("approximate", "none") == "none":
        return [b.gelu(x)]
    dt = x.data_type
    # 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    inner = b.mul(b.add(x, b.mul(b.pow(x, cx.scalar(3.0, dt)), cx.scalar(0.044715, dt))),
                  cx.scalar(math.sqrt(2.0 / math.pi), dt))
    return [b.mul(b.mul(x, cx.scalar(0.5, dt)), b.add(b.tanh(inner), cx.scalar(1.0, dt)))]


def _prelu_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.in_type(0) != node.in_type(1):
        return "X and slope have different data types"
    return dtype_reason(query, "prelu", node.in_type(0))


@converter("PRelu", webnn_ops=("prelu",), opsets=(7, None), check=_prelu_check)
def convert_prelu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.prelu(cx.operand(node.inputs[0]), cx.operand(node.inputs[1]))]


def _softmax_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) == 0:
        return "softmax of a scalar"
    return dtype_reason(query, "softmax", node.in_type(0))


def _softmax_axis(node: NodeView) -> int:
    default = -1 if node.opset >= 13 else 1
    return normalize_axis(int(node.attr("axis", default)), node.rank(0))


def _coerced(cx: ConvertContext, node: NodeView, fn: object) -> MLOperand:
    """Before opset 13, (Log)Softmax flattens to 2-D at ``axis`` and works on the second dim."""
    b = cx.builder
    x = cx.operand(node.inputs[0])
    axis = _softmax_axis(node)
    if node.opset >= 13:
        return fn(x, axis)  # type: ignore[operator]
    shape = list(x.shape)
    rows = math.prod(shape[:axis])
    flat = b.reshape(x, [rows, math.prod(shape[axis:])]) if len(shape) != 2 or axis != 1 else x
    out = fn(flat, 1)  # type: ignore[operator]
    return b.reshape(out, shape) if out.shape != tuple(shape) else out


@converter("Softmax", webnn_ops=("softmax", "reshape"), opsets=(1, None), check=_softmax_check)
def convert_softmax(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [_coerced(cx, node, cx.builder.softmax)]


@converter("LogSoftmax", webnn_ops=("reduce_log_sum_exp", "reduce_max", "sub", "reshape"), opsets=(1, None),
           check=lambda q, n: _softmax_check(q, n) or dtype_reason(q, "reduce_log_sum_exp", n.in_type(0)))
def convert_log_softmax(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder

    def log_softmax(x: MLOperand, axis: int) -> MLOperand:
        # x - max - log(sum(exp(x - max))): shifting first keeps exp from overflowing.
        top = b.reduce_max(x, axes=[axis], keep_dimensions=True)
        shifted = b.sub(x, top)
        return b.sub(shifted, b.reduce_log_sum_exp(shifted, axes=[axis], keep_dimensions=True))

    return [_coerced(cx, node, log_softmax)]


@converter("Hardmax", webnn_ops=("arg_max", "equal", "cast", "expand", "reshape"), opsets=(13, None),
           check=lambda q, n: _softmax_check(q, n) or dtype_reason(q, "arg_max", n.in_type(0)))
def convert_hardmax(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    axis = _softmax_axis(node)
    index = b.arg_max(x, axis, keep_dimensions=True, output_data_type="int32")
    n = x.shape[axis]
    positions = [1] * len(x.shape)
    positions[axis] = n
    iota = cx.constant(np.arange(n, dtype=np.int32).reshape(positions))
    return [b.cast(b.equal(index, iota), x.data_type)]
