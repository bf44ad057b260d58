"""``Compile`` and the per-call compute of one fused node.

A :class:`PartitionKernel` is what ORT calls for one fused group. It keeps one entry
per input signature (element types and shapes): the MLGraph built by
``GetCapability`` for a static model, or one converted the first time a signature
arrives (dynamic dimensions), from the graph cache when it is there. Per call the
shim hands :meth:`PartitionKernel.compute` ORT's input buffers as memoryviews (no
copy); the MLGraph runs on them and each result is written once, straight into the
output buffer ORT allocates (``KernelIO.output``).

When a signature that arrives later cannot be converted (a dimension the converters
refuse, a zero-size tensor), the group runs on a real ONNX Runtime CPU session over
its own nodes, and the reason is kept in :attr:`PartitionKernel.fallbacks`: a
node ORT gave us is never silently dropped, and the run never fails for that.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ConversionError
from ..model import LoadedModel
from ..specialize import specialize
from .capability import EP_NAME, GroupBuilder, Prepared, fed_types, node_reasons
from .graph import OrtGraphModel, ValueInfo, numpy_dtype_of

BOOL = 9  # ONNX TensorProto.BOOL


class KernelError(RuntimeError):
    """A fused node could not run; ORT reports it as the run's error."""

    ort_code = 1  # ORT_FAIL


class _WebNNEntry:
    def __init__(self, context: Any, prepared: Prepared, input_names: Sequence[str],
                 output_names: Sequence[str], output_types: Sequence[int]) -> None:
        self.context = context
        self.prepared = prepared
        where = {name: k for k, name in enumerate(input_names)}
        missing = [n for n in prepared.inputs if n not in where]
        if missing:
            raise KernelError(f"the compiled graph reads {missing}, which are not inputs of the fused node")
        self.feed = [(name, where[name]) for name in prepared.inputs]
        self.outputs = list(zip(output_names, output_types))
        unknown = [n for n in output_names if n not in prepared.outputs and n not in prepared.constants]
        if unknown:
            raise KernelError(f"the compiled graph does not produce {unknown}")

    def run(self, io: Any, arrays: Sequence[np.ndarray | None]) -> None:
        results: dict[str, np.ndarray] = {}
        if self.prepared.graph is not None:
            feeds = {}
            for name, k in self.feed:
                value = arrays[k]
                feeds[name] = value.view(np.uint8) if value.dtype == np.bool_ else value
            results = self.context.compute(self.prepared.graph, feeds)
        for k, (name, elem) in enumerate(self.outputs):
            value = self.prepared.constants.get(name)
            if value is None:
                value = results[name]
            _write(io, k, elem, value)


class _OrtEntry:
    """The group's own nodes on an ONNX Runtime CPU session (a signature WebNN cannot take)."""

    def __init__(self, session: Any, input_names: Sequence[str], output_names: Sequence[str],
                 output_types: Sequence[int], reason: str) -> None:
        self.session = session
        self.input_names = list(input_names)
        self.outputs = list(zip(output_names, output_types))
        self.reason = reason

    def run(self, io: Any, arrays: Sequence[np.ndarray | None]) -> None:
        feeds = {name: a for name, a in zip(self.input_names, arrays) if a is not None}
        results = self.session.run([n for n, _ in self.outputs], feeds)
        for k, ((_, elem), value) in enumerate(zip(self.outputs, results)):
            _write(io, k, elem, value)


def _write(io: Any, index: int, elem: int, value: np.ndarray) -> None:
    value = np.asarray(value)
    out_elem, view = io.output(index, value.shape)
    dst = np.frombuffer(view, dtype=numpy_dtype_of(out_elem)).reshape(value.shape)
    if dst.dtype == np.bool_ and value.dtype != np.bool_:
        value = value.view(np.bool_) if value.dtype == np.uint8 else value.astype(np.bool_)
    np.copyto(dst, value, casting="unsafe" if dst.dtype != value.dtype else "no")


