"""Fusions the torch backend benefits from, as small pattern / check / rewrite rules.

Each :class:`Rule` has three parts:

- ``match``: the op types and wiring around an anchor node (cheap; no match, no story);
- ``check``: every condition the rewrite needs; it returns ``None`` when the rewrite is
  safe, else the reason it is not (``"mean is not a constant"``);
- ``rewrite``: the change itself, made through a :class:`Rewriter` on a copy of the graph.

The rules here:

- :class:`FoldBatchNormIntoConv`: ``batch_normalization`` with constant parameters after a
  ``conv2d`` with a constant filter becomes that conv2d with a new constant filter and bias.
- :class:`FoldAddIntoBias`: ``add`` of a constant after conv2d (per-channel), gemm, or a
  2-D matmul (which becomes a gemm) becomes that node's bias / ``c``.
- :class:`FuseResidualAdd`: ``add`` of a conv2d result (constant filter) and another
  operand of the same shape becomes that conv2d with the operand as a fourth input and
  ``residual: True``: the lowering adds it to the result, before any fused activation
  (oneDNN's binary post-op on the CPU: ResNet's add + relu stop being two extra passes
  over every block's output).
- :class:`FuseActivation`: relu, clamp, leaky_relu, sigmoid or tanh after conv2d,
  conv_transpose2d or gemm becomes that node's ``activation`` attribute, which the torch
  lowering applies in place on the result it has just allocated.
- :class:`FuseErfGelu`: the erf form of GELU as ONNX exporters write it,
  ``x * 0.5 * (1 + erf(x / sqrt(2)))`` (div or mul by 1/sqrt(2), erf, add, mul, mul, in
  either multiplication order), becomes one ``gelu`` (torch's fused kernel; about 4x
  faster than the five elementwise passes).

:class:`FusionPass` runs the rules to a fixed point and keeps every check's outcome
(``outcomes``); :func:`explain` gives the outcomes without rewriting anything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import memory
from ..dtypes import numpy_dtype
from ..graph import Graph, Node
from .infra import Pass, PassResult
from .layout import ConstantFilterLayout

log = logging.getLogger("webnn.passes.fusion")

#: Activations the torch lowerings can apply in place (``lowerings/_fused.py``).
FUSABLE_ACTIVATIONS = ("relu", "clamp", "leaky_relu", "sigmoid", "tanh")
#: Nodes that take a fused ``activation`` attribute.
ACTIVATION_HOSTS = ("conv2d", "conv_transpose2d", "gemm")
_FLOATS = ("float32", "float16")


class Rewriter:
    """A graph being rewritten, with producer/consumer maps kept up to date."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.producers: dict[int, Node] = graph.producers()
        self.consumers: dict[int, list[Node]] = graph.consumers()
        self.outputs = set(graph.outputs.values())
        self.removed: set[int] = set()

    # -- queries -----------------------------------------------------------------
    def constant(self, oid: int | None) -> np.ndarray | None:
        """The value of a constant operand, None if ``oid`` is not a constant."""
        return None if oid is None else self.graph.constants.get(oid)

    def producer(self, oid: int | None, ops: Sequence[str]) -> Node | None:
        """The node producing ``oid`` if its op is one of ``ops``."""
        node = None if oid is None else self.producers.get(oid)
        return node if node is not None and node.op in ops and id(node) not in self.removed else None

    def sole_use(self, node: Node) -> str | None:
        """Why ``node``'s output cannot be absorbed by its one consumer (None: it can)."""
        out = node.outputs[0]
        if out in self.outputs:
            return f"the {node.op} output is a graph output"
        users = self.consumers.get(out, [])
        reads = sum(1 for user in users for i in user.inputs if i == out)
        if reads != 1:
            return f"the {node.op} output is read {reads} times"
        return None

    # -- edits -------------------------------------------------------------------
    def add_constant(self, array: np.ndarray, data_type: str) -> int:
        return self.graph.add_constant(np.asarray(array).astype(numpy_dtype(data_type), copy=False), data_type)

    def set_input(self, node: Node, index: int, oid: int | None) -> None:
        old = node.inputs[index]
        if old is not None and node in self.consumers.get(old, []):
            self.consumers[old].remove(node)
        node.inputs[index] = oid
        if oid is not None:
            self.consumers.setdefault(oid, []).append(node)

    def set_input_list(self, node: Node, oids: list[int]) -> None:
        """Give ``node`` (with no inputs left) the inputs ``oids``."""
        node.inputs = list(oids)
        for oid in oids:
            self.consumers.setdefault(oid, []).append(node)

    def absorb(self, producer: Node, consumer: Node) -> None:
        """``producer`` takes over ``consumer``'s outputs; ``consumer`` goes away."""
        for i in consumer.inputs:
            if i is not None and consumer in self.consumers.get(i, []):
                self.consumers[i].remove(consumer)
        producer.outputs = list(consumer.outputs)
        for out in producer.outputs:
            self.producers[out] = producer
        if consumer.label and not producer.label:
            producer.label = consumer.label
        self.removed.add(id(consumer))

    def drop(self, node: Node) -> None:
        """Remove ``node`` (its outputs must have no other reader left)."""
        for i in node.inputs:
            if i is not None and node in self.consumers.get(i, []):
                self.consumers[i].remove(node)
        self.removed.add(id(node))

    def result(self) -> Graph:
        self.graph.nodes = [n for n in self.graph.nodes if id(n) not in self.removed]
        return self.graph


