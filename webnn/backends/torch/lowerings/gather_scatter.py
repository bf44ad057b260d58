"""Torch lowerings of the indexing ops (see ``webnn/ops/gather_scatter.py``).

Indices arrive as int32 or int64 (uint32 travels as int64). Before any torch indexing
call each index is widened to int64, clamped into [-N, N - 1] and a negative one is
counted from the end, as the spec's notes allow: in-range indices behave as the spec
says and out-of-range ones read or write the nearest edge instead of faulting (torch
would raise on the CPU and trigger a device assert on CUDA).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..registry import LoweringNode, lowering


def _wrap(idx: torch.Tensor, size: int | torch.Tensor) -> torch.Tensor:
    """int64 indices clamped into [-size, size - 1], then made non-negative."""
    idx = idx.to(torch.int64)
    idx = torch.clamp(idx, -size, size - 1) if isinstance(size, int) else \
        torch.minimum(torch.maximum(idx, -size), size - 1)
    return torch.where(idx < 0, idx + size, idx)


@lowering("gather")
def gather(node: LoweringNode) -> Callable[..., Any]:
    axis = node.attrs["axis"]
    size = node.inputs[0].shape[axis]
    out_shape = tuple(node.outputs[0].shape)

    def run(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        picked = torch.index_select(x, axis, _wrap(idx, size).reshape(-1))
        return picked.reshape(out_shape)

    return run


@lowering("gather_elements")
def gather_elements(node: LoweringNode) -> Callable[..., Any]:
    axis = node.attrs["axis"]
    size = node.inputs[0].shape[axis]
    return lambda x, idx: torch.gather(x, axis, _wrap(idx, size))


@lowering("scatter_elements")
def scatter_elements(node: LoweringNode) -> Callable[..., Any]:
    axis = node.attrs["axis"]
    size = node.inputs[0].shape[axis]
    return lambda x, idx, upd: torch.scatter(x, axis, _wrap(idx, size), upd)


class _Coordinates:
    """Turns gatherND/scatterND coordinate rows into row numbers of the input seen as
    ``[prod(shape[:k]), *shape[k:]]`` (static sizes and strides prepared once)."""

    def __init__(self, node: LoweringNode) -> None:
        in_shape = tuple(node.inputs[0].shape)
        idx_shape = tuple(node.inputs[1].shape)
        k = idx_shape[-1]
        lead = in_shape[:k]
        self.rows_shape = (math.prod(lead),) + in_shape[k:]
        self.slice_shape = in_shape[k:]
        self.count = math.prod(idx_shape[:-1])
        strides = [math.prod(lead[i + 1:]) for i in range(k)]
        self.sizes = torch.tensor(lead, dtype=torch.int64, device=node.device)
        self.strides = torch.tensor(strides, dtype=torch.int64, device=node.device)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        return (_wrap(idx, self.sizes) * self.strides).sum(-1).reshape(-1)


@lowering("gather_nd")
def gather_nd(node: LoweringNode) -> Callable[..., Any]:
    coords = _Coordinates(node)
    out_shape = tuple(node.outputs[0].shape)

    def run(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return x.reshape(coords.rows_shape)[coords.rows(idx)].reshape(out_shape)

    return run


@lowering("scatter_nd")
def scatter_nd(node: LoweringNode) -> Callable[..., Any]:
    coords = _Coordinates(node)
    in_shape = tuple(node.inputs[0].shape)
    upd_rows = (coords.count,) + coords.slice_shape

    def run(x: torch.Tensor, idx: torch.Tensor, upd: torch.Tensor) -> torch.Tensor:
        out = x.reshape(coords.rows_shape).clone()
        out.index_put_((coords.rows(idx),), upd.reshape(upd_rows))
        return out.reshape(in_shape)

    return run
