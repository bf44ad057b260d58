"""Reductions, softmax, arg max/min, cumulative sum, L2 normalization, dequantize.

Reduction axes come from a constant axes tensor; TFLite's ``keep_dims`` maps to
WebNN's ``keep_dimensions``. DEQUANTIZE is taken: WebNN rounds ``(q - zp) * scale``
once, TFLite's vectorised x86 kernel computes ``q * scale + (-zp * scale)`` and may
differ by 1 ulp (a float result, so within float tolerance). QUANTIZE is not taken:
TFLite rounds half away from zero, WebNN half to even, and integer results must match.
"""

from __future__ import annotations

import numpy as np

from webnn import MLOperand
from webnn.converters import SupportQuery

from .._model import Op, Subgraph
from ._base import ConvertContext, check_const, check_float, converter, norm_axis, webnn_type

_REDUCE = {"MEAN": "reduce_mean", "SUM": "reduce_sum", "REDUCE_MAX": "reduce_max", "REDUCE_MIN": "reduce_min",
           "REDUCE_PROD": "reduce_product"}


def _axes(cx: ConvertContext, op: Op, rank: int) -> list[int]:
    data = cx.static(op.inputs[1])
    assert data is not None
    return sorted({norm_axis(int(a), rank) for a in np.asarray(data).reshape(-1)})


def _reduce_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return check_float(op, sub, inputs=(0,)) or check_const(op, sub, 1)


def _reduce(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    keep = bool(getattr(op.options, "keepDims", False))
    return getattr(cx.builder, _REDUCE[op.name])(x, axes=_axes(cx, op, len(x.shape)), keep_dimensions=keep)


for _name, _webnn in _REDUCE.items():
    converter(_name, webnn_ops=(_webnn,), check=_reduce_check)(_reduce)


def _float_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    return check_float(op, sub)


@converter("SOFTMAX", webnn_ops=("softmax", "mul"), check=_float_check)
def softmax(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    beta = float(getattr(op.options, "beta", 1.0) or 1.0)
    if beta != 1.0:
        x = cx.builder.mul(x, cx.scalar(beta, x))
    return cx.builder.softmax(x, len(x.shape) - 1)


@converter("LOG_SOFTMAX", webnn_ops=("reduce_max", "sub", "exp", "reduce_sum", "log"), check=_float_check)
def log_softmax(cx: ConvertContext, op: Op) -> MLOperand:
    b = cx.builder
    x = cx.value(op.inputs[0])
    axis = [len(x.shape) - 1]
    shifted = b.sub(x, b.reduce_max(x, axes=axis, keep_dimensions=True))
    return b.sub(shifted, b.log(b.reduce_sum(b.exp(shifted), axes=axis, keep_dimensions=True)))


@converter("L2_NORMALIZATION", webnn_ops=("mul", "reduce_sum", "max", "sqrt", "div"), check=_float_check)
def l2_normalization(cx: ConvertContext, op: Op) -> MLOperand:
    b = cx.builder
    x = cx.value(op.inputs[0])
    axis = [len(x.shape) - 1]
    ss = b.reduce_sum(b.mul(x, x), axes=axis, keep_dimensions=True)
    return b.div(x, b.sqrt(b.max(ss, cx.scalar(1e-6, x))))


def _arg_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    reason = check_const(op, sub, 1)
    if reason:
        return reason
    t = sub.tensors[op.inputs[0]]
    dt = webnn_type(t)
    webnn_op = "arg_max" if op.name == "ARG_MAX" else "arg_min"
    if dt is None or not query.data_type_ok(webnn_op, dt):
        return f"{t.type_name} input"
    if webnn_type(sub.tensors[op.outputs[0]]) not in ("int32", "int64"):
        return "output type"
    return None


@converter("ARG_MAX", "ARG_MIN", webnn_ops=("arg_max", "arg_min"), check=_arg_check)
def arg_max(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    axis = norm_axis(int(np.asarray(cx.static(op.inputs[1])).reshape(-1)[0]), len(x.shape))
    fn = cx.builder.arg_max if op.name == "ARG_MAX" else cx.builder.arg_min
    return fn(x, axis, output_data_type=webnn_type(cx.tensor(op.outputs[0])))


def _cumsum_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    reason = check_const(op, sub, 1)
    if reason:
        return reason
    t = sub.tensors[op.inputs[0]]
    dt = webnn_type(t)
    if dt is None or (t.quant is not None and t.dtype.kind != "f") or not query.data_type_ok("cumulative_sum", dt):
        return f"{t.type_name} input"
    return None


@converter("CUMSUM", webnn_ops=("cumulative_sum",), check=_cumsum_check)
def cumsum(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    axis = norm_axis(int(np.asarray(cx.static(op.inputs[1])).reshape(-1)[0]), len(x.shape))
    return cx.builder.cumulative_sum(x, axis, exclusive=bool(op.options.exclusive),
                                     reversed=bool(op.options.reverse))


def _dequantize_check(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
    t = sub.tensors[op.inputs[0]]
    out = sub.tensors[op.outputs[0]]
    dt = webnn_type(t)
    if t.quant is None:  # float16 weights widened to float32
        if dt == "float16" and webnn_type(out) == "float32" and query.data_type_ok("cast", dt):
            return None
        return f"{t.type_name} input without quantization parameters"
    if dt not in ("int8", "uint8") or not query.data_type_ok("dequantize_linear", dt):
        return f"{t.type_name} input"
    if webnn_type(out) != "float32":
        return f"{out.type_name} output"
    return None


@converter("DEQUANTIZE", webnn_ops=("dequantize_linear",), check=_dequantize_check)
def dequantize(cx: ConvertContext, op: Op) -> MLOperand:
    x = cx.value(op.inputs[0])
    q = cx.tensor(op.inputs[0]).quant
    if q is None:
        return cx.builder.cast(x, "float32")
    rank = len(x.shape)
    shape = [1] * rank
    if not q.per_tensor:
        shape[norm_axis(q.axis, rank)] = q.scale.size
    scale = cx.const(q.scale.reshape(shape), "float32")
    zero = cx.const(q.zero_point.reshape(shape), x.data_type)
    return cx.builder.dequantize_linear(x, scale, zero)
