"""Dead-code removal: drop nodes, constants and operands no output depends on."""

from __future__ import annotations

from ..graph import Graph, reachable_nodes
from .infra import Pass, PassResult


class DeadCodeElimination(Pass):
    name = "dead-code-elimination"

    def call(self, graph: Graph) -> PassResult:
        keep = reachable_nodes(graph, graph.outputs.values())
        used = set(graph.outputs.values()) | set(graph.inputs.values())
        for node in keep:
            used.update(i for i in node.inputs if i is not None)
            used.update(node.outputs)
        if len(keep) == len(graph.nodes) and all(c in used for c in graph.constants):
            return PassResult(graph, False)
        out = Graph(descs={o: d for o, d in graph.descs.items() if o in used},
                    inputs=dict(graph.inputs), outputs=dict(graph.outputs),
                    constants={c: a for c, a in graph.constants.items() if c in used},
                    nodes=keep)
        return PassResult(out.copy(), True)
