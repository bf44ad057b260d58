"""InferenceSession: ORT's API and errors, mixed placement with fallback, signatures, folding."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument, InvalidGraph, InvalidProtobuf, NoSuchFile
from webnn.integrations.onnx import CPU, PROVIDER, InferenceSession, get_available_providers

from ._util import Const, assert_same, f32, model_of, ort_run, webnn_session


def mixed_model():
    """Relu -> Mod (no WebNN op: ORT) -> Add -> two outputs, one int64 side path, one bool."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"], name="relu"),
        helper.make_node("Mod", ["r", "m"], ["md"], name="mod", fmod=1),
        helper.make_node("Add", ["md", "r"], ["y"], name="add"),
        helper.make_node("Mul", ["k", "k"], ["k2"], name="mul_int"),
        helper.make_node("Greater", ["y", "r"], ["g"], name="greater"),
    ]
    inputs = {"x": f32(2, 3), "k": np.arange(6, dtype=np.int64).reshape(2, 3),
              "m": Const(np.array([1.5], np.float32))}
    return model_of(nodes, inputs, ["y", "k2", "g"], dynamic={"x": ["batch", 3], "k": ["batch", 3]}), inputs


def feeds(batch=2):
    return {"x": f32(batch, 3), "k": np.arange(batch * 3, dtype=np.int64).reshape(batch, 3)}


def test_fallback_mid_graph_matches_ort_and_reports_placement():
    model, _ = mixed_model()
    sess = webnn_session(model)
    f = feeds()
    out = sess.run(None, f)
    assert_same(out, ort_run(model, f))
    assert out[1].dtype == np.int64 and out[2].dtype == np.bool_
    where = {p["node"]: p for p in sess.placement()}
    assert where["mod"]["provider"] == CPU and "no WebNN converter for Mod" in where["mod"]["reason"]
    for name in ("relu", "add", "mul_int", "greater"):
        assert where[name]["provider"] == PROVIDER and where[name]["reason"] is None
    assert where["relu"]["partition"] != where["add"]["partition"]  # Mod sits between them
    summary = sess.placement_summary()
    assert summary["ort_sessions"] == 1 and summary["webnn_partitions"] >= 2


def test_dynamic_batch_gets_one_plan_per_signature():
    model, _ = mixed_model()
    sess = webnn_session(model)
    for batch in (1, 4, 1):
        f = feeds(batch)
        assert_same(sess.run(None, f), ort_run(model, f))
    assert len(sess._plans) == 2
    assert sess.placement(input_shapes={"x": [4, 3], "k": [4, 3]})[0]["provider"] == PROVIDER


def test_output_names_subset_and_order():
    model, _ = mixed_model()
    sess = webnn_session(model)
    f = feeds()
    ref = dict(zip(["y", "k2", "g"], ort_run(model, f)))
    got = sess.run(["g", "y"], f)
    assert_same(got, [ref["g"], ref["y"]])


def test_shape_chain_is_folded_for_a_dynamic_reshape():
    # y = Reshape(x, Concat(Shape(x)[0], [-1])): the shape chain folds per signature.
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["b", "zero1"], ["b1"], name="unsq"),
        helper.make_node("Concat", ["b1", "minus1"], ["shape2"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "shape2"], ["flat"], name="reshape"),
        helper.make_node("Relu", ["flat"], ["y"], name="relu"),
    ]
    inputs = {"x": f32(3, 4, 5), "zero": Const(np.array(0, np.int64)), "zero1": Const(np.array([0], np.int64)),
              "minus1": Const(np.array([-1], np.int64))}
    model = model_of(nodes, inputs, ["y"], dynamic={"x": ["n", 4, 5]})
    sess = webnn_session(model)
    for n in (3, 2):
        x = f32(n, 4, 5)
        assert_same(sess.run(None, {"x": x}), ort_run(model, {"x": x}))
        where = {p["node"]: p["provider"] for p in sess.placement()}
        assert where == {"shape": "folded", "gather": "folded", "unsq": "folded", "concat": "folded",
                         "reshape": PROVIDER, "relu": PROVIDER}


