"""Activation ATen ops: relu, leaky_relu, elu, gelu, hardtanh, sigmoid, tanh, softmax,
log_softmax, hardswish, hardsigmoid, softplus, silu."""

from __future__ import annotations

import math

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
    norm_dim,
    out_dtype,
    output_dtype_check,
    rank_of,
)


@converter(aten.relu.default, webnn_ops=("relu",), check=output_dtype_check("relu"))
def relu(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.relu(cx.operand(node.args[0]))


@converter(aten.sigmoid.default, webnn_ops=("sigmoid",), check=float_output_check("sigmoid"))
def sigmoid(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.sigmoid(cx.operand(node.args[0], out_dtype(node)))


@converter(aten.tanh.default, webnn_ops=("tanh",), check=float_output_check("tanh"))
def tanh(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.tanh(cx.operand(node.args[0], out_dtype(node)))


@converter(aten.leaky_relu.default, webnn_ops=("leaky_relu",), check=float_output_check("leaky_relu"))
def leaky_relu(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.leaky_relu(cx.operand(node.args[0]), alpha=float(arg(node, 1, "negative_slope", 0.01)))


def _elu_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 2, "scale", 1) != 1 or arg(node, 3, "input_scale", 1) != 1:
        return "elu with scale or input_scale (selu/celu form) has no WebNN equivalent"
    return float_output_check("elu")(query, node)


@converter(aten.elu.default, webnn_ops=("elu",), check=_elu_check)
def elu(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.elu(cx.operand(node.args[0]), alpha=float(arg(node, 1, "alpha", 1.0)))


def _gelu_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 1, "approximate", "none") == "tanh":
        dt = dtype_of(node)
        return first_reason(*(dtype_reason(query, o, dt) for o in ("tanh", "mul", "add")),
                            None if dt is not None and dt.is_floating_point else "gelu on integers")
    return float_output_check("gelu")(query, node)


@converter(aten.gelu.default, webnn_ops=(), check=_gelu_check)
def gelu(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    if arg(node, 1, "approximate", "none") != "tanh":
        return cx.builder.gelu(x)
    # 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), the formula torch documents
    b, dt = cx.builder, out_dtype(node)
    cube = b.mul(b.mul(x, x), x)
    inner = b.mul(b.add(x, b.mul(cube, cx.scalar(0.044715, dt))), cx.scalar(math.sqrt(2.0 / math.pi), dt))
    return b.mul(b.mul(x, cx.scalar(0.5, dt)), b.add(b.tanh(inner), cx.scalar(1.0, dt)))


def _hardtanh_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return float_output_check("clamp")(query, node)


@converter(aten.hardtanh.default, webnn_ops=("clamp",), check=_hardtanh_check)
def hardtanh(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.clamp(cx.operand(node.args[0]), min_value=float(arg(node, 1, "min_val", -1.0)),
                            max_value=float(arg(node, 2, "max_val", 1.0)))


def _softmax_check(op: str) -> object:
    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        if arg(node, 2, "half_to_float", False):
            return "softmax with half_to_float"
        if rank_of(node.args[0]) == 0:
            return "softmax of a 0-d tensor"
        return first_reason(float_output_check("softmax")(query, node) if op == "softmax" else
                            first_reason(float_output_check("reduce_log_sum_exp")(query, node),
                                         dtype_reason(query, "sub", dtype_of(node))))

    return check


@converter(aten._softmax.default, webnn_ops=("softmax",), check=_softmax_check("softmax"))
def softmax(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = node.args[0]
    return cx.builder.softmax(cx.operand(x), norm_dim(int(node.args[1]), rank_of(x)))


@converter(aten._log_softmax.default, webnn_ops=("reduce_log_sum_exp", "sub"), check=_softmax_check("log"))
def log_softmax(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = node.args[0]
    xo = cx.operand(x)
    axis = norm_dim(int(node.args[1]), rank_of(x))
    return cx.builder.sub(xo, cx.builder.reduce_log_sum_exp(xo, axes=[axis], keep_dimensions=True))


@converter(aten.hardswish.default, webnn_ops=("hard_swish",), check=float_output_check("hard_swish"))
def hardswish(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.hard_swish(cx.operand(node.args[0]))


@converter(aten.hardsigmoid.default, webnn_ops=("hard_sigmoid",), check=float_output_check("hard_sigmoid"))
def hardsigmoid(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.hard_sigmoid(cx.operand(node.args[0]), alpha=1.0 / 6.0, beta=0.5)


def _softplus_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 1, "beta", 1) <= 0:
        return "softplus with beta <= 0"
    dt = dtype_of(node)
    return first_reason(float_output_check("softplus")(query, node),
                        *(dtype_reason(query, o, dt) for o in ("mul", "div", "greater")),
                        dtype_reason(query, "where", dt, "true_value"))


@converter(aten.softplus.default, webnn_ops=("softplus",), check=_softplus_check)
def softplus(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    """torch's softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    b, dt = cx.builder, out_dtype(node)
    x = cx.operand(node.args[0])
    beta = float(arg(node, 1, "beta", 1))
    threshold = float(arg(node, 2, "threshold", 20))
    scaled = x if beta == 1 else b.mul(x, cx.scalar(beta, dt))
    y = b.softplus(scaled)
    if beta != 1:
        y = b.div(y, cx.scalar(beta, dt))
    return b.where(b.greater(scaled, cx.scalar(threshold, dt)), x, y)


@converter(aten.silu.default, webnn_ops=("sigmoid", "mul"), check=float_output_check("sigmoid"))
def silu(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    return cx.builder.mul(x, cx.builder.sigmoid(x))
