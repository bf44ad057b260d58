"""Convolutions: conv2d and convTranspose2d.

Spec sections "conv2d" and "convTranspose2d" (index.bs at c515210d): the method
steps are followed in order; where the spec is silent on a check the torch backend
would otherwise fail on at run time, it is added here and marked as ours.

Node inputs are ``[input, filter, bias or None]``; attributes are the normalised
options (every default filled in). The fusion passes may add ``activation`` (an
element-wise op applied to the result, see ``webnn/passes/fusion.py``).
"""

from __future__ import annotations

from typing import Any

from ..operand import MLOperand
from . import _common as c
from . import _window as w
from ._registry import Emit, op

#: Spec ``MLConv2dFilterOperandLayout``: where (out, in, height, width) sit in the filter.
CONV2D_FILTER_LAYOUTS = ("oihw", "hwio", "ohwi", "ihwo")
#: Spec ``MLConvTranspose2dFilterOperandLayout``.
CONV_TRANSPOSE2D_FILTER_LAYOUTS = ("iohw", "hwoi", "ohwi")


def filter_dims(filter_layout: str, shape: tuple[int, ...]) -> dict[str, int]:
    """The filter's sizes by letter ("o", "i", "h", "w") for a layout string."""
    return dict(zip(filter_layout, shape))


def _common_options(name: str, input: MLOperand, filter: MLOperand,  # noqa: A002
                    options: dict[str, Any]) -> dict[str, Any]:
    """Steps shared by both convolutions: operands, padding, strides, dilations, groups."""
    c.operand(name, "filter", filter)
    c.same_type(name, "filter", filter, input, "input")
    c.rank_is(name, "filter", filter, 4)
    bias = c.operand(name, "bias", options.get("bias"), optional=True)
    if bias is not None:
        c.same_type(name, "bias", bias, input, "input")
        c.rank_is(name, "bias", bias, 1)
    groups = 1 if options.get("groups") is None else w.ulong(name, "groups", options["groups"])
    if groups == 0:
        raise c.fail(name, "groups must be > 0, got 0")
    return {
        "padding": w.option(name, "padding", options.get("padding"), 4, (0, 0, 0, 0)),
        "strides": w.option(name, "strides", options.get("strides"), 2, (1, 1), positive=True),
        "dilations": w.option(name, "dilations", options.get("dilations"), 2, (1, 1), positive=True),
        "groups": groups,
        "input_layout": w.layout(name, "input_layout", options.get("input_layout")),
    }


@op
def conv2d(input: MLOperand, filter: MLOperand, *, padding: Any = None,  # noqa: A002
           strides: Any = None, dilations: Any = None, groups: Any = None,
           input_layout: Any = None, filter_layout: Any = None,
           bias: MLOperand | None = None) -> Emit:
    """2-D convolution of a 4-D input with a 4-D filter (spec: conv2d).

    ``padding`` is [top, bottom, left, right]; ``strides``/``dilations`` are
    [height, width]; ``input_layout`` is "nchw" or "nhwc"; ``filter_layout`` is one of
    "oihw", "hwio", "ohwi", "ihwo"; ``bias`` is an optional [outputChannels] operand.
    """
    name = "conv2d"
    attrs = _common_options(name, input, filter, {
        "padding": padding, "strides": strides, "dilations": dilations, "groups": groups,
        "input_layout": input_layout, "bias": bias})
    given = "oihw" if filter_layout is None else filter_layout
    layout = c.choice(name, "filter_layout", given, CONV2D_FILTER_LAYOUTS)
    attrs["filter_layout"] = layout
    batches, in_channels, in_h, in_w = w.split_nchw(input.shape, attrs["input_layout"])
    dims = filter_dims(layout, filter.shape)
    out_channels, filter_in = dims["o"], dims["i"]
    g = attrs["groups"]
    if in_channels % g:
        raise c.fail(name, f"input channels ({in_channels}) must be divisible by groups ({g})")
    if in_channels // g != filter_in:
        raise c.fail(name, f"filter input channels must be input channels / groups "
                           f"({in_channels} / {g} = {in_channels // g}), got {filter_in} "
                           f"(filter shape {list(filter.shape)}, layout {layout!r})")
    if out_channels % g:
        raise c.fail(name, f"filter output channels ({out_channels}) must be divisible by "
                           f"groups ({g})")
    c.shape_is(name, "bias", bias, [out_channels])
    pad, st, dil = attrs["padding"], attrs["strides"], attrs["dilations"]
    out_h = w.conv_size(in_h, dims["h"], pad[0], pad[1], st[0], dil[0]).__floor__()
    out_w = w.conv_size(in_w, dims["w"], pad[2], pad[3], st[1], dil[1]).__floor__()
    w.valid_dimension(name, "output height", out_h)
    w.valid_dimension(name, "output width", out_w)
    shape = w.join_nchw(batches, out_channels, out_h, out_w, attrs["input_layout"])
    return Emit([input, filter, bias], [c.desc(input.data_type, shape)], attrs)


