"""Torch lowerings of the pooling ops and resample2d (see ``webnn/ops/pool.py``).

Pooling: every window of the spec's output starts at ``-padding_begin + i * stride``;
padded positions never contribute (an average divides by the real elements only, and
a window made only of padding gives 0, as the WPT vectors expect). When torch's own
(symmetric, floor-mode) padding yields exactly those windows, its kernels run as they
are; otherwise the input is padded explicitly to the extent the output needs and the
divisor of each average is a constant computed here once. "nhwc" inputs are viewed as
channels-last NCHW tensors (no copy).

resample2d: torch's upsampling kernels, called with the exact output size and the
spec's scale. Nearest-neighbour rounds differently in torch ("nearest-exact" rounds
half up, the spec half down), so the factory compares torch's source indices with
the spec's on this node's sizes and uses an index gather where they differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from ..registry import LoweringNode, lowering

_TO_NCHW = (0, 3, 1, 2)
_TO_NHWC = (0, 2, 3, 1)

Fn = Callable[[torch.Tensor], torch.Tensor]


class Axis:
    """The static geometry of pooling along one spatial axis."""

    def __init__(self, size: int, window: int, stride: int, dilation: int, begin: int, end: int,
                 out: int) -> None:
        self.size, self.window, self.stride, self.dilation = size, window, stride, dilation
        self.begin, self.end, self.out = begin, end, out
        self.effective = (window - 1) * dilation + 1
        #: Padding after the input that the last window reaches (< 0: input left unread).
        self.needed_end = (out - 1) * stride + self.effective - size - begin

    def counts(self) -> np.ndarray:
        """Real (non-padding) elements in each output position's window."""
        starts = np.arange(self.out)[:, None] * self.stride - self.begin
        taps = starts + np.arange(self.window)[None, :] * self.dilation
        return ((taps >= 0) & (taps < self.size)).sum(axis=1)

    def torch_padding(self, limit: int) -> int | None:
        """torch's symmetric padding that makes the same windows, or None."""
        p = self.begin
        if p > limit:
            return None
        if (self.size + 2 * p - self.effective) // self.stride + 1 != self.out:
            return None
        return p


def _nchw(node: LoweringNode) -> tuple[bool, tuple[int, ...], tuple[int, ...]]:
    nhwc = node.attrs["layout"] == "nhwc"
    x_desc = node.inputs[0]
    assert x_desc is not None
    x_shape, y_shape = x_desc.shape, node.outputs[0].shape
    if nhwc:
        x_shape = tuple(x_shape[i] for i in _TO_NCHW)
        y_shape = tuple(y_shape[i] for i in _TO_NCHW)
    return nhwc, x_shape, y_shape


def _axes(node: LoweringNode) -> tuple[bool, Axis, Axis, int]:
    a = node.attrs
    nhwc, x_shape, y_shape = _nchw(node)
    (kh, kw), (sh, sw), (dh, dw) = a["window_dimensions"], a["strides"], a["dilations"]
    top, bottom, left, right = a["padding"]
    return (nhwc, Axis(x_shape[2], kh, sh, dh, top, bottom, y_shape[2]),
            Axis(x_shape[3], kw, sw, dw, left, right, y_shape[3]), x_shape[1])


def _layout(fn: Fn, nhwc: bool) -> Fn:
    if not nhwc:
        return fn
    return lambda x: fn(x.permute(_TO_NCHW)).permute(_TO_NHWC)


def _explicit_pads(h: Axis, w: Axis) -> tuple[int, int, int, int]:
    """``F.pad`` amounts (negative ones crop input no window reads)."""
    return (w.begin, w.needed_end, h.begin, h.needed_end)


