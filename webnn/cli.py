"""The ``webnn`` command line. With no arguments: run the built-in sample graph;
``webnn cache info|clear``: the graph cache (``webnn.cache.cli``)."""

from __future__ import annotations

import sys
import time

import numpy as np


def sample(argv: list[str] | None = None) -> int:
    """Build a small sample graph, run it on the default device and say what happened."""
    import webnn

    ctx = webnn.ml.create_context(cache=False)
    builder = webnn.MLGraphBuilder(ctx)
    x = builder.input("x", {"dataType": "float32", "shape": [2, 4]})
    w = builder.constant(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    y = builder.max(builder.mul(x, w), builder.constant(np.float32(0)))
    t0 = time.perf_counter()
    graph = builder.build({"y": y})
    t1 = time.perf_counter()
    out = ctx.compute(graph, {"x": np.ones((2, 4), np.float32)})
    t2 = time.perf_counter()
    print(f"webnn {webnn.__version__} on {ctx.device}: built a {len(graph.ir.nodes)}-op graph in "
          f"{(t1 - t0) * 1e3:.2f} ms, ran it in {(t2 - t1) * 1e3:.2f} ms")
    print(f"y = {out['y'].tolist()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cache"]:  # webnn cache info|clear: the graph cache (webnn.cache.cli)
        from .cache.cli import main as cache_main

        return cache_main(argv[1:])
    return sample(argv)
