"""OpInfo-driven single-op tests: every ATen op the converter registry claims is run
through the webnn backend on torch's own OpInfo samples and compared with eager.

Each sample becomes a one-op FX graph (``torch.fx.symbolic_trace``) handed to the
backend's compile entry (AOT tracing, core ATen decompositions, partitioning), so the
converters see exactly the ATen nodes torch.compile would give them. A few samples
per op keep the run short. An op must run at least one ATen node on WebNN for one of
its samples, so a claim that never converts fails here.
"""

from __future__ import annotations

import operator

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest", reason="torch's OpInfo database needs expecttest")

import webnn.integrations.torch as wt  # noqa: E402
from torch.testing._internal.common_methods_invocations import op_db  # noqa: E402
from torch.utils._pytree import tree_flatten, tree_unflatten  # noqa: E402

#: OpInfo name -> the ATen op packets (claimed by the registry) it exercises.
OPINFO_FOR = {
    "add": ["aten.add"], "sub": ["aten.sub"], "mul": ["aten.mul"], "div.no_rounding_mode": ["aten.div"],
    "div.trunc_rounding": ["aten.div"], "div.floor_rounding": ["aten.div"], "maximum": ["aten.maximum"],
    "minimum": ["aten.minimum"], "pow": ["aten.pow"], "eq": ["aten.eq"], "ne": ["aten.ne"], "gt": ["aten.gt"],
    "ge": ["aten.ge"], "lt": ["aten.lt"], "le": ["aten.le"], "logical_and": ["aten.logical_and"],
    "logical_or": ["aten.logical_or"], "logical_xor": ["aten.logical_xor"], "bitwise_or": ["aten.bitwise_or"],
    "bitwise_xor": ["aten.bitwise_xor"], "logical_not": ["aten.logical_not"],
    "bitwise_not": ["aten.bitwise_not"], "bitwise_and": ["aten.bitwise_and"], "isnan": ["aten.isnan"],
    "isinf": ["aten.isinf"], "abs": ["aten.abs"], "neg": ["aten.neg"], "sign": ["aten.sign"], "exp": ["aten.exp"],
    "log": ["aten.log"], "sin": ["aten.sin"], "cos": ["aten.cos"], "tan": ["aten.tan"], "sqrt": ["aten.sqrt"],
    "erf": ["aten.erf"], "reciprocal": ["aten.reciprocal"], "ceil": ["aten.ceil"], "floor": ["aten.floor"],
    "round": ["aten.round"], "rsqrt": ["aten.rsqrt"], "log2": ["aten.log2"], "log10": ["aten.log10"],
    "trunc": ["aten.trunc"], "where": ["aten.where"], "clamp": ["aten.clamp"], "sigmoid": ["aten.sigmoid"],
    "tanh": ["aten.tanh"], "nn.functional.relu": ["aten.relu"], "nn.functional.leaky_relu": ["aten.leaky_relu"],
    "nn.functional.elu": ["aten.elu"], "nn.functional.gelu": ["aten.gelu"],
    "nn.functional.hardtanh": ["aten.hardtanh"], "softmax": ["aten._softmax"], "log_softmax": ["aten._log_softmax"],
    "nn.functional.hardswish": ["aten.hardswish"], "nn.functional.hardsigmoid": ["aten.hardsigmoid"],
    "nn.functional.softplus": ["aten.softplus"], "nn.functional.silu": ["aten.silu"],
    "nn.functional.conv1d": ["aten.convolution"], "nn.functional.conv2d": ["aten.convolution"],
    "nn.functional.conv_transpose2d": ["aten.convolution"],
    "nn.functional.max_pool2d": ["aten.max_pool2d_with_indices"], "nn.functional.avg_pool2d": ["aten.avg_pool2d"],
    "nn.functional.adaptive_avg_pool2d": ["aten._adaptive_avg_pool2d"],
    "nn.functional.batch_norm": ["aten._native_batch_norm_legit_no_training"],
    "nn.functional.layer_norm": ["aten.native_layer_norm"], "nn.functional.group_norm": ["aten.native_group_norm"],
    "mm": ["aten.mm"], "bmm": ["aten.bmm"], "addmm": ["aten.addmm"], "nn.functional.embedding": ["aten.embedding"],
    "nn.functional.interpolate.nearest": ["aten.upsample_nearest2d"],
    "nn.functional.interpolate.bilinear": ["aten.upsample_bilinear2d"],
    "reshape": ["aten.view", "aten._unsafe_view", "aten.reshape"], "view": ["aten.view"],
    "permute": ["aten.permute"], "slice": ["aten.slice"], "__getitem__": ["aten.slice", "aten.select", "aten.index"],
    "expand": ["aten.expand"], "cat": ["aten.cat"], "narrow": ["aten.slice"],
    "select": ["aten.select"], "split": ["aten.split", "aten.split_with_sizes"], "unbind": ["aten.unbind"],
    "nn.functional.pad.constant": ["aten.constant_pad_nd"],
    "nn.functional.pad.reflect": ["aten.reflection_pad1d", "aten.reflection_pad2d", "aten.reflection_pad3d"],
    "nn.functional.pad.replicate": ["aten.replication_pad1d", "aten.replication_pad2d", "aten.replication_pad3d"],
    "flip": ["aten.flip"], "repeat": ["aten.repeat"], "tril": ["aten.tril"], "triu": ["aten.triu"],
    "index_select": ["aten.index_select"], "take_along_dim": ["aten.gather", "aten.index"],
    "gather": ["aten.gather"], "scatter": ["aten.scatter"], "cumsum": ["aten.cumsum"], "sum": ["aten.sum"],
    "mean": ["aten.mean"], "prod": ["aten.prod"], "amax": ["aten.amax"], "amin": ["aten.amin"],
    "max.reduction_with_dim": ["aten.max"], "max.reduction_no_dim": ["aten.max"],
    "min.reduction_with_dim": ["aten.min"], "min.reduction_no_dim": ["aten.min"], "argmax": ["aten.argmax"],
    "argmin": ["aten.argmin"], "any": ["aten.any"], "all": ["aten.all"],
    "linalg.vector_norm": ["aten.linalg_vector_norm"], "var": ["aten.var"], "squeeze": ["aten.squeeze"],
    "unsqueeze": ["aten.unsqueeze"], "flatten": ["aten.view"], "full_like": ["aten.full", "aten.full_like"],
    "zeros_like": ["aten.full", "aten.zeros_like"], "ones_like": ["aten.full", "aten.ones_like"],
    "clone": ["aten.clone"], "index_put": ["aten.index_put"], "fill": ["aten.fill"],
    "nn.functional.scaled_dot_product_attention": ["aten._scaled_dot_product_flash_attention_for_cpu"],
    "scalar_tensor": ["aten.scalar_tensor", "aten.full"], "arange": ["aten.arange"],
}
#: Claimed packets no OpInfo above produces as such, and why.
NOT_FROM_OPINFO = {
    "aten._to_copy": "dtype casts appear inside other ops' samples (sum(dtype=...), where promotion)",
    "aten.alias": "only produced by functionalization of aliasing views",
    "aten.lift_fresh_copy": "only produced for tensor literals inside a traced function",
    "aten.copy": "only produced by functionalized in-place copies",
    "aten.flatten": "decomposed to view by AOT before conversion",
    "aten.view_copy": "only produced by functionalization with view replay",
}

