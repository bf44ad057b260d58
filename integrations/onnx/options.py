"""Provider selection the way ORT users write it, and the WebNN provider's options.

``providers`` is a list of names or ``(name, options)`` pairs, optionally with a
parallel ``provider_options`` list, exactly as ``onnxruntime.InferenceSession`` takes
it. ``"WebNNExecutionProvider"`` is ours; every other name must be an ORT provider
available here and is handed to the ORT sessions that run the fallback nodes.
Option names for WebNN follow onnxruntime-web's WebNN EP (``deviceType``,
``powerPreference``, ``context``) plus ours for the graph cache. Unknown names and
bad values are errors that say what is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PROVIDER = "WebNNExecutionProvider"
CPU = "CPUExecutionProvider"

#: Option name -> what it means (the error message lists these).
OPTIONS = {
    "deviceType": "'cpu' or 'gpu' (onnxruntime-web WebNN EP; 'gpu' means CUDA here)",
    "powerPreference": "'default', 'high-performance' or 'low-power' (onnxruntime-web WebNN EP)",
    "context": "an existing webnn.MLContext to use (onnxruntime-web WebNN EP)",
    "cache": "'1'/'0' or a bool: use the persistent graph cache (default on)",
    "cacheDir": "directory of the graph cache (default: webnn's)",
    "origin": "cache partition name (default: webnn's)",
    "cacheKey": "string used instead of the model digest in cache keys",
    "minPartitionSize": "smallest number of nodes worth a WebNN graph (default 1)",
}
DEVICE_TYPES = ("cpu", "gpu")
POWER_PREFERENCES = ("default", "high-performance", "low-power")


@dataclass(frozen=True)
class WebNNOptions:
    """Parsed options of the WebNN provider."""

    device_type: str = "cpu"
    power_preference: str = "default"
    context: Any = None
    cache: bool = True
    cache_dir: str | None = None
    origin: str | None = None
    cache_key: str | None = None
    min_partition_size: int = 1

    def as_dict(self) -> dict[str, str]:
        """ORT's ``get_provider_options()`` form: every value a string."""
        out = {"deviceType": self.device_type, "powerPreference": self.power_preference,
               "cache": "1" if self.cache else "0", "minPartitionSize": str(self.min_partition_size)}
        for key, value in (("cacheDir", self.cache_dir), ("origin", self.origin), ("cacheKey", self.cache_key)):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class ProviderConfig:
    """Who runs what: WebNN options (None = WebNN not selected) and ORT's providers."""

    webnn: WebNNOptions | None
    ort_providers: tuple[str, ...]
    ort_options: tuple[dict[str, Any], ...]

    @property
    def names(self) -> list[str]:
        return ([PROVIDER] if self.webnn is not None else []) + list(self.ort_providers)


def parse_providers(providers: Sequence[Any] | None, provider_options: Sequence[Mapping[str, Any]] | None
                    ) -> ProviderConfig:
    """Validate ORT-style provider arguments (default: WebNN, then CPU)."""
    import onnxruntime as ort

    if providers is None:
        providers = [PROVIDER, CPU]
    if isinstance(providers, (str, bytes)) or not isinstance(providers, Sequence):
        raise ValueError(f"providers must be a list of provider names or (name, options) pairs, got {providers!r}")
    if provider_options is not None:
        if len(provider_options) != len(providers):
            raise ValueError(f"provider_options has {len(provider_options)} entries for {len(providers)} providers")
        if any(not isinstance(p, str) for p in providers):
            raise ValueError("'providers' and 'provider_options' should be the same length if both are given, "
                             "and providers given as (name, options) pairs cannot have provider_options too")
    available = ort.get_available_providers()
    webnn: WebNNOptions | None = None
    names: list[str] = []
    opts: list[dict[str, Any]] = []
    for k, entry in enumerate(providers):
        if isinstance(entry, str):
            name, options = entry, dict(provider_options[k]) if provider_options is not None else {}
        elif isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[0], str) \
                and isinstance(entry[1], Mapping):
            name, options = entry[0], dict(entry[1])
        else:
            raise ValueError(f"providers[{k}] must be a name or a (name, options dict) pair, got {entry!r}")
        if name in (*names, PROVIDER if webnn is not None else None):
            raise ValueError(f"provider {name!r} is listed twice")
        if name == PROVIDER:
            webnn = parse_webnn_options(options)
        elif name in available:
            names.append(name)
            opts.append(options)
        else:
            raise ValueError(f"unknown execution provider {name!r}; available: "
                             f"{', '.join([PROVIDER, *available])}")
    if CPU not in names:  # ORT always keeps its CPU provider as the last resort
        names.append(CPU)
        opts.append({})
    return ProviderConfig(webnn, tuple(names), tuple(opts))


def parse_webnn_options(options: Mapping[str, Any]) -> WebNNOptions:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        accepted = "; ".join(f"{k}: {v}" for k, v in OPTIONS.items())
        raise ValueError(f"{PROVIDER}: unknown option(s) {', '.join(map(repr, unknown))}; accepted: {accepted}")
    device = str(options.get("deviceType", "cpu")).lower()
    if device == "npu":
        raise ValueError(f"{PROVIDER}: deviceType 'npu' is not available here (this WebNN runs on 'cpu' and 'gpu')")
    if device not in DEVICE_TYPES:
        raise ValueError(f"{PROVIDER}: deviceType must be one of {', '.join(DEVICE_TYPES)}, got {device!r}")
    power = str(options.get("powerPreference", "default"))
    if power not in POWER_PREFERENCES:
        raise ValueError(f"{PROVIDER}: powerPreference must be one of {', '.join(POWER_PREFERENCES)}, got {power!r}")
    context = options.get("context")
    if context is not None:
        from webnn import MLContext

        if not isinstance(context, MLContext):
            raise ValueError(f"{PROVIDER}: context must be a webnn.MLContext, got {type(context).__name__}")
    min_size = options.get("minPartitionSize", 1)
    try:
        min_size = int(min_size)
    except (TypeError, ValueError):
        min_size = 0
    if min_size < 1:
        raise ValueError(f"{PROVIDER}: minPartitionSize must be an integer >= 1, "
                         f"got {options.get('minPartitionSize')!r}")
    return WebNNOptions(device, power, context, _flag(options.get("cache", True)),
                        _text(options, "cacheDir"), _text(options, "origin"), _text(options, "cacheKey"), min_size)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError(f"{PROVIDER}: cache must be '1'/'0' or a bool, got {value!r}")


def _text(options: Mapping[str, Any], key: str) -> str | None:
    value = options.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{PROVIDER}: {key} must be a non-empty string, got {value!r}")
    return value
