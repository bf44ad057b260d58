"""Recurrent networks: gru, gruCell, lstm, lstmCell.

Spec sections "gru", "gruCell", "lstm" and "lstmCell" of ``MLGraphBuilder``. Each
definition follows the spec's method steps in order: operand data types and ranks,
``steps`` against the input, the weight shapes, ``hiddenSize * 6`` (GRU) or
``* 8`` (LSTM) as a valid dimension, then each optional operand and the activations.

Operand order in the IR (absent options are ``None``, so positions are fixed):

- gru: input, weight, recurrentWeight, bias, recurrentBias, initialHiddenState
- gruCell: input, weight, recurrentWeight, hiddenState, bias, recurrentBias
- lstm: input, weight, recurrentWeight, bias, recurrentBias, peepholeWeight,
  initialHiddenState, initialCellState
- lstmCell: input, weight, recurrentWeight, hiddenState, cellState, bias,
  recurrentBias, peepholeWeight
"""

from __future__ import annotations

from collections.abc import Sequence

from ..operand import MLOperand
from . import _common as c
from ._registry import Emit, op

#: spec: ``MLRecurrentNetworkActivation``.
ACTIVATIONS = ("relu", "sigmoid", "tanh")
#: spec: ``MLRecurrentNetworkDirection``.
DIRECTIONS = ("forward", "backward", "both")
#: spec: ``MLGruWeightLayout`` and ``MLLstmWeightLayout``.
GRU_LAYOUTS = ("zrn", "rzn")
LSTM_LAYOUTS = ("iofg", "ifgo")

#: Largest valid dimension (spec: "in the range of long").
_MAX_DIM = 2**31 - 1
#: [EnforceRange] unsigned long.
_MAX_ULONG = 2**32 - 1


def _ulong(opname: str, name: str, value: object) -> int:
    """An ``[EnforceRange] unsigned long`` argument."""
    v = c.integer(opname, name, value)
    if not 0 <= v <= _MAX_ULONG:
        raise c.fail(opname, f"{name} must be an unsigned long in [0, {_MAX_ULONG}], got {v}")
    return v


def _default(value: object, default: str) -> object:
    """An enum option: ``None`` means the spec's default."""
    return default if value is None else value


