"""torch.compile(backend="webnn") on real models, compared with eager torch.

Covers the backend's contract: entry-point registration without an import,
partitions on WebNN with real torch fallback, the report, options, training,
recompilation on new shapes, weight updates after compile, outputs usable as
ordinary tensors, no copies at the graph boundary, and the graph cache across
processes (counters, not the clock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import webnn.integrations.torch as wt  # noqa: E402

import webnn  # noqa: E402

from . import models  # noqa: E402

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fresh(tmp_path, monkeypatch):
    """Fresh dynamo caches per test, an empty cache directory, nothing from the user's env."""
    for var in wt.ENV.values():
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WEBNN_CACHE_DIR", str(tmp_path / "cache"))
    torch._dynamo.reset()
    wt.clear_reports()
    torch.manual_seed(0)
    yield
    torch._dynamo.reset()


def _cache_works(tmp_path: Path) -> bool:
    try:
        ctx = webnn.ml.create_context("cpu", cache_dir=str(tmp_path / "probe"))
        if not getattr(ctx, "cache_enabled", False):
            return False
        ctx.list_graphs()
        return True
    except Exception:
        return False


def compile_run(fn, *args, options=None):
    compiled = torch.compile(fn, backend="webnn", options={"cache": False, **(options or {})})
    with torch.no_grad():
        return compiled(*args), compiled


def reports_total():
    return wt.summarize(wt.reports())


def assert_close(got, expected, atol=1e-5, rtol=1e-5):
    if isinstance(expected, (tuple, list)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close(g, e, atol, rtol)
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if expected.dtype.is_floating_point:
        torch.testing.assert_close(got, expected, atol=atol, rtol=rtol)
    else:
        assert torch.equal(got, expected)


# -- real models ------------------------------------------------------------------------
def test_mlp_runs_entirely_on_webnn():
    m = models.MLP().eval()
    x = torch.randn(8, 16)
    got, _ = compile_run(m, x)
    assert_close(got, m(x))
    total = reports_total()
    assert total["torch_nodes"] == 0 and total["webnn_nodes"] > 0
    ops = wt.last_report().partitions[0].webnn_ops
    assert "gemm" in ops or "matmul" in ops


def test_resnet_style_cnn_with_batch_norm():
    m = models.ResNet(widths=(8, 16), blocks=(1, 1)).eval()
    with torch.no_grad():  # give batch norm non-trivial statistics
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 32)
    got, _ = compile_run(m, x)
    assert_close(got, m(x), atol=1e-4, rtol=1e-4)
    r = wt.last_report()
    assert r.torch_nodes == 0 and r.fallbacks == {}
    assert len(r.partitions) == 1
    ops = r.partitions[0].webnn_ops
    assert any(k.startswith("conv2d") or "conv" in k for k in ops), ops
    assert "max_pool2d" in ops


def test_transformer_encoder_block_attention_layer_norm_gelu():
    m = models.Encoder(layers=2).eval()
    ids = torch.randint(0, 100, (2, 12))
    got, _ = compile_run(m, ids)
    assert_close(got, m(ids), atol=1e-4, rtol=1e-4)
    r = wt.last_report()
    assert r.fallbacks == {}, r.format()
    ops = r.partitions[0].webnn_ops
    for op in ("gather", "softmax", "layer_normalization", "gelu"):
        assert op in ops, (op, ops)


@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")])
@pytest.mark.parametrize("mask", ["none", "key_padding", "causal"])
def test_torch_transformer_encoder_fast_path_runs_on_webnn(norm_first, activation, mask):
    """nn.TransformerEncoder in eval mode without grad calls one fused op per layer
    (aten._transformer_encoder_layer_fwd), which torch does not decompose; ours does."""
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, norm_first=norm_first,
                                             activation=activation).eval()
    enc = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    x = torch.randn(3, 7, 32)
    kwargs = {}
    if mask == "key_padding":
        pad = torch.zeros(3, 7, dtype=torch.bool)
        pad[0, 4:] = True
        pad[2, 1:] = True
        kwargs["src_key_padding_mask"] = pad
    elif mask == "causal":  # is_causal given: torch's own check of the mask breaks dynamo's graph
        kwargs.update(mask=torch.nn.Transformer.generate_square_subsequent_mask(7), is_causal=True)
    with torch.no_grad():
        want = enc(x, **kwargs)
        got = torch.compile(enc, backend="webnn", options={"cache": False})(x, **kwargs)
    assert_close(got, want, atol=1e-5, rtol=1e-5)
    total = reports_total()
    assert total["webnn_nodes"] > 0 and total["torch_nodes"] == 0, [r.format() for r in wt.reports()]


