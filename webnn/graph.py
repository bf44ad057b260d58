"""The graph IR: operands, operations and constants.

A :class:`Graph` is what ``MLGraphBuilder.build()`` produces and what passes and
backends consume. It is plain data: operand descriptors by id, named inputs and
outputs, constants as numpy arrays, and nodes in topological order. It round-trips
through a JSON header plus raw constant buffers (no pickle), and has a stable
content digest used by the graph cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dtypes import numpy_dtype
from .hashing import content_hasher
from .operand import MLOperandDescriptor

#: Bumped whenever the header layout or an op's attribute meaning changes.
IR_VERSION = 1


@dataclass
class Node:
    """One operation: ``op`` (snake-case spec name) applied to operand ids."""

    op: str
    inputs: list[int | None]
    outputs: list[int]
    attrs: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "inputs": self.inputs, "outputs": self.outputs,
                "attrs": self.attrs, "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Node:
        return cls(str(data["op"]), list(data["inputs"]), list(data["outputs"]),
                   dict(data["attrs"]), str(data.get("label", "")))


@dataclass
class Graph:
    """A WebNN computation graph in IR form."""

    descs: dict[int, MLOperandDescriptor] = field(default_factory=dict)
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)

    # -- queries -------------------------------------------------------------
    def producers(self) -> dict[int, Node]:
        """Operand id -> the node that produces it."""
        return {out: node for node in self.nodes for out in node.outputs}

    def consumers(self) -> dict[int, list[Node]]:
        """Operand id -> the nodes that read it (graph outputs not included)."""
        users: dict[int, list[Node]] = {}
        for node in self.nodes:
            for i in node.inputs:
                if i is not None:
                    users.setdefault(i, []).append(node)
        return users

    def next_id(self) -> int:
        return max(self.descs, default=-1) + 1

    def add_operand(self, desc: MLOperandDescriptor) -> int:
        new_id = self.next_id()
        self.descs[new_id] = desc
        return new_id

    def add_constant(self, array: np.ndarray, data_type: str) -> int:
        new_id = self.add_operand(MLOperandDescriptor(data_type, tuple(array.shape) or ()))
        self.constants[new_id] = np.ascontiguousarray(array, dtype=numpy_dtype(data_type)).reshape(array.shape)
        return new_id

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op] = counts.get(node.op, 0) + 1
        return counts

    def copy(self) -> Graph:
        """A copy whose node list and maps can be changed freely (constants shared)."""
        return Graph(dict(self.descs), dict(self.inputs), dict(self.outputs), dict(self.constants),
                     [Node(n.op, list(n.inputs), list(n.outputs), dict(n.attrs), n.label)
                      for n in self.nodes])

    def toposort(self) -> None:
        """Order nodes so every operand is produced before it is read."""
        ready = set(self.inputs.values()) | set(self.constants)
        pending = list(self.nodes)
        ordered: list[Node] = []
        while pending:
            rest = []
            for node in pending:
                if all(i is None or i in ready for i in node.inputs):
                    ordered.append(node)
                    ready.update(node.outputs)
                else:
                    rest.append(node)
            if len(rest) == len(pending):
                raise ValueError(f"graph has a cycle or a dangling operand at {rest[0].op}")
            pending = rest
        self.nodes = ordered

    # -- (de)serialisation -----------------------------------------------------
    def header(self) -> dict[str, Any]:
        """JSON-safe description of everything but the constant bytes."""
        return {
            "ir_version": IR_VERSION,
            "operands": {str(k): d.to_dict() for k, d in sorted(self.descs.items())},
            "inputs": self.inputs,
            "outputs": self.outputs,
            "constants": sorted(self.constants),
            "nodes": [n.to_json() for n in self.nodes],
        }

    @classmethod
    def from_header(cls, header: dict[str, Any], constants: dict[int, np.ndarray]) -> Graph:
        """Rebuild a graph from :meth:`header` output and its constants."""
        if header.get("ir_version") != IR_VERSION:
            raise ValueError(f"IR version {header.get('ir_version')!r} is not {IR_VERSION}")
        descs = {int(k): MLOperandDescriptor(v["dataType"], tuple(v["shape"]))
                 for k, v in header["operands"].items()}
        wanted = [int(c) for c in header["constants"]]
        if sorted(constants) != sorted(wanted):
            raise ValueError("constant set does not match the header")
        for cid in wanted:
            arr, desc = constants[cid], descs[cid]
            if arr.dtype != numpy_dtype(desc.data_type) or tuple(arr.shape) != desc.shape:
                raise ValueError(f"constant {cid} does not match its descriptor")
        return cls(descs, {str(k): int(v) for k, v in header["inputs"].items()},
                   {str(k): int(v) for k, v in header["outputs"].items()},
                   dict(constants), [Node.from_json(n) for n in header["nodes"]])

    def digest(self) -> str:
        """Stable content hash (BLAKE3) of structure, attributes and constant bytes."""
        h = content_hasher()
        h.update(json.dumps(self.header(), sort_keys=True, default=_json_default).encode())
        for cid in sorted(self.constants):
            arr = np.ascontiguousarray(self.constants[cid])
            h.update(f"{cid}:{arr.dtype.str}:{arr.shape}".encode())
            h.update(memoryview(arr).cast("B") if arr.ndim else arr.tobytes())
        return h.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    raise TypeError(f"not JSON-serialisable in a graph attribute: {value!r}")


def reachable_nodes(graph: Graph, targets: Iterable[int]) -> list[Node]:
    """The nodes ``targets`` depend on, in the graph's order."""
    producers = graph.producers()
    needed: set[int] = set()
    stack = list(targets)
    keep: set[int] = set()
    while stack:
        oid = stack.pop()
        if oid in needed:
            continue
        needed.add(oid)
        node = producers.get(oid)
        if node is not None and id(node) not in keep:
            keep.add(id(node))
            stack.extend(i for i in node.inputs if i is not None)
    return [n for n in graph.nodes if id(n) in keep]
