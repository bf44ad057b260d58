"""Registration, the devices the EP offers, and how a session selects them."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from webnn.integrations import onnx as webnn_ort

from ._util import EP, cpu_session, providers_of, register, webnn_devices


def _relu_model():
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_registered_library_lists_a_cpu_device():
    register()
    devs = webnn_devices()
    cpu = [d for d in devs if d.ep_metadata.get("deviceType") == "cpu"]
    assert len(cpu) == 1
    assert cpu[0].ep_vendor == "webnn"
    assert cpu[0].device.type == ort.OrtHardwareDeviceType.CPU
    assert cpu[0].ep_metadata["library_path"] == webnn_ort.get_library_path()


def test_gpu_device_only_when_cuda_is_really_there():
    gpu = [d for d in webnn_devices() if d.ep_metadata.get("deviceType") == "gpu"]
    if torch.cuda.is_available():
        assert len(gpu) <= 1  # offered when ORT itself found the NVIDIA device
    else:
        assert gpu == []


def test_selecting_the_device_runs_relu_on_webnn():
    devs = webnn_devices()
    so = ort.SessionOptions()
    so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    so.add_provider_for_devices(devs[:1], {"deviceType": "cpu", "cache": "0"})
    sess = ort.InferenceSession(_relu_model().SerializeToString(), sess_options=so)
    assert sess.get_providers() == [EP, "CPUExecutionProvider"]
    x = np.array([-1.5, 0.0, 2.5], np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], np.maximum(x, 0))
    assert providers_of(sess) == {"relu": EP}


def test_plain_provider_list_after_registration():
    register()
    sess = ort.InferenceSession(_relu_model().SerializeToString(),
                                providers=[(EP, {"cache": "0"}), "CPUExecutionProvider"])
    assert sess.get_providers()[0] == EP
    x = np.array([3.0, -2.0, 1.0], np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], cpu_session(_relu_model()).run(None, {"x": x})[0])


def test_unknown_option_is_an_ort_error_naming_the_accepted_ones():
    devs = webnn_devices()
    so = ort.SessionOptions()
    so.add_provider_for_devices(devs[:1], {"deviceKind": "cpu"})
    with pytest.raises(Exception) as info:
        ort.InferenceSession(_relu_model().SerializeToString(), sess_options=so)
    text = str(info.value)
    assert "unknown option(s) 'deviceKind'" in text and "deviceType" in text and "powerPreference" in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_without_cuda_is_refused_clearly():
    devs = webnn_devices()
    so = ort.SessionOptions()
    so.add_provider_for_devices(devs[:1], {"deviceType": "gpu"})
    with pytest.raises(Exception) as info:
        ort.InferenceSession(_relu_model().SerializeToString(), sess_options=so)
    assert "WebNNExecutionProvider CreateEp" in str(info.value)