class PartitionKernel:
    """One fused node: its entries per input signature, and how each was obtained."""

    def __init__(self, ep: Any, gm: OrtGraphModel | Callable[[], OrtGraphModel] | None, fused: dict[str, Any],
                 prebuilt: Prepared | None, node_ids: tuple[int, ...]) -> None:
        """``gm``: the group's ONNX model, or a function making it when first needed (a
        signature to convert, or ORT's fallback session)."""
        self.ep = ep
        self._gm = gm
        self.name = fused.get("name", "")
        self.node_ids = node_ids
        self.input_infos: list[ValueInfo] = list(fused["inputs"])
        self.input_names = [vi[0] for vi in self.input_infos]
        self.output_names = [vi[0] for vi in fused["outputs"]]
        self.output_types = [vi[2] for vi in fused["outputs"]]
        self.entries: dict[tuple[Any, ...], Any] = {}
        self.fallbacks: dict[tuple[Any, ...], str] = {}
        self.cache: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()
        self.calls = 0
        if prebuilt is not None:
            static = self._static_signature()
            if static is not None:
                self.entries[static] = _WebNNEntry(ep.context, prebuilt, self.input_names, self.output_names,
                                                   self.output_types)
                self.cache[static] = prebuilt.cache

    @property
    def gm(self) -> OrtGraphModel | None:
        if callable(self._gm):
            self._gm = self._gm()
        return self._gm

    def _static_signature(self) -> tuple[Any, ...] | None:
        sig = []
        for _name, is_tensor, elem, shape in self.input_infos:
            if not is_tensor or shape is None or any(not isinstance(d, int) or d < 0 for d in shape):
                return None
            sig.append((elem, tuple(shape)))
        return tuple(sig)

    # -- called by the shim ----------------------------------------------------------------
    def compute(self, io: Any) -> None:
        self.calls += 1
        ins = io.inputs()
        arrays: list[np.ndarray | None] = []
        sig = []
        for item in ins:
            if item is None:
                arrays.append(None)
                sig.append(None)
                continue
            elem, shape, view = item
            arrays.append(np.frombuffer(view, dtype=numpy_dtype_of(elem)).reshape(shape))
            sig.append((elem, tuple(shape)))
        key = tuple(sig)
        entry = self.entries.get(key)
        if entry is None:
            with self._lock:
                entry = self.entries.get(key)
                if entry is None:
                    entry = self._prepare(key)
                    self.entries[key] = entry
        entry.run(io, arrays)

    def release(self) -> None:
        self.entries.clear()

    # -- a new signature -----------------------------------------------------------------
    def _prepare(self, key: tuple[Any, ...]) -> Any:
        if self.gm is None:
            raise KernelError(f"{self.name}: no graph kept for input signature {key}")
        shapes = {name: s[1] for name, s in zip(self.input_names, key) if s is not None}
        try:
            return self._prepare_webnn(shapes, key)
        except (ConversionError, _Unsupported) as exc:
            reason = exc.reason if isinstance(exc, ConversionError) else str(exc)
        warnings.warn(f"{EP_NAME}: fused node {self.name!r} runs on ONNX Runtime's CPU provider for input shapes "
                      f"{list(shapes.values())}: {reason}", RuntimeWarning, stacklevel=2)
        self.fallbacks[key] = reason
        return self._prepare_ort(reason)

    def _prepare_webnn(self, shapes: dict[str, tuple[int, ...]], key: tuple[Any, ...]) -> _WebNNEntry:
        assert self.gm is not None
        loaded = LoadedModel(self.gm.proto, self.gm.digest, None)
        signature, types, guessed = fed_types(self.gm.runtime_inputs, shapes)
        if guessed:
            raise _Unsupported("an input of the group has no known rank")
        spec = specialize(loaded, signature, types)
        reasons = node_reasons(self.ep.query, spec)
        bad = {i: r for i, r in reasons.items() if r is not None}
        if bad:
            i, r = next(iter(bad.items()))
            raise _Unsupported(f"node {self.gm.records[i].name} ({self.gm.records[i].op_type}): {r}")
        builder = GroupBuilder(self.ep.context, self.ep.options, self.gm.digest)
        prepared = builder.build(spec, list(range(len(self.gm.records))), self.output_names, self.node_ids)
        self.cache[key] = prepared.cache
        return _WebNNEntry(self.ep.context, prepared, self.input_names, self.output_names, self.output_types)

    def _prepare_ort(self, reason: str) -> _OrtEntry:
        import onnxruntime as ort

        assert self.gm is not None
        so = ort.SessionOptions()
        so.log_severity_level = 3
        session = ort.InferenceSession(self.gm.proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return _OrtEntry(session, self.input_names, self.output_names, self.output_types, reason)


class _Unsupported(Exception):
    pass
