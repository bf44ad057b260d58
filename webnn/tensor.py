"""MLTensor: a device buffer bound to a context (spec: ``MLTensor``).

Interoperates with numpy (``__array__``) and torch/DLPack (``__dlpack__``) as our
extension; both are refused for tensors that were not created ``readable=True``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InvalidStateError
from .operand import MLOperandDescriptor

if TYPE_CHECKING:
    from .context import MLContext


class MLTensor:
    """A typed buffer owned by a context (spec: ``MLTensor``).

    ``readable``/``writable`` say whether ``read_tensor``/``write_tensor`` may be used,
    as in the spec's ``MLTensorDescriptor``.
    """

    __slots__ = ("_context", "descriptor", "readable", "writable", "_buffer", "_destroyed", "__weakref__")

    def __init__(self, context: MLContext, descriptor: MLOperandDescriptor, buffer: Any,
                 readable: bool, writable: bool) -> None:
        self._context = context
        self.descriptor = descriptor
        self.readable = readable
        self.writable = writable
        self._buffer = buffer
        self._destroyed = False

    @property
    def data_type(self) -> str:
        """Spec: ``MLTensor.dataType``."""
        return self.descriptor.data_type

    @property
    def shape(self) -> tuple[int, ...]:
        """Spec: ``MLTensor.shape``."""
        return self.descriptor.shape

    @property
    def context(self) -> MLContext:
        return self._context

    def destroy(self) -> None:
        """Release the buffer (spec: ``MLTensor.destroy``); idempotent."""
        self._destroyed = True
        self._buffer = None

    def _alive(self, what: str) -> Any:
        if self._destroyed:
            raise InvalidStateError(f"{what}: the MLTensor has been destroyed")
        return self._buffer

    def _readable(self, what: str) -> Any:
        buffer = self._alive(what)
        if not self.readable:
            raise TypeError(f"{what}: the MLTensor was not created with readable=True")
        return buffer

    # -- interop (extension) -------------------------------------------------------
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self._context.read_tensor(self)
        return array if dtype is None else array.astype(dtype)

    def __dlpack__(self, *args: Any, **kwargs: Any) -> Any:
        self._context._sync()
        return self._readable("__dlpack__").__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> Any:
        return self._readable("__dlpack_device__").__dlpack_device__()

    def __repr__(self) -> str:
        return (f"MLTensor(data_type={self.data_type!r}, shape={list(self.shape)}, "
                f"device={self._context.device!r}, readable={self.readable}, writable={self.writable})")
