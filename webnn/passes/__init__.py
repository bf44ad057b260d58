"""IR -> IR passes run by ``build()``: dead-code removal, constant folding, fusions.

Every pass shares one contract (:class:`Pass`): it takes a graph and returns a
``PassResult`` with the (possibly new) graph and whether it changed anything; the
pipeline checks the graph's invariants after each pass.
"""

from __future__ import annotations

from typing import Any

from ..graph import Graph
from .infra import Pass, PassResult, run_passes

__all__ = ["Pass", "PassResult", "optimize", "run_passes"]


def default_passes(backend: Any) -> list[Pass]:
    from .constant_folding import ConstantFolding
    from .dce import DeadCodeElimination
    from .fusion import fusion_passes

    return [DeadCodeElimination(), ConstantFolding(backend), *fusion_passes(), DeadCodeElimination()]


def optimize(graph: Graph, backend: Any) -> Graph:
    """The optimised form of ``graph`` that ``backend`` compiles."""
    return run_passes(graph, default_passes(backend))
