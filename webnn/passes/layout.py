"""Constant filters in the torch backend's layout, rewritten once at build.

torch convolves with OIHW weights (IOHW for transposed convolution). A conv2d whose
filter is a constant in another layout ("hwio", "ohwi", "ihwo") would otherwise pay a
permute on every call; this pass stores the constant already transposed and sets the
node's ``filter_layout`` to match, so the lowering hands the constant to torch as is.
For an "nhwc" conv2d the target is "ohwi": viewed as OIHW that is a channels-last
weight, which is what torch's channels-last kernels read without converting.

The transposed constant is a new constant (the old one may feed other nodes; dead-code
removal drops it when nothing else reads it), and the cache stores the result, so a
loaded graph never transposes again.
"""

from __future__ import annotations

import numpy as np

from .. import memory
from ..graph import Graph
from .infra import Pass, PassResult


def target_layout(op: str, input_layout: str) -> str | None:
    """The filter layout torch reads without a copy, for a convolution node."""
    if op == "conv2d":
        return "ohwi" if input_layout == "nhwc" else "oihw"
    if op == "conv_transpose2d":
        return "iohw"
    return None


def relayout(array: np.ndarray, source: str, target: str) -> np.ndarray:
    """``array`` in filter layout ``source`` transposed to layout ``target``."""
    return memory.copy_of(np.transpose(array, [source.index(letter) for letter in target]))


class ConstantFilterLayout(Pass):
    """Rewrite constant convolution filters into the layout torch reads directly."""

    name = "constant-filter-layout"

    def call(self, graph: Graph) -> PassResult:
        todo = []
        for index, node in enumerate(graph.nodes):
            target = target_layout(node.op, node.attrs.get("input_layout", "nchw"))
            if (target is not None and node.inputs[1] in graph.constants
                    and node.attrs["filter_layout"] != target):
                todo.append((index, target))
        if not todo:
            return PassResult(graph, False)
        out = graph.copy()
        made: dict[tuple[int, str, str], int] = {}
        for index, target in todo:
            node = out.nodes[index]
            source, cid = node.attrs["filter_layout"], node.inputs[1]
            assert cid is not None
            key = (cid, source, target)
            if key not in made:
                made[key] = out.add_constant(relayout(out.constants[cid], source, target),
                                             out.descs[cid].data_type)
            node.inputs[1] = made[key]
            node.attrs["filter_layout"] = target
        return PassResult(out, True)