OPS = [o for o in op_db if (o.name + ("." + o.variant_test_name if o.variant_test_name else "")) in OPINFO_FOR]


def _opinfo_name(op) -> str:
    return op.name + ("." + op.variant_test_name if op.variant_test_name else "")


def _graph_for(op, sample):
    """The sample as ``fn(*tensors) -> tuple`` and a GraphModule with one placeholder per
    tensor calling it (AOT traces through the call into ATen ops, as dynamo's graphs do)."""
    leaves, spec = tree_flatten((sample.input, sample.args, sample.kwargs))
    positions = [i for i, v in enumerate(leaves) if isinstance(v, torch.Tensor)]

    def fn(*tensors):
        values = list(leaves)
        for p, t in zip(positions, tensors):
            values[p] = t
        inp, args, kwargs = tree_unflatten(values, spec)
        out = op.op(inp, *args, **kwargs)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    fn.__name__ = fn.__qualname__ = "opinfo_sample"
    tensors = [leaves[p] for p in positions]
    with torch.no_grad():
        expected = fn(*tensors)
    graph = torch.fx.Graph()
    placeholders = [graph.placeholder(f"t{i}") for i in range(len(tensors))]
    call = graph.call_function(fn, tuple(placeholders))
    graph.output(tuple(graph.call_function(operator.getitem, (call, i)) for i in range(len(expected))))
    return torch.fx.GraphModule(torch.nn.Module(), graph), tensors, expected


