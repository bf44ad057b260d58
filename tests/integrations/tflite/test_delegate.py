"""The WebNN TFLite delegate inside the real TFLite interpreter (tensorflow 2.21).

Every expected output comes from the same model run by TFLite without the delegate
(builtin kernels only). Models are made here with TF's converter and shared across
tests (module-scoped fixtures: importing TF and converting dominate the run time).
"""

from __future__ import annotations

import gc
import os
import threading
import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from webnn.integrations.tflite import WebNNDelegate, _callbacks, _capi, _kernel, _model, _runtime, load_delegate  # noqa: E402

from webnn import ml  # noqa: E402

from . import _models  # noqa: E402

BUILTIN = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES

pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated.*:UserWarning")


# -- helpers ----------------------------------------------------------------------------------
def interpreter(data: bytes, delegate: object | None = None, **kwargs: object) -> tf.lite.Interpreter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(model_content=data, experimental_delegates=[delegate] if delegate else None,
                                 experimental_op_resolver_type=kwargs.pop("resolver", BUILTIN), **kwargs)
    it.allocate_tensors()
    return it


def inputs_for(it: tf.lite.Interpreter, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for det in it.get_input_details():
        shape, dt = det["shape"], det["dtype"]
        if np.issubdtype(dt, np.integer):
            out.append(rng.integers(np.iinfo(dt).min, np.iinfo(dt).max, shape, endpoint=True).astype(dt))
        else:
            out.append((rng.random(shape) * 4 - 2).astype(dt))
    return out


def run(it: tf.lite.Interpreter, xs: list[np.ndarray]) -> list[np.ndarray]:
    for det, x in zip(it.get_input_details(), xs):
        it.set_tensor(det["index"], x)
    it.invoke()
    return [it.get_tensor(det["index"]).copy() for det in it.get_output_details()]


def reference(data: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    return run(interpreter(data), xs)


def assert_outputs(got: list[np.ndarray], want: list[np.ndarray], atol: float = 1e-5, rtol: float = 1e-5) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, f"output {k}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        np.testing.assert_allclose(g, w, atol=atol, rtol=rtol, err_msg=f"output {k}")


def only_report(delegate: WebNNDelegate, subgraph: int = 0):  # noqa: ANN201
    reports = [r for r in delegate.placement_report() if r.subgraph == subgraph]
    assert reports, delegate.format_report()
    return reports[-1]


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- shared models and delegates --------------------------------------------------------------------
@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {"cnn": _models.keras_cnn(), "misc": _models.misc_function(), "fallback": _models.fallback_function(),
            "while": _models.control_flow_function(), "int8": _models.int8_cnn(),
            "int8_io": _models.int8_cnn(int8_io=True), "fp16w": _models.float16_weights_cnn(),
            "dynamic": _models.keras_cnn(batch=None), "mobilenet_v2": _models.keras_mobilenet_v2()}


@pytest.fixture(scope="module")
def delegate() -> WebNNDelegate:
    return load_delegate("cpu", cache=False)


# -- outputs equal TFLite's ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["cnn", "misc", "fp16w"])
def test_float_models_fully_delegated_match_tflite(models, delegate, name):
    data = models[name]
    it = interpreter(data, delegate)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs))
    rep = only_report(delegate)
    assert rep.tflite_nodes == 0, rep.format()
    assert rep.webnn_nodes == len(rep.nodes) > 0
    assert len(rep.partitions) == 1  # coarse: the whole graph is one WebNN graph
    ops = {o["op_name"] for o in it._get_ops_details()}
    assert "DELEGATE" in ops


def test_keras_mobilenet_v2_architecture(models, delegate):
    data = models["mobilenet_v2"]
    it = interpreter(data, delegate)
    xs = inputs_for(it, seed=11)
    got, want = run(it, xs), reference(data, xs)
    scale = float(np.abs(want[0]).max())
    assert scale > 0
    assert_outputs(got, want, atol=1e-4 * scale, rtol=1e-4)
    rep = only_report(delegate)
    assert rep.tflite_nodes == 0 and len(rep.partitions) == 1, rep.format()


def test_ai_edge_litert_interpreter(models, delegate):
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    data = models["fallback"]
    it = litert.Interpreter(model_content=data, experimental_delegates=[delegate])
    it.allocate_tensors()
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)
    rep = only_report(delegate)
    assert rep.runtime.startswith("ai-edge-litert") and rep.webnn_nodes == 7, rep.format()


