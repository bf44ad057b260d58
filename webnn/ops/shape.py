"""Shape and data-movement operations: reshape, transpose, concat, slice, split, pad,
expand, tile, reverse, triangular.

Each definition follows the method steps of its spec section (index.bs at c515210d,
"### <name> ###") and emits normalised attributes: every default filled in, every
list a list of ints, so two equivalent calls give identical IR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..operand import MLOperand
from . import _common as c
from . import _dims as d
from ._cast import cast_number
from ._registry import MAX_RANK, Emit, op

PADDING_MODES = ("constant", "edge", "reflection")


@op
def reshape(input: MLOperand, new_shape: Sequence[int]) -> Emit:  # noqa: A002
    """Same values, new shape (spec: reshape). ``new_shape`` [] makes a scalar."""
    name = "reshape"
    shape = d.ulongs(name, "new_shape", new_shape)
    if len(shape) > MAX_RANK:
        raise c.fail(name, f"new_shape rank must be at most {MAX_RANK}, got {len(shape)} ({shape})")
    d.valid_dims(name, "new_shape", shape)
    if math.prod(shape) != math.prod(input.shape):
        raise c.fail(name, f"new_shape {shape} has {math.prod(shape)} elements, the input "
                           f"{list(input.shape)} has {math.prod(input.shape)}")
    return Emit([input], [d.out_desc(name, input.data_type, shape)], {"new_shape": shape})


@op
def transpose(input: MLOperand, *, permutation: Sequence[int] | None = None) -> Emit:  # noqa: A002
    """Permute dimensions (spec: transpose); the default reverses them."""
    name = "transpose"
    rank = input.rank
    if permutation is None:
        perm = list(range(rank - 1, -1, -1))
    else:
        perm = d.ulongs(name, "permutation", permutation, length=rank)
        if any(p >= rank for p in perm):
            raise c.fail(name, f"permutation values must be in [0, {rank}), got {perm}")
        if len(set(perm)) != rank:
            raise c.fail(name, f"permutation must not repeat a value, got {perm}")
    shape = [input.shape[p] for p in perm]
    return Emit([input], [d.out_desc(name, input.data_type, shape)], {"permutation": perm})


@op
def concat(inputs: Sequence[MLOperand], axis: int) -> Emit:
    """Join tensors along ``axis`` (spec: concat)."""
    name = "concat"
    inputs = list(inputs)
    if len(inputs) > d.MAX_TENSOR_COUNT:
        raise c.fail(name, f"inputs must hold 1 to {d.MAX_TENSOR_COUNT} operands, got {len(inputs)}")
    first = inputs[0]
    ax = d.ulong(name, "axis", axis)
    if ax >= first.rank:
        raise c.fail(name, f"axis must be in [0, {first.rank - 1}] (input rank {first.rank}), got {ax}")
    shape = list(first.shape)
    for i, x in enumerate(inputs[1:], start=1):
        if x.data_type != first.data_type:
            raise c.fail(name, f"inputs[{i}] data type must match inputs[0] ({first.data_type}), "
                               f"got {x.data_type}")
        if x.rank != first.rank:
            raise c.fail(name, f"inputs[{i}] rank must match inputs[0] ({first.rank}), got {x.rank} "
                               f"(shape {list(x.shape)})")
        for dim in range(x.rank):
            if dim != ax and x.shape[dim] != first.shape[dim]:
                raise c.fail(name, f"inputs[{i}] shape {list(x.shape)} must match inputs[0] "
                                   f"{list(first.shape)} except on axis {ax}")
        shape[ax] += x.shape[ax]
    return Emit(list(inputs), [d.out_desc(name, first.data_type, shape)], {"axis": ax})


@op
def slice(input: MLOperand, starts: Sequence[int], sizes: Sequence[int], *,  # noqa: A001, A002
          strides: Sequence[int] | None = None) -> Emit:
    """Take ``sizes[d]`` elements from ``starts[d]``, every ``strides[d]``-th (spec: slice)."""
    name = "slice"
    rank = input.rank
    size_list = d.ulongs(name, "sizes", sizes)
    if any(s == 0 for s in size_list):
        raise c.fail(name, f"sizes must not contain 0, got {size_list}")
    start_list = d.ulongs(name, "starts", starts, length=rank)
    size_list = d.ulongs(name, "sizes", size_list, length=rank)
    stride_list = [1] * rank if strides is None else d.ulongs(name, "strides", strides, length=rank)
    out = []
    for i, (dim, start, size, stride) in enumerate(zip(input.shape, start_list, size_list, stride_list)):
        if stride < 1:
            raise c.fail(name, f"strides must be >= 1, got {stride_list}")
        if start > dim:
            raise c.fail(name, f"starts[{i}] must be at most the input size {dim}, got {start}")
        if start + size > dim:
            raise c.fail(name, f"starts[{i}] + sizes[{i}] must be at most the input size {dim}, "
                               f"got {start} + {size}")
        out.append(-(-size // stride))
    return Emit([input], [d.out_desc(name, input.data_type, out)],
                {"starts": start_list, "sizes": size_list, "strides": stride_list})


@op
def split(input: MLOperand, splits: int | Sequence[int], *, axis: int = 0) -> Emit:  # noqa: A002
    """Cut ``input`` along ``axis`` into ``splits`` equal parts or parts of the given sizes
    (spec: split). Always returns a list."""
    name = "split"
    ax = d.axis_option(name, axis, input.rank)
    dim = input.shape[ax]
    if isinstance(splits, Sequence) and not isinstance(splits, (str, bytes)):
        sizes = d.ulongs(name, "splits", splits)
        if not 0 < len(sizes) <= d.MAX_TENSOR_COUNT:
            raise c.fail(name, f"splits must hold 1 to {d.MAX_TENSOR_COUNT} sizes, got {len(sizes)}")
        if any(s == 0 for s in sizes):
            raise c.fail(name, f"splits must not contain 0, got {sizes}")
        if sum(sizes) != dim:
            raise c.fail(name, f"splits {sizes} must sum to the input size {dim} on axis {ax}, "
                               f"got {sum(sizes)}")
    else:
        count = d.ulong(name, "splits", splits)
        if not 0 < count <= d.MAX_TENSOR_COUNT:
            raise c.fail(name, f"splits must be in [1, {d.MAX_TENSOR_COUNT}], got {count}")
        if dim % count:
            raise c.fail(name, f"splits {count} must divide the input size {dim} on axis {ax}")
        sizes = [dim // count] * count
    outs = []
    for s in sizes:
        shape = list(input.shape)
        shape[ax] = s
        outs.append(d.out_desc(name, input.data_type, shape))
    return Emit([input], outs, {"axis": ax, "sizes": sizes}, multi=True)


@op
def pad(input: MLOperand, beginning_padding: Sequence[int], ending_padding: Sequence[int], *,  # noqa: A002
        mode: str = "constant", value: int | float = 0) -> Emit:
    """Pad each dimension with a constant, its edge values or its reflection (spec: pad).

    ``value`` (an MLNumber) is cast to the input's data type as the spec says: integer
    values stay exact (64-bit included), NaN becomes 0 for integer types.
    """
    name = "pad"
    rank = input.rank
    begin = d.ulongs(name, "beginning_padding", beginning_padding, length=rank)
    end = d.ulongs(name, "ending_padding", ending_padding, length=rank)
    mode = c.choice(name, "mode", mode, PADDING_MODES)
    shape = []
    for i, dim in enumerate(input.shape):
        if mode == "reflection" and (begin[i] >= dim or end[i] >= dim):
            raise c.fail(name, f"reflection padding on axis {i} must be smaller than the input "
                               f"size {dim}, got beginning {begin[i]} and ending {end[i]}")
        shape.append(begin[i] + dim + end[i])
    fill = cast_number(name, "value", value, input.data_type)
    return Emit([input], [d.out_desc(name, input.data_type, shape)],
                {"beginning_padding": begin, "ending_padding": end, "mode": mode, "value": fill})


@op
def expand(input: MLOperand, new_shape: Sequence[int]) -> Emit:  # noqa: A002
    """Broadcast ``input`` to ``new_shape`` one way (spec: expand)."""
    name = "expand"
    shape = d.ulongs(name, "new_shape", new_shape)
    d.valid_dims(name, "new_shape", shape)
    c.unidirectional(name, input.shape, shape, "input")
    return Emit([input], [d.out_desc(name, input.data_type, shape)], {"new_shape": shape})


@op
def tile(input: MLOperand, repetitions: Sequence[int]) -> Emit:  # noqa: A002
    """Repeat ``input`` ``repetitions[d]`` times along each dimension (spec: tile)."""
    name = "tile"
    reps = d.ulongs(name, "repetitions", repetitions, length=input.rank)
    if any(r == 0 for r in reps):
        raise c.fail(name, f"repetitions must not contain 0, got {reps}")
    shape = [dim * r for dim, r in zip(input.shape, reps)]
    return Emit([input], [d.out_desc(name, input.data_type, shape)], {"repetitions": reps})


@op
def reverse(input: MLOperand, *, axes: Sequence[int] | None = None) -> Emit:  # noqa: A002
    """Reverse along ``axes`` (spec: reverse); absent means every axis, [] means none."""
    name = "reverse"
    ax = list(range(input.rank)) if axes is None else d.axes_list(name, "axes", axes, input.rank)
    return Emit([input], [input.descriptor], {"axes": ax})


@op
def triangular(input: MLOperand, *, upper: bool = True, diagonal: int = 0) -> Emit:  # noqa: A002
    """Keep the upper (or lower) triangle of the last two dimensions, shifted by
    ``diagonal``; zero the rest (spec: triangular)."""
    name = "triangular"
    if not isinstance(upper, bool):
        raise c.fail(name, f"upper must be a bool, got {upper!r}")
    diag = c.integer(name, "diagonal", diagonal)
    if not -(2**31) <= diag <= d.LONG_MAX:
        raise c.fail(name, f"diagonal must be in [{-(2**31)}, {d.LONG_MAX}] (long), got {diag}")
    return Emit([input], [input.descriptor], {"upper": upper, "diagonal": diag})
