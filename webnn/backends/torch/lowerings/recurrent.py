"""Torch lowerings of gru, gruCell, lstm and lstmCell (see ``webnn/ops/recurrent.py``).

Where the spec's options are exactly what torch's own RNN kernels compute (LSTM with
the default activations and no peepholes; GRU with the default activations and
``resetAfter=true``), gru and lstm call ATen's fused ``lstm`` / ``gru`` ops (oneDNN on
the CPU, cuDNN on CUDA) with the gate blocks reordered to torch's "ifgo" / "rzn".

Everything else runs the spec's math (its gruCell / lstmCell emulations, unrolled over
the steps as its gru / lstm emulations do) in a Python loop arranged so that each time
step does as little as it can:

- The input projection ``x @ W^T + bias`` of every step and every direction is one
  batched matmul before the loop (a backward direction reads the input time-reversed,
  so step ``t`` of every direction is slice ``t`` of one tensor). Biases that only
  add are folded into it once (``bias + recurrentBias`` for LSTM and for GRU with
  ``resetAfter=false``; the GRU new gate's recurrent bias stays inside the reset
  product when ``resetAfter=true``).
- Per step: one ``baddbmm`` for all gates of all directions (GRU with
  ``resetAfter=false`` needs a second one, for the new gate, after the reset gate).
- Gate order: GRU needs no reordering (z and r always share the first two blocks and
  get the same activation); LSTM "ifgo" weights are reordered once per call to
  "iofg", so i, o, f are one contiguous block matching the peephole's i, o, f order.

float16 runs in float32 inside the recurrence (on every device) and is rounded once
at the end, which is at least as accurate as rounding after each spec op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..registry import LoweringNode, lowering

Tensor = torch.Tensor

_ACT: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
}
#: The same, in place (on fresh per-step tensors only); each returns its argument.
_ACT_INPLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu_, "sigmoid": torch.sigmoid_, "tanh": torch.tanh_,
}
#: "ifgo" gate blocks in "iofg" order, and back (torch's LSTM is "ifgo").
_IFGO_TO_IOFG = (0, 3, 1, 2)
_IOFG_TO_IFGO = (0, 2, 3, 1)
#: "zrn" gate blocks in "rzn" order (torch's GRU is "rzn").
_ZRN_TO_RZN = (1, 0, 2)


def _work_dtype(node: LoweringNode) -> torch.dtype:
    dt = node.out_dtype
    return torch.float32 if dt in (torch.float16, torch.bfloat16) else dt


def _reorder(t: Tensor | None, dim: int, hidden: int, order: Sequence[int]) -> Tensor | None:
    if t is None:
        return None
    return torch.cat([t.narrow(dim, k * hidden, hidden) for k in order], dim)


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


def _project(x: Tensor, w: Tensor, bias: Tensor | None, backward: Sequence[bool],
             steps: int, batch: int) -> Tensor:
    """``x @ W^T + bias`` for every step and direction: ``[steps, dirs, batch, gates]``.

    Direction ``d`` reads the input reversed in time when ``backward[d]``, so slice
    ``t`` holds what each direction consumes at its ``t``-th step.
    """
    dirs = len(backward)
    flat = x.reshape(steps * batch, -1)
    if dirs == 1:
        xs = (flat.view(steps, batch, -1).flip(0).reshape(steps * batch, -1) if backward[0] else flat)[None]
    else:
        xs = torch.stack([flat.view(steps, batch, -1).flip(0).reshape(steps * batch, -1) if back else flat
                          for back in backward])
    wt = w.transpose(1, 2)
    out = torch.bmm(xs, wt) if bias is None else torch.baddbmm(bias.unsqueeze(1), xs, wt)
    return out.view(dirs, steps, batch, -1).transpose(0, 1)


def _sequence(hs: list[Tensor], backward: Sequence[bool]) -> Tensor:
    """Per-step hidden states (processing order) as ``[steps, dirs, batch, hidden]`` in input time order."""
    if len(backward) == 1:
        return torch.stack(hs[::-1] if backward[0] else hs)
    seq = torch.stack(hs)
    for d, back in enumerate(backward):
        if back:
            seq[:, d] = seq[:, d].flip(0)
    return seq


def _zeros(dirs: int, batch: int, hidden: int, like: Tensor) -> Tensor:
    return torch.zeros((dirs, batch, hidden), dtype=like.dtype, device=like.device)


def _gru_loop(xp: Tensor, rw: Tensor, rb: Tensor | None, h: Tensor, *, steps: int, hidden: int,
              z_first: bool, acts: Sequence[str], reset_after: bool, keep: bool) -> tuple[Tensor, list[Tensor]]:
    """Run the GRU recurrence on projected inputs ``xp`` ``[steps, dirs, batch, 3H]``.

    With ``reset_after`` ``xp`` holds ``x W^T + bias`` and ``rb`` is the recurrent
    bias (or None); without it ``xp`` already holds both biases. The new state
    ``z * h + (1 - z) * n`` is one ``lerp``.
    """
    H = hidden
    gate, new = _ACT_INPLACE[acts[0]], _ACT_INPLACE[acts[1]]
    zs, rs = (slice(0, H), slice(H, 2 * H)) if z_first else (slice(H, 2 * H), slice(0, H))
    hs: list[Tensor] = []
    if reset_after:
        rt = rw.transpose(1, 2)
        rb3 = None if rb is None else rb.unsqueeze(1)
        for t in range(steps):
            g = xp[t]
            hr = torch.bmm(h, rt) if rb3 is None else torch.baddbmm(rb3, h, rt)
            zr = gate(g[..., :2 * H] + hr[..., :2 * H])
            n = new(torch.addcmul(g[..., 2 * H:], zr[..., rs], hr[..., 2 * H:]))
            h = torch.lerp(n, h, zr[..., zs])
            if keep:
                hs.append(h)
    else:
        rt_zr = rw[:, :2 * H].transpose(1, 2)
        rt_n = rw[:, 2 * H:].transpose(1, 2)
        for t in range(steps):
            g = xp[t]
            zr = gate(torch.baddbmm(g[..., :2 * H], h, rt_zr))
            n = new(torch.baddbmm(g[..., 2 * H:], zr[..., rs] * h, rt_n))
            h = torch.lerp(n, h, zr[..., zs])
            if keep:
                hs.append(h)
    return h, hs


def _lstm_loop(xp: Tensor, rw: Tensor, peephole: Tensor | None, h: Tensor, c: Tensor, *,
               steps: int, hidden: int, acts: Sequence[str], keep: bool
               ) -> tuple[Tensor, Tensor, list[Tensor]]:
    """Run the LSTM recurrence on projected inputs ``xp`` ``[steps, dirs, batch, 4H]``
    (gate order i, o, f, g; both biases folded in)."""
    H = hidden
    gate, cell, filt = _ACT_INPLACE[acts[0]], _ACT_INPLACE[acts[1]], _ACT[acts[2]]
    rt = rw.transpose(1, 2)
    p = None if peephole is None else peephole.unflatten(-1, (3, H)).unsqueeze(1)  # [D, 1, 3, H]: i, o, f
    hs: list[Tensor] = []
    for t in range(steps):
        g = torch.baddbmm(xp[t], h, rt).unflatten(-1, (4, H))  # [D, B, 4, H]
        iof = g[..., :3, :]
        if p is not None:
            iof.addcmul_(c.unsqueeze(-2), p)
        gate(iof)
        cell(g[..., 3, :])
        i, o, f, gg = g.unbind(-2)
        c = torch.addcmul(f * c, i, gg)
        h = o * filt(c)
        if keep:
            hs.append(h)
    return h, c, hs


def _cast(dtype: torch.dtype, *values: Tensor | None) -> list[Tensor | None]:
    """Every present value in ``dtype`` (the recurrence's working type)."""
    return [v if v is None or v.dtype == dtype else v.to(dtype) for v in values]


def _backward_flags(direction: str) -> tuple[bool, ...]:
    return {"forward": (False,), "backward": (True,), "both": (False, True)}[direction]


def _aten_params(w: Tensor, rw: Tensor, b: Tensor | None, rb: Tensor | None, dirs: int) -> tuple[list[Tensor], bool]:
    """Weights as ATen's RNN kernels take them (per direction: w_ih, w_hh[, b_ih, b_hh])."""
    has_bias = b is not None or rb is not None
    if has_bias:
        b = torch.zeros_like(rb) if b is None else b  # type: ignore[arg-type]
        rb = torch.zeros_like(b) if rb is None else rb
    params: list[Tensor] = []
    for d in range(dirs):
        params += [w[d], rw[d]] + ([b[d], rb[d]] if has_bias else [])  # type: ignore[index]
    return params, has_bias


def _aten_sequence(seq: Tensor, steps: int, batch: int, dirs: int, hidden: int, reversed_: bool) -> Tensor:
    """ATen's ``[steps, batch, dirs * hidden]`` output as the spec's ``[steps, dirs, batch, hidden]``."""
    seq = seq.view(steps, batch, dirs, hidden).transpose(1, 2)
    return seq.flip(0) if reversed_ else seq


@lowering("gru")
def gru(node: LoweringNode) -> Callable[..., Any]:
    """GRU over the steps; ATen's fused GRU (cuDNN on CUDA) where the spec's options
    are torch's (default activations, ``resetAfter=true``), else the loop above."""
    a = node.attrs
    steps, H = a["steps"], a["hidden_size"]
    batch = node.inputs[0].shape[1]  # type: ignore[union-attr]
    backward = _backward_flags(a["direction"])
    dirs = len(backward)
    z_first, reset_after, keep = a["layout"] == "zrn", a["reset_after"], a["return_sequence"]
    acts = tuple(a["activations"])
    out, work = node.out_dtype, _work_dtype(node)
    fused = reset_after and acts == ("sigmoid", "tanh")

    def run(x: Tensor, w: Tensor, rw: Tensor, b: Tensor | None, rb: Tensor | None,
            h0: Tensor | None) -> tuple[Tensor, ...]:
        x, w, rw, b, rb, h0 = _cast(work, x, w, rw, b, rb, h0)
        if fused:
            return _gru_aten(x, w, rw, b, rb, h0)
        bias = b if reset_after else _add(b, rb)
        xp = _project(x, w, bias, backward, steps, batch)
        h = _zeros(dirs, batch, H, xp) if h0 is None else h0
        h, hs = _gru_loop(xp, rw, rb if reset_after else None, h, steps=steps, hidden=H,
                          z_first=z_first, acts=acts, reset_after=reset_after, keep=keep)
        if keep:
            return h.to(out), _sequence(hs, backward).to(out)
        return (h.to(out),)

    def _gru_aten(x: Tensor, w: Tensor, rw: Tensor, b: Tensor | None, rb: Tensor | None,
                  h0: Tensor | None) -> tuple[Tensor, ...]:
        if z_first:  # torch's gate order is r, z, n
            w, rw = _reorder(w, 1, H, _ZRN_TO_RZN), _reorder(rw, 1, H, _ZRN_TO_RZN)
            b, rb = _reorder(b, 1, H, _ZRN_TO_RZN), _reorder(rb, 1, H, _ZRN_TO_RZN)
        params, has_bias = _aten_params(w, rw, b, rb, dirs)  # type: ignore[arg-type]
        h = _zeros(dirs, batch, H, x) if h0 is None else h0
        reverse = backward == (True,)
        seq, h = torch.ops.aten.gru.input(x.flip(0) if reverse else x, h, params, has_bias, 1, 0.0,
                                          False, dirs == 2, False)
        if keep:
            return h.to(out), _aten_sequence(seq, steps, batch, dirs, H, reverse).to(out)
        return (h.to(out),)

    run.multi_output = True  # type: ignore[attr-defined]
    return run


@lowering("gru_cell")
def gru_cell(node: LoweringNode) -> Callable[..., Any]:
    a = node.attrs
    H = a["hidden_size"]
    batch = node.inputs[0].shape[0]  # type: ignore[union-attr]
    z_first, reset_after = a["layout"] == "zrn", a["reset_after"]
    acts = tuple(a["activations"])
    out, work = node.out_dtype, _work_dtype(node)

    def run(x: Tensor, w: Tensor, rw: Tensor, h: Tensor, b: Tensor | None, rb: Tensor | None) -> Tensor:
        x, w, rw, h, b, rb = _cast(work, x, w, rw, h, b, rb)
        bias = b if reset_after else _add(b, rb)
        xp = _project(x, w[None], None if bias is None else bias[None], (False,), 1, batch)
        rb1 = rb[None] if reset_after and rb is not None else None
        h, _ = _gru_loop(xp, rw[None], rb1, h[None], steps=1, hidden=H, z_first=z_first,
                         acts=acts, reset_after=reset_after, keep=False)
        return h[0].to(out)

    return run


@lowering("lstm")
def lstm(node: LoweringNode) -> Callable[..., Any]:
    """LSTM over the steps; ATen's fused LSTM (oneDNN on CPU, cuDNN on CUDA) where the
    spec's options are torch's (default activations, no peepholes), else the loop above."""
    a = node.attrs
    steps, H = a["steps"], a["hidden_size"]
    batch = node.inputs[0].shape[1]  # type: ignore[union-attr]
    backward = _backward_flags(a["direction"])
    dirs = len(backward)
    ifgo, keep = a["layout"] == "ifgo", a["return_sequence"]
    acts = tuple(a["activations"])
    out, work = node.out_dtype, _work_dtype(node)
    fused = acts == ("sigmoid", "tanh", "tanh") and node.inputs[5] is None

    def run(x: Tensor, w: Tensor, rw: Tensor, b: Tensor | None, rb: Tensor | None, p: Tensor | None,
            h0: Tensor | None, c0: Tensor | None) -> tuple[Tensor, ...]:
        x, w, rw, b, rb, p, h0, c0 = _cast(work, x, w, rw, b, rb, p, h0, c0)
        if fused:
            return _lstm_aten(x, w, rw, b, rb, h0, c0)
        bias = _add(b, rb)
        if ifgo:
            w, rw = _reorder(w, 1, H, _IFGO_TO_IOFG), _reorder(rw, 1, H, _IFGO_TO_IOFG)
            bias = _reorder(bias, 1, H, _IFGO_TO_IOFG)
        xp = _project(x, w, bias, backward, steps, batch)  # type: ignore[arg-type]
        h = _zeros(dirs, batch, H, xp) if h0 is None else h0
        c = _zeros(dirs, batch, H, xp) if c0 is None else c0
        h, c, hs = _lstm_loop(xp, rw, p, h, c, steps=steps, hidden=H, acts=acts, keep=keep)  # type: ignore[arg-type]
        if keep:
            return h.to(out), c.to(out), _sequence(hs, backward).to(out)
        return h.to(out), c.to(out)

    def _lstm_aten(x: Tensor, w: Tensor, rw: Tensor, b: Tensor | None, rb: Tensor | None,
                   h0: Tensor | None, c0: Tensor | None) -> tuple[Tensor, ...]:
        if not ifgo:  # torch's gate order is i, f, g, o
            w, rw = _reorder(w, 1, H, _IOFG_TO_IFGO), _reorder(rw, 1, H, _IOFG_TO_IFGO)
            b, rb = _reorder(b, 1, H, _IOFG_TO_IFGO), _reorder(rb, 1, H, _IOFG_TO_IFGO)
        params, has_bias = _aten_params(w, rw, b, rb, dirs)  # type: ignore[arg-type]
        h = _zeros(dirs, batch, H, x) if h0 is None else h0
        c = _zeros(dirs, batch, H, x) if c0 is None else c0
        reverse = backward == (True,)
        seq, h, c = torch.ops.aten.lstm.input(x.flip(0) if reverse else x, [h, c], params, has_bias, 1,
                                              0.0, False, dirs == 2, False)
        if keep:
            return h.to(out), c.to(out), _aten_sequence(seq, steps, batch, dirs, H, reverse).to(out)
        return h.to(out), c.to(out)

    run.multi_output = True  # type: ignore[attr-defined]
    return run


@lowering("lstm_cell")
def lstm_cell(node: LoweringNode) -> Callable[..., Any]:
    a = node.attrs
    H = a["hidden_size"]
    batch = node.inputs[0].shape[0]  # type: ignore[union-attr]
    reorder = a["layout"] == "ifgo"
    acts = tuple(a["activations"])
    out, work = node.out_dtype, _work_dtype(node)

    def run(x: Tensor, w: Tensor, rw: Tensor, h: Tensor, c: Tensor, b: Tensor | None,
            rb: Tensor | None, p: Tensor | None) -> tuple[Tensor, Tensor]:
        x, w, rw, h, c, b, rb, p = _cast(work, x, w, rw, h, c, b, rb, p)
        bias = _add(b, rb)
        if reorder:
            w, rw = _reorder(w, 0, H, _IFGO_TO_IOFG), _reorder(rw, 0, H, _IFGO_TO_IOFG)
            bias = _reorder(bias, 0, H, _IFGO_TO_IOFG)
        xp = _project(x, w[None], None if bias is None else bias[None], (False,), 1, batch)  # type: ignore[index]
        h, c, _ = _lstm_loop(xp, rw[None], None if p is None else p[None], h[None], c[None],  # type: ignore[index]
                             steps=1, hidden=H, acts=acts, keep=False)
        return h[0].to(out), c[0].to(out)

    run.multi_output = True  # type: ignore[attr-defined]
    return run
