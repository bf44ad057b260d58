"""ONNX models: ORT's CPU provider as the host path, ``webnn.integrations.onnx.InferenceSession``
(WebNN provider first, ORT's CPU provider for the rest) as the WebNN path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._errors import CLIError, one_line
from ._graph import GraphNode, GraphView
from ._host import Outputs, WebNNSettings, need
from ._placement import Placement, from_onnx
from ._tensors import TensorSpec


class OnnxHost:
    """An ONNX model from a path or bytes."""

    framework = "onnx"
    host_name = "ONNX Runtime"

    def __init__(self, source: str | bytes, label: str, ui: Any, feeds: dict[str, np.ndarray] | None = None) -> None:
        need("onnx", "running .onnx models", "onnx")
        need("onnxruntime", "running .onnx models", "onnx")
        import onnx

        self.source = source
        self.label = label
        self._feeds = feeds
        try:
            if isinstance(source, bytes):
                model = onnx.load_from_string(source)
            else:
                model = onnx.load(source, load_external_data=False)
        except Exception as exc:
            raise CLIError(f"{label}: not a readable ONNX model ({one_line(exc)})") from None
        if not model.graph.node and not model.graph.output:
            raise CLIError(f"{label}: not an ONNX model (no graph in the file)")
        self.model = model

    # -- what the model needs ----------------------------------------------------------------
    def input_specs(self) -> list[TensorSpec]:
        from onnx import helper

        inits = {t.name for t in self.model.graph.initializer}
        specs = []
        for v in self.model.graph.input:
            if v.name in inits:
                continue
            if v.type.WhichOneof("value") != "tensor_type":
                raise CLIError(f"{self.label}: input {v.name!r} is not a tensor ({v.type.WhichOneof('value')}); "
                               "the command line feeds tensors only")
            tt = v.type.tensor_type
            try:
                dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
            except Exception:
                raise CLIError(f"{self.label}: input {v.name!r} has element type {tt.elem_type}, which numpy "
                               "cannot hold") from None
            if not tt.HasField("shape"):
                raise CLIError(f"{self.label}: input {v.name!r} declares no shape; the command line cannot "
                               "make one up")
            dims, dynamic = [], []
            for i, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(int(d.dim_value))
                else:
                    dims.append(1)
                    dynamic.append(i)
            specs.append(TensorSpec(v.name, dtype, tuple(dims), tuple(dynamic)))
        return specs

    def default_feeds(self) -> dict[str, np.ndarray] | None:
        return self._feeds

    def graph(self) -> GraphView:
        g = self.model.graph
        inits = {t.name for t in g.initializer}
        nodes = []
        for i, n in enumerate(g.node):
            op = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            nodes.append(GraphNode(i, n.name or f"{n.op_type}_{i}", op, [t for t in n.input if t],
                                   [t for t in n.output if t]))
        inputs = [v.name for v in g.input if v.name not in inits]
        return GraphView(nodes, inputs, [v.name for v in g.output], self.label).without_constants()

    # -- runners -------------------------------------------------------------------------------
    def host_runner(self, device: str = "cpu") -> _OrtRunner:
        import onnxruntime as ort

        return _OrtRunner(ort.InferenceSession(self.source, providers=["CPUExecutionProvider"]))

    def webnn_runner(self, settings: WebNNSettings) -> _WebNNRunner:
        return _WebNNRunner(self, settings)

    def warm_up(self, settings: WebNNSettings) -> None:
        """One-time process set-up (imports, ORT's first session, WebNN's lowerings) on a
        one-node model with the cache off, so first-result times measure this model only."""
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("TopK", ["r", "k"],
                                   ["y", "i"], axis=-1)], "warm_up", [x], [y],
                                  [helper.make_tensor("k", TensorProto.INT64, [1], [2])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        quiet = WebNNSettings(settings.device, False)
        _WebNNRunner(OnnxHost(model.SerializeToString(), "warm-up", None), quiet).run(
            {"x": np.ones((2, 2), np.float32)})


class _OrtRunner:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.names = [o.name for o in session.get_outputs()]

    def run(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        return list(zip(self.names, self.session.run(None, dict(feeds))))


class _WebNNRunner:
    """A WebNN ``InferenceSession`` on a context made from the settings (so every device
    word works and the cache counters can be read back)."""

    ran_to_prepare = False

    def __init__(self, host: OnnxHost, settings: WebNNSettings) -> None:
        from webnn.integrations.onnx import PROVIDER, InferenceSession

        self.provider = PROVIDER
        self.context = settings.context()
        options = {"context": self.context, "cache": settings.cache}
        self.session = InferenceSession(host.source, providers=[(PROVIDER, options), "CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]
        self._shapes: dict[str, tuple[int, ...]] | None = None

    def prepare(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Build the plan for these input shapes (convert, compile or load) without running."""
        self._shapes = {k: tuple(np.shape(v)) for k, v in feeds.items()}
        self.session.placement(self._shapes)

    def run(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        return list(zip(self.names, self.session.run(None, dict(feeds))))

    def placement(self) -> Placement:
        return from_onnx(self.session.placement(), self.context.device, self.provider)

    def cache_counters(self) -> dict[str, Any]:
        return self.context.cache_stats()
