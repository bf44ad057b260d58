"""torch.compile backend "webnn": ATen graphs on WebNN, torch for the rest.

After ``pip install`` the backend is registered with dynamo through the entry point
group ``torch_dynamo_backends``, so no import is needed::

    compiled = torch.compile(model, backend="webnn", options={"report": True})

Options (and their environment variables) are documented in
:mod:`webnn.integrations.torch.options`. What ran where is in :func:`reports`;
cache counters are in :func:`cache_stats`. :func:`supported_aten_ops` lists the ATen
ops the converter registry claims (each still subject to its data-type and shape
checks against the context's ``op_support_limits()``).

Behaviour worth knowing:

* Inference graphs run on WebNN; with inputs that require grad, the forward graph
  runs on WebNN and the backward graph runs in torch.
* Parameters stay graph inputs (never folded into WebNN constants), so a weight
  changed in place after compile is used by the next call.
* Each static shape signature is its own WebNN graph and cache entry; graphs dynamo
  makes dynamic are specialised per concrete shape at first call.
* Values cross between torch and WebNN as the same tensors (bool as a uint8 view); the
  only copy is a clone of graph outputs returned outside ``torch.inference_mode``
  (the torch backend produces inference tensors, which autograd and in-place ops refuse).
* Not taken (they run in torch, and the report says why): ops without a WebNN
  equivalent (erfinv, remainder, sort...), float64/bfloat16/complex values, zero-size
  or symbolic shapes, training-mode batch norm and dropout. Dynamo itself runs
  nn.LSTM/nn.GRU modules eagerly (no graph reaches any backend), and ATen splits
  ``aten.lstm``/``aten.gru`` into matmuls (CompositeImplicit), so WebNN's gru/lstm ops
  are never the target; quantized (``quantized_decomposed``) graphs are not converted.
"""

from __future__ import annotations

from .backend import KEEP_WHOLE, compile_graph, decompositions, webnn_backend
from .cache import cache_stats, reset_cache_stats
from .options import ENV, BackendOptions, parse_options
from .report import GraphReport, PartitionReport, clear_reports, last_report, reports, summarize

__all__ = [
    "ENV",
    "KEEP_WHOLE",
    "BackendOptions",
    "GraphReport",
    "PartitionReport",
    "cache_stats",
    "clear_reports",
    "compile_graph",
    "decompositions",
    "last_report",
    "parse_options",
    "reports",
    "reset_cache_stats",
    "summarize",
    "supported_aten_ops",
    "webnn_backend",
]


def supported_aten_ops() -> list[str]:
    """ATen op overloads with a registered converter (``"aten.add.Tensor"``...)."""
    from .converters import REGISTRY
    from .support import op_name

    return sorted(op_name(k) for k in REGISTRY.keys())
