"""ML, MLContext and MLGraph: choosing a device, building, dispatching, caching."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .backends import Backend, Executable, create_backend, resolve_device
from .cache.remote_config import FROM_ENVIRONMENT
from .dtypes import numpy_dtype
from .errors import InvalidStateError, NotSupportedError, OperationError
from .graph import Graph
from .operand import MLOperandDescriptor
from .tensor import MLTensor

POWER_PREFERENCES = ("default", "high-performance", "low-power")
#: Origin (cache partition) used when ``create_context`` is given none.
DEFAULT_ORIGIN = "default"


class MLGraph:
    """A compiled graph bound to its context (spec: ``MLGraph``).

    ``inputs`` and ``outputs`` map names to descriptors (cache explainer), so a caller
    holding only a cache key can feed a loaded graph.
    """

    def __init__(self, context: MLContext, ir: Graph, executable: Executable) -> None:
        self._context = context
        self._ir = ir
        self._executable = executable
        self._destroyed = False
        self.inputs: dict[str, MLOperandDescriptor] = {n: ir.descs[i] for n, i in ir.inputs.items()}
        self.outputs: dict[str, MLOperandDescriptor] = {n: ir.descs[i] for n, i in ir.outputs.items()}
        self._input_order = executable.input_names
        self._output_order = executable.output_names
        #: Set after the first run (the graph cache defers a remote hit's local copy to it).
        self._first_run_gate: threading.Event | None = None

    def _ran(self) -> None:
        gate, self._first_run_gate = self._first_run_gate, None
        if gate is not None:
            gate.set()

    @property
    def context(self) -> MLContext:
        return self._context

    @property
    def ir(self) -> Graph:
        """The optimised IR this graph runs (read-only use)."""
        return self._ir

    def destroy(self) -> None:
        """Release the compiled graph (spec: ``MLGraph.destroy``); idempotent."""
        self._destroyed = True
        self._ran()  # nothing more to wait for

    def __repr__(self) -> str:
        ins = {n: (d.data_type, list(d.shape)) for n, d in self.inputs.items()}
        outs = {n: (d.data_type, list(d.shape)) for n, d in self.outputs.items()}
        return f"MLGraph(device={self._context.device!r}, inputs={ins}, outputs={outs})"


class MLContext:
    """Where graphs are compiled and run (spec: ``MLContext``).

    Create one with :meth:`ML.create_context`. ``device`` says what was picked
    ("cpu" or "cuda:N"); it also partitions the graph cache.
    """

    def __init__(self, device: str, power_preference: str, origin: str,
                 cache_dir: str | os.PathLike[str] | None, cache: bool,
                 cache_quota: int | None, backend: str = "torch") -> None:
        self._backend: Backend = create_backend(backend, device)
        self.device: str = self._backend.device
        self.power_preference = power_preference
        self.origin = origin
        self._cache_dir = cache_dir
        self._cache_enabled = cache
        self._cache_quota = cache_quota
        self._cache_remote: Any = None  # webnn.cache.RemoteOptions of the remote tier, set by create_context
        self._store: Any = None
        self._store_lock = threading.Lock()
        self._destroyed = False
        if cache:
            # The store opens on first use, but its code loads with the context, as the
            # backend's lowerings do: the first load_graph then only reads and wraps.
            from .cache import facade  # noqa: F401

    # -- state -------------------------------------------------------------------------
    @property
    def device_kind(self) -> str:
        """"cpu" or "cuda": the cache partition a compiled graph belongs to."""
        return self.device.split(":")[0]

    @property
    def accelerated(self) -> bool:
        """Spec: ``MLContext.accelerated`` (true when running on a GPU)."""
        return self.device_kind != "cpu"

    def _check_alive(self, what: str) -> None:
        if self._destroyed:
            raise InvalidStateError(f"{what}: the MLContext has been destroyed")

    def destroy(self) -> None:
        """Release the context (spec: ``MLContext.destroy``); idempotent."""
        self._destroyed = True
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _sync(self) -> None:
        self._backend.synchronize()

    # -- building --------------------------------------------------------------------
    def _build_graph(self, ir: Graph) -> MLGraph:
        from .passes import optimize

        ir = optimize(ir, self._backend)
        try:
            executable = self._backend.compile(ir)
        except (TypeError, InvalidStateError):
            raise
        except Exception as exc:  # a backend failure is the spec's OperationError
            raise OperationError(f"build: the {self._backend.name} backend failed to compile: {exc}") from exc
        return MLGraph(self, ir, executable)

    def op_support_limits(self) -> dict[str, Any]:
        """What this context can run, in the spec's ``MLOpSupportLimits`` shape.

        Derived from the op registry's spec limits intersected with what this
        context's backend lowers (spec: ``MLContext.opSupportLimits``).
        """
        from .support import op_support_limits

        return op_support_limits(self._backend)

    # -- tensors ----------------------------------------------------------------------
    def create_tensor(self, descriptor: MLOperandDescriptor | Mapping[str, Any], *,
                      readable: bool | None = None, writable: bool | None = None) -> MLTensor:
        """A zero-filled tensor on this context's device (spec: ``MLContext.createTensor``).

        ``readable``/``writable`` may also come in a descriptor dict, as in the spec's
        ``MLTensorDescriptor``.
        """
        self._check_alive("create_tensor")
        if isinstance(descriptor, Mapping):
            readable = bool(descriptor.get("readable", False)) if readable is None else readable
            writable = bool(descriptor.get("writable", False)) if writable is None else writable
        desc = MLOperandDescriptor.coerce(descriptor, "create_tensor")
        return MLTensor(self, desc, self._backend.alloc(desc), bool(readable), bool(writable))

    def write_tensor(self, tensor: MLTensor, data: Any) -> None:
        """Copy ``data`` (bytes or an array of the tensor's size) into ``tensor``
        (spec: ``MLContext.writeTensor``); queued in device order."""
        self._check_alive("write_tensor")
        self._own_tensor("write_tensor", tensor)
        buffer = tensor._alive("write_tensor")
        if not tensor.writable:
            raise TypeError("write_tensor: the MLTensor was not created with writable=True")
        desc = tensor.descriptor
        if isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
            if len(raw) != desc.byte_length:
                raise TypeError(f"write_tensor: data has {len(raw)} bytes, the tensor needs {desc.byte_length}")
            if desc.data_type in ("int4", "uint4"):
                from .dtypes import unpack_int4

                array = unpack_int4(raw, desc.size, desc.data_type == "int4").reshape(desc.shape)
            else:
                array = np.frombuffer(raw, dtype=numpy_dtype(desc.data_type)).reshape(desc.shape)
        else:
            array = np.asarray(data)
            if array.size != desc.size:
                raise TypeError(f"write_tensor: data has {array.size} elements, the tensor "
                                f"{desc.data_type} {list(desc.shape)} needs {desc.size}")
            array = array.reshape(desc.shape).astype(numpy_dtype(desc.data_type), copy=False)
        self._backend.write(buffer, array)

    def read_tensor(self, tensor: MLTensor, out: Any = None) -> np.ndarray:
        """Wait for queued work and return the tensor's contents as a new numpy array
        (spec: ``MLContext.readTensor``); with ``out``, fill that writable buffer instead."""
        self._check_alive("read_tensor")
        self._own_tensor("read_tensor", tensor)
        buffer = tensor._readable("read_tensor")
        array = self._backend.read(buffer)
        if out is not None:
            view = np.asarray(memoryview(out).cast("B")) if not isinstance(out, np.ndarray) else out
            raw = np.ascontiguousarray(array).view(np.uint8).reshape(-1)
            target = view.reshape(-1).view(np.uint8)
            if target.size < raw.size:
                raise TypeError(f"read_tensor: out has {target.size} bytes, the tensor has {raw.size}")
            target[: raw.size] = raw
        return array

    def _own_tensor(self, what: str, tensor: object) -> None:
        if not isinstance(tensor, MLTensor):
            raise TypeError(f"{what}: expected an MLTensor, got {type(tensor).__name__}")
        if tensor._context is not self:
            raise TypeError(f"{what}: the MLTensor belongs to a different MLContext")

    # -- running ------------------------------------------------------------------------
    def _check_graph(self, what: str, graph: object) -> MLGraph:
        self._check_alive(what)
        if not isinstance(graph, MLGraph):
            raise TypeError(f"{what}: graph must be an MLGraph, got {type(graph).__name__}")
        if graph._context is not self:
            raise TypeError(f"{what}: the MLGraph was built for a different MLContext")
        if graph._destroyed:
            raise InvalidStateError(f"{what}: the MLGraph has been destroyed")
        return graph

    def dispatch(self, graph: MLGraph, inputs: Mapping[str, MLTensor],
                 outputs: Mapping[str, MLTensor]) -> None:
        """Run ``graph``, reading ``inputs`` and writing caller-owned ``outputs``
        (spec: ``MLContext.dispatch``). Work is queued; ``read_tensor`` waits for it."""
        self._check_graph("dispatch", graph)
        in_buffers = self._bind("dispatch", "input", graph.inputs, graph._input_order, inputs)
        out_buffers = self._bind("dispatch", "output", graph.outputs, graph._output_order, outputs)
        if {id(t) for t in inputs.values()} & {id(t) for t in outputs.values()}:
            raise TypeError("dispatch: the same MLTensor cannot be both an input and an output")
        try:
            graph._executable.run_into(in_buffers, out_buffers)
        except Exception as exc:
            raise OperationError(f"dispatch: the graph failed to run: {exc}") from exc
        finally:
            if graph._first_run_gate is not None:
                graph._ran()

    def _bind(self, what: str, kind: str, expected: Mapping[str, MLOperandDescriptor],
              order: tuple[str, ...], given: Mapping[str, MLTensor]) -> list[Any]:
        if not isinstance(given, Mapping):
            raise TypeError(f"{what}: {kind}s must be a dict of name -> MLTensor")
        if len(given) != len(expected) or any(n not in expected for n in given):
            missing = sorted(set(expected) - set(given))
            extra = sorted(set(given) - set(expected))
            raise TypeError(f"{what}: {kind} names must be {sorted(expected)}; "
                            f"missing {missing}, unexpected {extra}")
        buffers = []
        for name in order:
            tensor = given[name]
            if not isinstance(tensor, MLTensor):
                raise TypeError(f"{what}: {kind} {name!r} must be an MLTensor, got {type(tensor).__name__}")
            if tensor._context is not self:
                raise TypeError(f"{what}: {kind} {name!r} belongs to a different MLContext")
            if tensor.descriptor != expected[name]:
                want, got = expected[name], tensor.descriptor
                raise TypeError(f"{what}: {kind} {name!r} must be {want.data_type} {list(want.shape)}, "
                                f"got {got.data_type} {list(got.shape)}")
            buffers.append(tensor._alive(f"{what}: {kind} {name!r}"))
        return buffers

    def compute(self, graph: MLGraph, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run ``graph`` on numpy arrays and return numpy arrays (our convenience; the
        spec no longer has ``compute``). Input dtypes and shapes must match exactly."""
        self._check_graph("compute", graph)
        if not isinstance(inputs, Mapping):
            raise TypeError("compute: inputs must be a dict of name -> array")
        if len(inputs) != len(graph.inputs) or any(n not in graph.inputs for n in inputs):
            raise TypeError(f"compute: input names must be {sorted(graph.inputs)}, got {sorted(inputs)}")
        values = []
        for name in graph._input_order:
            desc = graph.inputs[name]
            array = np.asarray(inputs[name])
            if array.dtype != numpy_dtype(desc.data_type) or tuple(array.shape) != desc.shape:
                raise TypeError(f"compute: input {name!r} must be {desc.data_type} {list(desc.shape)}, "
                                f"got {array.dtype} {list(array.shape)}")
            values.append(self._backend.from_numpy(array, desc))
        try:
            results = graph._executable.run(values)
        except Exception as exc:
            raise OperationError(f"compute: the graph failed to run: {exc}") from exc
        finally:
            if graph._first_run_gate is not None:
                graph._ran()
        to_numpy = self._backend.to_numpy
        return {name: to_numpy(r) for name, r in zip(graph._output_order, results)}

    def compute_native(self, graph: MLGraph, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``graph`` on the backend's own tensors and return new ones, without copies
        (our extension, for integrations that already hold device tensors, e.g. torch.compile).

        For the torch backend the values are torch tensors on ``device`` whose dtypes and
        shapes are exactly the graph's storage types (bool as a uint8 view); nothing is
        checked per call beyond the input names. Outputs never alias inputs.
        """
        self._check_graph("compute_native", graph)
        order = graph._input_order
        if len(inputs) != len(order):
            raise TypeError(f"compute_native: input names must be {sorted(graph.inputs)}, got {sorted(inputs)}")
        try:
            values = [inputs[name] for name in order]
        except KeyError as exc:
            raise TypeError(f"compute_native: missing input {exc.args[0]!r}; "
                            f"expected {sorted(graph.inputs)}") from None
        try:
            results = graph._executable.run(values)
        except Exception as exc:
            raise OperationError(f"compute_native: the graph failed to run: {exc}") from exc
        finally:
            if graph._first_run_gate is not None:
                graph._ran()
        return dict(zip(graph._output_order, results))

    # -- graph cache (MLGraph cache explainer; not in the spec text yet) ------------------
    @property
    def cache_enabled(self) -> bool:
        """Whether this context has a graph cache (``create_context(cache=...)``; ours)."""
        return self._cache_enabled

    @property
    def cache_dir(self) -> str | None:
        """The cache root this context uses (option > ``$WEBNN_CACHE_DIR`` > the user cache
        directory), or None with ``cache=False`` (ours). Entries live in ``<cache_dir>/v1``."""
        if not self._cache_enabled:
            return None
        from .cache import resolve_root

        return str(resolve_root(self._cache_dir))

    def _cache(self, what: str) -> Any:
        self._check_alive(what)
        if not self._cache_enabled:
            raise NotSupportedError(f"{what}: this context was created with cache=False, so it has no "
                                    f"graph cache; create one with cache=True (the default)")
        with self._store_lock:
            if self._store is None:
                from .cache import open_context_cache

                self._store = open_context_cache(self)
            return self._store

    def list_graphs(self) -> list[str]:
        """Keys saved for this origin and device kind (cache explainer: ``listGraphs``)."""
        return self._cache("list_graphs").list_graphs()

    def save_graph(self, key: str, graph: MLGraph) -> None:
        """Persist ``graph``'s compiled form under ``key``, replacing any entry atomically
        (cache explainer: ``saveGraph``). Raises QuotaExceededError (``.reason`` says why:
        quota, too-large, disk-full, read-only) if it cannot be kept; nothing changes then."""
        self._check_graph("save_graph", graph)
        self._cache("save_graph").save_graph(key, graph)

    def load_graph(self, key: str) -> MLGraph:
        """Load a saved graph without recompiling (cache explainer: ``loadGraph``).
        Raises NotFoundError for a missing, evicted, corrupt or stale entry (corrupt and
        stale entries are removed)."""
        return self._cache("load_graph").load_graph(key)

    def delete_graph(self, key: str) -> None:
        """Delete one entry; idempotent (cache explainer: ``deleteGraph``). Graphs already
        loaded keep working. A no-op with ``cache=False``."""
        if self._cache_enabled:
            self._cache("delete_graph").delete_graph(key)
        else:
            self._check_alive("delete_graph")

    def delete_saved_graphs(self) -> None:
        """Delete every entry of this origin, every device kind (same-origin cache proposal);
        idempotent. A no-op with ``cache=False``."""
        if self._cache_enabled:
            self._cache("delete_saved_graphs").delete_saved_graphs()
        else:
            self._check_alive("delete_saved_graphs")

    def cache_info(self) -> list[dict[str, Any]]:
        """The ``cache info`` view of this origin's entries, most recently used first (ours):
        dicts with ``key``, ``device``, ``size`` (bytes), ``created``, ``last_used`` (epoch
        seconds) and ``visible`` (loadable by this context: same device kind and versions)."""
        return self._cache("cache_info").info()

    def cache_stats(self) -> dict[str, Any]:
        """Graph cache counters (ours): ``hits``, ``misses``, ``saves``, ``save_failures``,
        ``evictions``, ``corrupt_removed``, ``stale_removed`` counted by this context, with
        ``reasons`` per counter, and ``partition_totals`` (the same, summed over every process
        that used this origin and device kind). All zero with ``cache=False``."""
        if not self._cache_enabled:
            from .cache.stats import summarize

            return {**summarize(()), "partition_totals": summarize(()), "index_resets": 0, "directory": None,
                    "remote": None}
        return self._cache("cache_stats").stats()

    def __repr__(self) -> str:
        return f"MLContext(device={self.device!r}, origin={self.origin!r})"


class ML:
    """The entry point (spec: ``navigator.ml``)."""

    def create_context(self, device: Any = None, *, power_preference: str = "default",
                       accelerated: bool = True, origin: str | None = None,
                       cache_dir: str | os.PathLike[str] | None = None, cache: bool = True,
                       cache_quota: int | None = None, cache_remote: Any = FROM_ENVIRONMENT) -> MLContext:
        """Create a context (spec: ``ML.createContext``).

        ``device``: None (pick by ``accelerated``), "cpu", "gpu" (default CUDA device),
        "cuda", "cuda:N" or a ``torch.device`` (mirrors the spec's GPUDevice overload).
        ``accelerated=False`` means the CPU; True means CUDA where present, else the CPU.
        ``power_preference`` outranks it, as in the spec: "high-performance" picks CUDA where
        present, "low-power" the CPU (there is no low-power accelerator to choose here).
        ``origin`` names the cache partition (default ``$WEBNN_ORIGIN`` or "default");
        ``cache_dir`` overrides ``$WEBNN_CACHE_DIR`` and the user cache directory;
        ``cache=False`` turns the graph cache off; ``cache_quota`` is bytes per partition.
        ``cache_remote``: the fleet-shared remote tier (ours): a ``redis://``/``rediss://`` URL or a
        ``webnn.cache.RemoteOptions``; default ``$WEBNN_CACHE_REMOTE``; None turns it off.
        """
        if power_preference not in POWER_PREFERENCES:
            raise TypeError(f"create_context: power_preference must be one of "
                            f"{', '.join(POWER_PREFERENCES)}, got {power_preference!r}")
        if not isinstance(accelerated, bool):
            raise TypeError(f"create_context: accelerated must be a bool, got {accelerated!r}")
        if origin is None:
            origin = os.environ.get("WEBNN_ORIGIN") or DEFAULT_ORIGIN
        if not isinstance(origin, str) or not origin:
            raise TypeError(f"create_context: origin must be a non-empty string, got {origin!r}")
        if cache_quota is not None and (not isinstance(cache_quota, int) or cache_quota <= 0):
            raise TypeError(f"create_context: cache_quota must be a positive int of bytes, got {cache_quota!r}")
        # powerPreference outranks accelerated (spec): "high-performance" takes the GPU where
        # present, "low-power" the CPU; "default" follows accelerated.
        want_gpu = power_preference == "high-performance" or (accelerated and power_preference == "default")
        resolved = resolve_device(device, want_gpu)
        remote = None
        if cache:
            from .cache.remote_config import resolve as resolve_remote

            remote = resolve_remote(cache_remote)
        context = MLContext(resolved, power_preference, origin, cache_dir, bool(cache), cache_quota)
        context._cache_remote = remote
        return context


ml = ML()
