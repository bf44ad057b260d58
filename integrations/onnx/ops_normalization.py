"""ONNX -> WebNN converters: batch, instance, layer and group normalization, MVN, LRN.

BatchNormalization (inference form), InstanceNormalization (any rank >= 3, folded to
the 4-D NCHW form WebNN has) and LayerNormalization map directly; GroupNormalization,
MeanVarianceNormalization and LRN are short compositions of WebNN ops.
"""

from __future__ import annotations

import math

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason, normalize_axis


def _same_types(node: NodeView, indices: range) -> str | None:
    types = {node.in_type(i) for i in indices if node.has_input(i)}
    return None if len(types) == 1 else f"inputs have different data types {sorted(types)}"


def _batch_norm_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 2:
        return "BatchNormalization of rank < 2"
    if node.attr("training_mode", 0) or any(node.has_output(i) for i in range(1, 5)):
        return "BatchNormalization in training mode (extra outputs)"
    if node.opset < 9 and node.attr("spatial", 1) != 1:
        return "BatchNormalization with spatial=0"
    if any(node.rank(i) != 1 for i in range(1, 5)):
        return "scale, B, mean and var must be 1-D"
    return _same_types(node, range(5)) or dtype_reason(query, "batch_normalization", node.in_type(0))


@converter("BatchNormalization", webnn_ops=("batch_normalization",), opsets=(7, None), check=_batch_norm_check)
def convert_batch_norm(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x, scale, bias, mean, var = (cx.operand(n) for n in node.inputs[:5])
    return [cx.builder.batch_normalization(x, mean, var, scale=scale, bias=bias, axis=1,
                                           epsilon=float(node.attr("epsilon", 1e-5)))]


def _instance_norm_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 3:
        return "InstanceNormalization of rank < 3"
    return _same_types(node, range(3)) or dtype_reason(query, "instance_normalization", node.in_type(0))


@converter("InstanceNormalization", webnn_ops=("instance_normalization", "reshape"), opsets=(6, None),
           check=_instance_norm_check)
def convert_instance_norm(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x, scale, bias = (cx.operand(n) for n in node.inputs[:3])
    shape = list(x.shape)
    folded = x if len(shape) == 4 else b.reshape(x, [shape[0], shape[1], math.prod(shape[2:]), 1])
    y = b.instance_normalization(folded, scale=scale, bias=bias, epsilon=float(node.attr("epsilon", 1e-5)),
                                 layout="nchw")
    return [y if len(shape) == 4 else b.reshape(y, shape)]


def _fit(b: MLGraphBuilder, value: MLOperand, shape: list[int]) -> MLOperand:
    """``value`` (broadcastable to ``shape``) reshaped/expanded to exactly ``shape``."""
    if list(value.shape) == shape:
        return value
    dims = [1] * (len(shape) - len(value.shape)) + list(value.shape)
    if dims != list(value.shape):
        value = b.reshape(value, dims)
    return b.expand(value, shape) if dims != shape else value


def _layer_norm_check(query: SupportQuery, node: NodeView) -> str | None:
    if (node.has_output(1) or node.has_output(2)) and not all(
            node.out_type(k) == node.in_type(0) for k in (1, 2) if node.has_output(k)):
        return "LayerNormalization Mean/InvStdDev in another precision (stash_type)"
    return _same_types(node, range(3)) or dtype_reason(query, "layer_normalization", node.in_type(0))


@converter("LayerNormalization", webnn_ops=("layer_normalization", "reshape", "expand"), opsets=(17, None),
           check=_layer_norm_check)
def convert_layer_norm(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    rank = len(x.shape)
    axis = normalize_axis(int(node.attr("axis", -1)), rank)
    axes = list(range(axis, rank))
    norm_shape = list(x.shape[axis:])
    epsilon = float(node.attr("epsilon", 1e-5))
    if node.has_output(1) or node.has_output(2):
        return _layer_norm_with_statistics(cx, node, x, axes, epsilon)
    kwargs = {"axes": axes, "epsilon": epsilon}
    if node.has_input(1):
        kwargs["scale"] = _fit(b, cx.operand(node.inputs[1]), norm_shape)
    if node.has_input(2):
        kwargs["bias"] = _fit(b, cx.operand(node.inputs[2]), norm_shape)
    return [b.layer_normalization(x, **kwargs)]


def _layer_norm_with_statistics(cx: ConvertContext, node: NodeView, x: MLOperand, axes: list[int],
                                epsilon: float) -> list[MLOperand | None]:
    """LayerNormalization spelled out, because ONNX also wants the mean and 1/std."""
    b = cx.builder
    dt = x.data_type
    mean = b.reduce_mean(x, axes=axes, keep_dimensions=True)
    centred = b.sub(x, mean)
    inv_std = b.reciprocal(b.sqrt(b.add(b.reduce_mean(b.mul(centred, centred), axes=axes, keep_dimensions=True),
                                        cx.scalar(epsilon, dt))))
    y = b.mul(centred, inv_std)
    if node.has_input(1):
        y = b.mul(y, cx.operand(node.inputs[1]))
    if node.has_input(2):
        y = b.add(y, cx.operand(node.inputs[2]))
    return [y, mean if node.has_output(1) else None, inv_std if node.has_output(2) else None]


def _group_norm_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 3:
        return "GroupNormalization of rank < 3"
    groups = int(node.attr("num_groups", 1))
    channels = node.in_shape(0)[1]
    if groups <= 0 or channels % groups:
        return f"num_groups={groups} does not divide {channels} channels"
    return _same_types(node, range(3)) or dtype_reason(query, "layer_normalization", node.in_type(0))


@converter("GroupNormalization", webnn_ops=("layer_normalization", "reshape", "expand", "mul", "add"),
           opsets=(18, None), check=_group_norm_check)
def convert_group_norm(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x, scale, bias = (cx.operand(n) for n in node.inputs[:3])
    shape = list(x.shape)
    n, c = shape[0], shape[1]
    groups = int(node.attr("num_groups"))
    grouped = b.reshape(x, [n, groups, math.prod(shape[1:]) // groups])
    normed = b.reshape(b.layer_normalization(grouped, axes=[2], epsilon=float(node.attr("epsilon", 1e-5))), shape)
    per_channel = [1, c] + [1] * (len(shape) - 2)

    def channels(v: MLOperand) -> MLOperand:
        if v.shape[0] != c:  # opset 18: one value per group, repeated over its channels
            v = b.reshape(b.expand(b.reshape(v, [groups, 1]), [groups, c // groups]), [c])
        return b.reshape(v, per_channel)

    return [b.add(b.mul(normed, channels(scale)), channels(bias))]


@converter("MeanVarianceNormalization", webnn_ops=("reduce_mean", "sub", "mul", "sqrt", "add", "div"),
           opsets=(9, None), check=lambda q, n: dtype_reason(q, "reduce_mean", n.in_type(0)))
def convert_mvn(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    rank = len(x.shape)
    axes = sorted({normalize_axis(int(a), rank) for a in node.attr("axes", [0, 2, 3])})
    centred = b.sub(x, b.reduce_mean(x, axes=axes, keep_dimensions=True))
    var = b.reduce_mean(b.mul(centred, centred), axes=axes, keep_dimensions=True)
    return [b.div(centred, b.add(b.sqrt(var), cx.scalar(1e-9, x.data_type)))]


def _lrn_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 3:
        return "LRN of rank < 3"
    return dtype_reason(query, "average_pool2d", node.in_type(0))


@converter("LRN", webnn_ops=("average_pool2d", "pad", "reshape", "mul", "add", "pow", "div"), opsets=(1, None),
           check=_lrn_check)
def convert_lrn(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    """y = x / (bias + alpha / size * sum of x**2 over a window of channels) ** beta."""
    b = cx.builder
    x = cx.operand(node.inputs[0])
    shape = list(x.shape)
    n, c = shape[0], shape[1]
    rest = math.prod(shape[2:])
    size = int(node.attr("size"))
    before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
    dt = x.data_type
    squares = b.reshape(b.mul(x, x), [n, 1, c, rest])
    padded = b.pad(squares, [0, 0, before, 0], [0, 0, after, 0], mode="constant", value=0)
    mean = b.average_pool2d(padded, window_dimensions=[size, 1])  # = window sum / size
    mean = b.reshape(mean, shape)
    alpha = cx.scalar(float(node.attr("alpha", 1e-4)), dt)
    base = b.add(cx.scalar(float(node.attr("bias", 1.0)), dt), b.mul(mean, alpha))
    return [b.div(x, b.pow(base, cx.scalar(float(node.attr("beta", 0.75)), dt)))]
