"""quantizeLinear and dequantizeLinear against numpy references.

The references expand scale and zero point block-wise with ``np.repeat`` (the spec's
"blockwise broadcast"), then apply ``(x - zeroPoint) * scale`` and
``clamp(roundEven(x / scale) + zeroPoint)`` in numpy (``np.round`` rounds half to even).
"""

from __future__ import annotations

import numpy as np
import pytest

import webnn
from webnn import MLGraphBuilder
from webnn.dtypes import INT_RANGES, numpy_dtype

RNG = np.random.default_rng(99)


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def blockwise_expand(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    for axis, (have, want) in enumerate(zip(values.shape, shape)):
        values = np.repeat(values, want // have, axis=axis)
    return values


def run(ctx, op: str, x: np.ndarray, x_type: str, scale: np.ndarray, s_type: str,
        zero_point: np.ndarray, z_type: str, constant_input: bool = False) -> np.ndarray:
    b = MLGraphBuilder(ctx)
    if constant_input:
        inp = b.constant({"dataType": x_type, "shape": list(x.shape)}, x)
        feeds = {}
    else:
        inp = b.input("x", {"dataType": x_type, "shape": list(x.shape)})
        feeds = {"x": x}
    s = b.constant({"dataType": s_type, "shape": list(scale.shape)}, scale)
    z = b.constant({"dataType": z_type, "shape": list(zero_point.shape)}, zero_point)
    out = getattr(b, op)(inp, s, z)
    return ctx.compute(b.build({"y": out}), feeds)["y"]


def ref_dequantize(x, scale, zero_point):
    s = blockwise_expand(scale.astype(np.float64), x.shape)
    z = blockwise_expand(zero_point.astype(np.float64), x.shape)
    return (x.astype(np.float64) - z) * s


def ref_quantize(x, scale, zero_point, z_type):
    lo, hi = INT_RANGES[z_type]
    s = blockwise_expand(scale.astype(np.float32), x.shape)
    z = blockwise_expand(zero_point.astype(np.float64), x.shape)
    q = np.round(x.astype(np.float32) / s).astype(np.float64) + z
    return np.clip(q, lo, hi).astype(numpy_dtype(z_type))


#: (input shape, scale/zero-point shape): per-tensor, per-axis, implicit and explicit blocks.
LAYOUTS = [
    ((), ()),
    ((4,), (4,)),
    ((4,), (1,)),
    ((4,), (2,)),
    ((6, 4), (2, 2)),
    ((6, 4), (1, 4)),
    ((1, 1, 2, 2), (1, 1, 2, 1)),
    ((1, 4, 1), (1, 2, 1)),
    ((2, 6, 8), (1, 3, 2)),
]
QUANT_TYPES = ["int8", "uint8", "int32", "uint32", "int4", "uint4"]


def _values(data_type: str, shape, span: int | None = None) -> np.ndarray:
    lo, hi = INT_RANGES[data_type]
    if span is not None:
        lo, hi = max(lo, -span), min(hi, span)
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(numpy_dtype(data_type))


@pytest.mark.parametrize(("shape", "block"), LAYOUTS, ids=[f"{list(a)}-{list(b)}" for a, b in LAYOUTS])
@pytest.mark.parametrize("data_type", QUANT_TYPES)
def test_dequantize_linear(ctx, data_type, shape, block):
    x = _values(data_type, shape)
    z = _values(data_type, block, span=100)
    scale = RNG.uniform(0.01, 2.0, size=block).astype(np.float32)
    got = run(ctx, "dequantize_linear", x, data_type, scale, "float32", z, data_type)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, ref_dequantize(x, scale, z), rtol=1e-6)


@pytest.mark.parametrize("data_type", ["int8", "uint8", "int4"])
def test_dequantize_linear_float16_scale(ctx, data_type):
    x = _values(data_type, (4, 6))
    z = _values(data_type, (2, 3), span=5)
    scale = RNG.uniform(0.01, 2.0, size=(2, 3)).astype(np.float16)
    got = run(ctx, "dequantize_linear", x, data_type, scale, "float16", z, data_type, constant_input=True)
    assert got.dtype == np.float16
    want = ref_dequantize(x, scale, z).astype(np.float16)
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-3)


