"""Support-aware graph partitioning shared by the integrations.

An integration hands over its host graph as a topologically ordered node list, how
to read each node's input and output value names, and a support predicate ("can
WebNN take this node?"). :func:`partition_graph` returns the graph cut into
partitions, each either *supported* (becomes one WebNN graph) or not (stays with the
host's own kernels), listed in an order in which they can run one after another.

Guarantees:

- every node is in exactly one partition, and a partition's nodes keep the input
  order (so each partition is itself topologically ordered);
- every partition is *convex*: no path leaves it and comes back, so it can run as
  one unit once its inputs exist;
- supported partitions are maximal: no two can be merged without breaking
  convexity (the same holds for the fallback partitions);
- each partition lists the values it reads from outside (``inputs``) and the values
  it produces that are read outside or are graph outputs (``outputs``).

The algorithm: a Kahn topological sort that drains every ready supported node
before it lets an unsupported one run (the scheme ONNX Runtime's partitioning
utilities use), so each run of one kind is contiguous in a topological order and
therefore convex; then a greedy pass merges pairs of same-kind partitions when no
path joins them through a third (reachability kept as bitsets), and a final sort
orders the partitions. Generic: nothing here knows any host framework.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["Partition", "is_convex", "partition_graph"]


@dataclass(frozen=True)
class Partition:
    """One partition: node indices (ascending), the values it reads and provides."""

    index: int
    supported: bool
    nodes: tuple[int, ...]
    inputs: tuple[Hashable, ...]
    outputs: tuple[Hashable, ...]

    def __len__(self) -> int:
        return len(self.nodes)


def partition_graph(nodes: Sequence[T], *, inputs_of: Callable[[T], Iterable[Hashable]],
                    outputs_of: Callable[[T], Iterable[Hashable]],
                    is_supported: Callable[[T], Any],
                    graph_outputs: Iterable[Hashable] = (),
                    min_size: int = 1) -> list[Partition]:
    """Cut ``nodes`` (topologically ordered) into convex partitions by support.

    ``inputs_of``/``outputs_of`` give each node's value names (leave absent optional
    values out); values no node produces are graph inputs or constants.
    ``is_supported`` is called once per node. Supported partitions with fewer than
    ``min_size`` nodes are given back to the host. Returns every partition, supported
    or not, in an order in which they can run.
    """
    if min_size < 1:
        raise ValueError(f"partition_graph: min_size must be >= 1, got {min_size}")
    ins = [list(dict.fromkeys(inputs_of(n))) for n in nodes]
    outs = [list(outputs_of(n)) for n in nodes]
    preds = _predecessors(ins, outs)
    supported = [bool(is_supported(n)) for n in nodes]
    while True:
        groups = _merge(_alternating_segments(preds, supported), preds)
        small = [g for kind, g in groups if kind and len(g) < min_size]
        if not small:
            break
        for g in small:
            for i in g:
                supported[i] = False
    ordered = _order_groups(groups, preds)
    return _describe(ordered, ins, outs, set(graph_outputs))


def is_convex(group: Iterable[int], preds: Sequence[Iterable[int]]) -> bool:
    """Whether no path leaves ``group`` and re-enters it (``preds[i]``: node i's producers)."""
    members = set(group)
    n = len(preds)
    succs: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)
    # Nodes reachable from the group by a path that has left it at least once.
    seen: set[int] = set()
    stack = [s for m in members for s in succs[m] if s not in members]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        if v in members:
            return False
        seen.add(v)
        stack.extend(succs[v])
    return True


# -- steps ---------------------------------------------------------------------------------
def _predecessors(ins: list[list[Hashable]], outs: list[list[Hashable]]) -> list[set[int]]:
    producer: dict[Hashable, int] = {}
    for i, values in enumerate(outs):
        for v in values:
            if v in producer:
                raise ValueError(f"partition_graph: value {v!r} is produced by nodes {producer[v]} and {i}")
            producer[v] = i
    preds: list[set[int]] = []
    for i, values in enumerate(ins):
        ps = set()
        for v in values:
            p = producer.get(v)
            if p is None:
                continue
            if p >= i:
                raise ValueError(f"partition_graph: node {i} reads {v!r} before node {p} produces it; "
                                 "nodes must be topologically ordered")
            ps.add(p)
        preds.append(ps)
    return preds


def _alternating_segments(preds: list[set[int]], supported: list[bool]) -> list[tuple[bool, list[int]]]:
    """Kahn's sort that drains all ready nodes of one kind before switching kind."""
    n = len(preds)
    indegree = [len(p) for p in preds]
    succs: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)
    ready: dict[bool, list[int]] = {True: [], False: []}
    for i in range(n):
        if indegree[i] == 0:
            heapq.heappush(ready[supported[i]], i)
    segments: list[tuple[bool, list[int]]] = []
    kind = True
    while ready[True] or ready[False]:
        if not ready[kind]:
            kind = not kind
        segment: list[int] = []
        queue = ready[kind]
        while queue:
            i = heapq.heappop(queue)
            segment.append(i)
            for s in succs[i]:
                indegree[s] -= 1
                if indegree[s] == 0:
                    heapq.heappush(ready[supported[s]], s)
        segments.append((kind, sorted(segment)))
        kind = not kind
    return segments


