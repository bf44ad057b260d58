"""The embedded sample (``webnn._sample_models``) as host adapters, one per framework."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._errors import CLIError, one_line

FRAMEWORKS = ("onnx", "tflite", "torch")


def sample_host(framework: str, ui: Any) -> Any:
    """The sample for ``framework``; raises ``RuntimeError`` with the reason when that
    framework cannot build it here (TensorFlow missing...)."""
    from .. import _sample_models as sample

    x = sample.sample_input()
    if framework == "onnx":
        from ._host_onnx import OnnxHost

        return OnnxHost(sample.onnx_model(), "embedded sample (onnx.helper)", ui, {"x": x})
    if framework == "tflite":
        why = sample.tflite_available()
        if why:
            raise RuntimeError(why)
        from ._host_tflite import TFLiteHost, import_tensorflow

        import_tensorflow(ui)
        with ui.native_quiet():
            data = sample.tflite_model()
        # The converter flattens the tf.function's dict of outputs in key order as Identity, Identity_1, ...
        names = {("Identity" if i == 0 else f"Identity_{i}"): key for i, key in enumerate(sorted(sample.OUTPUT_NAMES))}
        return TFLiteHost(data, "embedded sample (tf.lite.TFLiteConverter)", ui, {"x": x.transpose(0, 2, 3, 1).copy()},
                          names)
    if framework == "torch":
        from ._host_torch import TorchHost

        return TorchHost.from_sample()
    raise ValueError(f"unknown framework {framework!r}")


def sample_hosts(ui: Any, frameworks: tuple[str, ...] = FRAMEWORKS) -> Iterator[tuple[str, Any, str | None]]:
    """``(framework, host or None, why not)`` for each framework, built lazily in turn."""
    for fw in frameworks:
        try:
            with ui.status(f"building the embedded sample for {fw}"):
                host = sample_host(fw, ui)
        except (ImportError, RuntimeError, CLIError) as exc:
            yield fw, None, str(exc) if type(exc) in (RuntimeError, CLIError) else one_line(exc)
            continue
        yield fw, host, None
