"""ONNX -> WebNN converters: reshaping, slicing, joining, padding, tiling, Trilu, ConstantOfShape.

Shapes are static per input signature, so Reshape/Flatten/Squeeze/Unsqueeze all become
one WebNN reshape to the inferred output shape, and Expand expands to it. Slice with
negative steps reverses first; Split takes its sizes from the inferred outputs.
"""

from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from webnn import MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason, need_const, normalize_axis

RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze")


def _reshape_check(query: SupportQuery, node: NodeView) -> str | None:
    return dtype_reason(query, "reshape", node.in_type(0))


def convert_reshape(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    shape = list(node.out_shape(0))
    if tuple(shape) == x.shape:
        return [cx.builder.identity(x)]
    return [cx.builder.reshape(x, shape)]


for _op in RESHAPES:
    converter(_op, webnn_ops=("reshape", "identity"), opsets=(1, None), check=_reshape_check)(convert_reshape)


@converter("Transpose", webnn_ops=("transpose",), opsets=(1, None),
           check=lambda q, n: dtype_reason(q, "transpose", n.in_type(0)))
def convert_transpose(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    perm = node.attr("perm")
    kwargs = {"permutation": [int(p) for p in perm]} if perm else {}
    return [cx.builder.transpose(x, **kwargs)]


def _concat_check(query: SupportQuery, node: NodeView) -> str | None:
    present = [i for i in range(len(node.inputs)) if node.has_input(i)]
    if len({node.in_type(i) for i in present}) != 1:
        return "inputs have different data types"
    if node.rank(0) == 0:
        return "Concat of scalars"
    return dtype_reason(query, "concat", node.in_type(0), "inputs")


@converter("Concat", webnn_ops=("concat", "identity"), opsets=(4, None), check=_concat_check)
def convert_concat(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    values = [cx.operand(n) for n in node.inputs if n]
    if len(values) == 1:
        return [cx.builder.identity(values[0])]
    axis = normalize_axis(int(node.attr("axis")), len(values[0].shape))
    return [cx.builder.concat(values, axis)]


def _split_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) == 0:
        return "Split of a scalar"
    if any(not node.has_output(i) for i in range(len(node.outputs))):
        return "Split with an unnamed output"
    return dtype_reason(query, "split", node.in_type(0))


@converter("Split", webnn_ops=("split", "identity"), opsets=(2, None), check=_split_check)
def convert_split(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    axis = normalize_axis(int(node.attr("axis", 0)), len(x.shape))
    sizes = [node.out_shape(i)[axis] for i in range(len(node.outputs))]
    if len(sizes) == 1:
        return [cx.builder.identity(x)]
    return list(cx.builder.split(x, sizes, axis=axis))


def slice_params(node: NodeView) -> tuple[list[int], list[int], list[int], list[int]] | str:
    """(starts, sizes, strides, reversed axes) for WebNN, or the reason it cannot be done."""
    shape = node.in_shape(0)
    rank = len(shape)
    if node.opset < 10:
        starts = [int(v) for v in node.attr("starts", [])]
        ends = [int(v) for v in node.attr("ends", [])]
        axes = [int(v) for v in node.attr("axes", range(len(starts)))]
        steps = [1] * len(starts)
    else:
        for i, what in ((1, "starts"), (2, "ends"), (3, "axes"), (4, "steps")):
            reason = need_const(node, i, what)
            if reason is not None:
                return reason
        starts = [int(v) for v in np.asarray(node.const(1)).reshape(-1)]
        ends = [int(v) for v in np.asarray(node.const(2)).reshape(-1)]
        axes = ([int(v) for v in np.asarray(node.const(3)).reshape(-1)] if node.has_input(3)
                else list(range(len(starts))))
        steps = [int(v) for v in np.asarray(node.const(4)).reshape(-1)] if node.has_input(4) else [1] * len(starts)
    out_starts, out_sizes, out_strides = [0] * rank, list(shape), [1] * rank
    flipped = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = normalize_axis(axis, rank)
        dim = shape[axis]
        if step == 0:
            return "Slice with a zero step"
        if step > 0:
            s = min(max(start + dim if start < 0 else start, 0), dim)
            e = min(max(end + dim if end < 0 else end, 0), dim)
            count = max(0, -(-(e - s) // step))
            # WebNN sizes are the input window: count elements a stride apart.
            out_starts[axis], out_sizes[axis], out_strides[axis] = s, (count - 1) * step + 1, step
        else:
            s = min(max(start + dim if start < 0 else start, 0), dim - 1)
            e = min(max(end + dim if end < 0 else end, -1), dim - 1)
            count = max(0, -(-(s - e) // -step))
            # In the reversed axis index i becomes dim - 1 - i.
            out_starts[axis], out_sizes[axis], out_strides[axis] = dim - 1 - s, (count - 1) * -step + 1, -step
            flipped.append(axis)
        if count == 0:
            return "Slice with an empty result"
    return out_starts, out_sizes, out_strides, flipped


def _slice_check(query: SupportQuery, node: NodeView) -> str | None:
    params = slice_params(node)
    if isinstance(params, str):
        return params
    if params[3] and not query.op_supported("reverse"):
        return "Slice with negative steps needs WebNN reverse"
    return dtype_reason(query, "slice", node.in_type(0))


@converter("Slice", webnn_ops=("slice",), opsets=(1, None), check=_slice_check)
def convert_slice(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    params = slice_params(node)
    assert not isinstance(params, str)
    starts, sizes, strides, flipped = params
    if flipped:
        x = b.reverse(x, axes=sorted(flipped))
    if starts == [0] * len(starts) and list(sizes) == list(x.shape) and strides == [1] * len(strides):
        return [b.identity(x) if not flipped else x]
    kwargs = {"strides": strides} if any(s != 1 for s in strides) else {}
    return [b.slice(x, starts, sizes, **kwargs)]


@converter("Expand", webnn_ops=("expand", "identity"), opsets=(8, None),
           check=lambda q, n: dtype_reason(q, "expand", n.in_type(0)))
def convert_expand(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    shape = list(node.out_shape(0))
    if tuple(shape) == x.shape:
        return [cx.builder.identity(x)]
    return [cx.builder.expand(x, shape)]


def _tile_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.opset >= 6:
        reason = need_const(node, 1, "repeats")
        if reason is not None:
            return reason
    else:
        return "Tile before opset 6"
    return dtype_reason(query, "tile", node.in_type(0))


@converter("Tile", webnn_ops=("tile",), opsets=(6, None), check=_tile_check)
def convert_tile(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    reps = [int(v) for v in np.asarray(node.const(1)).reshape(-1)]
    return [cx.builder.tile(cx.operand(node.inputs[0]), reps)]


PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflection"}


def pad_params(node: NodeView) -> tuple[list[int], list[int], str, float | int] | str:
    rank = node.rank(0)
    mode = str(node.attr("mode", "constant"))
    if mode not in PAD_MODES:
        return f"Pad mode {mode!r}"
    if node.opset < 11:
        pads = [int(v) for v in node.attr("pads", node.attr("paddings", []))]
        value: float | int = float(node.attr("value", 0.0))
        axes = list(range(rank))
    else:
        for i, what in ((1, "pads"), (2, "constant_value"), (3, "axes")):
            reason = need_const(node, i, what)
            if reason is not None:
                return reason
        pads = [int(v) for v in np.asarray(node.const(1)).reshape(-1)]
        value = np.asarray(node.const(2)).reshape(-1)[0].item() if node.has_input(2) else 0
        axes = ([normalize_axis(int(a), rank) for a in np.asarray(node.const(3)).reshape(-1)]
                if node.has_input(3) else list(range(rank)))
    n = len(axes)
    if len(pads) != 2 * n:
        return f"pads has {len(pads)} values for {n} axes"
    begin, end = [0] * rank, [0] * rank
    for k, axis in enumerate(axes):
        begin[axis], end[axis] = pads[k], pads[k + n]
    if any(p < 0 for p in begin + end):
        return "Pad with negative pads (cropping)"
    return begin, end, PAD_MODES[mode], value


def _pad_check(query: SupportQuery, node: NodeView) -> str | None:
    params = pad_params(node)
    if isinstance(params, str):
        return params
    if params[2] == "reflection":
        shape = node.in_shape(0)
        if any(p >= d for p, d in zip(params[0] + params[1], list(shape) * 2)):
            return "reflect padding as large as the dimension"
    return dtype_reason(query, "pad", node.in_type(0))


@converter("Pad", webnn_ops=("pad", "identity"), opsets=(2, None), check=_pad_check)
def convert_pad(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    params = pad_params(node)
    assert not isinstance(params, str)
    begin, end, mode, value = params
    if not any(begin) and not any(end):
        return [cx.builder.identity(x)]
    kwargs = {"mode": mode}
    if mode == "constant":
        kwargs["value"] = value
    return [cx.builder.pad(x, begin, end, **kwargs)]


def _trilu_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 2:
        return "Trilu of rank < 2"
    return need_const(node, 1, "k") or dtype_reason(query, "triangular", node.in_type(0))


@converter("Trilu", webnn_ops=("triangular",), opsets=(14, None), check=_trilu_check)
def convert_trilu(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    k = int(np.asarray(node.const(1)).reshape(-1)[0]) if node.has_input(1) else 0
    return [cx.builder.triangular(cx.operand(node.inputs[0]), upper=bool(node.attr("upper", 1)), diagonal=k)]


def _space_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) != 4:
        return f"{node.op_type} of rank {node.rank(0)}"
    return dtype_reason(query, "transpose", node.in_type(0))


@converter("DepthToSpace", webnn_ops=("reshape", "transpose"), opsets=(1, None), check=_space_check)
def convert_depth_to_space(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    n, c, h, w = x.shape
    s = int(node.attr("blocksize"))
    if node.attr("mode", "DCR") == "CRD":
        t = b.transpose(b.reshape(x, [n, c // (s * s), s, s, h, w]), permutation=[0, 1, 4, 2, 5, 3])
    else:
        t = b.transpose(b.reshape(x, [n, s, s, c // (s * s), h, w]), permutation=[0, 3, 4, 1, 5, 2])
    return [b.reshape(t, [n, c // (s * s), h * s, w * s])]


@converter("SpaceToDepth", webnn_ops=("reshape", "transpose"), opsets=(1, None), check=_space_check)
def convert_space_to_depth(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    n, c, h, w = x.shape
    s = int(node.attr("blocksize"))
    # DCR: output channel = (row * s + col) * c + channel; CRD: channel * s * s + row * s + col.
    perm = [0, 1, 3, 5, 2, 4] if node.attr("mode", "DCR") == "CRD" else [0, 3, 5, 1, 2, 4]
    t = b.transpose(b.reshape(x, [n, c, h // s, s, w // s, s]), permutation=perm)
    return [b.reshape(t, [n, c * s * s, h // s, w // s])]


def _constant_of_shape_check(query: SupportQuery, node: NodeView) -> str | None:
    value = node.attr("value")
    dtype = "float32" if value is None else node.out_type(0)
    return need_const(node, 0, "input") or dtype_reason(query, "expand", dtype)


@converter("ConstantOfShape", webnn_ops=("expand",), opsets=(9, None), check=_constant_of_shape_check)
def convert_constant_of_shape(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    value = node.attr("value")
    fill = np.zeros(1, np.float32) if value is None else numpy_helper.to_array(value).reshape(-1)[:1]
    shape = list(node.out_shape(0))
    return [cx.builder.expand(cx.constant(fill.reshape([1] * len(shape))), shape)]
