"""MLGraphBuilder: inputs, constants, build rules and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import webnn
from webnn import InvalidStateError, MLGraphBuilder, MLOperandDescriptor


@pytest.fixture
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


F32_23 = {"dataType": "float32", "shape": [2, 3]}


def test_input_descriptor_forms(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    y = b.input("y", MLOperandDescriptor("int32", (4,)))
    z = b.input("z", {"data_type": "uint8", "shape": []})
    assert (x.data_type, x.shape) == ("float32", (2, 3))
    assert (y.data_type, y.shape) == ("int32", (4,))
    assert z.shape == () and z.rank == 0


@pytest.mark.parametrize(
    ("desc", "message"),
    [
        ({"dataType": "float64", "shape": [1]}, "float64"),
        ({"dataType": "float32", "shape": [0, 2]}, "> 0"),
        ({"dataType": "float32", "shape": [-1]}, "> 0"),
        ({"dataType": "float32", "shape": [2**16, 2**16]}, r"2\*\*31 - 1"),
        ({"shape": [1]}, "dataType"),
        ({"dataType": "float32", "shape": "ab"}, "shape"),
    ],
)
def test_input_rejects_bad_descriptors(ctx, desc, message):
    b = MLGraphBuilder(ctx)
    with pytest.raises(TypeError, match=message):
        b.input("x", desc)


def test_duplicate_and_empty_input_names(ctx):
    b = MLGraphBuilder(ctx)
    b.input("x", F32_23)
    with pytest.raises(TypeError, match="already used"):
        b.input("x", F32_23)
    with pytest.raises(TypeError, match="non-empty"):
        b.input("", F32_23)


def test_constant_forms(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [3]})
    c1 = b.constant({"dataType": "float32", "shape": [3]}, np.array([1, 2, 3], np.float32).tobytes())
    c2 = b.constant(np.array([10, 20, 30], np.float32))
    c3 = b.constant("float32", 100.0)
    c4 = b.constant({"dataType": "float32", "shape": [3]}, [0.5, 0.5, 0.5])
    y = b.add(b.add(b.add(b.add(x, c1), c2), c3), c4)
    g = b.build({"y": y})
    out = ctx.compute(g, {"x": np.zeros(3, np.float32)})["y"]
    np.testing.assert_array_equal(out, np.array([111.5, 122.5, 133.5], np.float32))


def test_constant_int4_packed_bytes(ctx):
    b = MLGraphBuilder(ctx)
    # values 1, -2, 7 packed low nibble first: 0xE1, 0x07
    c = b.constant({"dataType": "int4", "shape": [3]}, bytes([0xE1, 0x07]))
    assert c.data_type == "int4"
    np.testing.assert_array_equal(b._graph.constants[c._id], np.array([1, -2, 7], np.int8))


@pytest.mark.parametrize(
    ("desc", "buffer", "message"),
    [
        ({"dataType": "float32", "shape": [3]}, b"\x00" * 8, "12"),
        ({"dataType": "float32", "shape": [3]}, [1.0, 2.0], "3"),
        ({"dataType": "uint8", "shape": [2]}, np.array([1, 300]), "out of range"),
    ],
)
def test_constant_rejects_mismatched_data(ctx, desc, buffer, message):
    b = MLGraphBuilder(ctx)
    with pytest.raises(TypeError, match=message):
        b.constant(desc, buffer)


def test_op_errors_name_op_and_argument(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    i = b.input("i", {"dataType": "int32", "shape": [2, 3]})
    with pytest.raises(TypeError, match=r"^add: b data type must match a \(float32\), got int32"):
        b.add(x, i)
    with pytest.raises(TypeError, match=r"^mul: shapes of a and b cannot be broadcast: \[2, 3\] and \[4\]"):
        b.mul(x, b.input("z", {"dataType": "float32", "shape": [4]}))
    with pytest.raises(TypeError, match=r"^exp: input data type must be one of float32, float16, got int32"):
        b.exp(i)
    with pytest.raises(TypeError, match="^add: b must be an MLOperand"):
        b.add(x, 3)
    with pytest.raises(TypeError, match="label"):
        b.relu(x, label=5) if hasattr(b, "relu") else b.exp(x, label=5)


def test_operands_from_another_builder_are_refused(ctx):
    b1, b2 = MLGraphBuilder(ctx), MLGraphBuilder(ctx)
    x1 = b1.input("x", F32_23)
    x2 = b2.input("x", F32_23)
    with pytest.raises(TypeError, match="different MLGraphBuilder"):
        b1.add(x1, x2)


def test_build_rules(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    c = b.constant(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="non-empty dict"):
        b.build({})
    with pytest.raises(TypeError, match="identity"):
        b.build({"x": x})
    with pytest.raises(TypeError, match="identity"):
        b.build({"c": c})
    g = b.build({"y": b.add(x, c)})
    assert set(g.inputs) == {"x"} and g.outputs["y"] == MLOperandDescriptor("float32", (2, 3))
    with pytest.raises(InvalidStateError, match="already built"):
        b.add(x, c)
    with pytest.raises(InvalidStateError, match="already built"):
        b.build({"y": x})


def test_unused_inputs_stay_graph_inputs(ctx):
    b = MLGraphBuilder(ctx)
    x = b.input("x", F32_23)
    b.input("unused", F32_23)
    g = b.build({"y": b.exp(x)})
    assert set(g.inputs) == {"x", "unused"}


def test_every_spec_op_is_a_builder_method():
    from webnn.ops._spec_table import SPEC_OPS

    missing = [name for name in SPEC_OPS if not callable(getattr(MLGraphBuilder, name, None))]
    assert not missing, f"spec ops missing from MLGraphBuilder: {missing}"
    assert len(SPEC_OPS) == 95


def test_builder_methods_document_spec_names():
    assert "MLGraphBuilder.add" in MLGraphBuilder.add.__doc__
    assert "MLGraphBuilder.isNaN" in MLGraphBuilder.is_nan.__doc__
