"""``InferenceSession``: a drop-in for ``onnxruntime.InferenceSession`` with a WebNN provider.

Selected the way ORT providers are::

    sess = InferenceSession("model.onnx",
                            providers=[("WebNNExecutionProvider", {"deviceType": "gpu"}),
                                       "CPUExecutionProvider"])
    outputs = sess.run(None, {"input": x})
    sess.placement()   # per node: provider, partition, why it fell back, cache hit

Same signatures and errors as ORT's class for ``run``, ``get_inputs``,
``get_outputs``, ``get_overridable_initializers``, ``get_modelmeta``,
``get_providers``, ``get_provider_options``, ``get_session_options``,
``set_providers``. Each distinct input signature (data types and shapes) gets its own
plan (static shapes for WebNN, like onnxruntime-web's ``freeDimensionOverrides``),
built on first use and kept.

Plain ``onnxruntime.InferenceSession(..., providers=["WebNNExecutionProvider", ...])``
needs a compiled plugin-EP library (ORT 1.32 has no Python hook to register an
execution provider); that route is :mod:`.plugin` (a native shim exporting
``CreateEpFactories``/``ReleaseEpFactory`` that asks this package's converter registry
and partitioner). This class needs no native code and works wherever onnxruntime does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import TensorProto, TypeProto, helper

from .errors import invalid_argument
from .model import LoadedModel, NodeArg, load_model, type_string
from .options import PROVIDER, ProviderConfig, parse_providers
from .plan import Plan, PlanContext, build_plan

#: Input signatures whose plans are kept per session (oldest dropped first).
MAX_PLANS = 32


class InferenceSession:
    """Run an ONNX model with WebNN taking the nodes it supports and ORT's CPU EP the rest.

    Arguments as ``onnxruntime.InferenceSession``: ``path_or_bytes`` (a path, the
    serialised model, or an ``onnx.ModelProto``), ``sess_options`` (an
    ``onnxruntime.SessionOptions`` used for every ORT session this creates),
    ``providers`` (default: WebNN, then CPU), ``provider_options``; other keyword
    arguments go to the ORT sessions.
    """

    def __init__(self, path_or_bytes: Any, sess_options: Any = None, providers: Sequence[Any] | None = None,
                 provider_options: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> None:
        self._config = parse_providers(providers, provider_options)
        self._model: LoadedModel = load_model(path_or_bytes)
        self._sess_options = sess_options
        self._kwargs = kwargs
        self._lock = threading.RLock()
        self._input_specs = input_specs(self._model)
        self._required_count = len(self._model.inputs)
        self._all_outputs = list(self._model.output_names)
        self._setup()

    def _setup(self) -> None:
        import webnn

        config = self._config
        self._plans: OrderedDict[tuple, Plan] = OrderedDict()
        self._last: Plan | None = None
        self._whole: Any = None
        context = None
        if config.webnn is not None:
            opts = config.webnn
            context = opts.context
            if context is None:
                context = webnn.ml.create_context(opts.device_type, power_preference=opts.power_preference,
                                                  origin=opts.origin, cache_dir=opts.cache_dir, cache=opts.cache)
        self._context = context
        key = config.webnn.cache_key if config.webnn is not None and config.webnn.cache_key else self._model.digest
        self._pc = PlanContext(self._model, config.webnn, context, key, self._ort_session,
                               config.ort_providers[0])

    # -- ORT sessions for the fallback ------------------------------------------------------
    def _ort_session(self, model_bytes: bytes | None) -> Any:
        """A real ORT session on the fallback providers: a sub-model, or the whole model (None)."""
        import onnxruntime as ort

        config: ProviderConfig = self._config
        if model_bytes is None:
            if self._whole is None:
                source = self._model.path if self._model.path is not None else self._model.proto.SerializeToString()
                self._whole = ort.InferenceSession(source, self._sess_options, providers=list(config.ort_providers),
                                                   provider_options=[dict(o) for o in config.ort_options],
                                                   **self._kwargs)
            return self._whole
        return ort.InferenceSession(model_bytes, self._sess_options, providers=list(config.ort_providers),
                                    provider_options=[dict(o) for o in config.ort_options], **self._kwargs)

    # -- ORT's introspection API --------------------------------------------------------------
    def get_inputs(self) -> list[NodeArg]:
        return self._model.node_args(self._model.inputs)

    def get_outputs(self) -> list[NodeArg]:
        return self._model.node_args(self._model.outputs)

    def get_overridable_initializers(self) -> list[NodeArg]:
        return self._model.node_args(self._model.overridable)

    def get_modelmeta(self) -> Any:
        return self._model.metadata()

    def get_providers(self) -> list[str]:
        return self._config.names

    def get_provider_options(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self._config.webnn is not None:
            out[PROVIDER] = self._config.webnn.as_dict()
        for name, opts in zip(self._config.ort_providers, self._config.ort_options):
            out[name] = {k: str(v) for k, v in opts.items()}
        return out

    def get_session_options(self) -> Any:
        import onnxruntime as ort

        return self._sess_options if self._sess_options is not None else ort.SessionOptions()

    def set_providers(self, providers: Sequence[Any] | None = None,
                      provider_options: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Choose providers again; every plan is rebuilt on next use (as ORT re-creates its session)."""
        with self._lock:
            self._config = parse_providers(providers, provider_options)
            self._setup()

    def end_profiling(self) -> str:
        """No profile file is written by this provider; returns '' (ORT returns the file name)."""
        return ""

    @property
    def context(self) -> Any:
        """The ``webnn.MLContext`` the WebNN partitions run on (None when WebNN is not selected)."""
        return self._context

    # -- running -------------------------------------------------------------------------------
    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any], run_options: Any = None
            ) -> list[Any]:
        """Compute ``output_names`` (None: all) from ``input_feed`` (name -> array), as ORT does."""
        names = self._all_outputs if output_names is None else self._output_names(output_names)
        feeds, signature = self._check_feed(input_feed)
        plan = self._plans.get(signature)
        if plan is None:
            plan = self._plan(signature)
        self._last = plan
        return plan.run(feeds, names, run_options)

    def _output_names(self, output_names: Sequence[str]) -> list[str]:
        all_names = self._model.output_names
        if isinstance(output_names, str):
            raise invalid_argument(f"output_names must be a list of names or None, got {output_names!r}")
        for name in output_names:
            if name not in all_names:
                raise invalid_argument(f"Invalid output name:{name} (the model's outputs are {all_names})")
        return list(output_names)

    def _check_feed(self, input_feed: Mapping[str, Any]) -> tuple[dict[str, Any], tuple]:
        """Validate the feed as ORT does; return contiguous arrays and the input signature."""
        if not isinstance(input_feed, Mapping):
            raise invalid_argument(f"input_feed must be a dict of name -> array, got {type(input_feed).__name__}")
        specs = self._input_specs
        if len(input_feed) < self._required_count or any(n not in specs for n in input_feed):
            self._feed_names_error(input_feed)
        feeds: dict[str, Any] = {}
        signature = []
        for spec in specs.values():
            if spec.name not in input_feed:
                if spec.required:
                    self._feed_names_error(input_feed)
                continue
            value = input_feed[spec.name]
            if not spec.tensor:
                feeds[spec.name] = value
                signature.append((spec.name, spec.type, ()))
                continue
            array = value if type(value) is np.ndarray else np.asarray(value)
            if not array.flags.c_contiguous:  # (ascontiguousarray would turn a 0-d array into 1-d)
                array = np.ascontiguousarray(array)
            if array.dtype != spec.dtype and spec.dtype is not None and not (
                    spec.elem_type == TensorProto.STRING and array.dtype.kind in "USO"):
                raise invalid_argument(f"Unexpected input data type. Actual: ({_type_name(_elem_type(array))}) , "
                                       f"expected: ({spec.type}) for input {spec.name!r}")
            shape = array.shape
            if spec.dims is not None and (len(shape) != len(spec.dims)
                                          or any(shape[i] != d for i, d in spec.fixed)):
                _shape_error(spec.name, spec.dims, shape)
            feeds[spec.name] = array
            signature.append((spec.name, spec.type, shape))
        return feeds, tuple(signature)

    def _feed_names_error(self, input_feed: Mapping[str, Any]) -> None:
        model = self._model
        required = [v.name for v in model.inputs]
        missing = [n for n in required if n not in input_feed]
        if missing:
            raise ValueError(f"Required inputs ({missing}) are missing from input feed ({list(input_feed)}).")
        unknown = [n for n in input_feed if n not in self._input_specs]
        raise invalid_argument(f"Invalid input name(s): {unknown}; the model's inputs are {sorted(self._input_specs)}")

    def _plan(self, signature: tuple) -> Plan:
        with self._lock:
            plan = self._plans.get(signature)
            if plan is None:
                types: dict[str, TypeProto] = {}
                for name, _, shape in signature:
                    spec = self._input_specs[name]
                    types[name] = (helper.make_tensor_type_proto(spec.elem_type, list(shape)) if spec.tensor
                                   else spec.type_proto)
                plan = build_plan(self._pc, signature, types)
                self._plans[signature] = plan
                while len(self._plans) > MAX_PLANS:
                    self._plans.popitem(last=False)
            self._last = plan
            return plan

    # -- placement -----------------------------------------------------------------------------
    def placement(self, input_shapes: Mapping[str, Sequence[int]] | None = None) -> list[dict[str, Any]]:
        """Per node: ``provider`` (WebNNExecutionProvider, an ORT provider, or "folded"
        for nodes computed once at build), ``partition`` id, ``reason`` it fell back (or
        how it was folded), ``cache`` status of its WebNN partition (hit / miss, saved / off).

        For the signature last run; or for ``input_shapes`` (name -> shape; builds that
        plan if needed). A model whose inputs all have fixed shapes needs neither.
        """
        plan = self._plan_for_shapes(input_shapes)
        return [p.as_dict() for p in plan.placement]

    def placement_summary(self, input_shapes: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
        """Counts: WebNN partitions, ORT sessions, nodes on each side, folded nodes."""
        return dict(self._plan_for_shapes(input_shapes).summary)

    def _plan_for_shapes(self, input_shapes: Mapping[str, Sequence[int]] | None) -> Plan:
        if input_shapes is None and self._last is not None:
            return self._last
        model = self._model
        shapes = dict(input_shapes or {})
        signature = []
        for v in model.inputs:
            tp = v.type
            if tp.WhichOneof("value") != "tensor_type":
                raise ValueError(f"placement: input {v.name!r} is not a tensor; run() once first")
            if v.name in shapes:
                shape = tuple(int(d) for d in shapes[v.name])
            else:
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tp.tensor_type.shape.dim]
                if any(d is None for d in dims):
                    raise ValueError(f"placement: input {v.name!r} has dynamic dimensions; pass input_shapes "
                                     "or run() once first")
                shape = tuple(int(d) for d in dims)  # type: ignore[arg-type]
            signature.append((v.name, type_string(tp), shape))
        return self._plan(tuple(signature))


