"""Converting one supported partition of a specialised ONNX model into one WebNN graph.

Runtime values entering the partition become named graph inputs (ONNX names kept),
constants become WebNN constants, each node goes through its registered converter,
and every produced operand is checked against the shape and type ONNX inference
gave (a converter that disagrees is a conversion error, not a wrong answer).
"""

from __future__ import annotations

from collections.abc import Sequence

from webnn import MLContext, MLGraph, MLGraphBuilder, MLOperand, MLOperandDescriptor

from . import (  # noqa: F401  (each module registers its converters)
    ops_activation,
    ops_conv,
    ops_elementwise,
    ops_gather,
    ops_linalg,
    ops_normalization,
    ops_quantize,
    ops_recurrent,
    ops_reduction,
    ops_resize,
    ops_shape,
)
from .errors import ConversionError
from .model import ONNX_TO_WEBNN
from .registry import REGISTRY, ConvertContext, NodeView


def descriptor(view: NodeView | None, spec: object, name: str) -> MLOperandDescriptor:
    info = spec.tensor(name)  # type: ignore[attr-defined]
    assert info is not None and info[1] is not None, name
    return MLOperandDescriptor(ONNX_TO_WEBNN[info[0]], info[1])


def build_partition(context: MLContext, views: Sequence[NodeView], inputs: Sequence[str],
                    outputs: Sequence[str]) -> MLGraph:
    """Convert ``views`` (one partition, in order) and build the WebNN graph.

    ``inputs`` are the partition's runtime inputs (constants excluded), ``outputs``
    the values other partitions or the caller read. Raises ConversionError naming
    the node that failed, or the whole partition (position None) if build() fails.
    """
    spec = views[0].spec
    builder = MLGraphBuilder(context)
    cx = ConvertContext(builder, spec)
    for name in inputs:
        cx.values[name] = cx.leaf(builder.input(name, descriptor(None, spec, name)))
    for view in views:
        conv = REGISTRY.get(view.op_type)
        if conv is None:
            raise ConversionError(view.position, f"no WebNN converter for {view.op_type}")
        try:
            produced = list(conv.convert(cx, view))
        except ConversionError as exc:
            raise ConversionError(view.position, exc.reason) from exc
        except Exception as exc:  # a builder validation error: this node goes back to ORT
            raise ConversionError(view.position, f"conversion failed: {type(exc).__name__}: {exc}") from exc
        for k, name in enumerate(view.outputs):
            if not name:
                continue
            value = produced[k] if k < len(produced) else None
            if value is None:
                raise ConversionError(view.position, f"converter produced no value for output {name!r}")
            want = descriptor(view, spec, name)
            if value.data_type != want.data_type or tuple(value.shape) != want.shape:
                raise ConversionError(view.position, f"converter produced {value.data_type} {list(value.shape)} "
                                                     f"for {name!r}, ONNX says {want.data_type} {list(want.shape)}")
            cx.values[name] = value
    named: dict[str, MLOperand] = {}
    seen: dict[int, str] = {}
    for name in outputs:
        value = cx.values[name]
        # An input, a constant, or an operand already named cannot be an output as is.
        if id(value) in seen or cx.is_leaf(value):
            value = builder.identity(value)
        seen[id(value)] = name
        named[name] = value
    try:
        return builder.build(named)
    except Exception as exc:
        raise ConversionError(None, f"WebNN build failed: {type(exc).__name__}: {exc}") from exc