@op
def conv_transpose2d(input: MLOperand, filter: MLOperand, *, padding: Any = None,  # noqa: A002
                     strides: Any = None, dilations: Any = None, output_padding: Any = None,
                     output_sizes: Any = None, groups: Any = None, input_layout: Any = None,
                     filter_layout: Any = None, bias: MLOperand | None = None) -> Emit:
    """2-D transposed convolution of a 4-D input with a 4-D filter (spec: convTranspose2d).

    Options as for :func:`conv2d`, plus ``output_padding`` (2 values, each < the
    stride) or ``output_sizes`` (2 values, which then win over ``output_padding``);
    ``filter_layout`` is one of "iohw", "hwoi", "ohwi".
    """
    name = "conv_transpose2d"
    attrs = _common_options(name, input, filter, {
        "padding": padding, "strides": strides, "dilations": dilations, "groups": groups,
        "input_layout": input_layout, "bias": bias})
    st = attrs["strides"]
    out_pad = w.option(name, "output_padding", output_padding, 2, (0, 0))
    sizes = None if output_sizes is None else w.ulongs(name, "output_sizes", output_sizes, 2)
    if sizes is None and (out_pad[0] >= st[0] or out_pad[1] >= st[1]):
        raise c.fail(name, f"output_padding values must be smaller than strides {st}, got {out_pad}")
    given = "iohw" if filter_layout is None else filter_layout
    layout = c.choice(name, "filter_layout", given, CONV_TRANSPOSE2D_FILTER_LAYOUTS)
    attrs["filter_layout"] = layout
    batches, in_channels, in_h, in_w = w.split_nchw(input.shape, attrs["input_layout"])
    dims = filter_dims(layout, filter.shape)
    if in_channels != dims["i"]:
        raise c.fail(name, f"filter input channels must equal input channels ({in_channels}), "
                           f"got {dims['i']} (filter shape {list(filter.shape)}, layout {layout!r})")
    g = attrs["groups"]
    # Ours: the spec does not check this, but input channels split into groups.
    if in_channels % g:
        raise c.fail(name, f"input channels ({in_channels}) must be divisible by groups ({g})")
    out_channels = w.valid_dimension(name, "output channels (filter output channels * groups)",
                                     dims["o"] * g)
    c.shape_is(name, "bias", bias, [out_channels])
    pad, dil = attrs["padding"], attrs["dilations"]
    calc_h = w.conv_transpose_size(in_h, dims["h"], pad[0], pad[1], st[0], dil[0])
    calc_w = w.conv_transpose_size(in_w, dims["w"], pad[2], pad[3], st[1], dil[1])
    if sizes is not None:
        out_h, out_w = sizes
        if not calc_h <= out_h < calc_h + st[0]:
            raise c.fail(name, f"output_sizes[0] must be in [{calc_h}, {calc_h + st[0]}), got {out_h}")
        if not calc_w <= out_w < calc_w + st[1]:
            raise c.fail(name, f"output_sizes[1] must be in [{calc_w}, {calc_w + st[1]}), got {out_w}")
    else:
        out_h, out_w = calc_h + out_pad[0], calc_w + out_pad[1]
    w.valid_dimension(name, "output height", out_h)
    w.valid_dimension(name, "output width", out_w)
    attrs["output_padding"] = out_pad
    attrs["output_sizes"] = sizes
    shape = w.join_nchw(batches, out_channels, out_h, out_w, attrs["input_layout"])
    return Emit([input, filter, bias], [c.desc(input.data_type, shape)], attrs)
