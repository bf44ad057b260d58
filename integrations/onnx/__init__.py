"""ONNX Runtime integration: a WebNN execution provider with ORT's CPU EP as fallback.

Public face::

    from webnn.integrations.onnx import InferenceSession   # drop-in for onnxruntime.InferenceSession
    sess = InferenceSession("model.onnx",
                            providers=[("WebNNExecutionProvider", {"deviceType": "cpu"}),
                                       "CPUExecutionProvider"])
    sess.run(None, {"input": x}); sess.placement()

- :class:`InferenceSession` -- the session (see :mod:`.session`);
- :data:`PROVIDER` -- ``"WebNNExecutionProvider"``;
- :func:`get_available_providers` -- ORT's list with ours first;
- :class:`WebNNBackend` -- an ``onnx.backend.base.Backend`` over the session (for
  ``onnx.backend.test``), imported lazily from :mod:`.backend`;
- :data:`REGISTRY` -- the converter registry (ONNX op type -> converter + check).

Importing this module imports onnx and onnxruntime (never done by ``import webnn``).
"""

from __future__ import annotations

from typing import Any

from .convert import REGISTRY
from .model import ModelMetadata, NodeArg
from .options import CPU, PROVIDER
from .session import InferenceSession

__all__ = ["CPU", "PROVIDER", "REGISTRY", "InferenceSession", "ModelMetadata", "NodeArg", "WebNNBackend",
           "get_available_providers"]


def get_available_providers() -> list[str]:
    """``onnxruntime.get_available_providers()`` with the WebNN provider first."""
    import onnxruntime as ort

    return [PROVIDER, *ort.get_available_providers()]


def __getattr__(name: str) -> Any:
    if name == "WebNNBackend":
        from .backend import WebNNBackend

        return WebNNBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# The plugin execution provider for a plain onnxruntime.InferenceSession (see .plugin):
# ort.register_execution_provider_library("webnn", get_library_path()), then pick the
# devices whose ep_name is get_ep_name().
from .plugin import get_ep_name, get_library_path  # noqa: E402

__all__ += ["get_ep_name", "get_library_path"]
