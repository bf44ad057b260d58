"""A loaded graph computes exactly what the freshly built one computes (CPU, bit for bit),
in this process and in a fresh one, for every data type the stored constants can have."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

import webnn
from tests.cache import graphs

SPAWN = multiprocessing.get_context("spawn")
TYPES = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint32": np.uint32,
         "int64": np.int64, "uint64": np.uint64, "int8": np.int8, "uint8": np.uint8}


def _values(dtype, shape, rng):
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -(2**40)) // 4, min(info.max, 2**40) // 4
    return rng.integers(lo, hi, shape, endpoint=True).astype(dtype)


def build_all_types(ctx: webnn.MLContext) -> webnn.MLGraph:
    """Per data type: (x + c1) * c2, max with a 0-D constant, and a folded constant output."""
    rng = np.random.default_rng(0)
    b = webnn.MLGraphBuilder(ctx)
    outs = {}
    for name, dtype in TYPES.items():
        x = b.input(f"x_{name}", {"dataType": name, "shape": [3, 5]})
        c1 = b.constant(_values(dtype, (3, 5), rng))
        c2 = b.constant(_values(dtype, (5,), rng) % dtype(3) if not np.issubdtype(dtype, np.floating)
                        else _values(dtype, (5,), rng))
        scalar = b.constant(np.array(_values(dtype, (), rng)))
        outs[f"y_{name}"] = b.max(b.mul(b.add(x, c1), c2), scalar)
        outs[f"folded_{name}"] = b.sub(b.constant(_values(dtype, (2, 2), rng)), b.constant(np.zeros((2, 2), dtype)))
    return b.build(outs)


def feed_all_types(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"x_{name}": _values(dtype, (3, 5), rng) for name, dtype in TYPES.items()}


def test_loaded_outputs_equal_fresh_outputs_bit_for_bit(make_context):
    ctx = make_context()
    fresh = build_all_types(ctx)
    ctx.save_graph("all-types", fresh)
    loaded = make_context().load_graph("all-types")
    for seed in range(3):
        feed = feed_all_types(seed)
        assert graphs.same_bits(ctx.compute(fresh, feed), loaded.context.compute(loaded, feed))


def test_loaded_ir_constants_are_true_values(make_context):
    ctx = make_context()
    fresh = build_all_types(ctx)
    ctx.save_graph("k", fresh)
    loaded = make_context().load_graph("k")
    assert sorted(loaded.ir.constants) == sorted(fresh.ir.constants)
    for cid, want in fresh.ir.constants.items():
        got = loaded.ir.constants[cid]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()
        assert not got.flags.writeable
    # saving a loaded graph again stores the same compiled form
    loaded.context.save_graph("again", loaded)
    again = make_context().load_graph("again")
    feed = feed_all_types(5)
    assert graphs.same_bits(ctx.compute(fresh, feed), again.context.compute(again, feed))


def _load_in_child(cache_dir: str, seed: int, queue) -> None:  # runs in a spawned process
    ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir)
    graph = ctx.load_graph("all-types")
    queue.put(ctx.compute(graph, feed_all_types(seed)))


def test_outputs_bit_identical_across_processes(make_context, cache_root):
    ctx = make_context()
    fresh = build_all_types(ctx)
    ctx.save_graph("all-types", fresh)
    queue = SPAWN.Queue()
    proc = SPAWN.Process(target=_load_in_child, args=(str(cache_root), 9, queue))
    proc.start()
    child = queue.get(timeout=300)
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert graphs.same_bits(ctx.compute(fresh, feed_all_types(9)), child)


@pytest.mark.parametrize("name", ["float32", "int64", "uint64", "float16"])
def test_against_numpy_reference(make_context, name):
    """Both graphs are also right, not just equal: numpy computes the same per data type."""
    ctx = make_context()
    fresh = build_all_types(ctx)
    ctx.save_graph("k", fresh)
    loaded = ctx.load_graph("k")
    feed = feed_all_types(2)
    out = ctx.compute(loaded, feed)[f"y_{name}"]
    rng = np.random.default_rng(0)
    dtype = TYPES[name]
    for other, other_dtype in TYPES.items():  # replay the constant draws in build order
        c1 = _values(other_dtype, (3, 5), rng)
        c2 = _values(other_dtype, (5,), rng)
        c2 = c2 % other_dtype(3) if not np.issubdtype(other_dtype, np.floating) else c2
        scalar = _values(other_dtype, (), rng)
        _values(other_dtype, (2, 2), rng)
        if other == name:
            break
    x = feed[f"x_{name}"]
    if name == "float16":
        want = np.maximum((x.astype(np.float32) + c1.astype(np.float32)) * c2.astype(np.float32),
                          np.float32(scalar)).astype(np.float16)
        np.testing.assert_allclose(out.astype(np.float32), want.astype(np.float32), rtol=2e-3, atol=2e-3)
    else:
        want = np.maximum((x + c1) * c2, scalar).astype(dtype)
        if name == "float32":
            np.testing.assert_allclose(out, want, rtol=1e-6)
        else:
            assert np.array_equal(out, want)
