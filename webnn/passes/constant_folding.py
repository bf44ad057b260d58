"""Constant folding: evaluate nodes whose inputs are all constants, once, at build."""

from __future__ import annotations

from typing import Any

from ..graph import Graph
from .infra import Pass, PassResult

#: Ops never folded: their result is larger than their inputs (folding would grow the
#: graph), so they are cheaper to run than to store.
_GROWING = {"expand", "tile", "resample2d", "pad"}


class ConstantFolding(Pass):
    name = "constant-folding"

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def call(self, graph: Graph) -> PassResult:
        foldable = []
        known = set(graph.constants)
        for node in graph.nodes:
            if node.op not in _GROWING and all(i is None or i in known for i in node.inputs):
                foldable.append(node)
                known.update(node.outputs)
        if not foldable:
            return PassResult(graph, False)
        sub = Graph(descs=graph.descs, inputs={}, constants=graph.constants, nodes=foldable,
                    outputs={f"o{o}": o for n in foldable for o in n.outputs})
        values = self.backend.evaluate(sub)
        out = graph.copy()
        folded = {id(n) for n in foldable}
        out.nodes = [n for n, orig in zip(out.nodes, graph.nodes) if id(orig) not in folded]
        for oid, array in values.items():
            out.constants[oid] = array.reshape(graph.descs[oid].shape)
        return PassResult(out, True)
