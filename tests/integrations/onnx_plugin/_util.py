"""Shared helpers for the plugin-EP tests: registration, sessions, subprocess runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime as ort
from webnn.integrations import onnx as webnn_ort

EP = "WebNNExecutionProvider"
_registered: str | None = None


def register() -> str:
    """Register the plugin library once per process; its path."""
    global _registered
    if _registered is None:
        path = webnn_ort.get_library_path()
        if not any(d.ep_name == EP for d in ort.get_ep_devices()):
            ort.register_execution_provider_library("webnn", path)
        _registered = path
    return _registered


def webnn_devices() -> list:
    register()
    return [d for d in ort.get_ep_devices() if d.ep_name == webnn_ort.get_ep_name()]


def plugin_session(model, options: dict | None = None, record: bool = True, **so_config) -> ort.InferenceSession:
    """A plain ORT session with WebNN (first CPU device) + ORT's CPU EP."""
    devs = webnn_devices()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if record:
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    for key, value in so_config.items():
        so.add_session_config_entry(key, value)
    so.add_provider_for_devices(devs[:1], {"cache": "0", **(options or {})})
    data = model if isinstance(model, (str, bytes)) else model.SerializeToString()
    return ort.InferenceSession(data, sess_options=so)


def cpu_session(model) -> ort.InferenceSession:
    data = model if isinstance(model, (str, bytes)) else model.SerializeToString()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])


def providers_of(session) -> dict[str, str]:
    """Node name -> provider, from ORT's own record."""
    return {e["node"]: e["provider"] for e in webnn_ort.plugin.placement(session)}


def assert_close(got, want, rtol=1e-4, atol=1e-5) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)


def run_python(code: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (ORT crashes must not take pytest down)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=full_env)
