"""gru, gruCell, lstm, lstmCell: validation, shapes, and values against references.

The numpy references below are written from the spec's formulas (its gruCell /
lstmCell emulation notes, unrolled over steps and directions as its gru / lstm
notes do), in float64, independently of the torch lowering. The LSTM and GRU are
also checked against ``torch.nn.LSTM`` / ``torch.nn.GRU`` where the gate layouts
map (torch uses "ifgo" and "rzn" with the reset gate applied after the matmul).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch

import webnn
from webnn import MLGraphBuilder

# -- references from the spec's formulas ---------------------------------------------

ACT = {
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
}


def _gate(t: np.ndarray | None, order: str, name: str, hidden: int) -> np.ndarray | float:
    """Rows of gate ``name`` of a weight or bias packed in ``order``; 0 if absent."""
    if t is None:
        return 0.0
    k = order.index(name)
    return t[k * hidden:(k + 1) * hidden]


def ref_gru_cell(x, w, rw, h, hidden, bias=None, rbias=None, reset_after=True, layout="zrn",
                 activations=("sigmoid", "tanh")):
    f, g = ACT[activations[0]], ACT[activations[1]]

    def part(name):
        return (_gate(bias, layout, name, hidden), _gate(rbias, layout, name, hidden),
                _gate(w, layout, name, hidden), _gate(rw, layout, name, hidden))

    b, rb, wz, rz = part("z")
    z = f((b + rb) + (x @ wz.T + h @ rz.T))
    b, rb, wr, rr = part("r")
    r = f((b + rb) + (x @ wr.T + h @ rr.T))
    b, rb, wn, rn = part("n")
    if reset_after:
        n = g(b + (x @ wn.T + r * (rb + h @ rn.T)))
    else:
        n = g((b + rb) + (x @ wn.T + (r * h) @ rn.T))
    return z * h + n * (1 - z)


def ref_lstm_cell(x, w, rw, h, c, hidden, bias=None, rbias=None, peephole=None, layout="iofg",
                  activations=("sigmoid", "tanh", "tanh")):
    f_act, g_act, h_act = (ACT[a] for a in activations)

    def pre(name):
        return ((_gate(bias, layout, name, hidden) + _gate(rbias, layout, name, hidden))
                + (x @ _gate(w, layout, name, hidden).T + h @ _gate(rw, layout, name, hidden).T))

    peep = {name: _gate(peephole, "iof", name, hidden) for name in "iof"}
    i = f_act(c * peep["i"] + pre("i"))
    f = f_act(c * peep["f"] + pre("f"))
    g = g_act(pre("g"))
    o = f_act(c * peep["o"] + pre("o"))
    ct = f * c + i * g
    return o * h_act(ct), ct


def _dir_order(direction: str, d: int, steps: int) -> range:
    backward = direction == "backward" or d == 1
    return range(steps - 1, -1, -1) if backward else range(steps)


def ref_gru(x, w, rw, steps, hidden, bias=None, rbias=None, h0=None, reset_after=True,
            return_sequence=False, direction="forward", layout="zrn", activations=("sigmoid", "tanh")):
    dirs = 2 if direction == "both" else 1
    batch = x.shape[1]
    h0 = np.zeros((dirs, batch, hidden)) if h0 is None else h0
    last, seq = [], np.zeros((steps, dirs, batch, hidden))
    for d in range(dirs):
        h = h0[d]
        for t in _dir_order(direction, d, steps):
            h = ref_gru_cell(x[t], w[d], rw[d], h, hidden, None if bias is None else bias[d],
                             None if rbias is None else rbias[d], reset_after, layout, activations)
            seq[t, d] = h
        last.append(h)
    return [np.stack(last)] + ([seq] if return_sequence else [])


def ref_lstm(x, w, rw, steps, hidden, bias=None, rbias=None, peephole=None, h0=None, c0=None,
             return_sequence=False, direction="forward", layout="iofg",
             activations=("sigmoid", "tanh", "tanh")):
    dirs = 2 if direction == "both" else 1
    batch = x.shape[1]
    h0 = np.zeros((dirs, batch, hidden)) if h0 is None else h0
    c0 = np.zeros((dirs, batch, hidden)) if c0 is None else c0
    hs, cs, seq = [], [], np.zeros((steps, dirs, batch, hidden))
    for d in range(dirs):
        h, c = h0[d], c0[d]
        for t in _dir_order(direction, d, steps):
            h, c = ref_lstm_cell(x[t], w[d], rw[d], h, c, hidden,
                                 *(None if v is None else v[d] for v in (bias, rbias, peephole)),
                                 layout, activations)
            seq[t, d] = h
        hs.append(h)
        cs.append(c)
    return [np.stack(hs), np.stack(cs)] + ([seq] if return_sequence else [])


# -- running a graph --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx():
    return webnn.ml.create_context("cpu", cache=False)


def run_op(ctx, op: str, arrays: dict[str, np.ndarray], positional: Sequence[str], scalars: Sequence[int],
           options: dict, constants: Sequence[str] = ()) -> list[np.ndarray]:
    """Build ``op`` with ``arrays`` as graph inputs (or constants) and run it on the CPU.

    ``positional`` names the operand arguments in order, ``scalars`` follow them;
    every other array is passed as the option of the same name.
    """
    b = MLGraphBuilder(ctx)
    operands, feeds = {}, {}
    for name, array in arrays.items():
        if array is None:
            continue
        if name in constants:
            operands[name] = b.constant(array)
        else:
            operands[name] = b.input(name, {"dataType": str(array.dtype), "shape": list(array.shape)})
            feeds[name] = array
    kwargs = dict(options)
    kwargs.update({k: v for k, v in operands.items() if k not in positional})
    result = getattr(b, op)(*(operands[n] for n in positional), *scalars, **kwargs)
    outs = result if isinstance(result, list) else [result]
    graph = b.build({f"out{i}": o for i, o in enumerate(outs)})
    values = ctx.compute(graph, feeds)
    return [values[f"out{i}"] for i in range(len(outs))]


def rand(rng, *shape, dtype=np.float32, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def close(actual, expected, dtype=np.float32):
    assert actual.dtype == dtype
    assert actual.shape == expected.shape
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == np.float16 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(actual.astype(np.float64), expected, **tol)


def f64(arrays: dict[str, np.ndarray | None]) -> dict[str, np.ndarray | None]:
    return {k: None if v is None else v.astype(np.float64) for k, v in arrays.items()}


# -- GRU ------------------------------------------------------------------------------------

STEPS, BATCH, INPUT, HIDDEN = 3, 2, 4, 5


def gru_arrays(rng, dirs, *, dtype=np.float32, bias=True, rbias=True, h0=True, steps=STEPS):
    G = 3 * HIDDEN
    return {
        "input": rand(rng, steps, BATCH, INPUT, dtype=dtype),
        "weight": rand(rng, dirs, G, INPUT, dtype=dtype),
        "recurrent_weight": rand(rng, dirs, G, HIDDEN, dtype=dtype),
        "bias": rand(rng, dirs, G, dtype=dtype) if bias else None,
        "recurrent_bias": rand(rng, dirs, G, dtype=dtype) if rbias else None,
        "initial_hidden_state": rand(rng, dirs, BATCH, HIDDEN, dtype=dtype) if h0 else None,
    }


def run_gru(ctx, arrays, steps=STEPS, constants=(), **options):
    return run_op(ctx, "gru", arrays, ["input", "weight", "recurrent_weight"], [steps, HIDDEN], options,
                  constants)


def expect_gru(arrays, steps=STEPS, **options):
    a = f64(arrays)
    return ref_gru(a["input"], a["weight"], a["recurrent_weight"], steps, HIDDEN, a["bias"],
                   a["recurrent_bias"], a["initial_hidden_state"], **options)


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
@pytest.mark.parametrize("layout", ["zrn", "rzn"])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("activations", [None, ("relu", "tanh"), ("tanh", "sigmoid")])
def test_gru_all_options(ctx, direction, layout, reset_after, activations):
    """Default activations with reset_after take torch's fused kernel; the rest the loop."""
    rng = np.random.default_rng(1)
    arrays = gru_arrays(rng, 2 if direction == "both" else 1)
    options = dict(reset_after=reset_after, return_sequence=True, direction=direction, layout=layout)
    if activations:
        options["activations"] = list(activations)
    got = run_gru(ctx, arrays, **options)
    ref_options = dict(options, activations=activations or ("sigmoid", "tanh"))
    want = expect_gru(arrays, **ref_options)
    assert len(got) == 2
    for g, w in zip(got, want):
        close(g, w)


