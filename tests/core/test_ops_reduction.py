"""argMin/argMax, the ten reductions and cumulativeSum against numpy references.

Table-driven: each case builds a one-op graph on the CPU context and compares with a
numpy computation of the spec's definition (float64 for floats, the data type's own
wrap-around arithmetic for integers). Error cases check that messages name the op and
the argument.
"""

from __future__ import annotations

import numpy as np
import pytest

import webnn
from webnn import MLGraphBuilder

RNG = np.random.default_rng(1234)


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def run(ctx, op: str, x: np.ndarray, data_type: str, *args, **options) -> np.ndarray:
    """Build ``op(input, *args, **options)`` on a graph input and compute it."""
    b = MLGraphBuilder(ctx)
    inp = b.input("x", {"dataType": data_type, "shape": list(x.shape)})
    out = getattr(b, op)(inp, *args, **options)
    return ctx.compute(b.build({"y": out}), {"x": x})["y"]


# -- reductions: float ---------------------------------------------------------------

def _axis(axes):
    return None if axes is None else tuple(axes)


#: numpy reference of each reduction: (x in float64, numpy axis, keepdims) -> result.
REFERENCE = {
    "reduce_l1": lambda x, a, k: np.sum(np.abs(x), axis=a, keepdims=k),
    "reduce_l2": lambda x, a, k: np.sqrt(np.sum(x * x, axis=a, keepdims=k)),
    "reduce_log_sum": lambda x, a, k: np.log(np.sum(x, axis=a, keepdims=k)),
    "reduce_log_sum_exp": lambda x, a, k: np.log(np.sum(np.exp(x), axis=a, keepdims=k)),
    "reduce_max": lambda x, a, k: np.max(x, axis=a, keepdims=k),
    "reduce_mean": lambda x, a, k: np.mean(x, axis=a, keepdims=k),
    "reduce_min": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "reduce_product": lambda x, a, k: np.prod(x, axis=a, keepdims=k),
    "reduce_sum": lambda x, a, k: np.sum(x, axis=a, keepdims=k),
    "reduce_sum_square": lambda x, a, k: np.sum(x * x, axis=a, keepdims=k),
}

#: (input shape, axes (None = option absent), keep_dimensions).
SHAPES = [
    ((2, 3, 4), None, False),
    ((2, 3, 4), None, True),
    ((2, 3, 4), [1], False),
    ((2, 3, 4), [2, 0], False),
    ((2, 3, 4), [2, 0], True),
    ((2, 3, 4), [], False),
    ((2, 3, 4), [], True),
    ((5,), [0], True),
    ((2, 1, 3, 1, 2), [1, 3, 4], False),
    ((), None, False),
    ((), None, True),
    ((), [], False),
]


def _float_input(op: str, shape) -> np.ndarray:
    # Positive values keep reduce_log_sum defined; small ones keep products tame.
    lo = 0.5 if op == "reduce_log_sum" else -1.5
    return RNG.uniform(lo, 1.5, size=shape).astype(np.float32)


@pytest.mark.parametrize("op", sorted(REFERENCE))
@pytest.mark.parametrize(("shape", "axes", "keep"), SHAPES,
                         ids=[f"{list(s)}-axes{a}-keep{k}" for s, a, k in SHAPES])
def test_reduction_float32(ctx, op, shape, axes, keep):
    x = _float_input(op, shape)
    options = {"keep_dimensions": keep} if keep else {}
    if axes is not None:
        options["axes"] = axes
    got = run(ctx, op, x, "float32", **options)
    want = REFERENCE[op](x.astype(np.float64), _axis(axes), keep)
    assert got.dtype == np.float32
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("op", sorted(REFERENCE))
def test_reduction_float16(ctx, op):
    x = _float_input(op, (3, 4)).astype(np.float16)
    got = run(ctx, op, x, "float16", axes=[1])
    want = REFERENCE[op](x.astype(np.float64), 1, False)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3, atol=2e-3)


