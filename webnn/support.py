"""``op_support_limits()``: the spec's limits intersected with what a backend lowers.

The result mirrors the spec's ``MLOpSupportLimits`` in PEP 8 form: top-level
``preferred_input_layout``, ``max_tensor_byte_length``, ``input``, ``constant``,
``output``, then one entry per op the backend lowers, keyed by the builder
method name, holding one ``{"data_types": [...], "rank_range": {"min", "max"}}``
per operand (spec member names in snake case), and ``output``.
"""

from __future__ import annotations

import re
from typing import Any

from .dtypes import ALL_EIGHT
from .ops._registry import MAX_RANK, OPS, OpDef


def _limits(types: Any, rmin: int, rmax: int) -> dict[str, Any]:
    return {"data_types": list(types), "rank_range": {"min": rmin, "max": rmax}}


def _rank_rule(rule: str, main: tuple[int, int]) -> tuple[int, int]:
    rule = rule.strip()
    if rule in ("N", "same rank as input"):
        return main
    m = re.fullmatch(r"(\d+) to (\d+|N)", rule)
    if m:
        return int(m.group(1)), MAX_RANK if m.group(2) == "N" else int(m.group(2))
    if rule.isdigit():
        return int(rule), int(rule)
    return main


def _types_rule(rule: str, known: dict[str, list[str]]) -> list[str]:
    rule = rule.strip()
    if rule.startswith("same as "):
        return list(known.get(rule[len("same as "):], known["__main__"]))
    if rule == "any":
        return list(ALL_EIGHT)
    return [t.strip() for t in rule.split(",")]


def op_limits(opdef: OpDef, supported: tuple[str, ...]) -> dict[str, Any]:
    main_types = [t for t in opdef.input_data_types if t in supported]
    main_key = "inputs" if opdef.main_input == "inputs[i]" else opdef.main_input
    known = {"__main__": main_types, opdef.main_input: main_types, "input": main_types}
    entry = {_snake(main_key): _limits(main_types, *opdef.input_ranks)}
    for name, types, rank in opdef.other_operands:
        other = _types_rule(types, known)
        known[name] = other
        entry[_snake(name)] = _limits(other, *_rank_rule(rank, opdef.input_ranks))
    rule = opdef.output_rule
    if rule.startswith("outputs[") or "(" in rule:
        entry["outputs"] = _limits(main_types, 0, MAX_RANK)
    else:
        entry["output"] = _limits(_types_rule(rule, known), 0, MAX_RANK)
    return entry


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def op_support_limits(backend: Any) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "preferred_input_layout": "nchw",
        "max_tensor_byte_length": 2**31 - 1,
        "input": _limits(ALL_EIGHT, 0, MAX_RANK),
        "constant": _limits(ALL_EIGHT, 0, MAX_RANK),
        "output": _limits(ALL_EIGHT, 0, MAX_RANK),
    }
    for name, opdef in sorted(OPS.items()):
        supported = backend.supported_data_types(name)
        if supported:
            limits[name] = op_limits(opdef, supported)
    return limits
