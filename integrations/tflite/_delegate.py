"""The WebNN delegate: claims TFLite nodes at Prepare, compiles partitions, caches them.

Prepare (once per subgraph, and again when a resize re-applies delegates):

1. refuse cleanly, claiming nothing, when the struct layout or the runtime version is
   not the pinned one, or the model flatbuffer cannot be found or does not match the
   runtime's own nodes and tensors (``_layout``);
2. ask the converter registry (with ``op_support_limits()``) about every node;
3. cut the supported nodes into convex groups (``webnn.partition``); a group whose
   compiled graph is in memory or in the graph cache (loaded now, kept for the kernel)
   converted before and is claimed as it is; any other group is converted once without
   compiling, dropping a node whose converter fails and trying again, so the claim
   only holds nodes that convert (the kernel compiles that conversion, not a new one);
4. hand the claim to ``ReplaceNodeSubsetsWithDelegateKernels``; the runtime forms its
   partitions and calls ``init`` for each, which makes a :class:`PartitionKernel`.

Compiled graphs are shared by every kernel of this delegate (a dict keyed by the cache
key) and saved in the context's graph cache, so a second interpreter or process on the
same model skips conversion and compilation. The key (:func:`partition_key`) is made of
the model's digest (every weight, attribute and declared shape), the subgraph, the node
subset, the runtime input signature, the device and the converter version.
"""

from __future__ import annotations

import ctypes
import threading
import time
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

from webnn import MLContext, NotFoundError, QuotaExceededError
from webnn.cache.keys import graph_cache_key
from webnn.converters import SupportQuery
from webnn.partition import partition_graph

from . import _build, _callbacks
from . import _capi as C
from ._kernel import PartitionKernel
from ._layout import match_subgraph, read_graph
from ._model import Model, Subgraph, load_model, load_model_file
from ._runtime import find_caller, layout_refusal
from .converters import REGISTRY, webnn_type
from .report import NodePlacement, PartitionInfo, SubgraphReport

#: Reports kept per delegate (oldest dropped first).
MAX_REPORTS = 64


class _Preparing:
    """What Prepare learned about one context, for the ``init`` calls it triggers."""

    def __init__(self, model: Model, sub: Subgraph, report: SubgraphReport) -> None:
        self.model = model
        self.sub = sub
        self.report = report


