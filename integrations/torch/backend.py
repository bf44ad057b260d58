"""The dynamo backend: dynamo's FX graph -> AOT autograd (core ATen decompositions)
-> partitions on WebNN, the rest in torch.

Flow of one compile (``webnn_backend``):

1. Options are validated; the context for the device is created once per option set.
2. If the whole dynamo graph was compiled before into a single WebNN graph (a
   whole-graph cache entry), it is loaded and run directly: no tracing at all.
3. Otherwise ``aot_module_simplified`` traces it with torch's core ATen
   decompositions (minus a few ops WebNN has whole, see :data:`KEEP_WHOLE`). The
   inference (or forward) graph is partitioned and compiled (``partition.py``),
   each partition through the per-partition cache. With inputs that require grad,
   the forward runs on WebNN and the backward graph runs in torch (eager ATen ops).
4. Graphs with symbolic shapes (dynamo's automatic dynamic shapes) are compiled per
   concrete shape signature at first call: WebNN graphs are static.

Tensors WebNN returns are inference tensors (the torch backend runs graphs under
``torch.inference_mode``); outputs handed back to torch code outside inference mode
are cloned once so autograd and in-place ops work on them.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.fx

import webnn
from webnn import MLContext, MLGraph
from webnn.converters import SupportQuery

from . import cache
from .build import Interface, convert_partition
from .options import BackendOptions, parse_options
from .partition import Lifted, partition_graph
from .report import GraphReport, record
from .runner import make_runner
from .support import WebNNSupport

aten = torch.ops.aten

#: Ops the core ATen decompositions would split but WebNN takes whole.
KEEP_WHOLE = (
    aten.hardswish.default, aten.hardsigmoid.default, aten.softplus.default, aten.silu.default,
    aten.upsample_nearest2d.default, aten.upsample_nearest2d.vec, aten.upsample_bilinear2d.default,
    aten.upsample_bilinear2d.vec, aten.tril.default, aten.triu.default,
    aten._scaled_dot_product_flash_attention_for_cpu.default,
)

_LOCK = threading.Lock()
_CONTEXTS: dict[tuple[Any, ...], tuple[MLContext, SupportQuery]] = {}
_GRAPH_IDS = itertools.count()


@functools.cache
def decompositions() -> dict[Any, Callable[..., Any]]:
    """torch's core ATen decomposition table without :data:`KEEP_WHOLE`, plus the fused
    transformer fast paths torch leaves whole (``fastpath.py``)."""
    from torch._decomp import core_aten_decompositions

    from .fastpath import FAST_PATH_DECOMPOSITIONS

    table = dict(core_aten_decompositions())
    for op in KEEP_WHOLE:
        table.pop(op, None)
    table.update(FAST_PATH_DECOMPOSITIONS)
    return table


def webnn_backend(gm: torch.fx.GraphModule, example_inputs: list[Any], options: dict[str, Any] | None = None,
                  **kwargs: Any) -> Callable[..., Any]:
    """The torch.compile backend "webnn" (``torch.compile(m, backend="webnn", options={...})``).

    See ``webnn.integrations.torch.options`` for the options and their environment variables.
    """
    if kwargs:
        raise TypeError(f"webnn backend: unexpected argument(s) {sorted(kwargs)}; it takes options={{...}} only "
                        f"(torch.compile's mode= is for inductor)")
    return compile_graph(gm, list(example_inputs), parse_options(options))


def host_device(example_inputs: list[Any]) -> torch.device:
    """Where the caller's tensors live (the first tensor input's device; the CPU without any)."""
    for x in example_inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    return torch.device("cpu")


def context_for(opts: BackendOptions, host: torch.device) -> tuple[MLContext, SupportQuery]:
    """The context (and its support query) for these options, created once per process."""
    device = opts.device or (str(host) if host.type != "cuda" else f"cuda:{host.index or 0}")
    key = (device, opts.origin, opts.cache_dir, opts.cache)
    with _LOCK:
        found = _CONTEXTS.get(key)
        if found is None:
            context = webnn.ml.create_context(device, origin=opts.origin, cache_dir=opts.cache_dir, cache=opts.cache)
            found = (context, SupportQuery(context.op_support_limits()))
            _CONTEXTS[key] = found
        return found


def _symbolic(example_inputs: list[Any]) -> bool:
    for x in example_inputs:
        if isinstance(x, torch.SymInt):
            return True
        if isinstance(x, torch.Tensor) and any(not isinstance(d, int) for d in (*x.shape, *x.stride())):
            return True
    return False


def compile_graph(gm: torch.fx.GraphModule, example_inputs: list[Any], opts: BackendOptions
                  ) -> Callable[..., Any]:
    """Compile one dynamo graph; returns the callable dynamo calls with the flat inputs."""
    from torch._dynamo import disable

    if _symbolic(example_inputs):
        report = GraphReport(next(_GRAPH_IDS), opts.device or str(host_device(example_inputs)),
                             cache.signature_text(example_inputs), path="specializing")
        record(report, opts.report)
        return disable(Specializing(gm, opts), reason="webnn compiles per concrete shape")
    start = time.perf_counter()
    host = host_device(example_inputs)
    context, query = context_for(opts, host)
    report = GraphReport(next(_GRAPH_IDS), context.device, cache.signature_text(example_inputs))
    use_cache = opts.cache and context.cache_enabled
    key = cache.dynamo_key(gm, example_inputs, context.device, opts.key_parts()) if use_cache else None
    graph = cache.load(context, key, "graph")
    if graph is not None:
        fn = whole_graph_runner(context, graph, gm, example_inputs, host)
        if fn is not None:
            report.path = "cache"
            report.webnn_nodes = sum(n.op in ("call_function", "call_method") for n in gm.graph.nodes)
            from .report import PartitionReport

            report.partitions.append(PartitionReport("whole graph", report.webnn_nodes, graph.ir.op_counts(),
                                                     "hit", key))
            report.compile_seconds = time.perf_counter() - start
            record(report, opts.report)
            return disable(fn, reason="webnn compiled graph")
    job = _Job(context, query, opts, report, host, key, gm, example_inputs)
    from torch._functorch.aot_autograd import aot_module_simplified

    cache.count("aot_traces")
    compiled = aot_module_simplified(
        gm, example_inputs, fw_compiler=functools.partial(job.compile_forward, mode="training"),
        bw_compiler=_torch_backward, inference_compiler=functools.partial(job.compile_forward, mode="inference"),
        decompositions=decompositions(), keep_inference_input_mutations=False)
    report.compile_seconds = time.perf_counter() - start
    record(report, opts.report)
    return disable(compiled, reason="webnn compiled graph")


def _torch_backward(gm: torch.fx.GraphModule, example_inputs: list[Any]) -> Callable[..., Any]:
    """The backward graph runs as torch ATen ops (WebNN has no training ops)."""
    from torch._dynamo import disable

    forward = gm.forward

    def run(args: list[Any]) -> Any:
        return forward(*args)

    boxed = disable(run, reason="backward graph runs in torch")
    boxed._boxed_call = True  # type: ignore[attr-defined]
    return boxed


def _clone_inference(outs: Any) -> list[Any]:
    return [o.clone() if isinstance(o, torch.Tensor) and o.is_inference() else o for o in outs]


class _Job:
    """The state of one compile: what the AOT compilers need."""

    def __init__(self, context: MLContext, query: SupportQuery, opts: BackendOptions, report: GraphReport,
                 host: torch.device, key: str | None, dynamo_gm: torch.fx.GraphModule,
                 example_inputs: list[Any]) -> None:
        self.context, self.query, self.opts, self.report, self.host = context, query, opts, report, host
        self.key, self.dynamo_gm, self.example_inputs = key, dynamo_gm, example_inputs

    def compile_partition(self, sub: torch.fx.GraphModule, names: Interface) -> tuple[MLGraph, str, str | None]:
        from torch._subclasses.fake_tensor import unset_fake_temporarily

        with unset_fake_temporarily():  # AOT calls us under its fake mode; WebNN needs real tensors
            return self._compile_partition(sub, names)

    def _compile_partition(self, sub: torch.fx.GraphModule, names: Interface) -> tuple[MLGraph, str, str | None]:
        context, opts = self.context, self.opts
        key = cache.partition_key(sub, names, context.device, opts.key_parts()) \
            if opts.cache and context.cache_enabled else None
        graph = cache.load(context, key, "partition")
        if graph is not None and set(graph.outputs) == set(names.outputs) and set(graph.inputs) <= set(names.inputs):
            return graph, "hit", key
        cache.count("conversions")
        graph = convert_partition(context, sub, names)
        if key is None:
            return graph, "off", None
        return graph, "miss" if cache.save(context, key, graph) else "unsaved", key

    def compile_forward(self, gm: torch.fx.GraphModule, example_inputs: list[Any], *, mode: str) -> Callable[..., Any]:
        self.report.mode = mode
        support = WebNNSupport(self.query, self.opts.torch_ops, self.host.type)
        lifted = partition_graph(gm, self.context, support, compile_partition=self.compile_partition,
                                 min_size=self.opts.min_partition_size, fallback=self.opts.fallback,
                                 report=self.report, host_device=self.host)
        if mode == "inference" and self.key is not None and self._whole_graph_eligible(gm, lifted):
            from torch._subclasses.fake_tensor import unset_fake_temporarily

            with unset_fake_temporarily():
                cache.save(self.context, self.key, lifted[0].graph)
        forward = gm.forward

        def run(args: list[Any]) -> list[Any]:
            outs = forward(*args)
            return outs if torch.is_inference_mode_enabled() else _clone_inference(outs)

        run._boxed_call = True  # type: ignore[attr-defined]
        return run

    def _whole_graph_eligible(self, gm: torch.fx.GraphModule, lifted: list[Lifted]) -> bool:
        """Whether running the single WebNN graph directly equals what AOT's wrappers do."""
        if len(lifted) != 1 or self.report.torch_nodes:
            return False
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(self.example_inputs):
            return False
        names = lifted[0].names
        if not all(n.startswith("a") for n in names.inputs):
            return False
        outs = gm.graph.output_node().args[0]
        n_out = len(outs) if isinstance(outs, (tuple, list)) else 1
        dyn_outs = self.dynamo_gm.graph.output_node().args[0]
        if not isinstance(dyn_outs, (tuple, list)) or len(dyn_outs) != n_out:
            return False
        if sorted(int(n[1:]) for n in names.outputs if n[0] in "ob") != list(range(n_out)):
            return False
        if len(names.outputs) != n_out:
            return False
        ctx = torch._guards.TracingContext.try_get()
        meta = getattr(ctx, "fw_metadata", None)
        if meta is None or meta.num_intermediate_bases or meta.tokens:
            return False
        if any(i.mutates_data or i.mutates_metadata for i in meta.input_info):
            return False
        return all(o.output_type.name == "non_alias" for o in meta.output_info)


