"""The ONNX converter registry: one converter per ONNX op type, with its capability check.

A converter is ``fn(cx: ConvertContext, node: NodeView) -> list[MLOperand | None]``
(one entry per node output) registered with :func:`converter`, which records the
ONNX opset range it handles, the WebNN ops it emits and a check
``check(query, node) -> reason | None``. :func:`why_not` is the single question the
planner asks ("can WebNN take this node, and if not, why"): generic conditions
(standard domain, no subgraphs, every tensor typed with a static, non-empty shape of
a WebNN data type) and then the converter's own check, so support and conversion
never disagree. Built on the shared ``webnn.converters.ConverterRegistry``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import ConverterRegistry, SupportQuery

from .errors import ConversionError
from .model import ONNX_TO_WEBNN, elem_type_name, has_subgraph
from .specialize import Specialized

#: Bumped whenever a converter's output changes, so cached graphs are not reused.
CONVERTER_VERSION = 1


def converter_digest() -> str:
    """sha256 of this integration's conversion code: part of every cache key, so an edited
    converter never meets a graph compiled by its previous version."""
    global _DIGEST
    if _DIGEST is None:
        import hashlib
        from pathlib import Path

        h = hashlib.sha256(str(CONVERTER_VERSION).encode())
        here = Path(__file__).resolve().parent
        for path in sorted(here.glob("*.py")):
            if path.name.startswith(("ops_", "convert", "registry", "specialize", "model")):
                h.update(path.name.encode())
                h.update(path.read_bytes())
        _DIGEST = h.hexdigest()
    return _DIGEST


_DIGEST: str | None = None
#: The spec's limit on elements per tensor.
MAX_ELEMENTS = 2**31 - 1

REGISTRY: ConverterRegistry[str] = ConverterRegistry("onnx")

Check = Callable[[SupportQuery, "NodeView"], "str | None"]
Convert = Callable[["ConvertContext", "NodeView"], Sequence["MLOperand | None"]]


class NodeView:
    """One ONNX node of a specialised model, as checks and converters see it."""

    def __init__(self, spec: Specialized, position: int) -> None:
        self.spec = spec
        self.position = position
        self.index = spec.order[position]
        self.proto: NodeProto = spec.model.proto.graph.node[self.index]
        self.op_type = self.proto.op_type
        self.domain = "" if self.proto.domain == "ai.onnx" else self.proto.domain
        self.name = self.proto.name or f"{self.op_type}_{self.index}"
        self.opset = spec.model.opsets.get(self.domain, 1)
        self.inputs: list[str] = list(self.proto.input)
        self.outputs: list[str] = list(self.proto.output)
        self._attrs: dict[str, Any] | None = None

    # -- attributes ---------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        if self._attrs is None:
            self._attrs = {a.name: _attr_value(a) for a in self.proto.attribute}
        return self._attrs

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    # -- inputs and outputs -------------------------------------------------------------
    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and bool(self.inputs[i])

    def has_output(self, i: int) -> bool:
        return i < len(self.outputs) and bool(self.outputs[i])

    def const(self, i: int) -> np.ndarray | None:
        """Input ``i``'s value when it is known at build time (initializer or folded)."""
        return self.spec.constant(self.inputs[i]) if self.has_input(i) else None

    def shape(self, name: str) -> tuple[int, ...]:
        info = self.spec.tensor(name)
        assert info is not None and info[1] is not None, name
        return info[1]

    def in_shape(self, i: int) -> tuple[int, ...]:
        return self.shape(self.inputs[i])

    def out_shape(self, i: int) -> tuple[int, ...]:
        return self.shape(self.outputs[i])

    def elem_type(self, name: str) -> int:
        info = self.spec.tensor(name)
        return 0 if info is None else info[0]

    def in_type(self, i: int) -> str:
        """Input ``i``'s WebNN data type (ONNX bool reads as uint8)."""
        return ONNX_TO_WEBNN[self.elem_type(self.inputs[i])]

    def out_type(self, i: int) -> str:
        return ONNX_TO_WEBNN[self.elem_type(self.outputs[i])]

    def in_is_bool(self, i: int) -> bool:
        return self.elem_type(self.inputs[i]) == TensorProto.BOOL

    def out_is_bool(self, i: int) -> bool:
        return self.elem_type(self.outputs[i]) == TensorProto.BOOL

    def rank(self, i: int) -> int:
        return len(self.in_shape(i))

    def __repr__(self) -> str:
        return f"NodeView({self.name!r}, {self.op_type}, opset {self.opset})"


def _attr_value(attr: Any) -> Any:
    value = helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8", "replace") for v in value]
    return value


