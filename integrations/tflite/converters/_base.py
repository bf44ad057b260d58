"""What every TFLite converter shares: the registry, the conversion context, checks.

A converter is ``fn(cx: ConvertContext, op: Op) -> MLOperand | list[MLOperand]`` (one
operand per op output) registered for one or more TFLite builtin names with the
WebNN ops it emits and a capability check ``check(query, op, sub) -> reason | None``.
The delegate's Prepare asks the same registry (:data:`REGISTRY`), so what it claims is
what it can convert. Attributes come from the flatbuffer (``op.options``), shapes of
values from the WebNN operands built so far (so a resized input flows through), and
constants from the model's buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import ConverterRegistry, SupportQuery

from .._model import Op, Subgraph, Tensor

#: TFLite builtin name -> converter, shared by Prepare's claim and the kernels' build.
REGISTRY: ConverterRegistry[str] = ConverterRegistry("tflite")

Check = Callable[[SupportQuery, Op, Subgraph], "str | None"]

FLOATS = ("float32", "float16")

#: numpy dtype name -> WebNN data type (bool travels as uint8, as WebNN's logical ops do).
WEBNN_TYPES = {"float32": "float32", "float16": "float16", "int32": "int32", "uint32": "uint32",
               "int64": "int64", "uint64": "uint64", "int8": "int8", "uint8": "uint8", "bool": "uint8"}

# Fused activations (schema ActivationFunctionType).
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)
_ACT_NAMES = {ACT_NONE: "NONE", ACT_RELU: "RELU", ACT_RELU_N1_TO_1: "RELU_N1_TO_1", ACT_RELU6: "RELU6",
              ACT_TANH: "TANH", ACT_SIGN_BIT: "SIGN_BIT"}


def converter(*names: str, webnn_ops: Iterable[str] = (), check: Check | None = None
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a converter for TFLite builtins ``names``."""
    return REGISTRY.register(*names, webnn_ops=tuple(webnn_ops), check=check)


def webnn_type(t: Tensor) -> str | None:
    """The WebNN data type a TFLite tensor travels as, or None if WebNN has none."""
    dt = t.dtype
    return None if dt is None else WEBNN_TYPES.get(dt.name)


class ConvertContext:
    """State of one partition's conversion: the builder and the operand of each tensor."""

    def __init__(self, builder: MLGraphBuilder, sub: Subgraph) -> None:
        self.builder = builder
        self.sub = sub
        self.values: dict[int, MLOperand] = {}

    def tensor(self, index: int) -> Tensor:
        return self.sub.tensors[index]

    def static(self, index: int) -> np.ndarray | None:
        """Constant data of tensor ``index`` (None for a runtime value or an absent input)."""
        if index < 0:
            return None
        return self.sub.tensors[index].data

    def value(self, index: int) -> MLOperand:
        """The operand of tensor ``index``: produced earlier in the partition, or a constant."""
        got = self.values.get(index)
        if got is not None:
            return got
        t = self.sub.tensors[index]
        if t.data is None:
            raise KeyError(f"tensor {index} ({t.name!r}) is neither a partition input nor a constant")
        data = t.data
        if data.dtype == np.bool_:
            data = data.view(np.uint8)
        operand = self.builder.constant(np.ascontiguousarray(data))
        self.values[index] = operand
        return operand

    def const(self, array: Any, dtype: str | np.dtype = "float32") -> MLOperand:
        return self.builder.constant(np.ascontiguousarray(np.asarray(array, dtype=dtype)))

    def scalar(self, value: float, like: MLOperand) -> MLOperand:
        """A 0-D constant of ``like``'s data type."""
        return self.builder.constant(np.asarray(value, dtype=like.data_type))


# -- helpers converters share ------------------------------------------------------------
def fused(cx: ConvertContext, x: MLOperand, activation: int) -> MLOperand:
    """Apply a TFLite fused activation."""
    b = cx.builder
    if activation == ACT_NONE:
        return x
    if activation == ACT_RELU:
        return b.relu(x)
    if activation == ACT_RELU6:
        return b.clamp(x, min_value=0.0, max_value=6.0)
    if activation == ACT_RELU_N1_TO_1:
        return b.clamp(x, min_value=-1.0, max_value=1.0)
    if activation == ACT_TANH:
        return b.tanh(x)
    raise TypeError(f"fused activation {_ACT_NAMES.get(activation, activation)} has no WebNN equivalent")


