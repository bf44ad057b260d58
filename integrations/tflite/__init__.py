"""WebNN as a TensorFlow Lite delegate: the nodes WebNN can take run as compiled WebNN
graphs, every other node keeps running on TFLite's own kernels.

Hand it to the interpreter the way any delegate is handed over::

    import tensorflow as tf
    from webnn.integrations.tflite import load_delegate

    delegate = load_delegate(device="cpu")
    interp = tf.lite.Interpreter(model_path="model.tflite", experimental_delegates=[delegate])
    interp.allocate_tensors(); interp.set_tensor(...); interp.invoke(); interp.get_tensor(...)
    print(delegate.format_report())   # which nodes ran where, and why

``ai_edge_litert.interpreter.Interpreter`` takes it the same way. The delegate is a
real ``TfLiteDelegate`` made with ctypes (no compiled library), checked against the
pinned TFLite layout before it claims anything.

With the default op resolver TFLite applies its XNNPACK delegate after this one, so
the nodes WebNN leaves run on XNNPACK where it takes them; pass
``experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``
for plain builtin kernels as the fallback.

Quantized models: the data-movement ops (reshape, transpose, concat, slices, pads,
gather, max pool, nearest resize) run on WebNN on int8/uint8 tensors when they keep
the quantization, which makes them exact; DEQUANTIZE runs on WebNN too (a float
result, within 1 ulp of TFLite's x86 kernel). Ops whose result depends on TFLite's
integer requantization (quantized conv, fully connected, add...) and QUANTIZE (TFLite
rounds half away from zero, WebNN half to even) stay with TFLite.
"""

from __future__ import annotations

from typing import Any

from ._delegate import WebNNDelegate
from ._runtime import KNOWN_LAYOUTS, installed_runtimes
from .report import NodePlacement, PartitionInfo, SubgraphReport

__all__ = ["KNOWN_LAYOUTS", "NodePlacement", "PartitionInfo", "SubgraphReport", "WebNNDelegate", "load_delegate"]


def load_delegate(device: Any = "cpu", *, context: Any = None, cache: bool = True, cache_dir: Any = None,
                  origin: str | None = None, min_partition_size: int = 1, model: bytes | str | None = None,
                  report: bool = False) -> WebNNDelegate:
    """A WebNN delegate for ``tf.lite.Interpreter(experimental_delegates=[...])``.

    ``device``: "cpu", "gpu"/"cuda"/"cuda:N" (as ``webnn.ml.create_context``), or pass an
    existing ``context``. ``cache``: save and load compiled partitions in the context's
    graph cache (``cache_dir``/``origin`` as in ``create_context``). ``min_partition_size``:
    leave WebNN partitions with fewer nodes to TFLite. ``model``: the model's bytes or path,
    only needed when the interpreter is not created from Python. ``report``: print each
    placement report to stderr.

    Raises NotSupportedError when no installed TFLite runtime has the C layout this
    delegate mirrors (instead of crashing inside the runtime later).
    """
    from webnn import NotSupportedError, ml

    runtimes = installed_runtimes()
    if runtimes and not any(r.layout_known for r in runtimes):
        known = ", ".join(f"{k} {'/'.join(v)}x" for k, v in KNOWN_LAYOUTS.items())
        found = ", ".join(str(r) for r in runtimes)
        raise NotSupportedError(f"load_delegate: the installed TFLite runtime ({found}) has a C struct layout "
                                f"this delegate does not know; it knows {known}")
    if context is None:
        context = ml.create_context(device, cache=cache, cache_dir=cache_dir, origin=origin)
    return WebNNDelegate(context, cache=cache, min_partition_size=min_partition_size, model=model, report=report)
