"""Convolutions, fully connected, batch matmul and pooling (NHWC, as TFLite stores them).

TFLite keeps activations NHWC and filters OHWI (CONV_2D), 1HWC (DEPTHWISE_CONV_2D)
and OHWI (TRANSPOSE_CONV); WebNN takes those layouts directly ("nhwc" with "ohwi",
"ihwo" and "ohwi"), so no weights are transposed. SAME padding is resolved to explicit
pads from the input size, TensorFlow's way (the odd pixel at the end).
"""

from __future__ import annotations

from webnn import MLOperand
from webnn.converters import SupportQuery

from .._model import Op, Subgraph
from ._base import (
    ConvertContext,
    activation_of,
    all_of,
    check_activation,
    check_const,
    check_float,
    converter,
    fused,
    padding_2d,
    rank_of,
)


def _float_act(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return check_float(op, sub) or check_activation(op)


def _rank4(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    idx = 2 if op.name == "TRANSPOSE_CONV" else 0
    if rank_of(sub, op.inputs[idx]) != 4:
        return f"input has rank {rank_of(sub, op.inputs[idx])}, expected 4 (NHWC)"
    return None


def _bias(cx: ConvertContext, op: Op, position: int) -> MLOperand | None:
    if len(op.inputs) > position and op.inputs[position] >= 0:
        return cx.value(op.inputs[position])
    return None


@converter("CONV_2D", webnn_ops=("conv2d", "relu", "clamp", "tanh"), check=all_of(_float_act, _rank4))
def conv_2d(cx: ConvertContext, op: Op) -> MLOperand:
    o = op.options
    x, w = cx.value(op.inputs[0]), cx.value(op.inputs[1])
    strides = [int(o.strideH), int(o.strideW)]
    dilations = [int(o.dilationHFactor or 1), int(o.dilationWFactor or 1)]
    kh, kw, cin = w.shape[1], w.shape[2], w.shape[3]
    groups = x.shape[3] // cin
    pad = padding_2d(int(o.padding), x.shape[1:3], (kh, kw), strides, dilations)
    y = cx.builder.conv2d(x, w, padding=pad, strides=strides, dilations=dilations, groups=groups,
                          input_layout="nhwc", filter_layout="ohwi", bias=_bias(cx, op, 2))
    return fused(cx, y, activation_of(op))


@converter("DEPTHWISE_CONV_2D", webnn_ops=("conv2d", "relu", "clamp", "tanh"), check=all_of(_float_act, _rank4))
def depthwise_conv_2d(cx: ConvertContext, op: Op) -> MLOperand:
    o = op.options
    x, w = cx.value(op.inputs[0]), cx.value(op.inputs[1])
    strides = [int(o.strideH), int(o.strideW)]
    dilations = [int(o.dilationHFactor or 1), int(o.dilationWFactor or 1)]
    kh, kw = w.shape[1], w.shape[2]
    pad = padding_2d(int(o.padding), x.shape[1:3], (kh, kw), strides, dilations)
    # Filter [1, KH, KW, C * multiplier] is WebNN's "ihwo" with one input channel per group.
    y = cx.builder.conv2d(x, w, padding=pad, strides=strides, dilations=dilations, groups=x.shape[3],
                          input_layout="nhwc", filter_layout="ihwo", bias=_bias(cx, op, 2))
    return fused(cx, y, activation_of(op))


def _transpose_conv_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return check_float(op, sub, inputs=(1, 2, 3)) or check_activation(op) or check_const(op, sub, 0)


@converter("TRANSPOSE_CONV", webnn_ops=("conv_transpose2d", "relu", "clamp", "tanh"),
           check=all_of(_transpose_conv_check, _rank4))
def transpose_conv(cx: ConvertContext, op: Op) -> MLOperand:
    o = op.options
    out_shape = [int(v) for v in cx.static(op.inputs[0])]
    w, x = cx.value(op.inputs[1]), cx.value(op.inputs[2])
    strides = [int(o.strideH), int(o.strideW)]
    kh, kw = w.shape[1], w.shape[2]
    pad = [0, 0, 0, 0]
    if int(o.padding) == 0:  # SAME: padding of the forward conv from output to input
        for axis, (size_in, size_out, k, s) in enumerate(((x.shape[1], out_shape[1], kh, strides[0]),
                                                           (x.shape[2], out_shape[2], kw, strides[1]))):
            total = max((size_in - 1) * s + k - size_out, 0)
            pad[2 * axis], pad[2 * axis + 1] = total // 2, total - total // 2
    y = cx.builder.conv_transpose2d(x, w, padding=pad, strides=strides, output_sizes=out_shape[1:3],
                                    input_layout="nhwc", filter_layout="ohwi", bias=_bias(cx, op, 3))
    return fused(cx, y, activation_of(op))


def _fc_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    if int(getattr(op.options, "weightsFormat", 0) or 0) != 0:
        return "shuffled weights format"
    if rank_of(sub, op.inputs[1]) != 2:
        return "weights are not 2-D"
    return None


@converter("FULLY_CONNECTED", webnn_ops=("gemm", "reshape", "relu", "clamp", "tanh"),
           check=all_of(_float_act, _fc_check))
def fully_connected(cx: ConvertContext, op: Op) -> MLOperand:
    b = cx.builder
    x, w = cx.value(op.inputs[0]), cx.value(op.inputs[1])
    k = w.shape[1]
    lead = x.shape[:-1]
    rows = 1
    for d in x.shape:
        rows *= d
    rows //= k
    x2 = x if len(x.shape) == 2 and x.shape[1] == k else b.reshape(x, [rows, k])
    y = b.gemm(x2, w, c=_bias(cx, op, 2), b_transpose=True)
    if getattr(op.options, "keepNumDims", False) and len(x.shape) != 2:
        y = b.reshape(y, [*lead, w.shape[0]])
    return fused(cx, y, activation_of(op))


@converter("BATCH_MATMUL", webnn_ops=("matmul", "transpose"), check=lambda q, op, sub: check_float(op, sub))
def batch_matmul(cx: ConvertContext, op: Op) -> MLOperand:
    b = cx.builder
    x, y = cx.value(op.inputs[0]), cx.value(op.inputs[1])

    def swap(v: MLOperand) -> MLOperand:
        r = len(v.shape)
        return b.transpose(v, permutation=[*range(r - 2), r - 1, r - 2])

    if getattr(op.options, "adjX", False):
        x = swap(x)
    if getattr(op.options, "adjY", False):
        y = swap(y)
    return b.matmul(x, y)


def _pool(kind: str):  # noqa: ANN202
    def convert(cx: ConvertContext, op: Op) -> MLOperand:
        o = op.options
        x = cx.value(op.inputs[0])
        window = [int(o.filterHeight), int(o.filterWidth)]
        strides = [int(o.strideH), int(o.strideW)]
        pad = padding_2d(int(o.padding), x.shape[1:3], window, strides, (1, 1))
        y = getattr(cx.builder, kind)(x, window_dimensions=window, padding=pad, strides=strides, layout="nhwc")
        return fused(cx, y, activation_of(op))

    return convert


def _pool_check(webnn_op: str):  # noqa: ANN202
    def check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
        t = sub.tensors[op.inputs[0]]
        out = sub.tensors[op.outputs[0]]
        if webnn_op == "max_pool2d" and t.quant is not None:
            # Max pooling commutes with an affine map when input and output share it.
            if out.quant is None or t.quant.scale.tolist() != out.quant.scale.tolist() or \
                    t.quant.zero_point.tolist() != out.quant.zero_point.tolist():
                return "quantized max pool that requantizes"
            if activation_of(op) != 0:
                return "quantized max pool with a fused activation"
            from ._base import webnn_type

            dt = webnn_type(t)
            if dt is None or not query.data_type_ok(webnn_op, dt):
                return f"{t.type_name} max pooling not supported by this context"
            return None
        return check_float(op, sub) or check_activation(op)

    return check


converter("AVERAGE_POOL_2D", webnn_ops=("average_pool2d",),
          check=all_of(_pool_check("average_pool2d"), _rank4))(_pool("average_pool2d"))
converter("MAX_POOL_2D", webnn_ops=("max_pool2d",), check=all_of(_pool_check("max_pool2d"), _rank4))(
    _pool("max_pool2d"))
converter("L2_POOL_2D", webnn_ops=("l2_pool2d",), check=all_of(_pool_check("l2_pool2d"), _rank4))(
    _pool("l2_pool2d"))
