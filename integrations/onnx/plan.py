"""The execution plan for one input signature: WebNN graphs and ORT sessions in order.

Route chosen: an ordered chain of steps -- each supported partition is one compiled
MLGraph, each fallback partition one real ``onnxruntime.InferenceSession`` (CPU EP)
over a sub-model -- with numpy arrays passed between them (zero-copy on the CPU:
torch tensors share memory with numpy both ways). The alternative, one ORT session
over a rewritten model whose WebNN partitions are onnxruntime-extensions Python
custom ops, was measured (``benchmarks/onnx_bench.py overhead``) and rejected: no
faster per partition here, and it aborts the process on a float16 tensor or an
exception in a kernel, and registers op types process-wide. When nothing is left
for WebNN the plan is one ORT session over the original model, so that case behaves
exactly like ORT.

Building a plan: specialise the model (static shapes, folded constants), ask the
converter registry about every node, partition with ``webnn.partition``, then for
each supported partition load its graph from the cache or convert, build and save
it. A node whose converter fails after its check passed goes back to ORT with the
reason, and partitioning is redone (warned about, and shown in ``placement()``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, TypeProto

from webnn import MLContext, MLGraph
from webnn.cache.keys import graph_cache_key
from webnn.converters import SupportQuery
from webnn.partition import Partition, partition_graph

from .cached import load_or_build
from .convert import build_partition, descriptor
from .errors import ConversionError
from .model import LoadedModel, node_inputs
from .options import CPU, PROVIDER, WebNNOptions
from .registry import NodeView, converter_digest, why_not
from .specialize import Signature, Specialized, specialize
from .submodel import extract

log = logging.getLogger("webnn.integrations.onnx")


@dataclass
class NodePlacement:
    """Where one node of the model runs for one input signature."""

    index: int
    node: str
    op_type: str
    provider: str
    partition: int | None = None
    reason: str | None = None
    cache: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "node": self.node, "op_type": self.op_type, "provider": self.provider,
                "partition": self.partition, "reason": self.reason, "cache": self.cache}


class WebNNStep:
    """Run one compiled MLGraph on values from the environment."""

    kind = "webnn"

    def __init__(self, context: MLContext, graph: MLGraph, inputs: Sequence[str], outputs: Sequence[str],
                 bools: set[str], partition: int) -> None:
        self.context = context
        self.graph = graph
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.bool_inputs = frozenset(n for n in inputs if n in bools)
        self.bool_outputs = frozenset(n for n in outputs if n in bools)
        self.partition = partition

    def run(self, env: dict[str, Any], run_options: Any) -> None:
        feeds = {}
        for name in self.inputs:
            value = env[name]
            feeds[name] = value.view(np.uint8) if name in self.bool_inputs else value
        results = self.context.compute(self.graph, feeds)
        for name in self.outputs:
            value = results[name]
            env[name] = value.view(np.bool_) if name in self.bool_outputs else value


class OrtStep:
    """Run one ONNX Runtime session (a fallback partition, or the whole model)."""

    kind = "ort"

    def __init__(self, session: Any, inputs: Sequence[str], outputs: Sequence[str], partition: int | None,
                 constant_feeds: Mapping[str, np.ndarray] | None = None) -> None:
        self.session = session
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.partition = partition
        self.constant_feeds = dict(constant_feeds or {})
        self._output_list = list(self.outputs)

    def run(self, env: dict[str, Any], run_options: Any) -> None:
        feeds = {n: env[n] for n in self.inputs}
        if self.constant_feeds:
            feeds.update(self.constant_feeds)
        results = self.session.run(self._output_list, feeds, run_options)
        env.update(zip(self.outputs, results))


@dataclass
class Plan:
    """Steps for one signature, and what ran where."""

    signature: Signature
    steps: list[Any]
    #: After step k, the values nobody reads any more.
    releases: list[tuple[str, ...]]
    #: Graph outputs known at build time (folded or initializers).
    constants: dict[str, np.ndarray]
    placement: list[NodePlacement]
    summary: dict[str, Any] = field(default_factory=dict)

    def run(self, feeds: Mapping[str, Any], output_names: Sequence[str], run_options: Any) -> list[Any]:
        env: dict[str, Any] = dict(feeds)
        for step, release in zip(self.steps, self.releases):
            step.run(env, run_options)
            for name in release:
                env.pop(name, None)
        out = []
        for name in output_names:
            if name in self.constants:
                out.append(np.array(self.constants[name], copy=True))
            elif name in feeds:  # an input that is also an output: ORT returns a copy
                out.append(np.array(feeds[name], copy=True))
            else:
                out.append(env[name])
        return out


@dataclass
class PlanContext:
    """What a plan needs from its session."""

    model: LoadedModel
    webnn: WebNNOptions | None
    context: MLContext | None
    model_key: str
    make_session: Callable[[bytes | None], Any]
    ort_provider: str
    _query: SupportQuery | None = None

    @property
    def query(self) -> SupportQuery:
        if self._query is None:
            assert self.context is not None
            self._query = support_query(self.context)
        return self._query

    @property
    def cache_usable(self) -> bool:
        return bool(self.webnn is not None and self.webnn.cache and self.context is not None
                    and getattr(self.context, "cache_enabled", False))


_QUERIES: dict[tuple[str, int], SupportQuery] = {}


def support_query(context: MLContext) -> SupportQuery:
    """The context's ``op_support_limits()`` as a SupportQuery, computed once per device.

    The limits depend only on the backend's lowerings for the device kind, and
    computing them takes milliseconds, which every new session would pay again.
    """
    import webnn.builder

    key = (context.device, len(webnn.builder.OPS))
    query = _QUERIES.get(key)
    if query is None:
        query = _QUERIES[key] = SupportQuery(context.op_support_limits())
    return query


def whole_model_plan(pc: PlanContext, signature: Signature, reason: str) -> Plan:
    """Every node on ORT: one session over the original model."""
    session = pc.make_session(None)
    model = pc.model
    step = OrtStep(session, [n for n, _, _ in signature], model.output_names, None)
    graph = model.proto.graph
    placement = [NodePlacement(i, n.name or f"{n.op_type}_{i}", n.op_type, pc.ort_provider, None, reason)
                 for i, n in enumerate(graph.node)]
    return Plan(signature, [step], [()], {}, placement, {"webnn_partitions": 0, "ort_sessions": 1,
                                                          "webnn_nodes": 0, "ort_nodes": len(graph.node)})


def build_plan(pc: PlanContext, signature: Signature, fed_types: Mapping[str, TypeProto]) -> Plan:
    model = pc.model
    if pc.webnn is None or pc.context is None:
        return whole_model_plan(pc, signature, f"{PROVIDER} not selected")
    if not model.tensor_io:
        return whole_model_plan(pc, signature, "the model has non-tensor inputs or outputs (sequence, map, "
                                               "optional): it runs on ONNX Runtime as a whole")
    spec = specialize(model, signature, fed_types)
    views = [NodeView(spec, p) for p in range(len(spec.order))]
    reasons: dict[int, str | None] = {}
    for v in views:
        try:
            reasons[v.position] = why_not(pc.query, v)
        except Exception as exc:  # a check that cannot decide keeps the node on ORT, with the reason
            reasons[v.position] = f"capability check failed: {type(exc).__name__}: {exc}"
    built: dict[tuple[int, ...], tuple[MLGraph, str]] = {}
    while True:
        parts = partition_graph(views, inputs_of=lambda v: node_inputs(v.proto),
                                outputs_of=lambda v: [o for o in v.outputs if o],
                                is_supported=lambda v: reasons[v.position] is None,
                                graph_outputs=model.output_names, min_size=pc.webnn.min_partition_size)
        failed = False
        for part in parts:
            if not part.supported or part.nodes in built:
                continue
            try:
                built[part.nodes] = _graph_for(pc, spec, views, part)
            except ConversionError as exc:
                failed = True
                where = [exc.position] if exc.position is not None else list(part.nodes)
                for pos in where:
                    reasons[pos] = exc.reason
                warnings.warn(f"{PROVIDER}: {exc.reason} (node(s) {[views[p].name for p in where]}); "
                              "they run on ONNX Runtime instead", RuntimeWarning, stacklevel=4)
                break
        if not failed:
            break
    if not any(p.supported for p in parts):
        plan = whole_model_plan(pc, signature, "no node left for WebNN")
        _place_reasons(plan, spec, views, reasons)
        return plan
    return _assemble(pc, spec, views, parts, reasons, built)


def _runtime_inputs(spec: Specialized, part: Partition) -> list[str]:
    return [n for n in part.inputs if not spec.is_constant(n)]


def _graph_for(pc: PlanContext, spec: Specialized, views: list[NodeView], part: Partition) -> tuple[MLGraph, str]:
    """The partition's MLGraph: from the cache when there, else converted, built and saved."""
    assert pc.context is not None
    inputs = _runtime_inputs(spec, part)
    outputs = list(part.outputs)
    key = graph_cache_key("onnx", {
        "model": pc.model_key,
        "signature": [list(s) for s in spec.signature],
        "nodes": [spec.order[p] for p in part.nodes],
        "inputs": inputs,
        "outputs": outputs,
        "device": pc.context.device,
        "power_preference": pc.context.power_preference,
        "converter": converter_digest(),
        "onnx": onnx.__version__,
    })
    want_in = {n: descriptor(None, spec, n) for n in inputs}
    want_out = {n: descriptor(None, spec, n) for n in outputs}
    return load_or_build(pc.context, pc.cache_usable, key, want_in, want_out,
                         lambda: build_partition(pc.context, [views[p] for p in part.nodes], inputs, outputs),
                         PROVIDER)


