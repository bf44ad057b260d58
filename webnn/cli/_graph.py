"""A host model's graph as the picture needs it: nodes with the tensors they read
and write, and the model's inputs and outputs. Weights and other constants are left
out (they are not edges anyone needs to see)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class GraphNode:
    """One host node: ``index`` and ``name`` are the ones the placement report uses."""

    index: int
    name: str
    op: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


@dataclass
class GraphView:
    """The nodes of one (sub)graph in a topological order, and its inputs and outputs."""

    nodes: list[GraphNode]
    inputs: list[str]
    outputs: list[str]
    title: str = ""
    #: Display names of tensors whose key is not what a person should read (TFLite: "name#index").
    labels: dict[str, str] = field(default_factory=dict)

    def without_constants(self) -> GraphView:
        """Drop node inputs that are neither a graph input nor produced by a node."""
        produced = {t for n in self.nodes for t in n.outputs}
        keep = produced | set(self.inputs)
        nodes = [GraphNode(n.index, n.name, n.op, [t for t in n.inputs if t in keep], list(n.outputs))
                 for n in self.nodes]
        return GraphView(nodes, list(self.inputs), list(self.outputs), self.title, dict(self.labels))