def test_graph_output_that_is_an_input_or_an_initializer():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    model = model_of(nodes, {"x": f32(2, 2), "c": Const(np.ones(3, np.float32))}, ["y", "x", "c"])
    x = f32(2, 2)
    out = webnn_session(model).run(None, {"x": x})
    assert_same(out, ort_run(model, {"x": x}))
    assert out[1] is not x


def test_metadata_inputs_outputs_and_providers_match_ort():
    model, _ = mixed_model()
    model.producer_name = "tests"
    model.model_version = 7
    helper.set_model_props(model, {"k": "v"})
    data = model.SerializeToString()
    ours, theirs = webnn_session(data), ort.InferenceSession(data, providers=[CPU])
    for a, b in zip(ours.get_inputs(), theirs.get_inputs()):
        assert (a.name, a.type, a.shape) == (b.name, b.type, b.shape)
    assert [o.name for o in ours.get_outputs()] == [o.name for o in theirs.get_outputs()]
    ma, mb = ours.get_modelmeta(), theirs.get_modelmeta()
    for field in ("producer_name", "graph_name", "domain", "description", "version", "custom_metadata_map"):
        assert getattr(ma, field) == getattr(mb, field), field
    assert ours.get_providers() == [PROVIDER, CPU]
    assert ours.get_provider_options()[PROVIDER]["deviceType"] == "cpu"
    assert get_available_providers()[0] == PROVIDER


def test_providers_without_webnn_is_plain_ort():
    model, _ = mixed_model()
    sess = InferenceSession(model.SerializeToString(), providers=[CPU])
    f = feeds()
    assert_same(sess.run(None, f), ort_run(model, f))
    assert {p["provider"] for p in sess.placement()} == {CPU}
    assert sess.get_providers() == [CPU]
    sess.set_providers([(PROVIDER, {"cache": "0"}), CPU])
    sess.run(None, f)
    assert {p["provider"] for p in sess.placement()} == {CPU, PROVIDER}


def test_provider_argument_forms_and_sess_options():
    model, _ = mixed_model()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = InferenceSession(model.SerializeToString(), so, providers=[PROVIDER, CPU],
                            provider_options=[{"cache": "0", "powerPreference": "low-power"}, {}])
    assert sess.get_session_options() is so
    assert sess.get_provider_options()[PROVIDER]["powerPreference"] == "low-power"
    f = feeds()
    assert_same(sess.run(None, f, ort.RunOptions()), ort_run(model, f))


@pytest.mark.parametrize("providers, message", [
    (["NoSuchExecutionProvider"], "unknown execution provider 'NoSuchExecutionProvider'"),
    ([(PROVIDER, {"deviceKind": "cpu"})], "unknown option(s) 'deviceKind'"),
    ([(PROVIDER, {"deviceType": "tpu"})], "deviceType must be one of cpu, gpu"),
    ([(PROVIDER, {"powerPreference": "fast"})], "powerPreference must be one of"),
    ([(PROVIDER, {"cache": "maybe"})], "cache must be '1'/'0'"),
    ([PROVIDER, PROVIDER], "listed twice"),
    ("WebNNExecutionProvider", "must be a list"),
])
def test_bad_providers_and_options_are_clear_errors(providers, message):
    model, _ = mixed_model()
    with pytest.raises(ValueError) as info:
        InferenceSession(model.SerializeToString(), providers=providers)
    assert message in str(info.value)


def test_gpu_device_type_without_cuda_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    model, _ = mixed_model()
    from webnn import NotSupportedError

    with pytest.raises(NotSupportedError, match="CUDA is not available"):
        InferenceSession(model.SerializeToString(), providers=[(PROVIDER, {"deviceType": "gpu"})])