def test_empty_axes_apply_the_function_to_each_value(ctx):
    x = np.array([[-3.0, 4.0], [0.25, 2.0]], np.float32)
    assert np.array_equal(run(ctx, "reduce_l1", x, "float32", axes=[]), np.abs(x))
    assert np.array_equal(run(ctx, "reduce_l2", x, "float32", axes=[]), np.abs(x))
    assert np.array_equal(run(ctx, "reduce_sum_square", x, "float32", axes=[]), x * x)
    assert np.array_equal(run(ctx, "reduce_max", x, "float32", axes=[]), x)
    # log(sum(exp(x))) of one value is x, also where exp(x) overflows float32.
    big = np.array([100.0, -100.0], np.float32)
    assert np.array_equal(run(ctx, "reduce_log_sum_exp", big, "float32", axes=[]), big)


def test_log_sum_exp_is_stable_for_large_values(ctx):
    x = np.array([[100.0, 100.0], [-100.0, -101.0]], np.float32)
    want = np.logaddexp.reduce(x.astype(np.float64), axis=1)
    np.testing.assert_allclose(run(ctx, "reduce_log_sum_exp", x, "float32", axes=[1]), want, rtol=1e-6)


# -- reductions: integers (wrap-around in the data type) ----------------------------

def _int_reference(op: str, x: np.ndarray, axes, keep: bool) -> np.ndarray:
    dt = x.dtype
    a = _axis(axes)
    with np.errstate(over="ignore"):
        if op == "reduce_sum":
            return np.sum(x, axis=a, keepdims=keep, dtype=dt)
        if op == "reduce_product":
            return np.prod(x, axis=a, keepdims=keep, dtype=dt)
        if op == "reduce_sum_square":
            return np.sum(x * x, axis=a, keepdims=keep, dtype=dt)
        if op == "reduce_l1":
            return np.sum(np.abs(x) if dt.kind == "i" else x, axis=a, keepdims=keep, dtype=dt)
        if op == "reduce_max":
            return np.max(x, axis=a, keepdims=keep)
        if op == "reduce_min":
            return np.min(x, axis=a, keepdims=keep)
    raise AssertionError(op)


U64_TOP = 2**64 - 1
INT_CASES = [
    # (op, data type, values, shape, axes)
    ("reduce_sum", "int32", [2**30] * 4 + [5, -7, 1, 2], (2, 4), [1]),          # wraps to 0
    ("reduce_sum", "int32", [2**31 - 1, 1, -(2**31), -1], (4,), None),
    ("reduce_sum", "uint32", [2**31, 2**31, 5, 7, 2**32 - 1, 3], (2, 3), [1]),  # wraps mod 2**32
    ("reduce_sum", "int64", [2**62, 2**62, 2**62, 3], (4,), None),
    ("reduce_sum", "uint64", [U64_TOP, 2, 2**63, 2**63], (2, 2), [1]),          # wraps mod 2**64
    ("reduce_product", "int32", [65536, 65536, 3, -5, 7, 2], (2, 3), [1]),     # 2**32 wraps to 0
    ("reduce_product", "uint32", [65537, 65537, 1, 4, 5, 6], (3, 2), [1]),
    ("reduce_product", "int64", [2**40, 2**30, -3, 1], (2, 2), [0, 1]),
    ("reduce_product", "uint64", [2**63 + 1, 3, 5, 7], (4,), None),
    ("reduce_sum_square", "int32", [50000, 3, -4, 5], (4,), [0]),
    ("reduce_sum_square", "uint32", [70000, 3, 4, 5], (2, 2), [1]),
    ("reduce_sum_square", "uint64", [2**32 + 1, 3], (2,), None),
    ("reduce_l1", "int32", [-5, 3, -(2**31), 1], (2, 2), [1]),
    ("reduce_l1", "int64", [-(2**40), 3, -4, 5], (4,), None),
    ("reduce_l1", "uint32", [2**32 - 1, 1, 4, 5], (2, 2), [1]),
    ("reduce_l1", "uint64", [2**63 + 1, 1, 2, 3], (2, 2), [1]),                # no abs of the bits
    ("reduce_max", "uint64", [1, 2**63 + 5, U64_TOP, 7], (2, 2), [1]),
    ("reduce_min", "uint64", [U64_TOP, 2**63, 2**63 + 9, 7], (2, 2), [0]),
    ("reduce_max", "uint32", [2**32 - 1, 0, 2**31, 5], (4,), None),
    ("reduce_min", "int64", [-(2**63), 2**63 - 1, 0, 1], (2, 2), [1]),
    ("reduce_max", "int8", [-128, 127, -1, 0, 5, -7], (2, 3), [0]),
    ("reduce_min", "uint8", [255, 0, 17, 9, 200, 1], (3, 2), None),
    ("reduce_max", "int32", [-(2**31), -5, -7, -1], (2, 2), [1]),
]


