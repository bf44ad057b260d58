"""Shape and data-movement ATen ops: views, permute, expand, cat, slice/select, split,
pad, flip, repeat, tril/triu, gather/index/scatter, cumsum, arange, copy.

Views become copies inside WebNN (a WebNN graph never aliases); output shapes are
taken from the node's metadata, so torch's ``-1`` and broadcasting rules need no
re-implementation.
"""

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
    out_dtype,
    output_dtype_check,
    promoted,
    rank_of,
    shape_of,
    val,
)

_RESHAPES = (aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.view_copy.default,
             aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.unsqueeze.default,
             aten.flatten.using_ints)


@converter(*_RESHAPES, webnn_ops=("reshape",), check=output_dtype_check("reshape"))
def reshape(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    shape = list(shape_of(node))
    return x if list(x.shape) == shape else cx.builder.reshape(x, shape)


@converter(aten.permute.default, webnn_ops=("transpose",), check=output_dtype_check("transpose"))
def permute(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    rank = rank_of(node.args[0])
    perm = [norm_dim(int(d), rank) for d in node.args[1]]
    return cx.builder.transpose(cx.operand(node.args[0]), permutation=perm)


@converter(aten.expand.default, webnn_ops=("expand",), check=output_dtype_check("expand"))
def expand(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    shape = list(shape_of(node))
    return x if list(x.shape) == shape else cx.builder.expand(x, shape)


def _cat_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(dtype_reason(query, "concat", dtype_of(node)),
                        *(dtype_reason(query, "cast", dtype_of(t)) for t in node.args[0]
                          if dtype_of(t) != dtype_of(node)))


@converter(aten.cat.default, webnn_ops=("concat",), check=_cat_check)
def cat(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dt = out_dtype(node)
    rank = rank_of(node)
    axis = norm_dim(int(arg(node, 1, "dim", 0)), rank)
    inputs = [cx.operand(t, dt) for t in node.args[0]]
    if len(inputs) == 1:
        return inputs[0]
    return cx.builder.concat(inputs, axis)


def _slice_geometry(node: torch.fx.Node) -> tuple[list[int], list[int], list[int]]:
    shape = shape_of(node.args[0])
    rank = len(shape)
    dim = norm_dim(int(arg(node, 1, "dim", 0)), rank)
    start = arg(node, 2, "start")
    step = int(arg(node, 4, "step", 1))
    n = shape[dim]
    start = 0 if start is None else int(start)
    if start < 0:
        start += n
    start = min(max(start, 0), n)
    starts, sizes, strides = [0] * rank, list(shape), [1] * rank
    # WebNN's sizes are the window read from the input; the output has ceil(size / stride) elements
    starts[dim], sizes[dim], strides[dim] = start, (shape_of(node)[dim] - 1) * step + 1, step
    return starts, sizes, strides


@converter(aten.slice.Tensor, webnn_ops=("slice",), check=output_dtype_check("slice"))
def slice_(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    starts, sizes, strides = _slice_geometry(node)
    if list(sizes) == list(x.shape) and all(s == 0 for s in starts) and all(k == 1 for k in strides):
        return x
    if all(s == 1 for s in strides):
        return cx.builder.slice(x, starts, sizes)
    return cx.builder.slice(x, starts, sizes, strides=strides)


def _select_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(output_dtype_check("slice")(query, node), output_dtype_check("reshape")(query, node))


@converter(aten.select.int, webnn_ops=("slice", "reshape"), check=_select_check)
def select(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    shape = shape_of(node.args[0])
    dim = norm_dim(int(node.args[1]), len(shape))
    index = int(node.args[2]) % shape[dim]
    starts, sizes = [0] * len(shape), list(shape)
    starts[dim], sizes[dim] = index, 1
    y = cx.builder.slice(cx.operand(node.args[0]), starts, sizes)
    return cx.builder.reshape(y, list(shape_of(node)))


def _split_sizes(node: torch.fx.Node) -> list[int]:
    dim = norm_dim(int(arg(node, 2, "dim", 0)), rank_of(node.args[0]))
    return [int(v.shape[dim]) for v in val(node)]


def _split_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    reason = dtype_reason(query, "split", dtype_of(node.args[0]))
    if reason:
        return reason
    if any(s == 0 for s in _split_sizes(node)):
        return "split into an empty piece"
    return None


@converter(aten.split_with_sizes.default, aten.split.Tensor, webnn_ops=("split",), check=_split_check)
def split(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand]:
    dim = norm_dim(int(arg(node, 2, "dim", 0)), rank_of(node.args[0]))
    sizes = _split_sizes(node)
    x = cx.operand(node.args[0])
    if len(sizes) == 1:
        return [x]
    return list(cx.builder.split(x, sizes, axis=dim))


def _unbind_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(dtype_reason(query, "split", dtype_of(node.args[0])),
                        dtype_reason(query, "reshape", dtype_of(node.args[0])))


@converter(aten.unbind.int, webnn_ops=("split", "reshape"), check=_unbind_check)
def unbind(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand]:
    shape = shape_of(node.args[0])
    dim = norm_dim(int(arg(node, 1, "dim", 0)), len(shape))
    x = cx.operand(node.args[0])
    rest = [d for i, d in enumerate(shape) if i != dim]
    parts = [x] if shape[dim] == 1 else list(cx.builder.split(x, shape[dim], axis=dim))
    return [cx.builder.reshape(p, rest) for p in parts]


def _pad_check(mode: str) -> object:
    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        pads = [int(p) for p in node.args[1]]
        if any(p < 0 for p in pads):
            return "negative padding (cropping)"
        if mode != "constant" and any(p >= d for p, d in zip(_pads(node)[0] + _pads(node)[1],
                                                             list(shape_of(node.args[0])) * 2)):
            return f"{mode} padding as large as the dimension"
        return dtype_reason(query, "pad", dtype_of(node))

    return check


def _pads(node: torch.fx.Node) -> tuple[list[int], list[int]]:
    rank = rank_of(node.args[0])
    pads = [int(p) for p in node.args[1]]
    begin, end = [0] * rank, [0] * rank
    for k in range(len(pads) // 2):
        begin[rank - 1 - k] = pads[2 * k]
        end[rank - 1 - k] = pads[2 * k + 1]
    return begin, end


@converter(aten.constant_pad_nd.default, webnn_ops=("pad",), check=_pad_check("constant"))
def constant_pad(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    begin, end = _pads(node)
    value = arg(node, 2, "value", 0)
    dt = out_dtype(node)
    value = float(value) if dt.is_floating_point else int(value)
    return cx.builder.pad(cx.operand(node.args[0]), begin, end, mode="constant", value=value)


_PAD_MODES = {aten.reflection_pad1d.default: "reflection", aten.reflection_pad2d.default: "reflection",
              aten.reflection_pad3d.default: "reflection", aten.replication_pad1d.default: "edge",
              aten.replication_pad2d.default: "edge", aten.replication_pad3d.default: "edge"}


def _register_pads() -> None:
    for target, mode in _PAD_MODES.items():
        converter(target, webnn_ops=("pad",), check=_pad_check(mode))(mode_pad)


def mode_pad(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    begin, end = _pads(node)
    return cx.builder.pad(cx.operand(node.args[0]), begin, end, mode=_PAD_MODES[node.target])


_register_pads()


@converter(aten.flip.default, webnn_ops=("reverse",), check=output_dtype_check("reverse"))
def flip(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    rank = rank_of(node.args[0])
    axes = sorted({norm_dim(int(d), rank) for d in node.args[1]})
    return cx.builder.reverse(cx.operand(node.args[0]), axes=axes)


@converter(aten.repeat.default, webnn_ops=("tile",), check=output_dtype_check("tile"))
def repeat(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    reps = [int(r) for r in node.args[1]]
    shape = list(shape_of(node.args[0]))
    if len(reps) > len(shape):
        x = cx.reshape(x, [1] * (len(reps) - len(shape)) + shape)
    return cx.builder.tile(x, reps)


def _tri_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) < 2:
        return "tril/triu of a rank < 2 tensor"
    return output_dtype_check("triangular")(query, node)


@converter(aten.tril.default, aten.triu.default, webnn_ops=("triangular",), check=_tri_check)
def triangular(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.triangular(cx.operand(node.args[0]), upper=node.target == aten.triu.default,
                                 diagonal=int(arg(node, 1, "diagonal", 0)))


# -- indexing -----------------------------------------------------------------------------------------
def _index_dtype_check(query: SupportQuery, op: str, data: object, index: object) -> str | None:
    return first_reason(dtype_reason(query, op, dtype_of(data)), dtype_reason(query, op, dtype_of(index), "indices"))


def _index_select_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) == 0:
        return "index_select of a 0-d tensor"
    return _index_dtype_check(query, "gather", node.args[0], node.args[2])


@converter(aten.index_select.default, webnn_ops=("gather",), check=_index_select_check)
def index_select(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    rank = rank_of(node.args[0])
    dim = norm_dim(int(node.args[1]), rank)
    y = cx.builder.gather(cx.operand(node.args[0]), cx.operand(node.args[2]), axis=dim)
    return cx.reshape(y, shape_of(node))


def _index_position(node: torch.fx.Node) -> int | None:
    indices = list(node.args[1])
    present = [i for i, t in enumerate(indices) if t is not None]
    return present[0] if len(present) == 1 else None


def _leading_indices(node: torch.fx.Node) -> list[torch.fx.Node] | None:
    """The index tensors when they are the first k indices with nothing in between (x[i, j])."""
    indices = list(node.args[1])
    present = [i for i, t in enumerate(indices) if t is not None]
    if not present or present != list(range(len(present))):
        return None
    return [indices[i] for i in present]


def _index_reason(query: SupportQuery, node: torch.fx.Node, op: str) -> str | None:
    for t in node.args[1]:
        if t is not None and dtype_of(t) in (torch.bool, torch.uint8):
            return "boolean-mask indexing (data-dependent shape)"
    if _index_position(node) is None and _leading_indices(node) is None:
        return "advanced indexing with several index tensors that are not the leading dimensions"
    index = next(t for t in node.args[1] if t is not None)
    return _index_dtype_check(query, op, node.args[0], index)


def _index_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    op = "gather" if _index_position(node) is not None else "gather_nd"
    return first_reason(_index_reason(query, node, op),
                        None if op == "gather" else dtype_reason(query, "concat", dtype_of(node.args[1][0])))


def _stacked_indices(cx: ConvertContext, indices: list[torch.fx.Node]) -> MLOperand:
    """Index tensors broadcast together and stacked on a new last axis: [*B, k]."""
    shape = list(torch.broadcast_shapes(*(shape_of(t) for t in indices)))
    dt = promoted(*indices)
    parts = []
    for t in indices:
        op = cx.operand(t, dt)
        if list(op.shape) != shape:
            op = cx.builder.expand(op, shape)
        parts.append(cx.reshape(op, [*shape, 1]))
    return parts[0] if len(parts) == 1 else cx.builder.concat(parts, len(shape))


@converter(aten.index.Tensor, webnn_ops=(), check=_index_check)
def index(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    pos = _index_position(node)
    if pos is not None:
        return cx.builder.gather(cx.operand(node.args[0]), cx.operand(node.args[1][pos]), axis=pos)
    indices = _leading_indices(node)
    assert indices is not None
    return cx.builder.gather_nd(cx.operand(node.args[0]), _stacked_indices(cx, indices))


def _index_put_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 3, "accumulate", False):
        return "index_put with accumulate=True"
    if _leading_indices(node) is None:
        return "index_put with indices that are not the leading dimensions"
    return first_reason(_index_reason(query, node, "scatter_nd"), dtype_reason(query, "expand", dtype_of(node)))


@converter(aten.index_put.default, webnn_ops=("scatter_nd",), check=_index_put_check)
def index_put(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x_node, _indices, values = node.args[:3]
    indices = _leading_indices(node)
    assert indices is not None
    stacked = _stacked_indices(cx, indices)
    target = [*stacked.shape[:-1], *shape_of(x_node)[len(indices):]]
    updates = cx.operand(values, out_dtype(node))
    if list(updates.shape) != target:
        updates = cx.builder.expand(updates, target)
    return cx.builder.scatter_nd(cx.operand(x_node), stacked, updates)


def _gather_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    x, dim, idx = node.args[:3]
    if arg(node, 3, "sparse_grad", False):
        return "sparse gather"
    xs, is_ = shape_of(x), shape_of(idx)
    d = norm_dim(int(dim), len(xs))
    if len(xs) == 0 or any(a != b for i, (a, b) in enumerate(zip(xs, is_)) if i != d) or len(xs) != len(is_):
        return "gather with an index smaller than the input outside dim (WebNN gatherElements needs equal shapes)"
    return _index_dtype_check(query, "gather_elements", x, idx)


@converter(aten.gather.default, webnn_ops=("gather_elements",), check=_gather_check)
def gather(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x, dim, idx = node.args[:3]
    return cx.builder.gather_elements(cx.operand(x), cx.operand(idx), axis=norm_dim(int(dim), rank_of(x)))


def _scatter_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 4, "reduce") is not None:
        return "scatter with a reduction"
    x, dim, idx = node.args[:3]
    xs, is_ = shape_of(x), shape_of(idx)
    d = norm_dim(int(dim), len(xs))
    if len(xs) == 0 or len(xs) != len(is_) or any(a != b for i, (a, b) in enumerate(zip(xs, is_)) if i != d):
        return "scatter with an index smaller than the input outside dim"
    src = node.args[3]
    if isinstance(src, torch.fx.Node) and shape_of(src) != is_:
        return "scatter with src larger than index"
    return first_reason(_index_dtype_check(query, "scatter_elements", x, idx),
                        None if isinstance(src, torch.fx.Node) else dtype_reason(query, "expand", dtype_of(x)))


@converter(aten.scatter.src, aten.scatter.value, webnn_ops=("scatter_elements",), check=_scatter_check)
def scatter(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x, dim, idx, src = node.args[:4]
    dt = out_dtype(node)
    if isinstance(src, torch.fx.Node):
        updates = cx.operand(src, dt)
    else:
        updates = cx.builder.expand(cx.scalar(src, dt), list(shape_of(idx)))
    return cx.builder.scatter_elements(cx.operand(x), cx.operand(idx), updates,
                                       axis=norm_dim(int(dim), rank_of(x)))


def _cumsum_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) == 0:
        return "cumsum of a 0-d tensor"
    return first_reason(output_dtype_check("cumulative_sum")(query, node),
                        None if dtype_of(node) == dtype_of(node.args[0]) else
                        dtype_reason(query, "cast", dtype_of(node.args[0])))


@converter(aten.cumsum.default, webnn_ops=("cumulative_sum",), check=_cumsum_check)
def cumsum(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = node.args[0]
    return cx.builder.cumulative_sum(cx.operand(x, out_dtype(node)), norm_dim(int(node.args[1]), rank_of(x)))


# -- values known at build time ----------------------------------------------------------------------------
def _arange_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    from ..dtypes import webnn_type

    if webnn_type(out_dtype(node)) is None:
        return f"arange of dtype {out_dtype(node)}"
    return dtype_reason(query, "identity", out_dtype(node))


@converter(aten.arange.default, aten.arange.start, aten.arange.start_step, webnn_ops=("identity",),
           check=_arange_check)
def arange(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    numbers = [a for a in node.args if not isinstance(a, torch.fx.Node)]
    values = torch.arange(*numbers, dtype=out_dtype(node))
    return cx.constant(values)


def _copy_into_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    dst, src = node.args[:2]
    return first_reason(dtype_reason(query, "expand", dtype_of(dst)),
                        None if dtype_of(src) == dtype_of(dst) else dtype_reason(query, "cast", dtype_of(src)))


@converter(aten.copy.default, webnn_ops=("expand",), check=_copy_into_check)
def copy_into(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    dst, src = node.args[:2]
    y = cx.operand(src, dtype_of(dst))
    shape = list(shape_of(dst))
    return cx.builder.expand(y, shape) if list(y.shape) != shape else y
