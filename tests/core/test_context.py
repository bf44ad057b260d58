"""MLContext: device choice, tensors, dispatch validation, compute."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import webnn
from webnn import InvalidStateError, MLGraphBuilder, NotSupportedError

F32_23 = {"dataType": "float32", "shape": [2, 3]}


@pytest.fixture
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def _add_graph(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    y = b.input("y", F32_23)
    return b.build({"sum": b.add(x, y), "prod": b.mul(x, y)})


def test_device_choice_reports_what_was_picked():
    assert webnn.ml.create_context("cpu").device == "cpu"
    assert webnn.ml.create_context(accelerated=False).device == "cpu"
    auto = webnn.ml.create_context()
    assert auto.device == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert auto.accelerated == torch.cuda.is_available()
    assert webnn.ml.create_context(power_preference="low-power").device == "cpu"
    fast = webnn.ml.create_context(power_preference="high-performance", accelerated=False)
    assert fast.device == ("cuda:0" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error path")
@pytest.mark.parametrize("device", ["gpu", "cuda", "cuda:0"])
def test_asking_for_a_missing_gpu_is_not_supported(device):
    with pytest.raises(NotSupportedError, match="CUDA is not available"):
        webnn.ml.create_context(device)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device": "tpu"}, "device must be"),
        ({"power_preference": "fast"}, "power_preference"),
        ({"accelerated": "yes"}, "accelerated"),
        ({"origin": ""}, "origin"),
        ({"cache_quota": -5}, "cache_quota"),
    ],
)
def test_create_context_argument_errors(kwargs, message):
    with pytest.raises(TypeError, match=message):
        webnn.ml.create_context(**kwargs)


def test_dispatch_writes_caller_owned_outputs(ctx):
    g = _add_graph(ctx)
    x = ctx.create_tensor(F32_23, writable=True)
    y = ctx.create_tensor({**F32_23, "writable": True})
    s = ctx.create_tensor(F32_23, readable=True)
    p = ctx.create_tensor(F32_23, readable=True)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    ctx.write_tensor(x, a)
    ctx.write_tensor(y, (a * 2).tobytes())
    ctx.dispatch(g, {"x": x, "y": y}, {"sum": s, "prod": p})
    np.testing.assert_array_equal(ctx.read_tensor(s), a * 3)
    np.testing.assert_array_equal(np.asarray(p), a * a * 2)
    out = bytearray(24)
    ctx.read_tensor(s, out)
    np.testing.assert_array_equal(np.frombuffer(bytes(out), np.float32).reshape(2, 3), a * 3)


def test_dispatch_errors_leave_the_graph_usable(ctx):
    g = _add_graph(ctx)
    x = ctx.create_tensor(F32_23, writable=True)
    y = ctx.create_tensor(F32_23, writable=True)
    s = ctx.create_tensor(F32_23, readable=True)
    p = ctx.create_tensor(F32_23, readable=True)
    wrong_shape = ctx.create_tensor({"dataType": "float32", "shape": [3, 2]})
    wrong_type = ctx.create_tensor({"dataType": "int32", "shape": [2, 3]})
    with pytest.raises(TypeError, match=r"input names must be \['x', 'y'\]; missing \['y'\]"):
        ctx.dispatch(g, {"x": x}, {"sum": s, "prod": p})
    with pytest.raises(TypeError, match=r"input 'y' must be float32 \[2, 3\], got float32 \[3, 2\]"):
        ctx.dispatch(g, {"x": x, "y": wrong_shape}, {"sum": s, "prod": p})
    with pytest.raises(TypeError, match=r"output 'sum' must be float32 \[2, 3\], got int32"):
        ctx.dispatch(g, {"x": x, "y": y}, {"sum": wrong_type, "prod": p})
    with pytest.raises(TypeError, match="both an input and an output"):
        ctx.dispatch(g, {"x": x, "y": y}, {"sum": x, "prod": p})
    other = webnn.ml.create_context("cpu", cache=False)
    with pytest.raises(TypeError, match="different MLContext"):
        ctx.dispatch(g, {"x": x, "y": other.create_tensor(F32_23)}, {"sum": s, "prod": p})
    ctx.write_tensor(x, np.ones((2, 3), np.float32))
    ctx.write_tensor(y, np.ones((2, 3), np.float32))
    ctx.dispatch(g, {"x": x, "y": y}, {"sum": s, "prod": p})
    np.testing.assert_array_equal(ctx.read_tensor(s), np.full((2, 3), 2, np.float32))


def test_tensor_access_flags_and_destroy(ctx):
    t = ctx.create_tensor(F32_23)
    with pytest.raises(TypeError, match="readable=True"):
        ctx.read_tensor(t)
    with pytest.raises(TypeError, match="writable=True"):
        ctx.write_tensor(t, np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="readable=True"):
        np.asarray(t)
    w = ctx.create_tensor(F32_23, writable=True, readable=True)
    with pytest.raises(TypeError, match="needs 6"):
        ctx.write_tensor(w, np.zeros(5, np.float32))
    with pytest.raises(TypeError, match="needs 24"):
        ctx.write_tensor(w, b"\x00" * 10)
    w.destroy()
    w.destroy()
    with pytest.raises(InvalidStateError, match="destroyed"):
        ctx.read_tensor(w)


def test_dlpack_interop_is_zero_copy_on_cpu(ctx):
    t = ctx.create_tensor(F32_23, readable=True, writable=True)
    ctx.write_tensor(t, np.full((2, 3), 7, np.float32))
    view = torch.from_dlpack(t)
    assert torch.equal(view, torch.full((2, 3), 7.0))
    ctx.write_tensor(t, np.full((2, 3), 9, np.float32))
    assert torch.equal(view, torch.full((2, 3), 9.0))


def test_compute_checks_inputs_and_never_aliases(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    g = b.build({"y": b.identity(x)})
    a = np.ones((2, 3), np.float32)
    out = ctx.compute(g, {"x": a})["y"]
    out[0, 0] = 5
    assert a[0, 0] == 1
    with pytest.raises(TypeError, match=r"input 'x' must be float32 \[2, 3\], got float64"):
        ctx.compute(g, {"x": a.astype(np.float64)})
    with pytest.raises(TypeError, match="input names"):
        ctx.compute(g, {"z": a})


def test_unsigned_and_64bit_values_are_exact(ctx):
    b = MLGraphBuilder(ctx)
    for dt, big in [("uint32", 2**32 - 2), ("int64", 2**62 + 1), ("uint64", 2**63 + 5)]:
        b = MLGraphBuilder(ctx)
        x = b.input("x", {"dataType": dt, "shape": [2]})
        g = b.build({"y": b.identity(x)})
        a = np.array([big, 3], dtype=webnn.dtypes.numpy_dtype(dt))
        np.testing.assert_array_equal(ctx.compute(g, {"x": a})["y"], a)


def test_destroyed_context_and_graph(ctx):
    g = _add_graph(ctx)
    g.destroy()
    with pytest.raises(InvalidStateError, match="MLGraph has been destroyed"):
        ctx.compute(g, {"x": np.ones((2, 3), np.float32), "y": np.ones((2, 3), np.float32)})
    ctx.destroy()
    with pytest.raises(InvalidStateError, match="MLContext has been destroyed"):
        MLGraphBuilder(ctx).input("x", F32_23)
