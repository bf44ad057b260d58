"""Cutting a fallback partition out of a specialised model as a standalone ONNX model.

The nodes ORT keeps run in real ``onnxruntime.InferenceSession`` objects built from
these sub-models: runtime values entering the partition become typed graph inputs,
constants (initializers, folded values) become initializers, and the values later
steps read become graph outputs. Opsets, IR version and model-local functions are
carried over, so the nodes mean exactly what they meant in the full model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import ModelProto, TypeProto, helper

from .errors import fail
from .model import has_subgraph
from .specialize import Specialized, _elem_type, _tensor_proto, _without_shape


def extract(spec: Specialized, positions: Sequence[int], inputs: Sequence[str], outputs: Sequence[str]
            ) -> tuple[ModelProto, dict[str, np.ndarray]]:
    """A model running ``spec``'s nodes at ``positions`` from ``inputs`` to ``outputs``, and
    the folded values to feed it at every run.

    A value folded at build time becomes an initializer, except where a control-flow
    node reads it: ORT inlines an If whose condition is an initializer and then checks
    the taken branch strictly, which the original model (condition computed at run
    time) never asked for -- so those are fed as inputs, as in the original model.
    """
    proto = spec.model.proto
    graph = onnx.GraphProto(name=f"{proto.graph.name or 'main'}_part")
    nodes = [proto.graph.node[spec.order[p]] for p in positions]
    graph.node.extend(nodes)
    control_inputs = {n for node in nodes if has_subgraph(node) for n in node.input}
    feeds: dict[str, np.ndarray] = {}
    for name in inputs:
        if name in spec.folded and name in control_inputs:
            value = spec.folded[name]
            graph.input.append(helper.make_value_info(name, helper.make_tensor_type_proto(
                _elem_type(value), list(value.shape))))
            feeds[name] = value
        elif name in spec.folded:
            graph.initializer.append(_tensor_proto(spec.folded[name], name))
        elif spec.is_constant(name):
            graph.initializer.append(spec.model.initializers[name])
        else:
            tp = _type_of(spec, name)
            # Shapes inference merged loosely from If/Loop/Scan branches can be wrong, and ORT
            # would reject a feed that disagrees: declare only the type of those.
            if name in spec.control_flow_outputs:
                tp = _without_shape(tp)
            graph.input.append(helper.make_value_info(name, tp))
    for name in outputs:
        tp = spec.types.get(name)
        graph.output.append(helper.make_value_info(name, _without_shape(tp)) if tp is not None
                            else helper.make_empty_tensor_value_info(name))
    model = helper.make_model(graph, opset_imports=list(proto.opset_import),
                              ir_version=max(int(proto.ir_version), 4))
    model.functions.extend(proto.functions)
    return model, feeds


def _type_of(spec: Specialized, name: str) -> TypeProto:
    tp = spec.types.get(name)
    if tp is None:
        raise fail(f"the type of {name!r} is unknown, so no ONNX Runtime sub-model can take it as an input")
    return tp
