"""webnn: the W3C Web Neural Network API in Python, on torch (CPU and CUDA).

Public face: ``ml`` / :class:`ML` (create a context), :class:`MLContext`,
:class:`MLGraphBuilder`, :class:`MLOperand`, :class:`MLGraph`, :class:`MLTensor`,
:class:`MLOperandDescriptor` and the error types. Spec names in PEP 8 form.
"""

from __future__ import annotations

from .builder import MLGraphBuilder
from .context import ML, MLContext, MLGraph, ml
from .errors import (
    DOMException,
    InvalidStateError,
    NotFoundError,
    NotSupportedError,
    OperationError,
    QuotaExceededError,
    UnknownError,
)
from .operand import MLOperand, MLOperandDescriptor
from .tensor import MLTensor

__version__ = "0.1.0"

__all__ = [
    "ML",
    "DOMException",
    "InvalidStateError",
    "MLContext",
    "MLGraph",
    "MLGraphBuilder",
    "MLOperand",
    "MLOperandDescriptor",
    "MLTensor",
    "NotFoundError",
    "NotSupportedError",
    "OperationError",
    "QuotaExceededError",
    "UnknownError",
    "ml",
]
