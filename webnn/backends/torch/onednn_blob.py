"""oneDNN-prepacked CPU weights as bytes, so the graph cache can store them reordered.

A prepacked conv2d filter (``mkldnn._reorder_convolution_weight``) is a ``torch._mkldnn``
tensor: an opaque oneDNN memory descriptor over a blocked buffer. Reordering ResNet-50's
filters at load costs about as much as reading the whole cache entry, so the cache stores
the blocked bytes with their descriptor (torch's own serialisation of it,
``mkldnn._get_mkldnn_serialized_md``: what AOTInductor writes into its packages) and
loading wraps them again without a copy.

torch exposes the wrapping only through AOTInductor's C shim
(``aoti_torch_create_tensor_from_blob_v2``, part of its stable C ABI), so it is called
here with ctypes; everything it is given is checked first, and :func:`available` says
whether this torch build has what it needs. A descriptor written on one machine is only
used on a machine with the same torch version and CPU capability (the caller checks
:func:`signature`); a buffer from anywhere else is never handed to oneDNN.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

import numpy as np
import torch


class PackedWeightError(ValueError):
    """Packed bytes could not be turned back into a oneDNN tensor (nothing was run)."""


def signature() -> str:
    """What a stored descriptor is valid for: torch version and CPU capability."""
    return f"torch {torch.__version__}; cpu {torch.backends.cpu.get_cpu_capability()}"


@functools.cache
def _shim() -> tuple[Any, int, int, int] | None:
    """(create function, float32, cpu, mkldnn-layout codes) from libtorch, or None."""
    if not torch.backends.mkldnn.is_available():
        return None
    path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(path)
        create = lib.aoti_torch_create_tensor_from_blob_v2
        codes = []
        for name in ("aoti_torch_dtype_float32", "aoti_torch_device_type_cpu", "aoti_torch_layout__mkldnn"):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = ctypes.c_int32, []
            codes.append(int(fn()))
    except (OSError, AttributeError):
        return None
    create.restype = ctypes.c_int32
    create.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64),
                       ctypes.POINTER(ctypes.c_int64), ctypes.c_int64, ctypes.c_int32, ctypes.c_int32,
                       ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int32, ctypes.c_void_p,
                       ctypes.c_int64]
    if not hasattr(torch._C, "_aoti") or not hasattr(torch._C._aoti, "alloc_tensor_by_stealing_from_void_ptr"):
        return None
    return create, codes[0], codes[1], codes[2]


def available() -> bool:
    """Whether packed weights can be saved and restored with this torch build."""
    return _shim() is not None


def is_packed(value: object) -> bool:
    """Whether ``value`` is a oneDNN-layout float32 CPU tensor this module can save."""
    return isinstance(value, torch.Tensor) and value.layout == torch._mkldnn and value.dtype == torch.float32


def to_arrays(packed: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(blocked bytes, serialised descriptor) of a prepacked weight, both uint8 copies."""
    if not is_packed(packed):
        raise PackedWeightError(f"not a oneDNN float32 tensor: {packed.layout} {packed.dtype}")
    nbytes = int(torch.ops.mkldnn._nbytes(packed))
    raw = np.empty(nbytes + 64, np.uint8)
    data = raw[(-raw.ctypes.data) % 64:][:nbytes]
    ctypes.memmove(data.ctypes.data, torch.ops.mkldnn.data_ptr(packed), nbytes)
    descriptor = torch.ops.mkldnn._get_mkldnn_serialized_md(packed).numpy().copy()
    return data, descriptor


def aligned(data: np.ndarray) -> np.ndarray:
    """``data`` itself if it is a writable, 64-byte-aligned uint8 vector, else such a copy."""
    if data.flags.writeable and data.flags.c_contiguous and data.ctypes.data % 64 == 0:
        return data
    raw = np.empty(data.size + 64, np.uint8)
    start = (-raw.ctypes.data) % 64
    copy = raw[start:start + data.size]
    copy[...] = data.reshape(-1).view(np.uint8)
    return copy


def from_arrays(data: np.ndarray, descriptor: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    """A oneDNN tensor over ``data`` (no copy: keep ``data`` alive as long as the result).

    ``data`` must be a C-contiguous uint8 array, writable, 64-byte aligned; the result's
    byte size, shape and layout are checked against what was asked.
    """
    shim = _shim()
    if shim is None:
        raise PackedWeightError("this torch build cannot restore oneDNN tensors (no AOTInductor C shim)")
    create, f32, cpu, mkldnn_layout = shim
    if (data.dtype != np.uint8 or data.ndim != 1 or not data.flags.c_contiguous or not data.flags.writeable
            or data.ctypes.data % 64):
        raise PackedWeightError("packed bytes must be a writable, aligned, contiguous uint8 buffer")
    if descriptor.dtype != np.uint8 or descriptor.ndim != 1 or not descriptor.size:
        raise PackedWeightError("the packed weight descriptor must be non-empty uint8 bytes")
    if any(not isinstance(d, int) or d <= 0 for d in shape) or data.size < 4 * int(np.prod(shape)):
        raise PackedWeightError(f"{data.size} packed bytes cannot hold a float32 {list(shape)} weight")
    descriptor = np.ascontiguousarray(descriptor)
    rank = len(shape)
    sizes = (ctypes.c_int64 * rank)(*shape)
    strides = (ctypes.c_int64 * rank)(*(int(np.prod(shape[i + 1:])) for i in range(rank)))
    handle = ctypes.c_void_p()
    code = create(data.ctypes.data, rank, sizes, strides, 0, f32, cpu, 0, ctypes.byref(handle),
                  mkldnn_layout, descriptor.ctypes.data, descriptor.size)
    if code != 0 or not handle.value:
        raise PackedWeightError(f"torch refused the packed weight (AOTI error {code})")
    capsule = _capsule(handle.value)
    tensor = torch._C._aoti.alloc_tensor_by_stealing_from_void_ptr(capsule)
    restored_bytes = int(torch.ops.mkldnn._nbytes(tensor)) if is_packed(tensor) else -1
    if tuple(tensor.shape) != tuple(shape) or restored_bytes != data.size:
        raise PackedWeightError(f"the packed weight restored as {tensor.layout} {list(tensor.shape)}, "
                                f"expected a oneDNN {list(shape)} tensor of {data.size} bytes")
    return tensor


def _capsule(address: int) -> object:
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(address, None, None)
