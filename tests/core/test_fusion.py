"""Fusion rules: op types after the rewrite, numbers equal to the unfused graph, reasons.

Each positive case builds the same computation twice with the public builder: once
so the rule applies, once with the fusion blocked (a parameter fed as a graph input
instead of a constant, or the intermediate result also made a graph output). Both run
with the same seeded inputs; the outputs must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder
from webnn.backends.torch.lowerings._fused import FUSABLE
from webnn.passes.fusion import (
    FUSABLE_ACTIVATIONS,
    FoldAddIntoBias,
    FoldBatchNormIntoConv,
    FuseActivation,
    FuseResidualAdd,
    FusionPass,
    explain,
    fusion_passes,
)
from webnn.passes.layout import ConstantFilterLayout


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def f32(rng, *shape, low=None):
    if low is not None:
        return (low + rng.random(shape)).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def reasons(graph, rule_name):
    return [o.reason for o in explain(graph.ir) if o.rule == rule_name]


# -- batch normalization into conv2d -------------------------------------------------------

def conv_bn_graph(ctx, rng_seed, *, layout="nchw", filter_layout="oihw", params_as_inputs=False,
                  conv_bias=True, activation=True, dtype=np.float32):
    """conv2d -> batch_normalization (-> relu); returns (graph, feeds)."""
    rng = np.random.default_rng(rng_seed)
    dt = "float32" if dtype == np.float32 else "float16"
    builder = MLGraphBuilder(ctx)
    x_shape = [2, 3, 6, 6] if layout == "nchw" else [2, 6, 6, 3]
    x = builder.input("x", {"dataType": dt, "shape": x_shape})
    w = f32(rng, 4, 3, 3, 3).astype(dtype)  # oihw
    w = np.ascontiguousarray(np.transpose(w, ["oihw".index(ch) for ch in filter_layout]))
    options = {"padding": [1, 1, 1, 1], "input_layout": layout, "filter_layout": filter_layout}
    if conv_bias:
        options["bias"] = builder.constant(f32(rng, 4).astype(dtype))
    y = builder.conv2d(x, builder.constant(w), **options)
    params = {"mean": f32(rng, 4), "variance": f32(rng, 4, low=0.5), "scale": f32(rng, 4, low=0.5),
              "bias": f32(rng, 4)}
    feeds = {"x": f32(rng, *x_shape).astype(dtype)}
    ops = {}
    for name, value in params.items():
        value = value.astype(dtype)
        if params_as_inputs:
            ops[name] = builder.input(name, {"dataType": dt, "shape": [4]})
            feeds[name] = value
        else:
            ops[name] = builder.constant(value)
    y = builder.batch_normalization(y, ops["mean"], ops["variance"], scale=ops["scale"], bias=ops["bias"],
                                    axis=1 if layout == "nchw" else 3, epsilon=1e-3)
    if activation:
        y = builder.relu(y)
    return builder.build({"y": y}), feeds


@pytest.mark.parametrize(("layout", "filter_layout"), [("nchw", "oihw"), ("nchw", "hwio"), ("nhwc", "ohwi"),
                                                       ("nhwc", "ihwo")])
@pytest.mark.parametrize("conv_bias", [True, False], ids=["conv-bias", "no-conv-bias"])
def test_batch_norm_folds_into_conv2d(ctx, layout, filter_layout, conv_bias):
    fused, feeds = conv_bn_graph(ctx, 5, layout=layout, filter_layout=filter_layout, conv_bias=conv_bias)
    assert fused.ir.op_counts() == {"conv2d": 1}
    (node,) = fused.ir.nodes
    assert node.attrs["activation"] == {"op": "relu", "attrs": {}}
    assert node.inputs[2] is not None and node.inputs[2] in fused.ir.constants
    unfused, unfused_feeds = conv_bn_graph(ctx, 5, layout=layout, filter_layout=filter_layout,
                                           conv_bias=conv_bias, params_as_inputs=True)
    assert unfused.ir.op_counts() == {"conv2d": 1, "batch_normalization": 1, "relu": 1}
    np.testing.assert_array_equal(feeds["x"], unfused_feeds["x"])
    got = ctx.compute(fused, feeds)["y"]
    want = ctx.compute(unfused, unfused_feeds)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_batch_norm_fold_float16(ctx):
    fused, feeds = conv_bn_graph(ctx, 6, dtype=np.float16)
    assert fused.ir.op_counts() == {"conv2d": 1}
    unfused, unfused_feeds = conv_bn_graph(ctx, 6, dtype=np.float16, params_as_inputs=True)
    got = ctx.compute(fused, feeds)["y"].astype(np.float32)
    want = ctx.compute(unfused, unfused_feeds)["y"].astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=2e-2)


def test_batch_norm_with_input_params_is_not_folded(ctx):
    graph, _ = conv_bn_graph(ctx, 5, params_as_inputs=True, activation=False)
    assert graph.ir.op_counts() == {"conv2d": 1, "batch_normalization": 1}
    assert reasons(graph, FoldBatchNormIntoConv.name) == ["the batch_normalization mean is not a constant"]


def test_batch_norm_fold_needs_constant_filter(ctx):
    rng = np.random.default_rng(0)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 4, 4]})
    w = builder.input("w", {"dataType": "float32", "shape": [2, 2, 1, 1]})
    y = builder.conv2d(x, w)
    c = [builder.constant(f32(rng, 2, low=0.5)) for _ in range(2)]
    graph = builder.build({"y": builder.batch_normalization(y, c[0], c[1])})
    assert graph.ir.op_counts() == {"conv2d": 1, "batch_normalization": 1}
    assert reasons(graph, FoldBatchNormIntoConv.name) == ["the conv2d filter is not a constant"]


def test_batch_norm_fold_needs_channel_axis_and_sole_use(ctx):
    rng = np.random.default_rng(0)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 4, 3]})
    y = builder.conv2d(x, builder.constant(f32(rng, 2, 2, 1, 1)))
    c = [builder.constant(f32(rng, 4, low=0.5)) for _ in range(2)]
    z = builder.batch_normalization(y, c[0], c[1], axis=2)
    graph = builder.build({"z": z})
    assert reasons(graph, FoldBatchNormIntoConv.name) == [
        "batch_normalization axis 2 is not the conv2d channel axis 1"]

    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 4, 3]})
    y = builder.conv2d(x, builder.constant(f32(rng, 2, 2, 1, 1)))
    c = [builder.constant(f32(rng, 2, low=0.5)) for _ in range(2)]
    graph = builder.build({"y": y, "z": builder.batch_normalization(y, c[0], c[1])})
    assert reasons(graph, FoldBatchNormIntoConv.name) == ["the conv2d output is a graph output"]


# -- add of a constant into the bias --------------------------------------------------------

def _add_graph(ctx, seed, host, const_shape, expose=False):
    """host (conv2d nchw / gemm / matmul) -> add(constant); ``expose`` blocks the fusion."""
    rng = np.random.default_rng(seed)
    builder = MLGraphBuilder(ctx)
    if host == "conv2d":
        x = builder.input("x", {"dataType": "float32", "shape": [1, 3, 5, 5]})
        feeds = {"x": f32(rng, 1, 3, 5, 5)}
        y = builder.conv2d(x, builder.constant(f32(rng, 4, 3, 3, 3)), bias=builder.constant(f32(rng, 4)))
    elif host == "gemm":
        x = builder.input("x", {"dataType": "float32", "shape": [3, 4]})
        feeds = {"x": f32(rng, 3, 4)}
        y = builder.gemm(x, builder.constant(f32(rng, 5, 4)), c=builder.constant(f32(rng, 5)), beta=2.0,
                         b_transpose=True)
    else:
        rank = len(const_shape) if len(const_shape) > 2 else 2
        shape = [2] * (rank - 2) + [3, 4]
        x = builder.input("x", {"dataType": "float32", "shape": shape})
        feeds = {"x": f32(rng, *shape)}
        y = builder.matmul(x, builder.constant(f32(rng, 4, 5)))
    z = builder.add(builder.constant(f32(rng, *const_shape)), y)
    outputs = {"z": z, "y": y} if expose else {"z": z}
    return builder.build(outputs), feeds


@pytest.mark.parametrize(("host", "const_shape", "after"), [
    ("conv2d", (4, 1, 1), {"conv2d": 1}),
    ("conv2d", (1, 4, 1, 1), {"conv2d": 1}),
    ("conv2d", (1,), {"conv2d": 1}),
    ("gemm", (3, 5), {"gemm": 1}),
    ("gemm", (5,), {"gemm": 1}),
    ("matmul", (5,), {"gemm": 1}),
    ("matmul", (3, 1), {"gemm": 1}),
])
def test_add_of_constant_folds_into_bias(ctx, host, const_shape, after):
    fused, feeds = _add_graph(ctx, 11, host, const_shape)
    assert fused.ir.op_counts() == after
    unfused, _ = _add_graph(ctx, 11, host, const_shape, expose=True)
    assert unfused.ir.op_counts()["add"] == 1
    assert reasons(unfused, FoldAddIntoBias.name) == [f"the {host} output is a graph output"]
    np.testing.assert_allclose(ctx.compute(fused, feeds)["z"], ctx.compute(unfused, feeds)["z"],
                               rtol=1e-5, atol=1e-5)


def test_add_not_per_channel_is_not_folded(ctx):
    graph, _ = _add_graph(ctx, 1, "conv2d", (3, 3))
    assert graph.ir.op_counts() == {"conv2d": 1, "add": 1}
    assert reasons(graph, FoldAddIntoBias.name) == [
        "the constant [3, 3] is not one value per channel of the conv2d output (channel axis 1)"]


def test_add_after_batched_matmul_is_not_folded(ctx):
    graph, _ = _add_graph(ctx, 1, "matmul", (2, 3, 5))
    assert graph.ir.op_counts() == {"matmul": 1, "add": 1}
    assert reasons(graph, FoldAddIntoBias.name) == [
        "the matmul is not 2-D (ranks [3, 2]); torch adds a bias only in 2-D addmm"]


def test_add_that_broadcasts_is_not_folded(ctx):
    graph, _ = _add_graph(ctx, 1, "gemm", (2, 3, 5))
    assert reasons(graph, FoldAddIntoBias.name) == ["the add broadcasts the gemm output [3, 5] to [2, 3, 5]"]


# -- activations ----------------------------------------------------------------------------

ACTIVATIONS = [
    ("relu", {}),
    ("clamp", {"min_value": -0.5, "max_value": 0.75}),
    ("clamp", {"min_value": 0.0}),
    ("leaky_relu", {"alpha": 0.2}),
    ("sigmoid", {}),
    ("tanh", {}),
]


def _act_graph(ctx, seed, host, act, options, expose=False):
    rng = np.random.default_rng(seed)
    builder = MLGraphBuilder(ctx)
    if host == "gemm":
        x = builder.input("x", {"dataType": "float32", "shape": [3, 4]})
        feeds = {"x": f32(rng, 3, 4)}
        y = builder.gemm(x, builder.constant(f32(rng, 4, 6)), alpha=0.5)
    elif host == "conv_transpose2d":
        x = builder.input("x", {"dataType": "float32", "shape": [1, 3, 3, 2]})
        feeds = {"x": f32(rng, 1, 3, 3, 2)}
        y = builder.conv_transpose2d(x, builder.constant(f32(rng, 3, 3, 2, 2)), strides=[2, 2],
                                     padding=[0, 1, 1, 0], input_layout="nhwc", filter_layout="ohwi")
    else:
        x = builder.input("x", {"dataType": "float32", "shape": [1, 5, 5, 3]})
        feeds = {"x": f32(rng, 1, 5, 5, 3)}
        y = builder.conv2d(x, builder.constant(f32(rng, 3, 3, 1, 3)), input_layout="nhwc",
                           filter_layout="hwio", groups=3, padding=[1, 0, 0, 1])
    z = getattr(builder, act)(y, **options)
    return builder.build({"z": z, "y": y} if expose else {"z": z}), feeds


@pytest.mark.parametrize("host", ["conv2d", "conv_transpose2d", "gemm"])
@pytest.mark.parametrize(("act", "options"), ACTIVATIONS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(ACTIVATIONS)])
def test_activation_fuses_into_host(ctx, host, act, options):
    fused, feeds = _act_graph(ctx, 3, host, act, options)
    assert fused.ir.op_counts() == {host: 1}
    assert fused.ir.nodes[0].attrs["activation"]["op"] == act
    unfused, _ = _act_graph(ctx, 3, host, act, options, expose=True)
    assert unfused.ir.op_counts() == {host: 1, act: 1}
    assert reasons(unfused, FuseActivation.name) == [f"the {host} output is a graph output"]
    np.testing.assert_allclose(ctx.compute(fused, feeds)["z"], ctx.compute(unfused, feeds)["z"],
                               rtol=1e-6, atol=1e-6)


def test_only_one_activation_fuses(ctx):
    rng = np.random.default_rng(0)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [2, 3]})
    y = builder.gemm(x, builder.constant(f32(rng, 3, 3)))
    z = builder.clamp(builder.relu(y), max_value=0.5)
    graph = builder.build({"z": z})
    assert graph.ir.op_counts() == {"gemm": 1, "clamp": 1}
    assert reasons(graph, FuseActivation.name) == ["the gemm already applies a fused activation"]
    feed = f32(rng, 2, 3)
    w = graph.ir.constants[graph.ir.nodes[0].inputs[1]]
    want = np.clip(np.maximum(feed.astype(np.float64) @ w, 0), None, 0.5)
    np.testing.assert_allclose(ctx.compute(graph, {"x": feed})["z"], want, rtol=1e-6, atol=1e-6)


def test_activation_of_a_result_read_twice_is_not_fused(ctx):
    rng = np.random.default_rng(0)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [2, 3]})
    y = builder.gemm(x, builder.constant(f32(rng, 3, 3)))
    graph = builder.build({"z": builder.add(builder.relu(y), y)})
    assert graph.ir.op_counts() == {"gemm": 1, "relu": 1, "add": 1}
    assert reasons(graph, FuseActivation.name) == ["the gemm output is read 2 times"]


def test_resnet_block_fuses_to_convolutions(ctx):
    """conv-bn-relu, conv-bn, add(shortcut), relu: two convs with everything folded."""

    def block(blocked):
        builder = MLGraphBuilder(ctx)
        x = builder.input("x", {"dataType": "float32", "shape": [1, 4, 6, 6]})
        feeds = {"x": f32(np.random.default_rng(9), 1, 4, 6, 6)}
        local = np.random.default_rng(2)

        def bn(t, name):
            vals = [f32(local, 4), f32(local, 4, low=0.5), f32(local, 4, low=0.5), f32(local, 4)]
            if blocked:
                ops = []
                for i, v in enumerate(vals):
                    ops.append(builder.input(f"{name}{i}", {"dataType": "float32", "shape": [4]}))
                    feeds[f"{name}{i}"] = v
            else:
                ops = [builder.constant(v) for v in vals]
            return builder.batch_normalization(t, ops[0], ops[1], scale=ops[2], bias=ops[3])

        y = builder.relu(bn(builder.conv2d(x, builder.constant(f32(local, 4, 4, 3, 3)), padding=[1] * 4), "a"))
        y = bn(builder.conv2d(y, builder.constant(f32(local, 4, 4, 3, 3)), padding=[1] * 4), "b")
        return builder.build({"y": builder.relu(builder.add(y, x))}), feeds

    fused, feeds = block(False)
    assert fused.ir.op_counts() == {"conv2d": 2}
    last = fused.ir.nodes[-1]
    assert last.attrs["residual"] is True and last.attrs["activation"]["op"] == "relu"
    assert last.inputs[3] == fused.ir.inputs["x"]
    unfused, unfused_feeds = block(True)
    assert unfused.ir.op_counts()["batch_normalization"] == 2
    np.testing.assert_allclose(ctx.compute(fused, feeds)["y"], ctx.compute(unfused, unfused_feeds)["y"],
                               rtol=1e-5, atol=1e-5)


# -- residual add into conv2d ----------------------------------------------------------------

def _residual_graph(ctx, seed, *, layout="nchw", act="relu", shortcut="input", expose=False, dtype="float32",
                    other_shape=None):
    """conv2d(x) + shortcut (-> act); the shortcut is x itself or a second conv2d of x."""
    rng = np.random.default_rng(seed)
    builder = MLGraphBuilder(ctx)
    shape = [2, 4, 5, 5] if layout == "nchw" else [2, 5, 5, 4]
    x = builder.input("x", {"dataType": dtype, "shape": shape})
    feeds = {"x": f32(rng, *shape).astype(dtype)}
    filter_layout = "oihw" if layout == "nchw" else "ohwi"
    w_shape = [4, 4, 3, 3] if layout == "nchw" else [4, 3, 3, 4]

    def conv(t):
        return builder.conv2d(t, builder.constant(f32(rng, *w_shape).astype(dtype)), padding=[1, 1, 1, 1],
                              bias=builder.constant(f32(rng, 4).astype(dtype)), input_layout=layout,
                              filter_layout=filter_layout)

    y = conv(x)
    if other_shape is not None:
        other = builder.input("other", {"dataType": dtype, "shape": other_shape})
        feeds["other"] = f32(rng, *other_shape).astype(dtype)
    else:
        other = x if shortcut == "input" else conv(x)
    z = builder.add(other, y) if shortcut == "input" else builder.add(y, other)
    if act is not None:
        z = getattr(builder, act)(z)
    outputs = {"z": z}
    if expose:
        outputs.update({"y": y} if shortcut == "input" else {"y": y, "other": other})
    return builder.build(outputs), feeds


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", None])
@pytest.mark.parametrize("shortcut", ["input", "conv"])
def test_residual_add_fuses_into_conv2d(ctx, layout, act, shortcut):
    fused, feeds = _residual_graph(ctx, 4, layout=layout, act=act, shortcut=shortcut)
    assert fused.ir.op_counts() == {"conv2d": 1 if shortcut == "input" else 2}
    node = fused.ir.nodes[-1]
    assert node.attrs["residual"] is True and len(node.inputs) == 4
    assert (node.attrs.get("activation") or {}).get("op") == act
    unfused, _ = _residual_graph(ctx, 4, layout=layout, act=act, shortcut=shortcut, expose=True)
    assert "add" in unfused.ir.op_counts()
    np.testing.assert_allclose(ctx.compute(fused, feeds)["z"], ctx.compute(unfused, feeds)["z"],
                               rtol=1e-5, atol=1e-5)


def test_residual_add_float16(ctx):
    fused, feeds = _residual_graph(ctx, 6, dtype="float16")
    assert fused.ir.op_counts() == {"conv2d": 1}
    unfused, _ = _residual_graph(ctx, 6, dtype="float16", expose=True)
    np.testing.assert_allclose(ctx.compute(fused, feeds)["z"].astype(np.float32),
                               ctx.compute(unfused, feeds)["z"].astype(np.float32), rtol=2e-3, atol=2e-3)


def test_residual_add_that_broadcasts_is_not_fused(ctx):
    graph, feeds = _residual_graph(ctx, 7, other_shape=[1, 4, 1, 1], act=None)
    assert graph.ir.op_counts() == {"conv2d": 1, "add": 1}
    assert reasons(graph, FuseResidualAdd.name) == [
        "the add broadcasts (conv2d [2, 4, 5, 5], other [1, 4, 1, 1])"]
    conv = graph.ir.nodes[0]
    w, b = graph.ir.constants[conv.inputs[1]], graph.ir.constants[conv.inputs[2]]
    want = torch.nn.functional.conv2d(torch.from_numpy(feeds["x"]).double(), torch.from_numpy(w).double(),
                                      torch.from_numpy(b).double(), padding=1).numpy() + feeds["other"]
    np.testing.assert_allclose(ctx.compute(graph, feeds)["z"], want, rtol=1e-5, atol=1e-5)


def test_batch_norm_after_a_residual_is_not_folded(ctx):
    rng = np.random.default_rng(8)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 4, 5, 5]})
    y = builder.add(builder.conv2d(x, builder.constant(f32(rng, 4, 4, 1, 1))), x)
    params = [builder.constant(v) for v in (f32(rng, 4), f32(rng, 4, low=0.5))]
    graph = builder.build({"z": builder.batch_normalization(y, *params)})
    assert graph.ir.op_counts() == {"conv2d": 1, "batch_normalization": 1}
    assert reasons(graph, FoldBatchNormIntoConv.name) == ["the conv2d already adds a residual"]
    feed = f32(rng, 1, 4, 5, 5)
    w = graph.ir.constants[graph.ir.nodes[0].inputs[1]].reshape(4, 4).astype(np.float64)
    mean, var = (graph.ir.constants[i] for i in graph.ir.nodes[1].inputs[1:3])
    pre = np.einsum("oi,nihw->nohw", w, feed) + feed
    want = (pre - mean.reshape(1, 4, 1, 1)) / np.sqrt(var.reshape(1, 4, 1, 1) + 1e-5)
    np.testing.assert_allclose(ctx.compute(graph, {"x": feed})["z"], want, rtol=1e-4, atol=1e-4)


# -- the pass itself ------------------------------------------------------------------------

def test_fusion_pass_contract(ctx):
    graph, _ = conv_bn_graph(ctx, 5)
    fused_ir = graph.ir
    result = FusionPass()(fused_ir)
    assert result.modified is False and result.graph is fused_ir
    unfused, _ = conv_bn_graph(ctx, 5, params_as_inputs=True)
    before = unfused.ir.op_counts()
    passed = FusionPass()(unfused.ir)
    assert passed.modified is False
    assert unfused.ir.op_counts() == before


def test_fusion_pass_leaves_its_input_unchanged(ctx):
    exposed, feeds = _act_graph(ctx, 4, "gemm", "relu", {}, expose=True)
    ir = exposed.ir.copy()
    del ir.outputs["y"]
    result = FusionPass()(ir)
    assert result.modified is True
    assert result.graph.op_counts() == {"gemm": 1}
    assert ir.op_counts() == {"gemm": 1, "relu": 1}
    assert "activation" not in ir.nodes[0].attrs


def test_pipeline_and_lowering_agree_on_activations():
    kinds = [type(p) for p in fusion_passes()]
    assert FusionPass in kinds and ConstantFilterLayout in kinds
    assert set(FUSABLE_ACTIVATIONS) == set(FUSABLE)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_cuda_fused_conv_bn_relu(layout):
    gpu = webnn.ml.create_context("cuda", cache=False)
    fused, feeds = conv_bn_graph(gpu, 5, layout=layout, filter_layout="hwio")
    assert fused.ir.op_counts() == {"conv2d": 1}
    unfused, unfused_feeds = conv_bn_graph(gpu, 5, layout=layout, filter_layout="hwio", params_as_inputs=True)
    np.testing.assert_allclose(gpu.compute(fused, feeds)["y"], gpu.compute(unfused, unfused_feeds)["y"],
                               rtol=1e-4, atol=1e-4)


# -- erf GELU (as ONNX exports it) -> gelu ------------------------------------------------

def erf_gelu_graph(ctx, *, form="x-first", scale_op="div", half=0.5, consts_as_inputs=False,
                   expose_erf=False):
    """``x * 0.5 * (1 + erf(x / sqrt 2))`` spelled out in elementwise ops; (graph, feeds)."""
    rng = np.random.default_rng(11)
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [3, 4, 5]})
    feeds = {"x": f32(rng, 3, 4, 5) * 3}
    values = {"k": np.float32(np.sqrt(2.0) if scale_op == "div" else 1 / np.sqrt(2.0)),
              "one": np.float32(1.0), "half": np.float32(half)}
    c = {}
    for name, value in values.items():
        if consts_as_inputs:
            c[name] = builder.input(name, {"dataType": "float32", "shape": []})
            feeds[name] = np.asarray(value, dtype=np.float32)
        else:
            c[name] = builder.constant(np.asarray(value, dtype=np.float32))
    scaled = builder.div(x, c["k"]) if scale_op == "div" else builder.mul(c["k"], x)
    erf = builder.erf(scaled)
    plus = builder.add(c["one"], erf)
    if form == "x-first":
        y = builder.mul(builder.mul(x, plus), c["half"])
    else:
        y = builder.mul(plus, builder.mul(c["half"], x))
    outputs = {"y": y, "e": erf} if expose_erf else {"y": y}
    return builder.build(outputs), feeds


@pytest.mark.parametrize("form", ["x-first", "half-first"])
@pytest.mark.parametrize("scale_op", ["div", "mul"])
def test_erf_gelu_becomes_gelu(ctx, form, scale_op):
    fused, feeds = erf_gelu_graph(ctx, form=form, scale_op=scale_op)
    assert fused.ir.op_counts() == {"gelu": 1}
    unfused, unfused_feeds = erf_gelu_graph(ctx, form=form, scale_op=scale_op, consts_as_inputs=True)
    assert "gelu" not in unfused.ir.op_counts() and unfused.ir.op_counts()["erf"] == 1
    got = ctx.compute(fused, feeds)["y"]
    want = ctx.compute(unfused, unfused_feeds)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, torch.nn.functional.gelu(torch.from_numpy(feeds["x"])).numpy(),
                               rtol=1e-5, atol=1e-6)


def test_erf_gelu_with_wrong_constant_is_not_fused(ctx):
    graph, feeds = erf_gelu_graph(ctx, half=0.6)
    assert "gelu" not in graph.ir.op_counts()
    assert reasons(graph, "fuse-erf-gelu") == ["the halving constant is 0.6000000238418579, not 0.5"]
    x = feeds["x"].astype(np.float64)
    want = x * 0.6 * (1 + torch.erf(torch.from_numpy(x / np.sqrt(2))).numpy())
    np.testing.assert_allclose(ctx.compute(graph, feeds)["y"], want, rtol=1e-5, atol=1e-5)


def test_erf_gelu_with_shared_intermediate_is_not_fused(ctx):
    graph, _ = erf_gelu_graph(ctx, expose_erf=True)
    assert "gelu" not in graph.ir.op_counts()
    assert reasons(graph, "fuse-erf-gelu") == ["the erf output is a graph output"]
