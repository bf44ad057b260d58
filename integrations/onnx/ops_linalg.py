"""ONNX -> WebNN converters: MatMul, Gemm and Einsum.

WebNN's matmul needs rank >= 2, so ONNX's 1-D operands are reshaped around it, as
numpy does. Einsum is rewritten into reduceSum / transpose / reshape / matmul / mul
(one operand or a left-to-right chain of pairs), which covers every equation without
repeated letters inside one operand (diagonals stay on ORT).
"""

from __future__ import annotations

import math
import string

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason


def _matmul_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.in_type(0) != node.in_type(1):
        return "A and B have different data types"
    if node.rank(0) == 0 or node.rank(1) == 0:
        return "MatMul of a scalar"
    return dtype_reason(query, "matmul", node.in_type(0))


def matmul_nd(b: MLGraphBuilder, x: MLOperand, y: MLOperand) -> MLOperand:
    """numpy.matmul semantics on top of WebNN matmul (1-D operands promoted and squeezed)."""
    xs, ys = list(x.shape), list(y.shape)
    if len(xs) == 1:
        x = b.reshape(x, [1, xs[0]])
    if len(ys) == 1:
        y = b.reshape(y, [ys[0], 1])
    out = b.matmul(x, y)
    shape = list(out.shape)
    if len(ys) == 1:
        shape.pop(-1)
    if len(xs) == 1:
        shape.pop(-2 if len(ys) != 1 else -1)
    return b.reshape(out, shape) if tuple(shape) != out.shape else out


@converter("MatMul", webnn_ops=("matmul", "reshape"), opsets=(1, None), check=_matmul_check)
def convert_matmul(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [matmul_nd(cx.builder, cx.operand(node.inputs[0]), cx.operand(node.inputs[1]))]


def _gemm_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) != 2 or node.rank(1) != 2:
        return "Gemm needs 2-D A and B"
    types = {node.in_type(i) for i in range(3) if node.has_input(i)}
    if len(types) != 1:
        return f"inputs have different data types {sorted(types)}"
    if node.has_input(2) and node.rank(2) > 2:
        return "C of rank > 2"
    return dtype_reason(query, "gemm", node.in_type(0))