@pytest.mark.parametrize("present", [(), ("bias",), ("recurrent_bias",), ("initial_hidden_state",)])
@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_optional_operands(ctx, present, reset_after):
    rng = np.random.default_rng(2)
    arrays = gru_arrays(rng, 1)
    arrays = {k: (v if k in ("input", "weight", "recurrent_weight") or k in present else None)
              for k, v in arrays.items()}
    got = run_gru(ctx, arrays, reset_after=reset_after)
    assert len(got) == 1
    close(got[0], expect_gru(arrays, reset_after=reset_after)[0])


def test_gru_float16(ctx):
    rng = np.random.default_rng(3)
    arrays = gru_arrays(rng, 2, dtype=np.float16)
    got = run_gru(ctx, arrays, direction="both", return_sequence=True, reset_after=False)
    want = expect_gru(arrays, direction="both", return_sequence=True, reset_after=False)
    for g, w in zip(got, want):
        close(g, w, np.float16)


def test_gru_constant_weights_and_long_sequence(ctx):
    rng = np.random.default_rng(4)
    arrays = gru_arrays(rng, 2, steps=17)
    got = run_gru(ctx, arrays, steps=17, constants=("weight", "recurrent_weight", "bias", "recurrent_bias"),
                  direction="both", return_sequence=True)
    want = expect_gru(arrays, steps=17, direction="both", return_sequence=True)
    for g, w in zip(got, want):
        close(g, w)


