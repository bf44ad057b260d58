"""ONNX -> WebNN converters: LSTM and GRU.

ONNX and WebNN agree on tensor shapes and gate order (LSTM "iofg" = ONNX iofc, GRU
"zrn" = ONNX zrh, peepholes i, o, f); ONNX's single bias B holds the input and
recurrent biases back to back and is split in two. ``linear_before_reset`` is WebNN's
``reset_after``. Clip, layout=1, input_forget, activation parameters, per-direction
activations that differ and variable sequence lengths stay on ORT.
"""

from __future__ import annotations

import numpy as np

from webnn import MLGraphBuilder, MLOperand
from webnn.converters import SupportQuery

from .registry import ConvertContext, NodeView, converter, dtype_reason

DIRECTIONS = {"forward": "forward", "reverse": "backward", "bidirectional": "both"}
ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "Relu": "relu"}
GATES = {"LSTM": 4, "GRU": 3}


def _activations(node: NodeView) -> list[str] | None | str:
    names = node.attr("activations")
    if not names:
        return None
    per = GATES[node.op_type] - 1 if node.op_type == "GRU" else 3
    names = [str(n) for n in names]
    if node.attr("direction", "forward") == "bidirectional":
        if names[:per] != names[per:2 * per]:
            return "different activations per direction"
    names = names[:per]
    if any(n not in ACTIVATIONS for n in names):
        return f"activations {names} (WebNN has Sigmoid, Tanh, Relu)"
    return [ACTIVATIONS[n] for n in names]


def _rnn_check(query: SupportQuery, node: NodeView) -> str | None:
    if node.attr("direction", "forward") not in DIRECTIONS:
        return f"direction {node.attr('direction')!r}"
    if node.attr("clip") is not None:
        return f"{node.op_type} with clip"
    if int(node.attr("layout", 0)) != 0:
        return f"{node.op_type} with layout=1 (batch first)"
    if node.op_type == "LSTM" and int(node.attr("input_forget", 0)):
        return "LSTM with input_forget=1"
    if node.attr("activation_alpha") or node.attr("activation_beta"):
        return "activation_alpha/beta"
    acts = _activations(node)
    if isinstance(acts, str):
        return acts
    if node.has_input(4):
        lens = node.const(4)
        if lens is None or not np.all(np.asarray(lens) == node.in_shape(0)[0]):
            return "sequence_lens must be a constant equal to the sequence length"
    if node.op_type == "LSTM" and node.has_input(7):
        peep = node.const(7)
        hidden = node.in_shape(7)[-1] // 3
        if peep is None or np.any(np.asarray(peep)[:, hidden:2 * hidden] != 0):
            # WebNN's output gate peeks at the previous cell state, ONNX's at the new one.
            return "LSTM with output-gate peepholes (WebNN and ONNX define them differently)"
    types = {node.in_type(i) for i in range(len(node.inputs)) if node.has_input(i) and i != 4}
    if len(types) != 1:
        return f"inputs have different data types {sorted(types)}"
    return dtype_reason(query, node.op_type.lower(), node.in_type(0))


def _split_bias(b: MLGraphBuilder, bias: MLOperand, gates: int, hidden: int) -> tuple[MLOperand, MLOperand]:
    dirs = bias.shape[0]
    w, r = b.split(bias, [gates * hidden, gates * hidden], axis=1)
    assert w.shape == (dirs, gates * hidden)
    return w, r


def _common(cx: ConvertContext, node: NodeView) -> tuple[list[MLOperand], dict]:
    b = cx.builder
    x, w, r = (cx.operand(n) for n in node.inputs[:3])
    hidden = int(node.attr("hidden_size", r.shape[-1]))
    kwargs: dict = {"direction": DIRECTIONS[node.attr("direction", "forward")],
                    "return_sequence": node.has_output(0)}
    if node.has_input(3):
        kwargs["bias"], kwargs["recurrent_bias"] = _split_bias(b, cx.operand(node.inputs[3]),
                                                               GATES[node.op_type], hidden)
    acts = _activations(node)
    if acts:
        kwargs["activations"] = acts
    if node.has_input(5):
        kwargs["initial_hidden_state"] = cx.operand(node.inputs[5])
    return [x, w, r], kwargs


def _outputs(node: NodeView, results: list[MLOperand], states: int) -> list[MLOperand | None]:
    """WebNN returns [states..., sequence]; ONNX wants [sequence, states...]."""
    sequence = results[states] if node.has_output(0) else None
    outs: list[MLOperand | None] = [sequence, *results[:states]]
    return outs[:len(node.outputs)]


@converter("LSTM", webnn_ops=("lstm", "split"), opsets=(7, None), check=_rnn_check)
def convert_lstm(cx: ConvertContext, node: NodeView) -> list[MLOperand | None]:
    (x, w, r), kwargs = _common(cx, node)
    if node.has_input(6):
        kwargs["initial_cell_state"] = cx.operand(node.inputs[6])
    if node.has_input(7):
        kwargs["peephole_weight"] = cx.operand(node.inputs[7])
    hidden = int(node.attr("hidden_size", r.shape[-1]))
    results = cx.builder.lstm(x, w, r, x.shape[0], hidden, layout="iofg", **kwargs)
    return _outputs(node, list(results), 2)


@converter("GRU", webnn_ops=("gru", "split"), opsets=(7, None), check=_rnn_check)
def convert_gru(cx: ConvertContext, node: NodeView) -> list[MLOperand | None]:
    (x, w, r), kwargs = _common(cx, node)
    hidden = int(node.attr("hidden_size", r.shape[-1]))
    kwargs["reset_after"] = bool(node.attr("linear_before_reset", 0))
    results = cx.builder.gru(x, w, r, x.shape[0], hidden, layout="zrn", **kwargs)
    return _outputs(node, list(results), 1)
