"""The torch backend object: device buffers, compile, export/load for the cache."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ...dtypes import numpy_dtype
from ...graph import Graph
from ...operand import MLOperandDescriptor
from ...ops._registry import OPS
from .. import register_backend
from .compiler import TorchExecutable
from .dtypes import STORAGE, compute_dtype
from .registry import find, load_all


class TorchBackend:
    """Lowers IR graphs to torch on one device ("cpu" or "cuda:N")."""

    name = "torch"

    def __init__(self, device: str) -> None:
        self.device = device
        self._device = torch.device(device)
        load_all()

    def versions(self) -> dict[str, str]:
        return {"torch": torch.__version__, "numpy": np.__version__,
                "webnn": importlib.metadata.version("webnn") if _installed() else "dev"}

    def supported_data_types(self, op: str) -> tuple[str, ...]:
        found = find(op, self._device.type)
        if found is None or op not in OPS:
            return ()
        spec = OPS[op].input_data_types
        return spec if found.data_types is None else tuple(d for d in spec if d in found.data_types)

    # -- compile / cache -----------------------------------------------------------
    def compile(self, graph: Graph) -> TorchExecutable:
        return TorchExecutable(graph, self._device)

    def export(self, executable: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The compiled form: optimised IR + prepared constants (compute type, CPU bytes)."""
        header = {"ir": executable.graph.header(), "constant_dtypes": {}}
        arrays = {}
        for cid, t in executable.constants.items():
            header["constant_dtypes"][str(cid)] = str(t.dtype).replace("torch.", "")
            arrays[f"c{cid}"] = t.detach().cpu().numpy()
        return header, arrays

    def load(self, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> TorchExecutable:
        """Rebuild an executable from :meth:`export` output without re-preparing weights."""
        ir = header["ir"]
        consts: dict[int, np.ndarray] = {}
        prepared: dict[int, torch.Tensor] = {}
        for cid in ir["constants"]:
            array = arrays[f"c{cid}"]
            want = compute_dtype(ir["operands"][str(cid)]["dataType"], self._device)
            t = torch.from_numpy(np.array(array, copy=True))
            if t.dtype != want:
                raise ValueError(f"constant {cid} has dtype {t.dtype}, expected {want}")
            prepared[int(cid)] = t.to(self._device)
            consts[int(cid)] = _placeholder(ir["operands"][str(cid)])
        graph = Graph.from_header(ir, consts)
        return TorchExecutable(graph, self._device, prepared)

    def evaluate(self, graph: Graph) -> dict[int, np.ndarray]:
        """Run a constant-only graph on the CPU (constant folding)."""
        exe = TorchExecutable(graph, torch.device("cpu"))
        outs = exe.run([])
        return {oid: self.to_numpy(t) for oid, t in zip(graph.outputs.values(), outs)}

    # -- buffers -------------------------------------------------------------------
    def alloc(self, desc: MLOperandDescriptor) -> torch.Tensor:
        return torch.zeros(desc.shape, dtype=STORAGE[desc.data_type], device=self._device)

    def write(self, buffer: torch.Tensor, array: np.ndarray) -> None:
        if buffer.device.type == "cpu":
            buffer.numpy()[...] = array
            return
        src = torch.from_numpy(np.array(array, copy=True, order="C"))
        buffer.copy_(src.pin_memory() if torch.cuda.is_available() else src, non_blocking=True)

    def read(self, buffer: torch.Tensor) -> np.ndarray:
        return buffer.detach().cpu().numpy().copy()

    def from_numpy(self, array: np.ndarray, desc: MLOperandDescriptor) -> torch.Tensor:
        if not array.flags.writeable:
            array = array.copy()
        t = torch.from_numpy(array)
        if self._device.type != "cpu":
            t = t.to(self._device, non_blocking=True)
        return t

    def to_numpy(self, value: torch.Tensor) -> np.ndarray:
        if value.device.type != "cpu":
            value = value.cpu()
        return value.numpy()

    def synchronize(self) -> None:
        if self._device.type == "cuda":
            torch.cuda.synchronize(self._device)


def _placeholder(desc: Mapping[str, Any]) -> np.ndarray:
    """A zero-stride stand-in so the IR keeps its constant ids (real bytes live on the device)."""
    dtype = numpy_dtype(desc["dataType"])
    shape = tuple(desc["shape"])
    return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape))


def _installed() -> bool:
    try:
        importlib.metadata.version("webnn")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


register_backend("torch", TorchBackend)
