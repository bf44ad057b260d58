"""The public face of ``webnn``: changes only on purpose, and imports no host framework."""

from __future__ import annotations

import subprocess
import sys

import webnn

PUBLIC = [
    "DOMException", "InvalidStateError", "ML", "MLContext", "MLGraph", "MLGraphBuilder",
    "MLOperand", "MLOperandDescriptor", "MLTensor", "NotFoundError", "NotSupportedError",
    "OperationError", "QuotaExceededError", "UnknownError", "ml",
]


def test_public_names():
    assert sorted(webnn.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(webnn, name) is not None


def test_errors_are_dom_exception_names():
    for cls in (webnn.OperationError, webnn.NotSupportedError, webnn.InvalidStateError,
                webnn.UnknownError, webnn.QuotaExceededError, webnn.NotFoundError):
        assert issubclass(cls, webnn.DOMException)
        assert cls.name == cls.__name__


def test_import_webnn_imports_no_host_framework_and_not_torch():
    code = ("import sys, webnn; bad = [m for m in ('torch', 'onnxruntime', 'tensorflow', 'onnx') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_methods_have_docstrings():
    for cls in (webnn.ML, webnn.MLContext, webnn.MLGraphBuilder, webnn.MLGraph, webnn.MLTensor):
        for name in dir(cls):
            if name.startswith("_"):
                continue
            attr = getattr(cls, name)
            if callable(attr):
                assert attr.__doc__, f"{cls.__name__}.{name} has no docstring"
