"""One placement report for all three integrations: which node ran on WebNN (and in
which partition), which on the host framework and why, and where each WebNN
partition's compiled graph came from (graph cache hit or miss).

The ONNX session's ``placement()``, the TFLite delegate's ``placement_report()`` and
the torch backend's ``reports()`` are normalised into :class:`Placement` here; the
tables (``run``, ``inspect``), the JSON and the picture all read that one object, so
they cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

WEBNN = "webnn"
HOST = "host"
FOLDED = "folded"


@dataclass
class NodePlace:
    """Where one host node runs."""

    index: int
    name: str
    op: str
    where: str  # WEBNN, HOST or FOLDED
    partition: int | None = None  # WebNN partition number (0, 1, ...) for WEBNN nodes
    reason: str | None = None  # why it stayed on the host (or how it was folded)
    cache: str | None = None  # the cache outcome of its WebNN partition
    subgraph: int = 0


@dataclass
class PartitionPlace:
    """One WebNN graph: how many host nodes it replaces and where its compiled form came from."""

    id: int
    nodes: int
    cache: str
    ops: dict[str, int] = field(default_factory=dict)
    key: str | None = None


@dataclass
class Placement:
    """The placement of one model in one integration."""

    framework: str
    host_name: str
    device: str
    nodes: list[NodePlace] = field(default_factory=list)
    partitions: list[PartitionPlace] = field(default_factory=list)
    #: False when the integration reports per op type only (torch): ``nodes`` is empty then.
    per_node: bool = True
    #: Counts when ``per_node`` is False.
    webnn_count: int = 0
    host_count: int = 0
    #: op -> reason -> count for host nodes when ``per_node`` is False.
    host_reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # -- totals ----------------------------------------------------------------------------
    @property
    def webnn_nodes(self) -> int:
        return sum(n.where == WEBNN for n in self.nodes) if self.per_node else self.webnn_count

    @property
    def host_nodes(self) -> int:
        return sum(n.where == HOST for n in self.nodes) if self.per_node else self.host_count

    @property
    def folded_nodes(self) -> int:
        return sum(n.where == FOLDED for n in self.nodes)

    @property
    def total_nodes(self) -> int:
        return self.webnn_nodes + self.host_nodes + self.folded_nodes

    def cache_counts(self) -> dict[str, int]:
        """Partitions by cache outcome: ``hit``, ``miss``, ``off``, ``other``."""
        return dict(Counter(cache_outcome(p.cache) for p in self.partitions))

    def by_op(self) -> list[dict[str, Any]]:
        """Rows per host op type: counts on WebNN, on the host, folded; and the reasons."""
        rows: dict[str, dict[str, Any]] = {}

        def row(op: str) -> dict[str, Any]:
            return rows.setdefault(op, {"op": op, WEBNN: 0, HOST: 0, FOLDED: 0, "reasons": Counter()})

        if self.per_node:
            for n in self.nodes:
                r = row(n.op)
                r[n.where] += 1
                if n.where == HOST:
                    r["reasons"][n.reason or "?"] += 1
        else:
            for op, reasons in self.host_reasons.items():
                r = row(op)
                r[HOST] += sum(reasons.values())
                r["reasons"].update(reasons)
        out = []
        for r in sorted(rows.values(), key=lambda r: (-r[HOST], -r[WEBNN], r["op"])):
            r["reasons"] = dict(r["reasons"])
            out.append(r)
        return out

    def summary(self) -> dict[str, Any]:
        return {"webnn_nodes": self.webnn_nodes, "host_nodes": self.host_nodes, "folded_nodes": self.folded_nodes,
                "total_nodes": self.total_nodes, "webnn_partitions": len(self.partitions),
                "cache": self.cache_counts()}

    def headline(self) -> str:
        """``9/10 nodes on WebNN in 1 partition, 1 on ONNX Runtime``."""
        parts = len(self.partitions)
        unit = "nodes" if self.per_node else "ATen nodes"
        text = (f"{self.webnn_nodes}/{self.total_nodes} {unit} on WebNN in {parts} "
                f"partition{'s' if parts != 1 else ''}, {self.host_nodes} on {self.host_name}")
        if self.folded_nodes:
            text += f", {self.folded_nodes} folded into constants"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"framework": self.framework, "host": self.host_name, "device": self.device,
                "summary": self.summary(), "per_node": self.per_node, "by_op": self.by_op(),
                "partitions": [asdict(p) for p in self.partitions],
                "nodes": [asdict(n) for n in self.nodes], "notes": list(self.notes)}


def cache_outcome(status: str | None) -> str:
    """Fold the integrations' cache words into hit / miss / off / other."""
    text = (status or "").strip().lower()
    if text.startswith("hit") or text == "memory":
        return "hit"
    if text.startswith(("miss", "unsaved")):
        return "miss"
    if text in ("off", ""):
        return "off"
    return "other"


