"""Activation ops (relu ... tanh, prelu, softmax, clamp) against numpy references.

Table-driven: each row is an op, its options and an independent numpy (float64)
reference of the spec's expression. Runs on the CPU, and on CUDA where present.
Error cases check that the message names the op and the argument.
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


@pytest.fixture(scope="module", params=DEVICES)
def ctx(request):
    return webnn.ml.create_context(request.param, cache=False)


@pytest.fixture(scope="module")
def cpu():
    """Build-time checks do not depend on the device."""
    return webnn.ml.create_context("cpu", cache=False)


def run(ctx, make, **feeds: np.ndarray) -> np.ndarray:
    """Build ``make(builder, *inputs)`` with one graph input per feed and run it."""
    b = MLGraphBuilder(ctx)
    operands = [b.input(n, {"dataType": from_numpy(a.dtype), "shape": a.shape}) for n, a in feeds.items()]
    graph = b.build({"out": make(b, *operands)})
    return ctx.compute(graph, feeds)["out"]


def f64(x):
    return np.asarray(x, dtype=np.float64)


_erf = np.vectorize(math.erf)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# name, options, reference(x: float64 array, **options) -> float64 array
FLOAT_CASES = [
    ("relu", {}, lambda x: np.maximum(x, 0)),
    ("leaky_relu", {}, lambda x: np.maximum(x, 0) + 0.01 * np.minimum(x, 0)),
    ("leaky_relu", {"alpha": -2.5}, lambda x: np.maximum(x, 0) - 2.5 * np.minimum(x, 0)),
    ("elu", {}, lambda x: np.maximum(x, 0) + (np.exp(np.minimum(x, 0)) - 1)),
    ("elu", {"alpha": 0.36}, lambda x: np.maximum(x, 0) + 0.36 * (np.exp(np.minimum(x, 0)) - 1)),
    ("elu", {"alpha": -3.5}, lambda x: np.maximum(x, 0) - 3.5 * (np.exp(np.minimum(x, 0)) - 1)),
    ("gelu", {}, lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    ("hard_sigmoid", {}, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    ("hard_sigmoid", {"alpha": -0.75, "beta": 0.25}, lambda x: np.clip(-0.75 * x + 0.25, 0, 1)),
    ("hard_swish", {}, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("linear", {}, lambda x: x),
    ("linear", {"alpha": -7.5, "beta": 5.25}, lambda x: -7.5 * x + 5.25),
    ("linear", {"beta": 2}, lambda x: x + 2),
    ("sigmoid", {}, lambda x: 1 / (1 + np.exp(-x))),
    ("softplus", {}, lambda x: np.logaddexp(0, x)),
    ("softsign", {}, lambda x: x / (1 + np.abs(x))),
    ("tanh", {}, np.tanh),
    ("clamp", {}, lambda x: x),
    ("clamp", {"min_value": -1.5}, lambda x: np.maximum(x, -1.5)),
    ("clamp", {"max_value": 0}, lambda x: np.minimum(x, 0)),
    ("clamp", {"min_value": -2, "max_value": 3.5}, lambda x: np.clip(x, -2, 3.5)),
    ("clamp", {"min_value": 1, "max_value": 1}, lambda x: np.ones_like(x)),
]

#: Values that stress overflow (exp of +/-100) and signed zero, plus random ones.
_EDGE = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 100.0, -100.0, 1e-30, -1e-30]


def _data(dtype, shape=(3, 5, 4)):
    rng = np.random.default_rng(7)
    x = rng.uniform(-6, 6, size=shape).reshape(-1)
    n = min(len(_EDGE), x.size)
    x[:n] = _EDGE[:n]
    return x.reshape(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize(("name", "options", "ref"), FLOAT_CASES,
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(FLOAT_CASES)])
def test_float_activations(ctx, name, options, ref, dtype):
    x = _data(dtype)
    got = run(ctx, lambda b, a: getattr(b, name)(a, **options), x=x)
    assert got.dtype == dtype and got.shape == x.shape
    want = ref(f64(x)).astype(dtype)
    tol = {"rtol": 2e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 2e-3, "atol": 2e-3}
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), **tol)


@pytest.mark.parametrize("name", ["relu", "gelu", "sigmoid", "tanh", "softsign", "hard_swish"])
def test_scalar_input(ctx, name):
    x = np.array(-0.5, np.float32)
    got = run(ctx, lambda b, a: getattr(b, name)(a), x=x)
    assert got.shape == ()


@pytest.mark.parametrize(("x", "name", "want"), [
    (math.inf, "sigmoid", 1.0), (-math.inf, "sigmoid", 0.0), (math.inf, "tanh", 1.0),
    (-math.inf, "tanh", -1.0), (math.inf, "softplus", math.inf), (-math.inf, "softplus", 0.0),
    (math.inf, "relu", math.inf), (-math.inf, "relu", 0.0), (-math.inf, "elu", -1.0),
    (math.inf, "hard_sigmoid", 1.0), (-math.inf, "hard_sigmoid", 0.0),
])
def test_infinities(ctx, x, name, want):
    got = run(ctx, lambda b, a: getattr(b, name)(a), x=np.array([x], np.float32))
    assert got[0] == want


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_relu_integers(ctx, dtype):
    info = np.iinfo(dtype)
    x = np.array([info.min, -1, 0, 1, info.max], dtype)
    got = run(ctx, lambda b, a: b.relu(a), x=x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.maximum(x, 0))


def test_relu_int64_exact_past_2_53(ctx):
    x = np.array([2**53 + 1, 2**62 + 3, -(2**62)], np.int64)
    got = run(ctx, lambda b, a: b.relu(a), x=x)
    assert got.tolist() == [2**53 + 1, 2**62 + 3, 0]


def test_options_are_cast_to_float16(ctx):
    # alpha is cast to float16 first (spec: "cast alpha to input's dataType").
    alpha = 0.1
    x = np.array([-1.0, 2.0], np.float16)
    got = run(ctx, lambda b, a: b.linear(a, alpha=alpha), x=x)
    assert got[0] == -np.float16(alpha)


# -- softmax ---------------------------------------------------------------------

@pytest.mark.parametrize(("shape", "axis"), [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4, 5), 2),
                                             ((2, 3, 4, 5), 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_softmax(ctx, shape, axis, dtype):
    x = _data(dtype, shape)
    got = run(ctx, lambda b, a: b.softmax(a, axis), x=x)
    tol = 1e-6 if dtype == np.float32 else 1e-3
    np.testing.assert_allclose(got.astype(np.float64), _softmax(f64(x), axis), rtol=tol, atol=tol)


def test_softmax_large_values_stay_finite(ctx):
    x = np.array([[1000.0, 1001.0, 999.0]], np.float32)
    got = run(ctx, lambda b, a: b.softmax(a, 1), x=x)
    np.testing.assert_allclose(got, _softmax(f64(x), 1), rtol=1e-6)


# -- prelu -------------------------------------------------------------------------

@pytest.mark.parametrize(("xshape", "sshape"), [
    ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), ()), ((3,), (2, 1)), ((4, 1, 5), (3, 1)),
    ((), (2,)), ((1, 3, 2, 2), (1, 3, 1, 1)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_prelu_broadcasting(ctx, xshape, sshape, dtype):
    rng = np.random.default_rng(3)
    x = rng.uniform(-5, 5, size=xshape).astype(dtype)
    s = rng.uniform(-2, 2, size=sshape).astype(dtype)
    got = run(ctx, lambda b, a, sl: b.prelu(a, sl), x=x, slope=s)
    want = np.maximum(f64(x), 0) + f64(s) * np.minimum(f64(x), 0)
    assert got.shape == want.shape and got.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 2e-3
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64])
def test_prelu_integers(ctx, dtype):
    x = np.array([[-4, -1, 0, 3], [5, -6, 7, -8]], dtype)
    s = np.array([2, 3, -1, 0], dtype)
    got = run(ctx, lambda b, a, sl: b.prelu(a, sl), x=x, slope=s)
    np.testing.assert_array_equal(got, np.where(x >= 0, x, x * s))


# -- clamp -------------------------------------------------------------------------

CLAMP_INT_CASES = [
    # dtype, values, options, expected
    (np.int8, [-128, -5, 0, 5, 127], {"min_value": -2, "max_value": 3}, [-2, -2, 0, 3, 3]),
    # bounds outside int8 are cast (clamped) to its range: no clamping then
    (np.int8, [-128, 0, 127], {"min_value": -1000, "max_value": 1000}, [-128, 0, 127]),
    (np.uint8, [0, 5, 255], {"min_value": -7, "max_value": 200}, [0, 5, 200]),
    (np.int32, [-(2**31), 0, 2**31 - 1], {"min_value": -2, "max_value": 2147483645}, [-2, 0, 2147483645]),
    (np.uint32, [0, 7, 2**32 - 1], {"min_value": 5, "max_value": 4294967290}, [5, 7, 4294967290]),
    (np.uint32, [0, 2**32 - 1], {"max_value": 5294967290}, [0, 2**32 - 1]),
    # int64 bounds beyond 2**53 stay exact
    (np.int64, [2**53, 2**53 + 1, 2**53 + 2, 2**62 + 5, -(2**62)],
     {"min_value": 2**53 + 1, "max_value": 2**62 + 3}, [2**53 + 1, 2**53 + 1, 2**53 + 2, 2**62 + 3, 2**53 + 1]),
    (np.int64, [-(2**63), 2**63 - 1], {"min_value": -(2**63) + 1}, [-(2**63) + 1, 2**63 - 1]),
    # uint64 past 2**63 (held as int64 bits inside a graph)
    (np.uint64, [0, 2**63 - 1, 2**63, 2**63 + 9, 2**64 - 1],
     {"min_value": 2**63 - 2, "max_value": 2**63 + 5}, [2**63 - 2, 2**63 - 1, 2**63, 2**63 + 5, 2**63 + 5]),
    (np.uint64, [0, 2**64 - 1], {"min_value": 1}, [1, 2**64 - 1]),
    (np.uint64, [5, 2**64 - 1], {"max_value": 9007199254740992}, [5, 9007199254740992]),
    # float bounds on integer types: rounded half to even, NaN -> 0
    (np.int32, [0, 1, 2, 3, 4], {"min_value": 1.5, "max_value": 2.5}, [2, 2, 2, 2, 2]),
    (np.int32, [-3, 3], {"min_value": math.nan}, [0, 3]),
]


@pytest.mark.parametrize(("dtype", "values", "options", "want"), CLAMP_INT_CASES)
def test_clamp_integers(ctx, dtype, values, options, want):
    x = np.array(values, dtype)
    got = run(ctx, lambda b, a: b.clamp(a, **options), x=x)
    assert got.dtype == dtype
    assert [int(v) for v in got] == want


def test_clamp_float16_bound_cast(ctx):
    x = np.array([-np.inf, 1.0, 65504], np.float16)
    # 1e6 casts to +Infinity in float16: no upper clamping; 0.1 casts to float16(0.1)
    got = run(ctx, lambda b, a: b.clamp(a, min_value=0.1, max_value=1e6), x=x)
    assert got.tolist() == [float(np.float16(0.1)), 1.0, 65504.0]


def test_clamp_keeps_nan_input(ctx):
    got = run(ctx, lambda b, a: b.clamp(a, min_value=0, max_value=1), x=np.array([math.nan, 2], np.float32))
    assert math.isnan(got[0]) and got[1] == 1


# -- errors ------------------------------------------------------------------------

def _builder(ctx, dtype="float32", shape=(2, 3)):
    b = MLGraphBuilder(ctx)
    return b, b.input("x", {"dataType": dtype, "shape": list(shape)})


ERRORS = [
    # (call(builder, x), pattern)  -- each pattern names the op and the argument
    (lambda b, x: b.sigmoid(b.input("i", {"dataType": "int32", "shape": [2]})),
     r"^sigmoid: input data type must be one of float32, float16, got int32"),
    (lambda b, x: b.relu(b.input("u", {"dataType": "uint8", "shape": [2]})), r"^relu: input data type"),
    (lambda b, x: b.elu(x, alpha=math.nan), r"^elu: alpha must be a finite number"),
    (lambda b, x: b.leaky_relu(x, alpha=math.inf), r"^leaky_relu: alpha must be a finite number"),
    (lambda b, x: b.linear(x, beta="1"), r"^linear: beta must be a number"),
    (lambda b, x: b.hard_sigmoid(x, alpha=True), r"^hard_sigmoid: alpha must be a number"),
    (lambda b, x: b.softmax(x, 2), r"^softmax: axis must be in \[0, 1\] \(input rank 2\), got 2"),
    (lambda b, x: b.softmax(x, -1), r"^softmax: axis must be in \[0, 4294967295\]"),
    (lambda b, x: b.softmax(x, 1.0), r"^softmax: axis must be an integer"),
    (lambda b, x: b.softmax(b.input("s", {"dataType": "float32", "shape": []}), 0),
     r"^softmax: input rank must be 1 to"),
    (lambda b, x: b.prelu(x, 2.0), r"^prelu: slope must be an MLOperand, got float"),
    (lambda b, x: b.prelu(x, b.input("s", {"dataType": "float16", "shape": [3]})),
     r"^prelu: slope data type must match input \(float32\), got float16"),
    (lambda b, x: b.prelu(x, b.input("s", {"dataType": "float32", "shape": [4]})),
     r"^prelu: shapes of input and slope cannot be broadcast: \[2, 3\] and \[4\]"),
    (lambda b, x: b.prelu(b.input("u", {"dataType": "uint32", "shape": [2]}),
                          b.input("s", {"dataType": "uint32", "shape": [2]})), r"^prelu: input data type"),
    (lambda b, x: b.clamp(x, min_value=2, max_value=1), r"^clamp: min_value must be <= max_value"),
    (lambda b, x: b.clamp(b.input("i", {"dataType": "int32", "shape": [2]}), min_value=1.6, max_value=1.4),
     r"^clamp: min_value must be <= max_value after casting to int32, got min_value 2 and max_value 1"),
    (lambda b, x: b.clamp(b.input("u", {"dataType": "uint8", "shape": [2]}), min_value=300, max_value=-5),
     r"^clamp: min_value must be <= max_value .* got min_value 255 and max_value 0"),
    (lambda b, x: b.clamp(x, min_value="0"), r"^clamp: min_value must be a number"),
    (lambda b, x: b.clamp(x, max_value=[1]), r"^clamp: max_value must be a number"),
]


@pytest.mark.parametrize(("call", "pattern"), ERRORS, ids=[p.split(":")[0].lstrip("^") + f"-{i}"
                                                          for i, (_, p) in enumerate(ERRORS)])
def test_errors_name_op_and_argument(cpu, call, pattern):
    b, x = _builder(cpu)
    with pytest.raises(TypeError, match=pattern):
        call(b, x)


def test_missing_softmax_axis_is_named(cpu):
    b, x = _builder(cpu)
    with pytest.raises(TypeError, match="softmax.*axis"):
        b.softmax(x)


def test_attributes_hold_cast_values(cpu):
    b, x = _builder(cpu, "float16")
    b.elu(x, alpha=0.1)
    b.clamp(b.input("i", {"dataType": "int64", "shape": [1]}), min_value=2**62 + 1)
    nodes = b._graph.nodes
    assert nodes[0].attrs == {"alpha": float(np.float16(0.1))}
    assert nodes[1].attrs == {"min_value": 2**62 + 1, "max_value": None}