@dataclass
class Match:
    """What a rule's pattern found: the anchor node and the node it would merge into."""

    anchor: Node
    host: Node
    extra: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """One rule's check on one match: ``reason`` is None where the rewrite happened."""

    rule: str
    node: str
    reason: str | None


class Rule:
    """A pattern / check / rewrite unit. Subclasses set ``name`` and ``anchors``."""

    name = "rule"
    #: Ops of the node a match starts from (the last node of the pattern).
    anchors: tuple[str, ...] = ()

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        raise NotImplementedError

    def check(self, rw: Rewriter, m: Match) -> str | None:
        """None if the rewrite is safe, else the reason it is not."""
        raise NotImplementedError

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        raise NotImplementedError


def _plain_conv_with_constant_filter(rw: Rewriter, conv: Node) -> str | None:
    """Why ``conv`` cannot absorb the node after it (None: it can): its result must be read
    once, it must not already fuse an activation or a residual, its filter must be a constant."""
    if (why := rw.sole_use(conv)) is not None:
        return why
    if conv.attrs.get("activation"):
        return "the conv2d already applies a fused activation"
    if conv.attrs.get("residual"):
        return "the conv2d already adds a residual"
    if rw.constant(conv.inputs[1]) is None:
        return "the conv2d filter is not a constant"
    return None


def _channel_axis(conv: Node) -> int:
    return 1 if conv.attrs["input_layout"] == "nchw" else 3


class FoldBatchNormIntoConv(Rule):
    """conv2d (constant filter) -> batch_normalization (constant parameters) => conv2d."""

    name = "fold-batch-normalization-into-conv2d"
    anchors = ("batch_normalization",)

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        conv = rw.producer(node.inputs[0], ("conv2d",))
        return None if conv is None else Match(node, conv, {})

    def check(self, rw: Rewriter, m: Match) -> str | None:
        bn, conv = m.anchor, m.host
        if (why := _plain_conv_with_constant_filter(rw, conv)) is not None:
            return why
        if conv.inputs[2] is not None and rw.constant(conv.inputs[2]) is None:
            return "the conv2d bias is not a constant"
        if bn.attrs["axis"] != _channel_axis(conv):
            return (f"batch_normalization axis {bn.attrs['axis']} is not the conv2d channel "
                    f"axis {_channel_axis(conv)}")
        for index, what in ((1, "mean"), (2, "variance"), (3, "scale"), (4, "bias")):
            if bn.inputs[index] is not None and rw.constant(bn.inputs[index]) is None:
                return f"the batch_normalization {what} is not a constant"
        return None

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        bn, conv = m.anchor, m.host
        data_type = rw.graph.descs[conv.outputs[0]].data_type

        def value(oid: int | None, default: float) -> np.ndarray:
            array = rw.constant(oid)
            return np.float64(default) if array is None else array.astype(np.float64)

        factor = value(bn.inputs[3], 1.0) / np.sqrt(value(bn.inputs[2], 0.0) + bn.attrs["epsilon"])
        bias = (value(conv.inputs[2], 0.0) - value(bn.inputs[1], 0.0)) * factor + value(bn.inputs[4], 0.0)
        layout = conv.attrs["filter_layout"]
        shape = [1, 1, 1, 1]
        shape[layout.index("o")] = -1
        filt = rw.constant(conv.inputs[1])
        assert filt is not None
        # Per-channel factors in float64, the filter scaled in (at least) float32: float64
        # copies of a whole network's filters cost more than the rest of the build.
        work = np.promote_types(filt.dtype, np.float32)
        scaled = np.multiply(filt, factor.astype(work).reshape(shape), out=memory.empty(filt.shape, work))
        rw.set_input(conv, 1, rw.add_constant(scaled, data_type))
        out_channels = filt.shape[layout.index("o")]
        rw.set_input(conv, 2, rw.add_constant(np.broadcast_to(bias, (out_channels,)), data_type))
        rw.absorb(conv, bn)


