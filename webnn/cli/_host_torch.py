"""torch models (an ``ExportedProgram`` saved as ``.pt2``, or the embedded sample
module): eager torch as the host path, ``torch.compile(backend="webnn")`` as the
WebNN path (the backend function is passed, which is what the name "webnn" resolves
to through the entry point). torch compiles at the first call, so preparing a placement runs once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._errors import CLIError, one_line
from ._host import Outputs, WebNNSettings, need
from ._placement import Placement, from_torch
from ._tensors import TensorSpec


def torch_device(device: str) -> str:
    """The torch device of a CLI device word ("gpu" is the default CUDA device)."""
    return "cuda" if device in ("gpu", "cuda") else device


class TorchHost:
    """A torch module with named inputs and outputs."""

    framework = "torch"
    host_name = "torch"

    def __init__(self, module: Any, specs: list[TensorSpec], output_names: Sequence[str] | None, label: str,
                 feeds: dict[str, np.ndarray] | None = None) -> None:
        self.module = module
        self.specs = specs
        self.output_names = list(output_names) if output_names else None
        self.label = label
        self._feeds = feeds
        self._device = "cpu"

    @classmethod
    def from_pt2(cls, path: str, ui: Any) -> TorchHost:
        """A ``torch.export.save``-d ExportedProgram (loaded with ``torch.export.load``)."""
        import zipfile

        if not zipfile.is_zipfile(path):  # fail before importing torch
            raise CLIError(f"{path}: not a readable torch ExportedProgram (not a zip archive)")
        need("torch", "running .pt2 models", "torch")
        import logging

        import torch

        if not ui.debug:  # torch logs the whole traceback of a failed load as a warning
            logging.disable(logging.WARNING)
        try:
            ep = torch.export.load(path)
        except Exception as exc:
            raise CLIError(f"{path}: not a readable torch ExportedProgram ({one_line(exc)})") from None
        finally:
            logging.disable(logging.NOTSET)
        sig = ep.graph_signature
        user_inputs = list(sig.user_inputs)
        vals = {n.name: n.meta.get("val") for n in ep.graph.nodes if n.op == "placeholder"}
        specs = []
        for name in user_inputs:
            val = vals.get(name)
            if not isinstance(val, torch.Tensor):
                raise CLIError(f"{path}: input {name!r} is not a tensor; the command line feeds tensors only")
            dims, dynamic = [], []
            for i, d in enumerate(val.shape):
                if isinstance(d, int):
                    dims.append(int(d))
                else:
                    dims.append(1)
                    dynamic.append(i)
            specs.append(TensorSpec(name, np.dtype(torch.empty((), dtype=val.dtype).numpy().dtype), tuple(dims),
                                    tuple(dynamic)))
        examples = getattr(ep, "example_inputs", None)
        if examples and not any(s.dynamic for s in specs):
            args, kwargs = examples
            if not kwargs and len(args) == len(specs):
                specs = [TensorSpec(s.name, s.dtype, tuple(int(d) for d in a.shape)) for s, a in zip(specs, args)]
        outputs = list(sig.user_outputs)
        return cls(ep.module(), specs, outputs, path)

    @classmethod
    def from_sample(cls) -> TorchHost:
        from .. import _sample_models as sample

        x = sample.sample_input()
        return cls(sample.torch_module(), [TensorSpec("x", x.dtype, x.shape)], list(sample.OUTPUT_NAMES),
                   "embedded sample (torch.nn.Module)", {"x": x})

    # -- what the model needs ----------------------------------------------------------------
    def input_specs(self) -> list[TensorSpec]:
        return list(self.specs)

    def default_feeds(self) -> dict[str, np.ndarray] | None:
        return self._feeds

    def graph(self) -> None:
        return None

    # -- runners -------------------------------------------------------------------------------
    def module_on(self, device: str) -> Any:
        """The module on ``device`` (moved in place: one invocation uses one device)."""
        dev = torch_device(device)
        if dev != self._device:
            self.module = self.module.to(dev)
            self._device = dev
        return self.module

    def host_runner(self, device: str = "cpu") -> _TorchRunner:
        return _TorchRunner(self, self.module_on(device), torch_device(device))

    def webnn_runner(self, settings: WebNNSettings) -> _WebNNRunner:
        return _WebNNRunner(self, settings)

    def warm_up(self, settings: WebNNSettings) -> None:
        """One-time process set-up (dynamo, AOT autograd, WebNN's lowerings) on a tiny
        module with the cache off, so first-result times measure this model only."""
        import torch

        tiny = TorchHost(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()),
                         [TensorSpec("x", np.dtype("float32"), (2, 4))], None, "warm-up")
        _WebNNRunner(tiny, WebNNSettings(settings.device, False)).run({"x": np.ones((2, 4), np.float32)})
        torch._dynamo.reset()

    def outputs(self, result: Any) -> Outputs:
        import torch
        from torch.utils._pytree import tree_flatten

        leaves, _ = tree_flatten(result)
        arrays = [t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in leaves]
        names = self.output_names if self.output_names and len(self.output_names) == len(arrays) else \
            [f"output{i}" for i in range(len(arrays))]
        return list(zip(names, arrays))


class _TorchRunner:
    def __init__(self, host: TorchHost, fn: Any, device: str) -> None:
        self.host, self.fn, self.device = host, fn, device

    def run(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feeds[s.name])).to(self.device) for s in self.host.specs]
        with torch.no_grad():
            return self.host.outputs(self.fn(*args))


class _WebNNRunner(_TorchRunner):
    """``torch.compile(module, backend="webnn", options=...)`` after ``torch._dynamo.reset()``,
    so each runner compiles afresh (from the graph cache when it holds the partitions)."""

    ran_to_prepare = False

    def __init__(self, host: TorchHost, settings: WebNNSettings) -> None:
        import torch

        from webnn.integrations.torch import clear_reports, webnn_backend

        torch._dynamo.reset()
        clear_reports()
        options = {"device": settings.device, "cache": settings.cache, "cache_dir": settings.cache_dir,
                   "origin": settings.origin}
        # The backend function itself, not the name "webnn": the name needs the package's entry point,
        # which an environment installed before it existed lacks; the function is the same backend.
        compiled = torch.compile(host.module_on(settings.device), backend=webnn_backend,
                                 options={k: v for k, v in options.items() if v is not None})
        super().__init__(host, compiled, torch_device(settings.device))
        self.settings = settings
        self._counters_before = _counters()

    def prepare(self, feeds: Mapping[str, np.ndarray]) -> None:
        """torch compiles at the first call: run once."""
        self.run(feeds)
        self.ran_to_prepare = True

    def placement(self) -> Placement:
        from webnn.integrations.torch import reports

        return from_torch(reports(), self.settings.device)

    def cache_counters(self) -> dict[str, Any]:
        after = _counters()
        return {k: after.get(k, 0) - self._counters_before.get(k, 0) for k in after}


def _counters() -> dict[str, int]:
    from webnn.integrations.torch import cache_stats

    return dict(cache_stats())
