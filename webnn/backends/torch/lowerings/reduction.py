"""Torch lowerings of the reductions (see ``webnn/ops/reduction.py``).

Integer semantics follow the spec's emulations (two's-complement wrap-around in the
data type): int32 sums, products and cumulative sums are computed in int32, not
widened. Inside a graph uint32 and uint64 live in int64 (``dtypes.py``):

- uint32 values are exact non-negative int64s; results that can leave [0, 2**32) are
  reduced modulo 2**32 (the same bits a uint32 accumulator would hold).
- uint64 values are int64s with the same bits; sums and products wrap modulo 2**64 in
  int64 exactly as in uint64, and orderings (max, min, argMax, argMin) are taken after
  flipping the sign bit, which maps unsigned order onto signed order.

An empty ``axes`` reduces nothing: the reduction function is applied to each value on
its own (L1 -> |x|, L2 -> |x|, LogSum -> log x, SumSquare -> x*x, the rest -> x). torch
reads ``dim=()`` as "every axis", so that case never reaches a torch reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..registry import LoweringNode, lowering

_U32_MASK = 0xFFFFFFFF
_SIGN_BIT = -(2**63)

Fn = Callable[[torch.Tensor], torch.Tensor]


def _flip_sign(x: torch.Tensor) -> torch.Tensor:
    """Map uint64 order (int64 bits) onto int64 order; its own inverse."""
    return torch.bitwise_xor(x, _SIGN_BIT)


def _prod(dims: tuple[int, ...], keep: bool, out_shape: tuple[int, ...], dtype: torch.dtype) -> Fn:
    """Product over several axes (torch.prod takes one axis at a time)."""
    if len(dims) == 1:
        return lambda x: torch.prod(x, dims[0], keepdim=keep, dtype=dtype)

    def prod(x: torch.Tensor) -> torch.Tensor:
        for d in dims:
            x = torch.prod(x, d, keepdim=True, dtype=dtype)
        return x.reshape(out_shape)

    return prod


def _reduce(op: str, dims: tuple[int, ...], keep: bool, out_shape: tuple[int, ...],
            dtype: torch.dtype, unsigned: bool) -> Fn:
    """The torch computation of one reduction over non-empty ``dims``."""
    if op == "reduce_sum":
        return lambda x: torch.sum(x, dims, keepdim=keep, dtype=dtype)
    if op == "reduce_l1":
        if unsigned:
            return lambda x: torch.sum(x, dims, keepdim=keep, dtype=dtype)
        return lambda x: torch.sum(torch.abs(x), dims, keepdim=keep, dtype=dtype)
    if op == "reduce_sum_square":
        return lambda x: torch.sum(x * x, dims, keepdim=keep, dtype=dtype)
    if op == "reduce_l2":
        return lambda x: torch.linalg.vector_norm(x, 2, dims, keepdim=keep)
    if op == "reduce_log_sum":
        return lambda x: torch.log(torch.sum(x, dims, keepdim=keep, dtype=dtype))
    if op == "reduce_log_sum_exp":
        return lambda x: torch.logsumexp(x, dims, keepdim=keep)
    if op == "reduce_mean":
        return lambda x: torch.mean(x, dims, keepdim=keep)
    if op == "reduce_max":
        return lambda x: torch.amax(x, dims, keepdim=keep)
    if op == "reduce_min":
        return lambda x: torch.amin(x, dims, keepdim=keep)
    if op == "reduce_product":
        return _prod(dims, keep, out_shape, dtype)
    raise AssertionError(op)


def _each_value(op: str, unsigned: bool) -> Fn:
    """The reduction function applied to single values (``axes`` empty)."""
    if op in ("reduce_l1", "reduce_l2") and not unsigned:
        return torch.abs
    if op == "reduce_log_sum":
        return torch.log
    if op == "reduce_sum_square":
        return lambda x: x * x
    return lambda x: x


@lowering("reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp", "reduce_max",
          "reduce_mean", "reduce_min", "reduce_product", "reduce_sum", "reduce_sum_square")
def reduction(node: LoweringNode) -> Callable[..., Any]:
    data_type = node.inputs[0].data_type  # type: ignore[union-attr]
    dims = tuple(node.attrs["axes"])
    keep = bool(node.attrs["keep_dimensions"])
    out_shape = tuple(node.outputs[0].shape)
    unsigned = data_type in ("uint32", "uint64")
    fn = (_reduce(node.op, dims, keep, out_shape, node.out_dtype, unsigned) if dims
          else _each_value(node.op, unsigned))
    if data_type == "uint64" and node.op in ("reduce_max", "reduce_min"):
        inner = fn
        return lambda x: _flip_sign(inner(_flip_sign(x)))
    if data_type == "uint32" and node.op in ("reduce_sum", "reduce_l1", "reduce_product",
                                             "reduce_sum_square"):
        inner = fn
        return lambda x: torch.bitwise_and(inner(x), _U32_MASK)
    return fn


@lowering("arg_min", "arg_max")
def arg_min_max(node: LoweringNode) -> Callable[..., Any]:
    data_type = node.inputs[0].data_type  # type: ignore[union-attr]
    axis = int(node.attrs["axis"])
    keep = bool(node.attrs["keep_dimensions"])
    out = node.out_dtype
    arg = torch.argmin if node.op == "arg_min" else torch.argmax
    # torch returns the first index among equal values, as the tests expect of ties.
    if data_type == "uint64":
        return lambda x: arg(_flip_sign(x), axis, keepdim=keep).to(out)
    return lambda x: arg(x, axis, keepdim=keep).to(out)


@lowering("cumulative_sum")
def cumulative_sum(node: LoweringNode) -> Callable[..., Any]:
    data_type = node.inputs[0].data_type  # type: ignore[union-attr]
    axis = int(node.attrs["axis"])
    exclusive = bool(node.attrs["exclusive"])
    backward = bool(node.attrs["reversed"])
    length = node.inputs[0].shape[axis]  # type: ignore[union-attr]
    dtype = node.out_dtype
    wrap_u32 = data_type == "uint32"

    def cumsum(x: torch.Tensor) -> torch.Tensor:
        if backward:
            x = torch.flip(x, (axis,))
        y = torch.cumsum(x, axis, dtype=dtype)
        if exclusive:
            # Shift by one along the axis: [0, s0, s1, ...] (no subtraction, so no rounding).
            y = torch.cat([torch.zeros_like(y.narrow(axis, 0, 1)), y.narrow(axis, 0, length - 1)], axis)
        if backward:
            y = torch.flip(y, (axis,))
        if wrap_u32:
            y = torch.bitwise_and(y, _U32_MASK)
        return y

    return cumsum
