"""Graph-cache keys for FX graphs and the load/save calls the backend makes.

Two kinds of entries, both in the core's graph cache (``MLContext.save_graph``):

* one per WebNN partition, keyed by the partition's ATen FX graph (ops, arguments,
  placeholder shapes/dtypes/strides, constant bytes), its interface names, the
  device, the options that change conversion, torch's version and a digest of this
  integration's source; a hit skips conversion, passes and lowering;
* one per whole dynamo graph that became a single WebNN graph with nothing left in
  torch, keyed by the dynamo (torch-level) FX graph and its input signature, grad and
  autocast state; a hit skips AOT tracing and decomposition as well.

Parameters are never folded into a graph: they stay graph inputs (in this torch,
dynamo lifts them), so their bytes are not in keys and a weight changed after
compile is simply read at the next call. Constants that *are* folded (``get_attr``
tensors) have their bytes in the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx

from webnn import MLContext, MLGraph, NotFoundError, NotSupportedError, QuotaExceededError
from webnn.cache.keys import graph_cache_key
from webnn.hashing import content_hasher

_LOCK = threading.Lock()
_STATS: Counter[str] = Counter()
_SOURCE_DIGEST: str | None = None
_WARNED: set[str] = set()

#: Modules whose functions may appear in a whole-graph key (their meaning is fixed by torch's version).
_TRUSTED_MODULES = ("torch", "_operator", "operator", "math", "builtins")


class Uncanonical(Exception):
    """The FX graph holds something a key cannot describe faithfully."""


def count(name: str, n: int = 1) -> None:
    with _LOCK:
        _STATS[name] += n


def cache_stats() -> dict[str, int]:
    """This process's counters: ``partition_hits``, ``partition_misses``, ``graph_hits``,
    ``graph_misses``, ``saves``, ``save_failures``, ``conversions`` (partitions converted
    and built), ``aot_traces`` (graphs traced by AOT autograd)."""
    keys = ("partition_hits", "partition_misses", "graph_hits", "graph_misses", "saves", "save_failures",
            "conversions", "aot_traces")
    with _LOCK:
        return {k: int(_STATS.get(k, 0)) for k in keys}


def reset_cache_stats() -> None:
    with _LOCK:
        _STATS.clear()


def source_digest() -> str:
    """sha256 of this integration's source files: any converter change invalidates keys."""
    global _SOURCE_DIGEST
    if _SOURCE_DIGEST is None:
        h = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _SOURCE_DIGEST = h.hexdigest()
    return _SOURCE_DIGEST


# -- canonical graphs ---------------------------------------------------------------------
def tensor_meta(value: Any) -> Any:
    """Shape, stride, dtype, device, requires_grad of a tensor; a tagged value otherwise."""
    if isinstance(value, torch.Tensor):
        return ["T", list(map(int, value.shape)), list(map(int, value.stride())), str(value.dtype),
                value.device.type, bool(value.requires_grad)]
    if isinstance(value, (bool, int, float)):
        return ["S", type(value).__name__, _number(value)]
    if isinstance(value, torch.SymInt):
        raise Uncanonical("symbolic input")
    return ["O", type(value).__name__]


def _number(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v) or v == 0.0):
        return repr(v)  # nan, inf, -0.0 distinct
    return v


def target_name(target: Any, trusted_only: bool) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target._opname}.{target._overloadname}"
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if module is None and name and hasattr(target, "__objclass__"):
        module = getattr(target.__objclass__, "__module__", None)
    if not module or not name:
        raise Uncanonical(f"cannot name {target!r}")
    trusted = module.split(".")[0] in _TRUSTED_MODULES
    if "<" in name and not trusted:
        raise Uncanonical(f"cannot name {module}.{name}")
    if trusted_only and not trusted:
        raise Uncanonical(f"{module}.{name} is not a torch function")
    return f"{module}.{name}"