def test_gru_all_constant_graph_is_folded_and_correct(ctx):
    rng = np.random.default_rng(5)
    arrays = gru_arrays(rng, 1)
    got = run_gru(ctx, arrays, constants=tuple(arrays), return_sequence=True)
    for g, w in zip(got, expect_gru(arrays, return_sequence=True)):
        close(g, w)


@pytest.mark.parametrize("layout", ["zrn", "rzn"])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("activations", [None, ("relu", "relu")])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gru_cell(ctx, layout, reset_after, activations, dtype):
    rng = np.random.default_rng(6)
    G = 3 * HIDDEN
    arrays = {"input": rand(rng, BATCH, INPUT, dtype=dtype), "weight": rand(rng, G, INPUT, dtype=dtype),
              "recurrent_weight": rand(rng, G, HIDDEN, dtype=dtype),
              "hidden_state": rand(rng, BATCH, HIDDEN, dtype=dtype),
              "bias": rand(rng, G, dtype=dtype), "recurrent_bias": rand(rng, G, dtype=dtype)}
    options = dict(reset_after=reset_after, layout=layout)
    if activations:
        options["activations"] = list(activations)
    (got,) = run_op(ctx, "gru_cell", arrays, ["input", "weight", "recurrent_weight", "hidden_state"],
                    [HIDDEN], options)
    a = f64(arrays)
    want = ref_gru_cell(a["input"], a["weight"], a["recurrent_weight"], a["hidden_state"], HIDDEN,
                        a["bias"], a["recurrent_bias"], reset_after, layout, activations or ("sigmoid", "tanh"))
    close(got, want, dtype)


def test_gru_cell_without_biases(ctx):
    rng = np.random.default_rng(7)
    G = 3 * HIDDEN
    arrays = {"input": rand(rng, BATCH, INPUT), "weight": rand(rng, G, INPUT),
              "recurrent_weight": rand(rng, G, HIDDEN), "hidden_state": rand(rng, BATCH, HIDDEN)}
    (got,) = run_op(ctx, "gru_cell", arrays, list(arrays), [HIDDEN], {})
    a = f64(arrays)
    close(got, ref_gru_cell(a["input"], a["weight"], a["recurrent_weight"], a["hidden_state"], HIDDEN))


# -- LSTM -----------------------------------------------------------------------------------


def lstm_arrays(rng, dirs, *, dtype=np.float32, present=("bias", "recurrent_bias", "peephole_weight",
                                                         "initial_hidden_state", "initial_cell_state"),
                steps=STEPS):
    G = 4 * HIDDEN
    arrays = {
        "input": rand(rng, steps, BATCH, INPUT, dtype=dtype),
        "weight": rand(rng, dirs, G, INPUT, dtype=dtype),
        "recurrent_weight": rand(rng, dirs, G, HIDDEN, dtype=dtype),
        "bias": rand(rng, dirs, G, dtype=dtype),
        "recurrent_bias": rand(rng, dirs, G, dtype=dtype),
        "peephole_weight": rand(rng, dirs, 3 * HIDDEN, dtype=dtype),
        "initial_hidden_state": rand(rng, dirs, BATCH, HIDDEN, dtype=dtype),
        "initial_cell_state": rand(rng, dirs, BATCH, HIDDEN, dtype=dtype),
    }
    return {k: v if k in ("input", "weight", "recurrent_weight") or k in present else None
            for k, v in arrays.items()}


