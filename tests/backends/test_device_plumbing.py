"""Device plumbing of the torch backend, tested without a GPU where possible.

The same lowering serves "cpu" and "cuda"; here the compiled plan is also run on
torch's meta device to check that every lowering's output shapes and dtypes agree
with the shapes the op definitions inferred. CUDA tests skip with the reason.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder
from webnn.backends.torch.compiler import TorchExecutable
from webnn.backends.torch.dtypes import STORAGE, compute_dtype

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; none here")


def _graph(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float16", "shape": [4, 5]})
    y = b.input("y", {"dataType": "uint32", "shape": [5]})
    s = b.sqrt(b.abs(x))
    return b.build({"s": s, "y2": b.add(y, y), "cmp": b.greater(x, b.constant(np.float16(0.5)))})


def test_compute_types_by_device():
    cpu, meta = torch.device("cpu"), torch.device("meta")
    assert compute_dtype("float16", cpu) == torch.float32
    assert compute_dtype("float16", meta) == torch.float16
    assert compute_dtype("uint32", cpu) == torch.int64
    assert STORAGE["int4"] == torch.int8


def test_plan_runs_on_meta_device_with_inferred_shapes():
    ctx = webnn.ml.create_context("cpu", cache=False)
    g = _graph(ctx)
    exe = TorchExecutable(g.ir, torch.device("meta"))
    ins = [torch.empty(g.inputs[n].shape, dtype=STORAGE[g.inputs[n].data_type], device="meta")
           for n in exe.input_names]
    outs = exe.run(ins)
    for name, out in zip(exe.output_names, outs):
        desc = g.outputs[name]
        assert tuple(out.shape) == desc.shape, name
        assert out.dtype == STORAGE[desc.data_type], name


def test_cuda_graph_runner_is_off_on_cpu():
    ctx = webnn.ml.create_context("cpu", cache=False)
    assert _graph(ctx)._executable._replay is None


@needs_cuda
def test_cuda_dispatch_matches_cpu():
    cpu = webnn.ml.create_context("cpu", cache=False)
    gpu = webnn.ml.create_context("gpu", cache=False)
    feeds = {"x": np.linspace(0, 1, 20, dtype=np.float16).reshape(4, 5),
             "y": np.arange(5, dtype=np.uint32) + 2**31}
    want = cpu.compute(_graph(cpu), feeds)
    g = _graph(gpu)
    tensors = {n: gpu.create_tensor(d, writable=True) for n, d in g.inputs.items()}
    outs = {n: gpu.create_tensor(d, readable=True) for n, d in g.outputs.items()}
    for n, t in tensors.items():
        gpu.write_tensor(t, feeds[n])
    for _ in range(4):  # past the CUDA-graph warm-up: replays must give the same result
        gpu.dispatch(g, tensors, outs)
        for n in want:
            np.testing.assert_allclose(gpu.read_tensor(outs[n]).astype(np.float64),
                                       want[n].astype(np.float64), rtol=2e-3, atol=1e-3)


def _wpt_files():
    from tests.shared_data import wpt_dir

    base = wpt_dir()
    if base is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared/conformance/wpt not found"))]
    return [pytest.param(p, id=p.stem) for p in sorted(base.glob("*.json"))
            if p.stem not in ("index", "tolerances")]


@pytest.mark.parametrize("path", _wpt_files())
def test_every_wpt_graph_lowers_on_meta_with_inferred_shapes(path, monkeypatch):
    """Shape inference (op definitions) and lowering (torch) agree for every WPT graph."""
    from tests.conformance import wpt

    ctx = webnn.ml.create_context("cpu", cache=False)
    built = []
    real_compute = ctx.compute

    def capture(graph, feeds):
        built.append(graph)
        return real_compute(graph, feeds)

    monkeypatch.setattr(ctx, "compute", capture)
    for case in wpt.load_file(path)["cases"]:
        wpt.build_and_run(ctx, case)
    for g in built:
        exe = TorchExecutable(g.ir, torch.device("meta"))
        ins = [torch.empty(g.inputs[n].shape, dtype=STORAGE[g.inputs[n].data_type], device="meta")
               for n in exe.input_names]
        for name, out in zip(exe.output_names, exe.run(ins)):
            assert tuple(out.shape) == g.outputs[name].shape, (path.stem, name)
            assert out.dtype == STORAGE[g.outputs[name].data_type], (path.stem, name)
