"""Every ONNX converter against ONNX Runtime's own CPU output, one small model per case.

Each case is one node built with ``onnx.helper``; the test checks that the node ran on
WebNN (placement) and that the outputs match ORT's (dtype, shape, values). A final
test checks that every registered converter has at least one case here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper
from webnn.integrations.onnx import PROVIDER, REGISTRY

from ._util import Const, assert_same, f32, feeds_of, i64, model_of, ort_run, providers_of, webnn_session

RNG = np.random.default_rng(1)


@dataclass
class Case:
    op: str
    inputs: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    opset: int = 18
    outputs: int = 1
    tol: float = 1e-5
    name: str = ""
    node_inputs: list[str] | None = None

    @property
    def id(self) -> str:
        return self.name or self.op


def pos(*shape: int) -> np.ndarray:
    return RNG.uniform(0.5, 2.0, size=shape).astype(np.float32)


def bools(*shape: int) -> np.ndarray:
    return RNG.random(shape) < 0.5


X = f32(2, 3, 4, 5)
CASES: list[Case] = []


def add(op: str, inputs: dict[str, Any], **kw: Any) -> None:
    CASES.append(Case(op, inputs, **kw))


# -- element-wise ---------------------------------------------------------------------------
for _op in ("Add", "Sub", "Mul", "Div"):
    add(_op, {"a": f32(2, 3, 4), "b": f32(3, 1) + 3.0})
add("Add", {"a": i64(3, 4), "b": i64(4)}, name="Add-int64")
add("Div", {"a": np.array([7, -7, 9, -9], np.int32), "b": np.array([2, 2, -4, -4], np.int32)}, name="Div-int32")
add("Pow", {"a": pos(3, 4), "b": f32(3, 4)})
add("Pow", {"a": pos(3, 4), "b": Const(np.array(2, np.int64))}, name="Pow-int-exponent")
for _op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"):
    add(_op, {"a": i64(3, 4, low=0, high=3), "b": i64(4, low=0, high=3)})
for _op in ("And", "Or", "Xor"):
    add(_op, {"a": bools(3, 4), "b": bools(3, 4)})
add("Not", {"x": bools(2, 5)})
for _op in ("Abs", "Ceil", "Cos", "Erf", "Exp", "Floor", "Neg", "Sin", "Tan", "Sign", "Round", "Identity"):
    add(_op, {"x": f32(2, 3, 4) * 2.5})
for _op in ("Log", "Reciprocal", "Sqrt"):
    add(_op, {"x": pos(2, 3, 4)})
add("IsNaN", {"x": np.array([1.0, np.nan, np.inf, -2.0], np.float32)})
add("IsInf", {"x": np.array([1.0, np.nan, np.inf, -np.inf], np.float32)})
add("IsInf", {"x": np.array([1.0, np.nan, np.inf, -np.inf], np.float32)}, attrs={"detect_negative": 0},
    name="IsInf-positive-only")
add("Dropout", {"x": f32(3, 4)}, outputs=2)
for _op in ("Sum", "Max", "Min", "Mean"):
    add(_op, {"a": f32(3, 4), "b": f32(4), "c": f32(1, 4)})
add("Where", {"c": bools(3, 4), "x": f32(3, 4), "y": f32(4)})
add("Cast", {"x": f32(3, 4) * 3}, attrs={"to": TensorProto.INT32}, name="Cast-float-int32")
add("Cast", {"x": np.array([0.0, 2.0, -0.5, 1.0], np.float32)}, attrs={"to": TensorProto.BOOL}, name="Cast-bool")
add("Cast", {"x": bools(4)}, attrs={"to": TensorProto.FLOAT}, name="Cast-from-bool")
add("Cast", {"x": f32(3, 4)}, attrs={"to": TensorProto.FLOAT16}, name="Cast-float16", tol=1e-3)
add("CastLike", {"x": i64(3, 4), "t": f32(1)})
add("Clip", {"x": f32(3, 4) * 3, "lo": Const(np.array(-1.0, np.float32)), "hi": Const(np.array(1.5, np.float32))})
add("Clip", {"x": f32(3, 4) * 3, "lo": Const(np.array(0.0, np.float32))}, name="Clip-min-only")
add("Clip", {"x": f32(3, 4), "lo": Const(np.array(1.0, np.float32)), "hi": Const(np.array(-1.0, np.float32))},
    name="Clip-min-above-max")
add("Clip", {"x": f32(3, 4) * 3, "lo": np.array(-1.0, np.float32), "hi": np.array(0.5, np.float32)},
    name="Clip-runtime-bounds")

# -- activations -----------------------------------------------------------------------------
for _op in ("Relu", "Sigmoid", "Softplus", "Softsign", "Tanh", "HardSwish", "Selu", "Mish"):
    add(_op, {"x": f32(2, 3, 4) * 3})
add("LeakyRelu", {"x": f32(3, 4)}, attrs={"alpha": 0.2})
add("Elu", {"x": f32(3, 4)}, attrs={"alpha": 0.7})
add("Celu", {"x": f32(3, 4)}, attrs={"alpha": 1.5})
add("ThresholdedRelu", {"x": f32(3, 4)}, attrs={"alpha": 0.5})
add("HardSigmoid", {"x": f32(3, 4) * 4}, attrs={"alpha": 0.3, "beta": 0.4})
add("Gelu", {"x": f32(3, 4) * 3}, opset=20)
add("Gelu", {"x": f32(3, 4) * 3}, attrs={"approximate": "tanh"}, opset=20, name="Gelu-tanh")
add("PRelu", {"x": f32(2, 3, 4), "slope": Const(f32(3, 1))})
add("Softmax", {"x": f32(2, 3, 4)}, attrs={"axis": 1})
add("Softmax", {"x": f32(2, 3, 4)}, attrs={"axis": 1}, opset=11, name="Softmax-opset11")
add("LogSoftmax", {"x": f32(2, 3, 4) * 5})
add("Hardmax", {"x": f32(2, 3, 4)}, attrs={"axis": 1})

# -- linear algebra ----------------------------------------------------------------------------
add("MatMul", {"a": f32(2, 3, 4), "b": f32(4, 5)})
add("MatMul", {"a": f32(4), "b": f32(2, 4, 5)}, name="MatMul-1d-left")
add("MatMul", {"a": f32(2, 3, 4), "b": f32(4)}, name="MatMul-1d-right")
add("Gemm", {"a": f32(4, 3), "b": f32(5, 4), "c": f32(5)}, attrs={"transA": 1, "transB": 1, "alpha": 0.5,
                                                                    "beta": 2.0})
add("Einsum", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}, attrs={"equation": "bij,bjk->bik"})
add("Einsum", {"a": f32(3, 4), "b": f32(5, 4)}, attrs={"equation": "ij,kj->ik"}, name="Einsum-transposed")
add("Einsum", {"a": f32(2, 3, 4)}, attrs={"equation": "abc->cb"}, name="Einsum-reduce-transpose")
add("Einsum", {"a": f32(3), "b": f32(4)}, attrs={"equation": "i,j->ij"}, name="Einsum-outer")
add("Einsum", {"a": f32(2, 3, 4, 5), "b": f32(2, 3, 5, 6)}, attrs={"equation": "...ij,...jk"},
    name="Einsum-ellipsis-implicit")
add("Einsum", {"a": f32(2, 3), "b": f32(3, 4), "c": f32(4, 2)}, attrs={"equation": "ij,jk,kl->il"},
    name="Einsum-three")

# -- convolution and pooling ---------------------------------------------------------------------
add("Conv", {"x": f32(1, 3, 9, 9), "w": Const(f32(4, 3, 3, 3)), "b": Const(f32(4))},
    attrs={"pads": [1, 0, 1, 2], "strides": [2, 1]}, tol=1e-4)
add("Conv", {"x": f32(1, 4, 8, 8), "w": Const(f32(4, 2, 3, 3))}, attrs={"group": 2, "auto_pad": "SAME_UPPER"},
    name="Conv-groups-same-upper", tol=1e-4)
add("Conv", {"x": f32(2, 3, 10), "w": Const(f32(5, 3, 3))}, attrs={"pads": [1, 1]}, name="Conv-1d", tol=1e-4)
add("ConvTranspose", {"x": f32(1, 3, 5, 5), "w": Const(f32(3, 2, 3, 3)), "b": Const(f32(2))},
    attrs={"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, tol=1e-4)
add("ConvTranspose", {"x": f32(1, 2, 4, 4), "w": Const(f32(2, 3, 3, 3))},
    attrs={"strides": [2, 2], "output_shape": [9, 9]}, name="ConvTranspose-output-shape", tol=1e-4)
add("MaxPool", {"x": f32(1, 2, 7, 7)}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
add("MaxPool", {"x": f32(1, 2, 8, 8)}, attrs={"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    name="MaxPool-ceil")
add("AveragePool", {"x": f32(1, 2, 7, 7)}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
add("AveragePool", {"x": f32(1, 2, 7, 7)}, attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1],
                                                   "count_include_pad": 1}, name="AveragePool-count-pad")
add("AveragePool", {"x": f32(1, 2, 9)}, attrs={"kernel_shape": [2], "strides": [2]}, name="AveragePool-1d")
add("LpPool", {"x": f32(1, 2, 6, 6)}, attrs={"kernel_shape": [2, 2], "strides": [2, 2], "p": 2}, tol=1e-4)
add("GlobalAveragePool", {"x": f32(2, 3, 4, 5)})
add("GlobalMaxPool", {"x": f32(2, 3, 4, 5)})
add("GlobalLpPool", {"x": f32(2, 3, 4, 5)}, attrs={"p": 2})

# -- normalization ---------------------------------------------------------------------------------
add("BatchNormalization", {"x": f32(2, 3, 4, 5), "s": Const(f32(3)), "b": Const(f32(3)), "m": Const(f32(3)),
                           "v": Const(pos(3))}, tol=1e-4)
add("InstanceNormalization", {"x": f32(2, 3, 4, 5), "s": Const(f32(3)), "b": Const(f32(3))}, tol=1e-4)
add("InstanceNormalization", {"x": f32(2, 3, 7), "s": Const(f32(3)), "b": Const(f32(3))},
    name="InstanceNormalization-3d", tol=1e-4)
add("LayerNormalization", {"x": f32(2, 3, 8), "s": Const(f32(8)), "b": Const(f32(8))}, tol=1e-4)
add("LayerNormalization", {"x": f32(2, 3, 8), "s": Const(f32(3, 8))}, attrs={"axis": 1},
    name="LayerNormalization-axis1", tol=1e-4)
add("LayerNormalization", {"x": f32(2, 3, 8), "s": Const(f32(8)), "b": Const(f32(8))}, outputs=3,
    name="LayerNormalization-mean-inv-std", tol=1e-4)
add("GroupNormalization", {"x": f32(2, 4, 3, 3), "s": Const(f32(4)), "b": Const(f32(4))},
    attrs={"num_groups": 2}, opset=21, tol=1e-4)
add("MeanVarianceNormalization", {"x": f32(2, 3, 4, 5)}, tol=1e-4)
add("LRN", {"x": f32(2, 5, 4, 4)}, attrs={"size": 3, "alpha": 0.01, "beta": 0.75, "bias": 1.0}, tol=1e-4)

# -- reductions --------------------------------------------------------------------------------------
for _op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
            "ReduceSumSquare", "ReduceLogSumExp"):
    add(_op, {"x": f32(2, 3, 4), "axes": Const(np.array([1, -1], np.int64))}, attrs={"keepdims": 0}, tol=1e-4)
add("ReduceLogSum", {"x": pos(2, 3, 4), "axes": Const(np.array([1], np.int64))}, tol=1e-4)
add("ReduceSum", {"x": f32(2, 3, 4)}, attrs={"keepdims": 1}, name="ReduceSum-all")
add("ReduceMean", {"x": f32(2, 3, 4)}, attrs={"axes": [0, 2]}, opset=13, name="ReduceMean-opset13")
add("ReduceMax", {"x": i64(3, 4)}, attrs={"keepdims": 0}, name="ReduceMax-int64")
add("ArgMax", {"x": f32(3, 4, 5)}, attrs={"axis": 1})
add("ArgMin", {"x": f32(3, 4, 5)}, attrs={"axis": -1, "keepdims": 0})
add("ArgMax", {"x": np.array([[1, 3, 3, 0], [2, 2, 1, 2]], np.float32)}, attrs={"axis": 1, "select_last_index": 1},
    name="ArgMax-last-index")
add("CumSum", {"x": f32(3, 4), "axis": Const(np.array(1, np.int64))}, attrs={"exclusive": 1, "reverse": 1})

# -- shape -----------------------------------------------------------------------------------------
add("Reshape", {"x": f32(2, 3, 4), "s": Const(np.array([0, -1, 2], np.int64))})
add("Flatten", {"x": f32(2, 3, 4)}, attrs={"axis": 2})
add("Squeeze", {"x": f32(2, 1, 4, 1), "axes": Const(np.array([1, -1], np.int64))})
add("Unsqueeze", {"x": f32(2, 4), "axes": Const(np.array([0, 3], np.int64))})
add("Transpose", {"x": f32(2, 3, 4)}, attrs={"perm": [2, 0, 1]})
add("Concat", {"a": f32(2, 3), "b": f32(2, 5)}, attrs={"axis": -1})
add("Split", {"x": f32(2, 9), "s": Const(np.array([2, 3, 4], np.int64))}, attrs={"axis": 1}, outputs=3)
add("Split", {"x": f32(6, 2)}, attrs={"num_outputs": 3}, outputs=3, name="Split-num-outputs")
add("Slice", {"x": f32(5, 6), "s": Const(np.array([1, -1], np.int64)), "e": Const(np.array([4, 0], np.int64)),
              "a": Const(np.array([0, 1], np.int64)), "st": Const(np.array([2, -2], np.int64))})
add("Slice", {"x": f32(5, 6), "s": Const(np.array([-100], np.int64)), "e": Const(np.array([100], np.int64))},
    name="Slice-clamped")
add("Expand", {"x": f32(3, 1), "s": Const(np.array([2, 3, 4], np.int64))})
add("Tile", {"x": f32(2, 3), "r": Const(np.array([2, 3], np.int64))})
add("Pad", {"x": f32(2, 3), "p": Const(np.array([0, 1, 2, 1], np.int64)), "v": Const(np.array(1.5, np.float32))})
add("Pad", {"x": f32(2, 3, 4), "p": Const(np.array([1, 2, 1, 1], np.int64)), "v": None,
            "ax": Const(np.array([0, 2], np.int64))}, attrs={"mode": "reflect"}, name="Pad-reflect-axes")
add("Pad", {"x": f32(3, 4), "p": Const(np.array([1, 1, 1, 1], np.int64))}, attrs={"mode": "edge"}, name="Pad-edge")
add("Trilu", {"x": f32(4, 5), "k": Const(np.array(1, np.int64))}, attrs={"upper": 0})
add("DepthToSpace", {"x": f32(1, 8, 2, 3)}, attrs={"blocksize": 2})
add("DepthToSpace", {"x": f32(1, 8, 2, 3)}, attrs={"blocksize": 2, "mode": "CRD"}, name="DepthToSpace-CRD")
add("SpaceToDepth", {"x": f32(1, 2, 4, 6)}, attrs={"blocksize": 2})
add("ConstantOfShape", {"s": Const(np.array([300, 300], np.int64))},  # large: not folded
    attrs={"value": helper.make_tensor("v", TensorProto.FLOAT, [1], [2.5])})

# -- gather and scatter ----------------------------------------------------------------------------
add("Gather", {"x": f32(4, 5), "i": np.array([[0, -1], [2, 3]], np.int64)}, attrs={"axis": 1})
add("Gather", {"x": f32(4, 5), "i": np.array(2, np.int64)}, name="Gather-scalar-index")
add("GatherElements", {"x": f32(3, 4), "i": i64(3, 2, low=-4, high=4)}, attrs={"axis": 1})
add("GatherND", {"x": f32(3, 4, 2), "i": np.array([[0, 1], [2, 3]], np.int64)})
add("ScatterElements", {"x": f32(3, 4), "i": np.array([[1, 0], [3, 2], [0, 1]], np.int64), "u": f32(3, 2)},
    attrs={"axis": 1})
add("Scatter", {"x": f32(3, 4), "i": np.array([[1, 0], [3, 2], [0, 1]], np.int64), "u": f32(3, 2)},
    attrs={"axis": 1}, opset=10)
add("ScatterND", {"x": f32(4, 3), "i": np.array([[1], [3]], np.int64), "u": f32(2, 3)})

# -- quantization --------------------------------------------------------------------------------------
add("QuantizeLinear", {"x": f32(2, 3, 4) * 10, "s": Const(np.array(0.1, np.float32)),
                       "z": Const(np.array(128, np.uint8))})
add("QuantizeLinear", {"x": f32(2, 3, 4) * 10, "s": Const(pos(3) / 10), "z": Const(np.array([0, 3, -2], np.int8))},
    attrs={"axis": 1}, name="QuantizeLinear-per-axis")
add("DequantizeLinear", {"x": RNG.integers(0, 255, (2, 3, 4)).astype(np.uint8),
                         "s": Const(np.array(0.05, np.float32)), "z": Const(np.array(100, np.uint8))})
add("DequantizeLinear", {"x": RNG.integers(-100, 100, (2, 3, 4)).astype(np.int8), "s": Const(pos(3))},
    attrs={"axis": 1}, name="DequantizeLinear-per-axis-no-zero-point")

# -- resize --------------------------------------------------------------------------------------------
add("Resize", {"x": f32(1, 2, 3, 4), "roi": None, "scales": Const(np.array([1, 1, 2, 2], np.float32))},
    attrs={"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"})
add("Resize", {"x": f32(1, 2, 3, 4), "roi": None, "scales": None,
               "sizes": Const(np.array([1, 2, 5, 7], np.int64))}, attrs={"mode": "linear"}, name="Resize-linear-sizes",
    tol=1e-4)
add("Resize", {"x": f32(1, 2, 4, 4), "roi": None, "scales": Const(np.array([1, 1, 0.5, 0.5], np.float32))},
    attrs={"mode": "nearest"}, name="Resize-nearest-down")
add("Upsample", {"x": f32(1, 2, 3, 4), "scales": Const(np.array([1, 1, 2, 3], np.float32))},
    attrs={"mode": "nearest"}, opset=9)

# -- recurrent ----------------------------------------------------------------------------------------
_H = 4
add("LSTM", {"x": f32(5, 2, 3), "w": Const(f32(2, 4 * _H, 3) / 2), "r": Const(f32(2, 4 * _H, _H) / 2),
             "b": Const(f32(2, 8 * _H) / 2), "seq": None, "h0": f32(2, 2, _H), "c0": f32(2, 2, _H),
             "p": Const(np.concatenate([f32(2, _H), np.zeros((2, _H), np.float32), f32(2, _H)], axis=1) / 2)},
    attrs={"hidden_size": _H, "direction": "bidirectional"}, outputs=3, tol=1e-4)
add("GRU", {"x": f32(5, 2, 3), "w": Const(f32(1, 3 * _H, 3) / 2), "r": Const(f32(1, 3 * _H, _H) / 2),
            "b": Const(f32(1, 6 * _H) / 2)}, attrs={"hidden_size": _H, "linear_before_reset": 1}, outputs=2, tol=1e-4)
add("GRU", {"x": f32(4, 1, 3), "w": Const(f32(1, 3 * _H, 3) / 2), "r": Const(f32(1, 3 * _H, _H) / 2)},
    attrs={"hidden_size": _H, "direction": "reverse"}, outputs=2, name="GRU-reverse-no-bias", tol=1e-4)


def _build(case: Case):
    names = list(case.inputs)
    node_inputs = ["" if case.inputs[n] is None else n for n in names]
    while node_inputs and not node_inputs[-1]:
        node_inputs.pop()
    outputs = [f"y{k}" for k in range(case.outputs)]
    node = helper.make_node(case.op, node_inputs, outputs, name="n", **case.attrs)
    inputs = {k: v for k, v in case.inputs.items() if v is not None}
    return model_of([node], inputs, outputs, opset=case.opset), feeds_of(inputs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_converter_matches_ort(case: Case):
    model, feeds = _build(case)
    session = webnn_session(model)
    ours = session.run(None, feeds)
    assert providers_of(session) == {"n": PROVIDER}, session.placement()
    assert_same(ours, ort_run(model, feeds), rtol=case.tol, atol=case.tol)


def test_every_registered_converter_has_a_case():
    covered = {c.op for c in CASES}
    assert sorted(set(REGISTRY.keys()) - covered) == []


UNSUPPORTED = [
    Case("Conv", {"x": f32(1, 1, 3, 3, 3), "w": Const(f32(1, 1, 2, 2, 2))}, name="3-D conv"),
    Case("Resize", {"x": f32(1, 1, 3, 3), "roi": None, "scales": Const(np.array([1, 1, 2, 2], np.float32))},
         attrs={"mode": "cubic"}, name="cubic resize"),
    Case("MaxPool", {"x": f32(1, 1, 4, 4)}, attrs={"kernel_shape": [2, 2]}, outputs=2, name="MaxPool indices"),
    Case("Add", {"a": np.ones((2, 2)), "b": np.ones((2, 2))}, name="float64"),
    Case("Mod", {"a": i64(3), "b": i64(3, low=1, high=4)}, name="no converter"),
    Case("Reshape", {"x": f32(2, 3), "s": np.array([3, 2], np.int64)}, name="runtime shape"),
    Case("LSTM", {"x": f32(3, 1, 2), "w": Const(f32(1, 8, 2)), "r": Const(f32(1, 8, 2)), "b": None, "seq": None,
                  "h0": None, "c0": None, "p": Const(f32(1, 6))}, attrs={"hidden_size": 2}, outputs=3,
         name="LSTM output-gate peephole"),
]


@pytest.mark.parametrize("case", UNSUPPORTED, ids=[c.id for c in UNSUPPORTED])
def test_unsupported_nodes_fall_back_with_a_reason(case: Case):
    model, feeds = _build(case)
    session = webnn_session(model)
    ours = session.run(None, feeds)
    [place] = session.placement()
    assert place["provider"] == "CPUExecutionProvider" and place["reason"], place
    assert_same(ours, ort_run(model, feeds))