def run_lstm(ctx, arrays, steps=STEPS, constants=(), **options):
    return run_op(ctx, "lstm", arrays, ["input", "weight", "recurrent_weight"], [steps, HIDDEN], options,
                  constants)


def expect_lstm(arrays, steps=STEPS, **options):
    a = f64(arrays)
    return ref_lstm(a["input"], a["weight"], a["recurrent_weight"], steps, HIDDEN, a["bias"],
                    a["recurrent_bias"], a["peephole_weight"], a["initial_hidden_state"],
                    a["initial_cell_state"], **options)


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
@pytest.mark.parametrize("layout", ["iofg", "ifgo"])
@pytest.mark.parametrize("activations", [None, ("relu", "relu", "relu"), ("tanh", "sigmoid", "relu")])
@pytest.mark.parametrize("peephole", [True, False])
def test_lstm_all_options(ctx, direction, layout, activations, peephole):
    """Default activations without peepholes take torch's fused kernel; the rest the loop."""
    rng = np.random.default_rng(11)
    arrays = lstm_arrays(rng, 2 if direction == "both" else 1)
    if not peephole:
        arrays["peephole_weight"] = None
    options = dict(return_sequence=True, direction=direction, layout=layout)
    if activations:
        options["activations"] = list(activations)
    got = run_lstm(ctx, arrays, **options)
    want = expect_lstm(arrays, **dict(options, activations=activations or ("sigmoid", "tanh", "tanh")))
    assert len(got) == 3
    for g, w in zip(got, want):
        close(g, w)


@pytest.mark.parametrize("present", [(), ("bias",), ("recurrent_bias",), ("peephole_weight",),
                                     ("initial_hidden_state",), ("initial_cell_state",)])
def test_lstm_optional_operands(ctx, present):
    rng = np.random.default_rng(12)
    arrays = lstm_arrays(rng, 1, present=present)
    got = run_lstm(ctx, arrays)
    assert len(got) == 2
    for g, w in zip(got, expect_lstm(arrays)):
        close(g, w)


@pytest.mark.parametrize("present", [("bias",), ("recurrent_bias",), ()])
def test_fused_paths_with_one_bias(ctx, present):
    """torch's kernels take both biases or none: a missing one must count as zeros."""
    rng = np.random.default_rng(17)
    arrays = lstm_arrays(rng, 2, present=present + ("initial_cell_state",))
    got = run_lstm(ctx, arrays, direction="both", return_sequence=True)
    for g, w in zip(got, expect_lstm(arrays, direction="both", return_sequence=True)):
        close(g, w)
    arrays = gru_arrays(rng, 1, bias="bias" in present, rbias="recurrent_bias" in present, h0=False)
    got = run_gru(ctx, arrays, direction="backward", return_sequence=True)
    for g, w in zip(got, expect_gru(arrays, direction="backward", return_sequence=True)):
        close(g, w)


def test_lstm_float16(ctx):
    rng = np.random.default_rng(13)
    arrays = lstm_arrays(rng, 2, dtype=np.float16)
    got = run_lstm(ctx, arrays, direction="both", return_sequence=True, layout="ifgo")
    for g, w in zip(got, expect_lstm(arrays, direction="both", return_sequence=True, layout="ifgo")):
        close(g, w, np.float16)


def test_lstm_constant_weights_and_long_sequence(ctx):
    rng = np.random.default_rng(14)
    arrays = lstm_arrays(rng, 1, steps=19)
    got = run_lstm(ctx, arrays, steps=19, constants=("weight", "recurrent_weight", "bias", "peephole_weight"),
                   direction="backward", return_sequence=True, layout="ifgo")
    want = expect_lstm(arrays, steps=19, direction="backward", return_sequence=True, layout="ifgo")
    for g, w in zip(got, want):
        close(g, w)