def test_dequantize_linear_int4_and_uint4_full_ranges(ctx):
    x = np.arange(-8, 8, dtype=np.int8)
    got = run(ctx, "dequantize_linear", x, "int4", np.array([0.5], np.float32), "float32",
              np.array([-8], np.int8), "int4", constant_input=True)
    assert got.tolist() == [(v + 8) * 0.5 for v in range(-8, 8)]
    u = np.arange(0, 16, dtype=np.uint8)
    got = run(ctx, "dequantize_linear", u, "uint4", np.array([2.0], np.float32), "float32",
              np.array([15], np.uint8), "uint4", constant_input=True)
    assert got.tolist() == [(v - 15) * 2.0 for v in range(16)]


def test_dequantize_linear_int32_is_exact_beyond_float32_integers(ctx):
    # (x - zeroPoint) is formed exactly: 2**31 - 1 - (-2**31) = 2**32 - 1 has no float32 form.
    x = np.array([2**31 - 1, -(2**31)], np.int32)
    got = run(ctx, "dequantize_linear", x, "int32", np.array([1.0], np.float32), "float32",
              np.array([-(2**31)], np.int32), "int32")
    assert got.tolist() == [np.float32(2**32 - 1), 0.0]


@pytest.mark.parametrize(("shape", "block"), LAYOUTS, ids=[f"{list(a)}-{list(b)}" for a, b in LAYOUTS])
@pytest.mark.parametrize("z_type", QUANT_TYPES)
def test_quantize_linear(ctx, z_type, shape, block):
    x = RNG.uniform(-300.0, 300.0, size=shape).astype(np.float32)
    scale = RNG.uniform(0.5, 4.0, size=block).astype(np.float32)
    z = _values(z_type, block, span=20)
    got = run(ctx, "quantize_linear", x, "float32", scale, "float32", z, z_type)
    assert got.dtype == numpy_dtype(z_type) and got.shape == x.shape
    assert np.array_equal(got, ref_quantize(x, scale, z, z_type))


@pytest.mark.parametrize("z_type", ["int8", "uint8", "int4", "uint4"])
def test_quantize_linear_float16(ctx, z_type):
    x = RNG.uniform(-40.0, 40.0, size=(3, 4)).astype(np.float16)
    scale = RNG.uniform(0.5, 4.0, size=(3, 2)).astype(np.float16)
    z = _values(z_type, (3, 2), span=3)
    got = run(ctx, "quantize_linear", x, "float16", scale, "float16", z, z_type)
    assert got.dtype == numpy_dtype(z_type)
    assert np.array_equal(got, ref_quantize(x, scale, z, z_type))


def test_quantize_linear_rounds_half_to_even(ctx):
    x = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999998], np.float32)
    got = run(ctx, "quantize_linear", x, "float32", np.array([1.0], np.float32), "float32",
              np.array([0], np.int8), "int8")
    assert got.tolist() == [0, 2, 2, 4, 0, -2, -2, 2]


@pytest.mark.parametrize(("z_type", "zero_point", "want"), [
    ("int8", 0, [127, -128, 127, -128]),
    ("uint8", 0, [255, 0, 255, 0]),
    ("int4", 0, [7, -8, 7, -8]),
    ("uint4", 0, [15, 0, 15, 0]),
    ("int32", 0, [2**31 - 1, -(2**31), 2**31 - 1, -(2**31)]),
    ("uint32", 0, [2**32 - 1, 0, 2**32 - 1, 0]),
    ("int32", 2**31 - 1, [2**31 - 1, -(2**31), 2**31 - 1, -(2**31)]),
    ("uint32", 2**32 - 1, [2**32 - 1, 0, 2**32 - 1, 0]),
])
def test_quantize_linear_saturates(ctx, z_type, zero_point, want):
    x = np.array([3e38, -3e38, np.inf, -np.inf], np.float32)
    got = run(ctx, "quantize_linear", x, "float32", np.array([1.0], np.float32), "float32",
              np.array([zero_point], numpy_dtype(z_type)), z_type)
    assert got.tolist() == want


