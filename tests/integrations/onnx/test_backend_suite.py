"""ONNX's backend test suite (``onnx.backend.test``) through WebNNBackend, beside ORT's own backend.

Two generated families of test classes run the same cases on the CPU:

- ``OnnxBackend*Test`` -- our ``WebNNBackend`` (WebNN where it can, ORT's CPU EP for
  the rest); every case ORT's own backend passes must pass here;
- ``OrtCPU_OnnxBackend*Test`` -- ``onnxruntime.backend``, for the live comparison.

Covered: the node tests, the small models of the "simple", "pytorch-converted" and
"pytorch-operator" sets, and the "real" set's light models (ResNet-50, DenseNet-121,
Inception v1/v2, ShuffleNet, SqueezeNet, VGG-19, AlexNet, ZFNet-512 architectures
with synthetic weights; no downloads). Cases ORT's own backend fails
(``ort_backend_failures.txt``) are xfail (not strict) for both. The conftest prints
the pass counts of both backends and how many cases ran entirely on WebNN.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import onnx.backend.test
import onnxruntime.backend as ort_backend
from webnn.integrations.onnx.backend import WebNNBackend, WebNNBackendRep

# The light models write generated inputs under $ONNX_HOME; keep that out of the user's home.
os.environ.setdefault("ONNX_HOME", os.path.join(tempfile.gettempdir(), "webnn-onnx-home"))

#: Placement summary of the last case run in this process (read by the conftest hook).
LAST_PLACEMENT: list[dict[str, Any]] = []


class RecordingRep(WebNNBackendRep):
    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        out = super().run(inputs, **kwargs)
        LAST_PLACEMENT.append(self.last_placement)
        return out


class SuiteBackend(WebNNBackend):
    """WebNNBackend without the persistent cache (each case is compiled fresh)."""

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> RecordingRep:
        rep = super().prepare(model, device, provider_options={"cache": "0"}, **kwargs)
        return RecordingRep(rep.session)


def _cpu_cases(backend: Any) -> dict[str, type]:
    """The suite's test classes with only the CPU variants (CUDA is checked on a GPU machine)."""
    classes = onnx.backend.test.BackendTest(backend, __name__).test_cases
    for cls in classes.values():
        for attr in [a for a in vars(cls) if a.startswith("test_") and a.endswith("_cuda")]:
            delattr(cls, attr)
    return classes


globals().update(_cpu_cases(SuiteBackend))
globals().update({f"OrtCPU_{name}": cls for name, cls in _cpu_cases(ort_backend).items()})
