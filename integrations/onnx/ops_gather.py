"""ONNX -> WebNN converters: Gather, GatherElements, GatherND, ScatterElements, ScatterND.

WebNN takes negative indices (counting from the end) as ONNX does, so indices pass
through unchanged. Scatter reductions other than 'none' stay on ORT.
"""

from __future__ import annotations

from webnn import MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason, normalize_axis


def _index_check(query: SupportQuery, node: NodeView, op: str) -> str | None:
    if node.rank(0) == 0:
        return f"{node.op_type} of a scalar"
    return (dtype_reason(query, op, node.in_type(0))
            or dtype_reason(query, op, node.in_type(1), "indices"))


@converter("Gather", webnn_ops=("gather",), opsets=(1, None), check=lambda q, n: _index_check(q, n, "gather"))
def convert_gather(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    axis = normalize_axis(int(node.attr("axis", 0)), len(x.shape))
    return [cx.builder.gather(x, cx.operand(node.inputs[1]), axis=axis)]


@converter("GatherElements", webnn_ops=("gather_elements",), opsets=(11, None),
           check=lambda q, n: _index_check(q, n, "gather_elements"))
def convert_gather_elements(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    axis = normalize_axis(int(node.attr("axis", 0)), len(x.shape))
    return [cx.builder.gather_elements(x, cx.operand(node.inputs[1]), axis=axis)]


def _gather_nd_check(query: SupportQuery, node: NodeView) -> str | None:
    if int(node.attr("batch_dims", 0)) != 0:
        return "GatherND with batch_dims != 0"
    return _index_check(query, node, "gather_nd")


@converter("GatherND", webnn_ops=("gather_nd",), opsets=(11, None), check=_gather_nd_check)
def convert_gather_nd(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    return [cx.builder.gather_nd(cx.operand(node.inputs[0]), cx.operand(node.inputs[1]))]


def _scatter_check(query: SupportQuery, node: NodeView, op: str) -> str | None:
    if node.attr("reduction", "none") != "none":
        return f"{node.op_type} with reduction={node.attr('reduction')!r}"
    if node.in_type(0) != node.in_type(2):
        return "data and updates have different data types"
    return _index_check(query, node, op)


@converter("ScatterElements", "Scatter", webnn_ops=("scatter_elements",), opsets=(9, None),
           check=lambda q, n: _scatter_check(q, n, "scatter_elements"))
def convert_scatter_elements(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x, indices, updates = (cx.operand(n) for n in node.inputs[:3])
    axis = normalize_axis(int(node.attr("axis", 0)), len(x.shape))
    return [cx.builder.scatter_elements(x, indices, updates, axis=axis)]


@converter("ScatterND", webnn_ops=("scatter_nd",), opsets=(11, None),
           check=lambda q, n: _scatter_check(q, n, "scatter_nd"))
def convert_scatter_nd(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x, indices, updates = (cx.operand(n) for n in node.inputs[:3])
    return [cx.builder.scatter_nd(x, indices, updates)]
