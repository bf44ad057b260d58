"""Torch lowerings of conv2d and conv_transpose2d (see ``webnn/ops/conv.py``).

torch convolves NCHW tensors with OIHW (conv) or IOHW (transposed conv) weights.
Everything static is decided here, once per node:

- "nhwc" inputs are viewed as NCHW with ``permute`` (no copy): torch sees a
  channels-last tensor, runs its channels-last kernels and returns a channels-last
  result, which the inverse ``permute`` views as contiguous NHWC again.
- Constant filters reach this lowering already in torch's layout (the build-time pass
  ``webnn/passes/layout.py`` rewrites them once); other filter layouts are viewed into
  torch's with ``permute``.
- Symmetric padding goes to torch's own ``padding``; asymmetric padding is an explicit
  ``F.pad`` for conv2d, and for conv_transpose2d a crop of torch's result.
- A fused residual (``residual`` attribute, input 3: see ``webnn/passes/fusion.py``) is
  added to the result, then a fused activation (``activation`` attribute) is applied in
  place; the prepacked CPU kernel does both inside oneDNN (a binary and an eltwise
  post-op) for relu, and without a residual also clamp (relu6...) and leaky_relu
  (``_fused.kernel_activation``).
- On the CPU in float32, a conv2d whose filter is a constant gets it prepacked once at
  build (:class:`~webnn.backends.torch.compiler.PrepareConstant`): oneDNN's blocked
  weight layout, used by ``mkldnn._convolution_pointwise`` (what torch's inductor uses
  for frozen CPU convolutions), which saves the per-call weight reorder ``F.conv2d``
  does (about 25% of ResNet-18's convolution time single-threaded).

In the common case (nchw, oihw, symmetric padding) the callable is one ``F.conv2d``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

from ..compiler import ConsumeInput, PrepareConstant
from ..registry import LoweringNode, lowering
from ._fused import in_place_activation, kernel_activation

#: Filter layout -> permutation that views it as torch's conv2d weight (OIHW).
TO_OIHW: dict[str, tuple[int, ...] | None] = {
    "oihw": None, "hwio": (3, 2, 0, 1), "ohwi": (0, 3, 1, 2), "ihwo": (3, 0, 1, 2)}
#: Filter layout -> permutation that views it as torch's conv_transpose2d weight (IOHW).
TO_IOHW: dict[str, tuple[int, ...] | None] = {
    "iohw": None, "hwoi": (3, 2, 0, 1), "ohwi": (3, 0, 1, 2)}

_TO_NCHW = (0, 3, 1, 2)
_TO_NHWC = (0, 2, 3, 1)

Conv = Callable[..., torch.Tensor]  # (x, filter, bias=None, residual=None) -> result


def _wrap(core: Conv, nhwc: bool, filter_perm: tuple[int, ...] | None,
          after: Callable[[torch.Tensor], Any] | None) -> Conv:
    """Add the layout views and the in-place activation around ``core``, only where needed."""
    if not nhwc and filter_perm is None and after is None:
        return core

    def run(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
            residual: torch.Tensor | None = None) -> torch.Tensor:
        if nhwc:
            x = x.permute(_TO_NCHW)
            if residual is not None:
                residual = residual.permute(_TO_NCHW)
        if filter_perm is not None:
            w = w.permute(filter_perm)
        y = core(x, w, b) if residual is None else core(x, w, b, residual)
        if after is not None:
            after(y)
        return y.permute(_TO_NHWC) if nhwc else y

    return run


@lowering("conv2d")
def conv2d(node: LoweringNode) -> Conv:
    a = node.attrs
    top, bottom, left, right = a["padding"]
    stride, dilation, groups = tuple(a["strides"]), tuple(a["dilations"]), a["groups"]
    symmetric = top == bottom and left == right
    padding = (top, left) if symmetric else 0
    pads = None if symmetric else (left, right, top, bottom)

    def core(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None,
             residual: torch.Tensor | None = None) -> torch.Tensor:
        y = F.conv2d(x if pads is None else F.pad(x, pads), w, b, stride, padding, dilation, groups)
        return y if residual is None else y.add_(residual)

    nhwc, filter_perm, act = a["input_layout"] == "nhwc", TO_OIHW[a["filter_layout"]], in_place_activation(a)
    run = _wrap(core, nhwc, filter_perm, act)
    if node.device.type == "cpu" and node.out_dtype == torch.float32 and torch.backends.mkldnn.is_available():
        run.prepare_constant = _prepacked(node, filter_perm, nhwc, act)  # type: ignore[attr-defined]
    return run


def _prepacked(node: LoweringNode, filter_perm: tuple[int, ...] | None, nhwc: bool,
               after: Callable[[torch.Tensor], Any] | None) -> PrepareConstant:
    """The conv2d with its constant filter reordered once into oneDNN's blocked layout."""
    a = node.attrs
    top, bottom, left, right = a["padding"]
    stride, dilation, groups = list(a["strides"]), list(a["dilations"]), a["groups"]
    x_shape = node.inputs[0].shape  # type: ignore[union-attr]
    n, c, h, w = (x_shape[i] for i in _TO_NCHW) if nhwc else x_shape
    symmetric = top == bottom and left == right
    padding = [top, left] if symmetric else [0, 0]
    pads = None if symmetric else (left, right, top, bottom)
    in_size = [n, c, h, w] if symmetric else [n, c, h + top + bottom, w + left + right]
    conv = torch.ops.mkldnn._convolution_pointwise
    unary, scalars = kernel_activation(a.get("activation") or {}, residual=bool(a.get("residual")))
    if unary is not None:
        after = None

    def prepare(weight: torch.Tensor) -> torch.Tensor:
        if filter_perm is not None:
            weight = weight.permute(filter_perm)
        return torch.ops.mkldnn._reorder_convolution_weight(
            weight.contiguous(), padding, stride, dilation, groups, in_size)

    def core(x: torch.Tensor, packed: torch.Tensor, b: torch.Tensor | None = None,
             residual: torch.Tensor | None = None) -> torch.Tensor:
        if pads is not None:
            x = F.pad(x, pads)
        if residual is None:
            return conv(x, packed, b, padding, stride, dilation, groups, unary or "none", scalars, "")
        return conv.binary(x, residual, packed, b, padding, stride, dilation, groups, "add", None, unary, scalars,
                           "")

    run = _wrap(core, nhwc, None, after)
    if a.get("residual"):
        accumulate = torch.ops.mkldnn._convolution_pointwise_.binary

        def core_into(x: torch.Tensor, packed: torch.Tensor, b: torch.Tensor | None,
                      residual: torch.Tensor) -> torch.Tensor:
            """The result accumulated into ``residual``'s buffer (oneDNN's sum post-op: the
            add costs nothing, where the binary post-op above costs a pass)."""
            if pads is not None:
                x = F.pad(x, pads)
            return accumulate(residual, x, packed, b, padding, stride, dilation, groups, "add", 1.0, unary, scalars,
                              "")

        run.consume_input = ConsumeInput(3, _wrap(core_into, nhwc, None, after))  # type: ignore[attr-defined]
    return PrepareConstant(1, prepare, run, filter_perm)


