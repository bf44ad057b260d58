"""batchNormalization, instanceNormalization, layerNormalization against numpy references.

The references follow the spec's emulation code in float64: mean and (biased)
variance over the reduced axes, then ``(x - mean) / sqrt(var + eps) * scale + bias``.
Runs on the CPU, and on CUDA where present; build-time errors on the CPU only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder
from webnn.dtypes import from_numpy

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float16: {"rtol": 5e-3, "atol": 5e-3}}


@pytest.fixture(scope="module", params=DEVICES)
def ctx(request):
    return webnn.ml.create_context(request.param, cache=False)


@pytest.fixture(scope="module")
def cpu():
    return webnn.ml.create_context("cpu", cache=False)


def run(ctx, make, **feeds):
    """Build ``make(builder, **operands)``; a feed of None is passed through as None."""
    b = MLGraphBuilder(ctx)
    operands = {n: None if a is None else b.input(n, {"dataType": from_numpy(a.dtype), "shape": a.shape})
                for n, a in feeds.items()}
    graph = b.build({"out": make(b, **operands)})
    return ctx.compute(graph, {n: a for n, a in feeds.items() if a is not None})["out"]


def rand(shape, dtype, lo=-3.0, hi=3.0, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def f64(x):
    return None if x is None else np.asarray(x, dtype=np.float64)


def normalize_ref(x, axes, eps, scale=None, bias=None):
    """numpy reference over ``axes``; scale/bias already broadcastable to x."""
    x = f64(x)
    mean = x.mean(axis=tuple(axes), keepdims=True) if axes else x
    var = ((x - mean) ** 2).mean(axis=tuple(axes), keepdims=True) if axes else np.zeros_like(x)
    y = (x - mean) / np.sqrt(var + eps)
    if scale is not None:
        y = y * f64(scale)
    if bias is not None:
        y = y + f64(bias)
    return y


def _line_up(p, rank, axis):
    return None if p is None else f64(p).reshape([p.size if d == axis else 1 for d in range(rank)])


# -- batchNormalization ------------------------------------------------------------

BATCH_CASES = [
    # shape, axis (None = default 1), with scale, with bias, epsilon (None = default)
    ((2, 3, 4, 5), None, False, False, None),
    ((2, 3, 4, 5), 1, True, True, 1e-3),
    ((2, 4, 5, 3), 3, True, False, None),
    ((6,), 0, True, True, None),
    ((3, 2), 0, False, True, 1e-6),
    ((2, 3, 2, 2, 2), 2, True, True, None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("shape", "axis", "with_scale", "with_bias", "eps"), BATCH_CASES)
def test_batch_normalization(ctx, shape, axis, with_scale, with_bias, eps, dtype):
    a = 1 if axis is None else axis
    c = shape[a]
    x = rand(shape, dtype)
    mean, var = rand(c, dtype, seed=1), rand(c, dtype, 0.1, 2.0, seed=2)
    scale = rand(c, dtype, seed=3) if with_scale else None
    bias = rand(c, dtype, seed=4) if with_bias else None
    options = {k: v for k, v in {"axis": axis, "epsilon": eps}.items() if v is not None}

    def make(b, x, mean, var, scale, bias):
        return b.batch_normalization(x, mean, var, scale=scale, bias=bias, **options)

    got = run(ctx, make, x=x, mean=mean, var=var, scale=scale, bias=bias)
    e = 1e-5 if eps is None else eps
    r = len(shape)
    want = (f64(x) - _line_up(mean, r, a)) / np.sqrt(_line_up(var, r, a) + e)
    if scale is not None:
        want = want * _line_up(scale, r, a)
    if bias is not None:
        want = want + _line_up(bias, r, a)
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[dtype])


def test_batch_normalization_with_constant_parameters(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [1, 2, 1, 2]})
    mean = b.constant(np.array([1.0, -1.0], np.float32))
    var = b.constant(np.array([4.0, 0.25], np.float32))
    g = b.build({"y": b.batch_normalization(x, mean, var, epsilon=0.0)})
    got = ctx.compute(g, {"x": np.array([[[[3.0, 1.0]], [[0.0, -1.5]]]], np.float32)})["y"]
    np.testing.assert_allclose(got.reshape(-1), [1.0, 0.0, 2.0, -1.0])


# -- instanceNormalization -----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("layout", [None, "nchw", "nhwc"])
@pytest.mark.parametrize(("with_scale", "with_bias", "eps"), [(False, False, None), (True, True, 1e-6),
                                                              (True, False, None), (False, True, 1e-2)])
def test_instance_normalization(ctx, layout, with_scale, with_bias, eps, dtype):
    shape = (2, 3, 4, 5) if layout != "nhwc" else (2, 4, 5, 3)
    channel_axis, spatial = (1, (2, 3)) if layout != "nhwc" else (3, (1, 2))
    x = rand(shape, dtype)
    scale = rand(3, dtype, seed=3) if with_scale else None
    bias = rand(3, dtype, seed=4) if with_bias else None
    options = {k: v for k, v in {"layout": layout, "epsilon": eps}.items() if v is not None}
    got = run(ctx, lambda b, x, scale, bias: b.instance_normalization(x, scale=scale, bias=bias, **options),
              x=x, scale=scale, bias=bias)
    want = normalize_ref(x, spatial, 1e-5 if eps is None else eps,
                         _line_up(scale, 4, channel_axis), _line_up(bias, 4, channel_axis))
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[dtype])


# -- layerNormalization ----------------------------------------------------------------

LAYER_CASES = [
    # shape, axes (None = default), with scale, with bias
    ((2, 3, 4), None, True, True),
    ((2, 3, 4), [2], True, False),
    ((2, 3, 4), [0, 2], False, True),
    ((2, 3, 4, 5), [3, 1, 2], True, True),  # unsorted: scale shape follows the axes' order
    ((2, 3, 4, 5), [2, 0], True, True),
    ((4, 5), [0, 1], True, True),
    ((7,), None, False, True),  # rank 1: default axes are empty
    ((2, 3), [], True, True),   # empty axes: nothing reduced
    ((), None, False, False),   # rank 0
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("shape", "axes", "with_scale", "with_bias"), LAYER_CASES)
def test_layer_normalization(ctx, shape, axes, with_scale, with_bias, dtype):
    x = rand(shape, dtype)
    ax = (list(range(1, len(shape))) if len(shape) > 1 else []) if axes is None else axes
    pshape = [shape[a] for a in ax]
    scale = rand(pshape, dtype, seed=3) if with_scale else None
    bias = rand(pshape, dtype, seed=4) if with_bias else None
    options = {} if axes is None else {"axes": axes}
    got = run(ctx, lambda b, x, scale, bias: b.layer_normalization(x, scale=scale, bias=bias, **options),
              x=x, scale=scale, bias=bias)

    def line_up(p):  # reorder p's dims into ascending axis order, then broadcast
        if p is None:
            return None
        order = sorted(range(len(ax)), key=lambda i: ax[i])
        return f64(p).transpose(order).reshape([shape[d] if d in ax else 1 for d in range(len(shape))])

    want = normalize_ref(x, ax, 1e-5, line_up(scale), line_up(bias))
    assert got.dtype == dtype and got.shape == shape
    np.testing.assert_allclose(got.astype(np.float64), want, **TOL[dtype])


def test_layer_normalization_empty_axes_gives_bias(ctx):
    # Nothing reduced: mean = x, variance = 0, so the output is bias (a 0-D operand)
    # wherever x is finite, and NaN where x is infinite (inf - inf).
    x = np.array([[1.0, -2.0], [1e30, np.inf]], np.float32)
    bias = np.array(2.5, np.float32)
    got = run(ctx, lambda b, x, bias: b.layer_normalization(x, bias=bias, axes=[]), x=x, bias=bias)
    assert got.reshape(-1)[:3].tolist() == [2.5, 2.5, 2.5] and math.isnan(got[1, 1])


def test_layer_normalization_epsilon(ctx):
    x = rand((3, 8), np.float32)
    got = run(ctx, lambda b, x: b.layer_normalization(x, epsilon=0.5), x=x)
    np.testing.assert_allclose(got, normalize_ref(x, [1], 0.5), rtol=1e-5, atol=1e-6)


# -- errors ------------------------------------------------------------------------------

def _in(b, name, shape, dtype="float32"):
    return b.input(name, {"dataType": dtype, "shape": list(shape)})


ERRORS = [
    # batchNormalization: x is [2, 3, 4, 5]
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [3]), axis=4),
     r"^batch_normalization: axis must be in \[0, 3\] \(input rank 4\), got 4"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [3]), axis=-1),
     r"^batch_normalization: axis must be in \[0, 4294967295\]"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [4]), _in(b, "v", [3])),
     r"^batch_normalization: mean shape must be \[3\], got \[4\]"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [3], "float16")),
     r"^batch_normalization: variance data type must match input \(float32\), got float16"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [1, 3])),
     r"^batch_normalization: variance shape must be \[3\], got \[1, 3\]"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [3]), scale=_in(b, "s", [5])),
     r"^batch_normalization: scale shape must be \[3\], got \[5\]"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [5]), _in(b, "v", [5]), axis=3,
                                        bias=_in(b, "s", [3])),
     r"^batch_normalization: bias shape must be \[5\], got \[3\]"),
    (lambda b, x: b.batch_normalization(x, "mean", _in(b, "v", [3])),
     r"^batch_normalization: mean must be an MLOperand, got str"),
    (lambda b, x: b.batch_normalization(x, _in(b, "m", [3]), _in(b, "v", [3]), epsilon=math.inf),
     r"^batch_normalization: epsilon must be a finite number"),
    (lambda b, x: b.batch_normalization(_in(b, "i", [3], "int32"), _in(b, "m", [3], "int32"),
                                        _in(b, "v", [3], "int32"), axis=0),
     r"^batch_normalization: input data type must be one of float32, float16, got int32"),
    (lambda b, x: b.batch_normalization(_in(b, "i", []), _in(b, "m", [1]), _in(b, "v", [1])),
     r"^batch_normalization: input rank must be 1 to"),
    # instanceNormalization
    (lambda b, x: b.instance_normalization(x, layout="nwhc"),
     r"^instance_normalization: layout must be one of 'nchw', 'nhwc', got 'nwhc'"),
    (lambda b, x: b.instance_normalization(_in(b, "i", [2, 3, 4])),
     r"^instance_normalization: input rank must be 4, got 3"),
    (lambda b, x: b.instance_normalization(x, layout="nhwc", scale=_in(b, "s", [3])),
     r"^instance_normalization: scale shape must be \[5\], got \[3\]"),
    (lambda b, x: b.instance_normalization(x, bias=_in(b, "s", [3], "float16")),
     r"^instance_normalization: bias data type must match input \(float32\), got float16"),
    (lambda b, x: b.instance_normalization(x, epsilon=math.nan),
     r"^instance_normalization: epsilon must be a finite number"),
    (lambda b, x: b.instance_normalization(x, scale=np.ones(3, np.float32)),
     r"^instance_normalization: scale must be an MLOperand, got ndarray"),
    # layerNormalization
    (lambda b, x: b.layer_normalization(x, axes=[1, 1]),
     r"^layer_normalization: axes must not repeat a value, got \[1, 1\]"),
    (lambda b, x: b.layer_normalization(x, axes=[4]),
     r"^layer_normalization: axes values must be in \[0, 4\) \(input rank 4\), got \[4\]"),
    (lambda b, x: b.layer_normalization(x, axes=[-1]),
     r"^layer_normalization: axes values must be in \[0, 4294967295\]"),
    (lambda b, x: b.layer_normalization(x, axes=2),
     r"^layer_normalization: axes must be a sequence of integers, got 2"),
    (lambda b, x: b.layer_normalization(x, axes=[2, 3], scale=_in(b, "s", [4])),
     r"^layer_normalization: scale rank must equal the number of axes \[2, 3\] \(2\), got 1"),
    (lambda b, x: b.layer_normalization(x, axes=[3, 2], bias=_in(b, "s", [4, 5])),
     r"^layer_normalization: bias shape must be \[5, 4\] .* got \[4, 5\]"),
    (lambda b, x: b.layer_normalization(x, scale=_in(b, "s", [3, 4, 5], "float16")),
     r"^layer_normalization: scale data type must match input \(float32\), got float16"),
    (lambda b, x: b.layer_normalization(x, epsilon="small"),
     r"^layer_normalization: epsilon must be a number"),
]


@pytest.mark.parametrize(("call", "pattern"), ERRORS, ids=[p.split(":")[0].lstrip("^") + f"-{i}"
                                                          for i, (_, p) in enumerate(ERRORS)])
def test_errors_name_op_and_argument(cpu, call, pattern):
    b = MLGraphBuilder(cpu)
    x = _in(b, "x", [2, 3, 4, 5])
    with pytest.raises(TypeError, match=pattern):
        call(b, x)


def test_attributes_are_normalised(cpu):
    b = MLGraphBuilder(cpu)
    x = _in(b, "x", [2, 3, 4, 5], "float16")
    b.batch_normalization(x, _in(b, "m", [3], "float16"), _in(b, "v", [3], "float16"))
    b.instance_normalization(x, epsilon=1e-3)
    b.layer_normalization(x)
    attrs = [n.attrs for n in b._graph.nodes]
    eps16 = float(np.float16(1e-5))
    assert attrs[0] == {"axis": 1, "epsilon": eps16}
    assert attrs[1] == {"epsilon": float(np.float16(1e-3)), "layout": "nchw"}
    assert attrs[2] == {"axes": [1, 2, 3], "epsilon": eps16}
