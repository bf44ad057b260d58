"""ONNX -> WebNN converters: Resize and Upsample.

WebNN's resample2d samples at half-pixel centres, clamped to the edge, with
``scale = output size / input size``; nearest-neighbour rounds halves down. So it is
exactly ONNX Resize with ``coordinate_transformation_mode`` half_pixel (or
pytorch_half_pixel when no resized axis has size 1) and ``nearest_mode``
round_prefer_floor or linear interpolation -- and, for whole-number upscaling only,
``asymmetric`` + ``floor`` nearest (Upsample, and torch's default export), which picks
the same source pixels. Anything else (cubic, align_corners, antialias, scales that
do not equal output/input) stays on ORT.
"""

from __future__ import annotations

import numpy as np

from webnn import MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason


def _given_scales(node: NodeView) -> list[float] | None:
    if node.op_type == "Upsample":
        if node.opset >= 9:
            value = node.const(1)
            return None if value is None else [float(v) for v in np.asarray(value).reshape(-1)]
        return [float(v) for v in node.attr("scales", [])]
    index = 1 if node.opset == 10 else 2
    value = node.const(index) if node.has_input(index) else None
    if value is None or np.asarray(value).size == 0:
        return None
    scales = [float(v) for v in np.asarray(value).reshape(-1)]
    axes = node.attr("axes")
    if axes:
        full = [1.0] * node.rank(0)
        for a, s in zip(axes, scales):
            full[int(a) % node.rank(0)] = s
        scales = full
    return scales


def resize_plan(node: NodeView) -> tuple[str, list[int]] | str:
    """(WebNN mode, the two axes) for this node, or why WebNN cannot do it."""
    if node.rank(0) != 4:
        return f"{node.op_type} of rank {node.rank(0)} (WebNN resample2d is 4-D)"
    mode = str(node.attr("mode", "nearest"))
    if mode not in ("nearest", "linear", "bilinear"):
        return f"{node.op_type} mode {mode!r}"
    if node.op_type == "Upsample":
        transform, nearest_mode = "asymmetric", "floor"
    else:
        transform = str(node.attr("coordinate_transformation_mode", "half_pixel" if node.opset >= 11 else "asymmetric"))
        nearest_mode = str(node.attr("nearest_mode", "round_prefer_floor" if node.opset >= 11 else "floor"))
        if node.attr("antialias", 0):
            return "Resize with antialias"
        if str(node.attr("keep_aspect_ratio_policy", "stretch")) != "stretch":
            return "Resize with keep_aspect_ratio_policy other than stretch"
        if node.opset >= 11:
            for i, what in ((2, "scales"), (3, "sizes")):
                if node.has_input(i) and node.const(i) is None:
                    return f"input {what!r} must be a constant"
    in_shape, out_shape = node.in_shape(0), node.out_shape(0)
    changed = [a for a in range(4) if in_shape[a] != out_shape[a]]
    if len(changed) > 2:
        return f"{node.op_type} changes {len(changed)} axes (WebNN resamples two)"
    scales = _given_scales(node)
    if scales is not None:
        for a in range(4):
            if abs(scales[a] - out_shape[a] / in_shape[a]) > 1e-6 * max(1.0, scales[a]):
                return f"scale {scales[a]} on axis {a} is not output/input ({out_shape[a]}/{in_shape[a]})"
    integer_up = all(out_shape[a] % in_shape[a] == 0 for a in changed)
    if transform == "pytorch_half_pixel" and all(out_shape[a] > 1 for a in changed):
        transform = "half_pixel"
    if mode == "nearest":
        if transform == "half_pixel" and nearest_mode == "round_prefer_floor":
            pass
        elif transform == "half_pixel" and nearest_mode == "round_prefer_ceil" and all(
                (out_shape[a] // in_shape[a]) % 2 == 0 for a in changed) and integer_up:
            pass  # even whole-number factors never land on a tie
        elif transform == "asymmetric" and nearest_mode == "floor" and integer_up:
            pass
        else:
            return f"nearest resize with {transform} / {nearest_mode}"
        webnn_mode = "nearest-neighbor"
    else:
        if transform != "half_pixel":
            return f"linear resize with coordinate_transformation_mode {transform}"
        webnn_mode = "linear"
    axes = list(changed)
    for a in (2, 3, 1, 0):
        if len(axes) == 2:
            break
        if a not in axes:
            axes.append(a)
    return webnn_mode, sorted(axes)


def _resize_check(query: SupportQuery, node: NodeView) -> str | None:
    plan = resize_plan(node)
    if isinstance(plan, str):
        return plan
    return dtype_reason(query, "resample2d", node.in_type(0))


@converter("Resize", "Upsample", webnn_ops=("resample2d", "identity"), opsets=(7, None), check=_resize_check)
def convert_resize(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    plan = resize_plan(node)
    assert not isinstance(plan, str)
    mode, axes = plan
    out_shape = node.out_shape(0)
    if tuple(out_shape) == x.shape:
        return [cx.builder.identity(x)]
    return [cx.builder.resample2d(x, mode=mode, sizes=[out_shape[a] for a in axes], axes=axes)]