class FoldAddIntoBias(Rule):
    """conv2d / gemm / 2-D matmul -> add(constant) => the constant folded into the bias."""

    name = "fold-add-into-bias"
    anchors = ("add",)
    hosts = ("conv2d", "gemm", "matmul")

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        for side in (0, 1):
            host = rw.producer(node.inputs[side], self.hosts)
            if host is not None and rw.constant(node.inputs[1 - side]) is not None:
                return Match(node, host, {"constant": node.inputs[1 - side]})
        return None

    def check(self, rw: Rewriter, m: Match) -> str | None:
        add, host = m.anchor, m.host
        descs = rw.graph.descs
        if (why := rw.sole_use(host)) is not None:
            return why
        if descs[add.outputs[0]].shape != descs[host.outputs[0]].shape:
            return (f"the add broadcasts the {host.op} output {list(descs[host.outputs[0]].shape)} "
                    f"to {list(descs[add.outputs[0]].shape)}")
        if host.attrs.get("activation"):
            return f"the {host.op} already applies a fused activation"
        const_shape = descs[m.extra["constant"]].shape
        if host.op == "conv2d":
            if host.inputs[2] is not None and rw.constant(host.inputs[2]) is None:
                return "the conv2d bias is not a constant"
            full = (1,) * (4 - len(const_shape)) + tuple(const_shape)
            axis = _channel_axis(host)
            if any(size != 1 for i, size in enumerate(full) if i != axis):
                return (f"the constant {list(const_shape)} is not one value per channel of the "
                        f"conv2d output (channel axis {axis})")
        elif host.op == "gemm":
            if host.inputs[2] is not None and rw.constant(host.inputs[2]) is None:
                return "the gemm c is not a constant"
        else:
            ranks = [descs[i].rank for i in host.inputs if i is not None]
            if ranks != [2, 2]:
                return f"the matmul is not 2-D (ranks {ranks}); torch adds a bias only in 2-D addmm"
        return None

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        add, host = m.anchor, m.host
        data_type = rw.graph.descs[host.outputs[0]].data_type
        const = rw.constant(m.extra["constant"])
        assert const is not None
        if host.op == "conv2d":
            out_channels = rw.graph.descs[host.outputs[0]].shape[_channel_axis(host)]
            bias = np.broadcast_to(const.astype(np.float64).reshape(-1), (out_channels,))
            old = rw.constant(host.inputs[2])
            if old is not None:
                bias = bias + old.astype(np.float64)
            rw.set_input(host, 2, rw.add_constant(bias, data_type))
        else:
            if host.op == "matmul":
                host.op = "gemm"
                host.inputs.append(None)
                host.attrs = {"alpha": 1.0, "beta": 1.0, "a_transpose": False, "b_transpose": False}
            old = rw.constant(host.inputs[2])
            c = const.astype(np.float64)
            if old is not None:
                c = host.attrs["beta"] * old.astype(np.float64) + c
            elif host.inputs[2] is not None:  # pragma: no cover  (check rejects this)
                raise AssertionError("gemm c is not a constant")
            host.attrs = {**host.attrs, "beta": 1.0}
            rw.set_input(host, 2, rw.add_constant(c, data_type))
        rw.absorb(host, add)


class FuseResidualAdd(Rule):
    """conv2d (constant filter) -> add(other of the same shape) => conv2d(..., other).

    The add node becomes the fused conv2d (so ``other``, computed before the add, is
    computed before it too) and the original conv2d goes away.
    """

    name = "fuse-residual-add"
    anchors = ("add",)

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        found = [Match(node, conv, {"other": node.inputs[1 - side]}) for side in (0, 1)
                 if (conv := rw.producer(node.inputs[side], ("conv2d",))) is not None]
        # Both sides can be convs (a projection shortcut): take one that can be fused.
        return next((m for m in found if self.check(rw, m) is None), found[0] if found else None)

    def check(self, rw: Rewriter, m: Match) -> str | None:
        add, conv, other = m.anchor, m.host, m.extra["other"]
        descs = rw.graph.descs
        if other == conv.outputs[0]:
            return "the add reads the conv2d result twice"
        if (why := _plain_conv_with_constant_filter(rw, conv)) is not None:
            return why
        if descs[conv.outputs[0]].data_type not in _FLOATS:
            return "only floating-point convolutions take a residual"
        shapes = {tuple(descs[o].shape) for o in (add.outputs[0], conv.outputs[0], other)}
        if len(shapes) != 1:
            return (f"the add broadcasts (conv2d {list(descs[conv.outputs[0]].shape)}, other "
                    f"{list(descs[other].shape)})")
        return None

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        add, conv, other = m.anchor, m.host, m.extra["other"]
        inputs = [*conv.inputs[:3], other]
        rw.drop(conv)
        for i in list(add.inputs):
            if i is not None and add in rw.consumers.get(i, []):
                rw.consumers[i].remove(add)
        add.op, add.attrs, add.inputs = "conv2d", {**conv.attrs, "residual": True}, []
        rw.set_input_list(add, inputs)
        if conv.label and not add.label:
            add.label = conv.label