def _flag(opname: str, name: str, value: object, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise c.fail(opname, f"{name} must be a bool, got {value!r}")
    return value


def _hidden_size(opname: str, hidden_size: int, gates: int) -> None:
    """The spec's "hiddenSize * 2 * gates is a valid dimension" step (concatenated biases)."""
    total = hidden_size * 2 * gates
    if not 0 < total <= _MAX_DIM:
        raise c.fail(opname, f"hidden_size * {2 * gates} must be a valid dimension in [1, {_MAX_DIM}], "
                             f"got hidden_size {hidden_size}")


def _activations(opname: str, value: object, default: Sequence[str]) -> list[str]:
    if value is None:
        return list(default)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise c.fail(opname, f"activations must be a sequence of {len(default)} of "
                             f"{', '.join(repr(a) for a in ACTIVATIONS)}, got {value!r}")
    if len(value) != len(default):
        raise c.fail(opname, f"activations must have {len(default)} values, got {len(value)} ({list(value)!r})")
    return [c.choice(opname, "activations", a, ACTIVATIONS) for a in value]


def _main_operands(opname: str, input: MLOperand,  # noqa: A002  (spec argument name)
                   named: Sequence[tuple[str, object, int]]) -> list[MLOperand]:
    """The spec's data type step for the non-optional operands, then their ranks."""
    operands = [c.operand(opname, name, value) for name, value, _ in named]
    for (name, _, _), value in zip(named, operands):
        c.same_type(opname, name, value, input, "input")
    for (name, _, rank), value in zip(named, operands):
        c.rank_is(opname, name, value, rank)
    return operands  # type: ignore[return-value]


def _sequence_operands(name: str, input: MLOperand, weight: object, recurrent_weight: object,  # noqa: A002
                       steps: object, hidden_size: object) -> tuple[MLOperand, MLOperand, int, int]:
    """The checks gru and lstm share: rank-3 weights, ``steps`` > 0 matching the input's
    first dimension, and an unsigned ``hidden_size``."""
    weight, recurrent_weight = _main_operands(
        name, input, [("weight", weight, 3), ("recurrent_weight", recurrent_weight, 3)])
    steps = _ulong(name, "steps", steps)
    hidden_size = _ulong(name, "hidden_size", hidden_size)
    if steps == 0:
        raise c.fail(name, "steps must be greater than 0, got 0")
    if input.shape[0] != steps:
        raise c.fail(name, f"input shape[0] must equal steps ({steps}), got shape {list(input.shape)}")
    return weight, recurrent_weight, steps, hidden_size


def _optional(opname: str, name: str, value: object, input: MLOperand,  # noqa: A002
              shape: Sequence[int]) -> MLOperand | None:
    """An optional operand: data type as ``input``, exact shape."""
    operand = c.operand(opname, name, value, optional=True)
    c.same_type(opname, name, operand, input, "input")
    c.shape_is(opname, name, operand, shape)
    return operand


@op
def gru(input: MLOperand, weight: MLOperand, recurrent_weight: MLOperand,  # noqa: A002
        steps: int, hidden_size: int, *, bias: MLOperand | None = None,
        recurrent_bias: MLOperand | None = None, initial_hidden_state: MLOperand | None = None,
        reset_after: bool | None = None, return_sequence: bool | None = None,
        direction: str | None = None, layout: str | None = None,
        activations: Sequence[str] | None = None) -> Emit:
    """Gated Recurrent Unit over ``steps`` time steps (spec: ``gru``).

    ``input`` is ``[steps, batchSize, inputSize]``; returns ``[hidden]`` of shape
    ``[numDirections, batchSize, hiddenSize]``, plus the whole sequence
    ``[steps, numDirections, batchSize, hiddenSize]`` when ``return_sequence``.
    Options: ``bias``, ``recurrent_bias``, ``initial_hidden_state``, ``reset_after``
    (default True), ``return_sequence`` (False), ``direction`` ("forward", "backward",
    "both"), ``layout`` ("zrn" or "rzn") and ``activations`` (default
    ["sigmoid", "tanh"]: update/reset gates, new gate).
    """
    name = "gru"
    weight, recurrent_weight, steps, hidden_size = _sequence_operands(
        name, input, weight, recurrent_weight, steps, hidden_size)
    direction = c.choice(name, "direction", _default(direction, "forward"), DIRECTIONS)
    layout = c.choice(name, "layout", _default(layout, "zrn"), GRU_LAYOUTS)
    batch, input_size = input.shape[1], input.shape[2]
    dirs = 2 if direction == "both" else 1
    _hidden_size(name, hidden_size, 3)
    c.shape_is(name, "weight", weight, [dirs, 3 * hidden_size, input_size])
    c.shape_is(name, "recurrent_weight", recurrent_weight, [dirs, 3 * hidden_size, hidden_size])
    bias = _optional(name, "bias", bias, input, [dirs, 3 * hidden_size])
    recurrent_bias = _optional(name, "recurrent_bias", recurrent_bias, input, [dirs, 3 * hidden_size])
    initial_hidden_state = _optional(name, "initial_hidden_state", initial_hidden_state, input,
                                     [dirs, batch, hidden_size])
    acts = _activations(name, activations, ("sigmoid", "tanh"))
    reset_after = _flag(name, "reset_after", reset_after, True)
    return_sequence = _flag(name, "return_sequence", return_sequence, False)
    outputs = [c.desc(input.data_type, (dirs, batch, hidden_size))]
    if return_sequence:
        outputs.append(c.desc(input.data_type, (steps, dirs, batch, hidden_size)))
    attrs = {"steps": steps, "hidden_size": hidden_size, "reset_after": reset_after,
             "return_sequence": return_sequence, "direction": direction, "layout": layout,
             "activations": acts}
    return Emit([input, weight, recurrent_weight, bias, recurrent_bias, initial_hidden_state],
                outputs, attrs, multi=True)


@op
def gru_cell(input: MLOperand, weight: MLOperand, recurrent_weight: MLOperand,  # noqa: A002
             hidden_state: MLOperand, hidden_size: int, *, bias: MLOperand | None = None,
             recurrent_bias: MLOperand | None = None, reset_after: bool | None = None,
             layout: str | None = None, activations: Sequence[str] | None = None) -> Emit:
    """One GRU time step (spec: ``gruCell``): the new hidden state ``[batchSize, hiddenSize]``.

    ``input`` is ``[batchSize, inputSize]``, ``weight`` ``[3 * hiddenSize, inputSize]``,
    ``recurrent_weight`` ``[3 * hiddenSize, hiddenSize]``, ``hidden_state``
    ``[batchSize, hiddenSize]``; options as :func:`gru` without the sequence ones.
    """
    name = "gru_cell"
    weight, recurrent_weight, hidden_state = _main_operands(
        name, input, [("weight", weight, 2), ("recurrent_weight", recurrent_weight, 2),
                      ("hidden_state", hidden_state, 2)])
    hidden_size = _ulong(name, "hidden_size", hidden_size)
    layout = c.choice(name, "layout", _default(layout, "zrn"), GRU_LAYOUTS)
    batch, input_size = input.shape
    _hidden_size(name, hidden_size, 3)
    c.shape_is(name, "weight", weight, [3 * hidden_size, input_size])
    c.shape_is(name, "recurrent_weight", recurrent_weight, [3 * hidden_size, hidden_size])
    c.shape_is(name, "hidden_state", hidden_state, [batch, hidden_size])
    bias = _optional(name, "bias", bias, input, [3 * hidden_size])
    recurrent_bias = _optional(name, "recurrent_bias", recurrent_bias, input, [3 * hidden_size])
    acts = _activations(name, activations, ("sigmoid", "tanh"))
    reset_after = _flag(name, "reset_after", reset_after, True)
    attrs = {"hidden_size": hidden_size, "reset_after": reset_after, "layout": layout,
             "activations": acts}
    return Emit([input, weight, recurrent_weight, hidden_state, bias, recurrent_bias],
                [c.desc(input.data_type, (batch, hidden_size))], attrs)


@op
def lstm(input: MLOperand, weight: MLOperand, recurrent_weight: MLOperand,  # noqa: A002
         steps: int, hidden_size: int, *, bias: MLOperand | None = None,
         recurrent_bias: MLOperand | None = None, peephole_weight: MLOperand | None = None,
         initial_hidden_state: MLOperand | None = None, initial_cell_state: MLOperand | None = None,
         return_sequence: bool | None = None, direction: str | None = None,
         layout: str | None = None, activations: Sequence[str] | None = None) -> Emit:
    """Long Short-Term Memory over ``steps`` time steps (spec: ``lstm``).

    ``input`` is ``[steps, batchSize, inputSize]``; returns ``[hidden, cell]``, each
    ``[numDirections, batchSize, hiddenSize]``, plus the hidden-state sequence
    ``[steps, numDirections, batchSize, hiddenSize]`` when ``return_sequence``.
    Options: ``bias``, ``recurrent_bias``, ``peephole_weight`` (``[numDirections,
    3 * hiddenSize]``, gates i, o, f), ``initial_hidden_state``, ``initial_cell_state``,
    ``return_sequence``, ``direction``, ``layout`` ("iofg" or "ifgo") and
    ``activations`` (default ["sigmoid", "tanh", "tanh"]: i/f/o gates, cell gate,
    cell state filter).
    """
    name = "lstm"
    direction = c.choice(name, "direction", _default(direction, "forward"), DIRECTIONS)
    dirs = 2 if direction == "both" else 1
    weight, recurrent_weight, steps, hidden_size = _sequence_operands(
        name, input, weight, recurrent_weight, steps, hidden_size)
    layout = c.choice(name, "layout", _default(layout, "iofg"), LSTM_LAYOUTS)
    batch, input_size = input.shape[1], input.shape[2]
    _hidden_size(name, hidden_size, 4)
    c.shape_is(name, "weight", weight, [dirs, 4 * hidden_size, input_size])
    c.shape_is(name, "recurrent_weight", recurrent_weight, [dirs, 4 * hidden_size, hidden_size])
    bias = _optional(name, "bias", bias, input, [dirs, 4 * hidden_size])
    recurrent_bias = _optional(name, "recurrent_bias", recurrent_bias, input, [dirs, 4 * hidden_size])
    peephole_weight = _optional(name, "peephole_weight", peephole_weight, input, [dirs, 3 * hidden_size])
    state = [dirs, batch, hidden_size]
    initial_hidden_state = _optional(name, "initial_hidden_state", initial_hidden_state, input, state)
    initial_cell_state = _optional(name, "initial_cell_state", initial_cell_state, input, state)
    acts = _activations(name, activations, ("sigmoid", "tanh", "tanh"))
    return_sequence = _flag(name, "return_sequence", return_sequence, False)
    outputs = [c.desc(input.data_type, state), c.desc(input.data_type, state)]
    if return_sequence:
        outputs.append(c.desc(input.data_type, (steps, dirs, batch, hidden_size)))
    attrs = {"steps": steps, "hidden_size": hidden_size, "return_sequence": return_sequence,
             "direction": direction, "layout": layout, "activations": acts}
    return Emit([input, weight, recurrent_weight, bias, recurrent_bias, peephole_weight,
                 initial_hidden_state, initial_cell_state], outputs, attrs, multi=True)


@op
def lstm_cell(input: MLOperand, weight: MLOperand, recurrent_weight: MLOperand,  # noqa: A002
              hidden_state: MLOperand, cell_state: MLOperand, hidden_size: int, *,
              bias: MLOperand | None = None, recurrent_bias: MLOperand | None = None,
              peephole_weight: MLOperand | None = None, layout: str | None = None,
              activations: Sequence[str] | None = None) -> Emit:
    """One LSTM time step (spec: ``lstmCell``): ``[hidden, cell]``, each ``[batchSize, hiddenSize]``.

    ``input`` is ``[batchSize, inputSize]``, ``weight`` ``[4 * hiddenSize, inputSize]``,
    ``recurrent_weight`` ``[4 * hiddenSize, hiddenSize]``, ``hidden_state`` and
    ``cell_state`` ``[batchSize, hiddenSize]``; options as :func:`lstm` without the
    sequence ones.
    """
    name = "lstm_cell"
    weight, recurrent_weight, hidden_state, cell_state = _main_operands(
        name, input, [("weight", weight, 2), ("recurrent_weight", recurrent_weight, 2),
                      ("hidden_state", hidden_state, 2), ("cell_state", cell_state, 2)])
    hidden_size = _ulong(name, "hidden_size", hidden_size)
    layout = c.choice(name, "layout", _default(layout, "iofg"), LSTM_LAYOUTS)
    batch, input_size = input.shape
    _hidden_size(name, hidden_size, 4)
    c.shape_is(name, "weight", weight, [4 * hidden_size, input_size])
    c.shape_is(name, "recurrent_weight", recurrent_weight, [4 * hidden_size, hidden_size])
    c.shape_is(name, "hidden_state", hidden_state, [batch, hidden_size])
    c.shape_is(name, "cell_state", cell_state, [batch, hidden_size])
    bias = _optional(name, "bias", bias, input, [4 * hidden_size])
    recurrent_bias = _optional(name, "recurrent_bias", recurrent_bias, input, [4 * hidden_size])
    peephole_weight = _optional(name, "peephole_weight", peephole_weight, input, [3 * hidden_size])
    acts = _activations(name, activations, ("sigmoid", "tanh", "tanh"))
    attrs = {"hidden_size": hidden_size, "layout": layout, "activations": acts}
    state = (batch, hidden_size)
    return Emit([input, weight, recurrent_weight, hidden_state, cell_state, bias, recurrent_bias,
                 peephole_weight], [c.desc(input.data_type, state), c.desc(input.data_type, state)],
                attrs, multi=True)