@pytest.mark.parametrize("layout", ["iofg", "ifgo"])
@pytest.mark.parametrize("activations", [None, ("relu", "tanh", "sigmoid")])
@pytest.mark.parametrize("peephole", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_lstm_cell(ctx, layout, activations, peephole, dtype):
    rng = np.random.default_rng(15)
    G = 4 * HIDDEN
    arrays = {"input": rand(rng, BATCH, INPUT, dtype=dtype), "weight": rand(rng, G, INPUT, dtype=dtype),
              "recurrent_weight": rand(rng, G, HIDDEN, dtype=dtype),
              "hidden_state": rand(rng, BATCH, HIDDEN, dtype=dtype),
              "cell_state": rand(rng, BATCH, HIDDEN, dtype=dtype),
              "bias": rand(rng, G, dtype=dtype), "recurrent_bias": rand(rng, G, dtype=dtype),
              "peephole_weight": rand(rng, 3 * HIDDEN, dtype=dtype) if peephole else None}
    options: dict = dict(layout=layout)
    if activations:
        options["activations"] = list(activations)
    got = run_op(ctx, "lstm_cell", arrays, ["input", "weight", "recurrent_weight", "hidden_state",
                                            "cell_state"], [HIDDEN], options)
    a = f64(arrays)
    want = ref_lstm_cell(a["input"], a["weight"], a["recurrent_weight"], a["hidden_state"], a["cell_state"],
                         HIDDEN, a["bias"], a["recurrent_bias"], a["peephole_weight"], layout,
                         activations or ("sigmoid", "tanh", "tanh"))
    assert len(got) == 2
    for g, w in zip(got, want):
        close(g, w, dtype)


def test_lstm_cell_single_output_list_and_no_options(ctx):
    rng = np.random.default_rng(16)
    G = 4 * HIDDEN
    arrays = {"input": rand(rng, 1, INPUT), "weight": rand(rng, G, INPUT),
              "recurrent_weight": rand(rng, G, HIDDEN), "hidden_state": rand(rng, 1, HIDDEN),
              "cell_state": rand(rng, 1, HIDDEN)}
    got = run_op(ctx, "lstm_cell", arrays, list(arrays), [HIDDEN], {})
    a = f64(arrays)
    want = ref_lstm_cell(a["input"], a["weight"], a["recurrent_weight"], a["hidden_state"], a["cell_state"],
                         HIDDEN)
    for g, w in zip(got, want):
        close(g, w)


# -- against torch.nn (layouts mapped) -----------------------------------------------


def _torch_params(module: torch.nn.Module, arrays: dict, dirs: int) -> None:
    with torch.no_grad():
        for d in range(dirs):
            sfx = "_reverse" if d == 1 else ""
            getattr(module, f"weight_ih_l0{sfx}").copy_(torch.from_numpy(arrays["weight"][d]))
            getattr(module, f"weight_hh_l0{sfx}").copy_(torch.from_numpy(arrays["recurrent_weight"][d]))
            getattr(module, f"bias_ih_l0{sfx}").copy_(torch.from_numpy(arrays["bias"][d]))
            getattr(module, f"bias_hh_l0{sfx}").copy_(torch.from_numpy(arrays["recurrent_bias"][d]))


@pytest.mark.parametrize("direction", ["forward", "backward", "both"])
def test_gru_matches_torch_nn_gru(ctx, direction):
    """torch.nn.GRU is layout "rzn" with the reset gate applied after the matmul."""
    rng = np.random.default_rng(21)
    dirs = 2 if direction == "both" else 1
    arrays = gru_arrays(rng, dirs, steps=6)
    got = run_gru(ctx, arrays, steps=6, layout="rzn", reset_after=True, direction=direction,
                  return_sequence=True)
    module = torch.nn.GRU(INPUT, HIDDEN, bidirectional=dirs == 2)
    _torch_params(module, arrays, dirs)
    x = torch.from_numpy(arrays["input"])
    h0 = torch.from_numpy(arrays["initial_hidden_state"])
    if direction == "backward":  # torch has no backward-only GRU: run it on the reversed input
        x = x.flip(0)
    with torch.no_grad():
        seq, h_n = module(x, h0)
    seq = seq.view(6, BATCH, dirs, HIDDEN).transpose(1, 2)
    if direction == "backward":
        seq = seq.flip(0)
    np.testing.assert_allclose(got[0], h_n.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], seq.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("direction", ["forward", "both"])
def test_lstm_matches_torch_nn_lstm(ctx, direction):
    """torch.nn.LSTM is layout "ifgo" with no peepholes."""
    rng = np.random.default_rng(22)
    dirs = 2 if direction == "both" else 1
    arrays = lstm_arrays(rng, dirs, steps=6, present=("bias", "recurrent_bias", "initial_hidden_state",
                                                      "initial_cell_state"))
    got = run_lstm(ctx, arrays, steps=6, layout="ifgo", direction=direction, return_sequence=True)
    module = torch.nn.LSTM(INPUT, HIDDEN, bidirectional=dirs == 2)
    _torch_params(module, arrays, dirs)
    with torch.no_grad():
        seq, (h_n, c_n) = module(torch.from_numpy(arrays["input"]),
                                 (torch.from_numpy(arrays["initial_hidden_state"]),
                                  torch.from_numpy(arrays["initial_cell_state"])))
    np.testing.assert_allclose(got[0], h_n.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], c_n.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[2], seq.view(6, BATCH, dirs, HIDDEN).transpose(1, 2).numpy(),
                               rtol=1e-5, atol=1e-5)