def test_every_claimed_op_has_an_opinfo_or_a_reason():
    claimed = {name.rsplit(".", 1)[0] for name in wt.supported_aten_ops()}
    covered = {p for packets in OPINFO_FOR.values() for p in packets}
    missing = sorted(claimed - covered - set(NOT_FROM_OPINFO))
    assert not missing, f"claimed ATen ops without an OpInfo in OPINFO_FOR or a reason in NOT_FROM_OPINFO: {missing}"


#: dtypes tried per op (when the OpInfo supports them), in order
DTYPES = (torch.float32, torch.int64, torch.bool)
#: Samples run per op at least, and at most while none has run on WebNN yet.
MIN_SAMPLES, MAX_SAMPLES = 2, 8


def _check(sample, got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape, \
            f"{sample}: {g.dtype}{list(g.shape)} vs {e.dtype}{list(e.shape)}"
        if e.dtype.is_floating_point:
            torch.testing.assert_close(g, e, atol=1e-4, rtol=1e-4, equal_nan=True, msg=lambda m: f"{sample}: {m}")
        else:
            assert torch.equal(g, e), f"{sample}: {g} != {e}"


@pytest.mark.parametrize("op", OPS, ids=_opinfo_name)
def test_opinfo_samples_match_eager(op):
    from torch._subclasses.fake_tensor import DataDependentOutputException

    opts = wt.parse_options({"cache": False})
    ran_on_webnn = 0
    fallbacks: dict[str, set[str]] = {}
    tried = 0
    supported = op.supported_dtypes("cpu")
    for dtype in (d for d in DTYPES if d in supported):
        per_dtype = 0
        for sample in op.sample_inputs("cpu", dtype, requires_grad=False):
            if per_dtype >= MAX_SAMPLES or (per_dtype >= MIN_SAMPLES and ran_on_webnn) or \
                    (dtype != DTYPES[0] and per_dtype >= 1 and ran_on_webnn):
                break
            leaves = tree_flatten((sample.input, sample.args, sample.kwargs))[0]
            tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
            if any(t.numel() == 0 for t in tensors):
                continue
            gm, tensors, expected = _graph_for(op, sample)
            if not all(isinstance(e, torch.Tensor) for e in expected):
                continue
            with torch.no_grad():
                wt.clear_reports()
                try:
                    compiled = wt.compile_graph(gm, list(tensors), opts)
                except DataDependentOutputException:  # a sample passing a tensor where an int goes
                    continue
                got = compiled(*tensors)
            per_dtype += 1
            tried += 1
            report = wt.last_report()
            ran_on_webnn += report.webnn_nodes
            for name, reasons in report.fallbacks.items():
                fallbacks.setdefault(name, set()).update(reasons)
            _check(sample, got, expected)
    if tried == 0:
        pytest.skip("no traceable non-empty samples")
    claimed = set(OPINFO_FOR[_opinfo_name(op)])
    assert ran_on_webnn > 0, f"no sample ran on WebNN; fallbacks: {fallbacks}"
    failed = {k: v for k, v in fallbacks.items() if k in claimed and any("conversion failed" in r for r in v)}
    assert not failed, f"converters failed: {failed}"
