"""``python -m webnn.cache info|clear`` (the torch-free store tool), run as a program."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import webnn
from tests.cache import graphs


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def filled(make_context, cache_root):
    a = make_context(origin="app-a")
    a.save_graph("model-1", graphs.build(a, 1))
    a.save_graph("model-2", graphs.build(a, 2))
    a.load_graph("model-1")
    with pytest.raises(webnn.NotFoundError):
        a.load_graph("missing")
    b = make_context(origin="app-b")
    b.save_graph("other", graphs.build(b, 3))
    return cache_root


def test_info_json(filled):
    done = _cli("webnn.cache", "info", "--dir", str(filled), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [(e["origin"], e["key"]) for e in data["entries"]] == [
        ("app-b", "other"), ("app-a", "model-1"), ("app-a", "model-2")]  # most recently used first
    assert all(e["device"] == "cpu" and e["size"] > 0 and e["intact"] for e in data["entries"])
    a = data["counters"]["app-a / cpu"]
    assert (a["saves"], a["hits"], a["misses"]) == (2, 1, 1)
    assert a["reasons"]["misses"] == {"missing": 1}


def test_info_table_and_clear(filled):
    done = _cli("webnn.cache", "info", "--dir", str(filled), "--origin", "app-a")
    assert done.returncode == 0, done.stderr
    assert "2 entries" in done.stdout and "model-1" in done.stdout and "other" not in done.stdout
    assert "counters app-a / cpu: hits 1, misses 1, saves 2" in done.stdout
    done = _cli("webnn.cache", "clear", "--dir", str(filled), "--origin", "app-a")
    assert done.returncode == 0 and "deleted 2 entries" in done.stdout
    ctx = webnn.ml.create_context("cpu", cache_dir=filled, origin="app-a")
    assert ctx.list_graphs() == []
    assert webnn.ml.create_context("cpu", cache_dir=filled, origin="app-b").list_graphs() == ["other"]


def test_info_does_not_import_torch(filled):
    code = ("import sys; from webnn.cache.cli import main; main(['info', '--dir', sys.argv[1]]); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(filled)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("False"), done.stdout + done.stderr