# -- shapes and validation ---------------------------------------------------------------


def _ops(b: MLGraphBuilder, dtype: str = "float32", steps: int = STEPS, dirs: int = 1, gates: int = 3):
    def inp(name, *shape, dt=dtype):
        return b.input(name, {"dataType": dt, "shape": list(shape)})

    G = gates * HIDDEN
    return inp, {"x": inp("x", steps, BATCH, INPUT), "w": inp("w", dirs, G, INPUT),
                 "r": inp("r", dirs, G, HIDDEN)}


def test_output_descriptors(ctx):
    b = MLGraphBuilder(ctx)
    inp, o = _ops(b, "float16", dirs=2)
    outs = b.gru(o["x"], o["w"], o["r"], STEPS, HIDDEN, direction="both", return_sequence=True)
    assert [(v.data_type, v.shape) for v in outs] == [("float16", (2, BATCH, HIDDEN)),
                                                    ("float16", (STEPS, 2, BATCH, HIDDEN))]
    assert len(b.gru(o["x"], o["w"], o["r"], STEPS, HIDDEN, direction="both")) == 1
    cell = b.gru_cell(inp("cx", BATCH, INPUT, dt="float16"), inp("cw", 3 * HIDDEN, INPUT, dt="float16"),
                      inp("cr", 3 * HIDDEN, HIDDEN, dt="float16"), inp("ch", BATCH, HIDDEN, dt="float16"),
                      HIDDEN)
    assert isinstance(cell, webnn.MLOperand) and cell.shape == (BATCH, HIDDEN)
    b2 = MLGraphBuilder(ctx)
    _, o = _ops(b2, gates=4)
    outs = b2.lstm(o["x"], o["w"], o["r"], STEPS, HIDDEN)
    assert [v.shape for v in outs] == [(1, BATCH, HIDDEN)] * 2
    outs = b2.lstm(o["x"], o["w"], o["r"], STEPS, HIDDEN, return_sequence=True)
    assert [v.shape for v in outs] == [(1, BATCH, HIDDEN)] * 2 + [(STEPS, 1, BATCH, HIDDEN)]


GRU_ERRORS = [
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS + 1, HIDDEN)), r"gru: input shape\[0\] must equal steps"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], 0, HIDDEN)), "gru: steps must be greater than 0"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], -1, HIDDEN)), "gru: steps must be an unsigned long"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, 0)), "gru: hidden_size \\* 6 must be a valid"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, 2**30)), "gru: hidden_size \\* 6 must be a valid"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, 1.5)), "gru: hidden_size must be an integer"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN + 1)), r"gru: weight shape must be \[1, 18, 4\]"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), direction="both"),
     r"gru: weight shape must be \[2, 15, 4\], got \[1, 15, 4\]"),
    (lambda i, o: dict(args=(o["x"], o["w"], i("r2", 1, 15, 4), STEPS, HIDDEN)),
     r"gru: recurrent_weight shape must be \[1, 15, 5\]"),
    (lambda i, o: dict(args=(o["x"], i("w2", 15, 4), o["r"], STEPS, HIDDEN)), "gru: weight rank must be 3"),
    (lambda i, o: dict(args=(o["x"], i("w2", 1, 15, 4, dt="float16"), o["r"], STEPS, HIDDEN)),
     "gru: weight data type must match input"),
    (lambda i, o: dict(args=(o["x"], "w", o["r"], STEPS, HIDDEN)), "gru: weight must be an MLOperand"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), bias=i("b", 1, 14)),
     r"gru: bias shape must be \[1, 15\], got \[1, 14\]"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), recurrent_bias=i("b", 15)),
     r"gru: recurrent_bias shape must be \[1, 15\]"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), bias=i("b", 1, 15, dt="float16")),
     "gru: bias data type must match input"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), initial_hidden_state=i("h", 1, 1, 5)),
     r"gru: initial_hidden_state shape must be \[1, 2, 5\]"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), activations=["sigmoid"]),
     "gru: activations must have 2 values, got 1"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), activations=["sigmoid", "gelu"]),
     "gru: activations must be one of 'relu', 'sigmoid', 'tanh', got 'gelu'"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), activations="sigmoid"),
     "gru: activations must be a sequence"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), direction="left"),
     "gru: direction must be one of 'forward', 'backward', 'both', got 'left'"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), layout="ifgo"),
     "gru: layout must be one of 'zrn', 'rzn', got 'ifgo'"),
    (lambda i, o: dict(args=(o["x"], o["w"], o["r"], STEPS, HIDDEN), reset_after="yes"),
     "gru: reset_after must be a bool"),
]


