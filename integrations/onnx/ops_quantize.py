"""ONNX -> WebNN converters: QuantizeLinear and DequantizeLinear.

WebNN wants scale and zero point of the input's rank ("blockwise broadcast"): an ONNX
per-tensor scalar becomes shape [1, ...], a per-axis vector is reshaped onto its axis,
and a blocked scale (opset 21 ``block_size``) already has the input's rank. A missing
zero point is a constant 0 of the quantized type.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import SupportQuery

from .model import ONNX_TO_WEBNN
from .registry import ConvertContext, NodeView, converter, dtype_reason, normalize_axis


def _target_shape(node: NodeView, scale_shape: tuple[int, ...]) -> list[int] | str:
    shape = node.in_shape(0)
    rank = len(shape)
    if len(scale_shape) == 0 or (len(scale_shape) == 1 and scale_shape[0] == 1):
        return [1] * rank
    if int(node.attr("block_size", 0)) > 0:
        if len(scale_shape) != rank:
            return "blocked scale of another rank"
        return list(scale_shape)
    if len(scale_shape) != 1:
        return f"scale of shape {list(scale_shape)}"
    axis = normalize_axis(int(node.attr("axis", 1)), rank)
    if scale_shape[0] != shape[axis]:
        return f"per-axis scale of {scale_shape[0]} values for a dimension of {shape[axis]}"
    target = [1] * rank
    target[axis] = scale_shape[0]
    return target


def _fit(b: MLGraphBuilder, value: MLOperand, target: list[int]) -> MLOperand:
    return value if list(value.shape) == target else b.reshape(value, target)


def _zero_point(cx: ConvertContext, node: NodeView, data_type: str, target: list[int]) -> MLOperand:
    if node.has_input(2):
        return _fit(cx.builder, cx.operand(node.inputs[2]), target)
    return cx.constant(np.zeros(target, dtype=np.dtype(data_type)))


def _dequantize_check(query: SupportQuery, node: NodeView) -> str | None:
    target = _target_shape(node, node.in_shape(1))
    if isinstance(target, str):
        return target
    return (dtype_reason(query, "dequantize_linear", node.in_type(0))
            or dtype_reason(query, "dequantize_linear", node.in_type(1), "scale"))


@converter("DequantizeLinear", webnn_ops=("dequantize_linear", "reshape"), opsets=(10, None),
           check=_dequantize_check)
def convert_dequantize(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    target = _target_shape(node, node.in_shape(1))
    assert not isinstance(target, str)
    scale = _fit(b, cx.operand(node.inputs[1]), target)
    return [b.dequantize_linear(x, scale, _zero_point(cx, node, x.data_type, target))]


def _quantized_type(node: NodeView) -> int:
    if node.has_input(2):
        return node.elem_type(node.inputs[2])
    return int(node.attr("output_dtype", 0)) or TensorProto.UINT8


def _quantize_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.in_type(0) != node.in_type(1):
        return "x and y_scale have different data types"
    qtype = _quantized_type(node)
    if qtype not in ONNX_TO_WEBNN or qtype == TensorProto.BOOL:
        return f"quantizing to element type {qtype}"
    target = _target_shape(node, node.in_shape(1))
    if isinstance(target, str):
        return target
    return (dtype_reason(query, "quantize_linear", node.in_type(0))
            or dtype_reason(query, "quantize_linear", ONNX_TO_WEBNN[qtype], "zero_point"))


@converter("QuantizeLinear", webnn_ops=("quantize_linear", "reshape"), opsets=(10, None), check=_quantize_check)
def convert_quantize(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    target = _target_shape(node, node.in_shape(1))
    assert not isinstance(target, str)
    scale = _fit(b, cx.operand(node.inputs[1]), target)
    zero = _zero_point(cx, node, ONNX_TO_WEBNN[_quantized_type(node)], target)
    return [b.quantize_linear(x, scale, zero)]
