"""ORT's graph, as the native shim describes it, turned back into an ONNX model.

The shim walks an ``OrtGraph`` (the model after ORT's basic optimisations, or one
fused partition) and hands over plain Python values; this module rebuilds an
``onnx.ModelProto`` from them so the drop-in provider's machinery (``LoadedModel``,
``specialize``, the converter registry, ``build_partition``) can be used unchanged.
Node ``k`` of the model is node ``k`` of ORT's list, so answers map back by index.

What the shim gives (see ``webnn_ort_ep.c``): value infos ``(name, is_tensor,
elem_type, shape)`` with shape entries ``int`` / ``str`` (symbolic) / ``None``;
initializers ``(name, (elem_type, dims, bytes | None), is_constant, from_outer_scope)``;
nodes with ``op_type``, ``domain``, ``inputs``/``outputs``/``implicit_inputs`` (value
infos, ``""`` for an absent optional one), ``attrs`` ``(name, ort_attr_type, value)``
and the number of ``subgraphs`` (graph attributes are not carried: such nodes stay on
ONNX Runtime).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import AttributeProto, ModelProto, helper, numpy_helper

from webnn.hashing import content_hasher

# OrtOpAttrType values (ort_abi.h)
ATTR_INT, ATTR_INTS, ATTR_FLOAT, ATTR_FLOATS, ATTR_STRING, ATTR_STRINGS, ATTR_GRAPH, ATTR_TENSOR = range(1, 9)

ValueInfo = tuple[str, int, int, Any]


@dataclass
class NodeRecord:
    """One node as ORT listed it, with what the capability pass needs beyond the proto."""

    index: int
    node_id: int
    name: str
    op_type: str
    domain: str
    inputs: list[str]
    outputs: list[str]
    implicit_inputs: list[str]
    subgraphs: int
    #: Why the node cannot even be described to the converters (None when it can).
    opaque: str | None = None

    @property
    def reads(self) -> list[str]:
        return [n for n in [*self.inputs, *self.implicit_inputs] if n]


@dataclass
class OrtGraphModel:
    """An ORT graph as an ONNX model plus the bookkeeping to answer ORT."""

    proto: ModelProto
    records: list[NodeRecord]
    #: Graph inputs fed at run time, with ORT's element type and shape.
    runtime_inputs: list[ValueInfo]
    output_names: list[str]
    nested: bool
    digest: str
    value_types: dict[str, tuple[int, Any]] = field(default_factory=dict)


def numpy_dtype_of(elem_type: int) -> np.dtype:
    """The numpy dtype of an ONNX element type (bool included)."""
    return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def tensor_array(elem_type: int, dims: tuple[int, ...], data: bytes | None) -> np.ndarray | None:
    """The array the shim copied out of an ORT tensor (None for strings and packed types)."""
    if data is None:
        return None
    try:
        dtype = numpy_dtype_of(elem_type)
    except (KeyError, TypeError, ValueError):
        return None
    if dtype.kind == "O":
        return None
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def _attribute(name: str, kind: int, value: Any) -> AttributeProto | None:
    attr = AttributeProto(name=name)
    if kind == ATTR_INT:
        attr.type, attr.i = AttributeProto.INT, int(value)
    elif kind == ATTR_FLOAT:
        attr.type, attr.f = AttributeProto.FLOAT, float(value)
    elif kind == ATTR_INTS:
        attr.type = AttributeProto.INTS
        attr.ints.extend(int(v) for v in value)
    elif kind == ATTR_FLOATS:
        attr.type = AttributeProto.FLOATS
        attr.floats.extend(float(v) for v in value)
    elif kind == ATTR_STRING:
        attr.type, attr.s = AttributeProto.STRING, bytes(value)
    elif kind == ATTR_STRINGS:
        attr.type = AttributeProto.STRINGS
        attr.strings.extend(bytes(v) for v in value)
    elif kind == ATTR_TENSOR and value is not None:
        elem, dims, data = value
        array = tensor_array(elem, tuple(dims), data)
        if array is None:
            return None
        attr.type = AttributeProto.TENSOR
        attr.t.CopyFrom(numpy_helper.from_array(array, ""))
    else:
        return None
    return attr


def _value_info(vi: ValueInfo) -> Any:
    name, is_tensor, elem, shape = vi
    if not is_tensor:
        return helper.make_empty_tensor_value_info(name)
    dims = None if shape is None else [d if isinstance(d, (int, str)) else None for d in shape]
    return helper.make_tensor_value_info(name, elem, dims)


def to_model(graph: dict[str, Any]) -> OrtGraphModel:
    """Rebuild an ONNX model from the shim's description of an ORT graph.

    The model is filled in place and each initializer's bytes are copied once, from the
    shim's buffer into the proto: for a 100 MB model the helpers' route (``from_array``,
    ``make_graph``, ``make_model``) copied every weight four times more, which was most
    of a warm session's creation.
    """
    h = content_hasher(parallel=True)  # the weights pass through it: hashed on every core
    proto = ModelProto()
    g = proto.graph
    g.name = graph["name"] or "ort_graph"
    runtime_init: set[str] = set()
    init_names: set[str] = set()
    # ORT lists a fused graph's initializers in no stable order: sort, so digests (cache keys) are stable.
    for name, (elem, dims, data), constant, outer in sorted(graph["initializers"], key=lambda t: t[0]):
        if not constant or outer:
            runtime_init.add(name)  # overridable or outer-scope: its value may change per run
            continue
        array = tensor_array(elem, tuple(dims), data)
        if array is None:
            continue  # strings and packed types: nodes reading them are not convertible anyway
        tensor = g.initializer.add()
        tensor.name, tensor.data_type = name, int(elem)
        tensor.dims.extend(array.shape)
        tensor.raw_data = data or b""
        init_names.add(name)
        h.update(name.encode() + b"\0" + str(array.dtype).encode() + str(array.shape).encode())
        h.update(data or b"")
    records: list[NodeRecord] = []
    value_types: dict[str, tuple[int, Any]] = {}
    for k, n in enumerate(graph["nodes"]):
        ins = [vi[0] for vi in n["inputs"]]
        outs = [vi[0] for vi in n["outputs"]]
        for vi in n["outputs"]:
            if vi[0] and vi[1]:
                value_types[vi[0]] = (vi[2], vi[3])
        opaque = None
        attrs = []
        for attr_name, kind, value in n["attrs"]:
            if kind == ATTR_GRAPH:
                continue
            attr = _attribute(attr_name, kind, value)
            if attr is None:
                opaque = f"attribute {attr_name!r} of a kind the converters cannot read"
                continue
            attrs.append(attr)
        if n["subgraphs"]:
            opaque = "control flow (a subgraph attribute) stays on ONNX Runtime"
        node = g.node.add()
        node.CopyFrom(helper.make_node(n["op_type"], ins, outs, name=n["name"] or f"{n['op_type']}_{k}",
                                       domain=n["domain"]))
        node.attribute.extend(attrs)
        records.append(NodeRecord(k, n["id"], n["name"] or f"{n['op_type']}_{k}", n["op_type"], n["domain"], ins,
                                  outs, [vi[0] for vi in n["implicit_inputs"]], n["subgraphs"], opaque))
        h.update(node.SerializeToString(deterministic=True))
    runtime_inputs = [vi for vi in graph["inputs"] if vi[0] not in init_names]
    g.input.extend(_value_info(vi) for vi in runtime_inputs)
    g.output.extend(_value_info(vi) for vi in graph["outputs"])
    for vi in [*graph["inputs"], *graph["outputs"]]:
        h.update(repr(vi).encode())
    output_names = {v[0] for v in graph["outputs"]}
    g.value_info.extend(helper.make_tensor_value_info(name, elem, None if shape is None else
                                                      [d if isinstance(d, (int, str)) else None for d in shape])
                        for name, (elem, shape) in value_types.items() if name not in output_names)
    proto.ir_version = max(int(graph["ir_version"]), 4)
    proto.opset_import.extend(helper.make_opsetid(domain, int(version)) for domain, version in graph["opsets"])
    if not any(o.domain in ("", "ai.onnx") for o in proto.opset_import):
        proto.opset_import.append(helper.make_opsetid("", 1))
    for opset in graph["opsets"]:
        h.update(repr(opset).encode())
    return OrtGraphModel(proto, records, runtime_inputs, [vi[0] for vi in graph["outputs"]], bool(graph["nested"]),
                         h.hexdigest(), value_types)
