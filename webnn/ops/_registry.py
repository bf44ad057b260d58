"""The op registry: one definition per spec operation.

Each op is a pure function ``(operands..., *, options...) -> Emit`` decorated with
:func:`op`. It validates its arguments following the spec's algorithm and infers the
output descriptors; it never touches a backend. ``MLGraphBuilder`` gets one method per
registered op, so adding an op is one decorated function in ``webnn/ops/``.

The decorator checks the main input's data type and rank against the spec's
"Tensor limits" table (``_spec_table.py``) before the op's own checks run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..operand import MLOperand, MLOperandDescriptor
from ._spec_table import SPEC_OPS

#: Highest rank this implementation accepts where the spec says "N".
MAX_RANK = 8


@dataclass
class Emit:
    """What an op definition hands the builder: operand inputs, attributes, outputs."""

    inputs: list[MLOperand | None]
    outputs: list[MLOperandDescriptor]
    attrs: dict[str, Any] = field(default_factory=dict)
    #: Return a list even when there is one output (split, gru, lstm).
    multi: bool = False


@dataclass(frozen=True)
class OpDef:
    """A registered operation and its spec limits."""

    name: str
    spec_name: str
    fn: Callable[..., Emit]
    main_input: str
    input_data_types: tuple[str, ...]
    input_ranks: tuple[int, int]
    output_rule: str
    other_operands: tuple[tuple[str, str, str], ...]
    limits_type: str


OPS: dict[str, OpDef] = {}


def op(fn: Callable[..., Emit] | None = None, *, extra_input_data_types: Sequence[str] = (),
       other_operand_types: Mapping[str, Sequence[str]] | None = None) -> Any:
    """Register ``fn`` as the definition of the spec op of the same (snake-case) name.

    A trailing underscore is dropped, so ``max_`` defines ``max``. Used bare (``@op``) the
    limits are the spec table's; an op that accepts more than the table says (an
    extension documented at the op) declares it here, in its one registration:
    ``extra_input_data_types`` widens the main input's data types and
    ``other_operand_types`` replaces the data types of named other operands.
    """
    if fn is None:
        return lambda f: op(f, extra_input_data_types=extra_input_data_types,
                            other_operand_types=other_operand_types)
    name = fn.__name__.rstrip("_")
    if name not in SPEC_OPS:
        raise ValueError(f"{name} is not an op of the WebNN spec table")
    spec_name, main, dtypes, (rmin, rmax), out_rule, others, limits_type = SPEC_OPS[name]
    existing = OPS.get(name)
    if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
        raise ValueError(f"op {name} is defined twice")
    widened = dict(other_operand_types or {})
    unknown = set(widened) - {n for n, _t, _r in others}
    if unknown:
        raise ValueError(f"op {name} has no other operand {sorted(unknown)}")
    others = [(n, ", ".join(widened[n]) if n in widened else t, r) for n, t, r in others]
    OPS[name] = OpDef(name, spec_name, fn, main, tuple(dtypes) + tuple(extra_input_data_types),
                      (rmin, MAX_RANK if rmax is None else rmax), out_rule, tuple(others), limits_type)
    return fn


def check_main_input(opdef: OpDef, value: object) -> None:
    """Check the main input's type, data type and rank against the spec table."""
    values = value if opdef.name == "concat" else [value]
    if opdef.name == "concat":
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise TypeError(f"concat: inputs must be a non-empty sequence of MLOperand, got {value!r}")
    for v in values:  # type: ignore[union-attr]
        if not isinstance(v, MLOperand):
            raise TypeError(f"{opdef.name}: {opdef.main_input} must be an MLOperand, "
                            f"got {type(v).__name__}")
        if v.data_type not in opdef.input_data_types:
            raise TypeError(f"{opdef.name}: {opdef.main_input} data type must be one of "
                            f"{', '.join(opdef.input_data_types)}, got {v.data_type}")
        lo, hi = opdef.input_ranks
        if not lo <= v.rank <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise TypeError(f"{opdef.name}: {opdef.main_input} rank must be {want}, "
                            f"got {v.rank} (shape {list(v.shape)})")
