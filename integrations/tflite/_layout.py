"""Read the runtime's graph through the context, and check the layout before trusting it.

At the delegate's Prepare the runtime's execution plan, nodes and tensors are read
through the ctypes mirrors, then checked against what the flatbuffer declares:

- nodes are ``std::pair<TfLiteNode, TfLiteRegistration>`` in a vector, so consecutive
  node pointers must be ``NODE_STRIDE`` apart and each registration must sit right
  after its node;
- every node of the plan must have the builtin code, inputs and outputs of the
  flatbuffer operator with its index, and every tensor the type and name the
  flatbuffer gives it.

Any mismatch means the mirrors do not fit this runtime (or the model found is not the
one being run), and the delegate claims nothing. Prepare runs once per subgraph with no
subgraph id; :func:`match_subgraph` finds which subgraph a context is.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from . import _capi as C
from ._model import SCHEMA_TO_C_TYPE, Model, Subgraph


@dataclass(frozen=True)
class NodeView:
    index: int
    builtin_code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    delegated: bool  # already a delegate kernel (another delegate, or ours)


@dataclass(frozen=True)
class TensorView:
    index: int
    c_type: int
    name: str
    dims: tuple[int, ...]
    allocation_type: int


def read_graph(ctxp: ctypes._Pointer) -> tuple[list[NodeView], list[TensorView], str | None]:
    """The execution plan's nodes and all tensors; the third item is a layout problem or None."""
    ctx = ctxp.contents
    plan_ptr = ctypes.c_void_p()
    if ctx.GetExecutionPlan(ctxp, ctypes.byref(plan_ptr)) != C.K_OK:
        return [], [], "GetExecutionPlan failed"
    plan = C.int_array(plan_ptr.value or 0)
    nodes: list[NodeView] = []
    addresses: list[int] = []
    for index in plan:
        node_ptr, reg_ptr = ctypes.c_void_p(), ctypes.c_void_p()
        if ctx.GetNodeAndRegistration(ctxp, index, ctypes.byref(node_ptr), ctypes.byref(reg_ptr)) != C.K_OK:
            return [], [], f"GetNodeAndRegistration failed for node {index}"
        if not node_ptr.value or not reg_ptr.value:
            return [], [], f"node {index} has a NULL node or registration"
        if reg_ptr.value - node_ptr.value != C.EXPECTED_SIZES["TfLiteNode"]:
            return [], [], (f"registration of node {index} is {reg_ptr.value - node_ptr.value} bytes after the node, "
                            f"expected {C.EXPECTED_SIZES['TfLiteNode']}")
        node = C.TfLiteNode.from_address(node_ptr.value)
        reg = C.TfLiteRegistration.from_address(reg_ptr.value)
        nodes.append(NodeView(index, int(reg.builtin_code), tuple(C.int_array(node.inputs or 0)),
                              tuple(C.int_array(node.outputs or 0)), bool(node.delegate)))
        addresses.append(node_ptr.value)
    for (i, a), (j, b) in zip(zip(plan, addresses), zip(plan[1:], addresses[1:])):
        if (b - a) != (j - i) * C.NODE_STRIDE:
            return [], [], (f"nodes {i} and {j} are {b - a} bytes apart, expected {(j - i) * C.NODE_STRIDE} "
                            f"(node stride {C.NODE_STRIDE})")
    tensors = []
    for k in range(int(ctx.tensors_size)):
        t = C.tensor_at(ctx, k)
        tensors.append(TensorView(k, int(t.type), C.tensor_name(t), tuple(C.int_array(t.dims or 0)),
                                  int(t.allocation_type)))
    return nodes, tensors, None


def _mismatch(sub: Subgraph, nodes: list[NodeView], tensors: list[TensorView]) -> str | None:
    if len(tensors) < len(sub.tensors):
        return f"{len(tensors)} runtime tensors, the flatbuffer subgraph has {len(sub.tensors)}"
    for t, mt in zip(tensors, sub.tensors):
        want = SCHEMA_TO_C_TYPE.get(mt.type_code)
        if t.c_type != want:
            return f"tensor {t.index} has C type {t.c_type}, the flatbuffer says {mt.type_name} ({want})"
        if t.name != mt.name:
            return f"tensor {t.index} is named {t.name!r}, the flatbuffer says {mt.name!r}"
    for n in nodes:
        if n.index >= len(sub.ops):
            if not n.delegated:
                return f"node {n.index} is past the flatbuffer's {len(sub.ops)} operators and not a delegate kernel"
            continue
        op = sub.ops[n.index]
        if n.builtin_code != op.code:
            return f"node {n.index} has builtin code {n.builtin_code}, the flatbuffer says {op.name} ({op.code})"
        if n.inputs != op.inputs or n.outputs != op.outputs:
            return f"node {n.index} ({op.name}) tensors {n.inputs}->{n.outputs} differ from the flatbuffer's"
    return None


def match_subgraph(model: Model, nodes: list[NodeView], tensors: list[TensorView]) -> tuple[Subgraph | None, str]:
    """The subgraph of ``model`` this runtime context holds, or None and why none fits."""
    reasons = []
    for sub in model.subgraphs:
        why = _mismatch(sub, nodes, tensors)
        if why is None:
            return sub, ""
        reasons.append(f"subgraph {sub.index}: {why}")
    return None, "; ".join(reasons) or "the model has no subgraphs"
