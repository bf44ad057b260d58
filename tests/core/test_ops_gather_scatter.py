"""gather, gatherElements, gatherND, scatterElements, scatterND on the CPU backend (and
CUDA where present), against numpy references, for every data type and index type.

The spec asks for indices in [-N, N), negative ones counting from the end, and lets an
implementation clamp the rest. The references below spell that rule out on their own
(numpy clip, then add N to a negative index) and index with numpy; out-of-range indices
must neither crash nor read outside the tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder
from webnn.dtypes import ALL_EIGHT, from_numpy, numpy_dtype

RNG = np.random.default_rng(99)
INDEX_TYPES = ("int32", "uint32", "int64")


@pytest.fixture(scope="module")
def ctx() -> webnn.MLContext:
    return webnn.ml.create_context("cpu", cache=False)


def data(data_type: str, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct-ish values over the type's whole range (uint64 above 2**63 included)."""
    dtype = numpy_dtype(data_type)
    n = math.prod(shape)
    if dtype.kind == "f":
        return RNG.standard_normal(n).astype(dtype).reshape(shape)
    info = np.iinfo(dtype)
    values = RNG.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    values[: min(2, n)] = [info.max, info.min][: min(2, n)]
    return values.reshape(shape)


def wrap(idx: np.ndarray, size: Any) -> np.ndarray:
    """The spec's index rule, clamped: [-N, N) with negatives from the end."""
    i = np.clip(idx.astype(np.int64), -np.asarray(size), np.asarray(size) - 1)
    return np.where(i < 0, i + size, i)


def run(ctx: webnn.MLContext, inputs: dict[str, np.ndarray], build: Callable[..., Any]) -> np.ndarray:
    b = MLGraphBuilder(ctx)
    ops = [b.input(n, {"dataType": from_numpy(a.dtype), "shape": list(a.shape)}) for n, a in inputs.items()]
    return ctx.compute(b.build({"y": build(b, *ops)}), inputs)["y"]


def assert_same(actual: np.ndarray, expected: np.ndarray) -> None:
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, (
        actual.dtype, actual.shape, expected.dtype, expected.shape)
    if actual.dtype.kind == "f":
        np.testing.assert_array_equal(actual, expected)
    else:
        assert actual.tobytes() == expected.tobytes()


def indices(index_type: str, shape: tuple[int, ...], size: int, out_of_range: bool = True) -> np.ndarray:
    """Indices of ``index_type`` into a dimension of ``size``: in range, negative (for
    signed types) and, when asked, out of range both ways (the type's extremes)."""
    dtype = numpy_dtype(index_type)
    lo = 0 if index_type == "uint32" else -size
    values = RNG.integers(lo, size, math.prod(shape)).astype(dtype)
    if out_of_range:
        info = np.iinfo(dtype)
        extremes = [info.max, size] + ([info.min, -size - 1] if info.min < 0 else [])
        values[: len(extremes)] = np.array(extremes, dtype)[: values.size]
    return values.reshape(shape)


# ------------------------------------------------------------------------- gather --
@pytest.mark.parametrize("index_type", INDEX_TYPES)
@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(
    ("in_shape", "idx_shape", "axis"),
    [((5,), (), 0), ((5,), (7,), 0), ((4, 3), (2, 3), 1), ((2, 3, 4), (5,), 2), ((3, 2), (2, 2, 2), 0)],
)
def test_gather(ctx, data_type, index_type, in_shape, idx_shape, axis):
    a = data(data_type, in_shape)
    i = indices(index_type, idx_shape, in_shape[axis])
    got = run(ctx, {"x": a, "i": i}, lambda b, x, ii: b.gather(x, ii, axis=axis))
    assert_same(got, np.take(a, wrap(i, in_shape[axis]), axis=axis))


