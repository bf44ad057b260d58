"""webnn.partition: convex, maximal, executable partitions of a node list by support."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

import pytest

from webnn.partition import Partition, is_convex, partition_graph


@dataclass
class N:
    name: str
    ins: tuple[str, ...]
    ok: bool

    @property
    def outs(self) -> tuple[str, ...]:
        return (self.name,)


def run(nodes, graph_outputs=(), min_size=1) -> list[Partition]:
    return partition_graph(nodes, inputs_of=lambda n: n.ins, outputs_of=lambda n: n.outs,
                           is_supported=lambda n: n.ok, graph_outputs=graph_outputs, min_size=min_size)


def names(nodes, parts):
    return [(p.supported, [nodes[i].name for i in p.nodes]) for p in parts]


def test_all_supported_is_one_partition():
    nodes = [N("a", ("x",), True), N("b", ("a",), True), N("c", ("a", "b"), True)]
    parts = run(nodes, graph_outputs=["c"])
    assert names(nodes, parts) == [(True, ["a", "b", "c"])]
    assert parts[0].inputs == ("x",) and parts[0].outputs == ("c",)


def test_nothing_supported_is_one_fallback_partition():
    nodes = [N("a", ("x",), False), N("b", ("a",), False)]
    assert names(nodes, run(nodes, ["b"])) == [(False, ["a", "b"])]


def test_chain_alternates_and_lists_boundary_values():
    nodes = [N("a", ("x",), True), N("u", ("a",), False), N("b", ("u", "a"), True)]
    parts = run(nodes, graph_outputs=["b"])
    assert names(nodes, parts) == [(True, ["a"]), (False, ["u"]), (True, ["b"])]
    assert parts[0].outputs == ("a",)
    assert parts[1].inputs == ("a",) and parts[1].outputs == ("u",)
    assert parts[2].inputs == ("u", "a") and parts[2].outputs == ("b",)


def test_independent_supported_groups_merge_across_a_fallback_branch():
    # a feeds b directly; u (unsupported) feeds c, c feeds b. Kahn's sort alone gives
    # {a} {u} {c, b}; a has no path to c, so {a} and {c, b} merge into one partition.
    nodes = [N("a", ("x",), True), N("u", ("x",), False), N("c", ("u",), True), N("b", ("a", "c"), True)]
    parts = run(nodes, graph_outputs=["b"])
    assert names(nodes, parts) == [(False, ["u"]), (True, ["a", "c", "b"])]


def test_no_merge_through_a_fallback_node():
    nodes = [N("a", ("x",), True), N("u", ("a",), False), N("b", ("a", "u"), True)]
    parts = run(nodes, graph_outputs=["b"])
    assert names(nodes, parts) == [(True, ["a"]), (False, ["u"]), (True, ["b"])]


def test_values_read_twice_or_as_graph_outputs_are_outputs():
    nodes = [N("a", ("x",), True), N("b", ("a",), True), N("u", ("a",), False)]
    parts = run(nodes, graph_outputs=["b", "u"])
    sup = next(p for p in parts if p.supported)
    assert set(sup.outputs) == {"a", "b"}


def test_min_size_gives_small_partitions_back():
    nodes = [N("a", ("x",), True), N("u", ("a",), False), N("b", ("u",), True), N("c", ("b",), True)]
    parts = run(nodes, graph_outputs=["c"], min_size=2)
    assert names(nodes, parts) == [(False, ["a", "u"]), (True, ["b", "c"])]


def test_unordered_or_doubly_produced_values_are_errors():
    with pytest.raises(ValueError, match="topologically ordered"):
        run([N("b", ("a",), True), N("a", ("x",), True)])
    with pytest.raises(ValueError, match="produced by nodes 0 and 1"):
        partition_graph([1, 2], inputs_of=lambda n: (), outputs_of=lambda n: ("v",), is_supported=bool)
    with pytest.raises(ValueError, match="min_size"):
        run([], min_size=0)


def test_empty_graph():
    assert run([]) == []


def _random_dag(rng: random.Random, n: int) -> list[N]:
    nodes = []
    for i in range(n):
        k = rng.randint(0, min(3, i))
        ins = tuple(sorted({f"n{j}" for j in rng.sample(range(i), k)})) if k else ("x",)
        nodes.append(N(f"n{i}", ins, rng.random() < 0.6))
    return nodes


def _group_graph_acyclic(groups: list[set[int]], preds: list[set[int]]) -> bool:
    owner = {i: g for g, members in enumerate(groups) for i in members}
    edges = {(owner[p], owner[i]) for i, ps in enumerate(preds) for p in ps if owner[p] != owner[i]}
    indeg = {g: 0 for g in range(len(groups))}
    for _, b in edges:
        indeg[b] += 1
    ready = [g for g, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        g = ready.pop()
        seen += 1
        for a, b in edges:
            if a == g:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    return seen == len(groups)


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_are_covered_convex_executable_and_maximal(seed):
    rng = random.Random(seed)
    nodes = _random_dag(rng, rng.randint(1, 30))
    index = {n.name: i for i, n in enumerate(nodes)}
    preds = [{index[v] for v in n.ins if v in index} for n in nodes]
    parts = run(nodes, graph_outputs=[nodes[-1].name])
    # Coverage: each node exactly once, kinds respected, nodes ascending.
    assert sorted(i for p in parts for i in p.nodes) == list(range(len(nodes)))
    for p in parts:
        assert list(p.nodes) == sorted(p.nodes)
        assert all(nodes[i].ok == p.supported for i in p.nodes)
        assert is_convex(p.nodes, preds)
    # Executable in the listed order: every input exists when its partition runs.
    available = {"x"}
    for p in parts:
        assert set(p.inputs) <= available
        available.update(nodes[i].name for i in p.nodes)
        assert nodes[-1].name in p.outputs or nodes[-1].name not in {nodes[i].name for i in p.nodes}
    # Maximal: merging any two partitions of one kind would create a cycle.
    groups = [set(p.nodes) for p in parts]
    for a, b in itertools.combinations(range(len(parts)), 2):
        if parts[a].supported != parts[b].supported:
            continue
        merged = [g for k, g in enumerate(groups) if k not in (a, b)] + [groups[a] | groups[b]]
        assert not _group_graph_acyclic(merged, preds), (seed, a, b)


def test_is_convex_detects_a_path_that_leaves_and_returns():
    preds = [set(), {0}, {1}]  # 0 -> 1 -> 2
    assert is_convex([0, 1], preds)
    assert not is_convex([0, 2], preds)
