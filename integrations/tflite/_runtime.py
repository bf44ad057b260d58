"""Which TFLite runtime is calling, whether its struct layout is known, and its model.

The delegate is handed to ``tf.lite.Interpreter`` or
``ai_edge_litert.interpreter.Interpreter``; both call the delegate's Prepare from
Python (``Interpreter.__init__`` through ``ModifyGraphWithDelegate``, and
``allocate_tensors`` when a resize re-applies delegates). The runtime gives a
delegate no handle on the model's flatbuffer, so :func:`find_caller` looks at the
calling Python frames for the interpreter object and the ``model_path`` /
``model_content`` it was made from. The delegate checks what it finds against the
runtime's own tensors and nodes before trusting it (see ``_layout``).
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass
from typing import Any

#: Runtime distribution -> version prefixes whose C layout ``_capi`` mirrors.
KNOWN_LAYOUTS: dict[str, tuple[str, ...]] = {
    "tensorflow": ("2.21.",),
    "ai-edge-litert": ("2.3.",),
}
#: Python package of each runtime -> its distributions (first installed one wins).
_DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel"),
    "ai_edge_litert": ("ai-edge-litert", "ai-edge-litert-nightly"),
    "tflite_runtime": ("tflite-runtime",),
}
_FAMILY = {"tensorflow-cpu": "tensorflow", "tensorflow-intel": "tensorflow", "ai-edge-litert-nightly": "ai-edge-litert"}


@dataclass(frozen=True)
class Runtime:
    """An installed TFLite runtime: its package, distribution and version."""

    package: str
    distribution: str
    version: str

    @property
    def family(self) -> str:
        return _FAMILY.get(self.distribution, self.distribution)

    @property
    def layout_known(self) -> bool:
        return self.version.startswith(KNOWN_LAYOUTS.get(self.family, ()))

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}"


def runtime_of(package: str) -> Runtime | None:
    """The installed runtime that provides Python package ``package``, or None."""
    for dist in _DISTRIBUTIONS.get(package, ()):
        try:
            return Runtime(package, dist, importlib.metadata.version(dist))
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def installed_runtimes() -> list[Runtime]:
    return [r for r in (runtime_of(p) for p in _DISTRIBUTIONS) if r is not None]


def layout_refusal(runtime: Runtime | None) -> str | None:
    """None when ``runtime``'s C layout is the one mirrored here, else the reason to refuse."""
    if runtime is None:
        return None
    if runtime.layout_known:
        return None
    known = ", ".join(f"{k} {'/'.join(v)}x" for k, v in KNOWN_LAYOUTS.items())
    return (f"{runtime} has a TFLite C struct layout this delegate does not know (it knows {known}); "
            "refusing to delegate rather than risk reading garbage")


@dataclass
class Caller:
    """What the Python frames say about the interpreter that called the delegate."""

    interpreter: Any | None
    runtime: Runtime | None
    model_bytes: bytes | None  # from model_content
    model_path: str | None  # from model_path (memory-mapped and hashed by the delegate)


def _package_of(obj: Any) -> str | None:
    module = type(obj).__module__ or ""
    top = module.split(".", 1)[0]
    return top if top in _DISTRIBUTIONS else None


def find_caller(max_depth: int = 32) -> Caller:
    """Look up the Python stack for the TFLite ``Interpreter`` being built or allocated."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None and depth < max_depth:
        f_locals = frame.f_locals
        owner = f_locals.get("self")
        package = _package_of(owner) if owner is not None else None
        if package is not None and type(owner).__name__.endswith("Interpreter"):
            content = f_locals.get("model_content") if frame.f_code.co_name == "__init__" else None
            path = f_locals.get("model_path") if frame.f_code.co_name == "__init__" else None
            if content is None:
                content = getattr(owner, "_model_content", None)
            data = bytes(content) if content is not None else None
            return Caller(owner, runtime_of(package), data, None if not path else str(path))
        frame = frame.f_back
        depth += 1
    return Caller(None, None, None, None)
