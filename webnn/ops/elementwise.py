"""Element-wise binary, comparison, logical and unary operations.

Spec sections: "Element-wise binary operations", "Element-wise logical operations",
"Element-wise unary operations", isNaN/isInfinite, roundEven, identity, cast, where.
The binary and unary ops differ only in name and output data type, so they are defined
by table; cast and where follow as plain definitions.
"""

from __future__ import annotations

from collections.abc import Callable

from ..dtypes import ALL_EIGHT
from ..operand import MLOperand
from . import _common as c
from ._registry import Emit, op

#: Binary ops whose output has the inputs' data type (spec: element-wise binary).
ARITHMETIC = {
    "add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b",
    "max": "the larger of a and b", "min": "the smaller of a and b", "pow": "a raised to b",
}
#: Binary ops that output uint8 0/1 (spec: element-wise logical, comparisons).
COMPARISON = {
    "equal": "a == b", "not_equal": "a != b", "greater": "a > b",
    "greater_or_equal": "a >= b", "lesser": "a < b", "lesser_or_equal": "a <= b",
    "logical_and": "a && b", "logical_or": "a || b", "logical_xor": "a xor b",
}
#: Unary ops whose output has the input's data type.
UNARY = {
    "abs": "|x|", "ceil": "ceil(x)", "cos": "cos(x)", "erf": "erf(x)", "exp": "e**x",
    "floor": "floor(x)", "identity": "x (a copy)", "log": "ln(x)", "neg": "-x",
    "reciprocal": "1 / x", "sign": "sign(x)", "sin": "sin(x)", "sqrt": "sqrt(x)",
    "tan": "tan(x)", "round_even": "x rounded half to even",
}
#: Unary ops that output uint8 0/1.
UNARY_PREDICATE = {"logical_not": "!x", "is_nan": "x is NaN", "is_infinite": "x is +/-Infinity"}


def _binary(name: str, out_type: str | None) -> Callable[..., Emit]:
    def define(a: MLOperand, b: MLOperand) -> Emit:
        c.operand(name, "b", b)
        c.same_type(name, "b", b, a, "a")
        shape = c.broadcast(name, a.shape, b.shape)
        return Emit([a, b], [c.desc(out_type or a.data_type, shape)])

    return define


def _unary(name: str, out_type: str | None) -> Callable[..., Emit]:
    def define(input: MLOperand) -> Emit:  # noqa: A002  (spec argument name)
        return Emit([input], [c.desc(out_type or input.data_type, input.shape)])

    return define


def _register(table: dict[str, str], make: Callable[[str, str | None], Callable[..., Emit]],
              out_type: str | None, arity: str) -> None:
    for name, meaning in table.items():
        fn = make(name, out_type)
        fn.__name__ = fn.__qualname__ = name
        fn.__doc__ = f"Element-wise {meaning}{' as uint8 0/1' if out_type else ''} ({arity})."
        op(fn)


_register(ARITHMETIC, _binary, None, "numpy broadcasting")
_register(COMPARISON, _binary, "uint8", "numpy broadcasting")
_register(UNARY, _unary, None, "unary")
_register(UNARY_PREDICATE, _unary, "uint8", "unary")


@op
def cast(input: MLOperand, data_type: str) -> Emit:  # noqa: A002  (spec argument name)
    """Each element converted to ``data_type``, same shape (spec: cast).

    ``data_type`` is one of the spec's eight ``MLOperandDataType`` values. What the
    conversion does is the lowering's business (the spec's table: float -> float rounds
    to nearest, int -> int keeps the low bits, float -> int truncates).
    """
    target = c.choice("cast", "data_type", data_type, ALL_EIGHT)
    return Emit([input], [c.desc(target, input.shape)], {"data_type": target})


@op
def where(condition: MLOperand, true_value: MLOperand, false_value: MLOperand) -> Emit:
    """``true_value`` where ``condition`` is non-zero, else ``false_value`` (spec: where).

    ``condition`` is uint8; ``true_value`` may have any data type and ``false_value``
    must have the same; the three shapes broadcast both ways (true_value with
    false_value first, then with condition, as the spec's steps do).
    """
    c.operand("where", "true_value", true_value)
    c.operand("where", "false_value", false_value)
    c.data_types("where", "true_value", true_value, ALL_EIGHT)
    c.same_type("where", "false_value", false_value, true_value, "true_value")
    shape = c.broadcast("where", true_value.shape, false_value.shape, "true_value and false_value")
    shape = c.broadcast("where", condition.shape, shape, "condition and the broadcast values")
    return Emit([condition, true_value, false_value], [c.desc(true_value.data_type, shape)])
