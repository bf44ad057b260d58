"""A second process on the same model loads the compiled partitions from the graph cache."""

from __future__ import annotations

import json

import pytest

from webnn import ml

from ._util import run_python

SCRIPT = """
import json, time, numpy as np, onnxruntime as ort
from webnn.integrations import onnx as webnn_ort
from webnn.integrations.onnx.plugin import report
from tests.integrations.onnx_plugin import models
ort.register_execution_provider_library("webnn", webnn_ort.get_library_path())
devs = [d for d in ort.get_ep_devices() if d.ep_name == webnn_ort.get_ep_name()]
data = models.resnet_block_model(batch=1)
so = ort.SessionOptions()
so.add_provider_for_devices(devs[:1], {"cacheDir": CACHE_DIR})
t0 = time.perf_counter()
s = ort.InferenceSession(data, sess_options=so)
x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
out = s.run(None, {"x": x})[0]
first = time.perf_counter() - t0
rep = report.lookup({"/stem/stem.0/Conv"}) or list(report._reports.values())[-1]
print(json.dumps({"cache": [list(p["cache"].values()) for p in rep.partitions()], "first_s": first,
                  "sum": float(out.sum())}))
"""


@pytest.mark.skipif(not hasattr(ml.create_context("cpu", cache=False), "cache_enabled"),
                    reason="this webnn has no graph cache (context.cache_enabled)")
def test_second_process_reuses_the_cache(tmp_path):
    code = SCRIPT.replace("CACHE_DIR", repr(str(tmp_path)))
    runs = []
    for _ in range(2):
        proc = run_python(code, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    print("cold", cold, "warm", warm)
    assert cold["cache"] and all(s.startswith("miss") and "saved" in s for p in cold["cache"] for s in p)
    assert all(s == "hit" for p in warm["cache"] for s in p)
    assert warm["sum"] == pytest.approx(cold["sum"], rel=1e-6)


@pytest.mark.parametrize("name", ["light_squeezenet", "light_resnet50"])
def test_a_static_model_is_built_and_saved_once_per_partition(tmp_path, name):
    """GetCapability builds the graph of a static-shape group; Compile must hand that same
    graph to the kernel (ORT numbers the nodes it fused out of order) rather than the first
    run converting, compiling and saving the partition a second time under another key."""
    from webnn.integrations.onnx.plugin import report

    from . import models
    from ._util import plugin_session

    found = models.light_model(name)
    if found is None:
        pytest.skip(f"this onnx wheel does not ship {name}.onnx")
    model, feeds = found
    sess = plugin_session(model.SerializeToString(), {"cache": "1", "cacheDir": str(tmp_path)})
    sess.run(None, feeds)
    rep = list(report._reports.values())[-1]
    partitions = rep.partitions()
    assert partitions and all(p["calls"] == 1 and not p["fallbacks"] for p in partitions)
    assert all(callable(kernel._gm) for _, kernel in rep.kernels)  # nor was the group's model rebuilt
    assert [len(p["cache"]) for p in partitions] == [1] * len(partitions)
    assert len(list(tmp_path.rglob("*.wnnb"))) == len(partitions)  # one entry each, saved once
