"""Activation operations: relu, leakyRelu, elu, gelu, hardSigmoid, hardSwish, linear,
prelu, sigmoid, softmax, softplus, softsign, tanh and clamp.

Spec sections of the same names (index.bs at c515210d). Every op here outputs the
input's shape and data type, except prelu, whose output is the broadcast of input and
slope. Scalar options are normalised the way the spec says: ``double`` options must be
finite (WebIDL ``double``) and are then cast to the input's data type; clamp's
``MLNumber`` bounds are cast (an ``int`` stays exact, even past 2**53).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..operand import MLOperand
from . import _common as c
from ._cast import cast_number
from ._dims import axis_option
from ._registry import Emit, op

#: Ops without options: output = f(input), same descriptor.
PLAIN = {
    "relu": "max(0, x)",
    "gelu": "0.5 * x * (1 + erf(x / sqrt(2)))",
    "hard_swish": "x * max(0, min(6, x + 3)) / 6",
    "sigmoid": "1 / (exp(-x) + 1)",
    "softplus": "ln(1 + exp(x))",
    "softsign": "x / (1 + |x|)",
    "tanh": "(exp(2x) - 1) / (exp(2x) + 1)",
}


def double_option(op_name: str, name: str, value: object, default: float, data_type: str) -> float:
    """A WebIDL ``double`` option (finite), cast to ``data_type`` as the spec's steps say."""
    if value is None:
        value = default
    number = c.number(op_name, name, value)
    if not math.isfinite(number):
        raise c.fail(op_name, f"{name} must be a finite number (WebIDL double), got {value!r}")
    return float(cast_number(op_name, name, number, data_type))


def _plain(name: str) -> Callable[..., Emit]:
    def define(input: MLOperand) -> Emit:  # noqa: A002  (spec argument name)
        return Emit([input], [input.descriptor])

    return define


for _name, _formula in PLAIN.items():
    _fn = _plain(_name)
    _fn.__name__ = _fn.__qualname__ = _name
    _fn.__doc__ = f"Element-wise {_formula} (spec: {_name})."
    op(_fn)


@op
def leaky_relu(input: MLOperand, *, alpha: float | None = None) -> Emit:  # noqa: A002
    """``max(0, x) + alpha * min(0, x)`` (spec: leakyRelu; alpha defaults to 0.01)."""
    a = double_option("leaky_relu", "alpha", alpha, 0.01, input.data_type)
    return Emit([input], [input.descriptor], {"alpha": a})


@op
def elu(input: MLOperand, *, alpha: float | None = None) -> Emit:  # noqa: A002
    """``max(0, x) + alpha * (exp(min(0, x)) - 1)`` (spec: elu; alpha defaults to 1)."""
    a = double_option("elu", "alpha", alpha, 1.0, input.data_type)
    return Emit([input], [input.descriptor], {"alpha": a})


@op
def hard_sigmoid(input: MLOperand, *, alpha: float | None = None,  # noqa: A002
                 beta: float | None = None) -> Emit:
    """``max(0, min(1, alpha * x + beta))`` (spec: hardSigmoid; alpha 0.2, beta 0.5)."""
    a = double_option("hard_sigmoid", "alpha", alpha, 0.2, input.data_type)
    b = double_option("hard_sigmoid", "beta", beta, 0.5, input.data_type)
    return Emit([input], [input.descriptor], {"alpha": a, "beta": b})


@op
def linear(input: MLOperand, *, alpha: float | None = None,  # noqa: A002
           beta: float | None = None) -> Emit:
    """``alpha * x + beta`` (spec: linear; alpha 1, beta 0)."""
    a = double_option("linear", "alpha", alpha, 1.0, input.data_type)
    b = double_option("linear", "beta", beta, 0.0, input.data_type)
    return Emit([input], [input.descriptor], {"alpha": a, "beta": b})


@op
def prelu(input: MLOperand, slope: MLOperand) -> Emit:  # noqa: A002
    """``max(0, x) + slope * min(0, x)``, input and slope broadcast both ways (spec: prelu)."""
    c.operand("prelu", "slope", slope)
    c.same_type("prelu", "slope", slope, input, "input")
    shape = c.broadcast("prelu", input.shape, slope.shape, "input and slope")
    return Emit([input, slope], [c.desc(input.data_type, shape)])


@op
def softmax(input: MLOperand, axis: int) -> Emit:  # noqa: A002
    """``exp(x) / sum(exp(x))`` along ``axis`` (spec: softmax; axis is required)."""
    a = axis_option("softmax", axis, input.rank)
    return Emit([input], [input.descriptor], {"axis": a})


@op
def clamp(input: MLOperand, *, min_value: int | float | None = None,  # noqa: A002
          max_value: int | float | None = None) -> Emit:
    """``min(max(x, min_value), max_value)`` (spec: clamp).

    Each bound is an MLNumber cast to the input's data type (so ``int`` bounds of 64-bit
    inputs stay exact); an absent bound does not clamp that side. The attributes hold
    the cast bounds, or None for an absent one.

    The spec text at c515210d defaults an absent minValue to +Infinity and an absent
    maxValue to -Infinity, which would reject every one-sided clamp; the defaults are
    plainly swapped, so we use -Infinity and +Infinity (the option text: "when it is not
    specified, the clamping is not performed").
    """
    dt = input.data_type
    lo = None if min_value is None else cast_number("clamp", "min_value", min_value, dt)
    hi = None if max_value is None else cast_number("clamp", "max_value", max_value, dt)
    lo_cmp = cast_number("clamp", "min_value", -math.inf, dt) if lo is None else lo
    hi_cmp = cast_number("clamp", "max_value", math.inf, dt) if hi is None else hi
    if lo_cmp > hi_cmp:
        raise c.fail("clamp", f"min_value must be <= max_value after casting to {dt}, "
                              f"got min_value {lo_cmp!r} and max_value {hi_cmp!r} "
                              f"(given {min_value!r} and {max_value!r})")
    return Emit([input], [input.descriptor], {"min_value": lo, "max_value": hi})