class FuseActivation(Rule):
    """conv2d / conv_transpose2d / gemm -> relu, clamp, ... => ``activation`` attribute."""

    name = "fuse-activation"
    anchors = FUSABLE_ACTIVATIONS

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        host = rw.producer(node.inputs[0], ACTIVATION_HOSTS)
        return None if host is None else Match(node, host, {})

    def check(self, rw: Rewriter, m: Match) -> str | None:
        if (why := rw.sole_use(m.host)) is not None:
            return why
        if m.host.attrs.get("activation"):
            return f"the {m.host.op} already applies a fused activation"
        if rw.graph.descs[m.host.outputs[0]].data_type not in _FLOATS:
            return "only floating-point results take a fused activation"
        return None

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        act = m.anchor
        m.host.attrs = {**m.host.attrs, "activation": {"op": act.op, "attrs": dict(act.attrs)}}
        rw.absorb(m.host, act)


def _scalar(rw: Rewriter, oid: int | None) -> float | None:
    """The value of a constant whose elements are all one number, else None."""
    array = rw.constant(oid)
    if array is None or array.size == 0:
        return None
    flat = np.asarray(array, dtype=np.float64).reshape(-1)
    return float(flat[0]) if np.all(flat == flat[0]) else None


def _other(node: Node, oid: int) -> int | None:
    """The input of binary ``node`` that is not ``oid`` (``oid`` itself if both are)."""
    a, b = node.inputs[0], node.inputs[1]
    return b if a == oid else a


class FuseErfGelu(Rule):
    """``x * 0.5 * (1 + erf(x / sqrt(2)))`` (ONNX's exported GELU) => ``gelu(x)``.

    The anchor is the last ``mul``; the pattern accepts ``(x * (1 + erf)) * 0.5`` and
    ``(x * 0.5) * (1 + erf)`` with the operands of each mul and of the add in any order,
    and ``x / sqrt(2)`` written as a div or as a mul by ``1 / sqrt(2)``.
    """

    name = "fuse-erf-gelu"
    anchors = ("mul",)
    _TOL = 1e-3  # float16 exporters round the constants

    def match(self, rw: Rewriter, node: Node) -> Match | None:
        for side in (0, 1):
            found = self._from(rw, node, node.inputs[side], node.inputs[1 - side])
            if found is not None:
                return found
        return None

    def _from(self, rw: Rewriter, node: Node, left: int | None, right: int | None) -> Match | None:
        """Try ``left`` as the ``x * (1 + erf)`` or ``(1 + erf)`` side of the last mul."""
        inner = rw.producer(left, ("mul",))
        if inner is not None and rw.constant(right) is not None:  # (x * (1 + erf)) * half
            for s in (0, 1):
                add = rw.producer(inner.inputs[s], ("add",))
                x = inner.inputs[1 - s]
                chain = self._erf_chain(rw, add, x)
                if chain is not None:
                    return Match(node, inner, {"x": x, "half": right, "nodes": [inner, *chain]})
        add = rw.producer(left, ("add",))
        half_mul = rw.producer(right, ("mul",))
        if add is not None and half_mul is not None:  # (1 + erf) * (x * half)
            for s in (0, 1):
                x, half = half_mul.inputs[s], half_mul.inputs[1 - s]
                chain = self._erf_chain(rw, add, x)
                if chain is not None and rw.constant(half) is not None:
                    return Match(node, half_mul, {"x": x, "half": half, "nodes": [half_mul, *chain]})
        return None

    @staticmethod
    def _erf_chain(rw: Rewriter, add: Node | None, x: int | None) -> list[Node] | None:
        """``[add, erf, scale]`` if ``add`` is ``c + erf(x <div|mul> k)``, else None."""
        if add is None or x is None:
            return None
        for s in (0, 1):
            erf = rw.producer(add.inputs[s], ("erf",))
            if erf is None or rw.constant(add.inputs[1 - s]) is None:
                continue
            scale = rw.producer(erf.inputs[0], ("div", "mul"))
            if scale is None:
                continue
            if scale.inputs[0] == x or (scale.op == "mul" and scale.inputs[1] == x):
                return [add, erf, scale]
        return None

    def check(self, rw: Rewriter, m: Match) -> str | None:
        x, nodes = m.extra["x"], m.extra["nodes"]
        descs = rw.graph.descs
        if descs[x].data_type not in _FLOATS:
            return "only floating-point GELU is fused"
        for n in nodes:
            if (why := rw.sole_use(n)) is not None:
                return why
            if descs[n.outputs[0]].shape != descs[x].shape:
                return (f"the {n.op} result {list(descs[n.outputs[0]].shape)} is not the shape "
                        f"of x {list(descs[x].shape)}")
        add, _erf, scale = nodes[1:]
        k = _scalar(rw, _other(scale, x))
        want_k = np.sqrt(2.0) if scale.op == "div" else 1 / np.sqrt(2.0)
        one = _scalar(rw, _other(add, _erf.outputs[0]))
        half = _scalar(rw, m.extra["half"])
        for what, got, want in (("the erf argument's scale", k, want_k), ("the added constant", one, 1.0),
                                ("the halving constant", half, 0.5)):
            if got is None or abs(got - want) > self._TOL * abs(want):
                return f"{what} is {got}, not {want:.6g}"
        return None

    def rewrite(self, rw: Rewriter, m: Match) -> None:
        x, nodes = m.extra["x"], m.extra["nodes"]
        scale = nodes[-1]  # the first node of the pattern: every later reader comes after it
        for n in nodes[:-1]:
            rw.drop(n)
        for i in list(scale.inputs):
            if i is not None and scale in rw.consumers.get(i, []):
                rw.consumers[i].remove(scale)
        scale.op, scale.attrs, scale.inputs = "gelu", {}, []
        rw.set_input_list(scale, [x])
        rw.absorb(scale, m.anchor)


