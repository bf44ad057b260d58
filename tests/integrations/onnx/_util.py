"""Helpers for the ONNX Runtime integration tests: build models, run them on ORT and on us."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from webnn.integrations.onnx import CPU, PROVIDER, InferenceSession

RNG = np.random.default_rng(0)


class Const:
    """An initializer in a test model (as opposed to a runtime input)."""

    def __init__(self, value: Any) -> None:
        self.value = np.asarray(value)


def f32(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return RNG.uniform(low, high, size=shape).astype(np.float32)


def i64(*shape: int, low: int = -5, high: int = 5) -> np.ndarray:
    return RNG.integers(low, high, size=shape).astype(np.int64)


def model_of(nodes: Sequence[onnx.NodeProto], inputs: Mapping[str, Any], outputs: Sequence[str],
             opset: int = 18, extra_opsets: Mapping[str, int] | None = None,
             dynamic: Mapping[str, Sequence[Any]] | None = None) -> onnx.ModelProto:
    """A model over ``nodes``: ``inputs`` maps names to arrays (runtime inputs) or Const
    (initializers); outputs are declared untyped. ``dynamic`` overrides declared input shapes."""
    graph_inputs, inits = [], []
    for name, value in inputs.items():
        if isinstance(value, Const):
            inits.append(numpy_helper.from_array(value.value, name))
        else:
            arr = np.asarray(value)
            shape = list(dynamic[name]) if dynamic and name in dynamic else list(arr.shape)
            graph_inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype),
                                                              shape))
    graph = helper.make_graph(list(nodes), "test", graph_inputs,
                              [helper.make_empty_tensor_value_info(o) for o in outputs], initializer=inits)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def feeds_of(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in inputs.items() if not isinstance(v, Const)}


def ort_run(model: onnx.ModelProto | bytes, feeds: Mapping[str, Any]) -> list[Any]:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(data, providers=[CPU]).run(None, dict(feeds))


def webnn_session(model: onnx.ModelProto | bytes, **options: Any) -> InferenceSession:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return InferenceSession(data, providers=[(PROVIDER, {"cache": "0", **options}), CPU])


def assert_same(ours: Sequence[Any], ref: Sequence[Any], rtol: float = 1e-5, atol: float = 1e-5) -> None:
    assert len(ours) == len(ref)
    for k, (a, b) in enumerate(zip(ours, ref)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype, f"output {k}: dtype {a.dtype} != ORT's {b.dtype}"
        assert a.shape == b.shape, f"output {k}: shape {a.shape} != ORT's {b.shape}"
        if a.dtype.kind in "fc":
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol,
                                       err_msg=f"output {k}")
        else:
            np.testing.assert_array_equal(a, b, err_msg=f"output {k}")


def providers_of(session: InferenceSession) -> dict[str, str]:
    """node name -> provider for the signature last run."""
    return {p["node"]: p["provider"] for p in session.placement()}
