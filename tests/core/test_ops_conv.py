"""conv2d and conv_transpose2d: shapes, values against numpy references, errors.

The references are direct numpy convolutions written here (loops over filter taps,
float64), with this file's own layout handling: data is made in NCHW / OIHW / IOHW
and transposed into the layout under test by the layout's letters.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def to_layout(array: np.ndarray, source: str, target: str) -> np.ndarray:
    """``array`` (axes named by ``source``) with its axes ordered as in ``target``."""
    return np.ascontiguousarray(np.transpose(array, [source.index(ch) for ch in target]))


def ref_conv2d(x, w, b, padding, strides, dilations, groups):
    """NCHW x OIHW direct convolution in float64."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), tuple(padding[:2]), tuple(padding[2:])))
    w = w.astype(np.float64)
    n, c, hp, wp = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    oh = (hp - (kh - 1) * dh - 1) // sh + 1
    ow = (wp - (kw - 1) * dw - 1) // sw + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * og:(g + 1) * og] += np.einsum("ncyx,oc->noyx", patch, ws[:, :, i, j])
    if b is not None:
        out += b.astype(np.float64)[None, :, None, None]
    return out


def ref_conv_transpose2d(x, w, b, padding, strides, dilations, groups, out_hw):
    """NCHW x IOHW transposed convolution (scatter form) in float64."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, ih, iw = x.shape
    _, og, kh, kw = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    full_h = max((ih - 1) * sh + (kh - 1) * dh + 1, padding[0] + out_hw[0])
    full_w = max((iw - 1) * sw + (kw - 1) * dw + 1, padding[2] + out_hw[1])
    full = np.zeros((n, og * groups, full_h, full_w))
    cg = c // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                contrib = np.einsum("ncyx,co->noyx", xs, ws[:, :, i, j])
                full[:, g * og:(g + 1) * og, i * dh:i * dh + sh * (ih - 1) + 1:sh,
                     j * dw:j * dw + sw * (iw - 1) + 1:sw] += contrib
    out = full[:, :, padding[0]:padding[0] + out_hw[0], padding[2]:padding[2] + out_hw[1]]
    if b is not None:
        out = out + b.astype(np.float64)[None, :, None, None]
    return out


def run(ctx, op, x, w, b, x_is_input=True, w_is_input=False, **options):
    """Build and run one convolution; x, w in the layouts given by the options."""
    builder = MLGraphBuilder(ctx)
    dt = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16"}[x.dtype]
    feeds = {}
    xo = builder.input("x", {"dataType": dt, "shape": list(x.shape)})
    feeds["x"] = x
    if w_is_input:
        wo = builder.input("w", {"dataType": dt, "shape": list(w.shape)})
        feeds["w"] = w
    else:
        wo = builder.constant(w)
    if b is not None:
        options["bias"] = builder.constant(b)
    y = getattr(builder, op)(xo, wo, **options)
    graph = builder.build({"y": y})
    out = ctx.compute(graph, feeds)["y"]
    assert list(out.shape) == list(y.shape)
    return out, graph


rng = np.random.default_rng(1234)

CONV_CASES = [
    # (id, N, C, H, W, O, kh, kw, options)
    ("plain", 1, 3, 6, 7, 4, 3, 3, {}),
    ("symmetric-pad-stride", 2, 3, 9, 8, 5, 3, 3, {"padding": [1, 1, 1, 1], "strides": [2, 2]}),
    ("asymmetric-pad", 1, 2, 5, 5, 3, 3, 3, {"padding": [1, 0, 0, 2]}),
    ("dilations", 1, 2, 9, 9, 2, 3, 3, {"dilations": [2, 3], "padding": [2, 2, 3, 3]}),
    ("groups", 1, 4, 6, 6, 6, 3, 3, {"groups": 2, "padding": [1, 1, 1, 1]}),
    ("depthwise", 1, 6, 7, 7, 6, 3, 3, {"groups": 6, "padding": [1, 1, 1, 1], "strides": [2, 2]}),
    ("pointwise", 1, 8, 4, 4, 5, 1, 1, {}),
    ("stride-non-square", 1, 3, 10, 9, 2, 2, 3, {"strides": [3, 2], "padding": [0, 1, 2, 0]}),
]


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("input_layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("filter_layout", ["oihw", "hwio", "ohwi", "ihwo"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_matches_reference(ctx, case, filter_layout, input_layout, bias):
    _, n, c, h, w_, o, kh, kw, options = case
    groups = options.get("groups", 1)
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    w = rng.standard_normal((o, c // groups, kh, kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32) if bias else None
    want = ref_conv2d(x, w, b, options.get("padding", [0] * 4), options.get("strides", [1, 1]),
                      options.get("dilations", [1, 1]), groups)
    got, _ = run(ctx, "conv2d", to_layout(x, "nchw", input_layout), to_layout(w, "oihw", filter_layout), b,
                 input_layout=input_layout, filter_layout=filter_layout, **options)
    np.testing.assert_allclose(got, to_layout(want, "nchw", input_layout), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("input_layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("filter_layout", ["oihw", "hwio", "ohwi", "ihwo"])
def test_conv2d_filter_as_graph_input(ctx, filter_layout, input_layout):
    """A filter that is not a constant is read in its own layout on every call."""
    x = rng.standard_normal((1, 4, 6, 5)).astype(np.float32)
    w = rng.standard_normal((6, 2, 3, 2)).astype(np.float32)
    want = ref_conv2d(x, w, None, [1, 0, 1, 1], [1, 2], [1, 1], 2)
    got, graph = run(ctx, "conv2d", to_layout(x, "nchw", input_layout), to_layout(w, "oihw", filter_layout),
                     None, w_is_input=True, input_layout=input_layout, filter_layout=filter_layout,
                     padding=[1, 0, 1, 1], strides=[1, 2], groups=2)
    np.testing.assert_allclose(got, to_layout(want, "nchw", input_layout), rtol=1e-5, atol=1e-5)
    assert graph.ir.nodes[0].attrs["filter_layout"] == filter_layout


@pytest.mark.parametrize(("input_layout", "prepared"), [("nchw", "oihw"), ("nhwc", "ohwi")])
def test_constant_filter_is_stored_in_torch_layout(ctx, input_layout, prepared):
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    got, graph = run(ctx, "conv2d", to_layout(x, "nchw", input_layout), to_layout(w, "oihw", "hwio"), None,
                     input_layout=input_layout, filter_layout="hwio")
    (node,) = graph.ir.nodes
    assert node.attrs["filter_layout"] == prepared
    np.testing.assert_array_equal(graph.ir.constants[node.inputs[1]], to_layout(w, "oihw", prepared))
    want = ref_conv2d(x, w, None, [0] * 4, [1, 1], [1, 1], 1)
    np.testing.assert_allclose(got, to_layout(want, "nchw", input_layout), rtol=1e-5, atol=1e-5)


def test_conv2d_float16(ctx):
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float16)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float16)
    b = rng.standard_normal(4).astype(np.float16)
    got, _ = run(ctx, "conv2d", x, w, b, groups=4, padding=[1, 1, 1, 1])
    assert got.dtype == np.float16
    want = ref_conv2d(x, w, b, [1, 1, 1, 1], [1, 1], [1, 1], 4)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=2e-3)


def test_conv2d_nhwc_output_is_contiguous_nhwc(ctx):
    x = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    got, _ = run(ctx, "conv2d", x, w, None, input_layout="nhwc", filter_layout="ohwi")
    assert got.shape == (2, 3, 3, 4)
    want = ref_conv2d(to_layout(x, "nhwc", "nchw"), to_layout(w, "ohwi", "oihw"), None, [0] * 4, [1, 1],
                      [1, 1], 1)
    np.testing.assert_allclose(got, to_layout(want, "nchw", "nhwc"), rtol=1e-5, atol=1e-5)


TRANSPOSE_CASES = [
    # (id, N, C, H, W, O/groups, kh, kw, options)
    ("plain", 1, 2, 3, 3, 3, 3, 3, {}),
    ("stride-pad", 1, 3, 4, 5, 2, 3, 3, {"strides": [2, 2], "padding": [1, 1, 1, 1]}),
    ("asymmetric-pad", 1, 2, 4, 4, 2, 3, 3, {"strides": [2, 3], "padding": [0, 2, 1, 0]}),
    ("output-padding", 1, 2, 3, 4, 2, 3, 2, {"strides": [3, 2], "output_padding": [2, 1]}),
    ("output-sizes", 2, 2, 3, 3, 3, 3, 3, {"strides": [3, 2], "padding": [1, 0, 0, 1],
                                           "output_sizes": [10, 7]}),
    ("dilations", 1, 2, 4, 3, 2, 3, 2, {"dilations": [2, 3], "strides": [1, 2]}),
    ("groups", 1, 4, 3, 3, 3, 2, 2, {"groups": 2, "strides": [2, 2]}),
    ("depthwise", 1, 3, 4, 4, 1, 3, 3, {"groups": 3, "strides": [2, 2], "padding": [1, 1, 1, 1],
                                        "output_padding": [1, 1]}),
]


def _transpose_out(h, w, kh, kw, options):
    (sh, sw), (dh, dw) = options.get("strides", [1, 1]), options.get("dilations", [1, 1])
    p = options.get("padding", [0] * 4)
    if "output_sizes" in options:
        return options["output_sizes"]
    op = options.get("output_padding", [0, 0])
    return [(h - 1) * sh + (kh - 1) * dh + 1 - p[0] - p[1] + op[0],
            (w - 1) * sw + (kw - 1) * dw + 1 - p[2] - p[3] + op[1]]


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("input_layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("filter_layout", ["iohw", "hwoi", "ohwi"])
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=[c[0] for c in TRANSPOSE_CASES])
def test_conv_transpose2d_matches_reference(ctx, case, filter_layout, input_layout, bias):
    _, n, c, h, w_, og, kh, kw, options = case
    groups = options.get("groups", 1)
    x = rng.standard_normal((n, c, h, w_)).astype(np.float32)
    w = rng.standard_normal((c, og, kh, kw)).astype(np.float32)
    b = rng.standard_normal(og * groups).astype(np.float32) if bias else None
    out_hw = _transpose_out(h, w_, kh, kw, options)
    want = ref_conv_transpose2d(x, w, b, options.get("padding", [0] * 4), options.get("strides", [1, 1]),
                                options.get("dilations", [1, 1]), groups, out_hw)
    got, _ = run(ctx, "conv_transpose2d", to_layout(x, "nchw", input_layout), to_layout(w, "iohw", filter_layout),
                 b, input_layout=input_layout, filter_layout=filter_layout, **options)
    np.testing.assert_allclose(got, to_layout(want, "nchw", input_layout), rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_filter_as_graph_input_and_float16(ctx):
    x = rng.standard_normal((1, 2, 3, 3)).astype(np.float16)
    w = rng.standard_normal((2, 2, 3, 3)).astype(np.float16)
    got, _ = run(ctx, "conv_transpose2d", x, to_layout(w, "iohw", "hwoi"), None, w_is_input=True,
                 filter_layout="hwoi", strides=[2, 2], padding=[1, 0, 0, 1], output_sizes=[6, 7])
    assert got.dtype == np.float16
    want = ref_conv_transpose2d(x, w, None, [1, 0, 0, 1], [2, 2], [1, 1], 1, [6, 7])
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=3e-3, atol=3e-3)


# -- errors -----------------------------------------------------------------------------

def _operands(ctx, x_shape=(1, 4, 5, 5), w_shape=(2, 4, 3, 3), dt="float32", w_dt=None):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": dt, "shape": list(x_shape)})
    w = builder.input("w", {"dataType": w_dt or dt, "shape": list(w_shape)})
    return builder, x, w


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"padding": [1, 1]}, r"conv2d: padding must have 4 values, got 2"),
        ({"strides": [0, 1]}, r"conv2d: strides values must be > 0, got \[0, 1\]"),
        ({"strides": [1, 1, 1]}, r"conv2d: strides must have 2 values"),
        ({"dilations": [1, 0]}, r"conv2d: dilations values must be > 0"),
        ({"padding": [-1, 0, 0, 0]}, r"conv2d: padding values must be unsigned longs"),
        ({"groups": 0}, r"conv2d: groups must be > 0"),
        ({"groups": 3}, r"conv2d: input channels \(4\) must be divisible by groups \(3\)"),
        ({"groups": 2}, r"conv2d: filter input channels must be input channels / groups"),
        ({"input_layout": "nhcw"}, r"conv2d: input_layout must be one of 'nchw', 'nhwc', got 'nhcw'"),
        ({"filter_layout": "iohw"}, r"conv2d: filter_layout must be one of"),
        ({"padding": [0, 0, 0, 0], "dilations": [3, 3]}, r"conv2d: output height must be a valid dimension"),
    ],
)
def test_conv2d_errors(ctx, kwargs, message):
    builder, x, w = _operands(ctx)
    with pytest.raises(TypeError, match=message):
        builder.conv2d(x, w, **kwargs)


def test_conv2d_operand_errors(ctx):
    builder, x, w = _operands(ctx, w_dt="float16")
    with pytest.raises(TypeError, match=r"conv2d: filter data type must match input \(float32\), got float16"):
        builder.conv2d(x, w)
    builder, x, w = _operands(ctx, w_shape=(2, 4, 3))
    with pytest.raises(TypeError, match=r"conv2d: filter rank must be 4, got 3"):
        builder.conv2d(x, w)
    builder, x, w = _operands(ctx)
    with pytest.raises(TypeError, match=r"conv2d: bias shape must be \[2\], got \[3\]"):
        builder.conv2d(x, w, bias=builder.input("b", {"dataType": "float32", "shape": [3]}))
    with pytest.raises(TypeError, match=r"conv2d: bias rank must be 1"):
        builder.conv2d(x, w, bias=builder.input("b2", {"dataType": "float32", "shape": [1, 2]}))
    builder, x, w = _operands(ctx, dt="int32")
    with pytest.raises(TypeError, match=r"conv2d: input data type must be one of float32, float16, got int32"):
        builder.conv2d(x, w)
    builder, x, w = _operands(ctx, x_shape=(4, 5, 5))
    with pytest.raises(TypeError, match=r"conv2d: input rank must be 4"):
        builder.conv2d(x, w)
    builder, x, w = _operands(ctx, w_shape=(3, 4, 3, 3))
    with pytest.raises(TypeError, match=r"conv2d: filter output channels \(3\) must be divisible by groups"):
        builder.conv2d(x, builder.input("w3", {"dataType": "float32", "shape": [3, 2, 3, 3]}), groups=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"output_padding": [2, 0], "strides": [2, 2]},
         r"conv_transpose2d: output_padding values must be smaller than strides \[2, 2\], got \[2, 0\]"),
        ({"output_padding": [1, 1]}, r"conv_transpose2d: output_padding values must be smaller than strides"),
        ({"output_sizes": [7]}, r"conv_transpose2d: output_sizes must have 2 values"),
        ({"output_sizes": [13, 11], "strides": [2, 2]}, r"conv_transpose2d: output_sizes\[0\] must be in \[11, 13\)"),
        ({"output_sizes": [11, 10], "strides": [2, 2]}, r"conv_transpose2d: output_sizes\[1\] must be in \[11, 13\)"),
        ({"filter_layout": "oihw"}, r"conv_transpose2d: filter_layout must be one of 'iohw', 'hwoi', 'ohwi'"),
        ({"groups": 3}, r"conv_transpose2d: input channels \(4\) must be divisible by groups \(3\)"),
        ({"padding": [4, 4, 0, 0]}, r"conv_transpose2d: output height must be a valid dimension"),
        ({"strides": [1, 0]}, r"conv_transpose2d: strides values must be > 0"),
    ],
)
def test_conv_transpose2d_errors(ctx, kwargs, message):
    builder, x, w = _operands(ctx, w_shape=(4, 2, 3, 3))
    with pytest.raises(TypeError, match=message):
        builder.conv_transpose2d(x, w, **kwargs)


def test_conv_transpose2d_output_sizes_override_output_padding(ctx):
    """With output_sizes, output_padding is not checked against strides (spec steps)."""
    builder, x, w = _operands(ctx, w_shape=(4, 2, 3, 3))
    y = builder.conv_transpose2d(x, w, strides=[2, 2], output_padding=[5, 5], output_sizes=[12, 11])
    assert y.shape == (1, 2, 12, 11)


def test_conv_transpose2d_filter_channel_mismatch(ctx):
    builder, x, w = _operands(ctx, w_shape=(3, 2, 3, 3))
    with pytest.raises(TypeError, match=r"conv_transpose2d: filter input channels must equal input channels \(4\), "
                                        r"got 3"):
        builder.conv_transpose2d(x, w)


# -- CUDA ---------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("input_layout", ["nchw", "nhwc"])
def test_cuda_convolutions(dtype, input_layout):
    gpu = webnn.ml.create_context("cuda", cache=False)
    tol = 1e-4 if dtype == np.float32 else 5e-3
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    w = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    options = {"padding": [1, 0, 2, 1], "strides": [2, 1], "dilations": [1, 2], "groups": 2}
    want = ref_conv2d(x, w, b, options["padding"], options["strides"], options["dilations"], 2)
    for w_is_input in (False, True):
        got, _ = run(gpu, "conv2d", to_layout(x, "nchw", input_layout), to_layout(w, "oihw", "hwio"), b,
                     w_is_input=w_is_input, input_layout=input_layout, filter_layout="hwio", **options)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.astype(np.float64), to_layout(want, "nchw", input_layout), rtol=tol, atol=tol)
    wt = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    t_opts = {"strides": [2, 3], "padding": [1, 0, 0, 1], "output_padding": [1, 2], "groups": 2}
    out_hw = _transpose_out(7, 6, 3, 2, t_opts)
    want = ref_conv_transpose2d(x, wt, None, t_opts["padding"], t_opts["strides"], [1, 1], 2, out_hw)
    got, _ = run(gpu, "conv_transpose2d", to_layout(x, "nchw", input_layout), to_layout(wt, "iohw", "ohwi"), None,
                 input_layout=input_layout, filter_layout="ohwi", **t_opts)
    np.testing.assert_allclose(got.astype(np.float64), to_layout(want, "nchw", input_layout), rtol=tol, atol=tol)
