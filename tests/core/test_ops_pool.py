"""Pooling and resample2d: shapes, values against numpy references, errors.

The pooling reference walks every output position's window (float64), skipping taps
in the padding; a window with no real element gives 0 (what the WPT vectors expect).
The resample reference follows the spec's coordinate formulas with exact fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


rng = np.random.default_rng(99)
DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16", np.dtype(np.int8): "int8",
          np.dtype(np.uint8): "uint8", np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
          np.dtype(np.uint32): "uint32", np.dtype(np.uint64): "uint64"}


def nhwc(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def nchw(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def ref_pool(x, kind, window, padding, strides, dilations, out_hw):
    n, c, h, w = x.shape
    out = np.zeros((n, c, *out_hw))
    for i in range(out_hw[0]):
        rows = [-padding[0] + i * strides[0] + r * dilations[0] for r in range(window[0])]
        rows = [r for r in rows if 0 <= r < h]
        for j in range(out_hw[1]):
            cols = [-padding[2] + j * strides[1] + q * dilations[1] for q in range(window[1])]
            cols = [q for q in cols if 0 <= q < w]
            if not rows or not cols:
                continue
            patch = x[:, :, rows][:, :, :, cols].astype(np.float64).reshape(n, c, -1)
            if kind == "max_pool2d":
                out[:, :, i, j] = patch.max(-1)
            elif kind == "average_pool2d":
                out[:, :, i, j] = patch.mean(-1)
            else:
                out[:, :, i, j] = np.sqrt((patch ** 2).sum(-1))
    return out


def out_size(size, window, begin, end, stride, dilation, rounding):
    value = Fraction(size - (window - 1) * dilation - 1 + begin + end, stride) + 1
    return math.floor(value) if rounding == "floor" else math.ceil(value)


def run(ctx, op, x, **options):
    builder = MLGraphBuilder(ctx)
    xo = builder.input("x", {"dataType": DTYPES[x.dtype], "shape": list(x.shape)})
    y = getattr(builder, op)(xo, **options)
    out = ctx.compute(builder.build({"y": y}), {"x": x})["y"]
    assert list(out.shape) == list(y.shape)
    return out


POOL_CASES = [
    # (id, input NCHW shape, options)
    ("global", (2, 3, 5, 4), {}),
    ("window-stride", (1, 2, 7, 6), {"window_dimensions": [3, 2], "strides": [2, 2]}),
    ("symmetric-pad", (1, 2, 6, 6), {"window_dimensions": [3, 3], "strides": [2, 2], "padding": [1, 1, 1, 1]}),
    ("asymmetric-pad", (1, 2, 5, 5), {"window_dimensions": [3, 3], "strides": [2, 2], "padding": [1, 0, 0, 1]}),
    ("ceil", (1, 2, 5, 5), {"window_dimensions": [3, 3], "strides": [2, 2], "padding": [1, 0, 0, 1],
                            "output_shape_rounding": "ceil"}),
    ("ceil-empty-window", (1, 2, 5, 5), {"window_dimensions": [3, 3], "strides": [3, 3],
                                         "padding": [1, 1, 1, 1], "output_shape_rounding": "ceil"}),
    ("output-sizes-ceil", (1, 1, 7, 6), {"window_dimensions": [2, 2], "strides": [2, 2],
                                         "output_sizes": [4, 3]}),
    ("output-sizes-floor", (1, 1, 7, 6), {"window_dimensions": [2, 2], "strides": [2, 2],
                                          "output_shape_rounding": "ceil", "output_sizes": [3, 3]}),
    ("dilations", (1, 2, 9, 8), {"window_dimensions": [3, 2], "dilations": [2, 3], "padding": [2, 1, 0, 3]}),
    ("dilations-symmetric", (1, 2, 9, 9), {"window_dimensions": [3, 3], "dilations": [2, 2],
                                           "padding": [2, 2, 2, 2]}),
    ("big-padding", (1, 1, 4, 4), {"window_dimensions": [2, 2], "padding": [2, 2, 2, 2]}),
]


def _expected_shape(shape, options):
    n, c, h, w = shape
    window = options.get("window_dimensions", [h, w])
    pad = options.get("padding", [0] * 4)
    st, dil = options.get("strides", [1, 1]), options.get("dilations", [1, 1])
    if "output_sizes" in options:
        return options["output_sizes"]
    rounding = options.get("output_shape_rounding", "floor")
    return [out_size(h, window[0], pad[0], pad[1], st[0], dil[0], rounding),
            out_size(w, window[1], pad[2], pad[3], st[1], dil[1], rounding)]


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("op", ["average_pool2d", "l2_pool2d", "max_pool2d"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_matches_reference(ctx, case, op, layout):
    _, shape, options = case
    x = rng.standard_normal(shape).astype(np.float32)
    out_hw = _expected_shape(shape, options)
    want = ref_pool(x, op, options.get("window_dimensions", list(shape[2:])), options.get("padding", [0] * 4),
                    options.get("strides", [1, 1]), options.get("dilations", [1, 1]), out_hw)
    got = run(ctx, op, nhwc(x) if layout == "nhwc" else x, layout=layout, **options)
    np.testing.assert_allclose(nchw(got) if layout == "nhwc" else got, want, rtol=1e-5, atol=1e-6)


def test_max_pool_of_negative_values_ignores_padding(ctx):
    """Padding must not act as a 0 in a max (every real value is negative)."""
    x = -1 - rng.random((1, 1, 4, 4)).astype(np.float32)
    got = run(ctx, "max_pool2d", x, window_dimensions=[2, 2], padding=[1, 0, 1, 0], strides=[2, 2])
    np.testing.assert_array_equal(got, ref_pool(x, "max_pool2d", [2, 2], [1, 0, 1, 0], [2, 2], [1, 1], [2, 2]))
    assert (got < 0).all()


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint32])
def test_max_pool_integer_types(ctx, dtype):
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(1, 2, 5, 5), dtype=dtype, endpoint=True)
    got = run(ctx, "max_pool2d", x, window_dimensions=[2, 3], padding=[1, 0, 0, 1], strides=[2, 1])
    assert got.dtype == dtype
    want = ref_pool(x.astype(np.float64), "max_pool2d", [2, 3], [1, 0, 0, 1], [2, 1], [1, 1], list(got.shape[2:]))
    np.testing.assert_array_equal(got.astype(np.float64), want)


@pytest.mark.parametrize("op", ["average_pool2d", "l2_pool2d", "max_pool2d"])
def test_pool_float16(ctx, op):
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float16)
    got = run(ctx, op, x, window_dimensions=[3, 3], strides=[2, 2], padding=[0, 1, 1, 0],
              output_shape_rounding="ceil")
    assert got.dtype == np.float16
    want = ref_pool(x, op, [3, 3], [0, 1, 1, 0], [2, 2], [1, 1], list(got.shape[2:]))
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize(
    ("op", "kwargs", "message"),
    [
        ("max_pool2d", {"window_dimensions": [2]}, r"max_pool2d: window_dimensions must have 2 values, got 1"),
        ("max_pool2d", {"window_dimensions": [0, 2]}, r"max_pool2d: window_dimensions values must be > 0"),
        ("average_pool2d", {"padding": [1, 1]}, r"average_pool2d: padding must have 4 values"),
        ("l2_pool2d", {"strides": [1, 0]}, r"l2_pool2d: strides values must be > 0, got \[1, 0\]"),
        ("l2_pool2d", {"dilations": [0, 1]}, r"l2_pool2d: dilations values must be > 0"),
        ("max_pool2d", {"layout": "hwcn"}, r"max_pool2d: layout must be one of 'nchw', 'nhwc', got 'hwcn'"),
        ("max_pool2d", {"output_shape_rounding": "round"},
         r"max_pool2d: output_shape_rounding must be one of 'floor', 'ceil', got 'round'"),
        ("average_pool2d", {"window_dimensions": [2, 2], "strides": [2, 2], "output_sizes": [5, 3]},
         r"average_pool2d: output_sizes must be the floor \[3, 3\] or the ceiling \[4, 4\] of the computed output "
         r"size, got \[5, 3\]"),
        ("average_pool2d", {"window_dimensions": [2, 2], "strides": [2, 2], "output_sizes": [3, 4]},
         r"average_pool2d: output_sizes must be the floor"),
        ("max_pool2d", {"window_dimensions": [9, 2]}, r"max_pool2d: output height must be a valid dimension"),
        ("max_pool2d", {"output_sizes": [1]}, r"max_pool2d: output_sizes must have 2 values"),
    ],
)
def test_pool_errors(ctx, op, kwargs, message):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 7, 7]})
    with pytest.raises(TypeError, match=message):
        getattr(builder, op)(x, **kwargs)


def test_pool_output_sizes_accepts_ceil_with_floor_rounding(ctx):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 7, 7]})
    y = builder.average_pool2d(x, window_dimensions=[2, 2], strides=[2, 2], output_sizes=[4, 4])
    assert y.shape == (1, 2, 4, 4)


def test_pool_data_types(ctx):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "int8", "shape": [1, 2, 4, 4]})
    assert builder.max_pool2d(x).shape == (1, 2, 1, 1)
    for op in ("average_pool2d", "l2_pool2d"):
        with pytest.raises(TypeError, match=rf"{op}: input data type must be one of float32, float16, got int8"):
            getattr(builder, op)(x)
    y = builder.input("y", {"dataType": "float32", "shape": [2, 4, 4]})
    with pytest.raises(TypeError, match=r"max_pool2d: input rank must be 4, got 3"):
        builder.max_pool2d(y)


# -- resample2d ---------------------------------------------------------------------------

def ref_resample(x, mode, out_sizes, axes, scales):
    """Spec resample2d on two axes, float64, with exact coordinate arithmetic."""
    x = np.moveaxis(x.astype(np.float64), axes, (-2, -1))
    in_sizes = x.shape[-2:]
    coords = []
    for k in range(2):
        scale = Fraction(out_sizes[k], in_sizes[k]) if scales is None else Fraction(scales[k])
        c = [min(max((o + Fraction(1, 2)) / scale - Fraction(1, 2), Fraction(0)), Fraction(in_sizes[k] - 1))
             for o in range(out_sizes[k])]
        coords.append(c)
    out = np.zeros((*x.shape[:-2], *out_sizes))
    for i, cy in enumerate(coords[0]):
        for j, cx in enumerate(coords[1]):
            if mode == "nearest-neighbor":
                out[..., i, j] = x[..., math.ceil(cy - Fraction(1, 2)), math.ceil(cx - Fraction(1, 2))]
            else:
                y0, y1, x0, x1 = math.floor(cy), math.ceil(cy), math.floor(cx), math.ceil(cx)
                ty, tx = float(cy - y0), float(cx - x0)
                top = x[..., y0, x0] * (1 - tx) + x[..., y0, x1] * tx
                bottom = x[..., y1, x0] * (1 - tx) + x[..., y1, x1] * tx
                out[..., i, j] = top * (1 - ty) + bottom * ty
    return np.moveaxis(out, (-2, -1), axes)


RESAMPLE_CASES = [
    # (id, shape, options, output sizes on the axes)
    ("up2-scales", (1, 2, 3, 4), {"scales": [2.0, 2.0]}, [6, 8]),
    ("down2-scales", (1, 2, 8, 6), {"scales": [0.5, 0.5]}, [4, 3]),
    ("sizes", (2, 1, 3, 5), {"sizes": [7, 4]}, [7, 4]),
    ("sizes-win-over-scales", (1, 1, 3, 3), {"sizes": [5, 2], "scales": [4.0, 4.0]}, [5, 2]),
    ("fractional-scales", (1, 1, 5, 7), {"scales": [1.5, 0.7]}, [7, 4]),
    ("axes-nhwc", (1, 4, 3, 2), {"sizes": [8, 6], "axes": [1, 2]}, [8, 6]),
    ("axes-reversed", (1, 1, 3, 4), {"sizes": [6, 5], "axes": [3, 2]}, [6, 5]),
    ("axes-leading", (3, 2, 1, 2), {"scales": [2.0, 3.0], "axes": [0, 1]}, [6, 6]),
    ("axes-mixed", (2, 3, 4, 5), {"sizes": [3, 9], "axes": [1, 3]}, [3, 9]),
]


@pytest.mark.parametrize("mode", ["nearest-neighbor", "linear"])
@pytest.mark.parametrize("case", RESAMPLE_CASES, ids=[c[0] for c in RESAMPLE_CASES])
def test_resample2d_matches_reference(ctx, case, mode):
    _, shape, options, sizes = case
    x = rng.standard_normal(shape).astype(np.float32)
    axes = options.get("axes", [2, 3])
    scales = None if "sizes" in options else [float(np.float32(s)) for s in options["scales"]]
    got = run(ctx, "resample2d", x, mode=mode, **options)
    want = ref_resample(x, mode, sizes, axes, scales)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest-neighbor", "linear"])
@pytest.mark.parametrize("dtype", [np.float16, np.uint8, np.int8])
def test_resample2d_other_types(ctx, mode, dtype):
    if dtype == np.float16:
        x = rng.standard_normal((1, 2, 3, 3)).astype(dtype)
    else:
        x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, size=(1, 2, 3, 3), dtype=dtype)
    got = run(ctx, "resample2d", x, mode=mode, sizes=[5, 7])
    assert got.dtype == dtype
    want = ref_resample(x, mode, [5, 7], [2, 3], None)
    if dtype == np.float16:
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=2e-3)
    elif mode == "nearest-neighbor":
        np.testing.assert_array_equal(got, want.astype(dtype))
    else:  # integers: interpolated, then rounded to the nearest value
        np.testing.assert_allclose(got.astype(np.float64), want, atol=0.5 + 1e-6)


def test_resample2d_nearest_rounds_half_down(ctx):
    """Halving a size: the spec picks source 2i (ceil(c - 0.5)), torch's nearest-exact 2i + 1."""
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    got = run(ctx, "resample2d", x, scales=[1.0, 0.5])
    np.testing.assert_array_equal(got.reshape(-1), [0, 2, 4, 6])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "cubic"}, r"resample2d: mode must be one of 'nearest-neighbor', 'linear', got 'cubic'"),
        ({"scales": [2.0]}, r"resample2d: scales must be 2 values > 0, got \[2.0\]"),
        ({"scales": [2.0, 0.0]}, r"resample2d: scales must be 2 values > 0"),
        ({"scales": [2.0, -1.0]}, r"resample2d: scales must be 2 values > 0"),
        ({"scales": [2.0, float("inf")]}, r"resample2d: scales must be finite"),
        ({"sizes": [3, 0]}, r"resample2d: sizes values must be > 0, got \[3, 0\]"),
        ({"sizes": [3, 3, 3]}, r"resample2d: sizes must have 2 values"),
        ({"axes": [1, 1]}, r"resample2d: axes must be 2 distinct values in \[0, 4\), got \[1, 1\]"),
        ({"axes": [2, 4]}, r"resample2d: axes must be 2 distinct values"),
        ({"scales": [0.1, 1.0]}, r"resample2d: output size of axis 2 must be a valid dimension"),
    ],
)
def test_resample2d_errors(ctx, kwargs, message):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [1, 2, 3, 4]})
    with pytest.raises(TypeError, match=message):
        builder.resample2d(x, **kwargs)