class ConvertContext:
    """What a converter builds with: the builder and the operands made so far."""

    def __init__(self, builder: MLGraphBuilder, spec: Specialized) -> None:
        self.builder = builder
        self.spec = spec
        self.values: dict[str, MLOperand] = {}
        self._constants: dict[str, MLOperand] = {}
        self._leaves: set[int] = set()

    def leaf(self, operand: MLOperand) -> MLOperand:
        """Record ``operand`` as a graph input or constant (it cannot be an output as is)."""
        self._leaves.add(id(operand))
        return operand

    def is_leaf(self, operand: MLOperand) -> bool:
        return id(operand) in self._leaves

    def operand(self, name: str) -> MLOperand:
        """The operand for ONNX value ``name`` (constants are created on first use)."""
        found = self.values.get(name)
        if found is not None:
            return found
        cached = self._constants.get(name)
        if cached is not None:
            return cached
        value = self.spec.constant(name)
        if value is None:
            raise ConversionError(None, f"value {name!r} is neither computed in this partition nor a constant")
        operand = self.constant(value)
        self._constants[name] = operand
        return operand

    def constant(self, array: np.ndarray, data_type: str | None = None) -> MLOperand:
        """A constant operand from an array (bool becomes uint8; ``data_type`` casts)."""
        array = np.asarray(array)
        if array.dtype == np.bool_:
            array = array.astype(np.uint8)
        if data_type is not None:
            from webnn.dtypes import numpy_dtype

            array = array.astype(numpy_dtype(data_type))
        return self.leaf(self.builder.constant(np.require(array, requirements="C")))  # keeps 0-d arrays 0-d

    def scalar(self, value: float | int, data_type: str, rank: int = 0) -> MLOperand:
        """A constant holding one value, shaped ``[1] * rank`` (broadcasts against anything)."""
        from webnn.dtypes import numpy_dtype

        return self.leaf(self.builder.constant(np.full((1,) * rank, value, dtype=numpy_dtype(data_type))))


def converter(*op_types: str, webnn_ops: Sequence[str] = (), opsets: tuple[int, int | None] = (1, None),
              check: Check | None = None) -> Callable[[Convert], Convert]:
    """Register ``fn`` as the converter of ``op_types`` for ai.onnx opsets ``opsets`` (inclusive)."""
    lo, hi = opsets

    def full_check(query: SupportQuery, node: NodeView) -> str | None:
        if node.opset < lo or (hi is not None and node.opset > hi):
            return f"{node.op_type}: opset {node.opset} is outside the converter's range {lo}..{hi or ''}"
        return check(query, node) if check is not None else None

    def decorate(fn: Convert) -> Convert:
        REGISTRY.register(*op_types, check=full_check, webnn_ops=webnn_ops)(fn)
        return fn

    return decorate


def why_not(query: SupportQuery, node: NodeView) -> str | None:
    """None when WebNN can take ``node``, else the reason it stays on ORT."""
    if node.domain != "":
        return f"domain {node.domain!r} is not ai.onnx"
    if has_subgraph(node.proto):
        return "control flow (a subgraph attribute) stays on ONNX Runtime"
    if REGISTRY.get(node.op_type) is None:
        return f"no WebNN converter for {node.op_type}"
    for kind, names in (("input", node.inputs), ("output", node.outputs)):
        for name in names:
            if not name:
                continue
            reason = tensor_reason(node, kind, name)
            if reason is not None:
                return reason
    return REGISTRY.why_not(node.op_type, query, node)


def tensor_reason(node: NodeView, kind: str, name: str) -> str | None:
    info = node.spec.tensor(name)
    if info is None:
        return f"{kind} {name!r}: not a tensor of known type"
    elem, shape = info
    if elem not in ONNX_TO_WEBNN:
        return f"{kind} {name!r}: data type {elem_type_name(elem)} has no WebNN equivalent"
    if shape is None:
        return f"{kind} {name!r}: shape not static for this input signature"
    if any(d == 0 for d in shape):
        return f"{kind} {name!r}: zero-size shape {list(shape)} (WebNN has no empty tensors)"
    if math.prod(shape) > MAX_ELEMENTS:
        return f"{kind} {name!r}: more than 2**31 - 1 elements"
    return None


# -- helpers shared by checks ------------------------------------------------------------------
def dtype_reason(query: SupportQuery, op: str, data_type: str, operand: str | None = None,
                 what: str = "input") -> str | None:
    if not query.data_type_ok(op, data_type, operand):
        return f"WebNN {op} does not take {data_type} for its {operand or what} on this context"
    return None


def need_const(node: NodeView, i: int, what: str) -> str | None:
    if node.has_input(i) and node.const(i) is None:
        return f"input {what!r} must be a constant (known when the graph is built)"
    return None


def normalize_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis
