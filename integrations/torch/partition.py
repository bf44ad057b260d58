"""An ATen FX graph -> the same graph with each supported partition replaced by one
call into a compiled MLGraph; every other node stays a torch op.

Partitions come from torch's ``CapabilityBasedPartitioner`` asked through
:class:`~.support.WebNNSupport`. Each partition is lifted with torch's own
``fuse_as_graphmodule``, looked up in the graph cache, else converted and built.
A converter that fails sends its node back to torch (with the error as the reason,
and a warning) and the graph is partitioned again, so a bug in one converter costs
one op, not the graph.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.utils.fuser_utils import erase_nodes, fuse_as_graphmodule, topo_sort

from webnn import MLContext, MLGraph, NotSupportedError

from .build import ConversionError, Interface, interface_names
from .report import GraphReport, PartitionReport
from .runner import make_runner
from .support import WebNNSupport, packet_name


@dataclass
class Lifted:
    """One partition lifted out of the graph, with its compiled MLGraph."""

    nodes: list[torch.fx.Node]
    inputs: tuple[torch.fx.Node, ...]
    outputs: tuple[torch.fx.Node, ...]
    names: Interface
    graph: MLGraph
    cache: str
    key: str | None


class _PartitionFailed(Exception):
    def __init__(self, nodes: list[torch.fx.Node], error: ConversionError) -> None:
        super().__init__(str(error))
        self.nodes, self.error = nodes, error


#: (sub graph module, interface) -> (MLGraph, cache status, key); raises ConversionError
Compiler = Callable[[torch.fx.GraphModule, Interface], "tuple[MLGraph, str, str | None]"]


def _compute_nodes(nodes: Any) -> list[torch.fx.Node]:
    return [n for n in nodes if n.op == "call_function" and n.target is not operator.getitem]


def partition_graph(gm: torch.fx.GraphModule, context: MLContext, support: WebNNSupport, *,
                    compile_partition: Compiler, min_size: int, fallback: str, report: GraphReport,
                    host_device: torch.device | None) -> list[Lifted]:
    """Rewrite ``gm`` in place: supported partitions become calls to compiled MLGraphs
    (returned, in splice order)."""
    built: dict[frozenset[torch.fx.Node], tuple[MLGraph, str, str | None]] = {}
    while True:  # each failed conversion sends at least one more node to torch, so this ends
        support.forget()
        partitioner = CapabilityBasedPartitioner(gm, support, allows_single_node_partition=True)
        proposed = partitioner.propose_partitions()
        small: list[torch.fx.Node] = []
        chosen = []
        for p in proposed:
            nodes = topo_sort(list(p.nodes))
            if len(_compute_nodes(nodes)) < min_size:
                small.extend(_compute_nodes(nodes))
            elif _compute_nodes(nodes):
                chosen.append(nodes)
        try:
            lifted = [_lift(gm, nodes, k, built, compile_partition) for k, nodes in enumerate(chosen)]
        except _PartitionFailed as failed:
            err = failed.error
            blamed = [err.node] if err.node is not None and err.node not in support.rejected else \
                [n for n in _compute_nodes(failed.nodes) if n not in support.rejected]
            if not blamed:
                raise NotSupportedError(f"webnn backend: a partition failed to convert: {err}") from err
            warnings.warn(f"webnn: {len(blamed)} ATen node(s) run in torch because conversion failed "
                          f"({blamed[0].format_node()}): {err}", RuntimeWarning, stacklevel=2)
            for node in blamed:
                support.rejected[node] = f"conversion failed: {type(err.cause).__name__}: {err.cause}"
            continue
        break
    _fill_report(gm, support, lifted, small, min_size, report)
    if fallback == "raise" and report.fallbacks:
        listed = "; ".join(f"{op}: {', '.join(sorted(r))}" for op, r in sorted(report.fallbacks.items()))
        raise NotSupportedError(f"webnn backend (fallback='raise'): {report.torch_nodes} ATen node(s) "
                                f"are not supported by WebNN: {listed}")
    replaced: dict[torch.fx.Node, torch.fx.Node] = {}
    for k, part in enumerate(lifted):
        _splice(gm, part, context, f"webnn_partition_{k}", host_device, replaced)
    torch.fx.passes.tools_common.stable_topological_sort(gm)
    gm.graph.lint()
    gm.recompile()
    return lifted


def _lift(gm: torch.fx.GraphModule, nodes: list[torch.fx.Node], k: int,
          built: dict[frozenset[torch.fx.Node], tuple[MLGraph, str, str | None]],
          compile_partition: Compiler) -> Lifted:
    sub, inputs, outputs = fuse_as_graphmodule(gm, nodes, f"webnn_partition_{k}", dict.fromkeys(nodes),
                                               always_return_tuple=True)
    names = interface_names(gm, inputs, outputs)
    key = frozenset(nodes)
    if key not in built:
        try:
            built[key] = compile_partition(sub, names)
        except ConversionError as err:
            if err.node is not None:  # the converter saw the lifted copy; blame the original node
                by_name = {n.name: n for n in nodes}
                err.node = by_name.get(err.node.name)
            raise _PartitionFailed(nodes, err) from err
    graph, cache, cache_key = built[key]
    return Lifted(nodes, inputs, outputs, names, graph, cache, cache_key)


def _splice(gm: torch.fx.GraphModule, part: Lifted, context: MLContext, name: str,
            host_device: torch.device | None, replaced: dict[torch.fx.Node, torch.fx.Node]) -> None:
    """Replace ``part``'s nodes by one call and a getitem per output; ``replaced`` maps the
    outputs of partitions spliced before to their getitems (a later partition may read them)."""
    runner = make_runner(context, part.graph, part.names.inputs, part.names.input_bool, part.names.outputs,
                         part.names.output_bool, name=name, host_device=host_device)
    graph = gm.graph
    with graph.inserting_after(part.nodes[-1]):
        call = graph.call_function(runner, tuple(replaced.get(n, n) for n in part.inputs))
    call.meta["val"] = tuple(o.meta.get("val") for o in part.outputs)
    anchor = call
    for i, orig in enumerate(part.outputs):
        with graph.inserting_after(anchor):
            item = graph.call_function(operator.getitem, (call, i))
        item.meta = dict(orig.meta)
        orig.replace_all_uses_with(item)
        replaced[orig] = item
        anchor = item
    erase_nodes(gm, part.nodes)


def _fill_report(gm: torch.fx.GraphModule, support: WebNNSupport, lifted: list[Lifted], small: list[torch.fx.Node],
                 min_size: int, report: GraphReport) -> None:
    on_webnn = {n for part in lifted for n in part.nodes}
    small_set = set(small)
    for k, part in enumerate(lifted):
        report.partitions.append(PartitionReport(
            name=f"webnn_partition_{k}", aten_nodes=len(_compute_nodes(part.nodes)),
            webnn_ops=part.graph.ir.op_counts(), cache=part.cache, key=part.key))
    for node in _compute_nodes(gm.graph.nodes):
        if node in on_webnn:
            report.webnn_nodes += 1
            continue
        report.torch_nodes += 1
        if node in small_set:
            reason = f"partition smaller than min_partition_size={min_size}"
        else:
            reason = support.reasons.get(node) or support.why_not(node) or "not taken by the partitioner"
        report.add_fallback(packet_name(node.target), reason)
