"""The graph cache through the ONNX provider: hits across sessions and processes, keys, quota."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from onnx import helper
from webnn.integrations.onnx import CPU, PROVIDER, InferenceSession

import webnn

from ._util import Const, assert_same, f32, model_of, ort_run

if not hasattr(webnn.MLContext, "cache_enabled"):
    pytest.skip("the graph cache (MLContext.cache_enabled) is not available yet", allow_module_level=True)


def small_model(weight_seed: int = 0):
    rng = np.random.default_rng(weight_seed)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="matmul"),
             helper.make_node("Relu", ["m"], ["y"], name="relu")]
    return model_of(nodes, {"x": f32(2, 4), "w": Const(w)}, ["y"])


def session(model, cache_dir, **options):
    return InferenceSession(model.SerializeToString(),
                            providers=[(PROVIDER, {"cacheDir": str(cache_dir), **options}), CPU])


def cache_states(sess):
    return {p["cache"] for p in sess.placement() if p["provider"] == PROVIDER}


def test_second_session_loads_the_compiled_partition(tmp_path):
    model = small_model()
    x = f32(2, 4)
    first = session(model, tmp_path)
    ref = ort_run(model, {"x": x})
    assert_same(first.run(None, {"x": x}), ref)
    assert cache_states(first) == {"miss, saved"}
    second = session(model, tmp_path)
    assert_same(second.run(None, {"x": x}), ref)
    assert cache_states(second) == {"hit"}


def test_another_process_hits_the_cache(tmp_path):
    model = small_model()
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    session(model, tmp_path / "cache").run(None, {"x": f32(2, 4)})
    cache = str(tmp_path / "cache")
    script = textwrap.dedent(f"""
        import json, numpy as np
        from webnn.integrations.onnx import InferenceSession
        s = InferenceSession({str(path)!r}, providers=[("WebNNExecutionProvider", {{"cacheDir": {cache!r}}})])
        s.run(None, {{"x": np.ones((2, 4), np.float32)}})
        print(json.dumps(sorted({{p["cache"] for p in s.placement()}})))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["hit"]


def test_other_weights_or_shapes_miss(tmp_path):
    session(small_model(0), tmp_path).run(None, {"x": f32(2, 4)})
    other = session(small_model(1), tmp_path)
    other.run(None, {"x": f32(2, 4)})
    assert cache_states(other) == {"miss, saved"}


def test_cache_key_override_replaces_the_model_digest(tmp_path):
    a = session(small_model(0), tmp_path, cacheKey="my-model-v1")
    a.run(None, {"x": f32(2, 4)})
    b = session(small_model(0), tmp_path, cacheKey="my-model-v1")
    b.run(None, {"x": f32(2, 4)})
    assert cache_states(b) == {"hit"}


def test_cache_off(tmp_path):
    sess = session(small_model(), tmp_path, cache="0")
    sess.run(None, {"x": f32(2, 4)})
    assert cache_states(sess) == {"off"}


def test_quota_exceeded_warns_and_keeps_running(tmp_path):
    context = webnn.ml.create_context("cpu", cache_dir=str(tmp_path), cache_quota=16)
    model = small_model()
    sess = InferenceSession(model.SerializeToString(), providers=[(PROVIDER, {"context": context}), CPU])
    x = f32(2, 4)
    with pytest.warns(RuntimeWarning, match="not cached"):
        out = sess.run(None, {"x": x})
    assert_same(out, ort_run(model, {"x": x}))
    [state] = cache_states(sess)
    assert state.startswith("miss, not saved")