def _enc(value: Any, index: dict[torch.fx.Node, int]) -> Any:
    if isinstance(value, torch.fx.Node):
        return ["%", index[value]]
    if isinstance(value, (list, tuple)):
        return ["L" if isinstance(value, list) else "U", [_enc(v, index) for v in value]]
    if isinstance(value, dict):
        return ["D", [[str(k), _enc(v, index)] for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))]]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return ["F", _number(value)]
    if isinstance(value, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
        return [type(value).__name__, str(value)]
    if isinstance(value, slice):
        return ["slice", _enc(value.start, index), _enc(value.stop, index), _enc(value.step, index)]
    if value is Ellipsis:
        return ["..."]
    if isinstance(value, torch.SymInt):
        raise Uncanonical("symbolic size in an argument")
    raise Uncanonical(f"argument of type {type(value).__name__}")


def canonical_graph(gm: torch.fx.GraphModule, *, trusted_only: bool = False,
                    placeholder_meta: bool = True) -> tuple[list[Any], list[np.ndarray]]:
    """A JSON-able description of ``gm`` (node order, ops, arguments, placeholder metadata)
    and the bytes of every ``get_attr`` tensor. Raises :class:`Uncanonical`."""
    index: dict[torch.fx.Node, int] = {}
    nodes: list[Any] = []
    constants: list[np.ndarray] = []
    for i, node in enumerate(gm.graph.nodes):
        index[node] = i
        if node.op == "placeholder":
            nodes.append(["P", tensor_meta(node.meta.get("val")) if placeholder_meta else None])
        elif node.op == "get_attr":
            obj: Any = gm
            for part in str(node.target).split("."):
                obj = getattr(obj, part)
            if not isinstance(obj, torch.Tensor):
                raise Uncanonical(f"get_attr {node.target} is not a tensor")
            t = obj.detach().cpu().contiguous()
            nodes.append(["A", str(t.dtype), list(t.shape), len(constants)])
            constants.append(t.reshape(-1).view(torch.uint8).numpy() if t.numel() else np.zeros(0, np.uint8))
        elif node.op in ("call_function", "call_method"):
            nodes.append([node.op, target_name(node.target, trusted_only), _enc(node.args, index),
                          _enc(dict(node.kwargs), index)])
        elif node.op == "output":
            nodes.append(["O", _enc(node.args, index)])
        else:
            raise Uncanonical(f"{node.op} node {node.target}")
    return nodes, constants


# -- keys -------------------------------------------------------------------------------------
def _digest_graph(nodes: list[Any], constants: list[np.ndarray]) -> str:
    """One content hash over the canonical JSON and the constants' bytes (cheaper than feeding
    thousands of small values to the key builder one by one)."""
    h = content_hasher(json.dumps(nodes, separators=(",", ":"), allow_nan=False).encode())
    for c in constants:
        h.update(f"|{c.size}|".encode())
        h.update(memoryview(np.ascontiguousarray(c)).cast("B"))
    return h.hexdigest()


def partition_key(sub: torch.fx.GraphModule, names: Any, device: str, option_parts: dict[str, Any]) -> str | None:
    """The key of one partition's MLGraph, or None when the graph cannot be described."""
    try:
        nodes, constants = canonical_graph(sub)
    except Uncanonical:
        return None
    return graph_cache_key("torch", {
        "kind": "partition", "graph": _digest_graph(nodes, constants),
        "names": [list(names.inputs), list(names.outputs)], "device": device, "options": option_parts,
        "torch": torch.__version__, "integration": source_digest()})


def dynamo_key(gm: torch.fx.GraphModule, example_inputs: list[Any], device: str,
               option_parts: dict[str, Any]) -> str | None:
    """The key of a whole dynamo graph, or None when it cannot be keyed safely
    (modules, parameters, non-torch functions, symbolic shapes)."""
    if any(True for _ in gm.parameters()) or any(True for _ in gm.buffers()):
        return None
    try:
        nodes, constants = canonical_graph(gm, trusted_only=True, placeholder_meta=False)
        signature = [tensor_meta(x) for x in example_inputs]
    except Uncanonical:
        return None
    state = {"grad": torch.is_grad_enabled(), "inference_mode": torch.is_inference_mode_enabled(),
             "autocast": [torch.is_autocast_enabled(d) for d in ("cpu", "cuda")],
             "default_dtype": str(torch.get_default_dtype())}
    return graph_cache_key("torch", {
        "kind": "dynamo", "graph": _digest_graph(nodes, constants), "inputs": signature, "state": state,
        "device": device, "options": option_parts, "torch": torch.__version__, "integration": source_digest()})


def signature_text(example_inputs: list[Any]) -> str:
    parts = []
    for x in example_inputs:
        if isinstance(x, torch.Tensor):
            parts.append(f"{str(x.dtype).replace('torch.', '')}{list(x.shape)}")
        else:
            parts.append(type(x).__name__)
    text = ", ".join(parts)
    return text if len(text) < 300 else text[:297] + "..."


# -- load / save ------------------------------------------------------------------------------
def _warn_once(what: str, exc: BaseException) -> None:
    tag = f"{what}:{type(exc).__name__}"
    if tag not in _WARNED:
        _WARNED.add(tag)
        warnings.warn(f"webnn: graph cache {what} failed, continuing without it: {exc}", RuntimeWarning,
                      stacklevel=3)


def load(context: MLContext, key: str | None, kind: str) -> MLGraph | None:
    """The cached graph under ``key`` or None (a miss, or a cache that cannot be read)."""
    if key is None or not getattr(context, "cache_enabled", False):
        return None
    try:
        graph = context.load_graph(key)
    except NotFoundError:
        count(f"{kind}_misses")
        return None
    except (NotSupportedError, OSError, ValueError) as exc:
        _warn_once("load", exc)
        return None
    count(f"{kind}_hits")
    return graph


def save(context: MLContext, key: str | None, graph: MLGraph) -> bool:
    """Save ``graph`` under ``key``; a full or unusable cache warns and returns False."""
    if key is None or not getattr(context, "cache_enabled", False):
        return False
    try:
        context.save_graph(key, graph)
    except QuotaExceededError as exc:
        count("save_failures")
        warnings.warn(f"webnn: graph cache full, partition not saved: {exc}", RuntimeWarning, stacklevel=3)
        return False
    except Exception as exc:  # a cache that cannot keep the graph must not break the compile: warn
        count("save_failures")
        _warn_once("save", exc)
        return False
    count("saves")
    return True
