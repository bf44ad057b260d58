"""The model's flatbuffer, read with TFLite's own schema: operators, attributes, tensors.

Op attributes (strides, padding, fused activations, axes...) and constant data come
from here rather than from the runtime's ``builtin_data`` C structs, whose layouts
change between versions. The schema module is the one the installed runtime ships
(``tensorflow/lite/python/schema_py_generated.py`` or ai-edge-litert's copy), loaded
from its file so that reading a model does not import all of tensorflow; it needs
only the ``flatbuffers`` package both runtimes depend on.

A model file is memory-mapped, not read: the digest (BLAKE3, part of every cache
key) and the constants are taken from the mapping, so a warm start neither copies
the weights nor hashes them twice. TFLite maps the same file itself, so the pages
are shared and usually already resident.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from webnn.hashing import content_digest

_SCHEMA_FILES = (
    ("tensorflow", "lite/python/schema_py_generated.py"),
    ("ai_edge_litert", "schema_py_generated.py"),
    ("tflite_runtime", "schema_py_generated.py"),
)
_schema_lock = threading.Lock()
_schema: ModuleType | None = None

#: Schema TensorType -> numpy dtype (the types this integration can carry).
TENSOR_TYPES: dict[int, np.dtype] = {
    0: np.dtype(np.float32), 1: np.dtype(np.float16), 2: np.dtype(np.int32), 3: np.dtype(np.uint8),
    4: np.dtype(np.int64), 6: np.dtype(np.bool_), 7: np.dtype(np.int16), 9: np.dtype(np.int8),
    10: np.dtype(np.float64), 12: np.dtype(np.uint64), 15: np.dtype(np.uint32), 16: np.dtype(np.uint16),
}
#: Schema TensorType -> C TfLiteType (what the runtime's tensors carry).
SCHEMA_TO_C_TYPE = {0: 1, 1: 10, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 10: 11, 11: 12, 12: 13,
                    13: 14, 14: 15, 15: 16, 16: 17, 17: 18, 18: 19}


def schema() -> ModuleType:
    """TFLite's generated flatbuffer schema module, from whichever runtime is installed."""
    global _schema
    with _schema_lock:
        if _schema is not None:
            return _schema
        tried = []
        for package, rel in _SCHEMA_FILES:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                continue
            for root in spec.submodule_search_locations:
                path = Path(root) / rel
                tried.append(str(path))
                if path.is_file():
                    name = "webnn.integrations.tflite._tflite_schema"
                    mod_spec = importlib.util.spec_from_file_location(name, path)
                    assert mod_spec is not None and mod_spec.loader is not None
                    module = importlib.util.module_from_spec(mod_spec)
                    sys.modules[name] = module
                    mod_spec.loader.exec_module(module)
                    _schema = module
                    return module
        raise ImportError("webnn.integrations.tflite: no TFLite flatbuffer schema found; install "
                          f"tensorflow-cpu==2.21.0 or ai-edge-litert (looked at {tried or 'nothing'})")


@dataclass
class Quant:
    """Affine quantization of one tensor (per-tensor when ``scale`` has one element)."""

    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64
    axis: int

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1


@dataclass
class Tensor:
    """One tensor of a subgraph as the flatbuffer declares it."""

    index: int
    name: str
    type_code: int  # schema TensorType
    shape: tuple[int, ...]
    signature: tuple[int, ...]
    data: np.ndarray | None  # constant data (a read-only view of the model bytes), else None
    quant: Quant | None
    is_variable: bool

    @property
    def dtype(self) -> np.dtype | None:
        return TENSOR_TYPES.get(self.type_code)

    @property
    def type_name(self) -> str:
        return _enum_name(schema().TensorType, self.type_code)


@dataclass
class Op:
    """One operator: its builtin name, tensor indices (-1 for an absent optional input), options."""

    index: int
    name: str  # BuiltinOperator name ("CONV_2D", ...) or "CUSTOM:<code>"
    code: int
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any  # the schema's *OptionsT object, or None


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass
class Model:
    """A parsed .tflite model. ``digest`` is the BLAKE3 of its bytes (part of cache keys)."""

    digest: str
    subgraphs: list[Subgraph]
    metadata: dict[str, bytes] = field(default_factory=dict)
    size: int = 0
    #: The file mapping the constants are views of (None for a model given as bytes).
    mapping: mmap.mmap | None = field(default=None, repr=False, compare=False)

    def truncated(self) -> bool:
        """True when the mapped file is now shorter than the mapping: reading the constants
        past its new end would kill the process (SIGBUS), so nothing may read them."""
        if self.mapping is None:
            return False
        try:
            return self.mapping.size() < len(self.mapping)
        except (OSError, ValueError):  # the file is gone or unreadable: assume the worst
            return True

    def unchanged(self) -> bool:
        """False when the mapped file's bytes no longer hash to ``digest`` (rewritten in
        place since it was mapped): a graph converted from them must not be saved under
        a key naming ``digest``. Always True for a model given as bytes."""
        if self.mapping is None:
            return True
        return not self.truncated() and model_digest(self.mapping) == self.digest


def _enum_name(enum_cls: type, value: int) -> str:
    for k, v in vars(enum_cls).items():
        if not k.startswith("_") and v == value:
            return k
    return str(value)


_op_names: dict[int, str] = {}


def builtin_name(code: int) -> str:
    """BuiltinOperator name of a builtin code (e.g. 3 -> "CONV_2D")."""
    if not _op_names:
        for k, v in vars(schema().BuiltinOperator).items():
            if not k.startswith("_") and isinstance(v, int):
                _op_names.setdefault(v, k)
    return _op_names.get(code, f"BUILTIN_{code}")


