"""Models for the plugin-EP tests and benchmark: hand-built with onnx.helper and exported
from torch (TorchScript exporter: the dynamo one needs onnxscript, not installed here)."""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def mixed_model():
    """MatMul -> Relu -> TopK (no WebNN converter: ORT) -> Cast/Add; plus Shape; dynamic batch."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
             helper.make_node("Relu", ["y"], ["r"], name="relu"),
             helper.make_node("TopK", ["r", "k"], ["tv", "ti"], name="topk", axis=1),
             helper.make_node("Cast", ["ti"], ["tf"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Add", ["tv", "tf"], ["z"], name="add"),
             helper.make_node("Shape", ["x"], ["shp"], name="shape")]
    g = helper.make_graph(nodes, "mixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("z", TensorProto.FLOAT, None),
                           helper.make_tensor_value_info("ti", TensorProto.INT64, None),
                           helper.make_tensor_value_info("shp", TensorProto.INT64, None)],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.array([2], np.int64), "k")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def bool_int_model():
    """Comparisons, logic and Where on int64 and bool tensors."""
    nodes = [helper.make_node("Greater", ["a", "b"], ["gt"], name="gt"),
             helper.make_node("Not", ["gt"], ["ng"], name="not"),
             helper.make_node("And", ["ng", "m"], ["both"], name="and"),
             helper.make_node("Where", ["both", "a", "b"], ["w"], name="where"),
             helper.make_node("Mul", ["w", "a"], ["p"], name="mul")]
    g = helper.make_graph(nodes, "boolint", [helper.make_tensor_value_info("a", TensorProto.INT64, [2, 3]),
                                             helper.make_tensor_value_info("b", TensorProto.INT64, [2, 3]),
                                             helper.make_tensor_value_info("m", TensorProto.BOOL, [2, 3])],
                          [helper.make_tensor_value_info("p", TensorProto.INT64, [2, 3]),
                           helper.make_tensor_value_info("both", TensorProto.BOOL, [2, 3])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def float16_model():
    """A float16 MLP layer: MatMul, Add, Sigmoid."""
    rng = np.random.default_rng(1)
    w = (rng.standard_normal((8, 5)) * 0.3).astype(np.float16)
    b = rng.standard_normal(5).astype(np.float16)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["y"], name="mm"),
             helper.make_node("Add", ["y", "B"], ["z"], name="add"),
             helper.make_node("Sigmoid", ["z"], ["s"], name="sig")]
    g = helper.make_graph(nodes, "half", [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [4, 8])],
                          [helper.make_tensor_value_info("s", TensorProto.FLOAT16, [4, 5])],
                          [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), w, b


def _export(module, args, dynamic_axes=None, names=("x",)) -> bytes:
    import torch

    module.eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, f, dynamo=False, opset_version=17, input_names=list(names),
                          output_names=["out"], dynamic_axes=dynamic_axes)
    return f.getvalue()


def resnet_block_model(channels: int = 16, size: int = 32, batch: int = 1, blocks: int = 2) -> bytes:
    """A small ResNet-style CNN (conv-bn-relu, residual adds, pooling, linear head)."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            return torch.relu(x + self.b2(self.c2(y)))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.BatchNorm2d(channels),
                                      nn.ReLU(), nn.MaxPool2d(2))
            self.blocks = nn.Sequential(*[Block(channels) for _ in range(blocks)])
            self.head = nn.Linear(channels, 10)

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    net = Net()
    for m in net.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return _export(net, (torch.randn(batch, 3, size, size),), {"x": {0: "batch"}})


def transformer_model(d_model: int = 32, heads: int = 4, seq: int = 8) -> bytes:
    """One pre-norm transformer block (multi-head attention, layer norm, GELU MLP), batch-first."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
            self.qkv, self.proj = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
            self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.n1(x)).split(d, dim=-1)
            q, k, v = (z.reshape(b, t, heads, d // heads).transpose(1, 2) for z in (q, k, v))
            att = torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1)
            x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.mlp(self.n2(x))

    return _export(Block(), (torch.randn(2, seq, d_model),), {"x": {0: "batch"}})


def light_model(name: str, seed: int = 7):
    """``(model, feeds)`` for one architecture of the "real" set shipped in the onnx wheel
    (``onnx/backend/test/data/light``: the published models, their weights made by
    ConstantOfShape), with random weights and inputs; None if the wheel lacks it.

    Uniform weights would hide a transposed or misplaced filter, so each ConstantOfShape
    weight becomes a random initializer of its shape: filters and matrices He-scaled,
    vectors (biases, batch-norm scales, means and variances) in [0.5, 1.5].
    """
    import onnx

    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"{name}.onnx")
    if not os.path.exists(path):
        return None
    model = onnx.load(path)
    rng = np.random.default_rng(seed)
    shapes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in shapes:
            shape = tuple(int(d) for d in shapes[node.input[0]])
            if len(shape) > 1:
                value = rng.standard_normal(shape) * np.sqrt(1.0 / int(np.prod(shape[1:])))
            else:
                value = rng.uniform(0.5, 1.5, shape)
            model.graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    inits = {t.name for t in model.graph.initializer}
    feeds = {vi.name: rng.random([d.dim_value if d.dim_value > 0 else 1 for d in vi.type.tensor_type.shape.dim],
                                 dtype=np.float32)
             for vi in model.graph.input if vi.name not in inits}
    return model, feeds