def _elem_type(array: np.ndarray) -> int:
    if array.dtype.kind in "USO":
        return 8  # TensorProto.STRING
    try:
        return helper.np_dtype_to_tensor_dtype(array.dtype)
    except Exception:
        return 0


def _type_name(elem: int) -> str:
    from .model import elem_type_name

    return f"tensor({elem_type_name(elem)})"


def _shape_error(name: str, dims: tuple[int | None, ...], shape: tuple[int, ...]) -> None:
    if len(dims) != len(shape):
        raise invalid_argument(f"Invalid rank for input: {name} Got: {len(shape)} Expected: {len(dims)} "
                               "Please fix either the inputs/outputs or the model.")
    bad = [(i, got, want) for i, (want, got) in enumerate(zip(dims, shape)) if want is not None and want != got]
    detail = "\n".join(f" index: {i} Got: {got} Expected: {want}" for i, got, want in bad)
    raise invalid_argument(f"Got invalid dimensions for input: {name} for the following indices\n{detail}\n "
                           "Please fix either the inputs/outputs or the model.")


@dataclass(frozen=True)
class _InputSpec:
    """What a feed for one model input must look like (computed once per session)."""

    name: str
    required: bool
    tensor: bool
    type: str
    type_proto: TypeProto
    elem_type: int
    dtype: np.dtype | None
    dims: tuple[int | None, ...] | None
    fixed: tuple[tuple[int, int], ...]


def input_specs(model: LoadedModel) -> dict[str, _InputSpec]:
    specs = {}
    for required, values in ((True, model.inputs), (False, model.overridable)):
        for v in values:
            tp = v.type
            tensor = tp.WhichOneof("value") == "tensor_type"
            elem = tp.tensor_type.elem_type if tensor else 0
            try:
                dtype = helper.tensor_dtype_to_np_dtype(elem) if tensor else None
            except Exception:
                dtype = None
            dims = None
            if tensor and tp.tensor_type.HasField("shape"):
                dims = tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in tp.tensor_type.shape.dim)
            fixed = tuple((i, d) for i, d in enumerate(dims or ()) if d is not None)
            specs[v.name] = _InputSpec(v.name, required, tensor, type_string(tp), tp, elem, dtype, dims, fixed)
    return specs
