"""Reduction ATen ops: sum, mean, prod, amax/amin, max/min (values and indices),
argmax/argmin, any/all, vector norms, var."""

from __future__ import annotations

import torch
import torch.fx

from webnn import MLOperand
from webnn.converters import SupportQuery

from ._base import (
    ConvertContext,
    arg,
    aten,
    converter,
    dtype_of,
    dtype_reason,
    first_reason,
    norm_dim,
    norm_dims,
    out_dtype,
    rank_of,
    shape_of,
)

_SIMPLE = {
    aten.sum.dim_IntList: "reduce_sum", aten.sum.default: "reduce_sum", aten.mean.dim: "reduce_mean",
    aten.mean.default: "reduce_mean", aten.prod.dim_int: "reduce_product", aten.prod.default: "reduce_product",
    aten.amax.default: "reduce_max", aten.amin.default: "reduce_min",
}


def _dims_and_keep(node: torch.fx.Node) -> tuple[list[int], bool]:
    rank = rank_of(node.args[0])
    if node.target in (aten.sum.default, aten.mean.default, aten.prod.default):
        return list(range(rank)), False
    dims = arg(node, 1, "dim")
    keep = bool(arg(node, 2, "keepdim", False))
    if node.target == aten.prod.dim_int:
        return [norm_dim(int(dims), rank)], keep
    return norm_dims(dims, rank), keep


def _simple_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = _SIMPLE[node.target]
    src, dt = dtype_of(node.args[0]), dtype_of(node)
    if dt == torch.bool:
        return f"{node.target} producing bool"
    return first_reason(dtype_reason(query, op, dt),
                        None if src == dt else dtype_reason(query, "cast", src))


def _register_simple() -> None:
    for target, op in _SIMPLE.items():
        converter(target, webnn_ops=(op,), check=_simple_check)(reduce)


