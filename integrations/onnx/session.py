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

Why a class of our own and not ``onnxruntime.InferenceSession(providers=["WebNNExecutionProvider"])``:
ORT 1.32 loads new providers only as compiled plugin-EP libraries
(``onnxruntime.register_execution_provider_library`` with a shared object exporting
``CreateEpFactories``/``ReleaseEpFactory``); there is no Python hook to register an
execution provider, so serving plain ORT sessions would mean shipping a native
library. This class is the supported route until that library exists.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from onnx import TypeProto, helper

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
        names = self._output_names(output_names)
        feeds, signature, types = self._check_feed(input_feed)
        plan = self._plan(signature, types)
        return plan.run(feeds, names, run_options)

    def _output_names(self, output_names: Sequence[str] | None) -> list[str]:
        all_names = self._model.output_names
        if output_names is None:
            return list(all_names)
        if isinstance(output_names, str):
            raise invalid_argument(f"output_names must be a list of names or None, got {output_names!r}")
        for name in output_names:
            if name not in all_names:
                raise invalid_argument(f"Invalid output name:{name} (the model's outputs are {all_names})")
        return list(output_names)

    def _check_feed(self, input_feed: Mapping[str, Any]) -> tuple[dict[str, Any], tuple, dict[str, TypeProto]]:
        if not isinstance(input_feed, Mapping):
            raise invalid_argument(f"input_feed must be a dict of name -> array, got {type(input_feed).__name__}")
        model = self._model
        required = [v.name for v in model.inputs]
        missing = [n for n in required if n not in input_feed]
        if missing:
            raise ValueError(f"Required inputs ({missing}) are missing from input feed ({list(input_feed)}).")
        known = set(required) | {v.name for v in model.overridable}
        unknown = [n for n in input_feed if n not in known]
        if unknown:
            raise invalid_argument(f"Invalid input name(s): {unknown}; the model's inputs are {sorted(known)}")
        feeds: dict[str, Any] = {}
        signature = []
        types: dict[str, TypeProto] = {}
        for v in [*model.inputs, *model.overridable]:
            if v.name not in input_feed:
                continue
            value = input_feed[v.name]
            declared = v.type
            if declared.WhichOneof("value") != "tensor_type":
                feeds[v.name] = value
                signature.append((v.name, type_string(declared), ()))
                types[v.name] = declared
                continue
            array = np.asarray(value)
            if not array.flags.c_contiguous:  # (ascontiguousarray would turn a 0-d array into 1-d)
                array = np.ascontiguousarray(array)
            elem = declared.tensor_type.elem_type
            got = _elem_type(array)
            if got != elem:
                raise invalid_argument(f"Unexpected input data type. Actual: ({_type_name(got)}) , expected: "
                                       f"({type_string(declared)}) for input {v.name!r}")
            _check_shape(v.name, declared, array.shape)
            feeds[v.name] = array
            signature.append((v.name, type_string(declared), tuple(int(d) for d in array.shape)))
            types[v.name] = helper.make_tensor_type_proto(elem, list(array.shape))
        return feeds, tuple(signature), types

    def _plan(self, signature: tuple, types: dict[str, TypeProto]) -> Plan:
        plan = self._plans.get(signature)
        if plan is not None:
            self._last = plan
            return plan
        with self._lock:
            plan = self._plans.get(signature)
            if plan is None:
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
        types: dict[str, TypeProto] = {}
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
            types[v.name] = helper.make_tensor_type_proto(tp.tensor_type.elem_type, list(shape))
        return self._plan(tuple(signature), types)


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


def _check_shape(name: str, declared: TypeProto, shape: tuple[int, ...]) -> None:
    tt = declared.tensor_type
    if not tt.HasField("shape"):
        return
    dims = tt.shape.dim
    if len(dims) != len(shape):
        raise invalid_argument(f"Invalid rank for input: {name} Got: {len(shape)} Expected: {len(dims)} "
                               "Please fix either the inputs/outputs or the model.")
    bad = [(i, got, d.dim_value) for i, (d, got) in enumerate(zip(dims, shape))
           if d.HasField("dim_value") and d.dim_value != got]
    if bad:
        detail = "\n".join(f" index: {i} Got: {got} Expected: {want}" for i, got, want in bad)
        raise invalid_argument(f"Got invalid dimensions for input: {name} for the following indices\n{detail}\n "
                               "Please fix either the inputs/outputs or the model.")
