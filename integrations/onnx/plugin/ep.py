"""One WebNN execution provider instance (one per ORT session), behind ``OrtEp``.

Options reach us the way ORT passes them to plugin EPs: as session config entries
``ep.<ep name>.<option>`` (from ``add_provider_for_devices(devices, {...})``, the
``providers=[(name, {...})]`` form, or the device's defaults). They are parsed by
the drop-in provider's ``parse_webnn_options``: the same names (``deviceType``,
``powerPreference``, ``cache``, ``cacheDir``, ``origin``, ``cacheKey``,
``minPartitionSize``) and the same errors for unknown names or bad values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from webnn import ml
from webnn.converters import SupportQuery

from ..options import parse_webnn_options
from . import report
from .capability import EP_NAME, decide
from .devices import device_type_for
from .graph import OrtGraphModel, to_model
from .kernel import PartitionKernel


class OptionError(ValueError):
    """A bad provider option; ORT reports it as INVALID_ARGUMENT."""

    ort_code = 2  # ORT_INVALID_ARGUMENT


def provider_options(config: Mapping[str, str]) -> dict[str, str]:
    """Our options out of a session's config entries (``ep.<ep name>.<key>``, name case-insensitive)."""
    prefix = f"ep.{EP_NAME.lower()}."
    return {key[len(prefix):]: value for key, value in config.items() if key.lower().startswith(prefix)}


class WebNNPluginEp:
    """The Python side of one ``OrtEp``: a WebNN context and the fused nodes compiled for it."""

    def __init__(self, options: Any, context: Any) -> None:
        self.options = options
        self.context = context
        self.query = SupportQuery(context.op_support_limits())
        self.kernels: list[PartitionKernel] = []
        self._prebuilt: dict[tuple[int, ...], Any] = {}
        self._last_report: report.EpReport | None = None

    def get_capability(self, graph: dict[str, Any]) -> list[list[int]]:
        gm = to_model(graph)
        decision = decide(gm, self.context, self.query, self.options)
        self._prebuilt.update(decision.prebuilt)
        rep = report.EpReport.from_decision(gm, decision, self.context.device)
        report.record(rep)
        self._last_report = rep
        return decision.groups

    def compile(self, graph: dict[str, Any], fused: dict[str, Any]) -> PartitionKernel:
        node_ids = tuple(sorted(n["id"] for n in graph["nodes"]))
        prebuilt = self._prebuilt.pop(node_ids, None)
        inputs = list(fused["inputs"])

        def model() -> OrtGraphModel:
            gm = to_model(graph)
            gm.runtime_inputs = inputs  # the fused node's inputs are exactly what Compute receives, in order
            return gm

        # Built when a signature needs converting: never, for a static group GetCapability built.
        kernel = PartitionKernel(self, model, fused, prebuilt, node_ids)
        self.kernels.append(kernel)
        if self._last_report is not None:
            self._last_report.add_kernel(kernel, [n["name"] or f"{n['op_type']}_{k}"
                                                  for k, n in enumerate(graph["nodes"])])
        return kernel

    def release(self) -> None:
        """ORT released the EP (session closed): free the graphs and the context's cache handles.

        The context is ours (created for this session), so it is destroyed here: a context
        that is only garbage-collected keeps its cache store's files open.
        """
        for kernel in self.kernels:
            kernel.release()
        self.kernels.clear()
        self._prebuilt.clear()
        self.context.destroy()


def create_ep(device_types: Sequence[int], metadata: Sequence[Mapping[str, str]],
              config: Mapping[str, str]) -> WebNNPluginEp:
    """The EP for one session, from the selected devices and the session's config entries."""
    raw = provider_options(config)
    if "deviceType" not in raw:
        raw["deviceType"] = device_type_for(device_types, metadata)
    try:
        options = parse_webnn_options(raw)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    context = ml.create_context(options.device_type, power_preference=options.power_preference,
                                origin=options.origin, cache_dir=options.cache_dir, cache=options.cache)
    return WebNNPluginEp(options, context)
