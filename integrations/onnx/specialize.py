"""Specialising a model to one input signature: static shapes and folded constants.

WebNN graphs have static shapes, so every concrete input signature gets its own
specialised view of the model (like onnxruntime-web's ``freeDimensionOverrides``,
but automatic): the graph inputs get the fed shapes, ``onnx.shape_inference`` (with
data propagation) types every value, and nodes whose result is known at build time
are folded to constants -- ``Constant``, ``Shape``/``Size`` of statically shaped
values, and small computations on constants (the ``Shape -> Gather -> Concat ->
Reshape`` chains dynamic exports are full of), evaluated once by a real ORT session.
Repeats until nothing new folds. Large weights never travel through shape inference:
they are declared as typed inputs of the skeleton model that inference sees.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import NodeProto, TensorProto, TypeProto, helper, numpy_helper

from .model import LoadedModel, has_subgraph

log = logging.getLogger("webnn.integrations.onnx")

#: Largest value (elements) folded at build time; larger results are computed at run time.
FOLD_LIMIT = 1 << 16
#: Largest total input (elements) a folded node may read (an embedding lookup with a
#: constant index reads a big table to produce a small result).
FOLD_INPUT_LIMIT = 1 << 22
#: Initializers up to this size go into the skeleton model shape inference sees.
SMALL_INITIALIZER = 1 << 16
#: Ops never folded: random, or training-mode dependent.
NOT_FOLDED = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Bernoulli",
              "Multinomial", "Dropout"}
MAX_ROUNDS = 8

Signature = tuple[tuple[str, str, tuple[int, ...]], ...]


@dataclass
class Specialized:
    """A model seen through one input signature."""

    model: LoadedModel
    signature: Signature
    #: Original indices of the nodes that still run, topologically ordered.
    order: list[int]
    #: Every value's type where inference knows it (graph inputs with fed shapes).
    types: dict[str, TypeProto]
    #: Values computed at build time, by name.
    folded: dict[str, np.ndarray]
    #: Original index -> how that node was folded.
    folded_nodes: dict[int, str]
    #: Names fed at run time (graph inputs and fed overridable initializers).
    runtime: set[str]
    _tensor: dict[str, tuple[int, tuple[int, ...] | None] | None] = field(default_factory=dict)
    _control_flow_outputs: set[str] | None = None

    @property
    def control_flow_outputs(self) -> set[str]:
        """Values produced by nodes with subgraphs (If, Loop, Scan)."""
        if self._control_flow_outputs is None:
            graph = self.model.proto.graph
            self._control_flow_outputs = {o for i in self.order if has_subgraph(graph.node[i])
                                          for o in graph.node[i].output if o}
        return self._control_flow_outputs

    @property
    def nodes(self) -> list[NodeProto]:
        graph = self.model.proto.graph
        return [graph.node[i] for i in self.order]

    def constant(self, name: str) -> np.ndarray | None:
        """The value of ``name`` if it is known at build time, else None."""
        if name in self.folded:
            return self.folded[name]
        if name in self.model.initializers and name not in self.runtime:
            return self.model.array(name)
        return None

    def is_constant(self, name: str) -> bool:
        return name in self.folded or (name in self.model.initializers and name not in self.runtime)

    def tensor(self, name: str) -> tuple[int, tuple[int, ...] | None] | None:
        """(ONNX element type, static shape or None) of a tensor value; None if not a known tensor."""
        if name in self._tensor:
            return self._tensor[name]
        result = None
        if name in self.folded:
            arr = self.folded[name]
            result = (_elem_type(arr), tuple(arr.shape))
        elif name in self.model.initializers and name not in self.runtime:
            t = self.model.initializers[name]
            result = (int(t.data_type), tuple(int(d) for d in t.dims))
        else:
            tp = self.types.get(name)
            if tp is not None and tp.WhichOneof("value") == "tensor_type" and tp.tensor_type.elem_type:
                # Inference merges the branches of If/Loop/Scan loosely: do not trust those shapes.
                shape = None if name in self.control_flow_outputs else static_shape(tp)
                result = (int(tp.tensor_type.elem_type), shape)
        self._tensor[name] = result
        return result


def static_shape(tp: TypeProto) -> tuple[int, ...] | None:
    """The shape of a tensor type if every dimension is a known number."""
    tt = tp.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def specialize(model: LoadedModel, signature: Signature, fed_types: Mapping[str, TypeProto]) -> Specialized:
    """Specialise ``model`` to ``signature`` (name, type string, shape per fed input)."""
    runtime = set(fed_types)
    spec = Specialized(model, signature, list(model.order), {}, {}, {}, runtime)
    for _ in range(MAX_ROUNDS):
        spec.types = _infer(model, spec, fed_types)
        spec._tensor.clear()
        if not _fold_round(model, spec):
            break
    else:
        spec.types = _infer(model, spec, fed_types)
        spec._tensor.clear()
    return spec


# -- shape inference -----------------------------------------------------------------------
def _infer(model: LoadedModel, spec: Specialized, fed_types: Mapping[str, TypeProto]) -> dict[str, TypeProto]:
    proto = model.proto
    graph = onnx.GraphProto(name=proto.graph.name or "main")
    graph.node.extend(proto.graph.node[i] for i in spec.order)
    for name, tp in fed_types.items():
        graph.input.append(helper.make_value_info(name, tp))
    types: dict[str, TypeProto] = dict(fed_types)
    for name, t in model.initializers.items():
        if name in spec.runtime:
            continue
        if _count(t.dims) <= SMALL_INITIALIZER:
            graph.initializer.append(t)
        else:
            graph.input.append(helper.make_tensor_value_info(name, t.data_type, list(t.dims)))
        types[name] = helper.make_tensor_type_proto(t.data_type, list(t.dims))
    for name, arr in spec.folded.items():
        if arr.size <= SMALL_INITIALIZER and arr.dtype != object:
            graph.initializer.append(numpy_helper.from_array(arr, name))
        else:
            graph.input.append(helper.make_tensor_value_info(name, _elem_type(arr), list(arr.shape)))
        types[name] = helper.make_tensor_type_proto(_elem_type(arr), list(arr.shape))
    for out in proto.graph.output:
        graph.output.append(helper.make_value_info(out.name, _without_shape(out.type)))
    skeleton = helper.make_model(graph, opset_imports=list(proto.opset_import),
                                 ir_version=max(int(proto.ir_version), 4))
    skeleton.functions.extend(proto.functions)
    for _ in range(2):
        try:
            inferred = onnx.shape_inference.infer_shapes(skeleton, check_type=False, strict_mode=False,
                                                         data_prop=True)
        except Exception as exc:  # inference failing leaves values untyped: their nodes stay on ORT
            log.warning("onnx shape inference failed (%s); nodes with unknown shapes stay on ONNX Runtime", exc)
            return types
        found = dict(types)
        for v in [*inferred.graph.value_info, *inferred.graph.output]:
            if v.type.WhichOneof("value") is not None and v.name not in types:
                found[v.name] = v.type
        filled = _fill_same_shape(graph.node, found)
        if not filled:
            return found
        # Some function ops (GroupNormalization, MeanVarianceNormalization...) come out of
        # inference untyped; their output is their input's type and shape: say so, infer again.
        skeleton.graph.value_info.extend(helper.make_value_info(n, found[n]) for n in filled)
    return found


#: Ops whose first output has exactly their first input's type and shape.
SAME_SHAPE_OPS = {"GroupNormalization", "MeanVarianceNormalization", "LRN", "LayerNormalization",
                  "InstanceNormalization", "BatchNormalization", "Gelu", "Mish", "Celu", "Selu", "Elu", "HardSwish",
                  "HardSigmoid", "Softsign", "Softplus", "ThresholdedRelu", "Softmax", "LogSoftmax", "Hardmax",
                  "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Identity", "Dropout"}


def _fill_same_shape(nodes: object, types: dict[str, TypeProto]) -> list[str]:
    filled = []
    for node in nodes:  # type: ignore[attr-defined]
        if node.op_type not in SAME_SHAPE_OPS or node.domain not in ("", "ai.onnx"):
            continue
        if not node.input or not node.output or not node.output[0]:
            continue
        src, out = types.get(node.input[0]), types.get(node.output[0])
        if src is None or src.WhichOneof("value") != "tensor_type" or static_shape(src) is None:
            continue
        if out is not None and out.WhichOneof("value") == "tensor_type" and static_shape(out) is not None:
            continue
        types[node.output[0]] = src
        filled.append(node.output[0])
    return filled


def _without_shape(tp: TypeProto) -> TypeProto:
    out = TypeProto()
    out.CopyFrom(tp)
    if out.WhichOneof("value") == "tensor_type":
        out.tensor_type.ClearField("shape")
    return out


# -- folding -------------------------------------------------------------------------------
def _fold_round(model: LoadedModel, spec: Specialized) -> bool:
    """Fold what can be folded now; True if anything was."""
    graph = model.proto.graph
    direct: dict[str, np.ndarray] = {}
    direct_nodes: dict[int, str] = {}
    candidates: list[int] = []
    pending: set[str] = set()

    def known(name: str) -> bool:
        return spec.is_constant(name) or name in direct or name in pending

    for i in spec.order:
        node = graph.node[i]
        if node.domain not in ("", "ai.onnx"):
            continue
        if node.op_type == "Constant":
            value = constant_value(node)
            if value is not None:
                direct[node.output[0]] = value
                direct_nodes[i] = "Constant folded at build"
            continue
        if node.op_type in ("Shape", "Size") and node.input and node.input[0]:
            info = spec.tensor(node.input[0])
            if info is not None and info[1] is not None:
                direct[node.output[0]] = _shape_value(node, info[1])
                direct_nodes[i] = f"{node.op_type} of a static shape folded at build"
                continue
        if node.op_type in NOT_FOLDED or has_subgraph(node):
            continue
        inputs = [n for n in node.input if n]
        if not all(known(n) for n in inputs) or not _small_outputs(spec, node):
            continue
        if sum(_size_of(spec, n, direct) for n in inputs) > FOLD_INPUT_LIMIT:
            continue
        candidates.append(i)
        pending.update(o for o in node.output if o)
    evaluated, evaluated_nodes = _evaluate(model, spec, candidates, direct) if candidates else ({}, {})
    spec.folded.update(direct)
    spec.folded.update(evaluated)
    spec.folded_nodes.update(direct_nodes)
    spec.folded_nodes.update(evaluated_nodes)
    done = set(direct_nodes) | set(evaluated_nodes)
    spec.order = [i for i in spec.order if i not in done]
    return bool(done)


def _small_outputs(spec: Specialized, node: NodeProto) -> bool:
    for out in node.output:
        if not out:
            continue
        tp = spec.types.get(out)
        if tp is None or tp.WhichOneof("value") != "tensor_type" or not tp.tensor_type.elem_type:
            return False
        shape = static_shape(tp)
        if shape is None or math.prod(shape) > FOLD_LIMIT:
            return False
    return True


def _size_of(spec: Specialized, name: str, direct: Mapping[str, np.ndarray]) -> int:
    if name in direct:
        return int(direct[name].size)
    info = spec.tensor(name)
    if info is None or info[1] is None:
        return 0  # produced by another candidate: bounded by FOLD_LIMIT
    return math.prod(info[1])


def _evaluate(model: LoadedModel, spec: Specialized, candidates: list[int],
              direct: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[int, str]]:
    """Run the candidate nodes once in a real ORT session (all at once, else one by one)."""
    values = _run_nodes(model, spec, candidates, direct)
    if values is not None:
        return values, {i: f"{model.proto.graph.node[i].op_type} on constants folded at build" for i in candidates}
    out: dict[str, np.ndarray] = {}
    folded: dict[int, str] = {}
    merged = dict(direct)
    for i in candidates:
        node = model.proto.graph.node[i]
        if not all(spec.is_constant(n) or n in merged for n in node.input if n):
            continue
        one = _run_nodes(model, spec, [i], merged)
        if one is None:
            continue
        out.update(one)
        merged.update(one)
        folded[i] = f"{node.op_type} on constants folded at build"
    return out, folded


def _run_nodes(model: LoadedModel, spec: Specialized, indices: list[int],
               direct: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    import onnxruntime as ort

    proto = model.proto
    nodes = [proto.graph.node[i] for i in indices]
    produced = {o for n in nodes for o in n.output if o}
    graph = onnx.GraphProto(name="fold")
    graph.node.extend(nodes)
    seen: set[str] = set()
    for node in nodes:
        for name in node.input:
            if not name or name in produced or name in seen:
                continue
            seen.add(name)
            if name in direct:
                graph.initializer.append(_tensor_proto(direct[name], name))
            elif name in spec.folded:
                graph.initializer.append(_tensor_proto(spec.folded[name], name))
            else:
                graph.initializer.append(model.initializers[name])
    outputs = [o for n in nodes for o in n.output if o]
    for name in outputs:
        graph.output.append(helper.make_value_info(name, _without_shape(spec.types[name])))
    m = helper.make_model(graph, opset_imports=list(proto.opset_import), ir_version=max(int(proto.ir_version), 4))
    m.functions.extend(proto.functions)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
        results = session.run(outputs, {})
    except Exception as exc:  # a node ORT cannot evaluate here simply is not folded
        log.debug("folding %s failed: %s", [n.op_type for n in nodes], exc)
        return None
    return {name: np.asarray(v) for name, v in zip(outputs, results)}


def _tensor_proto(array: np.ndarray, name: str) -> TensorProto:
    if array.dtype == object:
        return helper.make_tensor(name, TensorProto.STRING, array.shape,
                                  [s.encode() if isinstance(s, str) else s for s in array.flat])
    return numpy_helper.from_array(array, name)


def _elem_type(array: np.ndarray) -> int:
    if array.dtype == object:
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(array.dtype)


def _count(dims: object) -> int:
    return math.prod(int(d) for d in dims)  # type: ignore[attr-defined]


def _shape_value(node: NodeProto, shape: tuple[int, ...]) -> np.ndarray:
    if node.op_type == "Size":
        return np.array(math.prod(shape), dtype=np.int64)
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    rank = len(shape)
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    start = min(max(start + rank if start < 0 else start, 0), rank)
    stop = rank if end is None else int(end)
    stop = min(max(stop + rank if stop < 0 else stop, 0), rank)
    return np.array(shape[start:stop], dtype=np.int64)


def constant_value(node: NodeProto) -> np.ndarray | None:
    """The value of a ``Constant`` node (None for a sparse one: that one stays on ORT)."""
    for attr in node.attribute:
        v = helper.get_attribute_value(attr)
        if attr.name == "value":
            return numpy_helper.to_array(v)
        if attr.name == "value_float":
            return np.array(v, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(v, dtype=np.float32)
        if attr.name == "value_int":
            return np.array(v, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(v, dtype=np.int64)
        if attr.name == "value_string":
            return np.array(v.decode() if isinstance(v, bytes) else v, dtype=object)
        if attr.name == "value_strings":
            return np.array([s.decode() if isinstance(s, bytes) else s for s in v], dtype=object)
    return None