@pytest.mark.parametrize(("make", "message"), GRU_ERRORS)
def test_gru_errors(ctx, make, message):
    b = MLGraphBuilder(ctx)
    inp, o = _ops(b)
    call = make(inp, o)
    args = call.pop("args")
    with pytest.raises(TypeError, match=message):
        b.gru(*args, **call)


def test_gru_main_input_checked_against_spec_table(ctx):
    b = MLGraphBuilder(ctx)
    inp, o = _ops(b)
    with pytest.raises(TypeError, match="gru: input data type must be one of float32, float16, got int32"):
        b.gru(inp("xi", STEPS, BATCH, INPUT, dt="int32"), o["w"], o["r"], STEPS, HIDDEN)
    with pytest.raises(TypeError, match="gru: input rank must be 3"):
        b.gru(inp("x2", BATCH, INPUT), o["w"], o["r"], STEPS, HIDDEN)


def test_other_builder_operand_rejected(ctx):
    b, other = MLGraphBuilder(ctx), MLGraphBuilder(ctx)
    _, o = _ops(b)
    foreign = other.input("b", {"dataType": "float32", "shape": [1, 15]})
    with pytest.raises(TypeError, match="gru: .*different MLGraphBuilder"):
        b.gru(o["x"], o["w"], o["r"], STEPS, HIDDEN, bias=foreign)


