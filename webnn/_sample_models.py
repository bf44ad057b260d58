"""The embedded sample network of ``webnn run``: one small image classifier, built
with each host framework's own tools from the same seeded weights.

Architecture (NCHW for ONNX and torch, NHWC for TFLite)::

    x[1,3,32,32] -> conv3x3(8)+relu -> maxpool2x2 -> conv3x3(16)+relu
                 -> global average pool -> dense(10) -> softmax -> probs[1,10]
                                                              \\-> top-3 -> top_values[1,3], top_indices[1,3]

The top-k head is a real classifier idiom that WebNN has no op for, so the sample
shows a host fallback next to a WebNN partition in every framework. Nothing is
downloaded; the frameworks are imported only inside the builders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Input shape in NCHW (TFLite takes the NHWC transpose).
INPUT_SHAPE = (1, 3, 32, 32)
CLASSES = 10
TOP_K = 3
OUTPUT_NAMES = ("probs", "top_values", "top_indices")


@dataclass(frozen=True)
class Weights:
    """The sample's parameters in ONNX/torch layouts (OIHW filters, [out, in] dense)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray


def weights(seed: int = 0) -> Weights:
    """Seeded He-style weights, so the three builds compute the same function."""
    rng = np.random.default_rng(seed)

    def he(*shape: int) -> np.ndarray:
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    return Weights(he(8, 3, 3, 3), (rng.standard_normal(8) * 0.1).astype(np.float32),
                   he(16, 8, 3, 3), (rng.standard_normal(16) * 0.1).astype(np.float32),
                   he(CLASSES, 16), (rng.standard_normal(CLASSES) * 0.1).astype(np.float32))


def sample_input(seed: int = 1) -> np.ndarray:
    """One NCHW float32 image in [0, 1)."""
    return np.random.default_rng(seed).random(INPUT_SHAPE, dtype=np.float32)


def onnx_model(seed: int = 0) -> bytes:
    """The sample as an ONNX model (opset 13), made with ``onnx.helper``; checked by ``onnx.checker``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = weights(seed)
    inits = [numpy_helper.from_array(a, n) for n, a in
             (("w1", w.w1), ("b1", w.b1), ("w2", w.w2), ("b2", w.b2), ("w3", w.w3), ("b3", w.b3),
              ("k", np.array([TOP_K], np.int64)))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], name="dense", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
        helper.make_node("TopK", ["probs", "k"], ["top_values", "top_indices"], name="top3", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "webnn_sample_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(INPUT_SHAPE))],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, CLASSES]),
         helper.make_tensor_value_info("top_values", TensorProto.FLOAT, [1, TOP_K]),
         helper.make_tensor_value_info("top_indices", TensorProto.INT64, [1, TOP_K])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="webnn-sample")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def torch_module(seed: int = 0) -> Any:
    """The sample as a ``torch.nn.Module`` (eval mode) returning ``(probs, top_values, top_indices)``."""
    import torch
    from torch import nn

    w = weights(seed)

    class SampleCNN(nn.Module):
        """conv-relu-pool-conv-relu-gap-dense-softmax with a top-k head."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.dense = nn.Linear(16, CLASSES)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            y = self.pool(torch.relu(self.conv1(x)))
            y = torch.relu(self.conv2(y)).mean(dim=(2, 3))
            probs = torch.softmax(self.dense(y), dim=-1)
            values, indices = torch.topk(probs, TOP_K, dim=-1)
            return probs, values, indices

    module = SampleCNN()
    with torch.no_grad():
        for param, value in ((module.conv1.weight, w.w1), (module.conv1.bias, w.b1), (module.conv2.weight, w.w2),
                             (module.conv2.bias, w.b2), (module.dense.weight, w.w3), (module.dense.bias, w.b3)):
            param.copy_(torch.from_numpy(value))
    return module.eval()


def tflite_available() -> str | None:
    """None when TensorFlow (for ``tf.lite.TFLiteConverter``) is importable, else why not."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return "TensorFlow is not installed (pip install 'webnn[tflite]' for the TFLite sample)"
    return None


def tflite_model(seed: int = 0) -> bytes:
    """The sample as a .tflite flatbuffer, made with ``tf.lite.TFLiteConverter`` from a
    ``tf.function`` (NHWC input ``x[1,32,32,3]``). Needs TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    w = weights(seed)
    w1 = tf.constant(w.w1.transpose(2, 3, 1, 0))  # OIHW -> HWIO
    w2 = tf.constant(w.w2.transpose(2, 3, 1, 0))
    w3 = tf.constant(w.w3.T)
    b1, b2, b3 = tf.constant(w.b1), tf.constant(w.b2), tf.constant(w.b3)
    n, c, h, wd = INPUT_SHAPE

    @tf.function(input_signature=[tf.TensorSpec([n, h, wd, c], tf.float32, name="x")])
    def sample(x: Any) -> dict[str, Any]:
        y = tf.nn.relu(tf.nn.conv2d(x, w1, 1, "SAME") + b1)
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.nn.relu(tf.nn.conv2d(y, w2, 1, "SAME") + b2)
        y = tf.reduce_mean(y, axis=[1, 2])
        probs = tf.nn.softmax(tf.matmul(y, w3) + b3)
        values, indices = tf.math.top_k(probs, TOP_K)
        return {"probs": probs, "top_values": values, "top_indices": indices}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([sample.get_concrete_function()], sample)
    return bytes(converter.convert())
