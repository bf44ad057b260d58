"""Normalization operations: batchNormalization, instanceNormalization, layerNormalization.

Spec sections of the same names (index.bs at c515210d); the checks follow the spec's
method steps in order. Every op outputs the input's descriptor. Optional ``scale`` and
``bias`` operands are passed as None when absent, so a lowering sees a fixed operand
list. ``epsilon`` is a WebIDL ``double`` (finite) cast to the input's data type.
"""

from __future__ import annotations

from ..operand import MLOperand
from . import _common as c
from ._dims import axes_list, axis_option
from ._registry import Emit, op
from .activation import double_option

LAYOUTS = ("nchw", "nhwc")


def _per_feature(op_name: str, name: str, value: object, input: MLOperand,  # noqa: A002
                 size: int, optional: bool) -> MLOperand | None:
    """A 1-D operand of ``size`` values with the input's data type (mean, variance, scale, bias)."""
    operand = c.operand(op_name, name, value, optional=optional)
    if operand is None:
        return None
    c.same_type(op_name, name, operand, input, "input")
    c.shape_is(op_name, name, operand, [size])
    return operand


@op
def batch_normalization(input: MLOperand, mean: MLOperand, variance: MLOperand, *,  # noqa: A002
                        scale: MLOperand | None = None, bias: MLOperand | None = None,
                        axis: int | None = None, epsilon: float | None = None) -> Emit:
    """``(x - mean) / sqrt(variance + epsilon) * scale + bias`` along ``axis``
    (spec: batchNormalization; axis 1, epsilon 1e-5; mean, variance, scale and bias
    are 1-D with ``input.shape[axis]`` values)."""
    name = "batch_normalization"
    c.operand(name, "mean", mean)
    c.operand(name, "variance", variance)
    a = axis_option(name, 1 if axis is None else axis, input.rank)
    size = input.shape[a]
    _per_feature(name, "mean", mean, input, size, False)
    _per_feature(name, "variance", variance, input, size, False)
    eps = double_option(name, "epsilon", epsilon, 1e-5, input.data_type)
    s = _per_feature(name, "scale", scale, input, size, True)
    b = _per_feature(name, "bias", bias, input, size, True)
    return Emit([input, mean, variance, s, b], [input.descriptor], {"axis": a, "epsilon": eps})


@op
def instance_normalization(input: MLOperand, *, scale: MLOperand | None = None,  # noqa: A002
                           bias: MLOperand | None = None, epsilon: float | None = None,
                           layout: str | None = None) -> Emit:
    """Normalise each channel of each sample over its spatial dimensions
    (spec: instanceNormalization; 4-D input, epsilon 1e-5, layout "nchw" or "nhwc";
    scale and bias are 1-D with one value per channel)."""
    name = "instance_normalization"
    lay = c.choice(name, "layout", "nchw" if layout is None else layout, LAYOUTS)
    eps = double_option(name, "epsilon", epsilon, 1e-5, input.data_type)
    channels = input.shape[1 if lay == "nchw" else 3]
    s = _per_feature(name, "scale", scale, input, channels, True)
    b = _per_feature(name, "bias", bias, input, channels, True)
    return Emit([input, s, b], [input.descriptor], {"epsilon": eps, "layout": lay})


@op
def layer_normalization(input: MLOperand, *, scale: MLOperand | None = None,  # noqa: A002
                        bias: MLOperand | None = None, axes: list[int] | None = None,
                        epsilon: float | None = None) -> Emit:
    """Normalise over ``axes`` (spec: layerNormalization; axes default to every
    dimension but the first, epsilon 1e-5). ``scale`` and ``bias`` have one dimension
    per axis, in the order of ``axes``: their shape is ``[input.shape[a] for a in axes]``.
    Empty ``axes`` reduce nothing (the output is then ``bias``, or 0, where the input
    is finite)."""
    name = "layer_normalization"
    rank = input.rank
    if axes is None:
        ax = list(range(1, rank)) if rank > 1 else []
    else:
        ax = axes_list(name, "axes", axes, rank)
    eps = double_option(name, "epsilon", epsilon, 1e-5, input.data_type)
    want = [input.shape[a] for a in ax]
    operands: list[MLOperand | None] = [input]
    for arg, value in (("scale", scale), ("bias", bias)):
        operand = c.operand(name, arg, value, optional=True)
        if operand is not None:
            c.same_type(name, arg, operand, input, "input")
            if operand.rank != len(ax):
                raise c.fail(name, f"{arg} rank must equal the number of axes {ax} ({len(ax)}), "
                                   f"got {operand.rank} (shape {list(operand.shape)})")
            if list(operand.shape) != want:
                raise c.fail(name, f"{arg} shape must be {want} (input shape {list(input.shape)} "
                                   f"at axes {ax}), got {list(operand.shape)}")
        operands.append(operand)
    return Emit(operands, [input.descriptor], {"axes": ax, "epsilon": eps})
