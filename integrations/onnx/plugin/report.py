"""Placement: ORT's record of where each node ran, with our reasons next to it.

ORT decides the final placement (it may also refuse a group), so the truth about
"which provider ran this node" is ORT's own record: a session created with the
config entry ``session.record_ep_graph_assignment_info`` = "1" answers
``get_provider_graph_assignment_info()``. What ORT does not know -- why WebNN left a
node, whether a group came from the graph cache, which signatures fell back -- is
kept per ``GetCapability`` call here and matched to the session by its node names.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .capability import EP_NAME

_MAX_REPORTS = 64
_reports: OrderedDict[frozenset[str], EpReport] = OrderedDict()
_lock = threading.Lock()


@dataclass
class EpReport:
    """What one ``GetCapability`` decided, and what ``Compile`` made of it."""

    device: str
    reasons: dict[str, str | None]
    op_types: dict[str, str]
    kernels: list[tuple[list[str], Any]] = field(default_factory=list)

    @classmethod
    def from_decision(cls, gm: Any, decision: Any, device: str) -> EpReport:
        reasons = {gm.records[i].name: r for i, r in decision.reasons.items()}
        return cls(device, reasons, {r.name: r.op_type for r in gm.records})

    def add_kernel(self, kernel: Any, node_names: list[str]) -> None:
        self.kernels.append((node_names, kernel))

    def partitions(self) -> list[dict[str, Any]]:
        out = []
        for k, (names, kernel) in enumerate(self.kernels):
            out.append({"partition": k, "fused_node": kernel.name, "nodes": names,
                        "cache": {str(s): c for s, c in kernel.cache.items()},
                        "fallbacks": {str(s): r for s, r in kernel.fallbacks.items()}, "calls": kernel.calls})
        return out


def record(rep: EpReport) -> None:
    key = frozenset(rep.reasons)
    with _lock:
        _reports[key] = rep
        _reports.move_to_end(key)
        while len(_reports) > _MAX_REPORTS:
            _reports.popitem(last=False)


def lookup(node_names: set[str]) -> EpReport | None:
    with _lock:
        for key in reversed(_reports):
            if node_names <= key:
                return _reports[key]
    return None


def _assignment(session: Any) -> list[tuple[str, str, str, str]]:
    try:
        info = session.get_provider_graph_assignment_info()
    except Exception as exc:
        raise RuntimeError("placement(): ORT has no assignment record for this session; create it with "
                           "SessionOptions.add_session_config_entry('session.record_ep_graph_assignment_info', '1')"
                           ) from exc
    rows = []
    for sub in info:
        for node in sub.get_nodes():
            rows.append((node.name, node.op_type, node.domain, sub.ep_name))
    return rows


def placement(session: Any) -> list[dict[str, Any]]:
    """Per node: ``node``, ``op_type``, ``domain``, ``provider`` (ORT's record), ``reason`` (ours)."""
    rows = _assignment(session)
    rep = lookup({name for name, _, _, provider in rows if provider == EP_NAME}) if rows else None
    out = []
    for name, op_type, domain, provider in rows:
        entry: dict[str, Any] = {"node": name, "op_type": op_type, "domain": domain, "provider": provider}
        if provider != EP_NAME:
            entry["reason"] = rep.reasons.get(name) if rep is not None else None
        out.append(entry)
    return out
