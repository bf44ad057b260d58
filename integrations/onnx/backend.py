"""An ``onnx.backend.base.Backend`` over :class:`InferenceSession`, for ``onnx.backend.test``.

``WebNNBackend.prepare(model, device)`` returns a rep whose ``run(inputs)`` feeds
the model's inputs in order, as ORT's own ``onnxruntime.backend`` does; ``device``
"CPU" runs WebNN on the CPU, "CUDA" on the GPU (where there is one). ``last_placement``
on the rep says how many nodes ran where, for reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from .options import CPU, PROVIDER
from .session import InferenceSession


class WebNNBackendRep(BackendRep):
    """A prepared model: one InferenceSession."""

    def __init__(self, session: InferenceSession) -> None:
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        names = [i.name for i in self.session.get_inputs()]
        if isinstance(inputs, dict):
            feed = dict(inputs)
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) > len(names):  # backend tests may also feed overridable initializers
                names = names + [i.name for i in self.session.get_overridable_initializers()]
            feed = dict(zip(names, inputs))
        else:
            feed = {names[0]: inputs}
        return tuple(self.session.run(None, feed))

    @property
    def last_placement(self) -> dict[str, Any]:
        return self.session.placement_summary()


class WebNNBackend(Backend):
    """ONNX backend adapter: WebNN for what it supports, ONNX Runtime's CPU EP for the rest."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> WebNNBackendRep:
        super().prepare(model, device, **kwargs)
        data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
        device_type = "gpu" if Device(device).type == DeviceType.CUDA else "cpu"
        options = {"deviceType": device_type, **kwargs.pop("provider_options", {})}
        if "context" not in options and options.get("cache", "1") in ("0", False):
            options["context"] = cls._shared_context(device_type)
        session = InferenceSession(data, providers=[(PROVIDER, options), CPU], **kwargs)
        return WebNNBackendRep(session)

    _contexts: dict[str, Any] = {}

    @classmethod
    def _shared_context(cls, device_type: str) -> Any:
        """One cache-less MLContext per device for every model this backend prepares."""
        context = cls._contexts.get(device_type)
        if context is None:
            import webnn

            context = cls._contexts[device_type] = webnn.ml.create_context(device_type, cache=False)
        return context

    @classmethod
    def run_model(cls, model: onnx.ModelProto, inputs: Sequence[Any], device: str = "CPU",
                  **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Sequence[Any], device: str = "CPU",
                 outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[Any, ...]:
        raise NotImplementedError("WebNNBackend runs models, not single nodes (use prepare)")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        kind = Device(device).type
        if kind == DeviceType.CPU:
            return True
        if kind == DeviceType.CUDA:
            import torch

            return bool(torch.cuda.is_available())
        return False