def test_resample2d_rejects_other_types(ctx):
    builder = MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "int32", "shape": [1, 2, 3, 4]})
    with pytest.raises(TypeError, match=r"resample2d: input data type must be one of"):
        builder.resample2d(x)


# -- CUDA ---------------------------------------------------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_cuda_pools(case, layout, dtype):
    gpu = webnn.ml.create_context("cuda", cache=False)
    _, shape, options = case
    x = rng.standard_normal(shape).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 3e-3
    for op in ("average_pool2d", "l2_pool2d", "max_pool2d"):
        want = ref_pool(x, op, options.get("window_dimensions", list(shape[2:])), options.get("padding", [0] * 4),
                        options.get("strides", [1, 1]), options.get("dilations", [1, 1]),
                        _expected_shape(shape, options))
        got = run(gpu, op, nhwc(x) if layout == "nhwc" else x, layout=layout, **options)
        assert got.dtype == dtype
        np.testing.assert_allclose((nchw(got) if layout == "nhwc" else got).astype(np.float64), want,
                                   rtol=tol, atol=tol)


@cuda
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64])
def test_cuda_max_pool_integers(dtype):
    gpu = webnn.ml.create_context("cuda", cache=False)
    x = rng.integers(-100 if dtype != np.uint8 else 0, 100, size=(1, 2, 6, 5)).astype(dtype)
    got = run(gpu, "max_pool2d", x, window_dimensions=[3, 2], strides=[2, 2], padding=[1, 1, 0, 1],
              output_shape_rounding="ceil")
    want = ref_pool(x.astype(np.float64), "max_pool2d", [3, 2], [1, 1, 0, 1], [2, 2], [1, 1], list(got.shape[2:]))
    np.testing.assert_array_equal(got.astype(np.float64), want)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.int8])