@pytest.mark.parametrize(("op", "data_type", "values", "shape", "axes"), INT_CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(INT_CASES)])
@pytest.mark.parametrize("keep", [False, True])
def test_reduction_integers(ctx, op, data_type, values, shape, axes, keep):
    x = np.array(values, dtype=np.dtype(data_type)).reshape(shape)
    options = {"keep_dimensions": keep}
    if axes is not None:
        options["axes"] = axes
    got = run(ctx, op, x, data_type, **options)
    want = _int_reference(op, x, axes, keep)
    assert got.dtype == x.dtype
    assert got.shape == np.shape(want)
    assert np.array_equal(got, want), (got, want)


def test_integer_reduction_over_a_scalar(ctx):
    x = np.array(-(2**31) + 3, np.int32)
    assert run(ctx, "reduce_sum_square", x, "int32").item() == np.int32(9)  # (-2**31 + 3)**2 wraps to 9
    u = np.array(2**64 - 1, np.uint64)
    assert run(ctx, "reduce_max", u, "uint64").item() == 2**64 - 1


# -- reductions: output shapes and errors -------------------------------------------------

@pytest.mark.parametrize(("shape", "axes", "keep", "want"), [
    ((2, 3, 4), None, False, ()),
    ((2, 3, 4), None, True, (1, 1, 1)),
    ((2, 3, 4), [], False, (2, 3, 4)),
    ((2, 3, 4), [2, 0], False, (3,)),
    ((2, 3, 4), [2, 0], True, (1, 3, 1)),
    ((), None, True, ()),
    ((), [], False, ()),
])
def test_reduction_output_shapes(ctx, shape, axes, keep, want):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": list(shape)})
    options = {"keep_dimensions": keep}
    if axes is not None:
        options["axes"] = axes
    for op in REFERENCE:
        out = getattr(b, op)(x, **options)
        assert (out.data_type, out.shape) == ("float32", want), op


@pytest.mark.parametrize(("op", "data_type", "shape", "options", "message"), [
    ("reduce_sum", "float32", [2, 3], {"axes": [2]}, r"reduce_sum: axes values must be in \[0, 2\), got \[2\]"),
    ("reduce_max", "float32", [2, 3], {"axes": [1, 1]}, r"reduce_max: axes must not repeat an axis, got \[1, 1\]"),
    ("reduce_min", "float32", [2, 3], {"axes": [-1]}, r"reduce_min: axes values must be in \[0, 2\)"),
    ("reduce_l1", "float32", [], {"axes": [0]}, r"reduce_l1: axes values must be in \[0, 0\)"),
    ("reduce_l2", "float32", [2], {"axes": 0}, "reduce_l2: axes must be a sequence of integers, got 0"),
    ("reduce_mean", "float32", [2], {"axes": [0.5]}, "reduce_mean: axes must be a sequence of integers"),
    ("reduce_sum", "float32", [2], {"keep_dimensions": 1}, "reduce_sum: keep_dimensions must be a bool, got 1"),
    ("reduce_mean", "int32", [2], {}, "reduce_mean: input data type must be one of float32, float16, got int32"),
    ("reduce_l2", "uint32", [2], {}, "reduce_l2: input data type must be one of float32, float16, got uint32"),
    ("reduce_log_sum", "int64", [2], {}, "reduce_log_sum: input data type must be one of"),
    ("reduce_log_sum_exp", "int32", [2], {}, "reduce_log_sum_exp: input data type must be one of"),
    ("reduce_sum", "int8", [2], {}, "reduce_sum: input data type must be one of .*, got int8"),
    ("reduce_product", "uint8", [2], {}, "reduce_product: input data type must be one of .*, got uint8"),
    ("reduce_l1", "int8", [2], {}, "reduce_l1: input data type must be one of .*, got int8"),
])
def test_reduction_errors(ctx, op, data_type, shape, options, message):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": data_type, "shape": shape})
    with pytest.raises(TypeError, match=message):
        getattr(b, op)(x, **options)


def test_reduction_rejects_unknown_option(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [2]})
    with pytest.raises(TypeError, match="keepDimensions"):
        b.reduce_sum(x, keepDimensions=True)