@pytest.mark.parametrize("need_weights, average", [(False, True), (True, True), (True, False)])
def test_torch_multihead_attention_in_eval_runs_on_webnn(need_weights, average):
    """nn.MultiheadAttention in eval mode without grad, with a key padding mask (dynamo traces
    its functional path; its fused op is checked against torch's kernel below)."""
    mha = torch.nn.MultiheadAttention(32, 4, batch_first=True).eval()
    x = torch.randn(3, 5, 32)
    pad = torch.zeros(3, 5, dtype=torch.bool)
    pad[1, 3:] = True

    def attend(a, p):
        return mha(a, a, a, key_padding_mask=p, need_weights=need_weights, average_attn_weights=average)

    with torch.no_grad():
        want = attend(x, pad)
        got = torch.compile(attend, backend="webnn", options={"cache": False})(x, pad)
    assert_close(got[0], want[0])
    assert (got[1] is None) == (want[1] is None)
    if want[1] is not None:
        assert_close(got[1], want[1])
    total = reports_total()
    assert total["webnn_nodes"] > 0 and total["torch_nodes"] == 0, [r.format() for r in wt.reports()]


@pytest.mark.parametrize("mask_type", [None, 0, 1, 2])
def test_fast_path_decompositions_equal_torch_kernels(mask_type):
    """The decompositions against torch's fused kernels themselves, eager, for every mask
    layout, both norm placements and activations, weights returned or not; a fully masked
    row is NaN in both."""
    from webnn.integrations.torch import fastpath

    b, length, e, h = 3, 5, 32, 4
    mha = torch.nn.MultiheadAttention(e, h, batch_first=True).eval()
    x = torch.randn(b, length, e)
    mask = None
    if mask_type in (None, 2):
        mask = torch.rand(b, h, length, length) < 0.3
        mask[2, 1] = True  # one fully masked row set
    elif mask_type == 0:
        mask = torch.ones(length, length, dtype=torch.bool).triu(1)
    elif mask_type == 1:
        mask = torch.zeros(b, length, dtype=torch.bool)
        mask[1, 3:] = True
        mask[2, :] = True
    params = (mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight, mha.out_proj.bias)
    with torch.no_grad():
        for need, average in ((False, True), (True, True), (True, False)):
            want = torch._native_multi_head_attention(x, x, x, e, h, *params, mask, need, average, mask_type)
            got = fastpath.native_multi_head_attention(x, x, x, e, h, *params, mask, need, average, mask_type)
            torch.testing.assert_close(got[0], want[0], atol=1e-5, rtol=1e-5, equal_nan=True)
            assert (got[1] is None) == (want[1] is None)
            if want[1] is not None:
                torch.testing.assert_close(got[1], want[1], atol=1e-5, rtol=1e-5, equal_nan=True)
        layer = torch.nn.TransformerEncoderLayer(e, h, 64, batch_first=True).eval()
        rest = [layer.linear1.weight, layer.linear1.bias, layer.linear2.weight, layer.linear2.bias]
        norms = [layer.norm1.weight, layer.norm1.bias, layer.norm2.weight, layer.norm2.bias]
        for use_gelu, norm_first in ((False, False), (True, True)):
            args = (x, e, h, *params, use_gelu, norm_first, 1e-5, *norms, *rest, mask, mask_type)
            torch.testing.assert_close(fastpath.transformer_encoder_layer_fwd(*args),
                                       torch._transformer_encoder_layer_fwd(*args), atol=1e-5, rtol=1e-5,
                                       equal_nan=True)


def test_attention_with_boolean_mask():
    m = models.EncoderBlock().eval()
    x = torch.randn(2, 6, 32)
    mask = torch.ones(6, 6, dtype=torch.bool).tril()
    got, _ = compile_run(m, x, mask)
    assert_close(got, m(x, mask), atol=1e-4, rtol=1e-4)


def test_unsupported_op_mid_graph_falls_back_to_torch():
    m = models.WithUnsupportedOp().eval()
    x = torch.randn(4, 8)
    got, _ = compile_run(m, x, options={"report": True})
    assert_close(got, m(x), atol=1e-5, rtol=1e-5)
    r = wt.last_report()
    assert r.fallbacks == {"aten.erfinv": {"no converter": 1}}
    assert r.torch_nodes == 1 and len(r.partitions) == 2
    assert "aten.erfinv: no converter" in r.format()


