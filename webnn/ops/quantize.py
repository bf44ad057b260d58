"""quantizeLinear and dequantizeLinear.

Spec sections: "quantizeLinear", "dequantizeLinear", "blockwise broadcast the shapes".
``scale`` and ``zeroPoint`` have the input's rank and each of their dimensions divides
the input's: every scale element covers a block of the input (per-tensor, per-axis and
block-wise quantisation are all this one rule).

Extension beyond the spec text at c515210d: int4 and uint4 are accepted wherever the
spec allows int8/uint8 here (dequantizeLinear's input and zeroPoint, quantizeLinear's
zeroPoint and output), as the WPT conformance vectors and Chromium's implementation do.
The spec's tables do not list them yet, so each op declares them in its registration
(``@op(...)``) instead of the generated spec table being edited.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..dtypes import FLOAT_TYPES, SUB_BYTE_TYPES
from ..operand import MLOperand
from . import _common as c
from ._registry import Emit, op

#: Integer types of quantized data: the spec's four plus int4/uint4 (see the module note).
QUANTIZED_TYPES = ("uint8", "int8", "uint32", "int32") + SUB_BYTE_TYPES


def blockwise_broadcastable(shape_from: Sequence[int], shape_to: Sequence[int]) -> bool:
    """Spec: "blockwise broadcast the shapes" (same rank, each dimension divides the target's)."""
    return len(shape_from) == len(shape_to) and all(t % f == 0 for f, t in zip(shape_from, shape_to))


def _scale_and_zero_point(name: str, input: MLOperand, scale: object,  # noqa: A002
                          zero_point: object) -> tuple[MLOperand, MLOperand]:
    """The shape steps both ops share: ranks, equal shapes, blockwise broadcastable."""
    s = c.operand(name, "scale", scale)
    z = c.operand(name, "zero_point", zero_point)
    assert s is not None and z is not None
    for label, value in (("scale", s), ("zero_point", z)):
        if value.rank != input.rank:
            raise c.fail(name, f"{label} rank must equal input rank {input.rank}, got {value.rank} "
                               f"(shape {list(value.shape)})")
    if s.shape != z.shape:
        raise c.fail(name, f"zero_point shape must equal scale shape {list(s.shape)}, "
                           f"got {list(z.shape)}")
    if not blockwise_broadcastable(s.shape, input.shape):
        raise c.fail(name, f"scale shape {list(s.shape)} is not blockwise broadcastable to input "
                           f"shape {list(input.shape)} (each input dimension must be a multiple)")
    return s, z


@op(other_operand_types={"zeroPoint": QUANTIZED_TYPES})
def quantize_linear(input: MLOperand, scale: MLOperand, zero_point: MLOperand  # noqa: A002
                    ) -> Emit:
    """``clamp(roundEven(input / scale) + zero_point)`` saturated to the zero point's type.

    ``scale`` and ``zero_point`` are blockwise broadcast to the input; the output has the
    input's shape and the zero point's data type.
    """
    name = "quantize_linear"
    s = c.operand(name, "scale", scale)
    z = c.operand(name, "zero_point", zero_point)
    c.data_types(name, "scale", s, FLOAT_TYPES)
    c.same_type(name, "scale", s, input, "input")
    c.data_types(name, "zero_point", z, QUANTIZED_TYPES)
    s, z = _scale_and_zero_point(name, input, s, z)
    return Emit([input, s, z], [c.desc(z.data_type, input.shape)])


@op(extra_input_data_types=SUB_BYTE_TYPES)
def dequantize_linear(input: MLOperand, scale: MLOperand, zero_point: MLOperand  # noqa: A002
                      ) -> Emit:
    """``(input - zero_point) * scale`` with ``scale``/``zero_point`` blockwise broadcast.

    The output has the input's shape and the scale's (floating-point) data type.
    """
    name = "dequantize_linear"
    s = c.operand(name, "scale", scale)
    z = c.operand(name, "zero_point", zero_point)
    c.data_types(name, "scale", s, FLOAT_TYPES)
    c.data_types(name, "zero_point", z, QUANTIZED_TYPES)
    c.same_type(name, "zero_point", z, input, "input")
    s, z = _scale_and_zero_point(name, input, s, z)
    return Emit([input, s, z], [c.desc(s.data_type, input.shape)])