def activation_of(op: Op) -> int:
    return int(getattr(op.options, "fusedActivationFunction", ACT_NONE) or ACT_NONE)


def check_activation(op: Op) -> str | None:
    act = activation_of(op)
    if act not in (ACT_NONE, ACT_RELU, ACT_RELU6, ACT_RELU_N1_TO_1, ACT_TANH):
        return f"fused activation {_ACT_NAMES.get(act, act)} has no WebNN equivalent"
    return None


def same_padding(size: int, window: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (extra padding at the end)."""
    effective = (window - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def padding_2d(padding: int, in_hw: Sequence[int], window: Sequence[int], strides: Sequence[int],
               dilations: Sequence[int]) -> list[int]:
    """WebNN ``padding`` [top, bottom, left, right] for the schema's Padding (SAME=0, VALID=1)."""
    if padding == 1:
        return [0, 0, 0, 0]
    top, bottom = same_padding(in_hw[0], window[0], strides[0], dilations[0])
    left, right = same_padding(in_hw[1], window[1], strides[1], dilations[1])
    return [top, bottom, left, right]


def io_types(op: Op, sub: Subgraph) -> tuple[list[str | None], list[str | None]]:
    """WebNN data types of the op's inputs (None for absent ones) and outputs."""
    ins = [None if i < 0 else webnn_type(sub.tensors[i]) for i in op.inputs]
    outs = [webnn_type(sub.tensors[i]) for i in op.outputs]
    return ins, outs


def check_types(op: Op, sub: Subgraph, allowed: Sequence[str], inputs: Sequence[int] | None = None
                ) -> str | None:
    """All (or the listed) inputs and all outputs have a data type in ``allowed``."""
    ins, outs = io_types(op, sub)
    picks = range(len(ins)) if inputs is None else inputs
    for k in picks:
        if k < len(op.inputs) and op.inputs[k] >= 0:
            t = sub.tensors[op.inputs[k]]
            if ins[k] not in allowed or (t.quant is not None and ins[k] not in FLOATS and not _int_ok(allowed)):
                return f"input {k} is {t.type_name}, the WebNN converter takes {', '.join(allowed)}"
    for k, dt in enumerate(outs):
        if dt not in allowed:
            return f"output {k} is {sub.tensors[op.outputs[k]].type_name}, the converter takes {', '.join(allowed)}"
    return None


def _int_ok(allowed: Sequence[str]) -> bool:
    return any(a not in FLOATS for a in allowed)


def check_float(op: Op, sub: Subgraph, inputs: Sequence[int] | None = None) -> str | None:
    """Float ops: float32/float16 and not quantized (quantized tensors are left to TFLite)."""
    reason = check_types(op, sub, FLOATS, inputs)
    if reason:
        return reason
    for i in [*op.inputs, *op.outputs]:
        if i >= 0 and sub.tensors[i].quant is not None and sub.tensors[i].dtype is not None \
                and sub.tensors[i].dtype.kind != "f":
            return f"tensor {sub.tensors[i].name!r} is quantized"
    return None


def check_const(op: Op, sub: Subgraph, *positions: int) -> str | None:
    """The inputs at ``positions`` must be constants in the model (attributes in disguise)."""
    for k in positions:
        if k >= len(op.inputs) or op.inputs[k] < 0:
            continue
        t = sub.tensors[op.inputs[k]]
        if t.data is None:
            return f"input {k} ({t.name!r}) is computed at run time; the converter needs it constant"
    return None


def all_of(*checks: Callable[[SupportQuery, Op, Subgraph], str | None]) -> Check:
    """A check that runs ``checks`` in order and returns the first reason."""

    def run(query: SupportQuery, op: Op, sub: Subgraph) -> str | None:
        for c in checks:
            reason = c(query, op, sub)
            if reason:
                return reason
        return None

    return run


def rank_of(sub: Subgraph, index: int) -> int:
    return len(sub.tensors[index].shape)


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis
