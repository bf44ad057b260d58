"""No crash, no leak: many sessions, bad models, bad inputs, and a failing partition.

Each scenario runs in a fresh interpreter: if ORT or the shim aborted, pytest would
see a dead subprocess (and its output), not die itself.
"""

from __future__ import annotations

import json

from ._util import run_python

PRELUDE = """
import gc, json, os, numpy as np, onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper
from webnn.integrations import onnx as webnn_ort
ort.register_execution_provider_library("webnn", webnn_ort.get_library_path())
DEVS = [d for d in ort.get_ep_devices() if d.ep_name == webnn_ort.get_ep_name()]

def session(data, **opts):
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.add_provider_for_devices(DEVS[:1], {"cache": "0", **opts})
    return ort.InferenceSession(data, sess_options=so)

def small_model():
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"), helper.make_node("Relu", ["y"], ["r"]),
             helper.make_node("TopK", ["r", "k"], ["v", "i"], axis=1), helper.make_node("Sigmoid", ["v"], ["s"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, 2])],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.array([2], np.int64), "k")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()

def rss_kb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

def fds():
    return len(os.listdir("/proc/self/fd"))
"""


def test_500_create_run_destroy_cycles_do_not_grow_memory_or_fds(tmp_path):
    proc = run_python(PRELUDE + f"""
data = small_model()
x = np.ones((2, 4), np.float32)
want = None
def cycle():
    global want
    s = session(data, cache="1", cacheDir={str(tmp_path)!r})
    out = s.run(None, {{"x": x}})[0]
    want = out if want is None else want
    assert np.array_equal(out, want)
    del s
for _ in range(50):
    cycle()
gc.collect()
r0, f0 = rss_kb(), fds()
for _ in range(450):
    cycle()
gc.collect()
print(json.dumps({{"rss_growth_kb": rss_kb() - r0, "fd_growth": fds() - f0, "rss_kb": rss_kb()}}))
""", timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    print("500 cycles:", stats)
    assert stats["fd_growth"] <= 0, stats
    assert stats["rss_growth_kb"] < 40_000, stats


def test_bad_model_bad_input_and_failing_partition_are_ort_errors_and_the_process_lives():
    proc = run_python(PRELUDE + """
results = {}
def expect_error(name, fn):
    try:
        fn()
        results[name] = "no error"
    except Exception as exc:
        results[name] = f"{type(exc).__name__}: {exc}"

# 1. a bad model: a node reads a value nothing produces
bad = helper.make_graph([helper.make_node("Relu", ["nope"], ["y"])], "bad",
                        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
expect_error("bad_model", lambda: session(helper.make_model(bad).SerializeToString()))
expect_error("garbage_bytes", lambda: session(b"this is not an onnx model"))

# 2. bad inputs
s = session(small_model())
expect_error("wrong_dtype", lambda: s.run(None, {"x": np.ones((2, 4), np.float64)}))
expect_error("wrong_shape", lambda: s.run(None, {"x": np.ones((3, 4), np.float32)}))
expect_error("missing_input", lambda: s.run(None, {}))

# 3. an exception inside a WebNN partition: integer division by zero raises in the backend
div = helper.make_graph([helper.make_node("Div", ["a", "b"], ["c"], name="div"),
                         helper.make_node("Abs", ["c"], ["d"], name="abs")], "div",
                        [helper.make_tensor_value_info("a", TensorProto.INT32, [3]),
                         helper.make_tensor_value_info("b", TensorProto.INT32, [3])],
                        [helper.make_tensor_value_info("d", TensorProto.INT32, [3])])
sd = session(helper.make_model(div, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
a = np.array([6, -4, 9], np.int32)
expect_error("partition_raises", lambda: sd.run(None, {"a": a, "b": np.array([2, 0, 3], np.int32)}))
results["after_error"] = sd.run(None, {"a": a, "b": np.array([2, 2, 3], np.int32)})[0].tolist()
results["small_model_still_runs"] = s.run(None, {"x": np.ones((2, 4), np.float32)})[0].shape
print(json.dumps(results))
""", timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("bad_model", "garbage_bytes", "wrong_dtype", "wrong_shape", "missing_input", "partition_raises"):
        assert r[key] != "no error", (key, r)
    assert "INVALID_ARGUMENT" in r["wrong_dtype"] and "INVALID_ARGUMENT" in r["wrong_shape"]
    assert "WebNNExecutionProvider Compute: OperationError" in r["partition_raises"], r["partition_raises"]
    assert "ZeroDivisionError" in r["partition_raises"]
    assert r["after_error"] == [3, 2, 3]
    assert r["small_model_still_runs"] == [2, 2]