@pytest.mark.parametrize("mode", ["nearest-neighbor", "linear"])
def test_cuda_resample2d(mode, dtype):
    gpu = webnn.ml.create_context("cuda", cache=False)
    for _, shape, options, sizes in RESAMPLE_CASES:
        if np.issubdtype(dtype, np.integer):
            x = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, size=shape, dtype=dtype)
        else:
            x = rng.standard_normal(shape).astype(dtype)
        scales = None if "sizes" in options else [float(np.float32(s)) for s in options["scales"]]
        got = run(gpu, "resample2d", x, mode=mode, **options)
        want = ref_resample(x, mode, sizes, options.get("axes", [2, 3]), scales)
        tol = {np.float32: 1e-5, np.float16: 3e-3}.get(dtype, 0.5 + 1e-6)
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=0 if tol >= 0.5 else tol, atol=tol)


def test_max_pool_uint64_keeps_unsigned_order(ctx):
    """uint64 values at and above 2**63 travel as negative int64 inside the graph."""
    x = np.array([0, 1, 2**63, 2**64 - 1, 5, 2**63 - 1, 7, 3, 9], dtype=np.uint64).reshape(1, 1, 3, 3)
    got = run(ctx, "max_pool2d", x, window_dimensions=[2, 2], padding=[1, 0, 0, 1], strides=[2, 2],
              output_shape_rounding="ceil")
    assert got.dtype == np.uint64
    # windows: rows {0} x cols {0, 1}, rows {0} x cols {2}, rows {1, 2} x cols {0, 1}, rows {1, 2} x cols {2}
    assert got.reshape(-1).tolist() == [1, 2**63, 2**64 - 1, 2**63 - 1]
