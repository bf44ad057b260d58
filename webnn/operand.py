"""Operand descriptors and symbolic operands (spec: ``MLOperandDescriptor``, ``MLOperand``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .dtypes import ITEM_SIZES, check_data_type

if TYPE_CHECKING:
    from .builder import MLGraphBuilder

#: Spec limit on elements per tensor.
MAX_ELEMENTS = 2**31 - 1


def _check_shape(shape: object, what: str) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        try:
            shape = tuple(shape)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"{what}: shape must be a sequence of ints, got {shape!r}") from None
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int,)) and not hasattr(d, "__index__"):
            raise TypeError(f"{what}: shape must be a sequence of ints, got {shape!r}")
        d = int(d)
        if d <= 0:
            raise TypeError(f"{what}: every dimension must be > 0, got shape {list(shape)}")
        dims.append(d)
    if math.prod(dims) > MAX_ELEMENTS:
        raise TypeError(f"{what}: shape {dims} has more than 2**31 - 1 elements")
    return tuple(dims)


@dataclass(frozen=True)
class MLOperandDescriptor:
    """An operand's data type and shape (spec: ``MLOperandDescriptor``)."""

    data_type: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        check_data_type(self.data_type, "MLOperandDescriptor.data_type")
        object.__setattr__(self, "shape", _check_shape(self.shape, "MLOperandDescriptor"))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def byte_length(self) -> int:
        """Bytes as the spec counts them (sub-byte types packed)."""
        return math.ceil(self.size * ITEM_SIZES[self.data_type])

    def to_dict(self) -> dict[str, Any]:
        """The spec's dictionary form: ``{"dataType": ..., "shape": [...]}``."""
        return {"dataType": self.data_type, "shape": list(self.shape)}

    @classmethod
    def coerce(cls, value: object, what: str = "descriptor") -> MLOperandDescriptor:
        """Accept a descriptor or a mapping with ``dataType``/``data_type`` and ``shape``."""
        if isinstance(value, MLOperandDescriptor):
            return value
        if isinstance(value, Mapping):
            dtype = value.get("dataType", value.get("data_type"))
            if dtype is None or "shape" not in value:
                raise TypeError(f"{what}: expected keys 'dataType' and 'shape', got {sorted(value)}")
            check_data_type(dtype, f"{what}.dataType")
            return cls(dtype, _check_shape(value["shape"], what))
        raise TypeError(f"{what}: expected an MLOperandDescriptor or a dict, got {type(value).__name__}")


class MLOperand:
    """A symbolic value in a graph under construction (spec: ``MLOperand``).

    ``data_type`` and ``shape`` are attributes, as in the spec.
    """

    __slots__ = ("_builder", "_id", "descriptor", "_label")

    def __init__(self, builder: MLGraphBuilder, operand_id: int, descriptor: MLOperandDescriptor,
                 label: str = "") -> None:
        self._builder = builder
        self._id = operand_id
        self.descriptor = descriptor
        self._label = label

    @property
    def data_type(self) -> str:
        """Spec: ``MLOperand.dataType``."""
        return self.descriptor.data_type

    @property
    def shape(self) -> tuple[int, ...]:
        """Spec: ``MLOperand.shape``."""
        return self.descriptor.shape

    @property
    def rank(self) -> int:
        return len(self.descriptor.shape)

    def __repr__(self) -> str:
        return f"MLOperand(id={self._id}, data_type={self.data_type!r}, shape={list(self.shape)})"
