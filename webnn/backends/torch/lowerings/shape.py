"""Torch lowerings of the shape ops (see ``webnn/ops/shape.py``).

Everything static (index tuples, gather indices for edge/reflection padding, masks)
is computed once here. Values arrive in compute types, so uint64 travels as int64 with
the same bits: these ops only move bits and stay exact; a uint64 pad value above
2**63 - 1 is turned into the int64 with the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..registry import LoweringNode, lowering


def _storage_bits(value: int | float, data_type: str) -> int | float:
    """The compute-type scalar holding ``value`` of ``data_type`` (uint64 as int64 bits)."""
    if data_type == "uint64" and value >= 2**63:
        return int(value) - 2**64
    return value


@lowering("reshape")
def reshape(node: LoweringNode) -> Callable[..., Any]:
    shape = tuple(node.attrs["new_shape"])
    return lambda x: torch.reshape(x, shape)


@lowering("transpose")
def transpose(node: LoweringNode) -> Callable[..., Any]:
    perm = tuple(node.attrs["permutation"])
    return lambda x: torch.permute(x, perm)


@lowering("concat")
def concat(node: LoweringNode) -> Callable[..., Any]:
    axis = node.attrs["axis"]
    return lambda *xs: torch.cat(xs, dim=axis)


@lowering("slice")
def slice_(node: LoweringNode) -> Callable[..., Any]:
    index = tuple(slice(s, s + n, k) for s, n, k in
                  zip(node.attrs["starts"], node.attrs["sizes"], node.attrs["strides"]))
    return lambda x: x[index]


@lowering("split")
def split(node: LoweringNode) -> Callable[..., Any]:
    sizes, axis = list(node.attrs["sizes"]), node.attrs["axis"]

    def run(x: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(x, sizes, dim=axis))

    run.multi_output = True  # type: ignore[attr-defined]
    return run


def _pad_indices(size: int, begin: int, end: int, mode: str) -> torch.Tensor:
    """Source index along one axis for each output position (edge / reflection)."""
    pos = torch.arange(-begin, size + end, dtype=torch.int64)
    if mode == "edge":
        return pos.clamp(0, size - 1)
    pos = pos.abs()  # reflect at the start (begin < size, so one fold suffices)
    return torch.where(pos > size - 1, 2 * (size - 1) - pos, pos)


@lowering("pad")
def pad(node: LoweringNode) -> Callable[..., Any]:
    begin, end = node.attrs["beginning_padding"], node.attrs["ending_padding"]
    mode = node.attrs["mode"]
    in_shape = node.inputs[0].shape
    out_shape = node.outputs[0].shape
    axes = [i for i, (b, e) in enumerate(zip(begin, end)) if b or e]
    if not axes:
        return torch.clone
    if mode == "constant":
        fill = _storage_bits(node.attrs["value"], node.outputs[0].data_type)
        dtype, device = node.out_dtype, node.device
        inner = tuple(slice(b, b + n) for b, n in zip(begin, in_shape))

        def constant(x: torch.Tensor) -> torch.Tensor:
            out = torch.full(out_shape, fill, dtype=dtype, device=device)
            out[inner] = x
            return out

        return constant
    steps = [(i, _pad_indices(in_shape[i], begin[i], end[i], mode).to(node.device)) for i in axes]

    def gather_pad(x: torch.Tensor) -> torch.Tensor:
        for axis, index in steps:
            x = torch.index_select(x, axis, index)
        return x

    return gather_pad


@lowering("expand")
def expand(node: LoweringNode) -> Callable[..., Any]:
    shape = tuple(node.attrs["new_shape"])
    in_shape = tuple(node.inputs[0].shape)
    padded = (1,) * (len(shape) - len(in_shape)) + in_shape
    # expand() makes a stride-0 view; contiguous() materialises it once.
    return lambda x: x.reshape(padded).expand(shape).contiguous()


@lowering("tile")
def tile(node: LoweringNode) -> Callable[..., Any]:
    reps = tuple(node.attrs["repetitions"])
    if not reps:
        return torch.clone
    return lambda x: x.repeat(reps)


@lowering("reverse")
def reverse(node: LoweringNode) -> Callable[..., Any]:
    axes = tuple(node.attrs["axes"])
    if not axes:
        return torch.clone
    return lambda x: torch.flip(x, axes)


@lowering("triangular")
def triangular(node: LoweringNode) -> Callable[..., Any]:
    rows, cols = node.inputs[0].shape[-2:]
    diagonal, upper = node.attrs["diagonal"], node.attrs["upper"]
    # Keep (i, j) where j - i >= diagonal (upper) or j - i <= diagonal (lower). A mask
    # with where() keeps NaN/Inf out of the zeroed part (0 * Inf would be NaN).
    j_minus_i = torch.arange(cols).unsqueeze(0) - torch.arange(rows).unsqueeze(1)
    keep = (j_minus_i >= diagonal) if upper else (j_minus_i <= diagonal)
    keep = keep.to(node.device)
    zero = torch.zeros((), dtype=node.out_dtype, device=node.device)
    return lambda x: torch.where(keep, x, zero)
