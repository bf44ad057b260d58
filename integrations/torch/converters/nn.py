"""Neural-network ATen ops: convolution, pooling, normalization, matrix products,
embedding, upsampling."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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
    float_output_check,
    only_first_output_used,
    out_dtype,
    rank_of,
    shape_of,
)


def _pair(value: Any, default: int) -> list[int]:
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return [default, default]
    if isinstance(value, int):
        return [value, value]
    value = [int(v) for v in value]
    return value * 2 if len(value) == 1 else value


# -- convolution -------------------------------------------------------------------------------
def _conv_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    rank = rank_of(node.args[0])
    transposed = bool(node.args[6])
    op = "conv_transpose2d" if transposed else "conv2d"
    if rank not in (3, 4):
        return f"{rank - 2}-D convolution (WebNN has 2-D only)"
    if transposed and rank == 3:
        return "1-D transposed convolution"
    if transposed and any(int(p) >= int(s) for p, s in zip(_pair(node.args[7], 0), _pair(node.args[3], 1))):
        return "transposed convolution with output_padding >= stride (WebNN requires it smaller)"
    reason = float_output_check(op)(query, node)
    if reason:
        return reason
    if rank == 3 and not query.op_supported("reshape"):
        return "1-D convolution needs reshape"
    return None


@converter(aten.convolution.default, webnn_ops=(), check=_conv_check)
def convolution(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x_node, w_node, bias_node, stride, padding, dilation, transposed, output_padding, groups = node.args[:9]
    b = cx.builder
    x, w = cx.operand(x_node), cx.operand(w_node)
    bias = cx.operand(bias_node) if bias_node is not None else None
    one_d = rank_of(x_node) == 3
    if one_d:
        n, c, length = shape_of(x_node)
        x = cx.reshape(x, [n, c, 1, length])
        o, i, k = shape_of(w_node)
        w = cx.reshape(w, [o, i, 1, k])
        stride, padding, dilation = [1, *stride], [0, *padding], [1, *dilation]
    stride, padding, dilation = _pair(stride, 1), _pair(padding, 0), _pair(dilation, 1)
    pads = [padding[0], padding[0], padding[1], padding[1]]
    if transposed:
        y = b.conv_transpose2d(x, w, padding=pads, strides=stride, dilations=dilation,
                               output_padding=_pair(output_padding, 0), groups=int(groups),
                               input_layout="nchw", filter_layout="iohw", bias=bias)
    else:
        y = b.conv2d(x, w, padding=pads, strides=stride, dilations=dilation, groups=int(groups),
                     input_layout="nchw", filter_layout="oihw", bias=bias)
    return cx.reshape(y, shape_of(node)) if one_d else y


# -- pooling -----------------------------------------------------------------------------------------
def _pool_rank_check(query: SupportQuery, node: torch.fx.Node, op: str) -> str | None:
    if rank_of(node.args[0]) != 4:
        return f"{op} on a rank-{rank_of(node.args[0])} input (unbatched)"
    return dtype_reason(query, op, dtype_of(node.args[0]))


def _max_pool_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(_pool_rank_check(query, node, "max_pool2d"),
                        only_first_output_used(node, "max_pool2d indices"))


@converter(aten.max_pool2d_with_indices.default, webnn_ops=("max_pool2d",), check=_max_pool_check)
def max_pool2d(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    x = cx.operand(node.args[0])
    kernel = _pair(arg(node, 1, "kernel_size"), 1)
    stride = _pair(arg(node, 2, "stride"), 0)
    stride = kernel if stride == [0, 0] else stride
    padding = _pair(arg(node, 3, "padding"), 0)
    dilation = _pair(arg(node, 4, "dilation"), 1)
    out_hw = list(shape_of(node)[2:])
    y = cx.builder.max_pool2d(x, window_dimensions=kernel, strides=stride, dilations=dilation,
                              padding=[padding[0], padding[0], padding[1], padding[1]], layout="nchw",
                              output_sizes=out_hw)
    return [y, None]


def _avg_pool_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if arg(node, 6, "divisor_override") is not None:
        return "avg_pool2d with divisor_override"
    return first_reason(_pool_rank_check(query, node, "average_pool2d"),
                        float_output_check("average_pool2d")(query, node))


@converter(aten.avg_pool2d.default, webnn_ops=("average_pool2d",), check=_avg_pool_check)
def avg_pool2d(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    x = cx.operand(node.args[0])
    kernel = _pair(arg(node, 1, "kernel_size"), 1)
    stride = _pair(arg(node, 2, "stride"), 0)
    stride = kernel if stride == [0, 0] else stride
    padding = _pair(arg(node, 3, "padding"), 0)
    count_include_pad = bool(arg(node, 5, "count_include_pad", True))
    pads = [padding[0], padding[0], padding[1], padding[1]]
    if count_include_pad and any(padding):
        # WebNN averages real elements only; torch counts the zero padding: pad explicitly
        x = cx.builder.pad(x, [0, 0, padding[0], padding[1]], [0, 0, padding[0], padding[1]],
                           mode="constant", value=0)
        pads = [0, 0, 0, 0]
    return cx.builder.average_pool2d(x, window_dimensions=kernel, strides=stride, padding=pads,
                                     layout="nchw", output_sizes=list(shape_of(node)[2:]))


def _adaptive_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) != 4:
        return "adaptive pooling on an unbatched input"
    h, w = shape_of(node.args[0])[2:]
    oh, ow = shape_of(node)[2:]
    if h % oh or w % ow:
        return f"adaptive average pooling {h}x{w} -> {oh}x{ow} has uneven windows"
    return float_output_check("average_pool2d")(query, node)


@converter(aten._adaptive_avg_pool2d.default, webnn_ops=("average_pool2d",), check=_adaptive_check)
def adaptive_avg_pool2d(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    h, w = shape_of(node.args[0])[2:]
    oh, ow = shape_of(node)[2:]
    window = [h // oh, w // ow]
    return cx.builder.average_pool2d(cx.operand(node.args[0]), window_dimensions=window, strides=window,
                                     layout="nchw")


# -- normalization -----------------------------------------------------------------------------------------
def _batch_norm_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) < 2:
        return "batch norm of a rank < 2 input"
    return first_reason(float_output_check("batch_normalization")(query, node),
                        only_first_output_used(node, "batch norm statistics"))


@converter(aten._native_batch_norm_legit_no_training.default, webnn_ops=("batch_normalization",),
           check=_batch_norm_check)
def batch_norm(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    x, weight, bias, mean, var, _momentum, eps = node.args[:7]
    y = cx.builder.batch_normalization(
        cx.operand(x), cx.operand(mean), cx.operand(var),
        scale=cx.operand(weight) if weight is not None else None,
        bias=cx.operand(bias) if bias is not None else None, axis=1, epsilon=float(eps))
    return [y, None, None]


def _layer_norm_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(float_output_check("layer_normalization")(query, node),
                        only_first_output_used(node, "layer norm statistics"))


@converter(aten.native_layer_norm.default, webnn_ops=("layer_normalization",), check=_layer_norm_check)
def layer_norm(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    x, normalized_shape, weight, bias, eps = node.args[:5]
    rank = rank_of(x)
    axes = list(range(rank - len(normalized_shape), rank))
    y = cx.builder.layer_normalization(
        cx.operand(x), scale=cx.operand(weight) if weight is not None else None,
        bias=cx.operand(bias) if bias is not None else None, axes=axes, epsilon=float(eps))
    return [y, None, None]


def _group_norm_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(float_output_check("layer_normalization")(query, node),
                        dtype_reason(query, "reshape", dtype_of(node)),
                        only_first_output_used(node, "group norm statistics"))


@converter(aten.native_group_norm.default, webnn_ops=("layer_normalization", "reshape", "mul", "add"),
           check=_group_norm_check)
def group_norm(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    x_node, weight, bias, n, c, hw, groups, eps = node.args[:8]
    b = cx.builder
    shape = list(shape_of(x_node))
    x = cx.reshape(cx.operand(x_node), [int(n), int(groups), (int(c) // int(groups)) * int(hw)])
    y = cx.reshape(b.layer_normalization(x, axes=[2], epsilon=float(eps)), shape)
    per_channel = [int(c)] + [1] * (len(shape) - 2)
    if weight is not None:
        y = b.mul(y, cx.reshape(cx.operand(weight), per_channel))
    if bias is not None:
        y = b.add(y, cx.reshape(cx.operand(bias), per_channel))
    return [y, None, None]


# -- matrix products ---------------------------------------------------------------------------------------
@converter(aten.mm.default, aten.bmm.default, webnn_ops=("matmul",), check=float_output_check("matmul"))
def matmul(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.matmul(cx.operand(node.args[0]), cx.operand(node.args[1]))


def _addmm_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) > 2:
        return "addmm bias of rank > 2"
    return float_output_check("gemm")(query, node)


@converter(aten.addmm.default, webnn_ops=("gemm",), check=_addmm_check)
def addmm(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    bias, a, b = node.args[:3]
    beta = float(node.kwargs.get("beta", 1))
    alpha = float(node.kwargs.get("alpha", 1))
    b_op, b_transpose = _untransposed(cx, b)
    return cx.builder.gemm(cx.operand(a), b_op, c=cx.operand(bias), alpha=alpha, beta=beta,
                           b_transpose=b_transpose)


def _untransposed(cx: ConvertContext, node: Any) -> tuple[MLOperand, bool]:
    """``(W, True)`` when ``node`` is ``permute(W, [1, 0])`` of a value this graph holds
    (lets gemm read a Linear weight as it is stored); else ``(node, False)``."""
    if (isinstance(node, torch.fx.Node) and node.target == aten.permute.default
            and [int(d) % 2 for d in node.args[1]] == [1, 0] and node.args[0] in cx.env):
        return cx.operand(node.args[0]), True
    return cx.operand(node), False


# -- embedding ---------------------------------------------------------------------------------------------
def _embedding_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    return first_reason(dtype_reason(query, "gather", dtype_of(node.args[0])),
                        dtype_reason(query, "gather", dtype_of(node.args[1]), "indices"))


@converter(aten.embedding.default, webnn_ops=("gather",), check=_embedding_check)
def embedding(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    return cx.builder.gather(cx.operand(node.args[0]), cx.operand(node.args[1]), axis=0)


# -- upsampling --------------------------------------------------------------------------------------------
def _scales_ok(node: torch.fx.Node, scales: Sequence[Any] | None) -> bool:
    if not scales:
        return True
    (h, w), (oh, ow) = shape_of(node.args[0])[2:], shape_of(node)[2:]
    return all(s is None or abs(float(s) - o / i) < 1e-9 for s, o, i in zip(scales, (oh, ow), (h, w)))


def _upsample_scales(node: torch.fx.Node) -> list[Any] | None:
    if node.target in (aten.upsample_nearest2d.vec, aten.upsample_bilinear2d.vec):
        return node.args[-1] if node.target == aten.upsample_nearest2d.vec else arg(node, 3, "scale_factors")
    if node.target == aten.upsample_nearest2d.default:
        return [arg(node, 2, "scales_h"), arg(node, 3, "scales_w")]
    return [arg(node, 3, "scales_h"), arg(node, 4, "scales_w")]


def _upsample_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    if rank_of(node.args[0]) != 4:
        return "upsampling of a non-4-D tensor"
    nearest = "nearest" in str(node.target)
    (h, w), (oh, ow) = shape_of(node.args[0])[2:], shape_of(node)[2:]
    if nearest and not all(o % i == 0 or i % o == 0 for o, i in ((oh, h), (ow, w))):
        return "nearest upsampling by a non-integer ratio rounds differently in WebNN"
    if not nearest and arg(node, 2, "align_corners"):
        return "bilinear upsampling with align_corners=True"
    if not _scales_ok(node, _upsample_scales(node)):
        return "upsampling with scale factors that differ from the size ratio"
    return dtype_reason(query, "resample2d", dtype_of(node))


@converter(aten.upsample_nearest2d.vec, aten.upsample_nearest2d.default, aten.upsample_bilinear2d.vec,
           aten.upsample_bilinear2d.default, webnn_ops=("resample2d",), check=_upsample_check)
def upsample(cx: ConvertContext, node: torch.fx.Node) -> MLOperand:
    mode = "nearest-neighbor" if "nearest" in str(node.target) else "linear"
    return cx.builder.resample2d(cx.operand(node.args[0]), mode=mode, sizes=list(shape_of(node)[2:]),
                                 axes=[2, 3])



# -- attention ---------------------------------------------------------------------------------------------
def _sdpa_check(query: SupportQuery, node: torch.fx.Node) -> str | None:
    q, k, v = node.args[:3]
    dropout = arg(node, 3, "dropout_p", 0.0)
    if dropout:
        return "attention with dropout"
    if rank_of(q) < 3 or not (rank_of(q) == rank_of(k) == rank_of(v)):
        return "attention on tensors of rank < 3 or of different ranks"
    if shape_of(q)[:-2] != shape_of(k)[:-2] or shape_of(k)[:-2] != shape_of(v)[:-2]:
        return "attention with grouped or broadcast heads"
    mask = node.kwargs.get("attn_mask")
    dt = dtype_of(node)
    reasons = [float_output_check("matmul")(query, node), dtype_reason(query, "softmax", dt),
               only_first_output_used(node, "attention logsumexp")]
    if mask is not None:
        reasons += [dtype_reason(query, "where", dt, "true_value"), dtype_reason(query, "add", dt),
                    dtype_reason(query, "reduce_max", torch.uint8)]
    if arg(node, 4, "is_causal", False):
        reasons.append(dtype_reason(query, "triangular", torch.uint8))
    return first_reason(*reasons)


@converter(aten._scaled_dot_product_flash_attention_for_cpu.default, webnn_ops=("matmul", "softmax", "transpose"),
           check=_sdpa_check)
def attention(cx: ConvertContext, node: torch.fx.Node) -> list[MLOperand | None]:
    """softmax(q kᵀ · scale + mask) v, with torch's rule that a fully masked row gives zeros."""
    b, dt = cx.builder, out_dtype(node)
    q_node, k_node, v_node = node.args[:3]
    rank = rank_of(q_node)
    q, k, v = cx.operand(q_node), cx.operand(k_node), cx.operand(v_node)
    scale = node.kwargs.get("scale")
    scale = 1.0 / math.sqrt(shape_of(q_node)[-1]) if scale is None else float(scale)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    # scaling q ([.., L, E]) costs less than scaling the scores ([.., L, S]) when E < S
    qs = b.mul(q, cx.scalar(scale, dt))
    scores = b.matmul(qs, b.transpose(k, permutation=perm))
    length, source = shape_of(q_node)[-2], shape_of(k_node)[-2]
    mask = node.kwargs.get("attn_mask")
    allowed = None
    if arg(node, 4, "is_causal", False):
        ones = cx.constant(torch.ones(length, source, dtype=torch.uint8))
        allowed = b.triangular(ones, upper=False, diagonal=0)
    if mask is not None and dtype_of(mask) == torch.bool:
        m = cx.operand(mask)
        allowed = m if allowed is None else b.logical_and(allowed, m)
    elif mask is not None:
        scores = b.add(scores, cx.operand(mask, dt))
    if allowed is not None:
        scores = b.where(allowed, scores, cx.scalar(float("-inf"), dt))
    probs = b.softmax(scores, rank - 1)
    if mask is not None:  # a row with no allowed position (or all -inf) gives 0, as torch's kernel does
        finite = b.logical_not(b.is_infinite(scores)) if allowed is None else b.logical_and(
            b.expand(allowed, list(probs.shape)), b.logical_not(b.is_infinite(scores)))
        any_finite = b.reduce_max(finite, axes=[rank - 1], keep_dimensions=True)
        probs = b.where(any_finite, probs, cx.scalar(0.0, dt))
    return [b.matmul(probs, v), None]
