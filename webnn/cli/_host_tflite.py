"""TFLite models: the plain TFLite interpreter (default op resolver, so XNNPACK where
it applies) as the host path, the same interpreter with
``webnn.integrations.tflite.load_delegate(...)`` as the WebNN path."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._errors import CLIError, one_line
from ._graph import GraphNode, GraphView
from ._host import Outputs, WebNNSettings, need
from ._placement import Placement, from_tflite
from ._tensors import TensorSpec


def import_tensorflow(ui: Any) -> Any:
    """``tensorflow`` with its native start-up logging kept off the terminal."""
    need("tensorflow", "running .tflite models", "tflite")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with ui.native_quiet():
        import tensorflow as tf
    return tf


class TFLiteHost:
    """A .tflite flatbuffer."""

    framework = "tflite"
    host_name = "TFLite"

    def __init__(self, data: bytes, label: str, ui: Any, feeds: dict[str, np.ndarray] | None = None,
                 output_names: dict[str, str] | None = None) -> None:
        self.tf = import_tensorflow(ui)
        self.output_names = output_names or {}
        self.ui = ui
        self.data = data
        self.label = label
        self._feeds = feeds
        try:
            self._plain = self.interpreter(plain=True)
        except (ValueError, RuntimeError) as exc:
            raise CLIError(f"{label}: not a readable TFLite model ({one_line(exc)})") from None

    def interpreter(self, delegates: list[Any] | None = None, *, plain: bool = False) -> Any:
        """A TFLite interpreter of the model (``plain``: builtin kernels only, no XNNPACK)."""
        tf = self.tf
        kwargs: dict[str, Any] = {}
        if plain:
            resolvers = tf.lite.experimental.OpResolverType
            kwargs["experimental_op_resolver_type"] = resolvers.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        with warnings.catch_warnings(), self.ui.native_quiet():
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
            return tf.lite.Interpreter(model_content=self.data, experimental_delegates=delegates, **kwargs)

    # -- what the model needs ----------------------------------------------------------------
    def input_specs(self) -> list[TensorSpec]:
        specs = []
        for d in self._plain.get_input_details():
            shape = tuple(int(x) for x in d["shape"])
            sig = tuple(int(x) for x in d.get("shape_signature", d["shape"]))
            dynamic = tuple(i for i, x in enumerate(sig) if x < 0)
            specs.append(TensorSpec(d["name"], np.dtype(d["dtype"]), tuple(max(x, 1) for x in shape), dynamic))
        return specs

    def default_feeds(self) -> dict[str, np.ndarray] | None:
        return self._feeds

    def op_count(self) -> int | None:
        ops = getattr(self._plain, "_get_ops_details", None)
        return len(ops()) if ops is not None else None

    def graph(self) -> GraphView | None:
        """Subgraph 0 from the interpreter's own op list (``Interpreter._get_ops_details``:
        TFLite's Python API has no public graph view)."""
        ops_details = getattr(self._plain, "_get_ops_details", None)
        if ops_details is None:
            return None
        names = {d["index"]: d["name"] or f"t{d['index']}" for d in self._plain.get_tensor_details()}

        def tensor(i: int) -> str:
            return f"{names.get(int(i), 't')}#{int(i)}"

        nodes = [GraphNode(int(d["index"]), f"{d['op_name']}#{d['index']}", str(d["op_name"]),
                           [tensor(i) for i in d["inputs"] if int(i) >= 0], [tensor(i) for i in d["outputs"]])
                 for d in ops_details()]
        inputs = [tensor(d["index"]) for d in self._plain.get_input_details()]
        outputs = [tensor(d["index"]) for d in self._plain.get_output_details()]
        labels = {tensor(i): names.get(int(i), "") for i in names}
        return GraphView(nodes, inputs, outputs, self.label, labels).without_constants()

    # -- runners -------------------------------------------------------------------------------
    def host_runner(self, device: str = "cpu") -> _InterpreterRunner:
        return _InterpreterRunner(self.interpreter(), self.ui, self.output_names)

    def webnn_runner(self, settings: WebNNSettings) -> _WebNNRunner:
        return _WebNNRunner(self, settings)

    def warm_up(self, settings: WebNNSettings) -> None:
        """One-time process set-up: a delegate on this model with the cache off, prepared
        (claims, converts, compiles) but not run."""
        quiet = WebNNSettings(settings.device, False)
        runner = _WebNNRunner(self, quiet)
        runner.allocate(self._feeds)


class _InterpreterRunner:
    """set_tensor / invoke / get_tensor on one interpreter, resizing inputs when asked.
    Allocation and the first invoke run with native logging silenced (XNNPACK announces itself)."""

    def __init__(self, interpreter: Any, ui: Any, names: dict[str, str] | None = None) -> None:
        self.interpreter = interpreter
        self.ui = ui
        self.names = names or {}
        self.allocated = False
        self.invoked = False

    def allocate(self, feeds: Mapping[str, np.ndarray] | None = None) -> None:
        it = self.interpreter
        if feeds:
            for d in it.get_input_details():
                value = feeds.get(d["name"])
                if value is not None and tuple(value.shape) != tuple(d["shape"]):
                    it.resize_tensor_input(d["index"], list(value.shape), strict=True)
        with self.ui.native_quiet():
            it.allocate_tensors()
        self.allocated = True

    def run(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        it = self.interpreter
        if not self.allocated:
            self.allocate(feeds)
        for d in it.get_input_details():
            it.set_tensor(d["index"], feeds[d["name"]])
        if self.invoked:
            it.invoke()
        else:
            with self.ui.native_quiet():
                it.invoke()
            self.invoked = True
        return [(self.names.get(d["name"], d["name"]), it.get_tensor(d["index"]).copy())
                for d in it.get_output_details()]


class _WebNNRunner(_InterpreterRunner):
    """The interpreter with the WebNN delegate; Prepare (at ``allocate_tensors``) claims,
    converts and compiles the partitions, or loads them from the graph cache."""

    ran_to_prepare = False

    def __init__(self, host: TFLiteHost, settings: WebNNSettings) -> None:
        from webnn.integrations.tflite import load_delegate

        self.host = host
        self.context = settings.context()
        self.delegate = load_delegate(context=self.context, cache=settings.cache)
        super().__init__(host.interpreter([self.delegate]), host.ui, host.output_names)

    def prepare(self, feeds: Mapping[str, np.ndarray]) -> None:
        self.allocate(feeds)

    def placement(self) -> Placement:
        return from_tflite(self.delegate.placement_report(), self.context.device, self.host.op_count())

    def cache_counters(self) -> dict[str, Any]:
        return self.context.cache_stats()
