"""Placement reports: which TFLite nodes ran on WebNN, which stayed with TFLite, and why.

The delegate keeps one :class:`SubgraphReport` per (interpreter, subgraph) it was
asked to prepare, refreshed when a resize re-applies it. ``delegate.placement_report()``
returns them; :meth:`SubgraphReport.format` prints one for people.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class NodePlacement:
    """One node of the subgraph: where it runs and, for TFLite, why not WebNN."""

    index: int
    op: str
    where: str  # "webnn" or "tflite"
    reason: str | None = None
    partition: int | None = None


@dataclass
class PartitionInfo:
    """One WebNN graph: the TFLite nodes it replaces and where its compiled form came from."""

    nodes: tuple[int, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    #: "memory" (already compiled in this process), "hit" (loaded from the graph cache),
    #: "miss" (built and saved), "unsaved" (built; the cache refused it), "off" (no cache),
    #: "pending" (not prepared yet)
    cache: str = "pending"
    key: str | None = None
    build_seconds: float = 0.0
    builds: int = 0
    #: Conversions of this partition when its kernel was prepared: 0 when Prepare's trial
    #: conversion was compiled (or nothing was built), 1 when it had to convert again.
    conversions: int = 0


@dataclass
class SubgraphReport:
    """Where the nodes of one subgraph of one interpreter run."""

    interpreter: int
    runtime: str
    model_digest: str | None
    subgraph: int | None
    device: str
    nodes: list[NodePlacement] = field(default_factory=list)
    partitions: list[PartitionInfo] = field(default_factory=list)
    #: Set when the delegate claimed nothing at all, with the reason (unknown layout...).
    refused: str | None = None
    #: Node groups converted (not compiled) at Prepare to learn whether they convert; 0
    #: on a warm start, where the cached graphs of the groups show that they do.
    trial_conversions: int = 0

    @property
    def webnn_nodes(self) -> int:
        return sum(n.where == "webnn" for n in self.nodes)

    @property
    def tflite_nodes(self) -> int:
        return sum(n.where == "tflite" for n in self.nodes)

    def fallbacks(self) -> dict[str, dict[str, int]]:
        """op -> reason -> count, for the nodes left to TFLite."""
        out: dict[str, Counter[str]] = {}
        for n in self.nodes:
            if n.where == "tflite":
                out.setdefault(n.op, Counter())[n.reason or "?"] += 1
        return {op: dict(c) for op, c in out.items()}

    def format(self) -> str:
        head = (f"webnn tflite delegate, subgraph {self.subgraph} on {self.device} ({self.runtime}): "
                f"{self.webnn_nodes}/{len(self.nodes)} nodes on WebNN in {len(self.partitions)} graph(s), "
                f"{self.tflite_nodes} on TFLite")
        lines = [head]
        if self.refused:
            lines.append(f"  refused: {self.refused}")
        for i, p in enumerate(self.partitions):
            lines.append(f"  partition {i}: nodes {list(p.nodes)} [cache {p.cache}, "
                         f"{p.build_seconds * 1e3:.0f} ms to build]")
        for op, reasons in sorted(self.fallbacks().items()):
            why = "; ".join(f"{r} (x{k})" if k > 1 else r for r, k in sorted(reasons.items()))
            lines.append(f"  tflite: {op}: {why}")
        return "\n".join(lines)