def test_keras_cnn_covers_the_usual_builtins(models, delegate):
    interpreter(models["cnn"], delegate)
    ops = {n.op for n in only_report(delegate).nodes}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "MAX_POOL_2D", "AVERAGE_POOL_2D", "ADD",
            "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "CONCATENATION", "FULLY_CONNECTED", "SOFTMAX",
            "MEAN"} <= ops


def test_nearest_resize_claimed_only_where_webnn_picks_the_same_pixels(delegate):
    exact = _models.resize_nearest_function(16)
    it = interpreter(exact, delegate)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(exact, xs))
    assert only_report(delegate).tflite_nodes == 0
    ties = _models.resize_nearest_function(12)  # 8 -> 12: TFLite rounds half up, WebNN half down
    it = interpreter(ties, delegate)
    assert_outputs(run(it, xs), reference(ties, xs))
    rep = only_report(delegate)
    [(op, reasons)] = rep.fallbacks().items()
    assert op == "RESIZE_NEAREST_NEIGHBOR" and "different source pixels" in next(iter(reasons))


def test_default_resolver_with_xnnpack_after_the_delegate(models):
    d = load_delegate("cpu", cache=False)
    data = models["fallback"]
    it = interpreter(data, d, resolver=tf.lite.experimental.OpResolverType.AUTO)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)


def test_fallback_mid_graph_runs_on_tflite_kernels(models, delegate):
    data = models["fallback"]
    it = interpreter(data, delegate)
    xs = inputs_for(it, seed=3)
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)
    rep = only_report(delegate)
    assert rep.fallbacks() == {"FLOOR_MOD": {"no converter for FLOOR_MOD": 1}}
    assert len(rep.partitions) == 2, rep.format()  # WebNN before and after the TFLite node
    where = {n.op: n.where for n in rep.nodes}
    assert where["FLOOR_MOD"] == "tflite" and where["TANH"] == "webnn"
    assert "FLOOR_MOD" in rep.format()


def test_min_partition_size_leaves_small_partitions_to_tflite(models):
    d = load_delegate("cpu", cache=False, min_partition_size=4)
    data = models["fallback"]
    it = interpreter(data, d)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)
    rep = only_report(d)
    assert len(rep.partitions) == 1 and len(rep.partitions[0].nodes) >= 4
    assert any("min_partition_size" in (n.reason or "") for n in rep.nodes)


def test_several_subgraphs(models, delegate):
    data = models["while"]
    it = interpreter(data, delegate)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)
    subgraphs = {r.subgraph for r in delegate.placement_report() if r.interpreter == id(it)}
    assert subgraphs == {0, 1, 2}
    main = [r for r in delegate.placement_report() if r.interpreter == id(it) and r.subgraph == 0][0]
    assert main.fallbacks() == {"WHILE": {"no converter for WHILE": 1}}


# -- quantized models ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["int8", "int8_io"])
def test_int8_models_exact_where_claimed(models, delegate, name):
    data = models[name]
    it = interpreter(data, delegate)
    xs = inputs_for(it, seed=5)
    got, want = run(it, xs), reference(data, xs)
    # Integer values are bit-identical (only data movement runs on int8 in WebNN). DEQUANTIZE
    # rounds once in WebNN; TFLite's x86 kernel computes x*s + (-zp*s), rounding twice: 1 ulp.
    for g, w in zip(got, want):
        if np.issubdtype(w.dtype, np.integer):
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=2.5e-7, atol=0)
    rep = only_report(delegate)
    placed = {n.op: n.where for n in rep.nodes}
    assert placed["MAX_POOL_2D"] == "webnn" and placed["RESHAPE"] == "webnn"
    assert placed["CONV_2D"] == "tflite" and placed["FULLY_CONNECTED"] == "tflite"
    if name == "int8":
        assert placed["DEQUANTIZE"] == "webnn" and placed["QUANTIZE"] == "tflite"


