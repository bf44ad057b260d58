"""Loading an ONNX model for the WebNN provider: bytes, digest, value types, ORT-style metadata.

The model is parsed once; its content digest (BLAKE3 of the serialised bytes, plus
external weights when there are any) is the model component of every cache key.
``NodeArg`` and ``ModelMetadata`` mirror what ``onnxruntime.InferenceSession``
returns from ``get_inputs()``/``get_outputs()``/``get_modelmeta()``, read from the
model itself so that no ORT session has to exist to answer them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto, numpy_helper

from webnn.hashing import content_hasher

from .errors import invalid_graph, invalid_protobuf, no_such_file

#: ONNX tensor element types WebNN can hold (bool is held as uint8 0/1, as the spec has it).
ONNX_TO_WEBNN: dict[int, str] = {
    TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.INT32: "int32",
    TensorProto.UINT32: "uint32", TensorProto.INT64: "int64", TensorProto.UINT64: "uint64",
    TensorProto.INT8: "int8", TensorProto.UINT8: "uint8", TensorProto.BOOL: "uint8",
}
WEBNN_TO_ONNX: dict[str, int] = {
    "float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int32": TensorProto.INT32,
    "uint32": TensorProto.UINT32, "int64": TensorProto.INT64, "uint64": TensorProto.UINT64,
    "int8": TensorProto.INT8, "uint8": TensorProto.UINT8,
}


def elem_type_name(elem_type: int) -> str:
    """ORT's spelling of an element type: ``float``, ``int64``, ``bool``..."""
    try:
        return TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"unknown({elem_type})"


def type_string(tp: TypeProto) -> str:
    """ORT's type string for a value: ``tensor(float)``, ``seq(tensor(int64))``..."""
    kind = tp.WhichOneof("value")
    if kind == "tensor_type":
        return f"tensor({elem_type_name(tp.tensor_type.elem_type)})"
    if kind == "sparse_tensor_type":
        return f"sparse_tensor({elem_type_name(tp.sparse_tensor_type.elem_type)})"
    if kind == "sequence_type":
        return f"seq({type_string(tp.sequence_type.elem_type)})"
    if kind == "optional_type":
        return f"optional({type_string(tp.optional_type.elem_type)})"
    if kind == "map_type":
        return f"map({elem_type_name(tp.map_type.key_type)},{type_string(tp.map_type.value_type)})"
    return "unknown"


def type_shape(tp: TypeProto) -> list[int | str | None]:
    """ORT's shape list: ints for fixed dims, the parameter name for symbolic ones, None else."""
    if tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.HasField("shape"):
        return []
    dims: list[int | str | None] = []
    for d in tp.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


@dataclass(frozen=True)
class NodeArg:
    """A model input or output as ORT describes it (``onnxruntime.NodeArg``)."""

    name: str
    type: str
    shape: list[int | str | None] = field(hash=False)

    def __repr__(self) -> str:
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


@dataclass(frozen=True)
class ModelMetadata:
    """The model's metadata as ORT describes it (``onnxruntime.ModelMetadata``)."""

    producer_name: str
    graph_name: str
    domain: str
    description: str
    graph_description: str
    version: int
    custom_metadata_map: dict[str, str] = field(hash=False)


class LoadedModel:
    """A parsed, structurally checked ONNX model and what the session needs from it."""

    def __init__(self, proto: ModelProto, digest: str, path: str | None) -> None:
        self.proto = proto
        self.digest = digest
        self.path = path
        graph = proto.graph
        self.opsets: dict[str, int] = {}
        for imp in proto.opset_import:
            self.opsets["" if imp.domain == "ai.onnx" else imp.domain] = int(imp.version)
        self.initializers: dict[str, TensorProto] = {t.name: t for t in graph.initializer}
        self.inputs: list[ValueInfoProto] = [v for v in graph.input if v.name not in self.initializers]
        self.overridable: list[ValueInfoProto] = [v for v in graph.input if v.name in self.initializers]
        self.outputs: list[ValueInfoProto] = list(graph.output)
        self.input_types: dict[str, TypeProto] = {v.name: v.type for v in graph.input}
        self.output_names: list[str] = [v.name for v in graph.output]
        self.order = topological_order(graph.node, set(self.input_types) | set(self.initializers))
        self.tensor_io = (all(v.type.WhichOneof("value") == "tensor_type" for v in graph.input)
                          and all(v.type.WhichOneof("value") in ("tensor_type", None) for v in graph.output))
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str) -> np.ndarray:
        """An initializer's value (decoded once and kept)."""
        value = self._arrays.get(name)
        if value is None:
            value = numpy_helper.to_array(self.initializers[name])
            self._arrays[name] = value
        return value

    def node_args(self, values: Iterable[ValueInfoProto]) -> list[NodeArg]:
        return [NodeArg(v.name, type_string(v.type), type_shape(v.type)) for v in values]

    def metadata(self) -> ModelMetadata:
        p = self.proto
        return ModelMetadata(p.producer_name, p.graph.name, p.domain, p.doc_string, p.graph.doc_string,
                             int(p.model_version), {e.key: e.value for e in p.metadata_props})


