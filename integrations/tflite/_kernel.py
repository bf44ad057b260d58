"""One delegate kernel: a TFLite node subset running as one compiled WebNN graph.

``prepare`` (called by the runtime whenever input shapes may have changed) reads the
partition's input shapes, gets the compiled graph for that signature from the
delegate (in memory, the graph cache, or a fresh build) and resizes the output
tensors to what the graph produces. ``invoke`` wraps the runtime's tensor buffers in
torch tensors without copying (the views are kept while the arena pointers stay the
same), runs the graph and writes each result into its output buffer (one copy).
Arena pointers are read at every invoke: they are valid only from invoke on.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

import torch

from . import _capi as C
from ._build import Signature, input_name, partition_signature
from ._model import Model, Subgraph
from .report import PartitionInfo

if TYPE_CHECKING:
    from ._delegate import WebNNDelegate

_TORCH = {"float32": torch.float32, "float16": torch.float16, "int32": torch.int32, "uint32": torch.uint32,
          "int64": torch.int64, "uint64": torch.uint64, "int8": torch.int8, "uint8": torch.uint8}
_TENSOR_SIZE = ctypes.sizeof(C.TfLiteTensor)
_DATA_OFFSET = C.TfLiteTensor.data.offset
_DIMS_OFFSET = C.TfLiteTensor.dims.offset
_BYTES_OFFSET = C.TfLiteTensor.bytes.offset


def _tensor_address(ctx: C.TfLiteContext, index: int) -> int:
    return int(ctx.tensors) + index * _TENSOR_SIZE


def _view(ptr: int, nbytes: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype)
    raw = (ctypes.c_char * nbytes).from_address(ptr)
    return torch.frombuffer(raw, dtype=dtype).view(shape)


class PartitionKernel:
    """The runtime's kernel for one WebNN partition (see the module docstring)."""

    def __init__(self, owner: WebNNDelegate, model: Model, sub: Subgraph, nodes: tuple[int, ...],
                 outputs: tuple[int, ...], info: PartitionInfo) -> None:
        self.owner = owner
        self.model = model
        self.sub = sub
        self.nodes = nodes
        self.outputs = outputs
        self.info = info
        self.signature: Signature | None = None
        self.graph: Any = None
        self._inputs: list[tuple[int, str, torch.dtype, tuple[int, ...]]] = []
        self._outs: list[tuple[int, str, torch.dtype, tuple[int, ...]]] = []
        self._views: dict[int, tuple[int, torch.Tensor]] = {}

    # -- runtime callbacks --------------------------------------------------------------
    def prepare(self, ctxp: Any, nodep: Any) -> None:
        ctx = ctxp.contents
        shapes = {}
        for index in C.int_array(nodep.contents.inputs or 0):
            if index >= 0:
                dims_ptr = ctypes.c_void_p.from_address(_tensor_address(ctx, index) + _DIMS_OFFSET).value
                shapes[index] = tuple(C.int_array(dims_ptr or 0))
        signature = partition_signature(self.sub, self.nodes, shapes, self.outputs)
        if signature != self.signature:
            self.graph = self.owner.graph_for(self.model, self.sub, self.nodes, signature, self.info)
            self.signature = signature
            self._inputs = [(t, input_name(t), _TORCH[dt], shape) for t, dt, shape in signature.inputs]
            self._outs = []
            for t in self.outputs:
                desc = self.graph.outputs[input_name(t)]
                self._outs.append((t, input_name(t), _TORCH[desc.data_type], tuple(desc.shape)))
            self._views.clear()
        for t, _, _, shape in self._outs:
            address = _tensor_address(ctx, t)
            dims_ptr = ctypes.c_void_p.from_address(address + _DIMS_OFFSET).value
            if tuple(C.int_array(dims_ptr or 0)) != shape or not dims_ptr:
                status = ctx.ResizeTensor(ctxp, address, C.new_int_array(list(shape)))
                if status != C.K_OK:
                    raise RuntimeError(f"ResizeTensor of output tensor {t} to {list(shape)} failed")

    def invoke(self, ctxp: Any) -> None:
        ctx = ctxp.contents
        feeds = {}
        for t, name, dtype, shape in self._inputs:
            feeds[name] = self._bind(ctx, t, dtype, shape)
        device = self.owner.context.device
        if device != "cpu":
            feeds = {k: v.to(device) for k, v in feeds.items()}
        results = self.owner.context.compute_native(self.graph, feeds)
        for t, name, dtype, shape in self._outs:
            self._bind(ctx, t, dtype, shape).copy_(results[name])

    def release(self) -> None:
        self._views.clear()
        self.graph = None

    # -- buffers ----------------------------------------------------------------------------
    def _bind(self, ctx: C.TfLiteContext, index: int, dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
        address = _tensor_address(ctx, index)
        ptr = ctypes.c_void_p.from_address(address + _DATA_OFFSET).value or 0
        cached = self._views.get(index)
        if cached is not None and cached[0] == ptr:
            return cached[1]
        nbytes = ctypes.c_size_t.from_address(address + _BYTES_OFFSET).value
        want = dtype.itemsize
        for d in shape:
            want *= d
        if not ptr and want:
            raise RuntimeError(f"tensor {index} has no buffer")
        if nbytes < want:
            raise RuntimeError(f"tensor {index} holds {nbytes} bytes, the graph needs {want} for {list(shape)}")
        view = _view(ptr, want, dtype, shape)
        self._views[index] = (ptr, view)
        return view
