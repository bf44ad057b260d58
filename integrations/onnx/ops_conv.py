"""ONNX -> WebNN converters: Conv, ConvTranspose and pooling.

ONNX's 1-D forms (rank-3 tensors) run as 2-D with a width of 1. ``auto_pad`` is
resolved to explicit padding from the static shapes; ONNX pads
``[h_begin, w_begin, h_end, w_end]`` become WebNN's ``[h_begin, h_end, w_begin, w_end]``.
Pool output sizes come from shape inference and are passed as WebNN
``output_sizes`` (covers ONNX ``ceil_mode``, including its rule that drops a window
starting in the end padding). ``count_include_pad=1`` becomes an explicit zero pad.
Global pools become reductions over the spatial axes (any rank).
"""

from __future__ import annotations

from collections.abc import Sequence

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason


def _spatial(node: NodeView) -> int:
    return node.rank(0) - 2


def _ints(node: NodeView, name: str, default: Sequence[int]) -> list[int]:
    value = node.attr(name)
    return [int(v) for v in value] if value else list(default)


def _kernel(node: NodeView, weight_index: int | None) -> list[int]:
    if node.attr("kernel_shape"):
        return [int(k) for k in node.attr("kernel_shape")]
    assert weight_index is not None
    return list(node.in_shape(weight_index)[2:])


def resolve_pads(node: NodeView, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilations: Sequence[int]) -> list[int]:
    """ONNX pads [begins..., ends...] after resolving ``auto_pad`` (Conv and pools)."""
    n = len(sizes)
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilations):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            small, large = total // 2, total - total // 2
            begins.append(small if auto == "SAME_UPPER" else large)
            ends.append(large if auto == "SAME_UPPER" else small)
        return begins + ends
    if auto == "VALID":
        return [0] * (2 * n)
    return _ints(node, "pads", [0] * (2 * n))


def webnn_padding(pads: Sequence[int]) -> list[int]:
    """ONNX [h_b, w_b, h_e, w_e] -> WebNN [h_b, h_e, w_b, w_e] (1-D: width padding 0)."""
    if len(pads) == 2:
        return [pads[0], pads[1], 0, 0]
    return [pads[0], pads[2], pads[1], pads[3]]


def _two(values: Sequence[int], fill: int) -> list[int]:
    return list(values) + [fill] * (2 - len(values))


def _as_4d(b: MLGraphBuilder, x: MLOperand) -> MLOperand:
    return b.reshape(x, [*x.shape, 1]) if len(x.shape) == 3 else x


def _from_4d(b: MLGraphBuilder, y: MLOperand, rank: int) -> MLOperand:
    return b.reshape(y, list(y.shape[:3])) if rank == 3 else y


def _conv_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) not in (3, 4):
        return f"{node.op_type} of rank {node.rank(0)} (WebNN has 2-D convolution; 1-D runs as 2-D)"
    types = {node.in_type(i) for i in range(3) if node.has_input(i)}
    if len(types) != 1:
        return f"inputs have different data types {sorted(types)}"
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        return f"auto_pad={node.attr('auto_pad')!r}"
    op = "conv2d" if node.op_type == "Conv" else "conv_transpose2d"
    return dtype_reason(query, op, node.in_type(0))


def _conv_operands(cx: ConvertContext, node: NodeView
                   ) -> tuple[int, MLOperand, MLOperand, list[int], list[int], list[int]]:
    """What Conv and ConvTranspose read alike: rank, 4-D input and weight, kernel, strides, dilations."""
    b = cx.builder
    rank = node.rank(0)
    n = rank - 2
    x = _as_4d(b, cx.operand(node.inputs[0]))
    w = _as_4d(b, cx.operand(node.inputs[1]))
    return rank, x, w, _kernel(node, 1), _ints(node, "strides", [1] * n), _ints(node, "dilations", [1] * n)


