"""Decompositions of torch's fused inference fast paths, which torch itself does not decompose.

In eval mode without grad, ``nn.TransformerEncoderLayer`` and ``nn.MultiheadAttention``
(batch-first, self-attention) call one fused ATen op each,
``aten._transformer_encoder_layer_fwd`` and ``aten._native_multi_head_attention`` (dynamo
captures the first; the second appears where the module's fast path is traced). torch has
no decomposition for either, so a whole encoder layer reached the partitioner as one op no
converter takes, and ran in torch. Written here in the ops they are made of (linear, layer
norm, matmul, softmax, gelu/relu), AOT tracing splits them into ops WebNN takes.

Semantics follow torch's native implementation (``aten/src/ATen/native/transformers``): the
query is scaled by ``1/sqrt(head_dim)`` before ``q @ k^T``; a mask is boolean, a float mask
counting as "nonzero means masked out" (the native kernel converts it so), laid out by
``mask_type`` (0: ``(L, L)``; 1: key padding ``(B, L)``; 2: ``(B, H, L, L)``; None: broadcast
as given); a fully masked row gives NaN, as torch's kernel does; no dropout (inference only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

aten = torch.ops.aten


def _boolean_mask(mask: torch.Tensor | None, mask_type: int | None, batch: int, seq: int
                  ) -> torch.Tensor | None:
    """The mask as booleans (True: masked out) broadcastable to (B, H, L_q, L_k)."""
    if mask is None:
        return None
    masked = mask if mask.dtype == torch.bool else mask != 0
    if mask_type == 1:  # key padding: one flag per batch and key
        return masked.view(batch, 1, 1, seq)
    return masked  # (L, L), (B, H, L, L) and anything else broadcast as they are


def _attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, num_heads: int,
               qkv_weight: torch.Tensor, qkv_bias: torch.Tensor, proj_weight: torch.Tensor,
               proj_bias: torch.Tensor, mask: torch.Tensor | None, mask_type: int | None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-head attention of batch-first (B, L, E) tensors: (output, per-head weights)."""
    batch, seq_q, embed = query.shape
    seq_k = key.shape[1]
    head = embed // num_heads
    w_q, w_k, w_v = qkv_weight.chunk(3, dim=0)
    b_q, b_k, b_v = qkv_bias.chunk(3, dim=0)

    def heads(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, length: int) -> torch.Tensor:
        return F.linear(x, w, b).view(batch, length, num_heads, head).transpose(1, 2)

    q = heads(query, w_q, b_q, seq_q) * (1.0 / math.sqrt(head))
    k, v = heads(key, w_k, b_k, seq_k), heads(value, w_v, b_v, seq_k)
    scores = torch.matmul(q, k.transpose(-2, -1))
    masked = _boolean_mask(mask, mask_type, batch, seq_k)
    if masked is not None:
        scores = scores.masked_fill(masked, -math.inf)
    weights = torch.softmax(scores, dim=-1)  # a fully masked row is NaN, as in torch's own kernel
    out = torch.matmul(weights, v).transpose(1, 2).reshape(batch, seq_q, embed)
    return F.linear(out, proj_weight, proj_bias), weights


def native_multi_head_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, embed_dim: int,
                                num_head: int, qkv_weight: torch.Tensor, qkv_bias: torch.Tensor,
                                proj_weight: torch.Tensor, proj_bias: torch.Tensor,
                                mask: torch.Tensor | None = None, need_weights: bool = True,
                                average_attn_weights: bool = True, mask_type: int | None = None
                                ) -> tuple[torch.Tensor, Any]:
    """``aten._native_multi_head_attention``: ``nn.MultiheadAttention``'s fast path."""
    out, weights = _attention(query, key, value, num_head, qkv_weight, qkv_bias, proj_weight, proj_bias,
                              mask, mask_type)
    if not need_weights:
        return out, None
    return out, weights.mean(dim=1) if average_attn_weights else weights


def transformer_encoder_layer_fwd(src: torch.Tensor, embed_dim: int, num_heads: int, qkv_weight: torch.Tensor,
                                  qkv_bias: torch.Tensor, proj_weight: torch.Tensor, proj_bias: torch.Tensor,
                                  use_gelu: bool, norm_first: bool, eps: float, norm_weight_1: torch.Tensor,
                                  norm_bias_1: torch.Tensor, norm_weight_2: torch.Tensor, norm_bias_2: torch.Tensor,
                                  ffn_weight_1: torch.Tensor, ffn_bias_1: torch.Tensor, ffn_weight_2: torch.Tensor,
                                  ffn_bias_2: torch.Tensor, mask: torch.Tensor | None = None,
                                  mask_type: int | None = None) -> torch.Tensor:
    """``aten._transformer_encoder_layer_fwd``: ``nn.TransformerEncoderLayer``'s fast path."""
    shape = (embed_dim,)

    def attention(x: torch.Tensor) -> torch.Tensor:
        return _attention(x, x, x, num_heads, qkv_weight, qkv_bias, proj_weight, proj_bias, mask, mask_type)[0]

    def feed_forward(x: torch.Tensor) -> torch.Tensor:
        hidden = F.linear(x, ffn_weight_1, ffn_bias_1)
        return F.linear(F.gelu(hidden) if use_gelu else F.relu(hidden), ffn_weight_2, ffn_bias_2)

    if norm_first:
        x = src + attention(F.layer_norm(src, shape, norm_weight_1, norm_bias_1, eps))
        return x + feed_forward(F.layer_norm(x, shape, norm_weight_2, norm_bias_2, eps))
    x = F.layer_norm(src + attention(src), shape, norm_weight_1, norm_bias_1, eps)
    return F.layer_norm(x + feed_forward(x), shape, norm_weight_2, norm_bias_2, eps)


#: Op -> its decomposition, added to the backend's table.
FAST_PATH_DECOMPOSITIONS: dict[Any, Callable[..., Any]] = {
    aten._native_multi_head_attention.default: native_multi_head_attention,
    aten._transformer_encoder_layer_fwd.default: transformer_encoder_layer_fwd,
}