# -- argMin / argMax ------------------------------------------------------------------

ARG_CASES = [
    # (data type, shape, axis, keep_dimensions, output_data_type)
    ("float32", (24,), 0, False, "int32"),
    ("float32", (4, 6), 1, False, "int32"),
    ("float32", (2, 3, 4), 2, True, "int64"),
    ("float32", (2, 1, 4, 3), 0, True, "int32"),
    ("float16", (2, 1, 4, 1, 3), 2, False, "int64"),
    ("int8", (3, 5), 0, False, "int32"),
    ("uint8", (3, 5), 1, True, "int64"),
    ("int32", (4, 3), 0, False, "int64"),
    ("uint32", (4, 3), 1, False, "int32"),
    ("int64", (2, 2, 3), 2, True, "int32"),
    ("uint64", (2, 5), 1, False, "int64"),
]


def _arg_input(data_type: str, shape) -> np.ndarray:
    dt = np.dtype(data_type)
    if dt.kind == "f":
        return RNG.standard_normal(shape).astype(dt)
    info = np.iinfo(dt)
    # Draw over the whole range (uint64 above 2**63 too), with small values mixed in for ties.
    values = RNG.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    values.reshape(-1)[::3] = 7
    return values


@pytest.mark.parametrize("op", ["arg_min", "arg_max"])
@pytest.mark.parametrize(("data_type", "shape", "axis", "keep", "out_type"), ARG_CASES,
                         ids=[f"{c[0]}-{list(c[1])}-axis{c[2]}" for c in ARG_CASES])
def test_arg_min_max(ctx, op, data_type, shape, axis, keep, out_type):
    x = _arg_input(data_type, shape)
    got = run(ctx, op, x, data_type, axis, keep_dimensions=keep, output_data_type=out_type)
    ref = np.argmin if op == "arg_min" else np.argmax
    want = ref(x, axis=axis, keepdims=keep).astype(out_type)
    assert got.dtype == np.dtype(out_type)
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("data_type", ["float32", "float16", "int32", "uint32", "int64", "uint64",
                                       "int8", "uint8"])
def test_arg_min_max_ties_pick_the_first_index(ctx, data_type):
    x = np.array([[3, 1, 1, 3, 3], [2, 2, 2, 2, 2]], dtype=np.dtype(data_type))
    assert run(ctx, "arg_min", x, data_type, 1).tolist() == [1, 0]
    assert run(ctx, "arg_max", x, data_type, 1).tolist() == [0, 0]
    y = np.array([[5, 5], [5, 5], [1, 5]], dtype=np.dtype(data_type))
    assert run(ctx, "arg_max", y, data_type, 0).tolist() == [0, 0]
    assert run(ctx, "arg_min", y, data_type, 0).tolist() == [2, 0]


def test_arg_min_max_default_options(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [2, 3, 4]})
    out = b.arg_max(x, 1)
    assert (out.data_type, out.shape) == ("int32", (2, 4))
    out = b.arg_min(x, 1, keep_dimensions=True, output_data_type="int64")
    assert (out.data_type, out.shape) == ("int64", (2, 1, 4))
    one = b.input("one", {"dataType": "float32", "shape": [5]})
    assert b.arg_min(one, 0).shape == ()


@pytest.mark.parametrize(("shape", "axis", "options", "message"), [
    ([2, 3], 2, {}, r"arg_min: axis must be in \[0, 2\) for input shape \[2, 3\], got 2"),
    ([2, 3], -1, {}, "arg_min: axis must be >= 0, got -1"),
    ([2, 3], 0.0, {}, "arg_min: axis must be an integer, got 0.0"),
    ([2, 3], 0, {"output_data_type": "float32"}, "arg_min: output_data_type must be one of 'int32', 'int64', "
                                                 "got 'float32'"),
    ([2, 3], 0, {"output_data_type": "uint32"}, "arg_min: output_data_type must be one of"),
    ([2, 3], 0, {"keep_dimensions": "yes"}, "arg_min: keep_dimensions must be a bool, got 'yes'"),
    ([], 0, {}, r"arg_min: input rank must be 1 to 8, got 0"),
])
def test_arg_min_max_errors(ctx, shape, axis, options, message):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": shape})
    with pytest.raises(TypeError, match=message):
        b.arg_min(x, axis, **options)
    with pytest.raises(TypeError, match=message.replace("arg_min", "arg_max")):
        b.arg_max(x, axis, **options)