def load_model(source: Any) -> LoadedModel:
    """Parse ``source`` (a path, bytes or a ModelProto) and check its structure.

    Errors use ORT's exception classes (``NoSuchFile``, ``InvalidProtobuf``,
    ``InvalidGraph``) so callers that catch ORT's errors keep working.
    """
    path = None
    if isinstance(source, ModelProto):
        proto = source
        data = proto.SerializeToString()
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        proto = _parse(data, "the model bytes")
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise no_such_file(f"Load model from {path} failed: file doesn't exist")
        with open(path, "rb") as fh:
            data = fh.read()
        proto = _parse(data, path)
    else:
        raise TypeError(f"InferenceSession: path_or_bytes must be a path, bytes or an onnx.ModelProto, "
                        f"got {type(source).__name__}")
    h = content_hasher(data, parallel=True)
    if _uses_external_data(proto):
        if path is None:
            raise invalid_graph("the model keeps weights in external files; load it from its path")
        onnx.load_external_data_for_model(proto, os.path.dirname(path))
        for t in proto.graph.initializer:
            h.update(t.name.encode())
            h.update(t.raw_data)
    if not proto.HasField("graph"):
        raise invalid_graph("the model has no graph")
    return LoadedModel(proto, h.hexdigest(), path)


def _parse(data: bytes, what: str) -> ModelProto:
    proto = ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise invalid_protobuf(f"Failed to load model from {what}: protobuf parsing failed ({exc})") from exc
    if not data:
        raise invalid_protobuf(f"Failed to load model from {what}: the data is empty")
    return proto


def _uses_external_data(proto: ModelProto) -> bool:
    return any(t.data_location == TensorProto.EXTERNAL for t in proto.graph.initializer)


def topological_order(nodes: Iterable[NodeProto], available: set[str]) -> list[int]:
    """Indices of ``nodes`` in a topological order (stable); InvalidGraph on a dangling input.

    ONNX requires sorted graphs but ORT accepts unsorted ones, so this sorts.
    Values read only inside subgraphs (outer-scope references) count as inputs.
    """
    nodes = list(nodes)
    produced = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    needs: list[set[int]] = []
    for i, node in enumerate(nodes):
        deps = set()
        for name in node_inputs(node):
            if name in produced:
                deps.add(produced[name])
            elif name not in available:
                raise invalid_graph(f"node {node.name or i} ({node.op_type}) reads {name!r}, which is not a graph "
                                    "input, an initializer or the output of a node")
        deps.discard(i)
        needs.append(deps)
    order: list[int] = []
    done: set[int] = set()
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(needs):
        for d in deps:
            users.setdefault(d, []).append(i)
    remaining = [len(d) for d in needs]
    import heapq

    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        done.add(i)
        for u in users.get(i, ()):
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = next(i for i in range(len(nodes)) if i not in done)
        raise invalid_graph(f"the graph has a cycle through node {nodes[stuck].name or stuck} ({nodes[stuck].op_type})")
    return order


def node_inputs(node: NodeProto) -> list[str]:
    """A node's present inputs plus the outer-scope values its subgraphs read."""
    names = [n for n in node.input if n]
    for attr in node.attribute:
        for g in _subgraphs(attr):
            names.extend(sorted(outer_scope_names(g)))
    return list(dict.fromkeys(names))


def has_subgraph(node: NodeProto) -> bool:
    return any(_subgraphs(a) for a in node.attribute)


def _subgraphs(attr: onnx.AttributeProto) -> list[onnx.GraphProto]:
    if attr.type == onnx.AttributeProto.GRAPH:
        return [attr.g]
    if attr.type == onnx.AttributeProto.GRAPHS:
        return list(attr.graphs)
    return []


def outer_scope_names(graph: onnx.GraphProto) -> set[str]:
    """Names a subgraph reads that it does not define itself."""
    defined = {v.name for v in graph.input} | {t.name for t in graph.initializer}
    defined |= {t.values.name for t in graph.sparse_initializer}
    used: set[str] = set()
    for node in graph.node:
        for name in node.input:
            if name and name not in defined:
                used.add(name)
        for attr in node.attribute:
            for g in _subgraphs(attr):
                used |= {n for n in outer_scope_names(g) if n not in defined}
        defined.update(o for o in node.output if o)
    for v in graph.output:
        if v.name not in defined:
            used.add(v.name)
    return used - defined