def test_integer_and_bool_graph_is_exact():
    x = torch.randint(-6, 6, (5, 7))
    y = torch.randint(-6, 6, (5, 7), dtype=torch.int32)
    mask = torch.rand(5, 7) > 0.4
    got, _ = compile_run(models.integer_and_bool, x, y, mask)
    assert_close(got, models.integer_and_bool(x, y, mask))
    r = wt.last_report()
    assert r.torch_nodes == 0, r.format()
    assert got[3].dtype == torch.bool


def test_float64_stays_in_torch_with_the_reason():
    def f(x):
        return torch.relu(x) * 2

    x = torch.randn(3, 4, dtype=torch.float64)
    got, _ = compile_run(f, x)
    assert_close(got, f(x))
    reasons = {r for per in wt.last_report().fallbacks.values() for r in per}
    assert any("float64" in r for r in reasons), reasons


# -- options ------------------------------------------------------------------------------
def test_torch_ops_option_forces_ops_to_torch():
    m = models.ResNet().eval()
    x = torch.randn(1, 3, 32, 32)
    got, _ = compile_run(m, x, options={"torch_ops": ["aten.convolution"]})
    assert_close(got, m(x), atol=1e-4, rtol=1e-4)
    assert wt.last_report().fallbacks["aten.convolution"] == {"forced to torch by the torch_ops option": 6}


def test_min_partition_size_keeps_small_partitions_in_torch():
    m = models.WithUnsupportedOp().eval()
    x = torch.randn(4, 8)
    got, _ = compile_run(m, x, options={"min_partition_size": 100})
    assert_close(got, m(x))
    r = wt.last_report()
    assert r.webnn_nodes == 0 and not r.partitions
    assert any("min_partition_size=100" in reason for per in r.fallbacks.values() for reason in per)


def test_fallback_raise_lists_the_unsupported_ops():
    m = models.WithUnsupportedOp().eval()
    with pytest.raises(Exception, match=r"aten\.erfinv: no converter"):
        compile_run(m, torch.randn(4, 8), options={"fallback": "raise"})


def test_unknown_options_are_rejected_naming_the_valid_ones():
    with pytest.raises(Exception, match=r"unknown option\(s\) \['colour'\].*valid options are"):
        compile_run(models.MLP(), torch.randn(2, 16), options={"colour": "blue"})
    with pytest.raises(TypeError, match="fallback"):
        wt.parse_options({"fallback": "sometimes"})
    with pytest.raises(TypeError, match="min_partition_size"):
        wt.parse_options({"min_partition_size": 0})


def test_environment_variables_are_read_and_options_win(monkeypatch):
    monkeypatch.setenv("WEBNN_TORCH_OPS", "aten.relu, aten.addmm")
    monkeypatch.setenv("WEBNN_TORCH_MIN_PARTITION", "3")
    opts = wt.parse_options(None)
    assert opts.torch_ops == ("aten.addmm", "aten.relu") and opts.min_partition_size == 3
    assert wt.parse_options({"min_partition_size": 1}).min_partition_size == 1