def default_rules() -> list[Rule]:
    return [FoldBatchNormIntoConv(), FoldAddIntoBias(), FuseResidualAdd(), FuseActivation(), FuseErfGelu()]


def _describe(index: int, node: Node) -> str:
    return f"{node.op}#{index}" + (f" ({node.label})" if node.label else "")


class FusionPass(Pass):
    """Apply the rules until none applies; ``outcomes`` records every check."""

    name = "fusion"

    def __init__(self, rules: Sequence[Rule] | None = None) -> None:
        self.rules = list(rules) if rules is not None else default_rules()
        self.outcomes: list[Outcome] = []

    def _sweep(self, rw: Rewriter, apply: bool) -> tuple[list[Outcome], list[Outcome]]:
        """One pass over the nodes: (rewrites made, checks that failed)."""
        applied: list[Outcome] = []
        rejected: list[Outcome] = []
        for index, node in enumerate(list(rw.graph.nodes)):
            for rule in self.rules:
                if id(node) in rw.removed or node.op not in rule.anchors:
                    continue
                m = rule.match(rw, node)
                if m is None:
                    continue
                reason = rule.check(rw, m)
                outcome = Outcome(rule.name, _describe(index, node), reason)
                if reason is not None:
                    log.debug("%s at %s: not applied: %s", rule.name, outcome.node, reason)
                    rejected.append(outcome)
                elif apply:
                    rule.rewrite(rw, m)
                    applied.append(outcome)
                else:
                    applied.append(outcome)
        return applied, rejected

    def call(self, graph: Graph) -> PassResult:
        rw = Rewriter(graph.copy())
        done: list[Outcome] = []
        while True:
            applied, rejected = self._sweep(rw, apply=True)
            done.extend(applied)
            if not applied:
                break
        self.outcomes = done + rejected
        if not done:
            return PassResult(graph, False)
        return PassResult(rw.result(), True)

    def explain(self, graph: Graph) -> list[Outcome]:
        """Every match's outcome on ``graph`` (reason None: would apply), rewriting nothing."""
        applied, rejected = self._sweep(Rewriter(graph.copy()), apply=False)
        return applied + rejected


def explain(graph: Graph, rules: Sequence[Rule] | None = None) -> list[Outcome]:
    """What each fusion rule would do on ``graph`` and, where it would not, why."""
    return FusionPass(rules).explain(graph)


def fusion_passes() -> list[Pass]:
    return [FusionPass(), ConstantFilterLayout()]