class WebNNDelegate:
    """A TFLite delegate that runs the nodes it can on WebNN (see :func:`load_delegate`)."""

    def __init__(self, context: MLContext, *, cache: bool = True, min_partition_size: int = 1,
                 model: bytes | str | None = None, report: bool = False) -> None:
        problem = C.layout_problem()
        if problem:
            from webnn import NotSupportedError

            raise NotSupportedError(f"webnn tflite delegate: {problem}")
        self.context = context
        self.cache = bool(cache) and bool(getattr(context, "cache_enabled", False))
        self.min_partition_size = int(min_partition_size)
        self.echo = bool(report)
        self._model_hint: bytes | None = None
        if isinstance(model, (bytes, bytearray, memoryview)):
            self._model_hint = bytes(model)
        elif model is not None:
            with open(model, "rb") as fh:
                self._model_hint = fh.read()
        self._lock = threading.RLock()
        self._graphs: dict[str, Any] = {}
        #: Partitions Prepare converted, by cache key, for their kernels to compile (each is
        #: taken once; a new Prepare of the same subgraph drops the ones it supersedes).
        self._converted: dict[str, tuple[tuple[str, int], _build.Converted]] = {}
        #: Keys of graphs loaded from the cache at Prepare and not yet handed to a kernel
        #: -> seconds the load took (the kernel reports them as a cache hit).
        self._loaded_at_prepare: dict[str, float] = {}
        self._preparing: dict[int, _Preparing] = {}
        self._reports: dict[tuple[int, int | None], SubgraphReport] = {}
        self._models: weakref.WeakKeyDictionary[Any, Model] = weakref.WeakKeyDictionary()
        self._query = SupportQuery(context.op_support_limits())
        self._registration = _callbacks.registration()
        self._struct = _callbacks.register_delegate(self)

    # -- what TFLite's Python API asks for ----------------------------------------------
    def _get_native_delegate_pointer(self) -> int:
        """The ``TfLiteDelegate*`` (the interpreter only needs this address)."""
        return ctypes.addressof(self._struct)

    def placement_report(self) -> list[SubgraphReport]:
        """Where the nodes ran, per (interpreter, subgraph) this delegate prepared."""
        with self._lock:
            return list(self._reports.values())

    def format_report(self) -> str:
        return "\n".join(r.format() for r in self.placement_report())

    # -- Prepare ---------------------------------------------------------------------------
    def prepare(self, ctxp: Any, delegatep: Any) -> int:
        caller = find_caller()
        ctx_addr = ctypes.addressof(ctxp.contents)
        runtime = str(caller.runtime) if caller.runtime else "unknown runtime"
        report = SubgraphReport(id(caller.interpreter) if caller.interpreter is not None else ctx_addr, runtime,
                                None, None, self.context.device)
        refusal = layout_refusal(caller.runtime)
        model = None
        if refusal is None:
            model, refusal = self._find_model(caller)
        if refusal is None:
            assert model is not None
            report.model_digest = model.digest
            nodes, tensors, refusal = read_graph(ctxp)
            if refusal is None:
                sub, why = match_subgraph(model, nodes, tensors)
                if sub is None:
                    refusal = f"the model found does not match the runtime's graph ({why})"
                else:
                    report.subgraph = sub.index
                    claim = self._claim(model, sub, nodes, tensors, report)
                    if claim:
                        status = self._replace(ctxp, delegatep, ctx_addr, model, sub, claim, report)
                        self._remember(report)
                        return status
        if refusal is not None:
            report.refused = refusal
        self._remember(report)
        return C.K_OK

    def _find_model(self, caller: Any) -> tuple[Model | None, str | None]:
        data = caller.model_bytes
        if data is None and caller.model_path is None and caller.interpreter is not None:
            with self._lock:
                known = self._models.get(caller.interpreter)
            if known is not None and known.truncated():
                return None, "the model file shrank on disk after it was mapped"
            if known is not None:
                return known, None
        if data is None and caller.model_path is None:
            data = self._model_hint
        if data is None and caller.model_path is None:
            return None, ("the model's flatbuffer was not found (no calling TFLite Interpreter on the Python "
                          "stack); pass model= to load_delegate")
        try:
            model = load_model(data) if data is not None else load_model_file(str(caller.model_path))
        except (ValueError, OSError) as exc:
            return None, f"the model flatbuffer cannot be read: {exc}"
        if caller.interpreter is not None:
            try:
                with self._lock:
                    self._models[caller.interpreter] = model
            except TypeError:  # not weak-referenceable
                pass
        return model, None

    def _why_not(self, sub: Subgraph, index: int) -> str | None:
        op = sub.ops[index]
        for t in [*op.inputs, *op.outputs]:
            if t < 0:
                continue
            tensor = sub.tensors[t]
            if tensor.is_variable:
                return f"tensor {tensor.name!r} is a variable"
            if webnn_type(tensor) is None:
                return f"tensor {tensor.name!r} is {tensor.type_name}, which WebNN cannot carry"
        return REGISTRY.why_not(op.name, self._query, op, sub)

    def _claim(self, model: Model, sub: Subgraph, nodes: Sequence[Any], tensors: Sequence[Any],
               report: SubgraphReport) -> list[int]:
        """The node indices to claim, filling ``report.nodes``."""
        candidates = [n for n in nodes if n.index < len(sub.ops) and not n.delegated]
        with self._lock:
            self._converted = {k: v for k, v in self._converted.items() if v[0] != (model.digest, sub.index)}
        reasons: dict[int, str | None] = {n.index: self._why_not(sub, n.index) for n in candidates}
        shapes = {t.index: t.dims for t in tensors}
        outputs_of_graph = set(sub.outputs)
        for _ in range(len(candidates) + 1):
            parts = partition_graph(
                [n.index for n in candidates],
                inputs_of=lambda i: [t for t in sub.ops[i].inputs if t >= 0],
                outputs_of=lambda i: list(sub.ops[i].outputs),
                is_supported=lambda i: reasons[i] is None,
                graph_outputs=outputs_of_graph, min_size=self.min_partition_size)
            failed = False
            for p in parts:
                if not p.supported:
                    continue
                members = [candidates[k].index for k in p.nodes]
                outs = [t for t in p.outputs]
                try:
                    signature = _build.partition_signature(sub, members, shapes, outs)
                    if self._compiled_before(model, sub, members, signature):
                        continue  # built from exactly these nodes before: they convert
                    report.trial_conversions += 1
                    converted = _build.trial(self.context, sub, members, signature)
                    with self._lock:
                        self._converted[self.cache_key(model, sub, members, signature)] = (
                            (model.digest, sub.index), converted)
                except _build.ConversionError as exc:
                    reasons[exc.node if exc.node in reasons else members[0]] = f"conversion failed: {exc}"
                    failed = True
                    break
            if not failed:
                break
        claimed = []
        part_of = {}
        for pi, p in enumerate(q for q in parts if q.supported):
            for k in p.nodes:
                part_of[candidates[k].index] = pi
        for n in candidates:
            op = sub.ops[n.index]
            if n.index in part_of:
                claimed.append(n.index)
                report.nodes.append(NodePlacement(n.index, op.name, "webnn", None, part_of[n.index]))
            else:
                why = reasons[n.index] or f"partition smaller than min_partition_size={self.min_partition_size}"
                report.nodes.append(NodePlacement(n.index, op.name, "tflite", why))
        return claimed

    def _replace(self, ctxp: Any, delegatep: Any, ctx_addr: int, model: Model, sub: Subgraph,
                 claim: list[int], report: SubgraphReport) -> int:
        array = (ctypes.c_int * (len(claim) + 1))(len(claim), *claim)
        with self._lock:
            self._preparing[ctx_addr] = _Preparing(model, sub, report)
        try:
            return ctxp.contents.ReplaceNodeSubsetsWithDelegateKernels(
                ctxp, self._registration, ctypes.addressof(array), delegatep)
        finally:
            with self._lock:
                self._preparing.pop(ctx_addr, None)

    def _remember(self, report: SubgraphReport) -> None:
        with self._lock:
            key = (report.interpreter, report.subgraph)
            self._reports.pop(key, None)  # newest last, also when an id is reused
            self._reports[key] = report
            while len(self._reports) > MAX_REPORTS:
                self._reports.pop(next(iter(self._reports)))
        if self.echo:
            import sys

            print(report.format(), file=sys.stderr, flush=True)

    # -- kernels -----------------------------------------------------------------------------
    def create_kernel(self, ctxp: Any, params: C.TfLiteDelegateParams) -> PartitionKernel:
        with self._lock:
            state = self._preparing.get(ctypes.addressof(ctxp.contents))
        if state is None:
            raise RuntimeError("kernel init outside the delegate's Prepare")
        nodes = tuple(C.int_array(params.nodes_to_replace or 0))
        outputs = tuple(C.int_array(params.output_tensors or 0))
        inputs = tuple(C.int_array(params.input_tensors or 0))
        info = PartitionInfo(nodes, inputs, outputs, "pending" if self.cache else "off")
        state.report.partitions.append(info)
        return PartitionKernel(self, state.model, state.sub, nodes, outputs, info)

    def cache_key(self, model: Model, sub: Subgraph, nodes: Sequence[int], signature: _build.Signature) -> str:
        return partition_key(model.digest, sub.index, nodes, signature, self.context.device)

    def _load_cached(self, key: str) -> Any:
        """The graph saved under ``key`` in the graph cache, or None (missing, stale, or
        a cache that cannot be read: that warns and the partition is rebuilt)."""
        if not self.cache:
            return None
        try:
            return self.context.load_graph(key)
        except NotFoundError:
            return None
        except Exception as exc:  # a broken cache must not stop inference
            warnings.warn(f"webnn tflite: graph cache load failed ({type(exc).__name__}: {exc}); rebuilding",
                          RuntimeWarning, stacklevel=3)
            return None

    def _compiled_before(self, model: Model, sub: Subgraph, nodes: Sequence[int],
                         signature: _build.Signature) -> bool:
        """Whether this node subset's graph for ``signature`` is in memory or in the graph
        cache; a cached one is loaded now and kept for the kernel (Prepare then needs no
        trial conversion: the key names the model digest and the converter version, so
        the same nodes converted when it was saved)."""
        key = self.cache_key(model, sub, nodes, signature)
        with self._lock:
            if key in self._graphs:
                return True
        start = time.perf_counter()
        graph = self._load_cached(key)
        if graph is None:
            return False
        with self._lock:
            self._graphs[key] = graph
            self._loaded_at_prepare[key] = time.perf_counter() - start
        return True

    def graph_for(self, model: Model, sub: Subgraph, nodes: Sequence[int], signature: _build.Signature,
                  info: PartitionInfo) -> Any:
        """The compiled graph of a partition: from memory, the graph cache, or a build."""
        key = self.cache_key(model, sub, nodes, signature)
        info.key = key
        with self._lock:
            graph = self._graphs.get(key)
            loaded = self._loaded_at_prepare.pop(key, None)
        if graph is not None:
            if loaded is not None:  # loaded from the cache by this Prepare
                info.cache, info.build_seconds = "hit", loaded
            else:
                info.cache = "memory"
            return graph
        start = time.perf_counter()
        graph = self._load_cached(key)
        if graph is not None:
            info.cache = "hit"
        else:
            with self._lock:
                converted = self._converted.pop(key, (None, None))[1]
            if converted is not None:  # Prepare's trial conversion of exactly this partition
                graph = converted.build()
            elif model.truncated():
                raise RuntimeError("the model file shrank on disk after it was mapped; its weights cannot be "
                                   "read to convert this partition")
            else:
                graph = _build.build(self.context, sub, nodes, signature)
                info.conversions += 1
            info.builds += 1
            info.cache = "off"
            if self.cache and not model.unchanged():
                info.cache = "unsaved"
                warnings.warn("webnn tflite: graph not cached: the model file changed on disk after it was "
                              "mapped", RuntimeWarning, stacklevel=2)
            elif self.cache:
                try:
                    self.context.save_graph(key, graph)
                    info.cache = "miss"
                except QuotaExceededError as exc:
                    info.cache = "unsaved"
                    warnings.warn(f"webnn tflite: graph not cached: {exc}", RuntimeWarning, stacklevel=2)
        info.build_seconds = time.perf_counter() - start
        with self._lock:
            self._graphs[key] = graph
        return graph

    def __repr__(self) -> str:
        return f"WebNNDelegate(device={self.context.device!r}, cache={self.cache})"


#: Bumped when a converter changes what it emits, so stale cached graphs are not reused.
_CONVERTER_VERSION = 1


def partition_key(model_digest: str, subgraph: int, nodes: Sequence[int], signature: _build.Signature,
                  device: str) -> str:
    """The graph cache key of one partition: the model's digest (all weights, attributes
    and declared shapes), the subgraph, the node subset, the runtime input signature
    (tensor, data type, shape), the outputs handed back, the device and the converter
    version (``graph_cache_key`` adds the webnn and IR versions). Nodes, inputs and
    outputs are sorted: the same subset keys the same whether it comes from this
    Prepare's partitioning or from the runtime's ``nodes_to_replace``."""
    return graph_cache_key("tflite", {
        "model": model_digest, "subgraph": int(subgraph), "nodes": sorted(int(n) for n in nodes),
        "inputs": sorted([int(t), str(dt), [int(d) for d in shape]] for t, dt, shape in signature.inputs),
        "outputs": sorted(int(t) for t in signature.outputs), "device": str(device),
        "converters": _CONVERTER_VERSION,
    })
