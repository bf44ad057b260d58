"""Model inputs and outputs on the command line: ``--input NAME=FILE.npy``, random
inputs of the declared shapes, output summaries and the comparison with the host.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import CLIError


@dataclass(frozen=True)
class TensorSpec:
    """One model input: name, numpy dtype and the shape fed (dynamic axes set to 1)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    #: Axes whose size the model leaves open (each fed as 1 unless ``--input`` says otherwise).
    dynamic: tuple[int, ...] = field(default=())

    def describe(self) -> str:
        dims = ["?" if i in self.dynamic else str(d) for i, d in enumerate(self.shape)]
        return f"{self.dtype.name}[{', '.join(dims)}]"


def parse_input_args(values: Sequence[str] | None) -> dict[str, str]:
    """``["x=a.npy", ...]`` -> ``{"x": "a.npy"}``; a malformed entry is a usage error."""
    out: dict[str, str] = {}
    for text in values or ():
        name, sep, path = text.partition("=")
        if not sep or not name or not path:
            raise CLIError(f"--input expects NAME=FILE.npy, got {text!r}")
        if name in out:
            raise CLIError(f"--input {name!r} given twice")
        out[name] = path
    return out


def load_feeds(specs: Sequence[TensorSpec], files: Mapping[str, str], seed: int) -> tuple[dict[str, np.ndarray],
                                                                                           dict[str, str]]:
    """Arrays for every input: from ``files`` (by name, or by position ``0``, ``1``...),
    else random of the declared type and shape (seeded by ``seed`` and the input's
    position). Returns the feeds and where each came from."""
    by_name = {s.name: s for s in specs}
    resolved: dict[str, str] = {}
    for key, path in files.items():
        if key in by_name:
            resolved[key] = path
        elif key.isdigit() and int(key) < len(specs):
            resolved[specs[int(key)].name] = path
        else:
            names = ", ".join(repr(s.name) for s in specs) or "none"
            raise CLIError(f"--input {key!r}: the model has no input of that name (its inputs: {names}; "
                           "a position 0, 1, ... works too)")
    feeds: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    for position, spec in enumerate(specs):
        if spec.name in resolved:
            feeds[spec.name] = read_npy(spec, resolved[spec.name])
            sources[spec.name] = resolved[spec.name]
        else:  # one stream per input: its values do not depend on which others came from files
            feeds[spec.name] = random_array(spec, np.random.default_rng((seed, position)))
            sources[spec.name] = f"random (seed {seed})"
    return feeds, sources


def read_npy(spec: TensorSpec, path: str) -> np.ndarray:
    """Load one ``.npy`` file (no pickles) and check it against the input's dtype and shape."""
    if not os.path.isfile(path):
        raise CLIError(f"--input {spec.name}: no such file: {path}")
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise CLIError(f"--input {spec.name}: {path} is not a readable .npy file ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise CLIError(f"--input {spec.name}: {path} holds several arrays (.npz); give one .npy per input")
    if array.dtype != spec.dtype:
        raise CLIError(f"--input {spec.name}: {path} is {array.dtype.name}, the model wants {spec.dtype.name}")
    if array.ndim != len(spec.shape) or any(
            got != want for i, (got, want) in enumerate(zip(array.shape, spec.shape)) if i not in spec.dynamic):
        raise CLIError(f"--input {spec.name}: {path} has shape {list(array.shape)}, the model wants "
                       f"{spec.describe()}")
    return np.ascontiguousarray(array)


def random_array(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """Uniform [0, 1) floats, integers in [0, 4), random booleans: safe for most models
    (give real data with ``--input`` where indices must stay in a range)."""
    kind = spec.dtype.kind
    if kind == "f":
        return rng.random(spec.shape, dtype=np.float64).astype(spec.dtype)
    if kind in "iu":
        return rng.integers(0, 4, spec.shape).astype(spec.dtype)
    if kind == "b":
        return rng.random(spec.shape) < 0.5
    raise CLIError(f"input {spec.name!r} has type {spec.dtype}, which the command line cannot make up; "
                   "give it with --input")


def _num(value: float) -> float | str:
    """A JSON-safe float ("nan"/"inf" as strings)."""
    return float(value) if math.isfinite(value) else str(value)


def summarize(name: str, array: np.ndarray, reference: np.ndarray | None = None) -> dict[str, Any]:
    """Name, dtype, shape, min/max/mean, and the difference from the host's output."""
    array = np.asarray(array)
    out: dict[str, Any] = {"name": name, "dtype": array.dtype.name, "shape": list(array.shape)}
    if array.size and array.dtype.kind in "fiub":
        values = array.astype(np.float64)
        out.update(min=_num(values.min()), max=_num(values.max()), mean=_num(values.mean()))
    if reference is not None:
        out["vs_host"] = compare(array, np.asarray(reference))
    return out


def compare(got: np.ndarray, want: np.ndarray) -> dict[str, Any]:
    """``max_abs_diff`` for floats, ``mismatches`` for integers/booleans; shape or dtype
    differences are reported as such."""
    if got.shape != want.shape:
        return {"match": False, "detail": f"shape {list(got.shape)} vs host {list(want.shape)}"}
    if got.dtype.kind == "f" or want.dtype.kind == "f":
        a, b = got.astype(np.float64), want.astype(np.float64)
        both_nan = np.isnan(a) & np.isnan(b)
        diff = np.where(both_nan, 0.0, np.abs(a - b))
        worst = float(diff.max()) if diff.size else 0.0
        scale = float(np.abs(b[np.isfinite(b)]).max()) if np.isfinite(b).any() else 0.0
        ok = math.isfinite(worst) and worst <= 1e-3 * max(1.0, scale)
        return {"match": bool(ok), "max_abs_diff": _num(worst)}
    mismatches = int(np.count_nonzero(got != want))
    return {"match": mismatches == 0, "mismatches": mismatches}


def describe_diff(result: Mapping[str, Any] | None) -> str:
    """One cell of the outputs table."""
    if result is None:
        return "-"
    if "detail" in result:
        return f"[red]{result['detail']}[/red]"
    if "max_abs_diff" in result:
        value = result["max_abs_diff"]
        text = f"{value:.2g}" if isinstance(value, float) else str(value)
        return text if result["match"] else f"[red]{text}[/red]"
    n = result["mismatches"]
    return "equal" if n == 0 else f"[red]{n} differ[/red]"


def fmt_stat(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("-" if value is None else str(value))
