"""Fixtures for the command-line tests: the CLI run as a subprocess, and real model
files made here with each framework's own tools (onnx.helper, tf.lite.TFLiteConverter,
torch.export).

Every subprocess gets its own graph cache directory unless a test shares one on
purpose, so the tests do not depend on each other or on the user's cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ._util import Result, W, run_cli


@pytest.fixture
def cli(tmp_path: Path):  # noqa: ANN201
    """``cli(*args)`` runs the command line with a fresh cache in ``tmp_path/cache``."""
    cache = tmp_path / "cache"

    def call(*args: str, cache_dir: Path | None = None) -> Result:
        return run_cli(*args, cache_dir=cache_dir or cache, cwd=tmp_path)

    return call


@pytest.fixture(scope="session")
def onnx_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """x[N,6] -> MatMul -> Relu -> Mod(fmod) -> Tanh -> y, and MatMul -> Sigmoid -> z.

    Mod has no WebNN converter, so it runs on ONNX Runtime between two WebNN partitions;
    N is a dynamic batch dimension.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="matmul"),
        helper.make_node("Relu", ["mm"], ["h"], name="relu"),
        helper.make_node("Mod", ["h", "m"], ["r"], name="mod", fmod=1),
        helper.make_node("Tanh", ["r"], ["y"], name="tanh"),
        helper.make_node("Sigmoid", ["mm"], ["z"], name="sigmoid"),
    ]
    graph = helper.make_graph(
        nodes, "cli_test", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(W, "w"), numpy_helper.from_array(np.array(0.75, np.float32), "m")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path_factory.mktemp("models") / "mod_model.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture(scope="session")
def tflite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tf.function converted by TFLiteConverter: FLOOR_MOD (no WebNN converter) between
    WebNN-able nodes."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 4], tf.float32)])
    def f(x):  # noqa: ANN001, ANN202
        y = tf.nn.relu(x * 3.0 + 1.0)
        z = tf.math.floormod(y, 2.5)
        return tf.nn.tanh(z * 2.0 - 1.0) + tf.reduce_mean(y, axis=[1, 2], keepdims=True)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    path = tmp_path_factory.mktemp("models") / "floormod.tflite"
    path.write_bytes(conv.convert())
    return path


@pytest.fixture(scope="session")
def pt2_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torch.export-ed module saved with torch.export.save: conv, relu, then an op
    without a WebNN converter (cummax)."""
    torch = pytest.importorskip("torch")

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, x):  # noqa: ANN001, ANN202
            y = torch.relu(self.conv(x))
            return y.flatten(1).cummax(dim=1).values * 0.5

    torch.manual_seed(0)
    ep = torch.export.export(Net().eval(), (torch.rand(1, 2, 5, 5),))
    path = tmp_path_factory.mktemp("models") / "net.pt2"
    torch.export.save(ep, path)
    return path