# -- resize, threads, several interpreters, memory ----------------------------------------------------------
def test_resize_and_reallocate_recompiles_for_new_shapes(models):
    d = load_delegate("cpu", cache=False)
    data = models["dynamic"]
    it = interpreter(data, d)
    ref = interpreter(data)
    assert tuple(it.get_input_details()[0]["shape_signature"]) == (-1, 16, 16, 3)
    compiled = []
    for batch in (1, 3, 2, 3):
        for i in (it, ref):
            i.resize_tensor_input(i.get_input_details()[0]["index"], [batch, 16, 16, 3])
            i.allocate_tensors()
        xs = inputs_for(it, seed=batch)
        got = run(it, xs)
        assert got[0].shape == (batch, 10)
        assert_outputs(got, run(ref, xs))
        compiled.append(len(d._graphs))
    rep = only_report(d)
    assert rep.webnn_nodes > rep.tflite_nodes, rep.format()  # runtime shape arithmetic stays with TFLite
    assert compiled[1] > compiled[0] and compiled[2] > compiled[1]  # new shapes: new graphs
    assert compiled[3] == compiled[2]  # batch 3 again: every partition reuses its graph


def test_invoke_from_another_thread(models, delegate):
    data = models["cnn"]
    it = interpreter(data, delegate)
    xs = inputs_for(it, seed=7)
    want = reference(data, xs)
    result: list[object] = []
    th = threading.Thread(target=lambda: result.append(run(it, xs)))
    th.start()
    th.join(60)
    assert_outputs(result[0], want)


def test_two_interpreters_interleaved(models):
    d = load_delegate("cpu", cache=False)
    a, b = interpreter(models["cnn"], d), interpreter(models["misc"], d)
    a2 = interpreter(models["cnn"], d)  # same model, same delegate: the compiled graph is shared
    for seed in range(3):
        xa, xb = inputs_for(a, seed), inputs_for(b, seed)
        assert_outputs(run(a, xa), reference(models["cnn"], xa))
        assert_outputs(run(b, xb), reference(models["misc"], xb))
        assert_outputs(run(a2, xa), reference(models["cnn"], xa))
    caches = [p.cache for r in d.placement_report() for p in r.partitions]
    assert "memory" in caches
    assert len({r.interpreter for r in d.placement_report()}) == 3


def test_thousand_invokes_do_not_grow_memory(models, delegate):
    it = interpreter(models["fallback"], delegate)  # two WebNN kernels around a TFLite node
    xs = inputs_for(it)
    for det, x in zip(it.get_input_details(), xs):
        it.set_tensor(det["index"], x)
    for _ in range(100):
        it.invoke()
    gc.collect()
    before, kernels = rss_bytes(), _callbacks.kernel_count()
    for _ in range(1000):
        it.invoke()
    gc.collect()
    growth = rss_bytes() - before
    assert growth < 4 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 1000 invokes"
    assert _callbacks.kernel_count() == kernels


def test_kernels_are_freed_with_their_interpreter(models):
    d = load_delegate("cpu", cache=False)
    gc.collect()
    base = _callbacks.kernel_count()
    it = interpreter(models["fallback"], d)
    assert _callbacks.kernel_count() == base + 2
    del it
    gc.collect()
    assert _callbacks.kernel_count() == base


# -- failures -------------------------------------------------------------------------------------------------
class _FailingKernel(_kernel.PartitionKernel):
    fail = True

    def invoke(self, ctxp):  # noqa: ANN001, ANN201
        if _FailingKernel.fail:
            raise RuntimeError("boom from the WebNN kernel")
        return super().invoke(ctxp)


class _FailingDelegate(WebNNDelegate):
    def create_kernel(self, ctxp, params):  # noqa: ANN001, ANN201
        k = super().create_kernel(ctxp, params)
        k.__class__ = _FailingKernel
        return k


def test_exception_in_a_kernel_becomes_a_python_error_and_the_interpreter_lives(models):
    d = _FailingDelegate(ml.create_context("cpu", cache=False), cache=False)
    data = models["fallback"]
    it = interpreter(data, d)
    xs = inputs_for(it)
    _FailingKernel.fail = True
    with pytest.raises(RuntimeError, match="boom from the WebNN kernel"):
        run(it, xs)
    _FailingKernel.fail = False
    assert_outputs(run(it, xs), reference(data, xs), atol=1e-5)


