"""Options of the ``webnn`` torch.compile backend.

Given as ``torch.compile(model, backend="webnn", options={...})``; each also has an
environment variable (read when a graph is compiled, overridden by ``options``):

=====================  ==========================  ==============================================
option                 environment variable        meaning
=====================  ==========================  ==============================================
``device``             ``WEBNN_TORCH_DEVICE``      "cpu", "gpu", "cuda", "cuda:N"; default: the
                                                   device of the example inputs
``cache``              ``WEBNN_TORCH_CACHE``       use the persistent graph cache (default true)
``cache_dir``          ``WEBNN_CACHE_DIR``         cache directory (default: the core's)
``origin``             ``WEBNN_ORIGIN``            cache partition name (default: the core's)
``fallback``           ``WEBNN_TORCH_FALLBACK``    "allow": unsupported ops run in torch;
                                                   "raise": fail listing them (default "allow")
``min_partition_size`` ``WEBNN_TORCH_MIN_PARTITION`` smallest number of ATen ops worth a WebNN
                                                   graph; smaller partitions stay in torch (1)
``torch_ops``          ``WEBNN_TORCH_OPS``         ATen ops forced to torch: names such as
                                                   "aten.convolution" or "aten.add.Tensor"
                                                   (comma-separated in the variable)
``report``             ``WEBNN_TORCH_REPORT``      print each compiled graph's report to stderr
=====================  ==========================  ==============================================

Unknown keys and malformed values are a ``TypeError`` naming the valid choices.
Options are per compile call; nothing here changes process-wide torch settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FALLBACK_POLICIES = ("allow", "raise")

#: option name -> environment variable
ENV = {
    "device": "WEBNN_TORCH_DEVICE",
    "cache": "WEBNN_TORCH_CACHE",
    "cache_dir": "WEBNN_CACHE_DIR",
    "origin": "WEBNN_ORIGIN",
    "fallback": "WEBNN_TORCH_FALLBACK",
    "min_partition_size": "WEBNN_TORCH_MIN_PARTITION",
    "torch_ops": "WEBNN_TORCH_OPS",
    "report": "WEBNN_TORCH_REPORT",
}


@dataclass(frozen=True)
class BackendOptions:
    """Validated options of one compile call."""

    device: str | None = None
    cache: bool = True
    cache_dir: str | None = None
    origin: str | None = None
    fallback: str = "allow"
    min_partition_size: int = 1
    torch_ops: tuple[str, ...] = ()
    report: bool = False

    def key_parts(self) -> dict[str, Any]:
        """The options that change what is compiled (for cache keys)."""
        return {"min_partition_size": self.min_partition_size, "torch_ops": sorted(self.torch_ops)}


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        return value.strip().lower() in ("1", "true", "yes", "on")
    raise TypeError(f"webnn backend: option {name!r} must be a bool, got {value!r}")


def _device(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if text in ("cpu", "gpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise TypeError(f"webnn backend: option 'device' must be 'cpu', 'gpu', 'cuda' or 'cuda:N', got {value!r}")


def _ops(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"webnn backend: option 'torch_ops' must be a list of ATen op names, got {value!r}")
    out = []
    for name in value:
        out.append(name if name.startswith(("aten.", "prims.", "_operator.")) else f"aten.{name}")
    return tuple(sorted(set(out)))


def parse_options(options: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> BackendOptions:
    """Validate ``options`` (falling back to the environment variables) into a :class:`BackendOptions`."""
    environ = os.environ if environ is None else environ
    options = dict(options or {})
    unknown = sorted(set(options) - set(ENV))
    if unknown:
        raise TypeError(f"webnn backend: unknown option(s) {unknown}; valid options are {sorted(ENV)}")
    raw: dict[str, Any] = {}
    for name, var in ENV.items():
        if name in options:
            raw[name] = options[name]
        elif environ.get(var, "") != "":
            raw[name] = environ[var]
    out: dict[str, Any] = {}
    if "device" in raw:
        out["device"] = _device(raw["device"])
    for name in ("cache", "report"):
        if name in raw:
            out[name] = _bool(name, raw[name])
    for name in ("cache_dir", "origin"):
        if name in raw and raw[name] is not None:
            if not str(raw[name]):
                raise TypeError(f"webnn backend: option {name!r} must be a non-empty string, got {raw[name]!r}")
            out[name] = os.fspath(raw[name]) if name == "cache_dir" else str(raw[name])
    if "fallback" in raw:
        if raw["fallback"] not in FALLBACK_POLICIES:
            raise TypeError(f"webnn backend: option 'fallback' must be one of {list(FALLBACK_POLICIES)}, "
                            f"got {raw['fallback']!r}")
        out["fallback"] = raw["fallback"]
    if "min_partition_size" in raw:
        value = raw["min_partition_size"]
        try:
            size = int(value)
        except (TypeError, ValueError):
            size = 0
        if isinstance(value, bool) or size < 1 or (not isinstance(value, (int, str))):
            raise TypeError(f"webnn backend: option 'min_partition_size' must be an int >= 1, got {value!r}")
        out["min_partition_size"] = size
    if "torch_ops" in raw:
        out["torch_ops"] = _ops(raw["torch_ops"])
    return BackendOptions(**out)
