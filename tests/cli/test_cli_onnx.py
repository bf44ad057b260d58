"""run, inspect, bench and cache on a real ONNX file (made with onnx.helper in conftest).

The steps that share a cache directory live in one test (pytest-xdist may put tests
of one module on different workers): ``inspect`` fills it, ``run`` reads and extends
it, so the two are checked against each other and every cache outcome is known.
Expected values come from numpy (the model written out by hand) and from the SVG
itself, never from the CLI's own reporting alone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from ._util import onnx_reference, run_cli

SVG = "{http://www.w3.org/2000/svg}"


def _inspect(onnx_file: Path, work: Path) -> dict:
    r = run_cli("inspect", str(onnx_file), "--svg", str(work / "g.svg"), "--html", str(work / "r.html"),
                "--json", cache_dir=work / "cache")
    assert r.rc == 0, r.stderr
    return r.json


def _check_inspect_placement(inspected: dict) -> None:
    place = inspected["placement"]
    assert inspected["ran"] is False
    assert place["summary"]["webnn_nodes"] == 4 and place["summary"]["host_nodes"] == 1
    assert place["summary"]["webnn_partitions"] == 2
    by_name = {n["name"]: n for n in place["nodes"]}
    assert by_name["mod"]["where"] == "host" and "Mod" in by_name["mod"]["reason"]
    assert {by_name[n]["partition"] for n in ("matmul", "relu", "sigmoid")} == {by_name["matmul"]["partition"]}
    assert by_name["tanh"]["partition"] != by_name["matmul"]["partition"]
    assert inspected["inputs"][0]["declared"] == "float32[?, 6]"  # N is open and fed as 1
    assert inspected["inputs"][0]["shape"] == [1, 6]


def _check_svg(inspected: dict, path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    drawn = {g.get("data-node"): g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "node"}
    nodes = inspected["placement"]["nodes"]
    assert set(drawn) == {str(n["index"]) for n in nodes}
    for n in nodes:
        g = drawn[str(n["index"])]
        assert g.get("data-where") == n["where"]
        assert g.get("data-partition") == (str(n["partition"]) if n["partition"] is not None else None)
        assert n["op"] in "".join(g.itertext())
    io = [g for g in root.iter(f"{SVG}g") if g.get("data-kind") in ("input", "output")]
    assert {f"{g.get('data-kind')}:{g.find(f'{SVG}text').text}" for g in io} == {"input:x", "output:y", "output:z"}
    assert len(list(root.iter(f"{SVG}path"))) >= 6  # 5 data edges + the arrow marker


def _check_html(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/1999/xhtml}html"
    assert "no WebNN converter for Mod" in "".join(root.itertext())
    assert any(el.tag == f"{SVG}svg" for el in root.iter())
    assert len(list(root.iter("{http://www.w3.org/1999/xhtml}tr"))) > 5


def _check_run(x: np.ndarray, doc: dict, inspected: dict) -> None:
    ref = onnx_reference(x)
    outs = {o["name"]: o for o in doc["outputs"]}
    assert set(outs) == {"y", "z"}
    for name, want in ref.items():
        o = outs[name]
        assert o["dtype"] == "float32" and o["shape"] == [3, 5]
        assert o["min"] == pytest.approx(float(want.min()), abs=1e-5)
        assert o["max"] == pytest.approx(float(want.max()), abs=1e-5)
        assert o["mean"] == pytest.approx(float(want.mean()), abs=1e-5)
        assert o["vs_host"]["match"] and o["vs_host"]["max_abs_diff"] < 1e-5
    assert doc["inputs"][0]["source"].endswith("x.npy") and doc["inputs"][0]["shape"] == [3, 6]
    run_nodes = {(n["index"], n["where"], n["partition"]) for n in doc["placement"]["nodes"]}
    inspect_nodes = {(n["index"], n["where"], n["partition"]) for n in inspected["placement"]["nodes"]}
    assert run_nodes == inspect_nodes
    # inspect compiled for batch 1; this run feeds batch 3: a new signature, so misses that are saved
    assert doc["time_to_first_result"]["seconds"] > 0
    assert doc["time_to_first_result"]["cache"] == "cache miss: converted, compiled, saved"
    assert doc["cache_counters"]["saves"] == 2


def test_inspect_picture_run_and_cache_agree(onnx_file: Path, tmp_path: Path) -> None:
    """inspect (picture + tables) -> run with a real input (numpy reference) -> run again
    (cache hit) -> cache list / info / delete / clear, all on one cache directory."""
    inspected = _inspect(onnx_file, tmp_path)
    _check_inspect_placement(inspected)
    _check_svg(inspected, tmp_path / "g.svg")
    _check_html(tmp_path / "r.html")

    cache = tmp_path / "cache"
    x = np.random.default_rng(5).standard_normal((3, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    first = run_cli("run", str(onnx_file), "--input", f"x={tmp_path / 'x.npy'}", "--json", cache_dir=cache)
    assert first.rc == 0, first.stderr
    _check_run(x, first.json, inspected)

    second = run_cli("run", str(onnx_file), "--input", f"x={tmp_path / 'x.npy'}", "--json", cache_dir=cache)
    assert second.rc == 0, second.stderr
    doc = second.json
    assert doc["time_to_first_result"]["cache"] == "cache hit"
    assert doc["cache_counters"]["hits"] == 2 and doc["cache_counters"]["misses"] == 0
    assert {p["cache"] for p in doc["placement"]["partitions"]} == {"hit"}

    listed = run_cli("cache", "list", "--json", cache_dir=cache)
    assert listed.rc == 0, listed.stderr
    entries = listed.json["entries"]
    assert len(entries) == 4  # two partitions x two input signatures
    assert all(e["key"].startswith("onnx-") and e["device"] == "cpu" and e["visible"] for e in entries)
    info = run_cli("cache", "info", "--json", cache_dir=cache)
    assert info.rc == 0 and info.json["entries"] == 4
    assert info.json["counters"]["saves"] == 4 and info.json["counters"]["hits"] == 2
    deleted = run_cli("cache", "delete", entries[0]["key"], "--json", cache_dir=cache)
    assert deleted.rc == 0 and deleted.json["deleted"] is True
    cleared = run_cli("cache", "clear", cache_dir=cache)
    assert cleared.rc == 0 and "deleted 3 entries" in cleared.stdout
    assert run_cli("cache", "list", "--json", cache_dir=cache).json["entries"] == []


def test_run_human_output(onnx_file: Path, tmp_path: Path) -> None:
    r = run_cli("run", str(onnx_file), "--no-cache", cache_dir=tmp_path)
    assert r.rc == 0, r.stderr
    out = r.stdout
    assert "placement: 4/5 nodes on WebNN in 2 partitions, 1 on ONNX Runtime" in out
    assert "Mod" in out and "no WebNN converter for Mod" in out
    assert "time to first result" in out and "cache off" in out
    assert "vs ONNX Runtime" in out


def test_bench_json_and_plot(onnx_file: Path, tmp_path: Path) -> None:
    r = run_cli("bench", str(onnx_file), "--runs", "3", "--json", "--plot", str(tmp_path / "b.svg"),
                cache_dir=tmp_path / "cache")
    assert r.rc == 0, r.stderr
    (res,) = r.json["results"]
    for path in ("host", "webnn"):
        m = res[path]
        assert m["time_to_first_result"] > 0 and 0 < m["min"] <= m["median"] <= m["p90"]
    assert res["speedup"]["latency"] == pytest.approx(res["host"]["median"] / res["webnn"]["median"])
    assert res["placement_summary"]["webnn_nodes"] == 4
    root = ET.parse(tmp_path / "b.svg").getroot()
    assert len([e for e in root.iter(f"{SVG}rect")]) >= 4