def test_quantize_linear_int32_zero_point_is_exact(ctx):
    # 16777217 = 2**24 + 1 has no float32 form; the zero point is added as an integer.
    x = np.array([0.0, 2.0, -2.0], np.float32)
    got = run(ctx, "quantize_linear", x, "float32", np.array([1.0], np.float32), "float32",
              np.array([2**24 + 1], np.int32), "int32")
    assert got.tolist() == [2**24 + 1, 2**24 + 3, 2**24 - 1]


def test_quantize_linear_nan_gives_the_zero_point(ctx):
    # Implementation-defined in the spec; documented in the lowering.
    got = run(ctx, "quantize_linear", np.array([np.nan], np.float32), "float32",
              np.array([1.0], np.float32), "float32", np.array([7], np.uint8), "uint8")
    assert got.tolist() == [7]


def test_quantize_then_dequantize_round_trip(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [2, 4]})
    scale = b.constant(np.array([[0.5, 0.25]], np.float32))
    zp = b.constant(np.array([[3, -2]], np.int8))
    q = b.quantize_linear(x, scale, zp)
    y = b.dequantize_linear(q, scale, zp)
    data = np.array([[1.0, 1.3, -2.0, 0.1], [9.0, 0.7, 100.0, -0.2]], np.float32)
    got = ctx.compute(b.build({"y": y}), {"x": data})["y"]
    s = blockwise_expand(np.array([[0.5, 0.25]]), data.shape)
    z = blockwise_expand(np.array([[3, -2]]), data.shape)
    want = (np.clip(np.round(data / s) + z, -128, 127) - z) * s
    np.testing.assert_allclose(got, want, rtol=1e-6)


# -- validation ---------------------------------------------------------------------

def _operands(b, x, s, z):
    def make(name, spec):
        data_type, shape = spec
        return b.input(name, {"dataType": data_type, "shape": list(shape)})

    return make("x", x), make("s", s), make("z", z)


@pytest.mark.parametrize(("x", "s", "z", "message"), [
    (("float32", [4]), ("float16", [4]), ("int8", [4]),
     r"quantize_linear: scale data type must match input \(float32\), got float16"),
    (("float32", [4]), ("int32", [4]), ("int8", [4]),
     "quantize_linear: scale data type must be one of float32, float16, got int32"),
    (("float32", [4]), ("float32", [4]), ("float32", [4]),
     "quantize_linear: zero_point data type must be one of uint8, int8, uint32, int32, int4, uint4, got float32"),
    (("float32", [4]), ("float32", [4]), ("int64", [4]), "quantize_linear: zero_point data type must be one of"),
    (("float32", [4, 2]), ("float32", [4]), ("int8", [4]),
     r"quantize_linear: scale rank must equal input rank 2, got 1 \(shape \[4\]\)"),
    (("float32", [4, 2]), ("float32", [4, 1]), ("int8", [4]),
     "quantize_linear: zero_point rank must equal input rank 2"),
    (("float32", [4, 2]), ("float32", [4, 1]), ("int8", [2, 1]),
     r"quantize_linear: zero_point shape must equal scale shape \[4, 1\], got \[2, 1\]"),
    (("float32", [9, 3]), ("float32", [4, 5]), ("int8", [4, 5]),
     r"quantize_linear: scale shape \[4, 5\] is not blockwise broadcastable to input shape \[9, 3\]"),
    (("float32", [4]), ("float32", [3]), ("int8", [3]), "quantize_linear: scale shape .* not blockwise broadcastable"),
    (("int8", [4]), ("float32", [4]), ("int8", [4]),
     "quantize_linear: input data type must be one of float32, float16, got int8"),
])
def test_quantize_linear_errors(ctx, x, s, z, message):
    b = MLGraphBuilder(ctx)
    with pytest.raises(TypeError, match=message):
        b.quantize_linear(*_operands(b, x, s, z))