def _bool_values(spec: Specialized) -> set[str]:
    out = set()
    for name, tp in spec.types.items():
        if tp.WhichOneof("value") == "tensor_type" and tp.tensor_type.elem_type == TensorProto.BOOL:
            out.add(name)
    return out


def _assemble(pc: PlanContext, spec: Specialized, views: list[NodeView], parts: list[Partition],
              reasons: dict[int, str | None], built: dict[tuple[int, ...], tuple[MLGraph, str]]) -> Plan:
    assert pc.context is not None
    model = pc.model
    bools = _bool_values(spec)
    steps: list[Any] = []
    placement: dict[int, NodePlacement] = {}
    for pid, part in enumerate(parts):
        if part.supported:
            graph, status = built[part.nodes]
            steps.append(WebNNStep(pc.context, graph, _runtime_inputs(spec, part), part.outputs, bools, pid))
            for p in part.nodes:
                v = views[p]
                placement[v.index] = NodePlacement(v.index, v.name, v.op_type, PROVIDER, pid, None, status)
        else:
            sub, constant_feeds = extract(spec, part.nodes, part.inputs, part.outputs)
            session = pc.make_session(sub.SerializeToString())
            steps.append(OrtStep(session, _runtime_inputs(spec, part), part.outputs, pid, constant_feeds))
            for p in part.nodes:
                v = views[p]
                reason = reasons[p] or f"partition smaller than minPartitionSize={pc.webnn.min_partition_size}"
                placement[v.index] = NodePlacement(v.index, v.name, v.op_type, pc.ort_provider, pid, reason)
    graph = model.proto.graph
    for i, how in spec.folded_nodes.items():
        n = graph.node[i]
        placement[i] = NodePlacement(i, n.name or f"{n.op_type}_{i}", n.op_type, "folded", None, how)
    constants = {}
    for name in model.output_names:
        value = spec.constant(name)
        if value is not None:
            constants[name] = value
    releases = _releases(steps, set(model.output_names))
    ordered = [placement[i] for i in sorted(placement)]
    webnn_steps = [s for s in steps if s.kind == "webnn"]
    summary = {"webnn_partitions": len(webnn_steps), "ort_sessions": len(steps) - len(webnn_steps),
               "webnn_nodes": sum(1 for p in ordered if p.provider == PROVIDER),
               "ort_nodes": sum(1 for p in ordered if p.provider not in (PROVIDER, "folded")),
               "folded_nodes": len(spec.folded_nodes)}
    return Plan(spec.signature, steps, releases, constants, ordered, summary)


def _releases(steps: list[Any], keep: set[str]) -> list[tuple[str, ...]]:
    last: dict[str, int] = {}
    for k, step in enumerate(steps):
        for name in step.inputs:
            last[name] = k
    out: list[list[str]] = [[] for _ in steps]
    for name, k in last.items():
        if name not in keep:
            out[k].append(name)
    return [tuple(r) for r in out]


def _place_reasons(plan: Plan, spec: Specialized, views: list[NodeView], reasons: dict[int, str | None]) -> None:
    by_index = {v.index: reasons.get(v.position) for v in views}
    for p in plan.placement:
        if p.index in spec.folded_nodes:
            p.reason = f"ran on ONNX Runtime with the whole model ({spec.folded_nodes[p.index]} when specialised)"
        elif by_index.get(p.index):
            p.reason = by_index[p.index]


__all__ = ["CPU", "NodePlacement", "Plan", "PlanContext", "build_plan", "whole_model_plan"]
