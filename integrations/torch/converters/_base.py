"""What every ATen converter shares: the registry, the conversion context, checks.

A converter is ``fn(cx: ConvertContext, node: torch.fx.Node) -> MLOperand | list``
registered for one or more ATen ``OpOverload`` s with the WebNN ops it emits and a
capability check ``check(query: SupportQuery, node) -> reason | None``. The
partitioner asks the same registry (:data:`REGISTRY`), so what is claimed is what
is converted. Shapes, dtypes and constants come from the node's fake-tensor
metadata (``node.meta["val"]``), never from running anything.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.fx

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import ConverterRegistry, SupportQuery

from ..dtypes import dtype_name, webnn_type

#: ATen OpOverload -> converter, shared by support checks and conversion.
REGISTRY: ConverterRegistry[Any] = ConverterRegistry("torch")

aten = torch.ops.aten

Check = Callable[[SupportQuery, torch.fx.Node], "str | None"]


def converter(*targets: Any, webnn_ops: Iterable[str] = (), check: Check | None = None
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a converter for ``targets`` (ATen OpOverloads)."""
    return REGISTRY.register(*targets, webnn_ops=tuple(webnn_ops), check=check)


# -- metadata -----------------------------------------------------------------------
def val(node: Any) -> Any:
    """The fake value of an FX node (tensor, tuple of tensors, or Python scalar)."""
    if isinstance(node, torch.fx.Node):
        return node.meta.get("val")
    return node


def dtype_of(arg: Any) -> torch.dtype | None:
    """The torch dtype of a node's (first) tensor value; None for Python scalars."""
    v = val(arg)
    if isinstance(v, (tuple, list)):
        v = v[0] if v else None
    return v.dtype if isinstance(v, torch.Tensor) else None


def shape_of(arg: Any) -> tuple[int, ...]:
    v = val(arg)
    if isinstance(v, (tuple, list)):
        v = v[0]
    return tuple(int(d) for d in v.shape)


def rank_of(arg: Any) -> int:
    return len(shape_of(arg))


def out_dtype(node: torch.fx.Node) -> torch.dtype:
    d = dtype_of(node)
    if d is None:
        raise TypeError(f"{node.target}: output has no tensor value")
    return d


def arg(node: torch.fx.Node, index: int, name: str, default: Any = None) -> Any:
    """Positional-or-keyword argument of an ATen call, by schema position and name."""
    if index < len(node.args):
        return node.args[index]
    return node.kwargs.get(name, default)


def is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, torch.fx.Node)


def norm_dim(dim: int, rank: int) -> int:
    """A dim as torch takes it (negative from the end; rank 0 accepts 0/-1) -> 0..rank-1."""
    r = max(rank, 1)
    if not -r <= dim < r:
        raise TypeError(f"dimension {dim} out of range for rank {rank}")
    return dim % r


def norm_dims(dims: Sequence[int] | int | None, rank: int) -> list[int]:
    """Reduction dims: None or [] means all; a 0-d tensor has none (torch accepts 0/-1 there)."""
    if dims is None or rank == 0:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    if len(dims) == 0:
        return list(range(rank))
    return sorted({norm_dim(int(d), rank) for d in dims})


def promoted(*args: Any) -> torch.dtype:
    """torch's type promotion over tensors (by their metadata) and Python scalars."""
    rep: Any = None
    for a in args:
        v = val(a)
        if isinstance(v, torch.Tensor):
            cur: Any = torch.empty((1,) * min(v.dim(), 1), dtype=v.dtype, device="meta")
        elif isinstance(v, (bool, int, float)):
            cur = v
        else:
            continue
        if rep is None:
            rep = cur
            continue
        dt = torch.result_type(rep, cur)
        dims = max(_dims(rep), _dims(cur))
        if dims >= 0:
            rep = torch.empty((1,) * dims, dtype=dt, device="meta")
        else:
            rep = False if dt == torch.bool else (0.0 if dt.is_floating_point else 0)
    if rep is None:
        raise TypeError("no operand to promote")
    return rep.dtype if isinstance(rep, torch.Tensor) else torch.tensor(rep).dtype


def _dims(value: Any) -> int:
    return min(value.dim(), 1) if isinstance(value, torch.Tensor) else -1


# -- checks --------------------------------------------------------------------------
def dtype_reason(query: SupportQuery, op: str, dtype: torch.dtype | None, operand: str | None = None
                 ) -> str | None:
    """None when WebNN ``op`` takes ``dtype`` (for ``operand``), else why not."""
    if dtype is None:
        return None
    wt = webnn_type(dtype)
    if wt is None:
        return f"dtype {dtype_name(dtype)} has no WebNN type"
    if not query.op_supported(op):
        return f"WebNN op {op} not supported by this context"
    if not query.data_type_ok(op, wt, operand):
        return f"dtype {dtype_name(dtype)} not supported by WebNN {op}"
    return None