def test_gru_cell_errors(ctx):
    b = MLGraphBuilder(ctx)

    def inp(name, *shape, dt="float32"):
        return b.input(name, {"dataType": dt, "shape": list(shape)})

    x, w, r, h = inp("x", BATCH, INPUT), inp("w", 15, INPUT), inp("r", 15, HIDDEN), inp("h", BATCH, HIDDEN)
    with pytest.raises(TypeError, match=r"gru_cell: hidden_state shape must be \[2, 5\], got \[1, 5\]"):
        b.gru_cell(x, w, r, inp("h1", 1, HIDDEN), HIDDEN)
    with pytest.raises(TypeError, match="gru_cell: hidden_state rank must be 2"):
        b.gru_cell(x, w, r, inp("h3", 1, BATCH, HIDDEN), HIDDEN)
    with pytest.raises(TypeError, match=r"gru_cell: weight shape must be \[18, 4\]"):
        b.gru_cell(x, w, inp("r6", 18, 6), h, 6)
    with pytest.raises(TypeError, match=r"gru_cell: bias shape must be \[15\], got \[1, 15\]"):
        b.gru_cell(x, w, r, h, HIDDEN, bias=inp("b", 1, 15))
    with pytest.raises(TypeError, match="gru_cell: recurrent_bias data type must match input"):
        b.gru_cell(x, w, r, h, HIDDEN, recurrent_bias=inp("rb", 15, dt="float16"))
    with pytest.raises(TypeError, match="gru_cell: activations must have 2 values, got 3"):
        b.gru_cell(x, w, r, h, HIDDEN, activations=["relu"] * 3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'direction'"):
        b.gru_cell(x, w, r, h, HIDDEN, direction="both")


def test_lstm_errors(ctx):
    b = MLGraphBuilder(ctx)
    inp, o = _ops(b, gates=4)
    x, w, r = o["x"], o["w"], o["r"]
    with pytest.raises(TypeError, match=r"lstm: weight shape must be \[2, 20, 4\], got \[1, 20, 4\]"):
        b.lstm(x, w, r, STEPS, HIDDEN, direction="both")
    with pytest.raises(TypeError, match="lstm: steps must be greater than 0"):
        b.lstm(x, w, r, 0, HIDDEN)
    with pytest.raises(TypeError, match=r"lstm: input shape\[0\] must equal steps \(2\)"):
        b.lstm(x, w, r, 2, HIDDEN)
    with pytest.raises(TypeError, match=r"lstm: hidden_size \* 8 must be a valid dimension"):
        b.lstm(x, w, r, STEPS, 2**28)
    with pytest.raises(TypeError, match=r"lstm: peephole_weight shape must be \[1, 15\], got \[1, 20\]"):
        b.lstm(x, w, r, STEPS, HIDDEN, peephole_weight=inp("p", 1, 20))
    with pytest.raises(TypeError, match=r"lstm: initial_cell_state shape must be \[1, 2, 5\]"):
        b.lstm(x, w, r, STEPS, HIDDEN, initial_cell_state=inp("c", 2, BATCH, HIDDEN))
    with pytest.raises(TypeError, match="lstm: initial_hidden_state data type must match input"):
        b.lstm(x, w, r, STEPS, HIDDEN, initial_hidden_state=inp("h", 1, BATCH, HIDDEN, dt="float16"))
    with pytest.raises(TypeError, match="lstm: activations must have 3 values, got 2"):
        b.lstm(x, w, r, STEPS, HIDDEN, activations=["sigmoid", "tanh"])
    with pytest.raises(TypeError, match="lstm: layout must be one of 'iofg', 'ifgo', got 'zrn'"):
        b.lstm(x, w, r, STEPS, HIDDEN, layout="zrn")
    with pytest.raises(TypeError, match="lstm: return_sequence must be a bool"):
        b.lstm(x, w, r, STEPS, HIDDEN, return_sequence=1)
    with pytest.raises(TypeError, match="lstm: recurrent_weight rank must be 3"):
        b.lstm(x, w, inp("r2", 20, HIDDEN), STEPS, HIDDEN)


def test_lstm_cell_errors(ctx):
    b = MLGraphBuilder(ctx)

    def inp(name, *shape, dt="float32"):
        return b.input(name, {"dataType": dt, "shape": list(shape)})

    x, w, r = inp("x", BATCH, INPUT), inp("w", 20, INPUT), inp("r", 20, HIDDEN)
    h, c = inp("h", BATCH, HIDDEN), inp("c", BATCH, HIDDEN)
    with pytest.raises(TypeError, match=r"lstm_cell: cell_state shape must be \[2, 5\], got \[2, 4\]"):
        b.lstm_cell(x, w, r, h, inp("c4", BATCH, 4), HIDDEN)
    with pytest.raises(TypeError, match="lstm_cell: cell_state data type must match input"):
        b.lstm_cell(x, w, r, h, inp("c16", BATCH, HIDDEN, dt="float16"), HIDDEN)
    with pytest.raises(TypeError, match=r"lstm_cell: peephole_weight shape must be \[15\]"):
        b.lstm_cell(x, w, r, h, c, HIDDEN, peephole_weight=inp("p", 20))
    with pytest.raises(TypeError, match=r"lstm_cell: recurrent_weight shape must be \[20, 5\]"):
        b.lstm_cell(x, w, inp("r4", 20, 4), h, c, HIDDEN)
    with pytest.raises(TypeError, match="lstm_cell: hidden_size must be an unsigned long"):
        b.lstm_cell(x, w, r, h, c, 2**32)
    with pytest.raises(TypeError, match="lstm_cell: activations must have 3 values"):
        b.lstm_cell(x, w, r, h, c, HIDDEN, activations=[])


# -- CUDA -------------------------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cuda_matches_reference(dtype):
    cuda = webnn.ml.create_context("cuda", cache=False)
    rng = np.random.default_rng(31)
    arrays = lstm_arrays(rng, 2, dtype=dtype, steps=7)
    got = run_lstm(cuda, arrays, steps=7, direction="both", return_sequence=True, layout="ifgo")
    for g, w in zip(got, expect_lstm(arrays, steps=7, direction="both", return_sequence=True, layout="ifgo")):
        close(g, w, dtype)
    arrays = gru_arrays(rng, 1, dtype=dtype, steps=7)
    got = run_gru(cuda, arrays, steps=7, direction="backward", return_sequence=True, reset_after=False)
    for g, w in zip(got, expect_gru(arrays, steps=7, direction="backward", return_sequence=True,
                                    reset_after=False)):
        close(g, w, dtype)
