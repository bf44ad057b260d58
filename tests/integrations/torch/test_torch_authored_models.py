"""Architectures written by the PyTorch authors, not by us, through backend="webnn".

Random weights; outputs compared with eager. Where torch routes a module through a
fused inference kernel (the TransformerEncoderLayer fast path), webnn's decomposition
of it must put the layer on WebNN all the same.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import webnn.integrations.torch as wt  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh():
    torch._dynamo.reset()
    wt.clear_reports()
    torch.manual_seed(0)
    yield
    torch._dynamo.reset()


def _compare(model: nn.Module, *args: torch.Tensor, atol: float = 1e-5) -> wt.GraphReport:
    model = model.eval()
    with torch.no_grad():
        want = model(*args)
        got = torch.compile(model, backend="webnn", options={"cache": False})(*args)
    torch.testing.assert_close(got, want, atol=atol, rtol=1e-5)
    report = wt.last_report()
    assert report is not None
    return report


def test_transformer_encoder_fused_fast_path_runs_on_webnn_and_matches():
    # in eval without grad each layer is one fused op, which webnn's decomposition splits
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    report = _compare(enc, torch.randn(2, 7, 32))
    assert report.fallbacks == {} and report.torch_nodes == 0 and report.webnn_nodes > 0


def test_transformer_decoder_layer_runs_on_webnn_and_matches():
    dec = nn.TransformerDecoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
    report = _compare(dec, torch.randn(2, 5, 32), torch.randn(2, 7, 32))
    assert report.webnn_nodes > 0


def test_multihead_attention_matches():
    mha = nn.MultiheadAttention(embed_dim=32, num_heads=4, batch_first=True)
    q = torch.randn(2, 5, 32)
    report = _compare(mha, q, q, q)
    assert report.webnn_nodes > 0
