"""Which of ORT's hardware devices the WebNN plugin EP offers, and which one a session uses.

ORT discovers the machine's devices and asks each plugin factory which it supports
(``OrtEpFactory::GetSupportedDevices``). We offer the CPU always (``deviceType`` "cpu"),
and a GPU only when it is an NVIDIA device *and* torch really has CUDA here
(``deviceType`` "gpu"): never a device the backend cannot run on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# OrtHardwareDeviceType (ort_abi.h)
HW_CPU, HW_GPU, HW_NPU = 0, 1, 2
NVIDIA_VENDOR_ID = 0x10DE


def cuda_available() -> bool:
    """Whether torch can run on a CUDA device here (imports torch only when asked)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def supported_devices(devices: Sequence[Mapping[str, Any]]) -> list[tuple[int, dict[str, str], dict[str, str]]]:
    """``(index, ep_metadata, ep_options)`` for each hardware device we offer.

    ``devices`` are ORT's hardware devices as the shim lists them (``type``,
    ``vendor_id``, ``device_id``, ``vendor``). The options become the session's
    provider options when a user selects that device.
    """
    chosen: list[tuple[int, dict[str, str], dict[str, str]]] = []
    cpu_seen = False
    gpu_ok: bool | None = None
    for i, dev in enumerate(devices):
        kind = int(dev.get("type", -1))
        if kind == HW_CPU and not cpu_seen:
            cpu_seen = True
            chosen.append((i, {"deviceType": "cpu", "backend": "torch"}, {}))
        elif kind == HW_GPU and int(dev.get("vendor_id", 0)) == NVIDIA_VENDOR_ID:
            if gpu_ok is None:
                gpu_ok = cuda_available()
            if gpu_ok:
                chosen.append((i, {"deviceType": "gpu", "backend": "torch"}, {}))
                gpu_ok = False  # one GPU entry: "gpu" means the default CUDA device
    return chosen


def device_type_for(selected_types: Sequence[int], metadata: Sequence[Mapping[str, str]]) -> str:
    """The device a session runs on when its options do not say: GPU only if only GPUs were picked."""
    kinds = [m.get("deviceType") for m in metadata if m.get("deviceType")]
    if kinds and all(k == "gpu" for k in kinds):
        return "gpu"
    if not kinds and selected_types and all(t == HW_GPU for t in selected_types):
        return "gpu"
    return "cpu"
