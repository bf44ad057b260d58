"""Dead-code removal and constant folding (the fusion rules have their own tests)."""

from __future__ import annotations

import numpy as np
import pytest

import webnn
from webnn import MLGraphBuilder
from webnn.graph import Graph, Node
from webnn.operand import MLOperandDescriptor
from webnn.passes.constant_folding import ConstantFolding
from webnn.passes.dce import DeadCodeElimination
from webnn.passes.infra import check_invariants


@pytest.fixture
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def test_dead_nodes_and_constants_are_removed(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [3]})
    unused = b.exp(b.add(x, b.constant(np.ones(3, np.float32))))  # noqa: F841
    y = b.neg(x)
    g = b.build({"y": y})
    assert [n.op for n in g.ir.nodes] == ["neg"]
    assert not g.ir.constants


def test_constant_subgraphs_fold_to_one_constant(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [3]})
    c = b.exp(b.add(b.constant(np.zeros(3, np.float32)), b.constant(np.ones(3, np.float32))))
    g = b.build({"y": b.mul(x, c)})
    assert [n.op for n in g.ir.nodes] == ["mul"]
    (folded,) = [a for a in g.ir.constants.values()]
    np.testing.assert_allclose(folded, np.full(3, np.e, np.float32), rtol=1e-6)
    out = ctx.compute(g, {"x": np.array([1, 2, 3], np.float32)})["y"]
    np.testing.assert_allclose(out, np.array([1, 2, 3]) * np.e, rtol=1e-6)


def test_fully_constant_graph_output(ctx):
    b = MLGraphBuilder(ctx)
    b.input("x", {"dataType": "int32", "shape": [2]})
    c = b.add(b.constant(np.array([1, 2], np.int32)), b.constant(np.array([3, 4], np.int32)))
    g = b.build({"y": c})
    assert not g.ir.nodes
    out = ctx.compute(g, {"x": np.zeros(2, np.int32)})["y"]
    out[0] = 99
    np.testing.assert_array_equal(ctx.compute(g, {"x": np.zeros(2, np.int32)})["y"], [4, 6])


def test_invariant_check_catches_a_broken_pass():
    d = MLOperandDescriptor("float32", (1,))
    g = Graph(descs={0: d, 1: d}, inputs={"x": 0}, outputs={"y": 1},
              nodes=[Node("neg", [5], [1])])
    with pytest.raises(AssertionError, match="reads operand 5"):
        check_invariants(g, "test")


def test_passes_report_whether_they_changed_anything(ctx):
    d = MLOperandDescriptor("float32", (1,))
    g = Graph(descs={0: d, 1: d}, inputs={"x": 0}, outputs={"y": 1}, nodes=[Node("neg", [0], [1])])
    assert DeadCodeElimination()(g).modified is False
    assert ConstantFolding(ctx._backend)(g).modified is False
