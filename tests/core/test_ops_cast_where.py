"""cast and where against numpy and hand-derived values.

cast follows the spec's table: float -> float and int -> float round to nearest
(overflow to +/-Infinity), int -> int keeps the low bits (two's complement), float ->
int truncates in range. Out of range, float -> int is implementation-defined; ours
saturates to the target's bounds with NaN -> 0, and the tests pin that down.
Runs on the CPU, and on CUDA where present; build-time errors on the CPU only.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder
from webnn.dtypes import ALL_EIGHT, INT_RANGES, from_numpy, numpy_dtype

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"))]


@pytest.fixture(scope="module", params=DEVICES)
def ctx(request):
    return webnn.ml.create_context(request.param, cache=False)


@pytest.fixture(scope="module")
def cpu():
    return webnn.ml.create_context("cpu", cache=False)


def run(ctx, make, **feeds):
    b = MLGraphBuilder(ctx)
    operands = [b.input(n, {"dataType": from_numpy(a.dtype), "shape": a.shape}) for n, a in feeds.items()]
    graph = b.build({"out": make(b, *operands)})
    return ctx.compute(graph, feeds)["out"]


def cast(ctx, values, source, target):
    x = np.array(values, dtype=numpy_dtype(source))
    return run(ctx, lambda b, a: b.cast(a, target), x=x)


# -- every pair, values in range of both types ---------------------------------------

#: Values every one of the eight types holds exactly.
COMMON = [0, 1, 2, 7, 100, 127]


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ALL_EIGHT, ALL_EIGHT)))
def test_every_pair_in_range(ctx, source, target):
    got = cast(ctx, [COMMON, COMMON[::-1]], source, target)
    assert got.dtype == numpy_dtype(target) and got.shape == (2, len(COMMON))
    assert got.tolist() == [COMMON, COMMON[::-1]]


@pytest.mark.parametrize("target", ["int8", "int32", "int64", "float32", "float16"])
@pytest.mark.parametrize("source", ["int8", "int32", "int64", "float32", "float16"])
def test_signed_pairs_keep_negative_values(ctx, source, target):
    assert cast(ctx, [-1, -100, -128], source, target).tolist() == [-1, -100, -128]


def test_scalar(ctx):
    got = cast(ctx, 3.9, "float32", "int32")
    assert got.shape == () and int(got) == 3


# -- float -> int: truncation, then our out-of-range rule --------------------------------

@pytest.mark.parametrize("source", ["float32", "float16"])
@pytest.mark.parametrize("target", ["int8", "uint8", "int32", "uint32", "int64", "uint64"])
def test_float_to_int_truncates(ctx, source, target):
    values = [0.0, 0.5, 1.5, 2.7, 99.75, -0.0]
    want = [0, 0, 1, 2, 99, 0]
    if INT_RANGES[target][0] < 0:
        values += [-0.5, -1.5, -2.7, -99.75]
        want += [0, -1, -2, -99]
    assert cast(ctx, values, source, target).tolist() == want


SATURATION = [
    # source, target, values, expected (implementation-defined: saturate, NaN -> 0)
    ("float32", "int8", [300.0, -300.0, math.nan, math.inf, -math.inf], [127, -128, 0, 127, -128]),
    ("float32", "uint8", [256.0, -1.0, -0.9, math.nan], [255, 0, 0, 0]),
    ("float32", "int32", [1e10, -1e10, 2147483520.0, -2147483648.0], [2**31 - 1, -(2**31), 2147483520, -(2**31)]),
    ("float32", "uint32", [5e9, -5.0, 4294967040.0], [2**32 - 1, 0, 4294967040]),
    ("float32", "int64", [1e19, -1e19, 9.2233715e18], [2**63 - 1, -(2**63), 9223371487098961920]),
    # uint64 past 2**63 is exact (held as int64 bits inside a graph)
    ("float32", "uint64", [1e19, 3e19, -1.0, 2.0**63, math.inf],
     [9999999980506447872, 2**64 - 1, 0, 2**63, 2**64 - 1]),
    ("float16", "int8", [1000.0, -1000.0, math.inf], [127, -128, 127]),
    ("float16", "uint64", [65504.0, -65504.0], [65504, 0]),
]


@pytest.mark.parametrize(("source", "target", "values", "want"), SATURATION)
def test_float_to_int_out_of_range_saturates(ctx, source, target, values, want):
    assert cast(ctx, values, source, target).tolist() == want


# -- int -> int: the low N bits, two's complement ----------------------------------------

WRAP = [
    ("int32", "int8", [300, -129, 2**31 - 1], [44, 127, -1]),
    ("int8", "uint8", [-1, -128], [255, 128]),
    ("int8", "uint32", [-1, -2], [2**32 - 1, 2**32 - 2]),
    ("int8", "uint64", [-1, -128], [2**64 - 1, 2**64 - 128]),
    ("int64", "uint32", [-1, 2**40 + 5], [2**32 - 1, 5]),
    ("int64", "int32", [2**40 + 5, 2**31], [5, -(2**31)]),
    ("int64", "uint64", [-1, -(2**63)], [2**64 - 1, 2**63]),
    ("uint64", "int64", [2**64 - 1, 2**63, 2**63 - 1], [-1, -(2**63), 2**63 - 1]),
    ("uint64", "int32", [2**63 + 5, 2**64 - 1], [5, -1]),
    ("uint64", "uint32", [2**63 + 2**32 + 7], [7]),
    ("uint64", "uint8", [2**64 - 1], [255]),
    ("uint32", "int32", [2**32 - 1, 2**31], [-1, -(2**31)]),
    ("uint32", "int8", [2**32 - 1, 383], [-1, 127]),
    ("uint32", "uint64", [2**32 - 1], [2**32 - 1]),
    ("uint8", "int8", [255, 128], [-1, -128]),
    ("int32", "int64", [-(2**31)], [-(2**31)]),
]


@pytest.mark.parametrize(("source", "target", "values", "want"), WRAP)
def test_int_to_int_keeps_low_bits(ctx, source, target, values, want):
    assert cast(ctx, values, source, target).tolist() == want


# -- to float: nearest representable, +/-Infinity past the range ----------------------------

TO_FLOAT = [
    ("int64", "float32", [2**62 + 2**38 + 1, 2**53 + 1, -(2**63)], [2**62 + 2**39, 2**53, -(2**63)]),
    ("uint64", "float32", [2**64 - 1, 2**63 + 1], [2.0**64, 2.0**63]),
    ("uint64", "float16", [2**64 - 1, 2048], [math.inf, 2048.0]),
    ("int64", "float16", [2049, 2051, 65519, 65520, -70000], [2048.0, 2052.0, 65504.0, math.inf, -math.inf]),
    ("int32", "float16", [70000, -2**31], [math.inf, -math.inf]),
    ("uint32", "float32", [2**32 - 1, 16777217], [2.0**32, 16777216.0]),
    ("uint8", "float16", [255], [255.0]),
    ("float32", "float16", [65519.0, 65520.0, 1e5, -1e5, 1e-8, 0.1],
     [65504.0, math.inf, math.inf, -math.inf, 0.0, float(np.float16(0.1))]),
    ("float16", "float32", [65504.0, 6e-8, -0.0], [65504.0, float(np.float16(6e-8)), -0.0]),
]


@pytest.mark.parametrize(("source", "target", "values", "want"), TO_FLOAT)
def test_to_float_rounds_to_nearest(ctx, source, target, values, want):
    got = cast(ctx, values, source, target)
    assert got.tolist() == want


def test_float_nan_and_negative_zero_survive(ctx):
    got = cast(ctx, [math.nan, -0.0], "float32", "float16")
    assert math.isnan(got[0]) and got[1] == 0 and math.copysign(1, got[1]) == -1


def test_cast_to_float16_rounds_inside_the_graph(ctx):
    # On the CPU float16 values are held as float32 inside a graph; a cast to float16
    # must still round there, so casting back to float32 gives the float16 values.
    x = np.random.default_rng(5).uniform(-1000, 1000, 500).astype(np.float32)
    got = run(ctx, lambda b, a: b.cast(b.cast(a, "float16"), "float32"), x=x)
    np.testing.assert_array_equal(got, x.astype(np.float16).astype(np.float32))


def test_random_float_to_int_matches_numpy_truncation(ctx):
    x = np.random.default_rng(6).uniform(-2e9, 2e9, 1000).astype(np.float32)
    got = run(ctx, lambda b, a: b.cast(a, "int32"), x=x)
    np.testing.assert_array_equal(got, np.trunc(x.astype(np.float64)).astype(np.int32))


# -- where -----------------------------------------------------------------------------

@pytest.mark.parametrize(("cshape", "tshape", "fshape"), [
    ((2, 3), (2, 3), (2, 3)), ((2, 1), (3,), (1,)), ((), (2, 3), (3,)), ((4, 1, 3), (2, 1), ()),
    ((3,), (2, 1), (1, 3)),
])
def test_where_broadcasts(ctx, cshape, tshape, fshape):
    rng = np.random.default_rng(1)
    cond = rng.integers(0, 3, size=cshape).astype(np.uint8) * 100  # 0, 100, 200: non-zero is true
    t = rng.uniform(-5, 5, size=tshape).astype(np.float32)
    f = rng.uniform(-5, 5, size=fshape).astype(np.float32)
    got = run(ctx, lambda b, c, a, e: b.where(c, a, e), c=cond, t=t, f=f)
    want = np.where(cond != 0, t, f)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


WHERE_VALUES = {
    "float32": ([1.5, -0.0, math.inf], [math.nan, 2.0, -1.0]),
    "float16": ([1.5, 65504.0, -2.0], [0.25, -65504.0, 3.0]),
    "int32": ([-(2**31), 5, 7], [2**31 - 1, 0, -7]),
    "uint32": ([2**32 - 1, 1, 2], [0, 3, 4]),
    "int64": ([2**62 + 1, -(2**63), 3], [2**53 + 1, 2**63 - 1, -3]),
    "uint64": ([2**64 - 1, 2**63 + 7, 3], [2**63, 1, 2**53 + 3]),
    "int8": ([-128, 127, 0], [1, -1, 2]),
    "uint8": ([255, 0, 9], [1, 2, 3]),
}


@pytest.mark.parametrize("data_type", ALL_EIGHT)
def test_where_every_data_type_exact(ctx, data_type):
    dt = numpy_dtype(data_type)
    t, f = (np.array(v, dt) for v in WHERE_VALUES[data_type])
    cond = np.array([1, 0, 255], np.uint8)
    got = run(ctx, lambda b, c, a, e: b.where(c, a, e), c=cond, t=t, f=f)
    assert got.dtype == dt
    np.testing.assert_array_equal(got, np.where(cond != 0, t, f))


# -- errors ------------------------------------------------------------------------------

def _in(b, name, shape, dtype="float32"):
    return b.input(name, {"dataType": dtype, "shape": list(shape)})


ERRORS = [
    (lambda b, x: b.cast(x, "float64"), r"^cast: data_type must be one of 'float32', .*'uint8', got 'float64'"),
    (lambda b, x: b.cast(x, "int4"), r"^cast: data_type must be one of .* got 'int4'"),
    (lambda b, x: b.cast(x, "bool"), r"^cast: data_type must be one of .* got 'bool'"),
    (lambda b, x: b.cast(x, np.float32), r"^cast: data_type must be one of"),
    (lambda b, x: b.cast(np.ones(3), "int32"), r"^cast: input must be an MLOperand, got ndarray"),
    (lambda b, x: b.where(x, x, x), r"^where: condition data type must be one of uint8, got float32"),
    (lambda b, x: b.where(_in(b, "c", [2, 3], "uint8"), x, _in(b, "f", [2, 3], "float16")),
     r"^where: false_value data type must match true_value \(float32\), got float16"),
    (lambda b, x: b.where(_in(b, "c", [2, 3], "uint8"), x, _in(b, "f", [4])),
     r"^where: shapes of true_value and false_value cannot be broadcast: \[2, 3\] and \[4\]"),
    (lambda b, x: b.where(_in(b, "c", [5, 1], "uint8"), x, x),
     r"^where: shapes of condition and the broadcast values cannot be broadcast: \[5, 1\] and \[2, 3\]"),
    (lambda b, x: b.where(_in(b, "c", [2, 3], "uint8"), 1.0, x),
     r"^where: true_value must be an MLOperand, got float"),
    (lambda b, x: b.where(_in(b, "c", [2, 3], "uint8"), x, None),
     r"^where: false_value must be an MLOperand, got NoneType"),
]


@pytest.mark.parametrize(("call", "pattern"), ERRORS, ids=[p.split(":")[0].lstrip("^") + f"-{i}"
                                                          for i, (_, p) in enumerate(ERRORS)])
def test_errors_name_op_and_argument(cpu, call, pattern):
    b = MLGraphBuilder(cpu)
    x = _in(b, "x", [2, 3])
    with pytest.raises(TypeError, match=pattern):
        call(b, x)