def first_reason(*reasons: str | None) -> str | None:
    return next((r for r in reasons if r), None)


def output_dtype_check(op: str) -> Check:
    """Check that ``op`` takes the node's output dtype (ops computed in their output type)."""

    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        return dtype_reason(query, op, dtype_of(node))

    return check


def float_output_check(op: str) -> Check:
    """Check that the node computes floating-point values and ``op`` takes their dtype."""

    def check(query: SupportQuery, node: torch.fx.Node) -> str | None:
        dt = dtype_of(node)
        if dt is None or not dt.is_floating_point:
            return f"{op} computes only floating-point outputs here"
        return dtype_reason(query, op, dt)

    return check


def only_first_output_used(node: torch.fx.Node, what: str = "auxiliary outputs") -> str | None:
    """Reject a multi-output ATen node whose outputs other than [0] are read."""
    for user in node.users:
        if user.target is not _getitem or user.args[1] != 0:
            return f"{what} (output {user.args[1] if user.target is _getitem else '?'}) are used"
    return None


_getitem = operator.getitem


# -- conversion context ---------------------------------------------------------------------
class ConvertContext:
    """Builds one WebNN graph: FX node -> MLOperand(s), plus helpers for converters."""

    def __init__(self, builder: MLGraphBuilder) -> None:
        self.builder = builder
        self.env: dict[torch.fx.Node, Any] = {}
        self._scalars: dict[tuple[str, Any], MLOperand] = {}
        #: ids of operands that are graph inputs or constants (a graph output must not be one)
        self.leaves: set[int] = set()

    # operands -------------------------------------------------------------------------
    def operand(self, value: Any, dtype: torch.dtype | None = None) -> MLOperand:
        """An FX node's operand (cast to ``dtype`` if given), or a scalar constant of ``dtype``."""
        if isinstance(value, torch.fx.Node):
            x = self.env[value]
            if isinstance(x, (list, tuple)):
                raise TypeError(f"{value.name} has several outputs; expected one tensor")
            src = dtype_of(value)
            if dtype is not None and src is not None and src != dtype:
                return self.cast(x, src, dtype)
            return x
        if dtype is None:
            raise TypeError(f"a scalar operand {value!r} needs a dtype")
        return self.scalar(value, dtype)

    def scalar(self, value: Any, dtype: torch.dtype) -> MLOperand:
        """A 0-d constant holding ``value`` in ``dtype`` (cached per graph)."""
        if isinstance(value, bool) and dtype != torch.bool:
            value = int(value)
        key = (dtype_name(dtype), value if not (isinstance(value, float) and math.isnan(value)) else "nan")
        cached = self._scalars.get(key)
        if cached is not None:
            return cached
        array = torch.tensor(value, dtype=dtype)
        op = self.constant(array)
        self._scalars[key] = op
        return op

    def constant(self, tensor: torch.Tensor) -> MLOperand:
        """A constant from a (real, CPU-copyable) tensor; bool becomes uint8 0/1."""
        t = tensor.detach().to("cpu")
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        wt = webnn_type(t.dtype)
        if wt is None:
            raise TypeError(f"constant of dtype {dtype_name(t.dtype)} has no WebNN type")
        array = t.contiguous().numpy() if t.dtype not in (torch.uint32, torch.uint64) else \
            np.frombuffer(t.contiguous().view(torch.int32 if t.dtype == torch.uint32 else torch.int64)
                          .numpy().tobytes(), dtype=np.uint32 if t.dtype == torch.uint32 else np.uint64
                          ).reshape(tuple(t.shape))
        op = self.builder.constant(array)
        self.leaves.add(id(op))
        return op

    # conversions --------------------------------------------------------------------
    def cast(self, x: MLOperand, src: torch.dtype, dst: torch.dtype) -> MLOperand:
        """``x`` (holding torch ``src`` values) as torch ``dst`` values, with torch's semantics."""
        if src == dst:
            return x
        b = self.builder
        if dst == torch.bool:
            zero = self.scalar(0, src)
            return b.not_equal(x, zero)
        target = webnn_type(dst)
        if target is None:
            raise TypeError(f"cast to {dtype_name(dst)}: no WebNN type")
        if x.data_type == target:
            return x
        return b.cast(x, target)

    def to_bool(self, value: Any) -> MLOperand:
        """A node's value as uint8 0/1 (truthiness, as torch's logical ops take it)."""
        src = dtype_of(value)
        x = self.operand(value)
        return x if src == torch.bool else self.cast(x, src, torch.bool)

    def reshape(self, x: MLOperand, shape: Sequence[int]) -> MLOperand:
        shape = [int(d) for d in shape]
        if list(x.shape) == shape:
            return x
        return self.builder.reshape(x, shape)