def test_malformed_model_files_are_clear_errors(tmp_path):
    with pytest.raises(NoSuchFile, match="doesn't exist"):
        InferenceSession(str(tmp_path / "missing.onnx"))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07\x12\xff\xff not a model")
    with pytest.raises(InvalidProtobuf, match="protobuf parsing failed"):
        InferenceSession(str(bad))
    with pytest.raises(InvalidProtobuf, match="empty"):
        InferenceSession(b"")
    dangling = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["nowhere"], ["y"])], "g", [], [helper.make_empty_tensor_value_info("y")]))
    with pytest.raises(InvalidGraph, match="reads 'nowhere'"):
        InferenceSession(dangling.SerializeToString())
    with pytest.raises(TypeError, match="path_or_bytes"):
        InferenceSession(12)


def test_wrong_feeds_are_clear_errors():
    model, _ = mixed_model()
    sess = webnn_session(model)
    f = feeds()
    with pytest.raises(ValueError, match=r"Required inputs \(\['k'\]\) are missing"):
        sess.run(None, {"x": f["x"]})
    with pytest.raises(InvalidArgument, match=r"Actual: \(tensor\(double\)\) , expected: \(tensor\(float\)\)"):
        sess.run(None, {**f, "x": f["x"].astype(np.float64)})
    with pytest.raises(InvalidArgument, match="Invalid rank for input: x Got: 3 Expected: 2"):
        sess.run(None, {**f, "x": f32(1, 2, 3)})
    with pytest.raises(InvalidArgument, match="index: 1 Got: 4 Expected: 3"):
        sess.run(None, {**f, "x": f32(2, 4)})
    with pytest.raises(InvalidArgument, match="Invalid input name"):
        sess.run(None, {**f, "extra": f["x"]})
    with pytest.raises(InvalidArgument, match="Invalid output name:nope"):
        sess.run(["nope"], f)


def test_unsorted_graph_is_sorted_like_ort_does():
    nodes = [helper.make_node("Relu", ["a"], ["y"], name="second"), helper.make_node("Neg", ["x"], ["a"], name="first")]
    model = model_of(nodes, {"x": f32(2, 3)}, ["y"])
    x = f32(2, 3)
    assert_same(webnn_session(model).run(None, {"x": x}), ort_run(model, {"x": x}))


def test_control_flow_stays_on_ort_with_webnn_around_it():
    then_g = helper.make_graph([helper.make_node("Neg", ["r"], ["o"])], "then", [],
                               [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Abs", ["r"], ["o2"])], "else", [],
                               [helper.make_tensor_value_info("o2", TensorProto.FLOAT, [2, 3])])
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("If", ["c"], ["z"], name="if", then_branch=then_g, else_branch=else_g),
             helper.make_node("Sigmoid", ["z"], ["y"], name="sigmoid")]
    model = model_of(nodes, {"x": f32(2, 3), "c": np.array(True)}, ["y"])
    sess = webnn_session(model)
    for cond in (True, False):
        f = {"x": f32(2, 3), "c": np.array(cond)}
        assert_same(sess.run(None, f), ort_run(model, f))
    where = {p["node"]: p for p in sess.placement()}
    assert where["if"]["provider"] == CPU and "control flow" in where["if"]["reason"]
    assert where["relu"]["provider"] == PROVIDER


def test_float16_model():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inputs = {"x": f32(1, 2, 5, 5).astype(np.float16), "w": Const(f32(3, 2, 3, 3).astype(np.float16))}
    model = model_of(nodes, inputs, ["y"])
    x = inputs["x"]
    out = webnn_session(model).run(None, {"x": x})
    assert_same(out, ort_run(model, {"x": x}), rtol=1e-2, atol=1e-2)


def test_a_converter_failure_falls_back_with_a_warning(monkeypatch):
    import dataclasses

    from webnn.integrations.onnx import REGISTRY

    def broken(cx, node):
        raise TypeError("broken on purpose")

    monkeypatch.setitem(REGISTRY._converters, "Relu", dataclasses.replace(REGISTRY.get("Relu"), convert=broken))
    model, _ = mixed_model()
    sess = webnn_session(model)
    f = feeds()
    with pytest.warns(RuntimeWarning, match="broken on purpose"):
        out = sess.run(None, f)
    assert_same(out, ort_run(model, f))
    where = {p["node"]: p for p in sess.placement()}
    assert where["relu"]["provider"] == CPU and "broken on purpose" in where["relu"]["reason"]
