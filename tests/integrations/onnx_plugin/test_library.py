"""The library ORT loads: its path, the ABI it claims, and what happens without a compiler."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from webnn.integrations import onnx as webnn_ort
from webnn.integrations.onnx.plugin import CHECKED_AGAINST, PluginUnavailableError

from ._util import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_library_path_is_the_native_shim_with_the_plugin_entry_points():
    path = webnn_ort.get_library_path()
    assert os.path.isfile(path) and path.endswith(".so")
    import ctypes

    lib = ctypes.CDLL(path)  # the same file: the loader hands back the copy Python imported
    assert hasattr(lib, "CreateEpFactories") and hasattr(lib, "ReleaseEpFactory")
    assert webnn_ort.get_ep_name() == "WebNNExecutionProvider"


def test_abi_info_names_the_version_claimed_and_checked():
    from webnn.integrations.onnx._native import _webnn_ort_ep as native

    info = native.abi_info()
    assert info["api_version"] == 23
    assert info["checked_against"] == CHECKED_AGAINST == "1.32.0"
    assert info["bridge_installed"] is True


def test_missing_shim_is_a_clear_error_and_the_drop_in_still_imports():
    # A Python whose import of the shim fails (as after an install without a compiler).
    proc = run_python("""
        import sys
        sys.modules["webnn.integrations.onnx._native._webnn_ort_ep"] = None
        from webnn.integrations import onnx as webnn_ort
        from webnn.integrations.onnx import InferenceSession  # the drop-in keeps working
        try:
            webnn_ort.get_library_path()
        except webnn_ort.plugin.PluginUnavailableError as exc:
            print("ERROR:", exc)
        """, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR: the WebNN plugin EP library (native shim" in proc.stdout
    assert "was not built when webnn was installed" in proc.stdout
    assert "Install a C compiler and the Python development headers" in proc.stdout


def test_old_onnxruntime_is_refused_with_the_supported_versions():
    proc = run_python("""
        import onnxruntime
        onnxruntime.__version__ = "1.21.0"
        from webnn.integrations.onnx import plugin
        try:
            plugin.get_library_path()
        except plugin.PluginUnavailableError as exc:
            print("ERROR:", exc)
        """, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "ONNX Runtime 1.21.0" in proc.stdout and "onnxruntime >= 1.23" in proc.stdout


@pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="needs the build tools")
def test_build_without_a_compiler_still_succeeds_and_skips_the_shim(tmp_path):
    # setup.py's extension is optional: a missing compiler must not fail the install.
    proc = run_python(f"""
        import os, subprocess, sys
        env = dict(os.environ, CC="/nonexistent/cc", LDSHARED="/nonexistent/cc -shared")
        r = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", {str(tmp_path / 'lib')!r},
                            "--build-temp", {str(tmp_path / 'tmp')!r}], cwd={ROOT!r}, env=env,
                           capture_output=True, text=True)
        print("RC", r.returncode)
        print(r.stderr[-3000:])
        """, timeout=240)
    assert "RC 0" in proc.stdout, proc.stdout + proc.stderr
    built = [f for _, _, files in os.walk(tmp_path) for f in files if f.endswith(".so")]
    assert built == []
    assert sys.executable  # the running interpreter (with its shim) is untouched


def test_plugin_unavailable_error_is_a_runtime_error():
    assert issubclass(PluginUnavailableError, RuntimeError)