@converter("Gemm", webnn_ops=("gemm",), opsets=(7, None), check=_gemm_check)
def convert_gemm(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    kwargs = {"alpha": float(node.attr("alpha", 1.0)), "beta": float(node.attr("beta", 1.0)),
              "a_transpose": bool(node.attr("transA", 0)), "b_transpose": bool(node.attr("transB", 0))}
    if node.has_input(2):
        kwargs["c"] = cx.operand(node.inputs[2])
    return [cx.builder.gemm(cx.operand(node.inputs[0]), cx.operand(node.inputs[1]), **kwargs)]


# -- Einsum ------------------------------------------------------------------------------------
def parse_einsum(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """Operand subscripts and output subscripts, with '...' spelled out as capital letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"equation {equation!r} has {len(terms)} operands, the node {len(ranks)}")
    spare = [c for c in string.ascii_uppercase if c not in eq]
    ell_rank = 0
    for term, rank in zip(terms, ranks):
        if "..." in term:
            ell_rank = max(ell_rank, rank - (len(term) - 3))
    ell = "".join(spare[:ell_rank])
    subs = []
    for term, rank in zip(terms, ranks):
        if "..." in term:
            n = rank - (len(term) - 3)
            term = term.replace("...", ell[ell_rank - n:])
        if len(term) != rank:
            raise ValueError(f"subscripts {term!r} do not match rank {rank}")
        subs.append(term)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis, then letters seen once, alphabetically
        counts: dict[str, int] = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return subs, out


def _einsum_check(query: SupportQuery, node: NodeView) -> str | None:
    ranks = [node.rank(i) for i in range(len(node.inputs))]
    try:
        subs, out = parse_einsum(str(node.attr("equation", "")), ranks)
    except ValueError as exc:
        return f"Einsum: {exc}"
    for s in subs:
        if len(set(s)) != len(s):
            return "Einsum with a repeated subscript in one operand (a diagonal)"
    sizes: dict[str, int] = {}
    for s, i in zip(subs, range(len(subs))):
        for c, d in zip(s, node.in_shape(i)):
            if sizes.setdefault(c, d) != d:
                return f"Einsum subscript {c!r} has sizes {sizes[c]} and {d} (broadcasting)"
    if len({node.in_type(i) for i in range(len(node.inputs))}) != 1:
        return "Einsum operands of different data types"
    return dtype_reason(query, "matmul", node.in_type(0)) or dtype_reason(query, "reduce_sum", node.in_type(0))


class _Term:
    def __init__(self, value: MLOperand, subs: str) -> None:
        self.value = value
        self.subs = subs


def _reduce_to(b: MLGraphBuilder, t: _Term, keep: set[str]) -> _Term:
    axes = [i for i, c in enumerate(t.subs) if c not in keep]
    if not axes:
        return t
    value = b.reduce_sum(t.value, axes=axes, keep_dimensions=False)
    return _Term(value, "".join(c for c in t.subs if c in keep))


def _permute(b: MLGraphBuilder, t: _Term, order: str) -> MLOperand:
    if order == t.subs:
        return t.value
    return b.transpose(t.value, permutation=[t.subs.index(c) for c in order])


def _contract(b: MLGraphBuilder, x: _Term, y: _Term, keep: set[str], sizes: dict[str, int]) -> _Term:
    """The pair product over shared letters not in ``keep``, as one batched matmul."""
    x = _reduce_to(b, x, keep | set(y.subs))
    y = _reduce_to(b, y, keep | set(x.subs))
    batch = "".join(c for c in x.subs if c in y.subs and c in keep)
    summed = "".join(c for c in x.subs if c in y.subs and c not in keep)
    left = "".join(c for c in x.subs if c not in y.subs)
    right = "".join(c for c in y.subs if c not in x.subs)
    size = lambda letters: math.prod(sizes[c] for c in letters)  # noqa: E731
    if not summed:  # an outer product along the non-batch letters: broadcasted mul
        xs = _permute(b, x, batch + left)
        ys = _permute(b, y, batch + right)
        xs = b.reshape(xs, [sizes[c] for c in batch + left] + [1] * len(right))
        ys = b.reshape(ys, [sizes[c] for c in batch] + [1] * len(left) + [sizes[c] for c in right])
        return _Term(b.mul(xs, ys), batch + left + right)
    xm = b.reshape(_permute(b, x, batch + left + summed), [size(batch), size(left), size(summed)])
    ym = b.reshape(_permute(b, y, batch + summed + right), [size(batch), size(summed), size(right)])
    prod = b.matmul(xm, ym)
    shape = [sizes[c] for c in batch + left + right]
    return _Term(b.reshape(prod, shape) if shape else b.reshape(prod, []), batch + left + right)


@converter("Einsum", webnn_ops=("reduce_sum", "transpose", "reshape", "matmul", "mul", "identity"),
           opsets=(12, None), check=_einsum_check)
def convert_einsum(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    values = [cx.operand(n) for n in node.inputs]
    subs, out = parse_einsum(str(node.attr("equation")), [len(v.shape) for v in values])
    sizes = {c: d for s, v in zip(subs, values) for c, d in zip(s, v.shape)}
    terms = [_Term(v, s) for v, s in zip(values, subs)]
    acc = _reduce_to(b, terms[0], set(out) | {c for t in terms[1:] for c in t.subs})
    for k, t in enumerate(terms[1:], start=1):
        keep = set(out) | {c for later in terms[k + 1:] for c in later.subs}
        acc = _contract(b, acc, t, keep, sizes)
    acc = _reduce_to(b, acc, set(out))
    result = _permute(b, acc, out)
    if any(result is v for v in values):
        result = b.identity(result)
    return [result]