# -- cumulativeSum ----------------------------------------------------------------------

def _cumsum_reference(x: np.ndarray, axis: int, exclusive: bool, reversed_: bool) -> np.ndarray:
    y = np.flip(x, axis) if reversed_ else x
    with np.errstate(over="ignore"):
        s = np.cumsum(y, axis=axis, dtype=x.dtype if x.dtype.kind in "iu" else np.float64)
    if exclusive:
        s = np.concatenate([np.zeros_like(np.take(s, [0], axis=axis)),
                            np.take(s, range(x.shape[axis] - 1), axis=axis)], axis=axis)
    return np.flip(s, axis) if reversed_ else s


@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reversed_", [False, True])
@pytest.mark.parametrize(("shape", "axis"), [((4,), 0), ((1, 1, 3, 4), 3), ((3, 4, 2), 1), ((3, 1), 1)])
def test_cumulative_sum_float32(ctx, shape, axis, exclusive, reversed_):
    x = RNG.uniform(-2, 2, size=shape).astype(np.float32)
    got = run(ctx, "cumulative_sum", x, "float32", axis, exclusive=exclusive, reversed=reversed_)
    want = _cumsum_reference(x, axis, exclusive, reversed_)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_cumulative_sum_spec_examples(ctx):
    x = np.array([1, 2, 3, 4], np.float32)
    assert run(ctx, "cumulative_sum", x, "float32", 0).tolist() == [1, 3, 6, 10]
    assert run(ctx, "cumulative_sum", x, "float32", 0, exclusive=True).tolist() == [0, 1, 3, 6]
    assert run(ctx, "cumulative_sum", x, "float32", 0, reversed=True).tolist() == [10, 9, 7, 4]
    assert run(ctx, "cumulative_sum", x, "float32", 0, exclusive=True, reversed=True).tolist() == [9, 7, 4, 0]


@pytest.mark.parametrize(("data_type", "values"), [
    ("int32", [2**30, 2**30, 2**30, -5, 9, 2**31 - 1]),
    ("uint32", [2**31, 2**31, 7, 2**32 - 1, 1, 2]),
    ("int64", [2**62, 2**62, -3, -(2**63), 5, 6]),
    ("uint64", [2**63, 2**63, 2**64 - 1, 1, 2, 3]),
    ("float16", [0.5, 1.25, -2.0, 3.0, 100.0, -0.75]),
])
@pytest.mark.parametrize("exclusive", [False, True])
@pytest.mark.parametrize("reversed_", [False, True])
def test_cumulative_sum_other_types(ctx, data_type, values, exclusive, reversed_):
    x = np.array(values, dtype=np.dtype(data_type)).reshape(2, 3)
    got = run(ctx, "cumulative_sum", x, data_type, 1, exclusive=exclusive, reversed=reversed_)
    want = _cumsum_reference(x, 1, exclusive, reversed_)
    assert got.dtype == x.dtype
    if x.dtype.kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-3)
    else:
        assert np.array_equal(got, want), (got, want)


@pytest.mark.parametrize(("data_type", "shape", "axis", "options", "message"), [
    ("float32", [2, 3], 2, {}, r"cumulative_sum: axis must be in \[0, 2\) for input shape \[2, 3\], got 2"),
    ("float32", [2, 3], -1, {}, "cumulative_sum: axis must be >= 0, got -1"),
    ("float32", [], 0, {}, "cumulative_sum: input rank must be 1 to 8, got 0"),
    ("int8", [2], 0, {}, "cumulative_sum: input data type must be one of .*, got int8"),
    ("uint8", [2], 0, {}, "cumulative_sum: input data type must be one of .*, got uint8"),
    ("float32", [2], 0, {"exclusive": 1}, "cumulative_sum: exclusive must be a bool, got 1"),
    ("float32", [2], 0, {"reversed": None}, "cumulative_sum: reversed must be a bool, got None"),
])
def test_cumulative_sum_errors(ctx, data_type, shape, axis, options, message):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": data_type, "shape": shape})
    with pytest.raises(TypeError, match=message):
        b.cumulative_sum(x, axis, **options)