class _BrokenClaimDelegate(WebNNDelegate):
    def _claim(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise ValueError("claim exploded")


def test_exception_in_prepare_claims_nothing_and_tflite_runs_everything(models, caplog):
    d = _BrokenClaimDelegate(ml.create_context("cpu", cache=False), cache=False)
    data = models["cnn"]
    it = interpreter(data, d)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(data, xs))
    assert "DELEGATE" not in {o["op_name"] for o in it._get_ops_details()}
    assert "claim exploded" in caplog.text


def test_malformed_model_file(models, tmp_path, delegate):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf.lite.Interpreter(model_path=str(bad), experimental_delegates=[delegate])
    truncated = models["cnn"][: len(models["cnn"]) // 3]
    with pytest.raises(ValueError):
        _model.parse_model(truncated)
    with pytest.raises(ValueError, match="not a TFLite flatbuffer"):
        _model.parse_model(b"\x00\x01garbage" * 10)
    # The delegate is still fine for a good model afterwards.
    it = interpreter(models["fallback"], delegate)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(models["fallback"], xs), atol=1e-5)


def test_model_path_is_mapped_not_read(models, tmp_path, delegate):
    path = tmp_path / "fallback.tflite"
    path.write_bytes(models["fallback"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        its = [tf.lite.Interpreter(model_path=str(path), experimental_delegates=[delegate],
                                   experimental_op_resolver_type=BUILTIN) for _ in range(2)]
    for it in its:
        it.allocate_tensors()
        xs = inputs_for(it)
        assert_outputs(run(it, xs), reference(models["fallback"], xs), atol=1e-5)
        assert only_report(delegate).webnn_nodes == 7
        assert only_report(delegate).model_digest == _model.model_digest(models["fallback"])
    # The constants are views of a read-only map of the file, not a copy of its bytes.
    model = _model.load_model_file(str(path))
    assert model.mapping is not None and model.unchanged()
    const = next(t.data for t in model.subgraphs[0].tensors if t.data is not None)
    assert not const.flags.owndata and not const.flags.writeable


def test_interpreter_bytes_win_over_a_model_hint(models):
    # The model bytes found on the calling interpreter take precedence over a stale hint.
    d = load_delegate("cpu", cache=False, model=models["misc"])
    it = interpreter(models["cnn"], d)
    xs = inputs_for(it)
    assert_outputs(run(it, xs), reference(models["cnn"], xs))  # the interpreter's own bytes win
    assert only_report(d).refused is None


def test_unknown_runtime_layout_is_refused_with_a_reason():
    r = _runtime.Runtime("tensorflow", "tensorflow-cpu", "2.99.0")
    reason = _runtime.layout_refusal(r)
    assert reason is not None and "2.99.0" in reason and "does not know" in reason
    assert _runtime.layout_refusal(_runtime.Runtime("tensorflow", "tensorflow-cpu", "2.21.0")) is None


def test_struct_layout_is_the_pinned_one():
    assert _capi.layout_problem() is None
    assert _capi.struct_sizes() == _capi.EXPECTED_SIZES


# -- cache ----------------------------------------------------------------------------------------------------------
def _cache_ready() -> bool:
    try:
        ctx = ml.create_context("cpu", cache=True)
        return bool(getattr(ctx, "cache_enabled", False)) and hasattr(ctx, "load_graph")
    except Exception:
        return False


@pytest.mark.skipif(not _cache_ready(), reason="the MLGraph cache (context.save_graph/load_graph) is not available")
def test_second_context_loads_partitions_from_the_graph_cache(models, tmp_path):
    data = models["fallback"]
    d1 = load_delegate("cpu", cache=True, cache_dir=tmp_path, origin="tflite-test")
    it1 = interpreter(data, d1)
    xs = inputs_for(it1)
    want = reference(data, xs)
    assert_outputs(run(it1, xs), want, atol=1e-5)
    first = [p.cache for p in only_report(d1).partitions]
    assert first == ["miss", "miss"], d1.format_report()
    # A new delegate with its own context (as another process would have) on the same cache.
    d2 = load_delegate("cpu", cache=True, cache_dir=tmp_path, origin="tflite-test")
    it2 = interpreter(data, d2)
    assert_outputs(run(it2, xs), want, atol=1e-5)
    rep = only_report(d2)
    assert [p.cache for p in rep.partitions] == ["hit", "hit"], d2.format_report()
    assert all(p.builds == 0 for p in rep.partitions)
    assert sorted(d2.context.list_graphs()) == sorted(p.key for p in rep.partitions)
