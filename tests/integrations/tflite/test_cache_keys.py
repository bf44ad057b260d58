"""The delegate's graph cache keys and warm starts, with the real interpreter and real files.

A warm start (a new delegate and context on the same cache directory, as another
process would have) must load every partition without converting anything and give
the cold start's outputs bit for bit; the key must change, and the cache must miss,
whenever a weight, an op attribute, an input shape or the device changes. Expected
outputs come from TFLite without the delegate (builtin kernels).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
blake3 = pytest.importorskip("blake3")

from webnn.integrations.tflite import WebNNDelegate, _model, load_delegate  # noqa: E402
from webnn.integrations.tflite._build import Signature  # noqa: E402
from webnn.integrations.tflite._delegate import partition_key  # noqa: E402

from . import _models  # noqa: E402

BUILTIN = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES

pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated.*:UserWarning")


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {"relu": _models.small_conv("relu"), "linear": _models.small_conv(None),
            "dynamic": _models.small_conv("relu", batch=None), "fallback": _models.fallback_function()}


def interpreter(model: bytes | Path, delegate: WebNNDelegate | None = None,
                batch: int | None = None) -> tf.lite.Interpreter:
    source = {"model_path": str(model)} if isinstance(model, Path) else {"model_content": model}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(**source, experimental_delegates=[delegate] if delegate else None,
                                 experimental_op_resolver_type=BUILTIN)
    if batch is not None:
        det = it.get_input_details()[0]
        it.resize_tensor_input(det["index"], [batch, *det["shape"][1:]])
    it.allocate_tensors()
    return it


def inputs(it: tf.lite.Interpreter) -> np.ndarray:
    det = it.get_input_details()[0]
    return (np.random.default_rng(7).random(det["shape"]) * 4 - 2).astype(det["dtype"])


def run(it: tf.lite.Interpreter, x: np.ndarray) -> np.ndarray:
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def start(model: bytes | Path, cache_dir: Path, batch: int | None = None
          ) -> tuple[WebNNDelegate, np.ndarray, np.ndarray]:
    """A fresh delegate and context on ``cache_dir`` (like a new process): delegate, input, output."""
    d = load_delegate("cpu", cache=True, cache_dir=cache_dir, origin="tflite-keys")
    it = interpreter(model, d, batch)
    x = inputs(it)
    return d, x, run(it, x)


def reference(model: bytes | Path, x: np.ndarray, batch: int | None = None) -> np.ndarray:
    return run(interpreter(model, None, batch), x)


def partitions(d: WebNNDelegate) -> list:
    return [p for r in d.placement_report() for p in r.partitions]


def keys(d: WebNNDelegate) -> set[str]:
    return {p.key for p in partitions(d)}


def caches(d: WebNNDelegate) -> list[str]:
    return [p.cache for p in partitions(d)]


def patched_weight(data: bytes) -> bytes:
    """``data`` with the first element of the conv filter (a float32 constant) changed by 0.5."""
    parsed = _model.parse_model(data)
    conv = next(op for op in parsed.subgraphs[0].ops if op.name == "CONV_2D")
    weights = parsed.subgraphs[0].tensors[conv.inputs[1]].data
    assert weights is not None and weights.dtype == np.float32
    offset = weights.__array_interface__["data"][0] - np.frombuffer(data, np.uint8).__array_interface__["data"][0]
    assert 0 < offset < len(data) - 4
    out = bytearray(data)
    old = np.frombuffer(out, np.float32, 1, offset)[0]
    out[offset:offset + 4] = np.float32(old + 0.5).tobytes()
    return bytes(out)


# -- warm starts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, graphs", [("relu", 1), ("fallback", 2)])
def test_warm_start_converts_nothing_and_equals_the_cold_start(models, tmp_path, name, graphs):
    # "relu": NHWC convolutions (3x3 and 1x1) with constant filters; "fallback": two
    # partitions around an op left to TFLite.
    path = tmp_path / "m.tflite"
    path.write_bytes(models[name])
    cold, x, cold_out = start(path, tmp_path / "cache")
    assert caches(cold) == ["miss"] * graphs, cold.format_report()
    assert cold.placement_report()[0].trial_conversions == graphs
    # each kernel compiled Prepare's conversion of its partition instead of converting again
    assert [(p.builds, p.conversions) for p in cold.placement_report()[0].partitions] == [(1, 0)] * graphs
    np.testing.assert_allclose(cold_out, reference(path, x), atol=1e-5)

    for source in (path, models[name]):  # by path (memory-mapped) and by bytes: one digest
        warm, x2, warm_out = start(source, tmp_path / "cache")
        rep = warm.placement_report()[0]
        assert caches(warm) == ["hit"] * graphs, warm.format_report()
        assert rep.trial_conversions == 0 and all(p.builds == 0 for p in rep.partitions)
        assert keys(warm) == keys(cold)
        assert rep.model_digest == blake3.blake3(models[name]).hexdigest()
        np.testing.assert_array_equal(x2, x)
        np.testing.assert_array_equal(warm_out, cold_out)


def test_second_interpreter_of_one_delegate_uses_memory(models, tmp_path):
    d = load_delegate("cpu", cache=True, cache_dir=tmp_path, origin="tflite-keys")
    first = interpreter(models["relu"], d)
    second = interpreter(models["relu"], d)
    x = inputs(first)
    np.testing.assert_array_equal(run(second, x), run(first, x))
    first_report, second_report = d.placement_report()
    assert [p.cache for p in first_report.partitions] == ["miss"] and first_report.trial_conversions == 1
    assert [p.cache for p in second_report.partitions] == ["memory"] and second_report.trial_conversions == 0


# -- what the key covers ---------------------------------------------------------------------------------------
def test_a_changed_weight_misses_even_when_the_file_is_rewritten_in_place(models, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(models["relu"])
    base, x, base_out = start(path, tmp_path / "cache")
    changed = patched_weight(models["relu"])
    path.write_bytes(changed)  # same path and inode, likely the same timestamp tick and size
    d, _, out = start(path, tmp_path / "cache")
    assert caches(d) == ["miss"] and keys(d).isdisjoint(keys(base)), d.format_report()
    want = reference(changed, x)
    assert not np.allclose(want, base_out, atol=1e-4)  # the weight matters to the output
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_a_graph_built_after_the_file_changed_is_not_saved(models, tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(models["relu"])
    d = load_delegate("cpu", cache=True, cache_dir=tmp_path / "cache", origin="tflite-keys")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(model_path=str(path), experimental_delegates=[d],
                                 experimental_op_resolver_type=BUILTIN)  # Prepare maps the file
    mapped = _model.load_model_file(str(path))
    assert mapped.unchanged() and not mapped.truncated()
    changed = patched_weight(models["relu"])
    with open(path, "r+b") as fh:  # rewritten in place, same size: every mapping sees the new bytes
        fh.write(changed)
    assert not mapped.unchanged() and not mapped.truncated()
    with pytest.warns(RuntimeWarning, match="changed on disk"):
        it.allocate_tensors()  # the kernel converts from the changed bytes: not saved under the old digest
    assert caches(d) == ["unsaved"] and d.context.list_graphs() == []
    with open(path, "r+b") as fh:
        fh.truncate(len(changed) // 2)
    assert mapped.truncated() and not mapped.unchanged()  # known without reading past the end


def test_a_changed_attribute_misses(models, tmp_path):
    relu, linear = _model.parse_model(models["relu"]), _model.parse_model(models["linear"])
    consts = [sorted((t.shape, t.data.tobytes()) for t in m.subgraphs[0].tensors if t.data is not None)
              for m in (relu, linear)]
    assert consts[0] == consts[1]  # the same weights (the converter may order them differently)
    a, x, out_a = start(models["relu"], tmp_path)
    b, _, out_b = start(models["linear"], tmp_path)  # same weights, fused activation NONE
    assert caches(b) == ["miss"] and keys(a).isdisjoint(keys(b))
    np.testing.assert_allclose(out_a, reference(models["relu"], x), atol=1e-5)
    np.testing.assert_allclose(out_b, reference(models["linear"], x), atol=1e-5)
    assert not np.allclose(out_a, out_b, atol=1e-4)


def test_a_changed_input_shape_misses_and_each_shape_hits_later(models, tmp_path):
    two, x2, out2 = start(models["dynamic"], tmp_path, batch=2)
    three, x3, out3 = start(models["dynamic"], tmp_path, batch=3)
    assert x2.shape[0] == 2 and x3.shape[0] == 3
    assert "miss" in caches(three) and keys(two).isdisjoint(keys(three)), three.format_report()
    np.testing.assert_allclose(out3, reference(models["dynamic"], x3, batch=3), atol=1e-5)
    again, _, out2_again = start(models["dynamic"], tmp_path, batch=2)
    assert "miss" not in caches(again) and keys(two) <= keys(again), again.format_report()
    np.testing.assert_array_equal(out2_again, out2)


def test_key_components():
    sig = Signature(((0, "float32", (1, 8, 8, 3)), (5, "float32", (1, 4))), (9, 7))
    base = partition_key("d" * 64, 0, [1, 2, 3], sig, "cpu")
    assert base == partition_key("d" * 64, 0, (3, 1, 2), Signature(tuple(reversed(sig.inputs)), (7, 9)), "cpu")
    changed = [
        partition_key("e" * 64, 0, [1, 2, 3], sig, "cpu"),  # model bytes (weights, attributes)
        partition_key("d" * 64, 1, [1, 2, 3], sig, "cpu"),  # subgraph
        partition_key("d" * 64, 0, [1, 2], sig, "cpu"),  # node subset
        partition_key("d" * 64, 0, [1, 2, 3], Signature(((0, "float32", (2, 8, 8, 3)), sig.inputs[1]), (9, 7)),
                      "cpu"),  # input shape
        partition_key("d" * 64, 0, [1, 2, 3], Signature(((0, "float16", (1, 8, 8, 3)), sig.inputs[1]), (9, 7)),
                      "cpu"),  # input data type
        partition_key("d" * 64, 0, [1, 2, 3], Signature(sig.inputs, (9,)), "cpu"),  # outputs handed back
        partition_key("d" * 64, 0, [1, 2, 3], sig, "cuda:0"),  # device
    ]
    assert len({base, *changed}) == len(changed) + 1


def test_cuda_and_cpu_entries_are_separate(models, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu, x, out_cpu = start(models["relu"], tmp_path)
    d = load_delegate("cuda", cache=True, cache_dir=tmp_path, origin="tflite-keys")
    out_cuda = run(interpreter(models["relu"], d), x)
    assert caches(d) == ["miss"] and keys(d).isdisjoint(keys(cpu))
    np.testing.assert_allclose(out_cuda, out_cpu, atol=1e-4)