def test_gather_spec_example_and_constant_indices(ctx):
    """The spec's own example (gather, axis 1, 2-D indices)."""
    a = np.array([[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32]], np.float32)
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [4, 3]})
    y = b.gather(x, b.constant(np.array([[0, 1], [1, 2]], np.uint32)), axis=1)
    got = ctx.compute(b.build({"y": y}), {"x": a})["y"]
    want = [[[0, 1], [1, 2]], [[10, 11], [11, 12]], [[20, 21], [21, 22]], [[30, 31], [31, 32]]]
    assert_same(got, np.array(want, np.float32))


# ---------------------------------------------------------------- gatherElements --
@pytest.mark.parametrize("index_type", INDEX_TYPES)
@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(("in_shape", "idx_len", "axis"), [((6,), 3, 0), ((4, 3), 5, 0), ((2, 4, 3), 2, 1)])
def test_gather_elements(ctx, data_type, index_type, in_shape, idx_len, axis):
    a = data(data_type, in_shape)
    idx_shape = list(in_shape)
    idx_shape[axis] = idx_len
    i = indices(index_type, tuple(idx_shape), in_shape[axis])
    got = run(ctx, {"x": a, "i": i}, lambda b, x, ii: b.gather_elements(x, ii, axis=axis))
    assert_same(got, np.take_along_axis(a, wrap(i, in_shape[axis]), axis))


