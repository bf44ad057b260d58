"""The torch backend object: device buffers, compile, export/load for the cache."""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np
import torch

from ...dtypes import numpy_dtype
from ...graph import Graph
from ...operand import MLOperandDescriptor
from ...ops._registry import OPS
from .. import register_backend
from . import onednn_blob
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
        found = {"torch": torch.__version__, "numpy": np.__version__,
                 "webnn": _webnn_version()}
        if self._device.type == "cpu" and onednn_blob.available():
            # Entries may hold oneDNN-blocked weights, whose layout depends on the CPU's ISA.
            found["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        return found

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
        """The compiled form for the graph cache: the optimised IR (JSON-safe) and the
        prepared constants (compute type, as CPU arrays), one array ``c<id>`` each."""
        graph = executable.graph
        header: dict[str, Any] = {"format": _EXPORT_FORMAT, "device_type": self._device.type,
                                  "ir": graph.header(), "constants": {}}
        arrays = {}
        packable = self._device.type == "cpu" and onednn_blob.available()
        for cid in sorted(set(executable.constants) | set(executable.prepared)):
            prepared = executable.prepared.get(cid)
            if packable and onednn_blob.is_packed(prepared):
                # Only its prepacked form is read: store that, so loading skips the reorder.
                data, descriptor = onednn_blob.to_arrays(prepared)
                # Its shape is the reader's (OIHW for an OHWI filter of an nhwc conv2d), not the IR's.
                permutation = executable.prepared_permutation.get(cid)
                header["constants"][str(cid)] = {"packed": f"p{cid}", "descriptor": f"m{cid}",
                                                 "shape": list(prepared.shape),
                                                 "permutation": None if permutation is None else list(permutation)}
                arrays[f"p{cid}"], arrays[f"m{cid}"] = data, descriptor
                continue
            t = (executable.constants[cid] if cid in executable.constants
                 else _dense(prepared, executable.prepared_permutation.get(cid)))
            array = t.detach().cpu().numpy()
            header["constants"][str(cid)] = {"array": f"c{cid}", "dtype": array.dtype.str}
            arrays[f"c{cid}"] = array
        return header, arrays

    def load(self, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> TorchExecutable:
        """Rebuild an executable from :meth:`export` output: no pass, no weight preparation.

        ``arrays`` become the executable's constants as they are (zero-copy on the CPU
        when writable). The loaded IR's ``constants`` are truthful: a lazy mapping that
        converts a prepared constant back to its storage type only if someone reads it.
        Raises ValueError when the header does not describe a graph for this device.
        """
        if header.get("format") != _EXPORT_FORMAT or header.get("device_type") != self._device.type:
            raise ValueError(f"export format {header.get('format')!r} for {header.get('device_type')!r}, "
                             f"expected {_EXPORT_FORMAT!r} for {self._device.type!r}")
        ir = header["ir"]
        table = header["constants"]
        if sorted(int(c) for c in table) != sorted(int(c) for c in ir["constants"]):
            raise ValueError("the constant table does not match the IR's constants")
        descs = {int(k): MLOperandDescriptor(v["dataType"], tuple(v["shape"])) for k, v in ir["operands"].items()}
        prepared: dict[int, torch.Tensor] = {}
        packed: dict[int, torch.Tensor] = {}
        packed_buffers: list[np.ndarray] = []
        permutations: dict[int, tuple[int, ...] | None] = {}
        for key, entry in table.items():
            cid = int(key)
            desc = descs[cid]
            if "packed" in entry:
                if self._device.type != "cpu" or desc.data_type not in ("float32", "float16"):
                    raise ValueError(f"constant {cid}: a packed {desc.data_type} weight on {self._device.type}")
                data, descriptor = onednn_blob.aligned(arrays[entry["packed"]]), arrays[entry["descriptor"]]
                shape = tuple(int(d) for d in entry.get("shape", desc.shape))
                permutation = entry.get("permutation")
                if permutation is not None and (sorted(permutation) != list(range(len(shape)))
                                                or tuple(shape[i] for i in _inverse(permutation)) != desc.shape):
                    raise ValueError(f"constant {cid}: packed shape {list(shape)} and permutation {permutation} "
                                     f"do not give {list(desc.shape)}")
                packed[cid] = onednn_blob.from_arrays(data, descriptor, shape)  # PackedWeightError: ValueError
                permutations[cid] = None if permutation is None else tuple(permutation)
                packed_buffers.append(data)  # the tensor reads these bytes in place
                continue
            array = arrays[entry["array"]]
            want = compute_dtype(desc.data_type, self._device)
            if array.dtype != _NUMPY_OF[want] or tuple(array.shape) != desc.shape:
                raise ValueError(f"constant {cid}: stored {array.dtype} {list(array.shape)}, expected "
                                 f"{want} {list(desc.shape)}")
            if not array.flags.writeable:
                array = array.copy()
            t = torch.from_numpy(array)
            prepared[cid] = t if self._device.type == "cpu" else t.to(self._device)
        graph = Graph.from_header({**ir, "constants": []}, {})  # the constants come next, lazily
        graph.constants = _PreparedConstants({**prepared, **packed}, descs, permutations)  # true values, if read
        executable = TorchExecutable(graph, self._device, prepared, packed)
        executable.keep_alive.extend(packed_buffers)
        return executable

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


_EXPORT_FORMAT = "torch-executable-1"
_NUMPY_OF = {torch.float32: np.dtype(np.float32), torch.float16: np.dtype(np.float16),
             torch.int32: np.dtype(np.int32), torch.int64: np.dtype(np.int64),
             torch.int8: np.dtype(np.int8), torch.uint8: np.dtype(np.uint8)}


class _PreparedConstants(MutableMapping):
    """A loaded graph's ``constants``: the true values in storage type, from the prepared
    tensors, converted on first read (a read-only view where no conversion is needed)."""

    def __init__(self, prepared: Mapping[int, torch.Tensor], descs: Mapping[int, MLOperandDescriptor],
                 permutations: Mapping[int, tuple[int, ...] | None] | None = None) -> None:
        self._prepared = dict(prepared)
        self._descs = descs
        self._permutations = dict(permutations or {})
        self._values: dict[int, np.ndarray] = {}

    def __getitem__(self, cid: int) -> np.ndarray:
        if cid not in self._values:
            if cid not in self._prepared:
                raise KeyError(cid)
            desc = self._descs[cid]
            value = _dense(self._prepared[cid], self._permutations.get(cid)).detach().cpu().numpy()
            target = numpy_dtype(desc.data_type)
            if desc.data_type == "uint64":
                value = value.view(np.uint64)
            elif value.dtype != target:
                value = value.astype(target)
            else:
                value = value.view()
            value.flags.writeable = False
            self._values[cid] = value
        return self._values[cid]

    def __setitem__(self, cid: int, value: np.ndarray) -> None:
        self._prepared.pop(cid, None)
        self._values[cid] = value

    def __delitem__(self, cid: int) -> None:
        if cid not in self._prepared and cid not in self._values:
            raise KeyError(cid)
        self._prepared.pop(cid, None)
        self._values.pop(cid, None)

    def __contains__(self, cid: object) -> bool:  # without converting anything
        return cid in self._prepared or cid in self._values

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(set(self._prepared) | set(self._values)))

    def __len__(self) -> int:
        return len(set(self._prepared) | set(self._values))


def _inverse(permutation: list[int] | tuple[int, ...]) -> tuple[int, ...]:
    inverse = [0] * len(permutation)
    for i, p in enumerate(permutation):
        inverse[p] = i
    return tuple(inverse)


def _dense(value: torch.Tensor, permutation: tuple[int, ...] | None) -> torch.Tensor:
    """A constant's value from its prepared form (a packed tensor made from the constant
    permuted by ``permutation``), in the constant's own layout."""
    if value.layout == torch._mkldnn:
        value = value.to_dense()
    return value if permutation is None else value.permute(_inverse(permutation)).contiguous()


@functools.cache
def _webnn_version() -> str:
    """The installed distribution's version ("dev" from a source tree); read once: parsing
    the package metadata took longer than the rest of a cache hit's bookkeeping."""
    try:
        return importlib.metadata.version("webnn")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


register_backend("torch", TorchBackend)
