"""Torch lowerings of quantizeLinear and dequantizeLinear (see ``webnn/ops/quantize.py``).

Blockwise broadcasting without materialising the expanded scale: an input axis of
length ``D`` covered by ``S`` scale values (``1 < S < D``) is viewed as ``[S, D/S]`` and
the scale's as ``[S, 1]``, so ordinary broadcasting repeats each scale value over its
block; the result is viewed back to the input's shape.

Arithmetic: dequantize subtracts the zero point exactly (in float32 for 4/8-bit data,
in int64 then float64 for 32-bit data) and rounds once when scaling. Quantize divides
in float32 (float16 inputs too) and rounds half to even; it adds the zero point and
saturates in float32 for 4/8-bit outputs (exact there) and in int64 for 32-bit ones,
so int32/uint32 zero points and bounds stay exact. NaN quantizes to
the zero point (the spec leaves it implementation-defined).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ....dtypes import INT_RANGES
from ..registry import LoweringNode, lowering

#: Rounded quotients are clamped to this before the int64 add (far beyond any bound).
_LIMIT = float(2**40)


def _block_views(data_shape: tuple[int, ...], scale_shape: tuple[int, ...]
                 ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(data view, scale view) shapes that make blocks broadcast; None if none are needed."""
    data_view: list[int] = []
    scale_view: list[int] = []
    split = False
    for d, s in zip(data_shape, scale_shape):
        if s in (1, d):
            data_view.append(d)
            scale_view.append(s)
        else:
            data_view += [s, d // s]
            scale_view += [s, 1]
            split = True
    return (tuple(data_view), tuple(scale_view)) if split else None


def _blockwise(node: LoweringNode, body: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
               ) -> Callable[..., Any]:
    """Wrap ``body(x, scale, zero_point)`` with the block views of this node's shapes."""
    shape = tuple(node.inputs[0].shape)  # type: ignore[union-attr]
    views = _block_views(shape, tuple(node.inputs[1].shape))  # type: ignore[union-attr]
    if views is None:
        return body
    data_view, scale_view = views

    def blocked(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return body(x.reshape(data_view), s.reshape(scale_view), z.reshape(scale_view)).reshape(shape)

    return blocked


@lowering("dequantize_linear")
def dequantize_linear(node: LoweringNode) -> Callable[..., Any]:
    out = node.out_dtype
    wide = node.inputs[0].data_type in ("int32", "uint32")  # type: ignore[union-attr]

    if wide:
        def body(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            diff = (x.to(torch.int64) - z.to(torch.int64)).to(torch.float64)
            return (diff * s.to(torch.float64)).to(out)
    else:
        def body(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            diff = x.to(torch.float32) - z.to(torch.float32)
            return (diff * s.to(torch.float32)).to(out)

    return _blockwise(node, body)


@lowering("quantize_linear")
def quantize_linear(node: LoweringNode) -> Callable[..., Any]:
    out = node.out_dtype
    lo, hi = INT_RANGES[node.outputs[0].data_type]

    if node.outputs[0].data_type in ("int32", "uint32"):
        def body(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            q = torch.round(x.to(torch.float32) / s.to(torch.float32))  # half to even
            q = torch.nan_to_num(q, nan=0.0).clamp(-_LIMIT, _LIMIT).to(torch.int64)
            return (q + z.to(torch.int64)).clamp(lo, hi).to(out)
    else:
        # 4/8-bit: zero points and bounds are small integers, exact in float32.
        def body(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            q = torch.round(x.to(torch.float32) / s.to(torch.float32))  # half to even
            q = torch.nan_to_num(q, nan=0.0) + z.to(torch.float32)
            return q.clamp_(lo, hi).to(out)

    return _blockwise(node, body)
