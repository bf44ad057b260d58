"""The pass contract and the pipeline that runs passes and checks invariants."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ..graph import Graph

log = logging.getLogger("webnn.passes")


@dataclass
class PassResult:
    graph: Graph
    modified: bool


class Pass:
    """A graph-to-graph transformation; subclasses implement :meth:`call`."""

    name = "pass"

    def call(self, graph: Graph) -> PassResult:
        raise NotImplementedError

    def __call__(self, graph: Graph) -> PassResult:
        result = self.call(graph)
        check_invariants(result.graph, self.name)
        return result


def check_invariants(graph: Graph, after: str) -> None:
    """Every read operand is an input, constant or earlier output; outputs exist."""
    ready = set(graph.inputs.values()) | set(graph.constants)
    for node in graph.nodes:
        for i in node.inputs:
            if i is not None and i not in ready:
                raise AssertionError(f"after {after}: {node.op} reads operand {i} before it is produced")
        ready.update(node.outputs)
    for name, oid in graph.outputs.items():
        if oid not in ready:
            raise AssertionError(f"after {after}: output {name!r} (operand {oid}) is never produced")


def run_passes(graph: Graph, passes: Sequence[Pass]) -> Graph:
    for p in passes:
        result = p(graph)
        if result.modified:
            log.debug("pass %s changed the graph: %s", p.name, result.graph.op_counts())
        graph = result.graph
    return graph