def _merge(segments: list[tuple[bool, list[int]]], preds: list[set[int]]) -> list[tuple[bool, list[int]]]:
    """Greedily merge same-kind groups that no third group lies between.

    Merging groups a and b keeps the group graph acyclic iff no other group c has
    a path a -> c -> b or b -> c -> a; ``desc``/``anc`` hold each group's
    descendants/ancestors as bitsets and are updated in place after each merge.
    Supported groups merge first: they are the ones worth making large.
    """
    count = len(segments)
    group_of = {}
    for g, (_, members) in enumerate(segments):
        for i in members:
            group_of[i] = g
    direct: list[set[int]] = [set() for _ in range(count)]
    for i, ps in enumerate(preds):
        for p in ps:
            if group_of[p] != group_of[i]:
                direct[group_of[p]].add(group_of[i])
    # Segments come out of Kahn's sort in topological order: fill descendants backwards.
    desc = [0] * count
    for g in range(count - 1, -1, -1):
        bits = 0
        for s in direct[g]:
            bits |= (1 << s) | desc[s]
        desc[g] = bits
    anc = [0] * count
    for g in range(count):
        bits = desc[g]
        while bits:
            low = bits & -bits
            anc[low.bit_length() - 1] |= 1 << g
            bits ^= low
    kinds = [k for k, _ in segments]
    members = [list(m) for _, m in segments]
    alive = [True] * count
    for kind in (True, False):
        for b in range(count):
            if not alive[b] or kinds[b] is not kind:
                continue
            for a in range(b):
                if not alive[a] or kinds[a] is not kind:
                    continue
                if desc[a] & anc[b] or desc[b] & anc[a]:
                    continue
                _absorb(a, b, desc, anc)
                members[a].extend(members[b])
                members[b] = []
                alive[b] = False
                break
    return [(kinds[g], sorted(members[g])) for g in range(count) if alive[g]]


def _absorb(a: int, b: int, desc: list[int], anc: list[int]) -> None:
    """Update reachability bitsets after group ``b`` is merged into group ``a``."""
    clear = ~((1 << a) | (1 << b))
    up = (anc[a] | anc[b]) & clear
    down = (desc[a] | desc[b]) & clear
    bit_a, bit_b = 1 << a, 1 << b
    bits = up
    while bits:
        low = bits & -bits
        x = low.bit_length() - 1
        desc[x] = ((desc[x] | down | bit_a) & ~bit_b)
        bits ^= low
    bits = down
    while bits:
        low = bits & -bits
        y = low.bit_length() - 1
        anc[y] = ((anc[y] | up | bit_a) & ~bit_b)
        bits ^= low
    desc[a], anc[a] = down, up
    desc[b] = anc[b] = 0


def _order_groups(groups: list[tuple[bool, list[int]]], preds: list[set[int]]) -> list[tuple[bool, list[int]]]:
    """Topological order of the groups (ties broken by their first node)."""
    group_of = {}
    for g, (_, members) in enumerate(groups):
        for i in members:
            group_of[i] = g
    succs: list[set[int]] = [set() for _ in groups]
    indegree = [0] * len(groups)
    for i, ps in enumerate(preds):
        for p in ps:
            a, b = group_of[p], group_of[i]
            if a != b and b not in succs[a]:
                succs[a].add(b)
                indegree[b] += 1
    heap = [(groups[g][1][0], g) for g in range(len(groups)) if indegree[g] == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, g = heapq.heappop(heap)
        order.append(groups[g])
        for s in succs[g]:
            indegree[s] -= 1
            if indegree[s] == 0:
                heapq.heappush(heap, (groups[s][1][0], s))
    if len(order) != len(groups):  # pragma: no cover - guarded by the merge check
        raise AssertionError("partition_graph: partitions form a cycle")
    return order


def _describe(groups: list[tuple[bool, list[int]]], ins: list[list[Hashable]], outs: list[list[Hashable]],
              graph_outputs: set[Hashable]) -> list[Partition]:
    group_of = {}
    for g, (_, members) in enumerate(groups):
        for i in members:
            group_of[i] = g
    read_outside: dict[Hashable, set[int]] = {}
    for i, values in enumerate(ins):
        for v in values:
            read_outside.setdefault(v, set()).add(group_of[i])
    result = []
    for g, (kind, members) in enumerate(groups):
        produced: dict[Hashable, None] = {}
        for i in members:
            for v in outs[i]:
                produced[v] = None
        inputs: dict[Hashable, None] = {}
        for i in members:
            for v in ins[i]:
                if v not in produced:
                    inputs[v] = None
        outputs = tuple(v for v in produced
                        if v in graph_outputs or read_outside.get(v, set()) - {g})
        result.append(Partition(g, kind, tuple(members), tuple(inputs), outputs))
    return result
