"""Host adapters: the same questions asked of an ONNX, TFLite or torch model.

A :class:`Host` knows its model's inputs, can make the host framework's own runner
(ORT's CPU provider, the TFLite interpreter, eager torch) and a WebNN runner through
the matching integration (``webnn.integrations.onnx.InferenceSession``,
``webnn.integrations.tflite.load_delegate``, ``torch.compile(backend="webnn")``),
and, where the integration reports per node, the graph for the picture. The
frameworks are imported only when a model of theirs is opened.
"""

from __future__ import annotations

import gc
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ._errors import FAILURE, CLIError, one_line
from ._graph import GraphView
from ._placement import Placement
from ._tensors import TensorSpec

#: Device words the command line accepts (as ``webnn.ml.create_context``).
DEVICE_RE = re.compile(r"^(cpu|gpu|cuda|cuda:\d+)$")
#: Origin (cache partition) of the embedded sample's graphs.
SAMPLE_ORIGIN = "webnn-sample"


def parse_device(text: str) -> str:
    """argparse ``type=``: 'cpu', 'gpu', 'cuda' or 'cuda:N'."""
    import argparse

    if not DEVICE_RE.match(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, gpu, cuda or cuda:N")
    return text


@dataclass(frozen=True)
class WebNNSettings:
    """How the WebNN side runs: device and graph cache."""

    device: str = "cpu"
    cache: bool = True
    cache_dir: str | None = None
    origin: str | None = None

    def context(self) -> Any:
        """A new ``MLContext`` with these settings."""
        import webnn

        return webnn.ml.create_context(self.device, cache=self.cache, cache_dir=self.cache_dir, origin=self.origin)


Outputs = list[tuple[str, np.ndarray]]


class Runner(Protocol):
    def run(self, feeds: Mapping[str, np.ndarray]) -> Outputs: ...


class WebNNRunner(Runner, Protocol):
    #: True when :meth:`prepare` had to run the model (torch compiles at the first call).
    ran_to_prepare: bool

    def prepare(self, feeds: Mapping[str, np.ndarray]) -> None: ...
    def placement(self) -> Placement: ...
    def cache_counters(self) -> dict[str, Any]: ...


class Host(Protocol):
    framework: str
    host_name: str
    label: str

    def input_specs(self) -> list[TensorSpec]: ...
    def host_runner(self, device: str = "cpu") -> Runner: ...
    def webnn_runner(self, settings: WebNNSettings) -> WebNNRunner: ...
    def graph(self) -> GraphView | None: ...
    def warm_up(self, settings: WebNNSettings) -> None: ...
    def default_feeds(self) -> dict[str, np.ndarray] | None: ...


def warm_up(host: Host, settings: WebNNSettings) -> float:
    """Run the host's one-time process set-up; its duration in seconds."""
    start = time.perf_counter()
    host.warm_up(settings)
    return time.perf_counter() - start


def timed(make: Callable[[], Any], feeds: Mapping[str, np.ndarray]) -> tuple[Any, Outputs, float]:
    """Make a runner and run it once: the time to first result, in seconds.

    The clock starts after a full garbage collection: the hosts' libraries (TensorFlow and
    torch above all) leave a heap whose next full collection takes up to 0.2 s, and it
    would otherwise land in whichever timed run crosses the collector's threshold.
    """
    gc.collect()
    start = time.perf_counter()
    runner = make()
    outputs = runner.run(feeds)
    return runner, outputs, time.perf_counter() - start


FRAMEWORK_OF = {".onnx": "onnx", ".tflite": "tflite", ".pt2": "torch"}


def sniff(path: str) -> str:
    """The framework of a model file, by extension, else by its first bytes."""
    ext = os.path.splitext(path)[1].lower()
    if ext in FRAMEWORK_OF:
        return FRAMEWORK_OF[ext]
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[4:8] == b"TFL3":
        return "tflite"
    if head[:2] == b"PK":
        return "torch"
    if ext in ("", ".pb", ".bin", ".model"):
        return "onnx"
    raise CLIError(f"{path}: unknown model format (expected a .onnx, .tflite or .pt2 file)")


def open_model(path: str, ui: Any) -> Host:
    """The host adapter for a model file; missing, unreadable or malformed files are
    one-line usage errors."""
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a model file")
    if not os.access(path, os.R_OK):
        raise CLIError(f"cannot read {path}: permission denied")
    framework = sniff(path)
    if framework == "onnx":
        from ._host_onnx import OnnxHost

        return OnnxHost(path, path, ui)
    if framework == "tflite":
        with open(path, "rb") as fh:
            data = fh.read()
        if data[4:8] != b"TFL3":  # the flatbuffer's file identifier: fail before importing TensorFlow
            raise CLIError(f"{path}: not a TFLite model (no TFL3 file identifier)")
        from ._host_tflite import TFLiteHost

        return TFLiteHost(data, path, ui)
    from ._host_torch import TorchHost

    return TorchHost.from_pt2(path, ui)


def need(module: str, what: str, extra: str) -> None:
    """A one-line error when a host framework is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise CLIError(f"{what} needs {module}, which is not installed (pip install 'webnn[{extra}]')", FAILURE)


def check_device(settings: WebNNSettings) -> None:
    """Fail early, in one line, for a device this machine does not have."""
    import webnn

    try:
        webnn.ml.create_context(settings.device, cache=False).destroy()
    except Exception as exc:
        raise CLIError(one_line(exc), FAILURE) from exc
