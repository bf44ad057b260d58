"""In-process tests of the command line's pure parts: input files, output comparison,
placement normalisation, the SVG layout and the HTML/plot documents. Cheap, so the
edge cases live here and the subprocess tests stay few."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from webnn.cli._errors import CLIError
from webnn.cli._graph import GraphNode, GraphView
from webnn.cli._html import render_html
from webnn.cli._placement import cache_outcome, from_onnx, from_tflite, from_torch
from webnn.cli._plot import svg_chart
from webnn.cli._svg import NODE_H, layout, render_svg
from webnn.cli._tensors import TensorSpec, compare, load_feeds, parse_input_args

SVG = "{http://www.w3.org/2000/svg}"


# -- inputs ---------------------------------------------------------------------------------------
def test_load_feeds_by_name_position_and_random(tmp_path: Path) -> None:
    specs = [TensorSpec("a", np.dtype("float32"), (1, 3), (0,)), TensorSpec("b", np.dtype("int64"), (2,))]
    a = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "a.npy", a)
    feeds, sources = load_feeds(specs, {"0": str(tmp_path / "a.npy")}, seed=3)
    np.testing.assert_array_equal(feeds["a"], a)  # the open axis 0 takes any size
    assert feeds["b"].dtype == np.int64 and feeds["b"].shape == (2,) and sources["b"] == "random (seed 3)"
    again, _ = load_feeds(specs, {}, seed=3)
    np.testing.assert_array_equal(again["b"], feeds["b"])


@pytest.mark.parametrize("setup, fragment", [
    (lambda p: None, "no such file"),
    (lambda p: np.save(p, np.zeros((1, 3), np.float64)), "is float64, the model wants float32"),
    (lambda p: np.save(p, np.zeros((1, 4), np.float32)), "has shape [1, 4]"),
    (lambda p: np.savez(p, a=np.zeros(2)), "holds several arrays"),
    (lambda p: np.save(p, np.array([object()], dtype=object), allow_pickle=True), "not a readable .npy file"),
])
def test_bad_input_file(tmp_path: Path, setup, fragment: str) -> None:  # noqa: ANN001
    path = tmp_path / "x.npy"
    setup(path)
    if path.with_suffix(".npy.npz").exists():
        path.with_suffix(".npy.npz").rename(path)
    with pytest.raises(CLIError) as err:
        load_feeds([TensorSpec("x", np.dtype("float32"), (1, 3))], {"x": str(path)}, seed=0)
    assert fragment in str(err.value)


def test_parse_input_args() -> None:
    assert parse_input_args(["a=x.npy", "b=y=z.npy"]) == {"a": "x.npy", "b": "y=z.npy"}
    for bad in (["a"], ["=x.npy"], ["a="], ["a=1.npy", "a=2.npy"]):
        with pytest.raises(CLIError):
            parse_input_args(bad)


def test_compare() -> None:
    a = np.array([1.0, np.nan, 3.0], np.float32)
    assert compare(a, a.copy()) == {"match": True, "max_abs_diff": 0.0}
    assert compare(a, a + 1)["match"] is False
    assert compare(np.array([1, 2]), np.array([1, 3])) == {"match": False, "mismatches": 1}
    assert compare(np.zeros(2), np.zeros(3))["match"] is False


# -- placement ------------------------------------------------------------------------------------
def test_from_onnx_renumbers_webnn_partitions() -> None:
    rows = [
        {"index": 0, "node": "a", "op_type": "Relu", "provider": "WebNNExecutionProvider", "partition": 0,
         "reason": None, "cache": "hit"},
        {"index": 1, "node": "b", "op_type": "Mod", "provider": "CPUExecutionProvider", "partition": 1,
         "reason": "no WebNN converter for Mod", "cache": None},
        {"index": 2, "node": "c", "op_type": "Tanh", "provider": "WebNNExecutionProvider", "partition": 2,
         "reason": None, "cache": "miss, saved"},
        {"index": 3, "node": "d", "op_type": "Shape", "provider": "folded", "partition": None,
         "reason": "constant", "cache": None},
    ]
    place = from_onnx(rows, "cpu", "WebNNExecutionProvider")
    assert [n.partition for n in place.nodes] == [0, None, 1, None]
    assert [p.id for p in place.partitions] == [0, 1] and place.cache_counts() == {"hit": 1, "miss": 1}
    assert (place.webnn_nodes, place.host_nodes, place.folded_nodes) == (2, 1, 1)
    assert place.by_op()[0] == {"op": "Mod", "webnn": 0, "host": 1, "folded": 0,
                                "reasons": {"no WebNN converter for Mod": 1}}
    assert place.headline() == "2/4 nodes on WebNN in 2 partitions, 1 on ONNX Runtime, 1 folded into constants"


def test_from_tflite_maps_partition_cache_by_node() -> None:
    info = SimpleNamespace(nodes=(0, 1), cache="hit", key="k")
    rep = SimpleNamespace(subgraph=0, refused=None, partitions=[info], nodes=[
        SimpleNamespace(index=0, op="ADD", where="webnn", reason=None, partition=0),
        SimpleNamespace(index=1, op="MUL", where="webnn", reason=None, partition=0),
        SimpleNamespace(index=2, op="FLOOR_MOD", where="tflite", reason="no converter for FLOOR_MOD", partition=None)])
    place = from_tflite([rep], "cpu")
    assert [(n.where, n.partition, n.cache) for n in place.nodes] == [("webnn", 0, "hit"), ("webnn", 0, "hit"),
                                                                     ("host", None, None)]
    assert place.partitions[0].ops == {"ADD": 1, "MUL": 1} and place.partitions[0].key == "k"
    refused = SimpleNamespace(subgraph=0, refused="unknown layout", partitions=[], nodes=[])
    place = from_tflite([refused], "cpu", op_count=3)
    assert place.host_nodes == 3 and "unknown layout" in place.notes[0]


def test_from_torch_sums_reports() -> None:
    part = SimpleNamespace(aten_nodes=5, cache="hit", webnn_ops={"conv2d": 1}, key="t")
    reps = [SimpleNamespace(path="aot", graph_id=0, webnn_nodes=5, torch_nodes=2, partitions=[part],
                            fallbacks={"aten.topk": {"no converter": 2}}),
            SimpleNamespace(path="specializing", graph_id=1, webnn_nodes=0, torch_nodes=0, partitions=[],
                            fallbacks={})]
    place = from_torch(reps, "cpu")
    assert (place.webnn_nodes, place.host_nodes, len(place.partitions)) == (5, 2, 1)
    assert place.by_op() == [{"op": "aten.topk", "webnn": 0, "host": 2, "folded": 0,
                              "reasons": {"no converter": 2}}]


def test_cache_outcome_words() -> None:
    assert [cache_outcome(w) for w in ("hit", "memory", "miss, saved", "unsaved", "off", None, "pending")] == \
        ["hit", "hit", "miss", "miss", "off", "off", "other"]


# -- pictures -------------------------------------------------------------------------------------
def _diamond() -> tuple[GraphView, object]:
    """in -> a -> (b, c) -> d -> out, with a long edge a -> d and a constant-only source e -> d."""
    nodes = [GraphNode(0, "a", "Relu", ["x"], ["ta"]), GraphNode(1, "b", "Mod", ["ta"], ["tb"]),
             GraphNode(2, "c", "Tanh", ["ta"], ["tc"]), GraphNode(3, "e", "ConstantOfShape", ["shape"], ["te"]),
             GraphNode(4, "d", "Sum", ["tb", "tc", "ta", "te"], ["y"])]
    graph = GraphView(nodes, ["x"], ["y"]).without_constants()
    rows = [{"index": i, "node": n.name, "op_type": n.op, "partition": 0 if i != 1 else 1, "reason": None,
             "provider": "CPUExecutionProvider" if i == 1 else "WebNNExecutionProvider", "cache": "hit"}
            for i, n in enumerate(nodes)]
    return graph, from_onnx(rows, "cpu", "WebNNExecutionProvider")


def test_layout_layers_and_no_overlap() -> None:
    graph, place = _diamond()
    assert graph.nodes[3].inputs == []  # "shape" is a constant: not an edge
    verts, paths, width, height = layout(graph, place)
    layer = {k: v.layer for k, v in verts.items()}
    assert layer["in:x"] < layer["n:0"] < layer["n:1"] < layer["n:4"] < layer["out:y"]
    assert layer["n:3"] == layer["n:4"] - 1  # a source sits right above its reader
    assert any(len(chain) > 2 for chain, _ in paths)  # the long edge a -> d goes through a dummy point
    boxes = [(v.x - v.width / 2, v.x + v.width / 2, v.y) for v in verts.values()]
    for i, (l1, r1, y1) in enumerate(boxes):
        for l2, r2, y2 in boxes[i + 1:]:
            if abs(y1 - y2) < NODE_H:
                assert r1 <= l2 or r2 <= l1
    assert all(0 <= v.x - v.width / 2 and v.x + v.width / 2 <= width for v in verts.values())
    assert all(0 < v.y < height for v in verts.values())


def test_svg_and_html_are_well_formed_and_escaped() -> None:
    graph, place = _diamond()
    place.nodes[1].reason = 'needs <int> & "quotes"'
    svg = render_svg(graph, place, "model <x> & co")
    root = ET.fromstring(svg)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "node"]
    assert [g.get("data-where") for g in nodes] == ["webnn", "host", "webnn", "webnn", "webnn"]
    titles = "".join(g.find(f"{SVG}title").text for g in nodes)
    assert 'needs <int> & "quotes"' in titles
    html = render_html(place, graph, "model <x>", {"model": "a & b"})
    hroot = ET.fromstring(html)
    assert "a & b" in "".join(hroot.itertext())
    no_picture = ET.fromstring(render_html(place, None, "t", {}))
    assert not any(el.tag == f"{SVG}svg" for el in no_picture.iter())


def test_bench_chart_is_well_formed() -> None:
    r = {"framework": "onnx", "model": "m <1>.onnx",
         "host": {"median": 0.001, "time_to_first_result": 0.1},
         "webnn": {"median": 0.002, "time_to_first_result": 0.3}}
    root = ET.fromstring(svg_chart([r, r]))
    bars = [e for e in root.iter(f"{SVG}rect") if e.find(f"{SVG}title") is not None]
    assert len(bars) == 8
