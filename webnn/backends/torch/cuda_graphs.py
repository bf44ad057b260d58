"""CUDA-only parts of the torch backend: exact float32 and CUDA graphs.

After a few eager warm-up calls the generated forward is captured once into a
``torch.cuda.CUDAGraph`` with static input and output buffers; later calls copy
inputs in, replay, and hand back the static outputs, which the caller must copy
or clone before the next call. Capture failures are reported with a warning and
the graph keeps running eagerly. ``WEBNN_CUDA_GRAPHS=0`` turns this off.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import torch

WARMUP_CALLS = 2


def exact_float32(forward: Callable[..., list[torch.Tensor]]) -> Callable[..., list[torch.Tensor]]:
    """Run ``forward`` with TF32 off for cuDNN and cuBLAS: a WebNN float32 op computes in
    float32. The flags are set only around our own calls, never process-wide."""

    def run(*inputs: torch.Tensor) -> list[torch.Tensor]:
        matmul = torch.backends.cuda.matmul
        saved = matmul.allow_tf32
        matmul.allow_tf32 = False
        try:
            with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
                return forward(*inputs)
        finally:
            matmul.allow_tf32 = saved

    return run


def enabled(device: torch.device) -> bool:
    return device.type == "cuda" and os.environ.get("WEBNN_CUDA_GRAPHS", "1") != "0"


class CudaGraphRunner:
    """Wraps ``forward(*inputs) -> list[Tensor]`` with capture-and-replay."""

    def __init__(self, forward: Callable[..., list[torch.Tensor]], device: torch.device) -> None:
        self._forward = forward
        self._device = device
        self._calls = 0
        self._graph: Any = None
        self._static_in: list[torch.Tensor] = []
        self._static_out: list[torch.Tensor] = []
        self._failed = False

    def __call__(self, *inputs: torch.Tensor) -> list[torch.Tensor]:
        """Outputs are transient when replayed: copy them before the next call."""
        if self._graph is not None:
            for dst, src in zip(self._static_in, inputs):
                dst.copy_(src, non_blocking=True)
            self._graph.replay()
            return self._static_out
        self._calls += 1
        if self._failed or self._calls <= WARMUP_CALLS:
            return self._forward(*inputs)
        try:
            self._capture(inputs)
        except Exception as exc:  # noqa: BLE001  (reported, then eager)
            self._failed = True
            self._graph = None
            warnings.warn(f"webnn: CUDA graph capture failed, running eagerly: {exc}", RuntimeWarning,
                          stacklevel=3)
            return self._forward(*inputs)
        return self(*inputs)

    def _capture(self, inputs: tuple[torch.Tensor, ...]) -> None:
        self._static_in = [torch.empty_like(x) for x in inputs]
        for dst, src in zip(self._static_in, inputs):
            dst.copy_(src)
        side = torch.cuda.Stream(self._device)
        side.wait_stream(torch.cuda.current_stream(self._device))
        with torch.cuda.stream(side):
            self._forward(*self._static_in)
        torch.cuda.current_stream(self._device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._static_out = list(self._forward(*self._static_in))
        self._graph = graph