def transpose_plan(size: int, kernel: int, stride: int, dilation: int, begin: int, end: int,
                   out: int) -> tuple[int, int, int]:
    """torch ``(padding, output_padding, crop start)`` giving the spec's output on one axis.

    torch pads symmetrically; with ``p = min(begin, end)`` and enough output padding
    its result covers the spec's output, which starts ``begin - p`` into it.
    """
    full = (size - 1) * stride + (kernel - 1) * dilation + 1
    p = min(begin, end)
    extra = max(0, begin + out - full + p)
    return p, extra, begin - p


@lowering("conv_transpose2d")
def conv_transpose2d(node: LoweringNode) -> Conv:
    a = node.attrs
    nhwc = a["input_layout"] == "nhwc"
    x_desc, w_desc = node.inputs[0], node.inputs[1]
    assert x_desc is not None and w_desc is not None
    in_shape = x_desc.shape if not nhwc else tuple(x_desc.shape[i] for i in _TO_NCHW)
    out_shape = node.outputs[0].shape if not nhwc else tuple(node.outputs[0].shape[i] for i in _TO_NCHW)
    dims = dict(zip(a["filter_layout"], w_desc.shape))
    top, bottom, left, right = a["padding"]
    (sh, sw), (dh, dw), groups = a["strides"], a["dilations"], a["groups"]
    ph, qh, ch = transpose_plan(in_shape[2], dims["h"], sh, dh, top, bottom, out_shape[2])
    pw, qw, cw = transpose_plan(in_shape[3], dims["w"], sw, dw, left, right, out_shape[3])
    oh, ow = out_shape[2], out_shape[3]
    full_h = (in_shape[2] - 1) * sh + (dims["h"] - 1) * dh + 1 - 2 * ph + qh
    full_w = (in_shape[3] - 1) * sw + (dims["w"] - 1) * dw + 1 - 2 * pw + qw
    crop = (ch, cw) != (0, 0) or (full_h, full_w) != (oh, ow)
    args = ((sh, sw), (ph, pw), (qh, qw), groups, (dh, dw))

    def core(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        y = F.conv_transpose2d(x, w, b, *args)
        return y[:, :, ch:ch + oh, cw:cw + ow] if crop else y

    return _wrap(core, nhwc, TO_IOHW[a["filter_layout"]], in_place_activation(a))