def _window_sum(node: LoweringNode, h: Axis, w: Axis, channels: int) -> Fn:
    """Sum over each window of an input padded with zeros (already padded by the caller)."""
    kernel, stride, dilation = (h.window, w.window), (h.stride, w.stride), (h.dilation, w.dilation)
    if dilation == (1, 1):
        return lambda x: F.avg_pool2d(x, kernel, stride, 0, False, True, 1)
    ones = torch.ones((channels, 1, *kernel), dtype=node.out_dtype, device=node.device)
    return lambda x: F.conv2d(x, ones, None, stride, 0, dilation, channels)


def _counts(node: LoweringNode, h: Axis, w: Axis) -> np.ndarray:
    return h.counts()[:, None] * w.counts()[None, :]


@lowering("max_pool2d")
def max_pool2d(node: LoweringNode) -> Fn:
    nhwc, h, w, _ = _axes(node)
    kernel, stride, dilation = (h.window, w.window), (h.stride, w.stride), (h.dilation, w.dilation)
    dtype = node.out_dtype
    ph, pw = h.torch_padding(h.window // 2), w.torch_padding(w.window // 2)
    if ph is not None and pw is not None and dtype.is_floating_point:
        padding = (ph, pw)
        return _layout(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation), nhwc)
    low = -math.inf if dtype.is_floating_point else torch.iinfo(dtype).min
    pads = _explicit_pads(h, w)
    empty = _counts(node, h, w) == 0
    mask = torch.from_numpy(empty).to(node.device) if empty.any() else None
    # torch's max_pool2d has no integer kernels on CUDA: integers take windows as views.
    pool = (lambda x: F.max_pool2d(x, kernel, stride, 0, dilation)) if dtype.is_floating_point else (
        lambda x: x.unfold(2, h.effective, h.stride).unfold(3, w.effective, w.stride)
        [..., ::h.dilation, ::w.dilation].amax(dim=(-2, -1)))

    x_desc = node.inputs[0]
    if x_desc is not None and x_desc.data_type == "uint64":
        # uint64 travels as int64 with the same bits: flipping the sign bit maps unsigned
        # order onto signed order; the padding is then the unsigned minimum, 0.
        signed, flip, low = pool, torch.iinfo(torch.int64).min, 0
        pool = lambda x: torch.bitwise_xor(signed(torch.bitwise_xor(x, flip)), flip)  # noqa: E731

    def run(x: torch.Tensor) -> torch.Tensor:
        y = pool(F.pad(x, pads, value=low))
        return y if mask is None else y.masked_fill_(mask, 0)

    return _layout(run, nhwc)