def _ints(values: Any) -> tuple[int, ...]:
    """A flatbuffer int vector (a list, a numpy array or None) as a tuple."""
    if values is None:
        return ()
    return tuple(np.asarray(values, dtype=np.int64).reshape(-1).tolist())


def _array(values: Any, dtype: Any) -> np.ndarray:
    if values is None:
        return np.zeros(0, dtype)
    return np.asarray(values, dtype=dtype).reshape(-1)


def model_digest(data: Any) -> str:
    """BLAKE3 hex digest of a model's bytes (anything with the buffer protocol), on
    every core for large models: a 100 MB model hashes in about 15 ms."""
    return content_digest(data)


def parse_model(data: bytes | bytearray | memoryview | mmap.mmap, digest: str | None = None) -> Model:
    """Parse a .tflite flatbuffer (bytes or a read-only mapping, not copied; constants
    are views of it). ``digest``: the bytes' :func:`model_digest` when the caller has it.
    Raises ValueError for bytes that are not a TFLite flatbuffer."""
    buf = bytes(data) if isinstance(data, (bytearray, memoryview)) else data
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError(f"not a TFLite flatbuffer (file identifier {buf[4:8]!r}, expected b'TFL3')")
    s = schema()
    try:
        model = s.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as exc:  # a truncated or corrupt buffer
        raise ValueError(f"corrupt TFLite flatbuffer: {type(exc).__name__}: {exc}") from exc
    buffers = model.buffers or []
    raw = np.frombuffer(buf, dtype=np.uint8)

    def buffer_bytes(index: int) -> np.ndarray | None:
        if index <= 0 or index >= len(buffers):
            return None
        b = buffers[index]
        if b.offset and b.offset > 1:  # data stored after the flatbuffer (models over 2 GB)
            if b.offset + b.size > len(buf):
                raise ValueError(f"buffer {index} lies outside the model ({b.offset}+{b.size} > {len(buf)})")
            return raw[b.offset:b.offset + b.size]
        if b.data is None or len(b.data) == 0:
            return None
        return np.asarray(b.data, dtype=np.uint8)

    codes = []
    for oc in model.operatorCodes or []:
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = builtin_name(code)
        if name == "CUSTOM":
            custom = oc.customCode.decode() if isinstance(oc.customCode, bytes) else str(oc.customCode)
            name = f"CUSTOM:{custom}"
        codes.append((code, name, int(oc.version)))

    subgraphs = []
    for si, sg in enumerate(model.subgraphs or []):
        tensors = []
        for ti, t in enumerate(sg.tensors or []):
            dtype = TENSOR_TYPES.get(int(t.type))
            payload = None if t.isVariable else buffer_bytes(int(t.buffer))
            shape = _ints(t.shape)
            if payload is not None and dtype is not None:
                count = int(np.prod(shape)) if shape else 1
                if payload.size != count * dtype.itemsize:
                    raise ValueError(f"tensor {ti} ({t.name!r}): buffer has {payload.size} bytes, its shape "
                                     f"{list(shape)} of {dtype} needs {count * dtype.itemsize}")
                payload = payload.view(dtype).reshape(shape)
                payload.flags.writeable = False
            quant = None
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale) > 0:
                quant = Quant(_array(q.scale, np.float32), _array(q.zeroPoint, np.int64),
                              int(q.quantizedDimension))
                if quant.zero_point.size == 0:
                    quant.zero_point = np.zeros(quant.scale.shape, np.int64)
            name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name or "")
            sig = _ints(t.shapeSignature) if t.shapeSignature is not None else shape
            tensors.append(Tensor(ti, name, int(t.type), shape, sig, payload, quant, bool(t.isVariable)))
        ops = []
        for oi, o in enumerate(sg.operators or []):
            code, name, version = codes[int(o.opcodeIndex)]
            ops.append(Op(oi, name, code, version, _ints(o.inputs), _ints(o.outputs), o.builtinOptions))
        sg_name = sg.name.decode() if isinstance(sg.name, bytes) else str(sg.name or "")
        subgraphs.append(Subgraph(si, sg_name, tensors, ops, _ints(sg.inputs), _ints(sg.outputs)))
    metadata = {}
    for m in model.metadata or []:
        key = m.name.decode() if isinstance(m.name, bytes) else str(m.name)
        payload = buffer_bytes(int(m.buffer))
        metadata[key] = bytes(payload) if payload is not None else b""
    return Model(digest or model_digest(buf), subgraphs, metadata, len(buf))


_cache_lock = threading.Lock()
_parsed: dict[str, Model] = {}


def load_model(data: bytes | bytearray | memoryview) -> Model:
    """``parse_model`` with a small per-process memo keyed by the bytes' digest
    (hashed once: the digest is handed to the parse)."""
    digest = model_digest(data)
    with _cache_lock:
        hit = _parsed.get(digest)
    if hit is not None:
        return hit
    model = parse_model(data, digest)
    with _cache_lock:
        _parsed[digest] = model
        while len(_parsed) > 8:
            _parsed.pop(next(iter(_parsed)))
    return model


def load_model_file(path: str) -> Model:
    """Parse a model file through a read-only memory map: the weights are neither read
    nor copied, only hashed (BLAKE3, about 15 ms for 100 MB) and viewed. Not memoized
    across calls: a file rewritten in place between two interpreters (even within one
    timestamp tick) gets a fresh digest. Raises ValueError for an empty or malformed
    file, OSError for one that cannot be opened."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise ValueError(f"not a TFLite flatbuffer: {path} is empty")
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)  # stays valid after close
    model = parse_model(mapped, model_digest(mapped))
    model.mapping = mapped
    return model
