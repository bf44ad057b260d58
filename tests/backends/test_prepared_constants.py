"""Constants a lowering prepares once at build (``PrepareConstant``): conv2d filters.

On the CPU in float32 a conv2d with a constant filter runs on a oneDNN-prepacked copy of
it. These tests check the results against torch's own ``F.conv2d`` on the original
filter (an independent reference), that a filter fed as an input takes the plain path,
and that the cache export keeps the dense filter while a loaded executable prepacks
again.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

import webnn
from webnn import MLGraphBuilder
from webnn.backends.torch import onednn_blob
from webnn.backends.torch.backend import TorchBackend

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="needs oneDNN")


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def reference(x: np.ndarray, w_oihw: np.ndarray, b: np.ndarray | None, pads, strides, dilations,
              groups) -> np.ndarray:
    top, bottom, left, right = pads
    xt = F.pad(torch.from_numpy(x), (left, right, top, bottom))
    y = F.conv2d(xt, torch.from_numpy(w_oihw), None if b is None else torch.from_numpy(b),
                 strides, 0, dilations, groups)
    return y.numpy()


CASES = [  # (input layout, filter layout, padding, strides, dilations, groups, bias)
    ("nchw", "oihw", [1, 1, 1, 1], [1, 1], [1, 1], 1, True),
    ("nchw", "oihw", [0, 2, 1, 0], [2, 1], [1, 1], 1, False),
    ("nchw", "hwio", [1, 1, 1, 1], [1, 1], [2, 2], 1, True),
    ("nhwc", "ohwi", [1, 1, 1, 1], [2, 2], [1, 1], 1, True),
    ("nhwc", "ihwo", [2, 1, 0, 1], [1, 1], [1, 1], 1, False),
    ("nchw", "oihw", [1, 1, 1, 1], [1, 1], [1, 1], 4, True),  # grouped
    ("nchw", "oihw", [1, 1, 1, 1], [1, 1], [1, 1], 8, True),  # depthwise
]


def build_conv(ctx, seed, in_layout, filter_layout, pads, strides, dilations, groups, bias, *,
               filter_as_input=False, activation=False):
    rng = np.random.default_rng(seed)
    cin, cout = 8, 8 if groups == 8 else 12
    x = rng.standard_normal((2, cin, 9, 10)).astype(np.float32)
    w = rng.standard_normal((cout, cin // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    want = reference(x, w, b, pads, strides, dilations, groups)
    builder = MLGraphBuilder(ctx)
    x_in = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if in_layout == "nhwc" else x
    w_in = np.ascontiguousarray(w.transpose(["oihw".index(c) for c in filter_layout]))
    xo = builder.input("x", {"dataType": "float32", "shape": list(x_in.shape)})
    feeds = {"x": x_in}
    if filter_as_input:
        wo = builder.input("w", {"dataType": "float32", "shape": list(w_in.shape)})
        feeds["w"] = w_in
    else:
        wo = builder.constant(w_in)
    options = {"padding": pads, "strides": strides, "dilations": dilations, "groups": groups,
               "input_layout": in_layout, "filter_layout": filter_layout}
    if b is not None:
        options["bias"] = builder.constant(b)
    y = builder.conv2d(xo, wo, **options)
    if activation:
        y = builder.relu(y)
        want = np.maximum(want, 0)
    if in_layout == "nhwc":
        want = want.transpose(0, 2, 3, 1)
    return builder.build({"y": y}), feeds, want


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-p{''.join(map(str, c[2]))}-g{c[5]}")
def test_prepacked_conv2d_matches_torch(ctx, case):
    graph, feeds, want = build_conv(ctx, 3, *case)
    assert "p0" in graph._executable.source  # the filter went through the prepare hook
    got = ctx.compute(graph, feeds)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_prepacked_conv2d_with_fused_activation(ctx):
    graph, feeds, want = build_conv(ctx, 4, "nchw", "oihw", [1, 1, 1, 1], [1, 1], [1, 1], 1, True,
                                    activation=True)
    assert [n.op for n in graph.ir.nodes] == ["conv2d"]
    assert "p0" in graph._executable.source
    np.testing.assert_allclose(ctx.compute(graph, feeds)["y"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("activation", ["clamp", "clamp_max_only", "leaky_relu"])
def test_clamp_and_leaky_relu_run_inside_the_prepacked_kernel(ctx, activation):
    """relu6-style clamps and leaky relu become oneDNN eltwise post-ops (no separate pass);
    the result is bit for bit what the separate in-place op gives after the same kernel."""
    from torch.profiler import ProfilerActivity, profile

    rng = np.random.default_rng(9)
    x = (rng.standard_normal((1, 8, 12, 12)) * 4).astype(np.float32)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    conv = torch.from_numpy(reference(x, w, b, [1, 1, 1, 1], [1, 1], [1, 1], 1))
    builder = MLGraphBuilder(ctx)
    y = builder.conv2d(builder.input("x", {"dataType": "float32", "shape": [1, 8, 12, 12]}), builder.constant(w),
                       bias=builder.constant(b), padding=[1, 1, 1, 1])
    if activation == "clamp":
        y, want = builder.clamp(y, min_value=0.0, max_value=6.0), conv.clamp(0.0, 6.0)
    elif activation == "clamp_max_only":
        y, want = builder.clamp(y, max_value=1.5), conv.clamp(max=1.5)
    else:
        y, want = builder.leaky_relu(y, alpha=0.2), F.leaky_relu(conv, 0.2)
    graph = builder.build({"y": y})
    assert [n.op for n in graph.ir.nodes] == ["conv2d"] and "p0" in graph._executable.source
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        got = ctx.compute(graph, {"x": x})["y"]
    ran = {e.key for e in prof.key_averages()}
    assert not ran & {"aten::clamp_", "aten::clamp", "aten::leaky_relu_", "aten::leaky_relu"}, ran
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-4)


def test_filter_fed_as_input_is_not_prepared(ctx):
    graph, feeds, want = build_conv(ctx, 5, "nchw", "oihw", [1, 1, 1, 1], [1, 1], [1, 1], 1, True,
                                    filter_as_input=True)
    assert "p0" not in graph._executable.source
    np.testing.assert_allclose(ctx.compute(graph, feeds)["y"], want, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not onednn_blob.available(), reason="this torch build cannot restore oneDNN tensors")
@pytest.mark.parametrize(("in_layout", "filter_layout"), [("nchw", "oihw"), ("nhwc", "ohwi"), ("nchw", "hwio")])
def test_export_stores_the_prepacked_filter_and_load_wraps_it_in_place(ctx, in_layout, filter_layout):
    graph, feeds, want = build_conv(ctx, 6, in_layout, filter_layout, [1, 1, 1, 1], [1, 1], [1, 1], 1, True)
    backend = TorchBackend("cpu")
    header, arrays = backend.export(graph._executable)
    filter_id = graph.ir.nodes[0].inputs[1]
    assert f"c{filter_id}" not in arrays  # the dense filter is not stored twice
    entry = header["constants"][str(filter_id)]
    data = onednn_blob.aligned(np.array(arrays[entry["packed"]]))  # aligned and writable, as a cache read gives
    loaded = backend.load(header, {**arrays, entry["packed"]: data})
    packed = loaded.prepared[filter_id]
    assert packed.layout == torch._mkldnn and "p0" in loaded.source
    assert torch.ops.mkldnn.data_ptr(packed) == data.ctypes.data  # wrapped, not copied or reordered
    x = torch.from_numpy(feeds["x"])
    np.testing.assert_allclose(loaded.run([x])[0].numpy(), want, rtol=1e-4, atol=1e-4)
    # the loaded IR still tells the filter's true (dense) value
    np.testing.assert_array_equal(loaded.graph.constants[filter_id], np.asarray(graph.ir.constants[filter_id]))


def test_filter_read_by_two_convs_is_stored_dense(ctx):
    rng = np.random.default_rng(8)
    w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 4, 5, 5]})
    f = builder.constant(w)
    y = builder.conv2d(builder.conv2d(x, f, padding=[1, 1, 1, 1]), f, padding=[1, 1, 1, 1])
    graph = builder.build({"y": y})
    header, arrays = TorchBackend("cpu").export(graph._executable)
    filter_id = graph.ir.nodes[0].inputs[1]
    assert header["constants"][str(filter_id)] == {"array": f"c{filter_id}", "dtype": "<f4"}
    loaded = TorchBackend("cpu").load(header, arrays)
    feed = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    want = reference(reference(feed, w, None, [1, 1, 1, 1], [1, 1], [1, 1], 1), w, None, [1, 1, 1, 1], [1, 1],
                     [1, 1], 1)
    np.testing.assert_allclose(loaded.run([torch.from_numpy(feed)])[0].numpy(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not onednn_blob.available(), reason="this torch build cannot restore oneDNN tensors")
def test_bad_packed_bytes_are_refused_before_onednn_sees_them():
    w = torch.randn(8, 4, 3, 3)
    packed = torch.ops.mkldnn._reorder_convolution_weight(w, [1, 1], [1, 1], [1, 1], 1, [1, 4, 6, 6])
    data, descriptor = onednn_blob.to_arrays(packed)
    back = onednn_blob.from_arrays(data, descriptor, (8, 4, 3, 3))
    assert torch.equal(back.to_dense(), w)
    with pytest.raises(onednn_blob.PackedWeightError, match="cannot hold"):
        onednn_blob.from_arrays(onednn_blob.aligned(data[:100].copy()), descriptor, (8, 4, 3, 3))
    with pytest.raises(onednn_blob.PackedWeightError, match="aligned"):
        onednn_blob.from_arrays(np.frombuffer(data.tobytes(), np.uint8), descriptor, (8, 4, 3, 3))  # read-only
    with pytest.raises(onednn_blob.PackedWeightError, match="descriptor"):
        onednn_blob.from_arrays(data, np.zeros(0, np.uint8), (8, 4, 3, 3))
    with pytest.raises(onednn_blob.PackedWeightError, match="restored as"):
        onednn_blob.from_arrays(data, descriptor, (4, 8, 3, 3))  # not the shape the descriptor holds


def test_cpu_entries_are_stamped_with_the_cpu_capability():
    versions = TorchBackend("cpu").versions()
    if onednn_blob.available():
        assert versions["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    else:
        assert "cpu_capability" not in versions


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid"])
def test_residual_conv2d_plain_and_prepacked_paths(layout, activation):
    """A conv2d carrying a fused residual (``residual`` attribute, input 3), called through
    both of its lowering's paths: torch's F.conv2d + add (what CUDA and non-float32 run)
    and oneDNN's binary post-op on the prepacked filter."""
    from webnn.backends.torch.registry import LoweringNode, find, load_all
    from webnn.operand import MLOperandDescriptor

    load_all()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 7, 7)).astype(np.float32)
    w = rng.standard_normal((6, 6, 3, 3)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    res = rng.standard_normal((2, 6, 7, 7)).astype(np.float32)
    want = reference(x, w, b, [1, 1, 1, 1], [1, 1], [1, 1], 1) + res
    if activation == "relu":
        want = np.maximum(want, 0)
    elif activation == "sigmoid":
        want = 1 / (1 + np.exp(-want))
    to_layout = (lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1))) if layout == "nhwc" else (lambda a: a)
    w_in = np.ascontiguousarray(w.transpose(0, 2, 3, 1)) if layout == "nhwc" else w
    desc = MLOperandDescriptor("float32", to_layout(x).shape)
    attrs = {"padding": [1, 1, 1, 1], "strides": [1, 1], "dilations": [1, 1], "groups": 1,
             "input_layout": layout, "filter_layout": "ohwi" if layout == "nhwc" else "oihw", "residual": True}
    if activation:
        attrs["activation"] = {"op": activation, "attrs": {}}
    node = LoweringNode("conv2d", attrs, [desc, MLOperandDescriptor("float32", w_in.shape),
                                          MLOperandDescriptor("float32", b.shape), desc], [desc], torch.device("cpu"))
    run = find("conv2d", "cpu").factory(node)
    args = [torch.from_numpy(a) for a in (to_layout(x), w_in, b, to_layout(res))]
    with torch.inference_mode():
        plain = run(*args)
        hook = run.prepare_constant
        packed = hook.run(args[0], hook.prepare(args[1]), args[2], args[3])
    for got in (plain, packed):
        np.testing.assert_allclose(got.numpy(), to_layout(want), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("reuse", ["read-later", "graph-output", "dead"])
def test_residual_buffer_reused_only_when_dead(ctx, reuse):
    """A fused conv2d may accumulate into its residual's buffer (oneDNN sum post-op) only
    when nothing reads that value afterwards: a residual read later or returned as a graph
    output must come out unchanged."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 8, 6, 6)).astype(np.float32)
    w1, w2 = (rng.standard_normal((8, 8, 3, 3)).astype(np.float32) for _ in range(2))
    builder = MLGraphBuilder(ctx)
    xo = builder.input("x", {"dataType": "float32", "shape": [1, 8, 6, 6]})
    y = builder.conv2d(xo, builder.constant(w1), padding=[1, 1, 1, 1])
    y2 = builder.conv2d(builder.relu(xo), builder.constant(w2), padding=[1, 1, 1, 1])
    z = builder.relu(builder.add(y2, y))
    outputs = {"z": z}
    if reuse == "read-later":
        outputs = {"z": builder.mul(z, y)}
    elif reuse == "graph-output":
        outputs = {"z": z, "y": y}
    graph = builder.build(outputs)
    assert graph.ir.op_counts()["conv2d"] == 2 and any(n.attrs.get("residual") for n in graph.ir.nodes)
    ry = reference(x, w1, None, [1, 1, 1, 1], [1, 1], [1, 1], 1)
    rz = np.maximum(reference(np.maximum(x, 0), w2, None, [1, 1, 1, 1], [1, 1], [1, 1], 1) + ry, 0)
    got = ctx.compute(graph, {"x": x})
    want = {"z": rz * ry} if reuse == "read-later" else {"z": rz, "y": ry} if reuse == "graph-output" else {"z": rz}
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-4)
