"""The WebNN plugin execution provider for a plain ``onnxruntime.InferenceSession``.

ORT users who never heard of our drop-in class get WebNN the way ORT's own plugin
packages ship::

    import onnxruntime as ort
    from webnn.integrations import onnx as webnn_ort
    ort.register_execution_provider_library("webnn", webnn_ort.get_library_path())
    devs = [d for d in ort.get_ep_devices() if d.ep_name == webnn_ort.get_ep_name()]
    so = ort.SessionOptions()
    so.add_provider_for_devices(devs[:1], {"deviceType": "cpu"})
    sess = ort.InferenceSession("model.onnx", sess_options=so)   # CPU EP takes the rest

or, after registration, ``providers=["WebNNExecutionProvider", "CPUExecutionProvider"]``.

A native shim (``_native/webnn_ort_ep.c``, built at install) exports ORT's plugin entry
points and hands every decision to Python: the factory and its devices
(:mod:`.devices`), ``GetCapability`` (:mod:`.capability`, answered by the drop-in's
converter registry, ``why_not`` and ``webnn.partition``), ``Compile`` and the per-call
compute (:mod:`.kernel`). ORT partitions, falls back to its CPU EP and records where
each node ran; :func:`placement` reads that record and adds our reasons.
"""

from __future__ import annotations

from typing import Any

from ._library import CHECKED_AGAINST, MIN_ORT, PluginUnavailableError
from .bridge import EP_NAME

__all__ = ["CHECKED_AGAINST", "EP_NAME", "MIN_ORT", "PluginUnavailableError", "get_ep_name", "get_library_path",
           "placement"]


def get_library_path() -> str:
    """Path of the plugin EP library for ``onnxruntime.register_execution_provider_library``.

    Raises :class:`PluginUnavailableError` (naming what is missing) when the native shim
    was not built at install, or when the installed ONNX Runtime is older than 1.23.
    """
    from ._library import library_path

    return library_path()


def get_ep_name() -> str:
    """The EP name ORT lists for our devices (``OrtEpDevice.ep_name``)."""
    return EP_NAME


def placement(session: Any) -> list[dict[str, Any]]:
    """Where each node of ``session`` ran, read from ORT's own record, with our reasons.

    Needs the session created with ``session.record_ep_graph_assignment_info`` = "1"
    (``SessionOptions.add_session_config_entry``). Each entry: ``node``, ``op_type``,
    ``domain``, ``provider``, and for nodes WebNN did not take, ``reason``.
    """
    from .report import placement as read

    return read(session)
