"""The plugin EP loads native code into ORT: before any test does that in the pytest
process, one subprocess proves that registering, creating a session and running it
does not crash; if it does, every test here fails with that process's output."""

from __future__ import annotations

import pytest

from ._util import run_python

SMOKE = """
import numpy as np, onnxruntime as ort
from onnx import helper, TensorProto
from webnn.integrations import onnx as webnn_ort
ort.register_execution_provider_library("webnn", webnn_ort.get_library_path())
node = helper.make_node("Relu", ["x"], ["y"], name="relu")
g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
s = ort.InferenceSession(m.SerializeToString(), providers=[("WebNNExecutionProvider", {"cache": "0"}),
                                                           "CPUExecutionProvider"])
print(s.run(None, {"x": np.array([-1, 2], np.float32)})[0].tolist())
"""


@pytest.fixture(scope="session", autouse=True)
def plugin_smoke() -> None:
    from webnn.integrations.onnx.plugin import PluginUnavailableError, get_library_path

    try:
        get_library_path()
    except PluginUnavailableError as exc:
        pytest.fail(f"the plugin EP library is not available: {exc}")
    proc = run_python(SMOKE, timeout=180)
    if proc.returncode != 0 or "[0.0, 2.0]" not in proc.stdout:
        pytest.fail(f"plugin EP smoke run failed in a subprocess (rc={proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