def test_importing_the_backend_changes_no_torch_settings():
    code = textwrap.dedent("""
        import torch, torch._dynamo, torch._functorch.config as fc
        before = (torch._dynamo.config.get_config_copy(), fc.get_config_copy(), torch.get_default_dtype(),
                  torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
        import webnn.integrations.torch
        after = (torch._dynamo.config.get_config_copy(), fc.get_config_copy(), torch.get_default_dtype(),
                 torch.are_deterministic_algorithms_enabled(), torch.get_num_threads())
        assert before == after
        print("same")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "same" in out.stdout, out.stderr[-2000:]


# -- entry point ---------------------------------------------------------------------------------------
def test_backend_registered_by_entry_point_in_a_fresh_interpreter(tmp_path):
    code = textwrap.dedent("""
        import sys, torch
        m = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.GELU(), torch.nn.Linear(5, 3)).eval()
        x = torch.randn(4, 6)
        with torch.no_grad():
            y = torch.compile(m, backend="webnn")(x)
            assert torch.allclose(y, m(x), atol=1e-5), (y, m(x))
        assert "webnn" in sys.modules  # loaded by dynamo through the entry point, not by us
        print("matched")
    """)
    env = {**os.environ, "WEBNN_TORCH_REPORT": "1", "WEBNN_CACHE_DIR": str(tmp_path / "c")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                         cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "matched" in out.stdout
    assert "webnn torch.compile graph" in out.stderr and "ATen nodes on WebNN" in out.stderr


# -- autograd, shapes, weights, outputs -----------------------------------------------------------------
def test_training_forward_on_webnn_backward_in_torch():
    m = models.MLP()
    x = torch.randn(6, 16)
    compiled = torch.compile(m, backend="webnn", options={"cache": False})
    loss = compiled(x).pow(2).sum()
    loss.backward()
    got = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    m(x).pow(2).sum().backward()
    for g, p in zip(got, m.parameters()):
        torch.testing.assert_close(g, p.grad, atol=1e-5, rtol=1e-5)
    r = wt.last_report()
    assert r.mode == "training" and r.webnn_nodes > 0


def test_new_input_shapes_recompile_per_signature():
    m = models.MLP().eval()
    compiled = torch.compile(m, backend="webnn", options={"cache": False})
    with torch.no_grad():
        for batch in (2, 3, 5, 3, 2):
            x = torch.randn(batch, 16)
            assert_close(compiled(x), m(x))
    import re

    pattern = re.compile(r"(?<=, )float32\[(\d+), 16\]")
    batches = {int(b) for r in wt.reports() if r.path == "aot" for b in pattern.findall(r.signature)}
    assert batches == {2, 3, 5}, [r.signature for r in wt.reports()]
    # dynamo marks the batch dynamic at the second shape; WebNN specialises it per concrete shape
    assert any(r.path == "specializing" for r in wt.reports())


def test_weight_update_after_compile_is_used():
    m = models.MLP().eval()
    x = torch.randn(4, 16)
    compiled = torch.compile(m, backend="webnn", options={"cache": False})
    with torch.no_grad():
        before = compiled(x)
        m.net[0].weight.mul_(-1.5)
        m.net[2].bias.add_(1.0)
        after = compiled(x)
        assert_close(after, m(x))
    assert not torch.allclose(before, after)


def test_outputs_are_ordinary_tensors():
    m = models.MLP().eval()
    x = torch.randn(3, 16)
    with torch.no_grad():
        y = torch.compile(m, backend="webnn", options={"cache": False})(x)
    assert not y.is_inference()
    y.add_(1)  # in-place works
    w = torch.randn(4, requires_grad=True)
    (y * w).sum().backward()  # and autograd can read it
    assert w.grad is not None


def test_no_copies_at_the_graph_boundary(monkeypatch):
    """The caller's tensor itself reaches the WebNN graph, and (under inference_mode,
    where no output needs a clone) the tensor the graph produced is what the caller gets."""
    seen = []
    real = webnn.MLContext.compute_native

    def spy(self, graph, inputs):
        out = real(self, graph, inputs)
        seen.append((dict(inputs), out))
        return out

    m = models.MLP().eval()
    x = torch.randn(3, 16)
    compiled = torch.compile(m, backend="webnn", options={"cache": False})
    monkeypatch.setattr(webnn.MLContext, "compute_native", spy)
    with torch.inference_mode():
        compiled(x)
        got = compiled(x)
        expected = m(x)
    assert_close(got, expected)
    inputs, outputs = seen[-1]
    assert any(t is x for t in inputs.values()), "the input was copied on its way in"
    assert any(t is got for t in outputs.values()), "the output was copied on its way out"


# -- cache ------------------------------------------------------------------------------------------------
_CACHE_SCRIPT = """
import json, sys, torch
sys.path.insert(0, {models_dir!r})
import models
import webnn.integrations.torch as wt
torch.manual_seed(int(sys.argv[2]))
kind = sys.argv[3]
if kind == "resnet":
    m, args = models.ResNet().eval(), (torch.randn(2, 3, 32, 32),)
elif kind == "encoder":
    m, args = models.Encoder().eval(), (torch.randint(0, 100, (2, 12)),)
else:
    m, args = models.WithUnsupportedOp().eval(), (torch.randn(4, 8),)
with torch.no_grad():
    got = torch.compile(m, backend="webnn", options={{"cache_dir": sys.argv[1]}})(*args)
    err = (got - m(*args)).abs().max().item()
print(json.dumps({{"stats": wt.cache_stats(), "err": err,
                  "paths": [r.path for r in wt.reports()],
                  "cache": [p.cache for r in wt.reports() for p in r.partitions]}}))