def whole_graph_runner(context: MLContext, graph: MLGraph, gm: torch.fx.GraphModule, example_inputs: list[Any],
                       host: torch.device) -> Callable[..., Any] | None:
    """Run a whole-graph cache entry directly on dynamo's inputs (None if it does not fit)."""
    outs = gm.graph.output_node().args[0]
    if not isinstance(outs, (tuple, list)):
        return None
    by_pos = {}
    for name in graph.outputs:
        if name[0] not in "ob" or not name[1:].isdigit():
            return None
        by_pos[int(name[1:])] = name
    if sorted(by_pos) != list(range(len(outs))):
        return None
    in_names = [f"a{j:04d}" for j in range(len(example_inputs))]
    if not set(graph.inputs) <= set(in_names):
        return None
    in_bool = [isinstance(x, torch.Tensor) and x.dtype == torch.bool for x in example_inputs]
    out_names = [by_pos[m] for m in range(len(outs))]
    runner = make_runner(context, graph, in_names, in_bool, out_names, [n[0] == "b" for n in out_names],
                         name="webnn_graph", host_device=host)

    def run(*args: Any) -> Any:
        res = runner(*args)
        return res if torch.is_inference_mode_enabled() else tuple(_clone_inference(res))

    return run


class Specializing:
    """A graph with symbolic shapes, compiled per concrete input signature at first call."""

    def __init__(self, gm: torch.fx.GraphModule, opts: BackendOptions) -> None:
        self.gm, self.opts = gm, opts
        self.compiled: dict[Any, Callable[..., Any]] = {}

    @staticmethod
    def _signature(args: tuple[Any, ...]) -> Any:
        return (torch.is_grad_enabled(), tuple(
            (tuple(a.shape), tuple(a.stride()), a.dtype, a.device, a.requires_grad) if isinstance(a, torch.Tensor)
            else (type(a).__name__, a) for a in args))

    def __call__(self, *args: Any) -> Any:
        sig = self._signature(args)
        fn = self.compiled.get(sig)
        if fn is None:
            from torch._subclasses.fake_tensor import FakeTensorMode

            mode = FakeTensorMode()
            fake = [mode.from_tensor(a, static_shapes=True) if isinstance(a, torch.Tensor) else a for a in args]
            fn = compile_graph(self.gm, fake, self.opts)
            self.compiled[sig] = fn
        return fn(*args)
