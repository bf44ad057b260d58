"""Finding the native shim, and saying exactly what is missing when it is not there.

The shim is an optional C extension built at install time. Without a C compiler (or
the Python headers) the package still installs; then :func:`get_library_path` raises
:class:`PluginUnavailableError` naming what was missing and how to get it, and the
drop-in ``InferenceSession`` keeps working.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sysconfig
from types import ModuleType

MODULE = "webnn.integrations.onnx._native._webnn_ort_ep"
#: The oldest ONNX Runtime whose plugin-EP ABI the shim was written for (API version 23).
MIN_ORT = (1, 23)
#: The ONNX Runtime the ABI declarations were checked against.
CHECKED_AGAINST = "1.32.0"


class PluginUnavailableError(RuntimeError):
    """The WebNN plugin EP library cannot be used here; the message says why."""


def _ort_version() -> tuple[int, int, str]:
    import onnxruntime as ort

    text = ort.__version__
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]), text
    except (IndexError, ValueError):
        return 0, 0, text


def _why_not_built() -> str:
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    exe = compiler.split()[0] if compiler else "cc"
    include = sysconfig.get_paths().get("include", "")
    missing = []
    if shutil.which(exe) is None:
        missing.append(f"no C compiler (looked for {exe!r} on PATH)")
    if not os.path.isfile(os.path.join(include, "Python.h")):
        missing.append(f"no Python headers (Python.h not found in {include})")
    what = " and ".join(missing) if missing else "the C extension failed to build (see the pip install log)"
    return (f"the WebNN plugin EP library (native shim {MODULE}) was not built when webnn was installed: {what}. "
            "Install a C compiler and the Python development headers (e.g. apt-get install gcc python3-dev), "
            "then reinstall webnn (pip install --no-deps --force-reinstall . or pip install -e .). "
            "The drop-in webnn.integrations.onnx.InferenceSession works without it.")


def native_module() -> ModuleType:
    """The imported shim; PluginUnavailableError says what is missing."""
    major, minor, text = _ort_version()
    if (major, minor) < MIN_ORT:
        raise PluginUnavailableError(
            f"ONNX Runtime {text} has no plugin execution-provider ABI this library can use: it needs "
            f"onnxruntime >= {MIN_ORT[0]}.{MIN_ORT[1]} (checked against {CHECKED_AGAINST}). "
            "The drop-in webnn.integrations.onnx.InferenceSession works with older releases.")
    try:
        return importlib.import_module(MODULE)
    except ImportError as exc:
        raise PluginUnavailableError(_why_not_built()) from exc


def library_path() -> str:
    """Path of the shared library ORT should load (the shim, with the bridge installed)."""
    module = native_module()
    from . import bridge

    bridge.install()
    path = getattr(module, "__file__", None)
    if not path or not os.path.isfile(path):
        raise PluginUnavailableError(f"the native shim {MODULE} was imported but has no file on disk ({path!r})")
    return os.path.abspath(path)