def reduce(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dims, keep = _dims_and_keep(node)
    x = cx.operand(node.args[0], out_dtype(node))
    return getattr(cx.builder, _SIMPLE[node.target])(x, axes=dims, keep_dimensions=keep)


_register_simple()


def _minmax_dim_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = "reduce_max" if node.target == aten.max.dim else "reduce_min"
    arg_op = "arg_max" if node.target == aten.max.dim else "arg_min"
    dt = dtype_of(node.args[0])
    if rank_of(node.args[0]) == 0:
        return f"{node.target} of a 0-d tensor"
    if dt == torch.bool:
        return f"{node.target} on bool"
    uses = {u.args[1] for u in node.users}
    return first_reason(dtype_reason(query, op, dt) if 0 in uses else None,
                        dtype_reason(query, arg_op, dt) if 1 in uses else None)


@converter(aten.max.dim, aten.min.dim, webnn_ops=(), check=_minmax_dim_check)
def minmax_dim(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    is_max = node.target == aten.max.dim
    rank = rank_of(node.args[0])
    dim = norm_dim(int(node.args[1]), rank)
    keep = bool(arg(node, 2, "keepdim", False))
    x = cx.operand(node.args[0])
    uses = {u.args[1] for u in node.users}
    values = indices = None
    if 0 in uses:
        values = (cx.builder.reduce_max if is_max else cx.builder.reduce_min)(x, axes=[dim], keep_dimensions=keep)
    if 1 in uses:
        indices = (cx.builder.arg_max if is_max else cx.builder.arg_min)(
            x, dim, keep_dimensions=keep, output_data_type="int64")
    return [values, indices]


def _minmax_all_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node.args[0])
    if dt == torch.bool:
        return f"{node.target} on bool"
    return dtype_reason(query, "reduce_max" if node.target == aten.max.default else "reduce_min", dt)


@converter(aten.max.default, aten.min.default, webnn_ops=(), check=_minmax_all_check)
def minmax_all(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    fn = cx.builder.reduce_max if node.target == aten.max.default else cx.builder.reduce_min
    return fn(x, axes=list(range(rank_of(node.args[0]))), keep_dimensions=False)


def _arg_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = "arg_max" if node.target == aten.argmax.default else "arg_min"
    dt = dtype_of(node.args[0])
    if dt == torch.bool:
        return f"{node.target} on bool"
    flat = arg(node, 1, "dim") is None or rank_of(node.args[0]) == 0
    return first_reason(dtype_reason(query, op, dt), dtype_reason(query, "reshape", dt) if flat else None)


@converter(aten.argmax.default, aten.argmin.default, webnn_ops=(), check=_arg_check)
def argmax(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x_node = node.args[0]
    x = cx.operand(x_node)
    dim = arg(node, 1, "dim")
    keep = bool(arg(node, 2, "keepdim", False))
    fn = cx.builder.arg_max if node.target == aten.argmax.default else cx.builder.arg_min
    if dim is None or rank_of(x_node) == 0:
        flat = cx.reshape(x, [max(1, int(torch.Size(shape_of(x_node)).numel()))])
        y = fn(flat, 0, keep_dimensions=False, output_data_type="int64")
        return cx.reshape(y, list(shape_of(node)))
    return fn(x, norm_dim(int(dim), rank_of(x_node)), keep_dimensions=keep, output_data_type="int64")


def _any_all_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = "reduce_max" if "any" in str(node.target) else "reduce_min"
    dt = dtype_of(node.args[0])
    return first_reason(dtype_reason(query, op, torch.uint8),
                        None if dt == torch.bool else dtype_reason(query, "not_equal", dt))


@converter(aten.any.dim, aten.any.dims, aten.any.default, aten.all.dim, aten.all.dims, aten.all.default,
           webnn_ops=(), check=_any_all_check)
def any_all(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    rank = rank_of(node.args[0])
    if node.target in (aten.any.default, aten.all.default):
        dims, keep = list(range(rank)), False
    else:
        dims, keep = norm_dims(arg(node, 1, "dim"), rank), bool(arg(node, 2, "keepdim", False))
    x = cx.to_bool(node.args[0])
    fn = cx.builder.reduce_max if "any" in str(node.target) else cx.builder.reduce_min
    return fn(x, axes=dims, keep_dimensions=keep)


def _norm_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    ord_ = arg(node, 1, "ord", 2)
    if ord_ not in (1, 2, 1.0, 2.0):
        return f"vector norm of order {ord_}"
    dt = dtype_of(node)
    if dt is None or not dt.is_floating_point:
        return "vector norm of integers"
    return dtype_reason(query, "reduce_l2" if ord_ == 2 else "reduce_l1", dt)


@converter(aten.linalg_vector_norm.default, webnn_ops=(), check=_norm_check)
def vector_norm(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    rank = rank_of(node.args[0])
    dims = norm_dims(arg(node, 2, "dim"), rank)
    keep = bool(arg(node, 3, "keepdim", False))
    x = cx.operand(node.args[0], out_dtype(node))
    fn = cx.builder.reduce_l2 if arg(node, 1, "ord", 2) == 2 else cx.builder.reduce_l1
    return fn(x, axes=dims, keep_dimensions=keep)


def _var_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dt = dtype_of(node)
    if dt is None or not dt.is_floating_point:
        return "var of integers"
    return first_reason(*(dtype_reason(query, o, dt) for o in ("reduce_mean", "reduce_sum_square", "sub", "div")))


@converter(aten.var.correction, webnn_ops=("reduce_mean", "reduce_sum_square"), check=_var_check)
def var(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x_node = node.args[0]
    shape = shape_of(x_node)
    dims = norm_dims(arg(node, 1, "dim"), len(shape))
    correction = node.kwargs.get("correction", 1)
    correction = 1 if correction is None else correction
    keep = bool(node.kwargs.get("keepdim", False))
    count = 1
    for d in dims:
        count *= shape[d]
    b, dt = cx.builder, out_dtype(node)
    x = cx.operand(x_node)
    centered = b.sub(x, b.reduce_mean(x, axes=dims, keep_dimensions=True))
    total = b.reduce_sum_square(centered, axes=dims, keep_dimensions=keep)
    return b.div(total, cx.scalar(float(max(count - correction, 0)), dt))
