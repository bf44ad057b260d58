"""Element-wise binary, comparison, logical and unary operations.

Spec sections: "Element-wise binary operations", "Element-wise logical operations",
"Element-wise unary operations", isNaN/isInfinite, roundEven, identity.
These ops differ only in name and output data type, so they are defined by table.
"""

from __future__ import annotations

from collections.abc import Callable

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
