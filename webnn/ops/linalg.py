"""Matrix products: gemm and matmul.

Spec sections "gemm" and "matmul" (index.bs at c515210d). Node inputs are
``[a, b, c or None]`` for gemm and ``[a, b]`` for matmul. The fusion passes may add
``activation`` to a gemm (see ``webnn/passes/fusion.py``).
"""

from __future__ import annotations

import math

import numpy as np

from ..operand import MLOperand
from . import _common as common
from ._registry import MAX_RANK, Emit, op

_NUMPY_FLOAT = {"float32": np.float32, "float16": np.float16}


def _cast_double(name: str, what: str, value: object, data_type: str) -> float:
    """A WebIDL ``double`` option cast to ``data_type`` (spec: gemm steps, "casting")."""
    v = common.number(name, what, value)
    if not math.isfinite(v):
        raise common.fail(name, f"{what} must be a finite number, got {v}")
    with np.errstate(over="ignore"):
        return float(_NUMPY_FLOAT[data_type](v))


def _boolean(name: str, what: str, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, (bool, np.bool_)):
        raise common.fail(name, f"{what} must be a bool, got {value!r}")
    return bool(value)


@op
def gemm(a: MLOperand, b: MLOperand, *, c: MLOperand | None = None,
         alpha: float | None = None, beta: float | None = None,
         a_transpose: bool | None = None, b_transpose: bool | None = None) -> Emit:
    """``alpha * A @ B + beta * C`` on 2-D operands (spec: gemm).

    ``a_transpose``/``b_transpose`` transpose A or B first; ``c`` (rank 0 to 2) must
    broadcast one way to [M, N]; ``alpha`` and ``beta`` (default 1.0) are cast to a's
    data type, as the spec says.
    """
    name = "gemm"
    common.operand(name, "b", b)
    common.same_type(name, "b", b, a, "a")
    common.rank_is(name, "b", b, 2)
    alpha_v = 1.0 if alpha is None else _cast_double(name, "alpha", alpha, a.data_type)
    beta_v = 1.0 if beta is None else _cast_double(name, "beta", beta, a.data_type)
    a_t = _boolean(name, "a_transpose", a_transpose)
    b_t = _boolean(name, "b_transpose", b_transpose)
    shape_a = list(reversed(a.shape)) if a_t else list(a.shape)
    shape_b = list(reversed(b.shape)) if b_t else list(b.shape)
    if shape_a[1] != shape_b[0]:
        raise common.fail(name, f"inner dimensions must match: a is {shape_a} "
                                f"(a_transpose={a_t}), b is {shape_b} (b_transpose={b_t})")
    out = [shape_a[0], shape_b[1]]
    bias = common.operand(name, "c", c, optional=True)
    if bias is not None:
        common.same_type(name, "c", bias, a, "a")
        if bias.rank > 2:
            raise common.fail(name, f"c rank must be 0 to 2, got {bias.rank} (shape {list(bias.shape)})")
        common.unidirectional(name, bias.shape, out, "c")
    attrs = {"alpha": alpha_v, "beta": beta_v, "a_transpose": a_t, "b_transpose": b_t}
    return Emit([a, b, bias], [common.desc(a.data_type, out)], attrs)


@op
def matmul(a: MLOperand, b: MLOperand) -> Emit:
    """Matrix product with numpy broadcasting of the batch dimensions (spec: matmul)."""
    name = "matmul"
    common.operand(name, "b", b)
    common.same_type(name, "b", b, a, "a")
    if not 2 <= b.rank <= MAX_RANK:
        raise common.fail(name, f"b rank must be 2 to {MAX_RANK}, got {b.rank} (shape {list(b.shape)})")
    rows_a, cols_a = a.shape[-2:]
    rows_b, cols_b = b.shape[-2:]
    if cols_a != rows_b:
        raise common.fail(name, f"columns of a ({cols_a}) must equal rows of b ({rows_b}): "
                           f"a is {list(a.shape)}, b is {list(b.shape)}")
    batch = common.broadcast(name, a.shape[:-2], b.shape[:-2], "the batch dimensions of a and b")
    return Emit([a, b], [common.desc(a.data_type, [*batch, rows_a, cols_b])])
