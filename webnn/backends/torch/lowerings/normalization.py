"""Torch lowerings of the normalization ops (see ``webnn/ops/normalization.py``).

All three compute ``(x - mean) / sqrt(variance + epsilon) * scale + bias``. The
general path follows the spec's emulation (subtract, then divide by the square root);
the common layouts use torch's fused kernels instead (batchNormalization with the
channels at dimension 1, layerNormalization over trailing axes in order), which are
several times faster and stay within WPT's tolerances. Shapes that broadcast the 1-D
or N-D parameters are worked out once, at build time. float16 values on CUDA are
normalised in float32 on the general path and rounded back once at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..registry import LoweringNode, lowering


def _widen(node: LoweringNode) -> torch.dtype | None:
    """float32 when the node computes in float16 (CUDA), else None."""
    return torch.float32 if node.out_dtype == torch.float16 else None


def _feature_shape(rank: int, axis: int, size: int) -> tuple[int, ...]:
    """Shape that lines a 1-D parameter up with ``axis`` of a ``rank``-D input."""
    return tuple(size if d == axis else 1 for d in range(rank))


def _affine(y: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    if scale is not None:
        y = y * scale
    if bias is not None:
        y = y + bias
    return y


@lowering("batch_normalization")
def batch_normalization(node: LoweringNode) -> Callable[..., Any]:
    x_desc = node.inputs[0]
    assert x_desc is not None
    axis, eps = node.attrs["axis"], node.attrs["epsilon"]
    shape = _feature_shape(x_desc.rank, axis, x_desc.shape[axis])
    wide, out = _widen(node), node.out_dtype

    def run(x: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor,
            scale: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        params = [None if p is None else p.reshape(shape) for p in (mean, variance, scale, bias)]
        if wide is not None:
            x = x.to(wide)
            params = [None if p is None else p.to(wide) for p in params]
        m, v, s, b = params
        assert m is not None and v is not None
        y = _affine((x - m) / torch.sqrt(v + eps), s, b)
        return y if wide is None else y.to(out)

    if axis == 1 and x_desc.rank >= 2 and wide is None:
        # Channels at dim 1: torch's fused inference kernel (about 4x faster on the CPU).
        # It folds the parameters into x * a + b, so where x is close to the mean the
        # error is small in absolute terms rather than in ULPs; WPT's cases pass.
        return lambda x, m, v, s, b: F.batch_norm(x, m, v, s, b, False, 0.0, eps)
    return run


def _normalize(x: torch.Tensor, dims: list[int], eps: float) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``dims`` (biased variance)."""
    if not dims:  # nothing reduced: the mean is x itself and the variance 0
        return (x - x) / (math.sqrt(eps) if eps >= 0 else math.nan)
    var, mean = torch.var_mean(x, dim=dims, correction=0, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


@lowering("instance_normalization")
def instance_normalization(node: LoweringNode) -> Callable[..., Any]:
    x_desc = node.inputs[0]
    assert x_desc is not None
    eps, nchw = node.attrs["epsilon"], node.attrs["layout"] == "nchw"
    channel_axis, spatial = (1, [2, 3]) if nchw else (3, [1, 2])
    shape = _feature_shape(4, channel_axis, x_desc.shape[channel_axis])
    wide, out = _widen(node), node.out_dtype

    def run(x: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        params = [None if p is None else p.reshape(shape) for p in (scale, bias)]
        if wide is not None:
            x = x.to(wide)
            params = [None if p is None else p.to(wide) for p in params]
        y = _affine(_normalize(x, spatial, eps), *params)
        return y if wide is None else y.to(out)

    return run


@lowering("layer_normalization")
def layer_normalization(node: LoweringNode) -> Callable[..., Any]:
    x_desc = node.inputs[0]
    assert x_desc is not None
    axes, eps = list(node.attrs["axes"]), node.attrs["epsilon"]
    rank = x_desc.rank
    # scale/bias have one dimension per axis in the order of ``axes``: permute them
    # into ascending axis order, then view them with 1s at the other dimensions.
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    permute = order != list(range(len(axes)))
    shape = tuple(x_desc.shape[d] if d in axes else 1 for d in range(rank))
    wide, out = _widen(node), node.out_dtype

    def param(p: torch.Tensor | None) -> torch.Tensor | None:
        if p is None:
            return None
        if permute:
            p = p.permute(order)
        p = p.reshape(shape)
        return p if wide is None else p.to(wide)

    def run(x: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        if wide is not None:
            x = x.to(wide)
        y = _affine(_normalize(x, axes, eps), param(scale), param(bias))
        return y if wide is None else y.to(out)

    if axes and axes == list(range(rank - len(axes), rank)) and eps >= 0:
        # The usual case (trailing axes, in order): torch's fused kernel.
        normalized = tuple(x_desc.shape[rank - len(axes):])

        def fused(x: torch.Tensor, scale: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
            return F.layer_norm(x, normalized, scale, bias, eps)

        return fused
    return run
