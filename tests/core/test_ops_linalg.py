"""gemm and matmul: shapes, values against numpy (float64), errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


rng = np.random.default_rng(7)
NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float16): "float16"}


def run(ctx, op, arrays, constants=(), **options):
    """Build ``op`` over named arrays (inputs unless named in ``constants``) and run it."""
    builder = MLGraphBuilder(ctx)
    operands, feeds = {}, {}
    for name, array in arrays.items():
        if name in constants:
            operands[name] = builder.constant(array)
        else:
            operands[name] = builder.input(name, {"dataType": NAMES[array.dtype], "shape": list(array.shape)})
            feeds[name] = array
    if "c" in operands:
        options["c"] = operands["c"]
    y = getattr(builder, op)(operands["a"], operands["b"], **options)
    out = ctx.compute(builder.build({"y": y}), feeds)["y"]
    assert list(out.shape) == list(y.shape)
    return out


GEMM_CASES = [
    # (id, M, K, N, c shape or None, options)
    ("plain", 3, 4, 5, None, {}),
    ("alpha", 3, 4, 5, None, {"alpha": -2.5}),
    ("c-full", 3, 4, 5, (3, 5), {"alpha": 0.5, "beta": 3.0}),
    ("c-row", 3, 4, 5, (5,), {"beta": -1.0}),
    ("c-column", 3, 4, 5, (3, 1), {}),
    ("c-scalar", 2, 6, 3, (), {"beta": 2.0}),
    ("c-1x1", 2, 6, 3, (1, 1), {}),
    ("a-transpose", 3, 4, 5, (5,), {"a_transpose": True}),
    ("b-transpose", 3, 4, 5, None, {"b_transpose": True, "alpha": 3.0}),
    ("both-transpose", 6, 2, 4, (6, 4), {"a_transpose": True, "b_transpose": True, "beta": 0.25}),
    ("zero-alpha", 2, 3, 2, (2, 2), {"alpha": 0.0}),
    ("zero-beta", 2, 3, 2, (2, 2), {"beta": 0.0}),
]


@pytest.mark.parametrize("c_constant", [False, True], ids=["c-input", "c-constant"])
@pytest.mark.parametrize("case", GEMM_CASES, ids=[c[0] for c in GEMM_CASES])
def test_gemm_matches_numpy(ctx, case, c_constant):
    _, m, k, n, c_shape, options = case
    a = rng.standard_normal((k, m) if options.get("a_transpose") else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if options.get("b_transpose") else (k, n)).astype(np.float32)
    arrays = {"a": a, "b": b}
    a64 = a.astype(np.float64).T if options.get("a_transpose") else a.astype(np.float64)
    b64 = b.astype(np.float64).T if options.get("b_transpose") else b.astype(np.float64)
    want = options.get("alpha", 1.0) * (a64 @ b64)
    if c_shape is not None:
        c = rng.standard_normal(c_shape).astype(np.float32)
        arrays["c"] = c
        want = want + options.get("beta", 1.0) * c.astype(np.float64)
    got = run(ctx, "gemm", arrays, constants=("c",) if c_constant else (), **options)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gemm_float16_casts_alpha_and_beta(ctx):
    a = rng.standard_normal((4, 8)).astype(np.float16)
    b = rng.standard_normal((8, 3)).astype(np.float16)
    c = rng.standard_normal((3,)).astype(np.float16)
    alpha, beta = 0.1, 1.0 / 3.0  # neither is exact in float16
    got = run(ctx, "gemm", {"a": a, "b": b, "c": c}, alpha=alpha, beta=beta)
    assert got.dtype == np.float16
    alpha16, beta16 = float(np.float16(alpha)), float(np.float16(beta))
    want = alpha16 * (a.astype(np.float64) @ b.astype(np.float64)) + beta16 * c.astype(np.float64)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=3e-3, atol=3e-3)
    builder = MLGraphBuilder(ctx)
    x = builder.input("a", {"dataType": "float16", "shape": [4, 8]})
    y = builder.input("b", {"dataType": "float16", "shape": [8, 3]})
    graph = builder.build({"y": builder.gemm(x, y, alpha=alpha, beta=beta)})
    assert graph.ir.nodes[0].attrs["alpha"] == alpha16
    assert graph.ir.nodes[0].attrs["beta"] == beta16


MATMUL_CASES = [
    # (id, a shape, b shape)
    ("2d", (3, 4), (4, 5)),
    ("batched", (2, 3, 4), (2, 4, 5)),
    ("broadcast-b", (2, 3, 4), (4, 5)),
    ("broadcast-a", (3, 4), (3, 4, 2)),
    ("broadcast-both", (2, 1, 3, 4), (1, 5, 4, 2)),
    ("rank5", (2, 1, 2, 3, 4), (3, 1, 4, 1)),
    ("vector-like", (1, 4), (4, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("b_constant", [False, True], ids=["b-input", "b-constant"])
@pytest.mark.parametrize("case", MATMUL_CASES, ids=[c[0] for c in MATMUL_CASES])
def test_matmul_matches_numpy(ctx, case, b_constant, dtype):
    _, a_shape, b_shape = case
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    got = run(ctx, "matmul", {"a": a, "b": b}, constants=("b",) if b_constant else ())
    assert got.dtype == dtype
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    tol = 1e-5 if dtype == np.float32 else 3e-3
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


def _pair(ctx, a_shape, b_shape, a_dt="float32", b_dt="float32"):
    builder = MLGraphBuilder(ctx)
    return (builder, builder.input("a", {"dataType": a_dt, "shape": list(a_shape)}),
            builder.input("b", {"dataType": b_dt, "shape": list(b_shape)}))


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "kwargs", "message"),
    [
        ((3, 4), (5, 6), {}, r"gemm: inner dimensions must match: a is \[3, 4\] \(a_transpose=False\), "
                             r"b is \[5, 6\] \(b_transpose=False\)"),
        ((3, 4), (3, 5), {"a_transpose": False}, r"gemm: inner dimensions must match"),
        ((3, 4), (4, 5), {"a_transpose": 1}, r"gemm: a_transpose must be a bool, got 1"),
        ((3, 4), (4, 5), {"alpha": float("nan")}, r"gemm: alpha must be a finite number"),
        ((3, 4), (4, 5), {"beta": "2"}, r"gemm: beta must be a number"),
        ((3, 4), (4,), {}, r"gemm: b rank must be 2, got 1"),
        ((3, 4, 1), (4, 5), {}, r"gemm: a rank must be 2, got 3"),
    ],
)
def test_gemm_errors(ctx, a_shape, b_shape, kwargs, message):
    builder, a, b = _pair(ctx, a_shape, b_shape)
    with pytest.raises(TypeError, match=message):
        builder.gemm(a, b, **kwargs)


def test_gemm_c_errors(ctx):
    builder, a, b = _pair(ctx, (3, 4), (4, 5))
    c = builder.input("c", {"dataType": "float32", "shape": [3, 4]})
    with pytest.raises(TypeError, match=r"gemm: c shape \[3, 4\] cannot broadcast to \[3, 5\]"):
        builder.gemm(a, b, c=c)
    c = builder.input("c2", {"dataType": "float32", "shape": [1, 3, 5]})
    with pytest.raises(TypeError, match=r"gemm: c rank must be 0 to 2, got 3"):
        builder.gemm(a, b, c=c)
    c = builder.input("c3", {"dataType": "float16", "shape": [5]})
    with pytest.raises(TypeError, match=r"gemm: c data type must match a \(float32\), got float16"):
        builder.gemm(a, b, c=c)
    builder, a, b = _pair(ctx, (3, 4), (4, 5), b_dt="float16")
    with pytest.raises(TypeError, match=r"gemm: b data type must match a \(float32\), got float16"):
        builder.gemm(a, b)
    builder, a, b = _pair(ctx, (3, 4), (4, 5), a_dt="int32", b_dt="int32")
    with pytest.raises(TypeError, match=r"gemm: a data type must be one of float32, float16, got int32"):
        builder.gemm(a, b)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "message"),
    [
        ((3, 4), (5, 6), r"matmul: columns of a \(4\) must equal rows of b \(5\): a is \[3, 4\], b is \[5, 6\]"),
        ((2, 3, 4), (3, 4, 5), r"matmul: shapes of the batch dimensions of a and b cannot be broadcast: "
                               r"\[2\] and \[3\]"),
        ((3, 4), (4,), r"matmul: b rank must be 2 to 8, got 1"),
        ((4,), (4, 3), r"matmul: a rank must be 2 to 8, got 1"),
    ],
)
def test_matmul_errors(ctx, a_shape, b_shape, message):
    builder, a, b = _pair(ctx, a_shape, b_shape)
    with pytest.raises(TypeError, match=message):
        builder.matmul(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_gemm_and_matmul(dtype):
    gpu = webnn.ml.create_context("cuda", cache=False)
    tol = 1e-4 if dtype == np.float32 else 5e-3
    a = rng.standard_normal((8, 5)).astype(dtype)
    b = rng.standard_normal((6, 8)).astype(dtype)
    c = rng.standard_normal((6,)).astype(dtype)
    got = run(gpu, "gemm", {"a": a, "b": b, "c": c}, constants=("c",), a_transpose=True, b_transpose=True,
              alpha=0.5, beta=-2.0)
    want = 0.5 * (a.astype(np.float64).T @ b.astype(np.float64).T) - 2.0 * c.astype(np.float64)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)
    a = rng.standard_normal((2, 1, 3, 4)).astype(dtype)
    b = rng.standard_normal((5, 4, 2)).astype(dtype)
    got = run(gpu, "matmul", {"a": a, "b": b})
    np.testing.assert_allclose(got.astype(np.float64), np.matmul(a.astype(np.float64), b.astype(np.float64)),
                               rtol=tol, atol=tol)
