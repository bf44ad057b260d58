"""Shape ops (reshape, transpose, concat, slice, split, pad, expand, tile, reverse,
triangular) on the CPU backend, against numpy references, for every data type.

The reference for each case is numpy's own function (np.reshape, np.transpose, np.pad,
np.broadcast_to, np.tile, np.flip, np.triu/np.tril...), never this implementation.
Error cases check that the message names the op and the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import webnn
from webnn import MLGraphBuilder
from webnn.dtypes import ALL_EIGHT, numpy_dtype
from webnn.ops._cast import cast_number, convert_to_float

RNG = np.random.default_rng(1234)


@pytest.fixture(scope="module")
def ctx() -> webnn.MLContext:
    return webnn.ml.create_context("cpu", cache=False)


def sample(data_type: str, shape: tuple[int, ...]) -> np.ndarray:
    """Values that exercise the whole type: extremes of 64-bit types included."""
    dtype = numpy_dtype(data_type)
    n = math.prod(shape)
    if dtype.kind == "f":
        values = RNG.standard_normal(n).astype(dtype)
        specials = np.array([np.nan, np.inf, -np.inf, -0.0], dtype)
    else:
        info = np.iinfo(dtype)
        values = RNG.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        specials = np.array([info.min, info.max, info.max - 1], dtype)
    k = min(len(specials), n)
    values[:k] = specials[:k]
    return values.reshape(shape)


def run(ctx: webnn.MLContext, inputs: dict[str, np.ndarray],
        build: Callable[..., Any]) -> np.ndarray | list[np.ndarray]:
    """Build ``build(builder, *operands)`` over graph inputs and compute it."""
    b = MLGraphBuilder(ctx)
    operands = [b.input(name, {"dataType": webnn.dtypes.from_numpy(a.dtype), "shape": list(a.shape)})
                for name, a in inputs.items()]
    out = build(b, *operands)
    outs = out if isinstance(out, list) else [out]
    result = ctx.compute(b.build({f"o{i}": o for i, o in enumerate(outs)}), inputs)
    arrays = [result[f"o{i}"] for i in range(len(outs))]
    return arrays if isinstance(out, list) else arrays[0]


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    """Bit-exact equality (-0 != +0), NaN matching any NaN: these ops only move values.

    (float16 runs as float32 on the CPU, which may change a NaN's payload bits.)
    """
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    if actual.dtype.kind == "f":
        nan = np.isnan(expected)
        assert np.array_equal(np.isnan(actual), nan)
        actual, expected = actual[~nan], expected[~nan]
    assert actual.tobytes() == expected.tobytes()


# ---------------------------------------------------------------- value cases ------
# (id, input shape, builder call, numpy reference)
CASES: list[tuple[str, tuple[int, ...], Callable[..., Any], Callable[[np.ndarray], Any]]] = [
    ("reshape-2d-3d", (2, 6), lambda b, x: b.reshape(x, [3, 2, 2]), lambda a: a.reshape(3, 2, 2)),
    ("reshape-0d-to-1d", (), lambda b, x: b.reshape(x, [1]), lambda a: a.reshape(1)),
    ("reshape-to-0d", (1, 1), lambda b, x: b.reshape(x, []), lambda a: a.reshape(())),
    ("transpose-default", (2, 3, 4), lambda b, x: b.transpose(x), lambda a: a.transpose()),
    ("transpose-perm", (2, 3, 4), lambda b, x: b.transpose(x, permutation=[1, 2, 0]),
     lambda a: a.transpose(1, 2, 0)),
    ("transpose-0d", (), lambda b, x: b.transpose(x), lambda a: a),
    ("concat-self-axis1", (2, 3), lambda b, x: b.concat([x, x, x], 1),
     lambda a: np.concatenate([a, a, a], 1)),
    ("concat-single", (4,), lambda b, x: b.concat([x], 0), lambda a: a),
    ("slice-plain", (5, 6), lambda b, x: b.slice(x, [1, 2], [3, 4]), lambda a: a[1:4, 2:6]),
    ("slice-strides", (7, 9), lambda b, x: b.slice(x, [1, 0], [6, 9], strides=[2, 4]),
     lambda a: a[1:7:2, 0:9:4]),
    ("slice-stride-larger-than-size", (5,), lambda b, x: b.slice(x, [2], [2], strides=[5]),
     lambda a: a[2:4:5]),
    ("slice-0d", (), lambda b, x: b.slice(x, [], []), lambda a: a),
    ("split-count", (6, 2), lambda b, x: b.split(x, 3), lambda a: np.split(a, 3, 0)),
    ("split-sizes-axis", (2, 7), lambda b, x: b.split(x, [1, 4, 2], axis=1),
     lambda a: np.split(a, [1, 5], 1)),
    ("split-one", (3,), lambda b, x: b.split(x, 1), lambda a: [a]),
    ("pad-constant", (2, 3), lambda b, x: b.pad(x, [1, 2], [0, 1]),
     lambda a: np.pad(a, [(1, 0), (2, 1)])),
    ("pad-edge", (2, 3), lambda b, x: b.pad(x, [1, 2], [3, 1], mode="edge"),
     lambda a: np.pad(a, [(1, 3), (2, 1)], mode="edge")),
    ("pad-reflection", (3, 4), lambda b, x: b.pad(x, [2, 3], [1, 3], mode="reflection"),
     lambda a: np.pad(a, [(2, 1), (3, 3)], mode="reflect")),
    ("pad-reflection-3d-partial", (2, 3, 4), lambda b, x: b.pad(x, [0, 1, 0], [1, 2, 3], mode="reflection"),
     lambda a: np.pad(a, [(0, 1), (1, 2), (0, 3)], mode="reflect")),
    ("pad-0d", (), lambda b, x: b.pad(x, [], []), lambda a: a),
    ("expand-rank-up", (3, 1), lambda b, x: b.expand(x, [2, 3, 4]),
     lambda a: np.broadcast_to(a, (2, 3, 4))),
    ("expand-0d", (), lambda b, x: b.expand(x, [2, 2]), lambda a: np.broadcast_to(a, (2, 2))),
    ("expand-same", (2, 2), lambda b, x: b.expand(x, [2, 2]), lambda a: a),
    ("tile", (2, 3), lambda b, x: b.tile(x, [3, 2]), lambda a: np.tile(a, (3, 2))),
    ("tile-0d", (), lambda b, x: b.tile(x, []), lambda a: a),
    ("reverse-all", (2, 3, 4), lambda b, x: b.reverse(x), lambda a: np.flip(a)),
    ("reverse-axes", (2, 3, 4), lambda b, x: b.reverse(x, axes=[2, 0]), lambda a: np.flip(a, (0, 2))),
    ("reverse-none", (2, 3), lambda b, x: b.reverse(x, axes=[]), lambda a: a),
    ("reverse-0d", (), lambda b, x: b.reverse(x), lambda a: a),
    ("triangular-upper", (4, 5), lambda b, x: b.triangular(x), lambda a: np.triu(a)),
    ("triangular-upper-diag", (4, 5), lambda b, x: b.triangular(x, diagonal=2), lambda a: np.triu(a, 2)),
    ("triangular-upper-neg", (4, 5), lambda b, x: b.triangular(x, diagonal=-1), lambda a: np.triu(a, -1)),
    ("triangular-lower", (3, 4), lambda b, x: b.triangular(x, upper=False), lambda a: np.tril(a)),
    ("triangular-lower-diag-batch", (2, 3, 4), lambda b, x: b.triangular(x, upper=False, diagonal=1),
     lambda a: np.tril(a, 1)),
    ("triangular-lower-far", (3, 3), lambda b, x: b.triangular(x, upper=False, diagonal=-7),
     lambda a: np.tril(a, -7)),
]


@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(("shape", "build", "reference"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_values_match_numpy(ctx, data_type, shape, build, reference):
    a = sample(data_type, shape)
    got = run(ctx, {"x": a}, build)
    want = reference(a)
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    else:
        assert_same(got, want)


def test_constant_operands_and_chains(ctx):
    """Ops fed by constants and by each other (compute types flow between them)."""
    a = np.arange(24, dtype=np.float16).reshape(2, 3, 4)
    b = MLGraphBuilder(ctx)
    c = b.constant(a)
    y = b.triangular(b.reverse(b.transpose(b.reshape(c, [6, 4]), permutation=[1, 0])), upper=False)
    out = ctx.compute(b.build({"y": y}), {})["y"]
    assert_same(out, np.tril(np.flip(a.reshape(6, 4).T)))


# ------------------------------------------------------------- uint64 / int64 exact --
U64 = np.array([2**64 - 1, 2**63, 2**63 + 1, 2**53 + 1, 0, 7], dtype=np.uint64).reshape(2, 3)


def test_uint64_above_2_63_bit_exact_through_pad_reshape_concat(ctx):
    def build(b, x):
        p = b.pad(x, [1, 1], [0, 2], value=2**64 - 2)
        r = b.reshape(x, [3, 2])
        return [p, r, b.concat([x, b.reverse(x)], 0), b.pad(x, [1, 0], [1, 0], mode="edge")]

    p, r, cat, edge = run(ctx, {"x": U64}, build)
    assert_same(p, np.pad(U64, [(1, 0), (1, 2)], constant_values=np.uint64(2**64 - 2)))
    assert_same(r, U64.reshape(3, 2))
    assert_same(cat, np.concatenate([U64, np.flip(U64)], 0))
    assert_same(edge, np.pad(U64, [(1, 1), (0, 0)], mode="edge"))


@pytest.mark.parametrize(
    ("data_type", "value", "expected"),
    [
        ("int64", 2**53 + 1, 2**53 + 1),            # not representable as a double
        ("int64", -(2**63), -(2**63)),
        ("int64", 2**70, 2**63 - 1),                # clamped (ConvertToInt)
        ("uint64", 2**64 - 1, 2**64 - 1),
        ("uint64", -5, 0),
        ("uint32", 2**32 + 9, 2**32 - 1),
        ("int32", 2.5, 2),                           # half to even
        ("int32", 3.5, 4),
        ("int8", 300, 127),
        ("int8", -1e300, -128),
        ("uint8", float("nan"), 0),                  # NaN -> 0 for integer types
        ("uint8", float("inf"), 255),
        ("float16", 65520.0, math.inf),              # rounds past the float16 maximum
        ("float16", 2**11 + 1, 2048.0),              # tie to even
        ("float32", 2**24 + 1, 16777216.0),
        ("float32", 2**60 + 2**36 + 1, float(2**60 + 2**37)),  # no double rounding
        ("float32", 2**200, math.inf),
        ("float32", -(2**200), -math.inf),
    ],
)
def test_pad_value_cast(ctx, data_type, value, expected):
    a = np.zeros((1,), numpy_dtype(data_type))
    got = run(ctx, {"x": a}, lambda b, x: b.pad(x, [1], [0], value=value))
    assert got.dtype == numpy_dtype(data_type)
    assert got[0] == np.array(expected).astype(got.dtype) and got[1] == 0
    if isinstance(expected, int):
        assert int(got[0]) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("data_type", ["float32", "float16"])
def test_pad_special_float_values(ctx, data_type, value):
    a = sample(data_type, (2, 2))
    got = run(ctx, {"x": a}, lambda b, x: b.pad(x, [1, 0], [0, 1], value=value))
    want = np.pad(a, [(1, 0), (0, 1)], constant_values=np.array(value, a.dtype))
    assert_same(got, want)


def test_cast_number_helper_rejects_non_numbers():
    with pytest.raises(TypeError, match="pad: value must be a number"):
        cast_number("pad", "value", "1", "float32")
    with pytest.raises(TypeError, match="pad: value must be a number"):
        cast_number("pad", "value", True, "int32")
    assert convert_to_float(-(2**60 + 2**36), "float32") == -float(2**60)  # tie to even


def test_negative_zero_and_nan_survive_triangular(ctx):
    """Zeroing uses a mask, so NaN/Inf above the diagonal stay and nothing becomes NaN."""
    a = np.array([[np.inf, np.nan], [np.nan, -0.0]], np.float32)
    got = run(ctx, {"x": a}, lambda b, x: b.triangular(x))
    assert_same(got, np.array([[np.inf, np.nan], [0.0, -0.0]], np.float32))


# ------------------------------------------------------------------ shape inference --
@pytest.mark.parametrize(
    ("shape", "build", "expected"),
    [
        ((7, 9), lambda b, x: b.slice(x, [0, 1], [7, 8], strides=[3, 2]), [(3, 4)]),
        ((2, 3), lambda b, x: b.pad(x, [1, 0], [2, 5]), [(5, 8)]),
        ((6,), lambda b, x: b.split(x, [1, 5]), [(1,), (5,)]),
        ((1,), lambda b, x: b.expand(x, [4, 1, 3]), [(4, 1, 3)]),
        ((2, 3, 4), lambda b, x: b.transpose(x, permutation=[2, 0, 1]), [(4, 2, 3)]),
    ],
)
def test_output_descriptors(ctx, shape, build, expected):
    b = MLGraphBuilder(ctx)
    out = build(b, b.input("x", {"dataType": "float32", "shape": list(shape)}))
    outs = out if isinstance(out, list) else [out]
    assert [o.shape for o in outs] == expected
    assert all(o.data_type == "float32" for o in outs)


def test_split_always_returns_a_list(ctx):
    b = MLGraphBuilder(ctx)
    parts = b.split(b.input("x", {"dataType": "int8", "shape": [4]}), 1)
    assert isinstance(parts, list) and len(parts) == 1 and parts[0].shape == (4,)


# ----------------------------------------------------------------------- errors --
def _x(b, shape=(2, 3), data_type="float32"):
    return b.input("x", {"dataType": data_type, "shape": list(shape)})


ERRORS: list[tuple[str, Callable[..., Any], str]] = [
    ("reshape-count", lambda b: b.reshape(_x(b), [4, 2]), r"reshape: new_shape \[4, 2\] has 8 elements"),
    ("reshape-zero", lambda b: b.reshape(_x(b), [6, 0]), "reshape: new_shape must hold valid dimensions"),
    ("reshape-negative", lambda b: b.reshape(_x(b), [-6]), r"reshape: new_shape values must be in \[0,"),
    ("reshape-rank", lambda b: b.reshape(_x(b, (1,)), [1] * 9), "reshape: new_shape rank must be at most 8"),
    ("reshape-not-ints", lambda b: b.reshape(_x(b), [2.0, 3]), "reshape: new_shape must be a sequence"),
    ("transpose-length", lambda b: b.transpose(_x(b), permutation=[0]), "transpose: permutation must have 2"),
    ("transpose-range", lambda b: b.transpose(_x(b), permutation=[0, 2]), r"transpose: permutation values"),
    ("transpose-dup", lambda b: b.transpose(_x(b), permutation=[1, 1]), "transpose: permutation must not repeat"),
    ("concat-axis", lambda b: b.concat([_x(b)], 2), r"concat: axis must be in \[0, 1\]"),
    ("concat-type", lambda b: b.concat([_x(b), b.input("y", {"dataType": "int32", "shape": [2, 3]})], 0),
     r"concat: inputs\[1\] data type must match"),
    ("concat-rank", lambda b: b.concat([_x(b), b.input("y", {"dataType": "float32", "shape": [6]})], 0),
     r"concat: inputs\[1\] rank must match"),
    ("concat-shape", lambda b: b.concat([_x(b), b.input("y", {"dataType": "float32", "shape": [2, 4]})], 0),
     r"concat: inputs\[1\] shape \[2, 4\] must match"),
    ("concat-empty", lambda b: b.concat([], 0), "concat: inputs must be a non-empty sequence"),
    ("concat-0d", lambda b: b.concat([_x(b, ())], 0), "concat: inputs.* rank must be 1 to 8"),
    ("slice-zero-size", lambda b: b.slice(_x(b), [0, 0], [0, 1]), "slice: sizes must not contain 0"),
    ("slice-length", lambda b: b.slice(_x(b), [0], [1]), "slice: starts must have 2 values"),
    ("slice-bounds", lambda b: b.slice(_x(b), [1, 1], [2, 1]), r"slice: starts\[0\] \+ sizes\[0\]"),
    ("slice-start", lambda b: b.slice(_x(b), [0, 4], [1, 1]), r"slice: starts\[1\] must be at most"),
    ("slice-stride-zero", lambda b: b.slice(_x(b), [0, 0], [1, 1], strides=[1, 0]), "slice: strides must be >= 1"),
    ("slice-stride-length", lambda b: b.slice(_x(b), [0, 0], [1, 1], strides=[1]), "slice: strides must have 2"),
    ("split-axis", lambda b: b.split(_x(b), 1, axis=2), r"split: axis must be in \[0, 1\]"),
    ("split-divide", lambda b: b.split(_x(b), 4, axis=1), "split: splits 4 must divide the input size 3"),
    ("split-zero-count", lambda b: b.split(_x(b), 0), r"split: splits must be in \[1, 8192\]"),
    ("split-sum", lambda b: b.split(_x(b), [1, 1], axis=1), r"split: splits \[1, 1\] must sum to"),
    ("split-zero-size", lambda b: b.split(_x(b), [2, 0], axis=0), "split: splits must not contain 0"),
    ("split-empty", lambda b: b.split(_x(b), []), "split: splits must hold 1 to 8192"),
    ("split-0d", lambda b: b.split(_x(b, ()), 1), "split: input rank must be 1 to 8"),
    ("pad-length", lambda b: b.pad(_x(b), [1], [1, 1]), "pad: beginning_padding must have 2 values"),
    ("pad-mode", lambda b: b.pad(_x(b), [1, 1], [1, 1], mode="symmetric"), "pad: mode must be one of"),
    ("pad-reflect-big", lambda b: b.pad(_x(b), [0, 3], [0, 0], mode="reflection"),
     "pad: reflection padding on axis 1 must be smaller than the input size 3"),
    ("pad-reflect-end", lambda b: b.pad(_x(b), [0, 0], [2, 0], mode="reflection"),
     "pad: reflection padding on axis 0"),
    ("pad-value", lambda b: b.pad(_x(b), [1, 1], [1, 1], value="0"), "pad: value must be a number"),
    ("pad-huge", lambda b: b.pad(_x(b), [2**31, 0], [0, 0]), "pad: output shape must hold valid dimensions"),
    ("expand-incompatible", lambda b: b.expand(_x(b), [2, 4]), r"expand: input shape \[2, 3\] cannot broadcast"),
    ("expand-rank-down", lambda b: b.expand(_x(b), [3]), "expand: input shape"),
    ("expand-zero", lambda b: b.expand(_x(b), [0, 2, 3]), "expand: new_shape must hold valid dimensions"),
    ("expand-too-big", lambda b: b.expand(_x(b), [2**16, 2**15, 2, 3]), r"expand: output shape .* more than 2\*\*31"),
    ("tile-length", lambda b: b.tile(_x(b), [2]), "tile: repetitions must have 2 values"),
    ("tile-zero", lambda b: b.tile(_x(b), [1, 0]), "tile: repetitions must not contain 0"),
    ("reverse-range", lambda b: b.reverse(_x(b), axes=[2]), r"reverse: axes values must be in \[0, 2\)"),
    ("reverse-dup", lambda b: b.reverse(_x(b), axes=[0, 0]), "reverse: axes must not repeat"),
    ("triangular-rank", lambda b: b.triangular(_x(b, (3,))), "triangular: input rank must be 2 to 8"),
    ("triangular-upper", lambda b: b.triangular(_x(b), upper=1), "triangular: upper must be a bool"),
    ("triangular-diagonal", lambda b: b.triangular(_x(b), diagonal=2**31), "triangular: diagonal must be in"),
    ("reshape-int4", lambda b: b.reshape(_x(b, (2,), "int4"), [2]), "reshape: input data type must be one of"),
]


@pytest.mark.parametrize(("build", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_op_and_argument(ctx, build, message):
    b = MLGraphBuilder(ctx)
    with pytest.raises(TypeError, match=message):
        build(b)
