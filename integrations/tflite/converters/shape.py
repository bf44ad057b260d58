"""Data movement builtins: reshape, transpose, concat, split, slices, pads, gather, resize...

These move values without arithmetic, so they are exact on quantized int8/uint8
tensors too, as long as the output keeps the input's quantization (TFLite would
requantize otherwise, which stays with TFLite). Shapes, axes, permutations and
paddings must be constants of the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from webnn import MLOperand
from webnn.converters import SupportQuery

from .._model import Op, Subgraph, Tensor
from ._base import (
    FLOATS,
    ConvertContext,
    activation_of,
    check_activation,
    check_const,
    converter,
    fused,
    norm_axis,
    webnn_type,
)


def _same_quant(a: Tensor, b: Tensor) -> bool:
    if a.quant is None or b.quant is None:
        return a.quant is None and b.quant is None
    return a.quant.scale.tolist() == b.quant.scale.tolist() and \
        a.quant.zero_point.tolist() == b.quant.zero_point.tolist()


def _movement(webnn_op: str, data_inputs: Sequence[int] = (0,), consts: Sequence[int] = (),
              floats_only: bool = False):  # noqa: ANN202
    """Check: data inputs have a type ``webnn_op`` takes; quantization passes through
    unchanged; the listed inputs are constants."""

    def check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
        reason = check_const(op, sub, *consts)
        if reason:
            return reason
        outs = [sub.tensors[i] for i in op.outputs]
        for k in data_inputs:
            if k >= len(op.inputs) or op.inputs[k] < 0:
                continue
            t = sub.tensors[op.inputs[k]]
            dt = webnn_type(t)
            if dt is None:
                return f"input {k} is {t.type_name}"
            if floats_only and (dt not in FLOATS or t.quant is not None and t.dtype.kind != "f"):
                return f"input {k} is {t.type_name}; this converter is float-only"
            if not query.data_type_ok(webnn_op, dt):
                return f"{t.type_name} not supported by WebNN {webnn_op} on this context"
            if any(not _same_quant(t, o) for o in outs):
                return "the output is requantized"
        return None

    return check


def _ints(cx: ConvertContext, index: int) -> list[int]:
    data = cx.static(index)
    assert data is not None
    return [int(v) for v in np.asarray(data).reshape(-1)]


# -- reshapes ---------------------------------------------------------------------------
def _resolve(shape: list[int], count: int) -> list[int]:
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        shape = [count // known if d == -1 else d for d in shape]
    return shape


def _reshape_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return _movement("reshape", consts=(1,))(query, op, sub)


@converter("RESHAPE", webnn_ops=("reshape",), check=_reshape_check)
def reshape(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    if len(op.inputs) > 1 and op.inputs[1] >= 0:
        shape = _ints(cx, op.inputs[1])
    elif op.options is not None and getattr(op.options, "newShape", None) is not None:
        shape = [int(v) for v in op.options.newShape]
    else:
        shape = list(cx.tensor(op.outputs[0]).shape)
    return cx.builder.reshape(x, _resolve(shape, math.prod(x.shape)))


@converter("SQUEEZE", webnn_ops=("reshape",), check=_movement("reshape"))
def squeeze(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    dims = [norm_axis(int(d), len(x.shape)) for d in (getattr(op.options, "squeezeDims", None) or [])]
    keep = [d for i, d in enumerate(x.shape) if not (d == 1 and (not dims or i in dims))]
    return cx.builder.reshape(x, keep)


@converter("EXPAND_DIMS", webnn_ops=("reshape",), check=_movement("reshape", consts=(1,)))
def expand_dims(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    axis = norm_axis(_ints(cx, op.inputs[1])[0], len(x.shape) + 1)
    shape = list(x.shape)
    shape.insert(axis, 1)
    return cx.builder.reshape(x, shape)


@converter("TRANSPOSE", webnn_ops=("transpose",), check=_movement("transpose", consts=(1,)))
def transpose(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.transpose(cx.value(op.inputs[0]), permutation=_ints(cx, op.inputs[1]))


def _space_depth_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return _movement("transpose")(query, op, sub) or _movement("reshape")(query, op, sub)


@converter("DEPTH_TO_SPACE", webnn_ops=("reshape", "transpose"), check=_space_depth_check)
def depth_to_space(cx: ConvertContext, op: Op) -> MLOperand:
    b, x = cx.builder, cx.value(op.inputs[0])
    n, h, w, c = x.shape
    s = int(op.options.blockSize)
    y = b.reshape(x, [n, h, w, s, s, c // (s * s)])
    y = b.transpose(y, permutation=[0, 1, 3, 2, 4, 5])
    return b.reshape(y, [n, h * s, w * s, c // (s * s)])


@converter("SPACE_TO_DEPTH", webnn_ops=("reshape", "transpose"), check=_space_depth_check)
def space_to_depth(cx: ConvertContext, op: Op) -> MLOperand:
    b, x = cx.builder, cx.value(op.inputs[0])
    n, h, w, c = x.shape
    s = int(op.options.blockSize)
    y = b.reshape(x, [n, h // s, s, w // s, s, c])
    y = b.transpose(y, permutation=[0, 1, 3, 2, 4, 5])
    return b.reshape(y, [n, h // s, w // s, s * s * c])


# -- concat / split / pack ----------------------------------------------------------------
def _concat_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    reason = _movement("concat", data_inputs=range(len(op.inputs)))(query, op, sub)
    if reason:
        return reason
    if activation_of(op) and sub.tensors[op.outputs[0]].quant is not None:
        return "quantized concatenation with a fused activation"
    return check_activation(op)


@converter("CONCATENATION", webnn_ops=("concat", "relu", "clamp", "tanh"), check=_concat_check)
def concatenation(cx: ConvertContext, op: Op) -> MLOperand:
    xs = [cx.value(i) for i in op.inputs]
    y = cx.builder.concat(xs, norm_axis(int(op.options.axis), len(xs[0].shape)))
    return fused(cx, y, activation_of(op))


@converter("SPLIT", webnn_ops=("split",), check=_movement("split", data_inputs=(1,), consts=(0,)))
def split(cx: ConvertContext, op: Op) -> list[MLOperand]:
    x = cx.value(op.inputs[1])
    axis = norm_axis(_ints(cx, op.inputs[0])[0], len(x.shape))
    return list(cx.builder.split(x, int(op.options.numSplits), axis=axis))


@converter("SPLIT_V", webnn_ops=("split",), check=_movement("split", consts=(1, 2)))
def split_v(cx: ConvertContext, op: Op) -> list[MLOperand]:
    x = cx.value(op.inputs[0])
    axis = norm_axis(_ints(cx, op.inputs[2])[0], len(x.shape))
    sizes = _ints(cx, op.inputs[1])
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[axis] - sum(s for s in sizes if s != -1)
    return list(cx.builder.split(x, sizes, axis=axis))


@converter("PACK", webnn_ops=("reshape", "concat"),
           check=lambda q, op, sub: _movement("concat", data_inputs=range(len(op.inputs)))(q, op, sub))
def pack(cx: ConvertContext, op: Op) -> MLOperand:
    xs = [cx.value(i) for i in op.inputs]
    axis = norm_axis(int(op.options.axis), len(xs[0].shape) + 1)
    shape = list(xs[0].shape)
    shape.insert(axis, 1)
    parts = [cx.builder.reshape(x, shape) for x in xs]
    return parts[0] if len(parts) == 1 else cx.builder.concat(parts, axis)


@converter("UNPACK", webnn_ops=("split", "reshape"), check=_movement("split"))
def unpack(cx: ConvertContext, op: Op) -> list[MLOperand]:
    x = cx.value(op.inputs[0])
    axis = norm_axis(int(op.options.axis), len(x.shape))
    shape = [d for i, d in enumerate(x.shape) if i != axis]
    parts = [x] if x.shape[axis] == 1 else list(cx.builder.split(x, x.shape[axis], axis=axis))
    return [cx.builder.reshape(p, shape) for p in parts]


# -- slices and pads ------------------------------------------------------------------------
@converter("SLICE", webnn_ops=("slice",), check=_movement("slice", consts=(1, 2)))
def slice_(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    begin, size = _ints(cx, op.inputs[1]), _ints(cx, op.inputs[2])
    size = [d - b if s == -1 else s for d, b, s in zip(x.shape, begin, size)]
    return cx.builder.slice(x, begin, size)


def _strided_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    reason = _movement("slice", consts=(1, 2, 3))(query, op, sub)
    if reason:
        return reason
    o = op.options
    if int(o.ellipsisMask or 0) or int(o.newAxisMask or 0) or bool(getattr(o, "offset", False)):
        return "strided slice with an ellipsis, new-axis mask or offset"
    if any(int(s) < 0 for s in np.asarray(sub.tensors[op.inputs[3]].data).reshape(-1)):
        return "strided slice with a negative stride"
    return None


@converter("STRIDED_SLICE", webnn_ops=("slice", "reshape"), check=_strided_check)
def strided_slice(cx: ConvertContext, op: Op) -> MLOperand:
    o = op.options
    x = cx.value(op.inputs[0])
    begin, end, strides = _ints(cx, op.inputs[1]), _ints(cx, op.inputs[2]), _ints(cx, op.inputs[3])
    starts, sizes, out_shape = [], [], []
    for d, dim in enumerate(x.shape):
        if d >= len(begin):
            starts.append(0)
            sizes.append(dim)
            out_shape.append(dim)
            continue
        s = strides[d]
        b = 0 if (int(o.beginMask) >> d) & 1 else begin[d]
        e = dim if (int(o.endMask) >> d) & 1 else end[d]
        b = min(max(b + dim if b < 0 else b, 0), dim)
        shrink = (int(o.shrinkAxisMask) >> d) & 1
        if shrink:
            e = b + 1
        else:
            e = min(max(e + dim if e < 0 else e, 0), dim)
        span = max(e - b, 0)
        starts.append(b)
        sizes.append(span)
        if not shrink:
            out_shape.append(-(-span // s))
    y = cx.builder.slice(x, starts, sizes, strides=strides + [1] * (len(x.shape) - len(strides)))
    if list(y.shape) != out_shape:
        y = cx.builder.reshape(y, out_shape)
    return y


def _pad_value(cx: ConvertContext, op: Op) -> float:
    t = cx.tensor(op.inputs[0])
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        v = cx.static(op.inputs[2])
        return float(np.asarray(v).reshape(-1)[0])
    if t.quant is not None and t.dtype.kind != "f":
        return float(t.quant.zero_point[0])  # TFLite pads quantized tensors with the zero point
    return 0.0


@converter("PAD", "PADV2", webnn_ops=("pad",), check=_movement("pad", consts=(1, 2)))
def pad(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    pads = np.asarray(cx.static(op.inputs[1])).reshape(-1, 2)
    return cx.builder.pad(x, [int(p) for p in pads[:, 0]], [int(p) for p in pads[:, 1]],
                          value=_pad_value(cx, op))


def _mirror_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    if int(op.options.mode) != 0:
        return "SYMMETRIC mirror padding (WebNN's reflection excludes the edge)"
    return _movement("pad", consts=(1,))(query, op, sub)


@converter("MIRROR_PAD", webnn_ops=("pad",), check=_mirror_check)
def mirror_pad(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    pads = np.asarray(cx.static(op.inputs[1])).reshape(-1, 2)
    return cx.builder.pad(x, [int(p) for p in pads[:, 0]], [int(p) for p in pads[:, 1]], mode="reflection")


# -- gather, tile, broadcast, reverse ---------------------------------------------------------
def _gather_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    if int(getattr(op.options, "batchDims", 0) or 0) != 0:
        return "gather with batch_dims"
    idx = webnn_type(sub.tensors[op.inputs[1]])
    if idx not in ("int32", "int64"):
        return f"indices are {sub.tensors[op.inputs[1]].type_name}"
    return _movement("gather")(query, op, sub)


@converter("GATHER", webnn_ops=("gather",), check=_gather_check)
def gather(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    axis = norm_axis(int(op.options.axis), len(x.shape))
    return cx.builder.gather(x, cx.value(op.inputs[1]), axis=axis)


@converter("TILE", webnn_ops=("tile",), check=_movement("tile", consts=(1,)))
def tile(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.tile(cx.value(op.inputs[0]), _ints(cx, op.inputs[1]))


@converter("BROADCAST_TO", webnn_ops=("expand",), check=_movement("expand", consts=(1,)))
def broadcast_to(cx: ConvertContext, op: Op) -> MLOperand:
    return cx.builder.expand(cx.value(op.inputs[0]), _ints(cx, op.inputs[1]))


@converter("REVERSE_V2", webnn_ops=("reverse",), check=_movement("reverse", consts=(1,)))
def reverse_v2(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    return cx.builder.reverse(x, axes=sorted({norm_axis(a, len(x.shape)) for a in _ints(cx, op.inputs[1])}))


# -- resize -----------------------------------------------------------------------------------
def _tflite_nearest(size: int, out: int, align: bool, half: bool) -> list[int]:
    scale = (size - 1) / (out - 1) if align and out > 1 else size / out
    offset = 0.5 if half else 0.0
    idx = []
    for o in range(out):
        v = (o + offset) * scale
        i = min(int(round(v)) if align else int(math.floor(v)), size - 1)
        idx.append(max(i, 0))
    return idx


def _webnn_nearest(size: int, out: int) -> list[int]:
    scale = Fraction(out, size)
    idx = []
    for o in range(out):
        coord = min(max((o + Fraction(1, 2)) / scale - Fraction(1, 2), Fraction(0)), Fraction(size - 1))
        idx.append(math.ceil(coord - Fraction(1, 2)))
    return idx


def _resize_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    o = op.options
    if op.name == "RESIZE_BILINEAR":
        reason = _movement("resample2d", consts=(1,), floats_only=True)(query, op, sub)
        if reason:
            return reason
        if bool(o.alignCorners) or not bool(o.halfPixelCenters):
            return "bilinear resize without half-pixel centers (WebNN's linear mode is half-pixel)"
        return None
    return _movement("resample2d", consts=(1,))(query, op, sub)


@converter("RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", webnn_ops=("resample2d",), check=_resize_check)
def resize(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    size = _ints(cx, op.inputs[1])
    if op.name == "RESIZE_NEAREST_NEIGHBOR":
        o = op.options
        for axis in (0, 1):
            want = _tflite_nearest(x.shape[1 + axis], size[axis], bool(o.alignCorners), bool(o.halfPixelCenters))
            if want != _webnn_nearest(x.shape[1 + axis], size[axis]):
                raise TypeError(f"RESIZE_NEAREST_NEIGHBOR {x.shape[1 + axis]} -> {size[axis]}: TFLite picks "
                                "different source pixels than WebNN's nearest-neighbor rounding")
    mode = "linear" if op.name == "RESIZE_BILINEAR" else "nearest-neighbor"
    return cx.builder.resample2d(x, mode=mode, sizes=size, axes=[1, 2])
