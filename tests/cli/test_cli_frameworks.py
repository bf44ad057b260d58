"""The TFLite and torch paths, the embedded sample (the README's main job) and ``ops``.

These subprocesses import TensorFlow or torch.compile, which takes seconds each, so
each path is run once and checked from every side.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ._util import run_cli

SVG = "{http://www.w3.org/2000/svg}"


def test_tflite_inspect_then_run_agree_and_share_the_cache(tflite_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    svg = tmp_path / "t.svg"
    ins = run_cli("inspect", str(tflite_file), "--svg", str(svg), "--json", cache_dir=cache)
    assert ins.rc == 0, ins.stderr
    place = ins.json["placement"]
    assert ins.json["framework"] == "tflite" and ins.json["ran"] is False
    host = [n for n in place["nodes"] if n["where"] == "host"]
    assert [n["op"] for n in host] == ["FLOOR_MOD"] and "FLOOR_MOD" in host[0]["reason"]
    assert place["summary"]["webnn_nodes"] >= 4 and place["summary"]["webnn_partitions"] == 2
    assert {p["cache"] for p in place["partitions"]} == {"miss"}
    root = ET.parse(svg).getroot()
    drawn = {g.get("data-node"): g.get("data-where") for g in root.iter(f"{SVG}g") if g.get("data-kind") == "node"}
    assert drawn == {str(n["index"]): n["where"] for n in place["nodes"]}

    r = run_cli("run", str(tflite_file), "--json", cache_dir=cache)
    assert r.rc == 0, r.stderr
    doc = r.json
    assert {(n["index"], n["where"], n["partition"]) for n in doc["placement"]["nodes"]} == \
        {(n["index"], n["where"], n["partition"]) for n in place["nodes"]}
    assert doc["time_to_first_result"]["cache"] == "cache hit"  # compiled by inspect above
    (out,) = doc["outputs"]
    assert out["shape"] == [1, 8, 8, 4] and out["vs_host"]["match"], out


def test_pt2_run(pt2_file: Path, tmp_path: Path) -> None:
    r = run_cli("run", str(pt2_file), "--json", cache_dir=tmp_path / "cache")
    assert r.rc == 0, r.stderr
    doc = r.json
    assert doc["framework"] == "torch" and doc["inputs"][0]["shape"] == [1, 2, 5, 5]
    place = doc["placement"]
    assert place["per_node"] is False
    assert "aten.cummax" in {row["op"] for row in place["by_op"] if row["host"]}
    assert place["summary"]["webnn_nodes"] >= 2 and place["summary"]["webnn_partitions"] >= 1
    (out,) = doc["outputs"]
    assert out["shape"] == [1, 75] and out["vs_host"]["match"], out


def test_pt2_inspect_explains_why_there_is_no_picture(pt2_file: Path, tmp_path: Path) -> None:
    r = run_cli("inspect", str(pt2_file), "--svg", str(tmp_path / "x.svg"), cache_dir=tmp_path / "cache")
    assert r.rc == 1
    assert r.error_lines()[-1].startswith("webnn inspect: error: --svg: no per-node placement")
    assert not (tmp_path / "x.svg").exists()


def test_embedded_sample_main_job(tmp_path: Path) -> None:
    """`webnn run` with no model: all three integrations, placement, outputs, cold vs warm."""
    r = run_cli("run", "--json", cache_dir=tmp_path / "cache")
    assert r.rc == 0, r.stderr
    doc = r.json
    assert doc["origin"] == "webnn-sample" and doc["cache_dir"] == str(tmp_path / "cache")
    ran = {x["framework"]: x for x in doc["runs"]}
    expected = {"onnx", "torch"} | ({"tflite"} if not doc["skipped"] else set())
    assert set(ran) == expected and not doc["failed"]
    for fw, result in ran.items():
        t = result["time_to_first_result"]
        assert t["cold"] > 0 and t["warm"] > 0, fw
        assert t["cold_cache"].startswith("cache miss"), (fw, t)
        assert t["warm_cache"] == "cache hit", (fw, t)
        assert result["warm_outputs_match_cold"], fw
        summary = result["placement"]["summary"]
        assert summary["host_nodes"] == 1 and summary["webnn_partitions"] == 1, (fw, summary)
        host_ops = [row["op"] for row in result["placement"]["by_op"] if row["host"]]
        assert host_ops == [{"onnx": "TopK", "tflite": "TOPK_V2", "torch": "aten.topk"}[fw]]
        outs = {o["name"]: o for o in result["outputs"]}
        assert set(outs) == {"probs", "top_values", "top_indices"}, fw
        assert all(o["vs_host"]["match"] for o in outs.values()), (fw, outs)
        assert outs["probs"]["shape"] == [1, 10] and outs["probs"]["mean"] == pytest.approx(0.1, abs=1e-6)
    listed = run_cli("cache", "list", "--origin", "webnn-sample", "--json", cache_dir=tmp_path / "cache")
    prefixes = {e["key"].split("-")[0] for e in listed.json["entries"]}
    assert prefixes == expected


def test_ops_json(tmp_path: Path) -> None:
    r = run_cli("ops", "--format", "json", "--framework", "onnx", "--framework", "torch", cache_dir=tmp_path)
    assert r.rc == 0, r.stderr
    doc = r.json
    assert doc["device"] == "cpu"
    conv = doc["webnn_ops"]["conv2d"]
    assert "float32" in conv["input"]["data_types"] and conv["input"]["rank_range"] == {"min": 4, "max": 4}
    assert doc["limits"]["preferred_input_layout"] in ("nchw", "nhwc")
    onnx_ops = doc["frameworks"]["onnx"]["ops"]
    assert "conv2d" in onnx_ops["Conv"] and "TopK" not in onnx_ops
    torch_ops = doc["frameworks"]["torch"]["ops"]
    assert "aten.convolution.default" in torch_ops and "aten.topk.default" not in torch_ops
    assert set(doc["frameworks"]) == {"onnx", "torch"}
