"""ctypes mirrors of the TFLite C API structs the delegate touches (TFLite of TF 2.21).

The interpreter only needs a ``TfLiteDelegate*``; everything else is reached through
the ``TfLiteContext*`` the runtime hands to the callbacks. These mirrors follow
``tensorflow/lite/core/c/common.h`` of the pinned version (also what ai-edge-litert
2.3 ships). Two structs matter more than the others:

- ``TfLiteRegistration`` is passed *by value* to
  ``ReplaceNodeSubsetsWithDelegateKernels`` and has grown over versions; a short
  mirror makes the runtime read whatever follows it (e.g. a non-NULL
  ``registration_external``), so the full struct is mirrored here;
- ``TfLiteTensor`` and ``TfLiteNode`` are indexed by stride, so their sizes must be
  exact. :mod:`._layout` checks them against the live interpreter before the
  delegate claims anything.

Several ``TfLiteContext`` function pointers are NULL in full TFLite (``GetTensor``,
``GetEvalTensor``, the scratch and persistent buffer functions): the delegate
indexes ``context.tensors`` directly instead and never calls those.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    Union,
    c_bool,
    c_char_p,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)

import numpy as np

# TfLiteStatus
K_OK = 0
K_ERROR = 1

# TfLiteAllocationType
K_MEM_NONE, K_MMAP_RO, K_ARENA_RW, K_ARENA_RW_PERSISTENT, K_DYNAMIC, K_PERSISTENT_RO, K_CUSTOM = range(7)

# TfLiteDelegateFlags
FLAG_NONE = 0
FLAG_ALLOW_DYNAMIC_TENSORS = 1

#: TfLiteType (C enum) -> numpy dtype, for the types a partition may read or write.
C_TYPE_NUMPY: dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.int32), 3: np.dtype(np.uint8), 4: np.dtype(np.int64),
    6: np.dtype(np.bool_), 7: np.dtype(np.int16), 9: np.dtype(np.int8), 10: np.dtype(np.float16),
    11: np.dtype(np.float64), 13: np.dtype(np.uint64), 16: np.dtype(np.uint32),
}


class TfLiteIntArray(Structure):
    """``{int size; int data[];}``: read ``data`` through :func:`int_array`."""

    _fields_ = [("size", c_int)]


def int_array(ptr: int) -> list[int]:
    """The values of a ``TfLiteIntArray*`` (address), [] for NULL."""
    if not ptr:
        return []
    size = c_int.from_address(ptr).value
    if size <= 0:
        return []
    return list((c_int * size).from_address(ptr + ctypes.sizeof(c_int)))


class TfLiteQuantizationParams(Structure):
    _fields_ = [("scale", c_float), ("zero_point", c_int32)]


class TfLiteQuantization(Structure):
    _fields_ = [("type", c_int), ("params", c_void_p)]


class TfLitePtrUnion(Union):
    _fields_ = [("data", c_void_p)]


class TfLiteTensor(Structure):
    _fields_ = [
        ("type", c_int),
        ("data", TfLitePtrUnion),
        ("dims", c_void_p),  # TfLiteIntArray*
        ("params", TfLiteQuantizationParams),
        ("allocation_type", c_int),
        ("bytes", c_size_t),
        ("allocation", c_void_p),
        ("name", c_char_p),
        ("delegate", c_void_p),
        ("buffer_handle", c_int),
        ("data_is_stale", c_bool),
        ("is_variable", c_bool),
        ("quantization", TfLiteQuantization),
        ("sparsity", c_void_p),
        ("dims_signature", c_void_p),
    ]


class TfLiteNode(Structure):
    _fields_ = [
        ("inputs", c_void_p),  # TfLiteIntArray*
        ("outputs", c_void_p),
        ("intermediates", c_void_p),
        ("temporaries", c_void_p),
        ("user_data", c_void_p),
        ("builtin_data", c_void_p),
        ("custom_initial_data", c_void_p),
        ("custom_initial_data_size", c_int),
        ("delegate", c_void_p),
        ("might_have_side_effect", c_bool),
    ]


class TfLiteDelegateParams(Structure):
    _fields_ = [
        ("delegate", c_void_p),
        ("nodes_to_replace", c_void_p),  # TfLiteIntArray*
        ("input_tensors", c_void_p),
        ("output_tensors", c_void_p),
    ]


class TfLiteContext(Structure):
    pass


class TfLiteDelegate(Structure):
    pass


# Callback signatures (the runtime calls these; we only ever create them).
InitFn = CFUNCTYPE(c_void_p, POINTER(TfLiteContext), c_void_p, c_size_t)
FreeFn = CFUNCTYPE(None, POINTER(TfLiteContext), c_void_p)
NodeFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), POINTER(TfLiteNode))
ProfilingStringFn = CFUNCTYPE(c_char_p, POINTER(TfLiteContext), POINTER(TfLiteNode))
AsyncKernelFn = CFUNCTYPE(c_void_p, POINTER(TfLiteContext), POINTER(TfLiteNode))
DelegatePrepareFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), POINTER(TfLiteDelegate))


class TfLiteRegistration(Structure):
    """The full registration of TF 2.21 (88 bytes on LP64), passed by value."""

    _fields_ = [
        ("init", InitFn),
        ("free", FreeFn),
        ("prepare", NodeFn),
        ("invoke", NodeFn),
        ("profiling_string", ProfilingStringFn),
        ("builtin_code", c_int32),
        ("custom_name", c_char_p),
        ("version", c_int),
        ("registration_external", c_void_p),
        ("async_kernel", AsyncKernelFn),
        ("inplace_operator", c_uint64),
    ]


# Functions the runtime provides (we call these).
GetExecutionPlanFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), POINTER(c_void_p))
ResizeTensorFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), c_void_p, c_void_p)
# ReportError is variadic; it is always called with the format "%s" and one string.
ReportErrorFn = CFUNCTYPE(None, POINTER(TfLiteContext), c_char_p, c_char_p)
GetNodeAndRegistrationFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), c_int, POINTER(c_void_p), POINTER(c_void_p))
ReplaceNodeSubsetsFn = CFUNCTYPE(c_int, POINTER(TfLiteContext), TfLiteRegistration, c_void_p,
                                 POINTER(TfLiteDelegate))

TfLiteContext._fields_ = [
    ("tensors_size", c_size_t),
    ("GetExecutionPlan", GetExecutionPlanFn),
    ("tensors", c_void_p),  # TfLiteTensor*
    ("impl_", c_void_p),
    ("ResizeTensor", ResizeTensorFn),
    ("ReportError", ReportErrorFn),
    ("AddTensors", c_void_p),
    ("GetNodeAndRegistration", GetNodeAndRegistrationFn),
    ("ReplaceNodeSubsetsWithDelegateKernels", ReplaceNodeSubsetsFn),
    ("recommended_num_threads", c_int),
    ("GetExternalContext", c_void_p),
    ("SetExternalContext", c_void_p),
    ("allow_fp32_relax_to_fp16", c_bool),
    ("profiler", c_void_p),
    ("AllocatePersistentBuffer", c_void_p),
    ("AllocateBufferForEval", c_void_p),
    ("RequestScratchBufferInArena", c_void_p),
    ("GetScratchBuffer", c_void_p),
    ("ResizeTensorExplicit", c_void_p),
    ("PreviewDelegatePartitioning", c_void_p),
    ("GetTensor", c_void_p),
    ("GetEvalTensor", c_void_p),
    ("GetModelMetadata", c_void_p),
    ("AcquireSubgraphContext", c_void_p),
    ("ReleaseSubgraphContext", c_void_p),
]

TfLiteDelegate._fields_ = [
    ("data_", c_void_p),
    ("Prepare", DelegatePrepareFn),
    ("CopyFromBufferHandle", c_void_p),
    ("CopyToBufferHandle", c_void_p),
    ("FreeBufferHandle", c_void_p),
    ("flags", c_int64),
    ("opaque_delegate_builder", c_void_p),
]

#: Struct sizes of the pinned version on LP64 (checked at import and at Prepare).
EXPECTED_SIZES = {"TfLiteTensor": 112, "TfLiteNode": 80, "TfLiteRegistration": 88, "TfLiteDelegate": 56}
#: Nodes live in a ``std::vector<std::pair<TfLiteNode, TfLiteRegistration>>``.
NODE_STRIDE = EXPECTED_SIZES["TfLiteNode"] + EXPECTED_SIZES["TfLiteRegistration"]


def struct_sizes() -> dict[str, int]:
    return {"TfLiteTensor": ctypes.sizeof(TfLiteTensor), "TfLiteNode": ctypes.sizeof(TfLiteNode),
            "TfLiteRegistration": ctypes.sizeof(TfLiteRegistration),
            "TfLiteDelegate": ctypes.sizeof(TfLiteDelegate)}


def layout_problem() -> str | None:
    """None when these mirrors have the pinned sizes on this platform, else why not."""
    if ctypes.sizeof(c_void_p) != 8:
        return f"only 64-bit processes are supported (pointer size {ctypes.sizeof(c_void_p)})"
    sizes = struct_sizes()
    if sizes != EXPECTED_SIZES:
        return f"struct sizes {sizes} differ from the pinned TFLite layout {EXPECTED_SIZES}"
    return None


_libc = ctypes.CDLL(None)
_libc.malloc.restype = c_void_p
_libc.malloc.argtypes = [c_size_t]


def new_int_array(values: list[int]) -> int:
    """A ``TfLiteIntArray*`` made with the C allocator (``ResizeTensor`` takes ownership
    and frees it with ``free``). Returns the address; raises MemoryError on failure."""
    n = len(values)
    ptr = _libc.malloc(ctypes.sizeof(c_int) * (n + 1))
    if not ptr:
        raise MemoryError("malloc failed for a TfLiteIntArray")
    c_int.from_address(ptr).value = n
    if n:
        (c_int * n).from_address(ptr + ctypes.sizeof(c_int))[:] = [int(v) for v in values]
    return int(ptr)


def tensor_at(context: TfLiteContext, index: int) -> TfLiteTensor:
    """``context->tensors[index]`` (a view; valid while the context's tensor array is)."""
    return TfLiteTensor.from_address(context.tensors + index * ctypes.sizeof(TfLiteTensor))


def tensor_name(t: TfLiteTensor) -> str:
    raw = t.name
    return raw.decode("utf-8", "replace") if raw else ""