@converter("Conv", webnn_ops=("conv2d", "reshape"), opsets=(1, None), check=_conv_check)
def convert_conv(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    rank, x, w, kernel, strides, dilations = _conv_operands(cx, node)
    pads = resolve_pads(node, node.in_shape(0)[2:], kernel, strides, dilations)
    kwargs = {"padding": webnn_padding(pads), "strides": _two(strides, 1), "dilations": _two(dilations, 1),
              "groups": int(node.attr("group", 1))}
    if node.has_input(2):
        kwargs["bias"] = cx.operand(node.inputs[2])
    return [_from_4d(b, b.conv2d(x, w, **kwargs), rank)]


def _transpose_pads(node: NodeView, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                    dilations: Sequence[int], out_pad: Sequence[int]) -> list[int]:
    n = len(sizes)
    auto = node.attr("auto_pad", "NOTSET")
    out_shape = node.attr("output_shape")
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [int(v) for v in out_shape][-n:] if out_shape else [s * st for s, st in zip(sizes, strides)]
        begins, ends = [], []
        for size, k, s, d, op, want in zip(sizes, kernel, strides, dilations, out_pad, wanted):
            total = s * (size - 1) + op + (k - 1) * d + 1 - want
            half = total // 2
            if auto == "SAME_UPPER":
                begins.append(half)
                ends.append(total - half)
            else:
                begins.append(total - half)
                ends.append(half)
        return begins + ends
    if auto == "VALID":
        return [0] * (2 * n)
    return _ints(node, "pads", [0] * (2 * n))


@converter("ConvTranspose", webnn_ops=("conv_transpose2d", "reshape"), opsets=(1, None), check=_conv_check)
def convert_conv_transpose(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    rank, x, w, kernel, strides, dilations = _conv_operands(cx, node)
    n = rank - 2
    out_pad = _ints(node, "output_padding", [0] * n)
    pads = _transpose_pads(node, node.in_shape(0)[2:], kernel, strides, dilations, out_pad)
    out_sizes = list(node.out_shape(0)[2:])
    kwargs = {"padding": webnn_padding(pads), "strides": _two(strides, 1), "dilations": _two(dilations, 1),
              "groups": int(node.attr("group", 1)), "filter_layout": "iohw",
              "output_sizes": _two(out_sizes, 1)}
    if node.has_input(2):
        kwargs["bias"] = cx.operand(node.inputs[2])
    return [_from_4d(b, b.conv_transpose2d(x, w, **kwargs), rank)]


# -- pooling -----------------------------------------------------------------------------------
POOLS = {"AveragePool": "average_pool2d", "MaxPool": "max_pool2d", "LpPool": "l2_pool2d"}


def _pool_sizes(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                pads: Sequence[int]) -> tuple[list[int], list[int]]:
    n = len(sizes)
    floor, ceil = [], []
    for i in range(n):
        span = sizes[i] + pads[i] + pads[i + n] - ((kernel[i] - 1) * dilations[i] + 1)
        floor.append(span // strides[i] + 1)
        ceil.append(-(-span // strides[i]) + 1)
    return floor, ceil


def _pool_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) not in (3, 4):
        return f"{node.op_type} of rank {node.rank(0)} (WebNN pools are 2-D; 1-D runs as 2-D)"
    if node.op_type == "MaxPool" and (node.has_output(1) or node.attr("storage_order", 0) != 0):
        return "MaxPool with an Indices output or storage_order=1"
    if node.op_type == "LpPool" and int(node.attr("p", 2)) != 2:
        return f"LpPool with p={node.attr('p')} (WebNN has the L2 pool only)"
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        return f"auto_pad={node.attr('auto_pad')!r}"
    n = node.rank(0) - 2
    kernel = _kernel(node, None)
    strides = _ints(node, "strides", [1] * n)
    dilations = _ints(node, "dilations", [1] * n)
    pads = resolve_pads(node, node.in_shape(0)[2:], kernel, strides, dilations)
    sizes = list(node.in_shape(0)[2:])
    if node.op_type == "AveragePool" and node.attr("count_include_pad", 0) and any(pads):
        sizes = [d + pads[i] + pads[i + n] for i, d in enumerate(sizes)]  # pooled after an explicit pad
        pads = [0] * len(pads)
    floor, ceil = _pool_sizes(sizes, kernel, strides, dilations, pads)
    want = list(node.out_shape(0)[2:])
    if want != floor and want != ceil:
        return f"output size {want} is neither the floor {floor} nor the ceil {ceil} WebNN can produce"
    return dtype_reason(query, POOLS[node.op_type], node.in_type(0))


def convert_pool(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    b = cx.builder
    rank = node.rank(0)
    n = rank - 2
    x = cx.operand(node.inputs[0])
    kernel = _kernel(node, None)
    strides = _ints(node, "strides", [1] * n)
    dilations = _ints(node, "dilations", [1] * n)
    pads = resolve_pads(node, node.in_shape(0)[2:], kernel, strides, dilations)
    if node.op_type == "AveragePool" and node.attr("count_include_pad", 0) and any(pads):
        # Padding counts in the average: make it real zeros, then pool without padding.
        x = b.pad(x, [0, 0, *pads[:n]], [0, 0, *pads[n:]], mode="constant", value=0)
        pads = [0] * (2 * n)
    x = _as_4d(b, x)
    want = list(node.out_shape(0)[2:])
    pool = getattr(b, POOLS[node.op_type])
    y = pool(x, window_dimensions=_two(kernel, 1), padding=webnn_padding(pads), strides=_two(strides, 1),
             dilations=_two(dilations, 1), output_sizes=_two(want, 1))
    return [_from_4d(b, y, rank)]


for _onnx, _webnn in POOLS.items():
    converter(_onnx, webnn_ops=(_webnn, "reshape", "pad"), opsets=(1, None), check=_pool_check)(convert_pool)

GLOBAL_POOLS = {"GlobalAveragePool": "reduce_mean", "GlobalMaxPool": "reduce_max", "GlobalLpPool": "reduce_l2"}


def _global_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.rank(0) < 3:
        return f"{node.op_type} of rank {node.rank(0)}"
    if node.op_type == "GlobalLpPool" and int(node.attr("p", 2)) not in (1, 2):
        return f"GlobalLpPool with p={node.attr('p')}"
    op = GLOBAL_POOLS[node.op_type]
    if node.op_type == "GlobalLpPool" and int(node.attr("p", 2)) == 1:
        op = "reduce_l1"
    return dtype_reason(query, op, node.in_type(0))


def convert_global_pool(cx: ConvertContext, node: NodeView) -> list[MLOperand]:
    x = cx.operand(node.inputs[0])
    op = GLOBAL_POOLS[node.op_type]
    if node.op_type == "GlobalLpPool" and int(node.attr("p", 2)) == 1:
        op = "reduce_l1"
    axes = list(range(2, len(x.shape)))
    return [getattr(cx.builder, op)(x, axes=axes, keep_dimensions=True)]


for _onnx, _webnn in GLOBAL_POOLS.items():
    converter(_onnx, webnn_ops=(_webnn,), opsets=(1, None), check=_global_check)(convert_global_pool)