# -- normalisers -----------------------------------------------------------------------------
def from_onnx(rows: list[dict[str, Any]], device: str, webnn_provider: str) -> Placement:
    """From ``InferenceSession.placement()`` rows."""
    place = Placement("onnx", "ONNX Runtime", device)
    renumber: dict[int, int] = {}
    sizes: Counter[int] = Counter()
    caches: dict[int, str] = {}
    ops: dict[int, Counter[str]] = {}
    for r in rows:
        provider = r.get("provider")
        if provider == webnn_provider:
            pid = renumber.setdefault(int(r["partition"]), len(renumber))
            place.nodes.append(NodePlace(int(r["index"]), str(r["node"]), str(r["op_type"]), WEBNN, pid, None,
                                         r.get("cache")))
            sizes[pid] += 1
            caches.setdefault(pid, str(r.get("cache") or "off"))
            ops.setdefault(pid, Counter())[str(r["op_type"])] += 1
        elif provider == "folded":
            place.nodes.append(NodePlace(int(r["index"]), str(r["node"]), str(r["op_type"]), FOLDED, None,
                                         r.get("reason")))
        else:
            place.nodes.append(NodePlace(int(r["index"]), str(r["node"]), str(r["op_type"]), HOST, None,
                                         r.get("reason") or f"runs on {provider}"))
    place.partitions = [PartitionPlace(pid, sizes[pid], caches[pid], dict(ops[pid])) for pid in sorted(sizes)]
    return place


def from_tflite(reports: list[Any], device: str, op_count: int | None = None) -> Placement:
    """From the delegate's ``placement_report()`` (``SubgraphReport`` objects) of one interpreter."""
    place = Placement("tflite", "TFLite", device)
    pid_base = 0
    for rep in sorted(reports, key=lambda r: (r.subgraph is None, r.subgraph or 0)):
        sub = rep.subgraph if rep.subgraph is not None else 0
        if rep.refused:
            place.notes.append(f"subgraph {sub}: the delegate claimed nothing: {rep.refused}")
            if not rep.nodes and op_count is not None and sub == 0:
                for i in range(op_count):
                    place.nodes.append(NodePlace(i, f"op {i}", "?", HOST, None, rep.refused, None, sub))
        cache_of: dict[int, Any] = {}
        for info in rep.partitions:
            for node in info.nodes:
                cache_of[int(node)] = info
        local: dict[int, int] = {}
        members: dict[int, list[int]] = {}
        for n in rep.nodes:
            if n.where == "webnn":
                local_id = int(n.partition) if n.partition is not None else -1
                pid = local.setdefault(local_id, pid_base + len(local))
                info = cache_of.get(int(n.index))
                status = info.cache if info is not None else "pending"
                place.nodes.append(NodePlace(int(n.index), f"{n.op}#{n.index}", n.op, WEBNN, pid, None, status, sub))
                members.setdefault(pid, []).append(int(n.index))
            else:
                place.nodes.append(NodePlace(int(n.index), f"{n.op}#{n.index}", n.op, HOST, None,
                                             n.reason or "left to TFLite", None, sub))
        for pid in sorted(members):
            idx = members[pid]
            info = cache_of.get(idx[0])
            op_counts = Counter(n.op for n in place.nodes if n.partition == pid)
            place.partitions.append(PartitionPlace(pid, len(idx), info.cache if info is not None else "pending",
                                                   dict(op_counts), getattr(info, "key", None)))
        pid_base += len(local)
    if len({n.subgraph for n in place.nodes}) > 1:
        place.notes.append("the model has several subgraphs (control flow); node names carry their subgraph")
        for n in place.nodes:
            if n.subgraph:
                n.name = f"sg{n.subgraph}/{n.name}"
    return place


def from_torch(reports: list[Any], device: str) -> Placement:
    """From ``webnn.integrations.torch.reports()`` made during one compile-and-run."""
    place = Placement("torch", "torch", device, per_node=False)
    pid = 0
    for rep in reports:
        if rep.path == "specializing":
            continue  # the concrete-shape compile that follows carries the numbers
        place.webnn_count += int(rep.webnn_nodes)
        place.host_count += int(rep.torch_nodes)
        for op, reasons in rep.fallbacks.items():
            per = place.host_reasons.setdefault(op, {})
            for reason, count in reasons.items():
                per[reason] = per.get(reason, 0) + int(count)
        for p in rep.partitions:
            place.partitions.append(PartitionPlace(pid, int(p.aten_nodes), str(p.cache), dict(p.webnn_ops), p.key))
            pid += 1
        if rep.path == "cache":
            place.notes.append(f"graph {rep.graph_id}: loaded whole from the graph cache (no tracing)")
    graphs = [r for r in reports if r.path != "specializing"]
    if len(graphs) > 1:
        place.notes.append(f"dynamo split the model into {len(graphs)} graphs (graph breaks)")
    if not graphs:
        place.notes.append("torch.compile produced no graph for the webnn backend")
    place.notes.append("the torch integration reports placement per ATen op type, not per node; "
                       "partition op counts are the WebNN ops emitted")
    return place
