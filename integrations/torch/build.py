"""One partition (an FX subgraph of ATen nodes) -> one compiled MLGraph.

Every placeholder becomes a named ``builder.input`` with the WebNN type of its torch
dtype (bool as uint8), every node goes through its registered converter, and the
subgraph's outputs become the graph's named outputs. Names carry meaning (see
:func:`interface_names`) so a graph loaded from the cache can be fed without the
FX graph that made it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx

from webnn import MLContext, MLGraph, MLGraphBuilder

from .converters import REGISTRY, ConvertContext
from .dtypes import webnn_type


class ConversionError(Exception):
    """A converter failed on ``node``: the node goes back to torch, with this reason."""

    def __init__(self, node: torch.fx.Node | None, cause: BaseException) -> None:
        where = node.format_node() if node is not None else "the partition's outputs"
        super().__init__(f"{type(cause).__name__}: {cause} (converting {where})")
        self.node = node
        self.cause = cause


@dataclass(frozen=True)
class Interface:
    """How a partition's torch values map to its MLGraph's named inputs and outputs.

    Input names: ``a{j}`` when the value is placeholder ``j`` of the whole FX graph,
    else ``t{k}``. Output names: ``o{m}`` (``b{m}`` when bool) when the value is
    output ``m`` of the whole FX graph (and only that one), else ``x{k}`` (``y{k}``).
    """

    inputs: tuple[str, ...]
    input_bool: tuple[bool, ...]
    outputs: tuple[str, ...]
    output_bool: tuple[bool, ...]


def _is_bool(node: torch.fx.Node) -> bool:
    v = node.meta.get("val")
    return isinstance(v, torch.Tensor) and v.dtype == torch.bool


def interface_names(gm: torch.fx.GraphModule, inputs: tuple[torch.fx.Node, ...],
                    outputs: tuple[torch.fx.Node, ...]) -> Interface:
    """Names for a partition of ``gm`` reading ``inputs`` and providing ``outputs``."""
    placeholders = {n: j for j, n in enumerate(n for n in gm.graph.nodes if n.op == "placeholder")}
    out_node = gm.graph.output_node()
    flat = out_node.args[0] if isinstance(out_node.args[0], (tuple, list)) else [out_node.args[0]]
    positions: dict[torch.fx.Node, list[int]] = {}
    for m, v in enumerate(flat):
        if isinstance(v, torch.fx.Node):
            positions.setdefault(v, []).append(m)
    in_names = tuple(f"a{placeholders[n]:04d}" if n in placeholders else f"t{k:04d}" for k, n in enumerate(inputs))
    out_names = []
    for k, n in enumerate(outputs):
        pos = positions.get(n, [])
        if len(pos) == 1:
            out_names.append(f"{'b' if _is_bool(n) else 'o'}{pos[0]:04d}")
        else:
            out_names.append(f"{'y' if _is_bool(n) else 'x'}{k:04d}")
    return Interface(in_names, tuple(_is_bool(n) for n in inputs), tuple(out_names),
                     tuple(_is_bool(n) for n in outputs))


def convert_partition(context: MLContext, sub: torch.fx.GraphModule, names: Interface) -> MLGraph:
    """Convert the fused subgraph ``sub`` (placeholders in ``names.inputs`` order, a tuple
    output in ``names.outputs`` order) and build it on ``context``."""
    builder = MLGraphBuilder(context)
    cx = ConvertContext(builder)
    placeholders = [n for n in sub.graph.nodes if n.op == "placeholder"]
    for ph, name in zip(placeholders, names.inputs):
        v = ph.meta["val"]
        op = builder.input(name, {"dataType": webnn_type(v.dtype), "shape": [int(d) for d in v.shape]})
        cx.leaves.add(id(op))
        cx.env[ph] = op
    results: Any = ()
    for node in sub.graph.nodes:
        try:
            if node.op == "get_attr":
                cx.env[node] = cx.constant(_attr(sub, str(node.target)))
            elif node.op == "call_function":
                if node.target is operator.getitem:
                    value = cx.env[node.args[0]][node.args[1]]
                    if value is None:
                        raise TypeError(f"output {node.args[1]} of {node.args[0].name} was not converted")
                    cx.env[node] = value
                    continue
                conv = REGISTRY.get(node.target)
                if conv is None:
                    raise TypeError(f"no converter for {node.target}")
                cx.env[node] = conv.convert(cx, node)
            elif node.op == "output":
                results = node.args[0]
        except ConversionError:
            raise
        except Exception as exc:
            raise ConversionError(node, exc) from exc
    try:
        named = {}
        seen: set[int] = set()
        for name, value in zip(names.outputs, results):
            op = cx.env[value]
            if id(op) in seen or id(op) in cx.leaves:
                op = builder.identity(op)
            seen.add(id(op))
            named[name] = op
        return builder.build(named)
    except Exception as exc:
        raise ConversionError(None, exc) from exc


def _attr(module: torch.nn.Module, target: str) -> torch.Tensor:
    obj: Any = module
    for part in target.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, torch.Tensor):
        raise TypeError(f"get_attr {target} is a {type(obj).__name__}, not a tensor")
    return obj