@lowering("average_pool2d")
def average_pool2d(node: LoweringNode) -> Fn:
    nhwc, h, w, channels = _axes(node)
    kernel, stride = (h.window, w.window), (h.stride, w.stride)
    if (h.dilation, w.dilation) == (1, 1):
        ph, pw = h.torch_padding(h.window // 2), w.torch_padding(w.window // 2)
        if ph is not None and pw is not None:
            padding = (ph, pw)
            return _layout(lambda x: F.avg_pool2d(x, kernel, stride, padding, False, False), nhwc)
    pads = _explicit_pads(h, w)
    total = _window_sum(node, h, w, channels)
    counts = torch.from_numpy(np.maximum(_counts(node, h, w), 1)).to(node.device, node.out_dtype)
    return _layout(lambda x: total(F.pad(x, pads)).div_(counts), nhwc)


@lowering("l2_pool2d")
def l2_pool2d(node: LoweringNode) -> Fn:
    nhwc, h, w, channels = _axes(node)
    kernel, stride = (h.window, w.window), (h.stride, w.stride)
    if (h.dilation, w.dilation) == (1, 1):
        ph, pw = h.torch_padding(h.window // 2), w.torch_padding(w.window // 2)
        if ph is not None and pw is not None:
            padding = (ph, pw)
            return _layout(lambda x: F.avg_pool2d(x * x, kernel, stride, padding, False, True, 1).sqrt_(),
                           nhwc)
    pads = _explicit_pads(h, w)
    total = _window_sum(node, h, w, channels)
    return _layout(lambda x: total(F.pad(x * x, pads)).sqrt_(), nhwc)


# -- resample2d -----------------------------------------------------------------------

def _scale(attrs: dict[str, Any], index: int, size: int, out: int) -> Fraction:
    """The spec's ``scale`` on one axis: the given scale, or output / input with sizes."""
    if attrs["sizes"] is not None:
        return Fraction(out, size)
    return Fraction(attrs["scales"][index])


def nearest_indices(size: int, out: int, scale: Fraction) -> np.ndarray:
    """Spec nearest-neighbor source index of every output position (exact arithmetic)."""
    idx = []
    for o in range(out):
        coord = min(max((o + Fraction(1, 2)) / scale - Fraction(1, 2), Fraction(0)), Fraction(size - 1))
        idx.append(math.ceil(coord - Fraction(1, 2)))
    return np.array(idx, dtype=np.int64)


@lowering("resample2d")
def resample2d(node: LoweringNode) -> Fn:
    a = node.attrs
    x_desc = node.inputs[0]
    assert x_desc is not None
    ax0, ax1 = a["axes"]
    rest = [d for d in range(4) if d not in (ax0, ax1)]
    perm = (*rest, ax0, ax1)
    inverse = tuple(perm.index(d) for d in range(4))
    moved = perm != (0, 1, 2, 3)
    sizes = [x_desc.shape[ax0], x_desc.shape[ax1]]
    outs = [node.outputs[0].shape[ax0], node.outputs[0].shape[ax1]]
    scales = [_scale(a, i, sizes[i], outs[i]) for i in range(2)]
    # torch's upsample ops take the output size and, optionally, the scale they use for
    # the coordinate transform (None: input / output size).
    torch_scales = [None if a["sizes"] is not None else float(s) for s in scales]
    dtype = node.out_dtype

    if a["mode"] == "linear":
        core = _linear(outs, torch_scales, dtype)
    else:
        core = _nearest(node, sizes, outs, scales, torch_scales, dtype)

    if not moved:
        return core
    return lambda x: core(x.permute(perm)).permute(inverse)


def _linear(outs: list[int], torch_scales: list[float | None], dtype: torch.dtype) -> Fn:
    op = torch.ops.aten.upsample_bilinear2d.default
    if dtype.is_floating_point:
        return lambda x: op(x, outs, False, *torch_scales)
    info = torch.iinfo(dtype)
    # Integer inputs: interpolate in float32, round half to even, saturate.
    return lambda x: op(x.float(), outs, False, *torch_scales).round_().clamp_(info.min, info.max).to(dtype)


def _nearest(node: LoweringNode, sizes: list[int], outs: list[int], scales: list[Fraction],
             torch_scales: list[float | None], dtype: torch.dtype) -> Fn:
    want = [nearest_indices(sizes[i], outs[i], scales[i]) for i in range(2)]
    op = torch.ops.aten._upsample_nearest_exact2d.default
    if dtype.is_floating_point:
        # Probe on the CPU (same index rule on every device; a meta tensor has no data).
        probe = torch.zeros((1, 2, sizes[0], sizes[1]), dtype=torch.float32)
        probe[0, 0] = torch.arange(sizes[0], dtype=torch.float32)[:, None]
        probe[0, 1] = torch.arange(sizes[1], dtype=torch.float32)[None, :]
        got = op(probe, outs, *torch_scales).cpu().numpy()
        if (np.array_equal(got[0, 0, :, 0].astype(np.int64), want[0])
                and np.array_equal(got[0, 1, 0, :].astype(np.int64), want[1])):
            return lambda x: op(x, outs, *torch_scales)
    rows = torch.from_numpy(want[0]).to(node.device)
    cols = torch.from_numpy(want[1]).to(node.device)
    return lambda x: x.index_select(2, rows).index_select(3, cols)
