"""Run one WPT WebNN conformance case (the JSON form in ``shared/conformance/wpt``).

Builds the case's graph with MLGraphBuilder (camelCase names and option keys mapped
to their PEP 8 form), runs it with ``compute`` and compares every output with WPT's
own tolerance rule (ULP or ATOL, see the data's README).
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

import webnn
from webnn.dtypes import numpy_dtype

SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().replace("n_d", "nd")


OP_NAMES = {"gatherND": "gather_nd", "scatterND": "scatter_nd", "isNaN": "is_nan"}


def literal(value: Any) -> Any:
    if isinstance(value, str):
        if value in SPECIAL:
            return SPECIAL[value]
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        return value
    if isinstance(value, list):
        return [literal(v) for v in value]
    if isinstance(value, dict):
        return {snake(k): literal(v) for k, v in value.items()}
    return value


def to_array(data: Any, descriptor: dict[str, Any]) -> np.ndarray:
    shape = tuple(descriptor["shape"])
    dtype = numpy_dtype(descriptor["dataType"])
    values = literal(data if isinstance(data, list) else [data])
    size = math.prod(shape)
    if len(values) == 1 and size != 1:
        values = values * size
    if dtype.kind in "iu":
        return np.array([int(v) for v in values], dtype=dtype).reshape(shape)
    with np.errstate(over="ignore"):  # e.g. 1e39 is +Infinity as float32, as WPT intends
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


@cache
def load_file(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def build_and_run(context: webnn.MLContext, case: dict[str, Any]) -> dict[str, np.ndarray]:
    builder = webnn.MLGraphBuilder(context)
    graph = case["graph"]
    env: dict[str, Any] = {}
    feeds: dict[str, np.ndarray] = {}
    for name, spec in graph["inputs"].items():
        array = to_array(spec["data"], spec["descriptor"])
        desc = {"dataType": spec["descriptor"]["dataType"], "shape": spec["descriptor"]["shape"]}
        if spec.get("constant"):
            env[name] = builder.constant(desc, array)
        else:
            env[name] = builder.input(name, desc)
            feeds[name] = array

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value in env:
            return env[value]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {snake(k): resolve(v) for k, v in value.items()}
        return literal(value)

    for operator in graph["operators"]:
        method = getattr(builder, OP_NAMES.get(operator["name"], snake(operator["name"])))
        args, kwargs = [], {}
        for argument in operator["arguments"]:
            ((key, value),) = argument.items()
            if key == "options":
                kwargs.update(resolve(value))
            else:
                args.append(resolve(value))
        result = method(*args, **kwargs)
        outs = operator["outputs"]
        if isinstance(outs, list):
            for name, operand in zip(outs, result):
                env[name] = operand
        else:
            env[outs] = result
    named = {name: env[name] for name in graph["expectedOutputs"]}
    # An expected output that is a graph input or constant cannot be a graph output (spec).
    compiled = builder.build(named)
    return context.compute(compiled, feeds)


def _ulp_f32(x: np.ndarray) -> np.ndarray:
    bits = np.abs(x.astype(np.float32)).view(np.int32).astype(np.int64)
    return np.where(x < 0, -bits, bits)


def compare(actual: np.ndarray, expected: dict[str, Any], tolerance: dict[str, Any]) -> str | None:
    """None if ``actual`` matches ``expected`` under WPT's rule, else a description."""
    want = to_array(expected["data"], expected["descriptor"])
    dtype = expected["descriptor"]["dataType"]
    if list(actual.shape) != list(want.shape):
        return f"shape {list(actual.shape)} != expected {list(want.shape)}"
    if actual.dtype != want.dtype:
        return f"dtype {actual.dtype} != expected {want.dtype}"
    a, w = actual.reshape(-1), want.reshape(-1)
    if not isinstance(expected["data"], list) and a.size > 1000:
        a, w = a[:1000], w[:1000]
    metric, value = tolerance["metricType"], tolerance["value"]
    if dtype in ("float32", "float16"):
        both_nan = np.isnan(a) & np.isnan(w)
        equal = (a == w) | both_nan
        if metric == "ATOL":
            err = np.abs(a.astype(np.float64) - w.astype(np.float64))
        elif dtype == "float32":
            err = np.abs(_ulp_f32(a) - _ulp_f32(w)).astype(np.float64)
        else:
            ab = a.astype(np.float16).view(np.uint16).astype(np.int64)
            wb = w.astype(np.float16).view(np.uint16).astype(np.int64)
            err = np.abs(ab - wb).astype(np.float64)
            zeros = (a == 0) & (w == 0)
            equal = equal | zeros
    else:
        equal = a == w
        err = np.abs(a.astype(object) - w.astype(object)).astype(np.float64)
    bad = ~equal & ~(err <= value)
    if bad.any():
        i = int(np.argmax(bad))
        return (f"{int(bad.sum())}/{a.size} elements off ({metric} {value}); first at {i}: "
                f"got {a[i]!r}, expected {w[i]!r} (error {err[i]})")
    return None
