"""Which FX nodes WebNN takes, and why not the others.

:class:`WebNNSupport` is the ``OperatorSupport`` handed to torch's
``CapabilityBasedPartitioner``. It answers from the converter registry (with each
converter's capability check against the context's ``op_support_limits()``), the
generic tensor limits WebNN has (data types, static non-empty shapes, rank, element
count, device) and the ``torch_ops`` option, and remembers the reason for every
node it refused so the report can list them.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
import torch.fx
from torch.fx.passes.operator_support import OperatorSupportBase

from webnn.converters import SupportQuery

from .converters import REGISTRY
from .dtypes import dtype_name, webnn_type

#: WebNN's largest supported rank in this implementation and its element limit.
MAX_RANK = 8
MAX_ELEMENTS = 2**31 - 1


def op_name(target: Any) -> str:
    """``aten.add.Tensor`` for an OpOverload; a qualified name otherwise."""
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target._opname}.{target._overloadname}"
    if target is operator.getitem:
        return "getitem"
    return getattr(target, "__qualname__", None) or str(target)


def packet_name(target: Any) -> str:
    """``aten.add`` for ``aten.add.Tensor`` (what reports group by)."""
    name = op_name(target)
    return name.rsplit(".", 1)[0] if isinstance(target, torch._ops.OpOverload) else name


def tensor_reason(value: Any, what: str, device_type: str | None) -> str | None:
    """Why a tensor value cannot live in a WebNN graph, or None."""
    if not isinstance(value, torch.Tensor):
        return None
    if webnn_type(value.dtype) is None:
        return f"dtype {dtype_name(value.dtype)} has no WebNN type"
    shape = value.shape
    if any(not isinstance(d, int) for d in shape):
        return f"{what} has a symbolic shape"
    if any(d == 0 for d in shape):
        return f"{what} has a zero-size dimension {list(shape)}"
    if len(shape) > MAX_RANK:
        return f"{what} has rank {len(shape)} > {MAX_RANK}"
    if math.prod(shape) > MAX_ELEMENTS:
        return f"{what} has more than 2**31 - 1 elements"
    if value.layout != torch.strided or value.is_quantized:
        return f"{what} is not a dense strided tensor"
    if device_type is not None and value.device.type != device_type:
        return f"{what} is on {value.device}, not {device_type}"
    return None


class WebNNSupport(OperatorSupportBase):
    """Node support for one FX graph and one context."""

    def __init__(self, query: SupportQuery, torch_ops: tuple[str, ...] = (), device_type: str | None = None
                 ) -> None:
        self.query = query
        self.torch_ops = set(torch_ops)
        self.device_type = device_type
        self.reasons: dict[torch.fx.Node, str] = {}
        #: Nodes refused after a failed conversion, with the error.
        self.rejected: dict[torch.fx.Node, str] = {}
        self._memo: dict[torch.fx.Node, str | None] = {}

    def is_node_supported(self, submodules: Any, node: torch.fx.Node) -> bool:
        return self.why_not(node) is None

    def why_not(self, node: torch.fx.Node) -> str | None:
        """None when WebNN takes ``node``, else the reason (remembered in ``reasons``)."""
        if node in self._memo:
            return self._memo[node]
        reason = self._why_not(node)
        self._memo[node] = reason
        if reason is not None and node.op == "call_function":
            self.reasons[node] = reason
        return reason

    def forget(self) -> None:
        self._memo.clear()
        self.reasons.clear()

    def _why_not(self, node: torch.fx.Node) -> str | None:
        if node.op != "call_function":
            return f"{node.op} node"
        if node in self.rejected:
            return self.rejected[node]
        target = node.target
        if target is operator.getitem:
            src = node.args[0]
            if isinstance(src, torch.fx.Node) and src.op == "call_function" and self.why_not(src) is None:
                return None
            return "reads an output of a node that runs in torch"
        name = op_name(target)
        if not isinstance(target, torch._ops.OpOverload):
            return f"{name} is not an ATen op"
        if name in self.torch_ops or packet_name(target) in self.torch_ops:
            return "forced to torch by the torch_ops option"
        if REGISTRY.get(target) is None:
            return "no converter"
        for inp in node.all_input_nodes:
            if not isinstance(inp.meta.get("val"), torch.Tensor):
                return f"reads a value that is not a tensor ({inp.name})"
            reason = tensor_reason(inp.meta.get("val"), "an input", self.device_type)
            if reason:
                return reason
        out = node.meta.get("val")
        if isinstance(out, (tuple, list)):
            used = {u.args[1] for u in node.users if u.target is operator.getitem}
            outs = [v for i, v in enumerate(out) if i in used]
        else:
            outs = [out]
        for v in outs:
            reason = tensor_reason(v, "the output", self.device_type)
            if reason:
                return reason
        return REGISTRY.why_not(target, self.query, node)