# --------------------------------------------------------------------- gatherND --
def gather_nd_ref(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    k = idx.shape[-1]
    rows = wrap(idx.reshape(-1, k), np.array(a.shape[:k]))
    picked = [a[tuple(r)] for r in rows]
    return np.array(picked, a.dtype).reshape(idx.shape[:-1] + a.shape[k:])


@pytest.mark.parametrize("index_type", INDEX_TYPES)
@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(
    ("in_shape", "idx_shape"),
    [((4,), (3, 1)), ((3, 4), (2,)), ((3, 4), (5, 2)), ((2, 3, 4), (2, 2, 1)), ((2, 3, 4), (3,))],
)
def test_gather_nd(ctx, data_type, index_type, in_shape, idx_shape):
    a = data(data_type, in_shape)
    k = idx_shape[-1]
    cols = [indices(index_type, idx_shape[:-1] + (1,), in_shape[j]) for j in range(k)]
    i = np.concatenate(cols, axis=-1)
    got = run(ctx, {"x": a, "i": i}, lambda b, x, ii: b.gather_nd(x, ii))
    assert_same(got, gather_nd_ref(a, i))


def test_gather_nd_full_coordinates_give_a_scalar(ctx):
    a = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    got = run(ctx, {"x": a, "i": np.array([1, -1, 2], np.int64)}, lambda b, x, i: b.gather_nd(x, i))
    assert got.shape == () and int(got) == a[1, 2, 2]


# -------------------------------------------------------------- scatterElements --
def distinct(index_type: str, shape: tuple[int, ...], axis: int, size: int) -> np.ndarray:
    """Indices that never hit the same place twice (duplicates' order is unspecified),
    one of each row negative where the type allows."""
    perm = np.argsort(RNG.random(shape[:axis] + (size,) + shape[axis + 1:]), axis=axis)
    take = np.take(perm, np.arange(shape[axis]), axis=axis)
    if index_type != "uint32":
        take = np.where(take % 2 == 1, take - size, take)
    return take.astype(numpy_dtype(index_type))


@pytest.mark.parametrize("index_type", INDEX_TYPES)
@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(("in_shape", "idx_len", "axis"), [((6,), 3, 0), ((4, 3), 2, 0), ((2, 5, 3), 4, 1)])
def test_scatter_elements(ctx, data_type, index_type, in_shape, idx_len, axis):
    a = data(data_type, in_shape)
    shape = list(in_shape)
    shape[axis] = idx_len
    i = distinct(index_type, tuple(shape), axis, in_shape[axis])
    u = data(data_type, tuple(shape))
    got = run(ctx, {"x": a, "i": i, "u": u}, lambda b, x, ii, uu: b.scatter_elements(x, ii, uu, axis=axis))
    want = a.copy()
    np.put_along_axis(want, wrap(i, in_shape[axis]), u, axis)
    assert_same(got, want)


def test_scatter_elements_out_of_range_clamps(ctx):
    a = np.zeros(4, np.float32)
    i = np.array([2**31 - 1, -(2**31)], np.int32)
    got = run(ctx, {"x": a, "i": i, "u": np.array([5, 7], np.float32)},
              lambda b, x, ii, uu: b.scatter_elements(x, ii, uu))
    assert_same(got, np.array([7, 0, 0, 5], np.float32))


# ------------------------------------------------------------------- scatterND --
def scatter_nd_ref(a: np.ndarray, idx: np.ndarray, upd: np.ndarray) -> np.ndarray:
    out = a.copy()
    k = idx.shape[-1]
    rows = wrap(idx.reshape(-1, k), np.array(a.shape[:k]))
    slices = upd.reshape((-1,) + a.shape[k:])
    for r, s in zip(rows, slices):
        out[tuple(r)] = s
    return out


@pytest.mark.parametrize("index_type", INDEX_TYPES)
@pytest.mark.parametrize("data_type", ALL_EIGHT)
@pytest.mark.parametrize(
    ("in_shape", "coords"),
    [((8,), [[4], [3], [1], [7]]), ((3, 2), [[2], [0]]), ((2, 2, 2), [[0, 1], [1, 0]]),
     ((2, 3, 4), [[[1, 2, 3], [0, 0, 0]]]), ((4, 3), [[-1], [-4]])],
)
def test_scatter_nd(ctx, data_type, index_type, in_shape, coords):
    c = np.array(coords)
    if index_type == "uint32":
        c = np.where(c < 0, c + np.array(in_shape[: c.shape[-1]]), c)
    i = c.astype(numpy_dtype(index_type))
    a = data(data_type, in_shape)
    u = data(data_type, i.shape[:-1] + in_shape[i.shape[-1]:])
    got = run(ctx, {"x": a, "i": i, "u": u}, lambda b, x, ii, uu: b.scatter_nd(x, ii, uu))
    assert_same(got, scatter_nd_ref(a, i, u))


def test_scatter_nd_out_of_range_clamps(ctx):
    """WPT's case: an int32 index of 2**31 - 1 into a dimension of 2 writes the last row."""
    got = run(ctx, {"x": np.zeros((2, 1), np.int8), "i": np.array([[2**31 - 1]], np.int32),
                    "u": np.ones((1, 1), np.int8)}, lambda b, x, i, u: b.scatter_nd(x, i, u))
    assert_same(got, np.array([[0], [1]], np.int8))


def test_uint64_values_above_2_63_survive_gather_and_scatter(ctx):
    a = np.array([2**64 - 1, 2**63, 2**63 + 1, 3], np.uint64)
    i = np.array([[3], [0]], np.int64)
    u = np.array([2**63 + 5, 2**64 - 2], np.uint64)
    got = run(ctx, {"x": a, "i": i, "u": u}, lambda b, x, ii, uu: b.gather(b.scatter_nd(x, ii, uu),
                                                                             b.reshape(ii, [2])))
    assert_same(got, np.array([2**63 + 5, 2**64 - 2], np.uint64))  # x[3], x[0] after the scatter


# ------------------------------------------------------------------------ errors --
def _x(b, shape=(4, 3), data_type="float32", name="x"):
    return b.input(name, {"dataType": data_type, "shape": list(shape)})


def _i(b, shape=(2, 3), data_type="int32"):
    return _x(b, shape, data_type, "i")


ERRORS: list[tuple[str, Callable[..., Any], str]] = [
    ("gather-index-type", lambda b: b.gather(_x(b), _i(b, data_type="float32")),
     "gather: indices data type must be one of int32, uint32, int64, got float32"),
    ("gather-index-uint64", lambda b: b.gather(_x(b), _i(b, data_type="uint64")),
     "gather: indices data type must be one of"),
    ("gather-axis", lambda b: b.gather(_x(b), _i(b), axis=2), r"gather: axis must be in \[0, 1\]"),
    ("gather-axis-negative", lambda b: b.gather(_x(b), _i(b), axis=-1), r"gather: axis must be in \[0, 4294967295\]"),
    ("gather-0d-input", lambda b: b.gather(_x(b, ()), _i(b)), "gather: input rank must be 1 to 8"),
    ("gather-not-operand", lambda b: b.gather(_x(b), [0, 1]), "gather: indices must be an MLOperand"),
    ("gather-output-rank", lambda b: b.gather(_x(b, (2,) * 5), _i(b, (1,) * 5)), "gather: output shape rank"),
    ("gather-elements-rank", lambda b: b.gather_elements(_x(b), _i(b, (4,))),
     "gather_elements: indices rank must equal the input rank 2"),
    ("gather-elements-shape", lambda b: b.gather_elements(_x(b), _i(b, (2, 2))),
     r"gather_elements: indices shape must be \[2, 3\]"),
    ("gather-elements-axis", lambda b: b.gather_elements(_x(b), _i(b), axis=5), "gather_elements: axis"),
    ("gather-nd-coords", lambda b: b.gather_nd(_x(b), _i(b, (2, 3))),
     "gather_nd: indices last dimension .* at most the input rank 2, got 3"),
    ("gather-nd-0d-indices", lambda b: b.gather_nd(_x(b), _i(b, ())), "gather_nd: indices rank must be 1"),
    ("scatter-elements-updates-type", lambda b: b.scatter_elements(_x(b), _i(b), _x(b, (2, 3), "int32", "u")),
     r"scatter_elements: updates data type must match input \(float32\), got int32"),
    ("scatter-elements-updates-shape", lambda b: b.scatter_elements(_x(b), _i(b), _x(b, (3, 3), name="u")),
     r"scatter_elements: updates shape must equal the indices shape \[2, 3\]"),
    ("scatter-elements-indices-shape", lambda b: b.scatter_elements(_x(b), _i(b, (2, 2)), _x(b, (2, 2), name="u")),
     "scatter_elements: indices shape must be"),
    ("scatter-elements-axis", lambda b: b.scatter_elements(_x(b), _i(b), _x(b, (2, 3), name="u"), axis=2),
     r"scatter_elements: axis must be in \[0, 1\]"),
    ("scatter-elements-index-type", lambda b: b.scatter_elements(_x(b), _i(b, data_type="int8"),
                                                                _x(b, (2, 3), name="u")),
     "scatter_elements: indices data type must be one of"),
    ("scatter-nd-updates-shape", lambda b: b.scatter_nd(_x(b), _i(b, (2, 1)), _x(b, (2,), name="u")),
     r"scatter_nd: updates shape must be \[2, 3\]"),
    ("scatter-nd-coords", lambda b: b.scatter_nd(_x(b), _i(b, (1, 3)), _x(b, (1,), name="u")),
     "scatter_nd: indices last dimension"),
    ("scatter-nd-updates-type", lambda b: b.scatter_nd(_x(b), _i(b, (2, 2)), _x(b, (2,), "float16", "u")),
     "scatter_nd: updates data type must match input"),
]


@pytest.mark.parametrize(("build", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_op_and_argument(ctx, build, message):
    with pytest.raises(TypeError, match=message):
        build(MLGraphBuilder(ctx))


# -------------------------------------------------------------------------- CUDA --
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_out_of_range_indices_do_not_fault_on_cuda():
    """On CUDA an out-of-range index would be a device-side assert that kills the context."""
    cuda = webnn.ml.create_context("cuda", cache=False)
    a = data("float32", (4, 3))
    i = np.array([[9, -9, 2**31 - 1], [-(2**31), 1, -1]], np.int32)
    got = run(cuda, {"x": a, "i": i}, lambda b, x, ii: b.gather_elements(x, ii))
    assert_same(got, np.take_along_axis(a, wrap(i, 4), 0))
    u = data("float32", (1, 3))
    got = run(cuda, {"x": a, "i": np.array([[7]], np.int64), "u": u},
              lambda b, x, ii, uu: b.scatter_nd(x, ii, uu))
    assert_same(got, scatter_nd_ref(a, np.array([[7]]), u))
