"""Indexing operations: gather, gatherElements, gatherND, scatterElements, scatterND.

Each definition follows the method steps of its spec section (index.bs at c515210d).
Index values are only known when the graph runs; the spec asks that they lie in
[-N, N) (negative counts from the end) and lets implementations clamp the rest, so the
lowerings wrap negatives and clamp out-of-range values into [-N, N - 1] first: an index
never reads or writes outside the tensor.
"""

from __future__ import annotations

from ..operand import MLOperand
from . import _common as c
from . import _dims as d
from ._registry import MAX_RANK, Emit, op

#: Spec: the allowed data types of every ``indices`` operand.
INDEX_TYPES = ("int32", "uint32", "int64")


def _indices(name: str, indices: object) -> MLOperand:
    idx = c.operand(name, "indices", indices)
    assert idx is not None
    c.data_types(name, "indices", idx, INDEX_TYPES)
    return idx


def _updates(name: str, updates: object, input: MLOperand) -> MLOperand:  # noqa: A002
    upd = c.operand(name, "updates", updates)
    assert upd is not None
    c.same_type(name, "updates", upd, input, "input")
    return upd


def _elements_shape(name: str, input: MLOperand, indices: MLOperand, axis: int) -> None:  # noqa: A002
    """indices must have input's rank and shape except on ``axis`` (gather/scatterElements)."""
    if indices.rank != input.rank:
        raise c.fail(name, f"indices rank must equal the input rank {input.rank}, got "
                           f"{indices.rank} (shape {list(indices.shape)})")
    expected = list(input.shape)
    expected[axis] = indices.shape[axis]
    if list(indices.shape) != expected:
        raise c.fail(name, f"indices shape must be {expected} (the input shape {list(input.shape)} "
                           f"except on axis {axis}), got {list(indices.shape)}")


def _nd_coordinates(name: str, input: MLOperand, indices: MLOperand) -> list[int]:  # noqa: A002
    """Checks of gatherND/scatterND; returns the shape of the gathered slices."""
    if not 1 <= indices.rank <= MAX_RANK:
        raise c.fail(name, f"indices rank must be 1 to {MAX_RANK}, got {indices.rank}")
    k = indices.shape[-1]
    if k > input.rank:
        raise c.fail(name, f"indices last dimension (coordinate size) must be at most the input "
                           f"rank {input.rank}, got {k} (indices shape {list(indices.shape)})")
    return list(indices.shape[:-1]) + list(input.shape[k:])


@op
def gather(input: MLOperand, indices: MLOperand, *, axis: int = 0) -> Emit:  # noqa: A002
    """Take slices of ``input`` along ``axis`` at ``indices`` (spec: gather).

    Output shape: input.shape[:axis] + indices.shape + input.shape[axis + 1:].
    """
    name = "gather"
    idx = _indices(name, indices)
    ax = d.axis_option(name, axis, input.rank)
    shape = list(input.shape[:ax]) + list(idx.shape) + list(input.shape[ax + 1:])
    return Emit([input, idx], [d.out_desc(name, input.data_type, shape)], {"axis": ax})


@op
def gather_elements(input: MLOperand, indices: MLOperand, *, axis: int = 0) -> Emit:  # noqa: A002
    """out[i][j][k] = input[indices[i][j][k]][j][k] for axis 0, and so on (spec: gatherElements)."""
    name = "gather_elements"
    idx = _indices(name, indices)
    ax = d.axis_option(name, axis, input.rank)
    _elements_shape(name, input, idx, ax)
    return Emit([input, idx], [d.out_desc(name, input.data_type, idx.shape)], {"axis": ax})


@op
def gather_nd(input: MLOperand, indices: MLOperand) -> Emit:  # noqa: A002
    """Take the slices of ``input`` at the coordinates in ``indices``' last dimension
    (spec: gatherND)."""
    name = "gather_nd"
    idx = _indices(name, indices)
    shape = _nd_coordinates(name, input, idx)
    return Emit([input, idx], [d.out_desc(name, input.data_type, shape)], {})


@op
def scatter_elements(input: MLOperand, indices: MLOperand, updates: MLOperand, *,  # noqa: A002
                     axis: int = 0) -> Emit:
    """A copy of ``input`` with ``updates`` written along ``axis`` at ``indices``
    (spec: scatterElements)."""
    name = "scatter_elements"
    idx = _indices(name, indices)
    upd = _updates(name, updates, input)
    ax = d.axis_option(name, axis, input.rank)
    _elements_shape(name, input, idx, ax)
    if list(upd.shape) != list(idx.shape):
        raise c.fail(name, f"updates shape must equal the indices shape {list(idx.shape)}, "
                           f"got {list(upd.shape)}")
    return Emit([input, idx, upd], [input.descriptor], {"axis": ax})


@op
def scatter_nd(input: MLOperand, indices: MLOperand, updates: MLOperand) -> Emit:  # noqa: A002
    """A copy of ``input`` with the slices of ``updates`` written at the coordinates in
    ``indices``' last dimension (spec: scatterND)."""
    name = "scatter_nd"
    idx = _indices(name, indices)
    upd = _updates(name, updates, input)
    expected = _nd_coordinates(name, input, idx)
    if list(upd.shape) != expected:
        raise c.fail(name, f"updates shape must be {expected} (indices.shape[:-1] + "
                           f"input.shape[{idx.shape[-1]}:]), got {list(upd.shape)}")
    return Emit([input, idx, upd], [input.descriptor], {})
