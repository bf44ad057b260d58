"""Reductions: argMin/argMax, the ten reduceXxx ops, cumulativeSum.

Spec sections: "argMin/argMax operations" (create an argMin/argMax operation),
"reduction operations" (calculate reduction output sizes, create reduction operation),
"cumulativeSum". The input's data type and rank are checked against the spec's
tensor-limits tables by the registry before these functions run (that is the
``allowedDataTypes`` step of "create reduction operation").

Attributes are normalised for the IR: ``axes`` is always the sorted list of the axes
actually reduced (the spec's "absent means every axis" resolved here, so an empty list
means no axis), and every boolean option is a real ``bool``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..dtypes import INT_RANGES
from ..operand import MLOperand
from . import _common as c
from ._registry import Emit, op

#: The reduction ops and what each computes over the reduced values (spec: reduction types).
REDUCTIONS = {
    "reduce_l1": "the sum of absolute values (L1 norm)",
    "reduce_l2": "the square root of the sum of squares (L2 norm)",
    "reduce_log_sum": "the natural log of the sum",
    "reduce_log_sum_exp": "the natural log of the sum of exponentials",
    "reduce_max": "the largest value",
    "reduce_mean": "the mean",
    "reduce_min": "the smallest value",
    "reduce_product": "the product",
    "reduce_sum": "the sum",
    "reduce_sum_square": "the sum of squares",
}

#: Output data types argMin/argMax may produce (spec: tensor limits, *output* row).
ARG_OUTPUT_TYPES = ("int32", "int64")


def boolean(op_name: str, name: str, value: object) -> bool:
    """A WebIDL ``boolean`` option: only ``True``/``False`` (no truthy stand-ins)."""
    if not isinstance(value, bool):
        raise c.fail(op_name, f"{name} must be a bool, got {value!r}")
    return value


def reduction_output_shape(op_name: str, shape: tuple[int, ...], axes: object,
                           keep_dimensions: bool) -> tuple[list[int], list[int]]:
    """Spec: "calculate reduction output sizes"; returns (sorted axes, output shape).

    ``axes`` None means every axis; failure (a repeated or out-of-range axis) raises.
    """
    rank = len(shape)
    reduced = list(range(rank)) if axes is None else c.axes(op_name, "axes", axes, rank)
    if keep_dimensions:
        out = [1 if i in reduced else d for i, d in enumerate(shape)]
    else:
        out = [d for i, d in enumerate(shape) if i not in reduced]
    return sorted(reduced), out


def _reduction(name: str) -> Callable[..., Emit]:
    def define(input: MLOperand, *, axes: object = None,  # noqa: A002  (spec argument name)
               keep_dimensions: bool = False) -> Emit:
        keep = boolean(name, "keep_dimensions", keep_dimensions)
        reduced, shape = reduction_output_shape(name, input.shape, axes, keep)
        return Emit([input], [c.desc(input.data_type, shape)],
                    {"axes": reduced, "keep_dimensions": keep})

    return define


for _name, _meaning in REDUCTIONS.items():
    _fn = _reduction(_name)
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__doc__ = (f"Reduce ``input`` to {_meaning} over ``axes`` (absent: every axis; empty: "
                   f"none, the function applied to each value); ``keep_dimensions`` keeps "
                   f"reduced axes as size 1.")
    op(_fn)


def _arg_min_max(name: str) -> Callable[..., Emit]:
    def define(input: MLOperand, axis: int, *,  # noqa: A002  (spec argument name)
               keep_dimensions: bool = False, output_data_type: str = "int32") -> Emit:
        ax = c.integer(name, "axis", axis, minimum=0)
        if ax >= input.rank:
            raise c.fail(name, f"axis must be in [0, {input.rank}) for input shape "
                               f"{list(input.shape)}, got {ax}")
        out_type = c.choice(name, "output_data_type", output_data_type, ARG_OUTPUT_TYPES)
        keep = boolean(name, "keep_dimensions", keep_dimensions)
        hi = INT_RANGES[out_type][1]
        if input.shape[ax] > hi:
            raise c.fail(name, f"input dimension {ax} ({input.shape[ax]}) exceeds the largest "
                               f"{out_type} index {hi}")
        _, shape = reduction_output_shape(name, input.shape, [ax], keep)
        return Emit([input], [c.desc(out_type, shape)],
                    {"axis": ax, "keep_dimensions": keep, "output_data_type": out_type})

    return define


for _name, _which in (("arg_min", "smallest"), ("arg_max", "largest")):
    _fn = _arg_min_max(_name)
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__doc__ = (f"Index of the {_which} value along ``axis`` (ties: the first index), as "
                   f"``output_data_type`` (int32 or int64); ``keep_dimensions`` keeps the axis "
                   f"as size 1.")
    op(_fn)


@op
def cumulative_sum(input: MLOperand, axis: int, *,  # noqa: A002  (spec argument name)
                   exclusive: bool = False, reversed: bool = False) -> Emit:  # noqa: A002
    """Running sum along ``axis``: ``exclusive`` leaves out the current value, ``reversed``
    sums from the last position to the first. The output has the input's descriptor."""
    ax = c.integer("cumulative_sum", "axis", axis, minimum=0)
    if ax >= input.rank:
        raise c.fail("cumulative_sum", f"axis must be in [0, {input.rank}) for input shape "
                                       f"{list(input.shape)}, got {ax}")
    return Emit([input], [input.descriptor],
                {"axis": ax, "exclusive": boolean("cumulative_sum", "exclusive", exclusive),
                 "reversed": boolean("cumulative_sum", "reversed", reversed)})
