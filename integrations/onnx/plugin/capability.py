"""``GetCapability``: which of ORT's nodes WebNN takes, in which fused groups.

The same truth as the drop-in provider (``integrations/onnx/plan.py``): the graph is
specialised (``specialize``: static shapes, constants folded), every remaining node is
asked ``why_not`` (the converter registry's capability checks against the context's
``op_support_limits()``), and ``webnn.partition.partition_graph`` cuts maximal convex
groups (``minPartitionSize`` honoured). Differences the plugin route forces, each
deliberate:

- the groups are convex in ORT's *full* graph: nodes the specialiser folded (``Shape``
  of a static tensor, ``Constant``...) still exist for ORT, so they take part in the
  partitioning as "supported" (inside a group their value is a WebNN constant);
  a group of folded nodes only is left to ORT;
- dynamic dimensions (symbolic or unknown) are unknown when ORT asks: support is
  decided with each of them set to 1, and each concrete input signature is compiled
  when it first arrives (see :mod:`.kernel`);
- when every shape is static, each group is converted and built right here, and a
  node whose converter fails goes back to ORT with the reason and the graph is cut
  again -- exactly as the drop-in does -- so ``Compile`` never meets a surprise;
- control-flow nodes and the bodies of If/Loop/Scan stay on ORT (nested graphs are
  declined as a whole: their outer-scope values are not WebNN inputs we can feed).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper

from webnn import MLContext, MLGraph
from webnn.cache.keys import graph_cache_key
from webnn.converters import SupportQuery
from webnn.partition import partition_graph

from ..cached import load_or_build
from ..convert import build_partition, descriptor
from ..errors import ConversionError
from ..model import LoadedModel, elem_type_name
from ..registry import CONVERTER_VERSION, NodeView, why_not
from ..specialize import Specialized, specialize
from .graph import OrtGraphModel, ValueInfo

EP_NAME = "WebNNExecutionProvider"


@dataclass
class Prepared:
    """One group compiled for one input signature: what a kernel runs."""

    graph: MLGraph | None
    #: MLGraph inputs (ONNX value names), all runtime values.
    inputs: tuple[str, ...]
    #: MLGraph outputs (ONNX value names).
    outputs: tuple[str, ...]
    #: Group outputs known at build time (folded), written without running anything.
    constants: dict[str, np.ndarray]
    cache: str


@dataclass
class Decision:
    """The answer to one ``GetCapability`` call."""

    groups: list[list[int]]
    #: Node index -> None (taken) or why it stays on ORT.
    reasons: dict[int, str | None]
    #: Node ids of a group -> its graph, built for the static signature (static models only).
    prebuilt: dict[tuple[int, ...], Prepared] = field(default_factory=dict)
    dynamic: bool = False


def fed_types(inputs: Sequence[ValueInfo], shapes: dict[str, tuple[int, ...]] | None = None
              ) -> tuple[tuple[tuple[str, str, tuple[int, ...]], ...], dict[str, Any], bool]:
    """Signature and type protos for the runtime inputs; True when a dimension was guessed."""
    signature = []
    types: dict[str, Any] = {}
    guessed = False
    for name, is_tensor, elem, shape in inputs:
        if not is_tensor:
            continue
        if shapes is not None and name in shapes:
            dims: tuple[int, ...] | None = tuple(shapes[name])
        elif shape is None:
            dims, guessed = None, True
        else:
            dims = tuple(d if isinstance(d, int) and d >= 0 else 1 for d in shape)
            guessed = guessed or any(not (isinstance(d, int) and d >= 0) for d in shape)
        types[name] = helper.make_tensor_type_proto(elem, None if dims is None else list(dims))
        signature.append((name, f"tensor({elem_type_name(elem)})", tuple(dims or ())))
    return tuple(signature), types, guessed


def node_reasons(query: SupportQuery, spec: Specialized) -> dict[int, str | None]:
    """Original node index -> None (WebNN can take it) or the reason; as the drop-in asks."""
    out: dict[int, str | None] = {}
    for position in range(len(spec.order)):
        view = NodeView(spec, position)
        try:
            out[view.index] = why_not(query, view)
        except Exception as exc:  # a check that cannot decide keeps the node on ORT, with the reason
            out[view.index] = f"capability check failed: {type(exc).__name__}: {exc}"
    return out


class GroupBuilder:
    """Converts and builds one group of a specialised graph, through the graph cache."""

    def __init__(self, context: MLContext, options: Any, model_key: str) -> None:
        self.context = context
        self.options = options
        self.model_key = model_key

    @property
    def cache_usable(self) -> bool:
        return bool(self.options.cache and getattr(self.context, "cache_enabled", False))

    def build(self, spec: Specialized, group: Sequence[int], outputs: Sequence[str], node_ids: Sequence[int]
              ) -> Prepared:
        """Build ``group`` (original node indices) producing ``outputs``; ConversionError on failure."""
        position = {idx: p for p, idx in enumerate(spec.order)}
        views = [NodeView(spec, position[i]) for i in sorted((i for i in group if i in position),
                                                             key=position.__getitem__)]
        produced = {o for v in views for o in v.outputs if o}
        inputs: list[str] = []
        for v in views:
            for name in v.inputs:
                if name and name not in produced and not spec.is_constant(name) and name not in inputs:
                    inputs.append(name)
        constants = {o: np.asarray(spec.constant(o)) for o in outputs if spec.is_constant(o)}
        graph_outputs = [o for o in outputs if o not in constants]
        if not graph_outputs:
            return Prepared(None, (), (), constants, "nothing to compile")
        key = graph_cache_key("onnx-ep", {
            "model": self.options.cache_key or self.model_key,
            "signature": [list(s) for s in spec.signature],
            "nodes": list(node_ids),
            "inputs": inputs,
            "outputs": graph_outputs,
            "device": self.context.device,
            "power_preference": self.context.power_preference,
            "converter": CONVERTER_VERSION,
            "onnx": onnx.__version__,
        })
        want_in = {n: descriptor(None, spec, n) for n in inputs}
        want_out = {n: descriptor(None, spec, n) for n in graph_outputs}
        graph, status = load_or_build(self.context, self.cache_usable, key, want_in, want_out,
                                      lambda: build_partition(self.context, views, inputs, graph_outputs), EP_NAME)
        return Prepared(graph, tuple(inputs), tuple(graph_outputs), constants, status)


def group_outputs(gm: OrtGraphModel, group: set[int]) -> list[str]:
    """Values the group produces that ORT needs outside it (read by other nodes, or graph outputs)."""
    outside: set[str] = set(gm.output_names)
    for rec in gm.records:
        if rec.index not in group:
            outside.update(rec.reads)
    out: list[str] = []
    for i in sorted(group):
        for name in gm.records[i].outputs:
            if name and name in outside and name not in out:
                out.append(name)
    return out


def decide(gm: OrtGraphModel, context: MLContext, query: SupportQuery, options: Any) -> Decision:
    """Answer ``GetCapability`` for one ORT graph."""
    n = len(gm.records)
    if gm.nested:
        reason = "inside a control-flow body (If/Loop/Scan): nested graphs stay on ONNX Runtime"
        return Decision([], dict.fromkeys(range(n), reason))
    if n == 0:
        return Decision([], {})
    try:
        loaded = LoadedModel(gm.proto, gm.digest, None)
    except Exception as exc:  # a graph the ONNX tooling cannot read: ORT keeps all of it
        return Decision([], dict.fromkeys(range(n), f"graph not readable as ONNX here: {exc}"))
    signature, types, guessed = fed_types(gm.runtime_inputs)
    spec = specialize(loaded, signature, types)
    reasons = node_reasons(query, spec)
    for rec in gm.records:
        if rec.opaque is not None:
            reasons[rec.index] = rec.opaque
    folded = set(spec.folded_nodes) - {r.index for r in gm.records if r.opaque is not None}
    builder = GroupBuilder(context, options, gm.digest)
    prebuilt: dict[tuple[int, ...], Prepared] = {}
    order = list(loaded.order)
    while True:
        parts = partition_graph(order, inputs_of=lambda i: gm.records[i].reads,
                                outputs_of=lambda i: [o for o in gm.records[i].outputs if o],
                                is_supported=lambda i: i in folded or reasons.get(i) is None,
                                graph_outputs=gm.output_names, min_size=options.min_partition_size)
        groups = []
        for part in parts:
            members = [order[p] for p in part.nodes]
            if part.supported and any(i not in folded for i in members):
                groups.append(sorted(members))
        if guessed:
            break
        failed = False
        for group in groups:
            ids = tuple(sorted(gm.records[i].node_id for i in group))  # as Compile names the group
            if ids in prebuilt:
                continue
            try:
                prebuilt[ids] = builder.build(spec, group, group_outputs(gm, set(group)), ids)
            except ConversionError as exc:
                failed = True
                position = {idx: p for p, idx in enumerate(spec.order)}
                culprits = [spec.order[exc.position]] if exc.position is not None else \
                    [i for i in group if i in position]
                for i in culprits:
                    reasons[i] = exc.reason
                    folded.discard(i)
                warnings.warn(f"{EP_NAME}: {exc.reason} (node(s) {[gm.records[i].name for i in culprits]}); "
                              "they run on ONNX Runtime instead", RuntimeWarning, stacklevel=2)
                break
        if not failed:
            break
    taken = {i for g in groups for i in g}
    for i in range(n):
        if i in taken:
            reasons[i] = None
        elif reasons.get(i) is None:
            reasons[i] = ("folded at build time; ONNX Runtime computes it (no WebNN group next to it)"
                          if i in folded else f"in a group smaller than minPartitionSize={options.min_partition_size}")
    return Decision(groups, reasons, prebuilt, guessed)
