"""What ran where: one :class:`GraphReport` per graph the backend compiled.

A report says, per compiled FX graph, how many ATen nodes ran on WebNN and how many
in torch, which ATen ops fell back and why ("no converter", "dtype ... not
supported", "forced to torch by the torch_ops option", ...), and for every WebNN
partition whether it came from the graph cache. :func:`reports` returns them;
the ``report`` option prints each one as it is made.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from dataclasses import dataclass, field

_LOCK = threading.Lock()
_REPORTS: list[GraphReport] = []
#: Reports kept per process (oldest dropped first).
MAX_REPORTS = 256


@dataclass
class PartitionReport:
    """One WebNN graph: its ATen nodes, the WebNN ops it became, and where it came from."""

    name: str
    aten_nodes: int
    webnn_ops: dict[str, int]
    cache: str  # "hit", "miss" (built and saved), "off", "unsaved" (built, save failed)
    key: str | None = None


@dataclass
class GraphReport:
    """Where the ATen nodes of one compiled graph ran."""

    graph_id: int
    device: str
    signature: str
    webnn_nodes: int = 0
    torch_nodes: int = 0
    partitions: list[PartitionReport] = field(default_factory=list)
    #: ATen op name -> fallback reason -> count
    fallbacks: dict[str, dict[str, int]] = field(default_factory=dict)
    #: "aot" (traced, partitioned), "cache" (whole graph loaded, nothing traced), "specializing" (dynamic shapes)
    path: str = "aot"
    mode: str = "inference"
    compile_seconds: float = 0.0

    def add_fallback(self, op: str, reason: str, count: int = 1) -> None:
        per_op = self.fallbacks.setdefault(op, {})
        per_op[reason] = per_op.get(reason, 0) + count

    @property
    def fallback_ops(self) -> set[str]:
        return set(self.fallbacks)

    @property
    def cache_hits(self) -> int:
        return sum(p.cache == "hit" for p in self.partitions)

    def format(self) -> str:
        """A human-readable summary (what the ``report`` option prints)."""
        total = self.webnn_nodes + self.torch_nodes
        head = f"webnn torch.compile graph {self.graph_id} ({self.mode}, {self.path}) on {self.device}: "
        if self.path == "cache":
            head += (f"whole graph loaded from the cache ({self.webnn_nodes} dynamo nodes, nothing traced), "
                     f"ready in {self.compile_seconds * 1e3:.0f} ms")
        elif self.path == "specializing":
            head += "symbolic shapes: compiled per concrete input signature at first call"
        else:
            head += (f"{self.webnn_nodes}/{total} ATen nodes on WebNN, {self.torch_nodes} in torch, "
                     f"{len(self.partitions)} WebNN graph(s), built in {self.compile_seconds * 1e3:.0f} ms")
        if self.mode == "training":
            head += "; the backward graph runs in torch"
        lines = [head, f"  inputs: {self.signature}"]
        for p in self.partitions:
            ops = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(p.webnn_ops.items()))
            lines.append(f"  {p.name}: {p.aten_nodes} ATen nodes -> {sum(p.webnn_ops.values())} WebNN ops "
                         f"[cache {p.cache}] ({ops})")
        for op, reasons in sorted(self.fallbacks.items()):
            why = "; ".join(f"{r} (x{n})" if n > 1 else r for r, n in sorted(reasons.items()))
            lines.append(f"  torch: {op}: {why}")
        return "\n".join(lines)


def record(report: GraphReport, echo: bool) -> None:
    with _LOCK:
        _REPORTS.append(report)
        del _REPORTS[:-MAX_REPORTS]
    if echo:
        print(report.format(), file=sys.stderr, flush=True)


def reports() -> list[GraphReport]:
    """Reports of the graphs compiled in this process, oldest first."""
    with _LOCK:
        return list(_REPORTS)


def last_report() -> GraphReport | None:
    """The most recent report, or None."""
    with _LOCK:
        return _REPORTS[-1] if _REPORTS else None


def clear_reports() -> None:
    with _LOCK:
        _REPORTS.clear()


def summarize(items: list[GraphReport]) -> dict[str, object]:
    """Totals over several reports: nodes per side, fallback ops, cache hits."""
    ops: Counter[str] = Counter()
    for r in items:
        for op, reasons in r.fallbacks.items():
            ops[op] += sum(reasons.values())
    return {"webnn_nodes": sum(r.webnn_nodes for r in items), "torch_nodes": sum(r.torch_nodes for r in items),
            "fallback_ops": dict(ops), "cache_hits": sum(r.cache_hits for r in items)}
