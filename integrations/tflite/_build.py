"""One node subset of a TFLite subgraph -> one WebNN graph.

The partition's runtime inputs become named graph inputs ``t<tensor index>`` with
the dtypes and (current) shapes the runtime gives them; constants come from the
flatbuffer; the converters run node by node in execution order; the tensors the
partition hands back to TFLite become outputs ``t<tensor index>``. The trial conversion
at Prepare (no compile: it decides what to claim) is kept, and the kernel's prepare
compiles it; only a partition Prepare did not convert is converted there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from webnn import MLContext, MLGraphBuilder, MLOperand

from ._model import Subgraph
from .converters import REGISTRY, ConvertContext, webnn_type


class ConversionError(Exception):
    """A converter failed on one node; ``node`` says which."""

    def __init__(self, node: int, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass(frozen=True)
class Signature:
    """Runtime inputs (tensor index, WebNN data type, shape) and outputs of a partition."""

    inputs: tuple[tuple[int, str, tuple[int, ...]], ...]
    outputs: tuple[int, ...]


def input_name(index: int) -> str:
    return f"t{index}"


def convert(builder: MLGraphBuilder, sub: Subgraph, nodes: Sequence[int], signature: Signature
            ) -> dict[int, MLOperand]:
    """Run the converters of ``nodes``; returns the operand of every output tensor."""
    cx = ConvertContext(builder, sub)
    for index, data_type, shape in signature.inputs:
        cx.values[index] = builder.input(input_name(index), {"data_type": data_type, "shape": list(shape)})
    for n in nodes:
        op = sub.ops[n]
        conv = REGISTRY.get(op.name)
        if conv is None:
            raise ConversionError(n, f"no converter for {op.name}")
        try:
            result = conv.convert(cx, op)
        except Exception as exc:
            raise ConversionError(n, f"{op.name}: {type(exc).__name__}: {exc}") from exc
        results = result if isinstance(result, (list, tuple)) else [result]
        if len(results) != len(op.outputs):
            raise ConversionError(n, f"{op.name}: converter gave {len(results)} outputs, the op has {len(op.outputs)}")
        for t, value in zip(op.outputs, results):
            want = webnn_type(sub.tensors[t])
            if want is not None and value.data_type != want:
                value = builder.cast(value, want)
            cx.values[t] = value
    outs: dict[int, MLOperand] = {}
    inputs = {index for index, _, _ in signature.inputs}
    seen: set[int] = set()
    for t in signature.outputs:
        value = cx.values.get(t)
        if value is None:
            raise ConversionError(nodes[-1] if nodes else -1, f"output tensor {t} is not produced by the partition")
        # An input or constant cannot be a graph output, nor can one operand be two outputs.
        if t in inputs or id(value) in seen or sub.tensors[t].data is not None:
            value = builder.identity(value)
        seen.add(id(value))
        outs[t] = value
    return outs


@dataclass
class Converted:
    """A partition converted but not compiled: its builder and output operands."""

    builder: MLGraphBuilder
    outputs: dict[int, MLOperand]

    def build(self):  # noqa: ANN201
        """Compile: the MLGraph of the partition (once)."""
        return self.builder.build({input_name(t): v for t, v in self.outputs.items()})


def build(context: MLContext, sub: Subgraph, nodes: Sequence[int], signature: Signature):  # noqa: ANN201
    """Convert and compile: the MLGraph of the partition."""
    return trial(context, sub, nodes, signature).build()


def trial(context: MLContext, sub: Subgraph, nodes: Sequence[int], signature: Signature) -> Converted:
    """Convert without compiling; raises ConversionError naming the first node that fails.
    The result compiles later without converting again."""
    builder = MLGraphBuilder(context)
    return Converted(builder, convert(builder, sub, nodes, signature))


def partition_signature(sub: Subgraph, nodes: Sequence[int], shapes: Mapping[int, tuple[int, ...]],
                        outputs: Sequence[int]) -> Signature:
    """The runtime inputs of ``nodes`` (tensors read but neither produced inside nor constant)."""
    produced = {t for n in nodes for t in sub.ops[n].outputs}
    ins: dict[int, None] = {}
    for n in nodes:
        for t in sub.ops[n].inputs:
            if t >= 0 and t not in produced and sub.tensors[t].data is None:
                ins[t] = None
    entries = []
    for t in ins:
        dt = webnn_type(sub.tensors[t])
        if dt is None:
            raise ConversionError(nodes[0], f"tensor {t} is {sub.tensors[t].type_name}, which WebNN cannot carry")
        entries.append((t, dt, tuple(shapes.get(t, sub.tensors[t].shape))))
    return Signature(tuple(entries), tuple(outputs))
