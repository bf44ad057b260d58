"""Runs a compiled partition on torch tensors: zero-copy in, zero-copy out.

Inputs are handed to ``MLContext.compute_native`` as they are (bool tensors as a
uint8 view of the same memory); outputs come back as the torch tensors the graph
produced (uint8 viewed as bool where torch had bool). Only when the ``device``
option differs from where the tensors live are values moved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from webnn import MLContext, MLGraph


def make_runner(context: MLContext, graph: MLGraph, input_names: Sequence[str], input_bool: Sequence[bool],
                output_names: Sequence[str], output_bool: Sequence[bool], *, name: str,
                host_device: torch.device | None = None) -> Callable[..., tuple[Any, ...]]:
    """A function ``run(*tensors) -> tuple`` feeding ``graph`` in ``input_names`` order.

    Inputs the optimised graph no longer reads are skipped. ``host_device``: where
    the caller's tensors live when it is not the context's device (values are moved).
    """
    present = set(graph.inputs)
    feeds = tuple((i, n, b) for i, (n, b) in enumerate(zip(input_names, input_bool)) if n in present)
    outs = tuple(zip(output_names, output_bool))
    compute = context.compute_native
    u8, as_bool = torch.uint8, torch.bool
    if host_device is not None and torch.device(context.device) != host_device:
        target = torch.device(context.device)

        def run_moved(*args: Any) -> tuple[Any, ...]:
            values = {n: (args[i].to(target).view(u8) if b else args[i].to(target)) for i, n, b in feeds}
            res = compute(graph, values)
            return tuple((res[n].view(as_bool) if b else res[n]).to(host_device) for n, b in outs)

        run_moved.__name__ = run_moved.__qualname__ = name
        return run_moved

    def run(*args: Any) -> tuple[Any, ...]:
        values = {n: (args[i].view(u8) if b else args[i]) for i, n, b in feeds}
        res = compute(graph, values)
        return tuple(res[n].view(as_bool) if b else res[n] for n, b in outs)

    run.__name__ = run.__qualname__ = name
    return run
