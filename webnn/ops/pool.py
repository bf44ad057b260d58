"""Pooling (averagePool2d, l2Pool2d, maxPool2d) and resample2d.

Spec sections "Pooling operations" and "resample2d" (index.bs at c515210d).

Two pooling steps of the spec text are not followed, because the WPT conformance
vectors (and every implementation they were recorded from) contradict them:

- "If outputSizes exists ... set padding to « 0, 0, 0, 0 »": the WPT cases
  "options.outputSizes ignores options.outputShapeRounding" give ``padding`` together
  with ``outputSizes`` and expect it applied; we keep the padding.
- "If [outputSizes'] items are not smaller than the items ... for strides, throw":
  the same cases pass ``outputSizes`` [3, 3] with ``strides`` [2, 2]; we do not apply it.
  ``outputSizes`` must still equal the floor or the ceiling of the computed size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..operand import MLOperand
from . import _common as c
from . import _window as w
from ._registry import Emit, op

ROUNDING_TYPES = ("floor", "ceil")
INTERPOLATION_MODES = ("nearest-neighbor", "linear")


def _pool(name: str, input: MLOperand, options: dict[str, Any]) -> Emit:  # noqa: A002
    """Spec "create a pooling operation" (data type and rank checked by the registry)."""
    layout = w.layout(name, "layout", options["layout"])
    batches, channels, in_h, in_w = w.split_nchw(input.shape, layout)
    window = w.option(name, "window_dimensions", options["window_dimensions"], 2, (in_h, in_w),
                      positive=True)
    padding = w.option(name, "padding", options["padding"], 4, (0, 0, 0, 0))
    strides = w.option(name, "strides", options["strides"], 2, (1, 1), positive=True)
    sizes = options["output_sizes"]
    if sizes is not None:
        sizes = w.ulongs(name, "output_sizes", sizes, 2)
    dilations = w.option(name, "dilations", options["dilations"], 2, (1, 1), positive=True)
    rounding = c.choice(name, "output_shape_rounding", c.opt(options, "output_shape_rounding", "floor"),
                        ROUNDING_TYPES)
    calc_h = w.conv_size(in_h, window[0], padding[0], padding[1], strides[0], dilations[0])
    calc_w = w.conv_size(in_w, window[1], padding[2], padding[3], strides[1], dilations[1])
    if sizes is not None:
        floors = [math.floor(calc_h), math.floor(calc_w)]
        ceils = [math.ceil(calc_h), math.ceil(calc_w)]
        if sizes not in (floors, ceils):
            raise c.fail(name, f"output_sizes must be the floor {floors} or the ceiling {ceils} "
                               f"of the computed output size, got {sizes}")
        out_h, out_w = sizes
    else:
        rnd = math.floor if rounding == "floor" else math.ceil
        out_h, out_w = rnd(calc_h), rnd(calc_w)
    w.valid_dimension(name, "output height", out_h)
    w.valid_dimension(name, "output width", out_w)
    attrs = {"window_dimensions": window, "padding": padding, "strides": strides,
             "dilations": dilations, "layout": layout, "output_shape_rounding": rounding,
             "output_sizes": sizes}
    shape = w.join_nchw(batches, channels, out_h, out_w, layout)
    return Emit([input], [c.desc(input.data_type, shape)], attrs)


def _define_pool(name: str, what: str) -> None:
    def define(input: MLOperand, *, window_dimensions: Any = None,  # noqa: A002
               padding: Any = None, strides: Any = None, dilations: Any = None,
               layout: Any = None, output_shape_rounding: Any = None,
               output_sizes: Any = None) -> Emit:
        return _pool(name, input, {
            "window_dimensions": window_dimensions, "padding": padding, "strides": strides,
            "dilations": dilations, "layout": layout, "output_shape_rounding": output_shape_rounding,
            "output_sizes": output_sizes})

    define.__name__ = define.__qualname__ = name
    define.__doc__ = (
        f"{what} over 2-D windows of a 4-D input (spec: pooling operations).\n\n"
        "``window_dimensions`` defaults to the whole spatial extent (global pooling); "
        "``padding`` is [top, bottom, left, right]; ``layout`` is \"nchw\" or \"nhwc\"; "
        "``output_shape_rounding`` is \"floor\" or \"ceil\"; ``output_sizes`` picks the "
        "output height and width explicitly (the floor or ceiling of the computed size). "
        "Padded positions never contribute: an average counts only real elements.")
    op(define)


_define_pool("average_pool2d", "Average")
_define_pool("l2_pool2d", "L2 norm (square root of the sum of squares)")
_define_pool("max_pool2d", "Maximum")


def _idl_float(name: str, what: str, value: object) -> float:
    """A WebIDL ``float``: finite, rounded to single precision."""
    v = c.number(name, what, value)
    if not math.isfinite(v) or not math.isfinite(np.float32(v)):
        raise c.fail(name, f"{what} must be finite single-precision numbers, got {v}")
    return float(np.float32(v))


@op
def resample2d(input: MLOperand, *, mode: Any = None, scales: Any = None,  # noqa: A002
               sizes: Any = None, axes: Any = None) -> Emit:
    """Resize two axes of a 4-D tensor (spec: resample2d).

    ``mode`` is "nearest-neighbor" (default) or "linear" (bilinear, half-pixel
    centres); ``sizes`` (2 values) wins over ``scales`` (2 values > 0, default
    [1.0, 1.0]); ``axes`` names the two axes resized, default [2, 3].
    """
    name = "resample2d"
    mode = c.choice(name, "mode", "nearest-neighbor" if mode is None else mode, INTERPOLATION_MODES)
    if scales is None:
        scale_list = [1.0, 1.0]
    else:
        if isinstance(scales, (str, bytes)) or not hasattr(scales, "__len__"):
            raise c.fail(name, f"scales must be a sequence of 2 numbers, got {scales!r}")
        scale_list = [_idl_float(name, "scales", s) for s in scales]
        if len(scale_list) != 2 or any(s <= 0 for s in scale_list):
            raise c.fail(name, f"scales must be 2 values > 0, got {scale_list}")
    size_list = None
    if sizes is not None:
        size_list = w.ulongs(name, "sizes", sizes, 2)
        if 0 in size_list:
            raise c.fail(name, f"sizes values must be > 0, got {size_list}")
    if axes is None:
        axis_list = [2, 3]
    else:
        axis_list = w.ulongs(name, "axes", axes, 2)
        if axis_list[0] == axis_list[1] or any(a >= input.rank for a in axis_list):
            raise c.fail(name, f"axes must be 2 distinct values in [0, {input.rank}), got {axis_list}")
    shape = list(input.shape)
    for index, axis in enumerate(axis_list):
        if size_list is not None:
            size: float = size_list[index]
        else:
            size = math.floor(input.shape[axis] * scale_list[index])
        w.valid_dimension(name, f"output size of axis {axis}", size)
        shape[axis] = int(size)
    attrs = {"mode": mode, "scales": scale_list, "sizes": size_list, "axes": axis_list}
    return Emit([input], [c.desc(input.data_type, shape)], attrs)