@pytest.mark.parametrize(("x", "s", "z", "message"), [
    (("float32", [4]), ("float32", [4]), ("float32", [4]),
     "dequantize_linear: input data type must be one of uint8, int8, uint32, int32, int4, uint4, got float32"),
    (("int64", [4]), ("float32", [4]), ("int64", [4]), "dequantize_linear: input data type must be one of"),
    (("int8", [4]), ("int32", [4]), ("int8", [4]),
     "dequantize_linear: scale data type must be one of float32, float16, got int32"),
    (("int8", [4]), ("float32", [4]), ("uint8", [4]),
     r"dequantize_linear: zero_point data type must match input \(int8\), got uint8"),
    (("int4", [4]), ("float32", [4]), ("int8", [4]),
     r"dequantize_linear: zero_point data type must match input \(int4\), got int8"),
    (("int8", []), ("float32", [1]), ("int8", [1]), "dequantize_linear: scale rank must equal input rank 0, got 1"),
    (("int8", [6, 4]), ("float32", [2, 2]), ("int8", [2, 4]),
     r"dequantize_linear: zero_point shape must equal scale shape \[2, 2\], got \[2, 4\]"),
    (("int8", [6, 4]), ("float32", [4, 2]), ("int8", [4, 2]),
     r"dequantize_linear: scale shape \[4, 2\] is not blockwise broadcastable to input shape \[6, 4\]"),
])
def test_dequantize_linear_errors(ctx, x, s, z, message):
    b = MLGraphBuilder(ctx)
    with pytest.raises(TypeError, match=message):
        b.dequantize_linear(*_operands(b, x, s, z))


@pytest.mark.parametrize("op", ["quantize_linear", "dequantize_linear"])
def test_scale_and_zero_point_must_be_operands(ctx, op):
    b = MLGraphBuilder(ctx)
    x_type, z_type = ("float32", "int8") if op == "quantize_linear" else ("int8", "int8")
    x = b.input("x", {"dataType": x_type, "shape": [2]})
    s = b.input("s", {"dataType": "float32", "shape": [2]})
    z = b.input("z", {"dataType": z_type, "shape": [2]})
    with pytest.raises(TypeError, match=f"{op}: scale must be an MLOperand, got float"):
        getattr(b, op)(x, 0.5, z)
    with pytest.raises(TypeError, match=f"{op}: zero_point must be an MLOperand, got ndarray"):
        getattr(b, op)(x, s, np.zeros(2, np.int8))
    other = MLGraphBuilder(ctx).input("s", {"dataType": "float32", "shape": [2]})
    with pytest.raises(TypeError, match=f"{op}: .*different MLGraphBuilder"):
        getattr(b, op)(x, other, z)


def test_output_descriptors(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float16", "shape": [6, 4]})
    s = b.input("s", {"dataType": "float16", "shape": [3, 1]})
    z = b.input("z", {"dataType": "uint4", "shape": [3, 1]})
    q = b.quantize_linear(x, s, z)
    assert (q.data_type, q.shape) == ("uint4", (6, 4))
    d = b.dequantize_linear(q, s, z)
    assert (d.data_type, d.shape) == ("float16", (6, 4))


def test_support_limits_list_the_sub_byte_types(ctx):
    limits = ctx.op_support_limits()
    assert {"int4", "uint4"} <= set(limits["dequantize_linear"]["input"]["data_types"])
    assert {"int4", "uint4"} <= set(limits["quantize_linear"]["zero_point"]["data_types"])
    assert {"int4", "uint4"} <= set(limits["quantize_linear"]["output"]["data_types"])
