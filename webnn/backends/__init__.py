"""Backend registry.

A backend turns an optimised IR graph into an executable for one device, owns the
device buffers behind MLTensor, and says which ops and data types it lowers (the
source of ``MLContext.op_support_limits()``). Backends register a factory by name;
the torch backend (CPU and CUDA) is the built-in one and is imported lazily, so
``import webnn`` does not import torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from ..graph import Graph
from ..operand import MLOperandDescriptor


class Executable(Protocol):
    """A compiled graph: takes device tensors in ``input_names`` order, returns outputs."""

    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    def run(self, inputs: list[Any]) -> list[Any]: ...
    def run_into(self, inputs: list[Any], outputs: list[Any]) -> None: ...


class Backend(Protocol):
    """What a context needs from a backend."""

    name: str
    device: str

    def versions(self) -> dict[str, str]: ...
    def supported_data_types(self, op: str) -> tuple[str, ...]: ...
    def compile(self, graph: Graph) -> Executable: ...
    def export(self, executable: Executable) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...
    def load(self, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Executable: ...
    def evaluate(self, graph: Graph) -> dict[int, np.ndarray]: ...
    def alloc(self, desc: MLOperandDescriptor) -> Any: ...
    def write(self, buffer: Any, array: np.ndarray) -> None: ...
    def read(self, buffer: Any) -> np.ndarray: ...
    def from_numpy(self, array: np.ndarray, desc: MLOperandDescriptor) -> Any: ...
    def to_numpy(self, value: Any) -> np.ndarray: ...
    def synchronize(self) -> None: ...


_FACTORIES: dict[str, Callable[[str], Backend]] = {}


def register_backend(name: str, factory: Callable[[str], Backend]) -> None:
    """Register ``factory(device) -> Backend`` under ``name`` (idempotent for one factory)."""
    _FACTORIES[name] = factory


def create_backend(name: str, device: str) -> Backend:
    if name not in _FACTORIES and name == "torch":
        from .torch import backend as _torch_backend  # noqa: F401  (registers itself)
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise TypeError(f"unknown backend {name!r}; registered: {', '.join(sorted(_FACTORIES)) or 'none'}") from None
    return factory(device)


def resolve_device(device: Any, accelerated: bool) -> str:
    """Pick the device string ("cpu" or "cuda:N") for a context request."""
    from .torch.device import resolve

    return resolve(device, accelerated)
