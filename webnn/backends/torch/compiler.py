"""IR -> one generated Python function of torch calls per graph.

Each node's lowering factory runs once here and returns a specialised callable;
the compiler writes straight-line source that calls them in topological order,
converts types only at the graph's edges and checks nothing per call beyond
what dispatch already checked. Constants are prepared (converted to compute type,
moved to the device) once.

A lowering may also ask for one of its inputs to be prepared further when that input
is a constant (:class:`PrepareConstant`, e.g. convolution weights reordered into the
CPU kernel's blocked layout). The compiler applies the hook here, at build and at
cache load alike, so ``constants`` (what the cache exports) stay plain dense tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import NotSupportedError
from ...graph import Graph
from . import cuda_graphs
from .dtypes import compute_dtype, needs_conversion, to_compute, to_storage
from .registry import LoweringNode, find, load_all


@dataclass(frozen=True)
class PrepareConstant:
    """A lowering's request: "if input ``index`` is a constant, call ``run`` instead of me,
    with ``prepare(constant)`` (computed once, at build) in that position".

    A lowering attaches it to the callable it returns as ``callable.prepare_constant``.
    The prepared value lives only in the compiled function's scope; it is never exported.
    """

    index: int
    prepare: Callable[[torch.Tensor], Any]
    run: Callable[..., Any]
    #: The prepared value's dense form is the constant permuted by this (None: as it is);
    #: lets a loaded graph that kept only the prepared form give the constant back.
    permutation: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ConsumeInput:
    """A lowering's offer: "if input ``index`` is a value nothing reads after me, call
    ``run`` instead: it writes my result into that input's buffer".

    A lowering attaches it to the callable it returns (after any :class:`PrepareConstant`
    substitution) as ``callable.consume_input``. The compiler takes the offer only for a
    value that is neither a graph input, a constant nor a graph output, is read once by
    this node and by nothing after it, and comes from an op in ``FRESH_RESULT_OPS``, whose
    torch result never shares storage with another value.
    """

    index: int
    run: Callable[..., Any]


#: Ops whose lowering always returns a newly allocated tensor (never a view of an input).
FRESH_RESULT_OPS = frozenset({"conv2d"})


def prepare_constants(graph: Graph, device: torch.device) -> dict[int, torch.Tensor]:
    """Constants as device tensors in compute type."""
    out = {}
    for cid, array in graph.constants.items():
        desc = graph.descs[cid]
        if not (array.flags.writeable and array.flags.c_contiguous and array.flags.aligned) or array.ndim == 0:
            array = np.array(array, copy=True, order="C")
        # The graph's own constants (the builder copied the caller's data; passes never write
        # into an array): shared, not copied again. Outputs never alias them (see ``run``).
        t = torch.from_numpy(array)
        out[cid] = to_compute(t, desc.data_type, torch.device("cpu")).to(
            device=device, dtype=compute_dtype(desc.data_type, device))
    return out


class TorchExecutable:
    """A compiled graph: ``run(list of storage tensors) -> list of storage tensors``."""

    def __init__(self, graph: Graph, device: torch.device,
                 constants: Mapping[int, torch.Tensor] | None = None,
                 prepared: Mapping[int, Any] | None = None) -> None:
        """``prepared``: constants already in the form their one reader's
        :class:`PrepareConstant` makes (restored from the cache); ``constants`` need not
        hold them then."""
        load_all()
        self.graph = graph
        self.device = device
        self.constants = dict(constants) if constants is not None else prepare_constants(graph, device)
        #: Constant id -> its prepared form, for constants read only by the node that prepared them.
        self.prepared: dict[int, Any] = dict(prepared or {})
        #: Constant id -> the permutation its prepared form applied (see PrepareConstant).
        self.prepared_permutation: dict[int, tuple[int, ...] | None] = {}
        #: Buffers that prepared values read in place (a loaded entry's packed weights).
        self.keep_alive: list[Any] = []
        self.input_names: tuple[str, ...] = tuple(sorted(graph.inputs))
        self.output_names: tuple[str, ...] = tuple(graph.outputs)
        self.source, self._forward = self._generate()
        self._replay = None
        if device.type == "cuda":
            self._forward = cuda_graphs.exact_float32(self._forward)
        if cuda_graphs.enabled(device):
            self._replay = cuda_graphs.CudaGraphRunner(self._forward, device)
        self._constant_ptrs = frozenset(c.untyped_storage().data_ptr() for c in self.constants.values()
                                        if c.layout == torch.strided)

    def _generate(self) -> tuple[str, Any]:
        g = self.graph
        scope: dict[str, Any] = {"_to_compute": to_compute, "_to_storage": to_storage, "_dev": self.device}
        names: dict[int, str] = {}
        lines = []
        params = []
        for idx, name in enumerate(self.input_names):
            oid = g.inputs[name]
            var = f"i{idx}"
            params.append(var)
            dt = g.descs[oid].data_type
            if needs_conversion(dt, self.device):
                lines.append(f"    {var} = _to_compute({var}, {dt!r}, _dev)")
            names[oid] = var
        for cid, tensor in self.constants.items():
            scope[f"c{cid}"] = tensor
            names[cid] = f"c{cid}"
        for cid in self.prepared:
            names.setdefault(cid, f"c{cid}")  # never read: its one reader takes the prepared form
        # Free each intermediate right after its last reader, as eager does: holding every
        # one to the end keeps the graph's whole activation memory live (measured by the
        # torch.compile integration, 1 thread: BERT-base-sized encoder 1.15x -> 0.97x eager).
        kept = set(g.outputs.values())
        last_reader: dict[int, int] = {}
        for k, node in enumerate(g.nodes):
            for i in node.inputs:
                if i is not None:
                    last_reader[i] = k
        producers = g.producers()
        reads: dict[int, int] = {}
        for node in g.nodes:
            for i in node.inputs:
                if i is not None:
                    reads[i] = reads.get(i, 0) + 1
        dead_after: dict[int, list[int]] = {}
        for oid, k in last_reader.items():
            if oid not in kept and oid not in g.constants and oid not in g.inputs.values():
                dead_after.setdefault(k, []).append(oid)
        for k, node in enumerate(g.nodes):
            found = find(node.op, self.device.type)
            if found is None:
                raise NotSupportedError(f"build: the torch backend has no lowering for {node.op}")
            lnode = LoweringNode(node.op, node.attrs, [None if i is None else g.descs[i] for i in node.inputs],
                                 [g.descs[o] for o in node.outputs], self.device)
            try:
                fn = found.factory(lnode)
            except (TypeError, NotSupportedError):
                raise
            arg_names = ["None" if i is None else names[i] for i in node.inputs]
            hook: PrepareConstant | None = getattr(fn, "prepare_constant", None)
            cid = node.inputs[hook.index] if hook is not None else None
            if hook is not None and cid is not None and (cid in self.prepared or cid in self.constants):
                sole = reads.get(cid) == 1 and cid not in kept
                if cid in self.prepared:
                    if not sole:
                        raise ValueError(f"constant {cid} came prepared but is read more than once")
                    value = self.prepared[cid]
                else:
                    value = hook.prepare(self.constants[cid])
                    if sole:
                        self.prepared[cid] = value
                self.prepared_permutation[cid] = hook.permutation
                scope[f"p{k}"] = value
                arg_names[hook.index] = f"p{k}"
                fn = hook.run
            offer: ConsumeInput | None = getattr(fn, "consume_input", None)
            if offer is not None and self._consumable(node.inputs, offer.index, k, kept, last_reader, producers):
                fn = offer.run
            scope[f"f{k}"] = fn
            args = ", ".join(arg_names)
            outs = []
            for o in node.outputs:
                names[o] = f"v{o}"
                outs.append(f"v{o}")
            target = outs[0] if len(outs) == 1 else ", ".join(outs)
            if len(outs) == 1 and not getattr(fn, "multi_output", False):
                lines.append(f"    {target} = f{k}({args})")
            else:
                lines.append(f"    {target}{',' if len(outs) == 1 else ''} = f{k}({args})")
            if k in dead_after:
                lines.append(f"    del {', '.join(names[o] for o in sorted(dead_after[k]))}")
        results = []
        for oid in g.outputs.values():
            dt = g.descs[oid].data_type
            expr = names[oid]
            if oid in g.constants or oid in g.inputs.values():
                expr = f"{expr}.clone()"
            if needs_conversion(dt, self.device) or dt in ("int4", "uint4"):
                expr = f"_to_storage({expr}, {dt!r})"
            if len(g.descs[oid].shape) == 4:  # a channels-last intermediate leaves as a dense array
                expr = f"{expr}.contiguous()"
            results.append(expr)
        lines.append(f"    return [{', '.join(results)}]")
        source = f"def forward({', '.join(params)}):\n" + ("\n".join(lines) or "    pass") + "\n"
        code = compile(source, f"<webnn graph {id(self):x}>", "exec")
        exec(code, scope)  # noqa: S102  (our own generated source)
        return source, scope["forward"]

    def _consumable(self, inputs: list[int | None], index: int, k: int, kept: set[int],
                    last_reader: dict[int, int], producers: dict[int, Any]) -> bool:
        """Whether node ``k`` may overwrite its input ``index`` (see :class:`ConsumeInput`)."""
        g = self.graph
        oid = inputs[index] if index < len(inputs) else None
        if oid is None or oid in kept or oid in g.constants or oid in g.inputs.values():
            return False
        producer = producers.get(oid)
        return (producer is not None and producer.op in FRESH_RESULT_OPS and last_reader.get(oid) == k
                and inputs.count(oid) == 1)

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Run on storage tensors; the outputs are new tensors the caller owns
        (never aliases of inputs, constants or CUDA-graph buffers)."""
        with torch.inference_mode():
            if self._replay is not None:
                return [o.clone() for o in self._replay(*inputs)]
            outs = self._forward(*inputs)
        shared = self._constant_ptrs.union(t.untyped_storage().data_ptr() for t in inputs)
        return [o.clone() if o.untyped_storage().data_ptr() in shared else o for o in outs]

    def run_into(self, inputs: list[torch.Tensor], outputs: list[torch.Tensor]) -> None:
        """Run and copy the results into caller-owned storage tensors (dispatch)."""
        with torch.inference_mode():
            outs = self._replay(*inputs) if self._replay is not None else self._forward(*inputs)
            for dst, src in zip(outputs, outs):
                dst.copy_(src)
