"""ONNX -> WebNN converters: Reduce*, ArgMax/ArgMin, CumSum.

Axes come from the attribute (older opsets) or from a constant input (ReduceSum
from 13, the others from 18); ``noop_with_empty_axes`` with no axes is an identity.
"""

from __future__ import annotations

import numpy as np

from webnn import MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason, need_const, normalize_axis

REDUCE = {"ReduceSum": "reduce_sum", "ReduceMean": "reduce_mean", "ReduceMax": "reduce_max",
          "ReduceMin": "reduce_min", "ReduceProd": "reduce_product", "ReduceL1": "reduce_l1",
          "ReduceL2": "reduce_l2", "ReduceLogSum": "reduce_log_sum", "ReduceLogSumExp": "reduce_log_sum_exp",
          "ReduceSumSquare": "reduce_sum_square"}


def _axes_from_input(node: NodeView) -> bool:
    return node.opset >= (13 if node.op_type == "ReduceSum" else 18)


def reduce_axes(node: NodeView) -> list[int] | None:
    """The axes to reduce (sorted, non-negative); None means 'no reduction' (noop)."""
    rank = node.rank(0)
    if _axes_from_input(node):
        value = node.const(1) if node.has_input(1) else None
        axes = [] if value is None else [int(v) for v in np.asarray(value).reshape(-1)]
    else:
        axes = [int(a) for a in node.attr("axes", [])]
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return None
        return list(range(rank))
    return sorted({normalize_axis(a, rank) for a in axes})


def _reduce_check(query: SupportQuery, node: NodeView) -> str | None:
    if _axes_from_input(node):
        reason = need_const(node, 1, "axes")
        if reason is not None:
            return reason
    return dtype_reason(query, REDUCE[node.op_type], node.in_type(0))


def convert_reduce(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    axes = reduce_axes(node)
    if axes is None:
        return [cx.builder.identity(x)]
    keep = bool(node.attr("keepdims", 1))
    return [getattr(cx.builder, REDUCE[node.op_type])(x, axes=axes, keep_dimensions=keep)]


for _onnx, _webnn in REDUCE.items():
    converter(_onnx, webnn_ops=(_webnn, "identity"), opsets=(1, None), check=_reduce_check)(convert_reduce)

ARG = {"ArgMax": "arg_max", "ArgMin": "arg_min"}


def _arg_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) == 0:
        return f"{node.op_type} of a scalar"
    if node.attr("select_last_index", 0) and not query.op_supported("reverse"):
        return f"{node.op_type} with select_last_index=1 needs WebNN reverse"
    return dtype_reason(query, ARG[node.op_type], node.in_type(0))


def convert_arg(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    x = cx.operand(node.inputs[0])
    axis = normalize_axis(int(node.attr("axis", 0)), len(x.shape))
    fn = getattr(b, ARG[node.op_type])
    keep = bool(node.attr("keepdims", 1))
    if not node.attr("select_last_index", 0):
        return [fn(x, axis, keep_dimensions=keep, output_data_type="int64")]
    # The last extreme is the first one of the reversed axis: index n - 1 - i.
    first = fn(b.reverse(x, axes=[axis]), axis, keep_dimensions=keep, output_data_type="int64")
    return [b.sub(cx.scalar(x.shape[axis] - 1, "int64"), first)]


for _onnx, _webnn in ARG.items():
    converter(_onnx, webnn_ops=(_webnn, "sub"), opsets=(1, None), check=_arg_check)(convert_arg)


def _cumsum_check(query: SupportQuery, node: NodeView) -> str | None:
    reason = need_const(node, 1, "axis")
    if reason is not None:
        return reason
    if node.rank(0) == 0:
        return "CumSum of a scalar"
    return dtype_reason(query, "cumulative_sum", node.in_type(0))


@converter("CumSum", webnn_ops=("cumulative_sum",), opsets=(11, None), check=_cumsum_check)
def convert_cumsum(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    axis = normalize_axis(int(np.asarray(node.const(1)).reshape(-1)[0]), len(x.shape))
    return [cx.builder.cumulative_sum(x, axis, exclusive=bool(node.attr("exclusive", 0)),
                                      reversed=bool(node.attr("reverse", 0)))]
