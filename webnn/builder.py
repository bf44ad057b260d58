"""MLGraphBuilder: builds a graph from operands, one method per spec operation.

The op methods are attached from the op registry (``webnn/ops``), each carrying its
definition's signature and docstring; this module holds only what every op shares:
operand ownership, node creation, ``input``, ``constant`` and ``build``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from . import memory
from . import ops as _ops  # noqa: F401  (registers every op)
from .dtypes import INT_RANGES, from_numpy, numpy_dtype, unpack_int4
from .errors import InvalidStateError
from .graph import Graph, Node
from .operand import MLOperand, MLOperandDescriptor
from .ops._registry import OPS, Emit, OpDef, check_main_input

if TYPE_CHECKING:
    from .context import MLContext, MLGraph


class MLGraphBuilder:
    """Builds a WebNN graph for a context (spec: ``MLGraphBuilder``).

    Every spec operation is a method in PEP 8 form (``conv2d``, ``conv_transpose2d``,
    ``is_nan``...) taking operands positionally and the spec's options as keyword
    arguments; each also accepts ``label=`` (spec: ``MLOperatorOptions.label``).
    """

    def __init__(self, context: MLContext) -> None:
        from .context import MLContext

        if not isinstance(context, MLContext):
            raise TypeError(f"MLGraphBuilder: context must be an MLContext, got {type(context).__name__}")
        self._context = context
        self._graph = Graph()
        self._built = False
        self._input_names: set[str] = set()

    @property
    def context(self) -> MLContext:
        return self._context

    # -- shared plumbing ---------------------------------------------------------
    def _check_usable(self, what: str) -> None:
        if self._built:
            raise InvalidStateError(f"{what}: this MLGraphBuilder has already built a graph")
        self._context._check_alive(what)

    def _own(self, op: str, value: MLOperand | None, name: str) -> None:
        if value is not None and value._builder is not self:
            raise TypeError(f"{op}: {name} was created by a different MLGraphBuilder")

    def _new_operand(self, desc: MLOperandDescriptor, label: str = "") -> MLOperand:
        oid = self._graph.add_operand(desc)
        return MLOperand(self, oid, desc, label)

    def _emit(self, opdef: OpDef, emitted: Emit, label: str) -> MLOperand | list[MLOperand]:
        for i, value in enumerate(emitted.inputs):
            self._own(opdef.name, value, f"operand {i}")
        outs = [self._new_operand(d, label) for d in emitted.outputs]
        self._graph.nodes.append(Node(
            opdef.name, [None if v is None else v._id for v in emitted.inputs],
            [o._id for o in outs], emitted.attrs, label))
        if emitted.multi or len(outs) != 1:
            return outs
        return outs[0]

    # -- inputs and constants ------------------------------------------------------
    def input(self, name: str, descriptor: MLOperandDescriptor | Mapping[str, Any]) -> MLOperand:
        """Declare a named graph input (spec: ``MLGraphBuilder.input``)."""
        self._check_usable("input")
        if not isinstance(name, str) or not name:
            raise TypeError(f"input: name must be a non-empty string, got {name!r}")
        if name in self._input_names:
            raise TypeError(f"input: name {name!r} is already used by another input")
        desc = MLOperandDescriptor.coerce(descriptor, f"input {name!r}")
        operand = self._new_operand(desc, name)
        self._graph.inputs[name] = operand._id
        self._input_names.add(name)
        return operand

    def constant(self, descriptor: Any, buffer: Any = None) -> MLOperand:
        """A constant operand (spec: ``MLGraphBuilder.constant``).

        ``constant(descriptor, buffer)`` as in the spec, where ``buffer`` is bytes-like
        (int4/uint4 packed two to a byte) or an array of matching size; or
        ``constant(array)`` with a numpy array (its dtype gives the data type); or
        ``constant(data_type, value)`` for a scalar (an older spec form).
        """
        self._check_usable("constant")
        if buffer is None:
            array = np.asarray(descriptor)
            data_type = from_numpy(array.dtype, "constant")
            array = memory.copy_of(array, numpy_dtype(data_type))
            desc = MLOperandDescriptor(data_type, array.shape)
        elif isinstance(descriptor, str):
            desc = MLOperandDescriptor(descriptor, ())
            array = _array_from_values(desc, np.asarray(buffer))
        else:
            desc = MLOperandDescriptor.coerce(descriptor, "constant")
            if isinstance(buffer, (bytes, bytearray, memoryview)):
                array = _array_from_bytes(desc, bytes(buffer))
            else:
                array = _array_from_values(desc, np.asarray(buffer))
        oid = self._graph.add_operand(desc)
        self._graph.constants[oid] = array
        return MLOperand(self, oid, desc)

    # -- build -------------------------------------------------------------------
    def build(self, outputs: Mapping[str, MLOperand]) -> MLGraph:
        """Compile the graph that computes ``outputs`` (spec: ``MLGraphBuilder.build``)."""
        self._check_usable("build")
        if not isinstance(outputs, Mapping) or not outputs:
            raise TypeError("build: outputs must be a non-empty dict of name -> MLOperand")
        graph = self._graph
        named: dict[str, int] = {}
        for name, value in outputs.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"build: output names must be non-empty strings, got {name!r}")
            if not isinstance(value, MLOperand):
                raise TypeError(f"build: output {name!r} must be an MLOperand, got {type(value).__name__}")
            self._own("build", value, f"output {name!r}")
            if value._id in graph.constants or value._id in graph.inputs.values():
                raise TypeError(f"build: output {name!r} is an input or constant; wrap it in identity()")
            named[name] = value._id
        ir = graph.copy()
        ir.outputs = named
        self._built = True
        return self._context._build_graph(ir)


def _attach(opdef: OpDef) -> None:
    fn = opdef.fn

    @functools.wraps(fn)
    def method(self: MLGraphBuilder, *args: Any, label: str = "", **kwargs: Any) -> Any:
        self._check_usable(opdef.name)
        if not args:
            raise TypeError(f"{opdef.name}: missing {opdef.main_input}")
        check_main_input(opdef, args[0])
        if not isinstance(label, str):
            raise TypeError(f"{opdef.name}: label must be a string, got {label!r}")
        return self._emit(opdef, fn(*args, **kwargs), label)

    method.__doc__ = f"{fn.__doc__ or ''}\n\nSpec: ``MLGraphBuilder.{opdef.spec_name}``."
    setattr(MLGraphBuilder, opdef.name, method)


for _opdef in OPS.values():
    _attach(_opdef)


def _array_from_bytes(desc: MLOperandDescriptor, data: bytes) -> np.ndarray:
    if len(data) != desc.byte_length:
        raise TypeError(f"constant: buffer has {len(data)} bytes, the descriptor "
                        f"{desc.data_type} {list(desc.shape)} needs {desc.byte_length}")
    if desc.data_type in ("int4", "uint4"):
        flat = unpack_int4(data, desc.size, desc.data_type == "int4")
    else:
        flat = np.frombuffer(data, dtype=numpy_dtype(desc.data_type)).copy()
    return flat.reshape(desc.shape)


def _array_from_values(desc: MLOperandDescriptor, values: np.ndarray) -> np.ndarray:
    if values.size != desc.size:
        raise TypeError(f"constant: data has {values.size} elements, the descriptor "
                        f"{desc.data_type} {list(desc.shape)} needs {desc.size}")
    if desc.data_type in INT_RANGES and values.size and values.dtype.kind in "iub":
        lo, hi = INT_RANGES[desc.data_type]
        if int(values.min()) < lo or int(values.max()) > hi:
            raise TypeError(f"constant: values out of range for {desc.data_type} [{lo}, {hi}]")
    # ascontiguousarray turns a 0-D array into shape (1,); reshape keeps the descriptor's shape.
    return np.ascontiguousarray(values.astype(numpy_dtype(desc.data_type))).reshape(desc.shape)
