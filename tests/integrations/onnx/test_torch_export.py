"""Models exported from torch (``torch.onnx.export``, TorchScript exporter) against ORT's output.

Dynamic batch axes make the exporter emit Shape/Gather/Concat chains; per-signature
folding must turn them into constants so the whole model lands on WebNN.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from webnn.integrations.onnx import PROVIDER

from ._util import assert_same, ort_run, webnn_session


def export(module: nn.Module, args: tuple, names: list[str], dynamic: dict, outputs: list[str]) -> bytes:
    module.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, dynamo=False, input_names=names, output_names=outputs,
                          dynamic_axes=dynamic, opset_version=17)
    return buf.getvalue()


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.Hardswish(),
            nn.MaxPool2d(2), nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(8, 4, 1), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(torch.flatten(self.body(x), 1)), dim=-1)


class TinyEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True, activation="gelu")
        self.norm = nn.LayerNorm(16)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.layer(self.embed(ids))).mean(dim=1)


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(6, 8, bidirectional=True)
        self.gru = nn.GRU(16, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, _ = self.lstm(x)
        z, h = self.gru(y)
        return z, h


def webnn_share(sess) -> float:
    placed = [p for p in sess.placement() if p["provider"] != "folded"]
    return sum(p["provider"] == PROVIDER for p in placed) / max(1, len(placed))


def test_cnn_with_dynamic_batch():
    torch.manual_seed(0)
    data = export(SmallCNN(), (torch.randn(2, 3, 16, 16),), ["x"], {"x": {0: "batch"}, "y": {0: "batch"}}, ["y"])
    sess = webnn_session(data)
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 16, 16)).astype(np.float32)
        assert_same(sess.run(None, {"x": x}), ort_run(data, {"x": x}), rtol=1e-4, atol=1e-5)
        assert webnn_share(sess) == 1.0, [p for p in sess.placement() if p["provider"] != PROVIDER]


def test_transformer_encoder_layer():
    torch.manual_seed(0)
    ids = torch.randint(0, 50, (2, 7))
    # The TorchScript exporter bakes the traced sizes into the attention reshapes, so the
    # model is only valid for the traced shape (ORT rejects others too).
    data = export(TinyEncoder(), (ids,), ["ids"], {}, ["y"])
    sess = webnn_session(data)
    x = np.random.default_rng(1).integers(0, 50, (2, 7)).astype(np.int64)
    assert_same(sess.run(None, {"ids": x}), ort_run(data, {"ids": x}), rtol=1e-4, atol=1e-5)
    assert webnn_share(sess) == 1.0, [p for p in sess.placement() if p["provider"] != PROVIDER]


@pytest.mark.parametrize("steps", [5])
def test_lstm_and_gru(steps):
    torch.manual_seed(0)
    data = export(Recurrent(), (torch.randn(steps, 2, 6),), ["x"], {"x": {1: "batch"}}, ["z", "h"])
    sess = webnn_session(data)
    x = np.random.default_rng(2).standard_normal((steps, 3, 6)).astype(np.float32)
    assert_same(sess.run(None, {"x": x}), ort_run(data, {"x": x}), rtol=1e-4, atol=1e-5)
    on_webnn = {p["op_type"] for p in sess.placement() if p["provider"] == PROVIDER}
    assert {"LSTM", "GRU"} <= on_webnn