"""


def _run_cache_script(tmp_path: Path, cache_dir: Path, seed: int, kind: str) -> dict:
    script = tmp_path / "run_cached.py"
    script.write_text(_CACHE_SCRIPT.format(models_dir=str(HERE)))
    out = subprocess.run([sys.executable, str(script), str(cache_dir), str(seed), kind], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["resnet", "encoder"])
def test_second_process_hits_the_cache(tmp_path, kind):
    if not _cache_works(tmp_path):
        pytest.skip("the core graph cache is not available in this build")
    cache_dir = tmp_path / "shared-cache"
    first = _run_cache_script(tmp_path, cache_dir, 0, kind)
    assert first["stats"]["conversions"] == 1 and first["stats"]["saves"] == 2 and first["err"] < 1e-4
    second = _run_cache_script(tmp_path, cache_dir, 0, kind)
    # the whole graph came from the cache: no AOT tracing, no conversion, no build
    assert second["stats"]["graph_hits"] == 1
    assert second["stats"]["aot_traces"] == 0 and second["stats"]["conversions"] == 0
    assert second["paths"] == ["cache"] and second["err"] < 1e-4


def test_second_process_hits_each_partition_around_a_fallback(tmp_path):
    if not _cache_works(tmp_path):
        pytest.skip("the core graph cache is not available in this build")
    cache_dir = tmp_path / "shared-cache"
    first = _run_cache_script(tmp_path, cache_dir, 0, "unsupported")
    assert first["cache"] == ["miss", "miss"] and first["stats"]["conversions"] == 2
    # other weights: parameters are graph inputs, so the cached graphs serve them correctly
    second = _run_cache_script(tmp_path, cache_dir, 1, "unsupported")
    assert second["cache"] == ["hit", "hit"] and second["stats"]["conversions"] == 0
    assert second["stats"]["partition_hits"] == 2 and second["err"] < 1e-5


# -- devices -------------------------------------------------------------------------------------------------
@pytest.mark.cuda
def test_cuda_resnet_matches_eager_without_host_round_trip(monkeypatch):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    devices = []
    real = webnn.MLContext.compute_native

    def spy(self, graph, inputs):
        out = real(self, graph, inputs)
        devices.extend(t.device.type for t in (*inputs.values(), *out.values()))
        return out

    monkeypatch.setattr(webnn.MLContext, "compute_native", spy)
    m = models.ResNet().eval().cuda()
    x = torch.randn(2, 3, 32, 32, device="cuda")
    got, _ = compile_run(m, x)
    assert devices and set(devices) == {"cuda"}, "a value crossed to WebNN through the host"
    assert got.device.type == "cuda"
    assert_close(got, m(x), atol=1e-3, rtol=1e-3)
    assert wt.last_report().device.startswith("cuda") and wt.last_report().torch_nodes == 0


def test_a_failing_converter_costs_one_op_not_the_graph(monkeypatch):
    """A converter that raises sends its node to torch (warning, reason in the report);
    the rest of the graph still runs on WebNN."""
    from webnn.integrations.torch.converters import REGISTRY

    from webnn.converters import Converter

    target = torch.ops.aten.sin.default
    real = REGISTRY.get(target)

    def broken(cx, node):
        raise RuntimeError("converter bug")

    monkeypatch.setitem(REGISTRY._converters, target, Converter(real.key, broken, real.check, real.webnn_ops))

    def f(x):
        return torch.sin(x + 1) * 2 + torch.cos(x)

    x = torch.randn(5)
    with pytest.warns(RuntimeWarning, match="conversion failed"):
        got, _ = compile_run(f, x)
    assert_close(got, f(x))
    r = wt.last_report()
    assert r.fallbacks == {"aten.sin": {"conversion failed: RuntimeError: converter bug": 1}}
    assert r.webnn_nodes == 4


def test_outputs_that_are_views_of_inputs_stay_views():
    """Strided slices, transposes and reshapes of an input come back as views of it (as in
    eager; AOT regenerates them from the input), computed outputs come back right."""

    def f(x):
        return x.t(), x[1:, ::2], x.reshape(-1), x[::3, 1:5:2] * 2 + 1

    x = torch.randn(7, 6)
    got, _ = compile_run(f, x)
    expected = f(x)
    assert_close(got, expected)
    assert [g._base is x for g in got] == [True, True, True, False]
