"""Time to first result, cold vs warm graph cache, for a ResNet-50-sized WebNN graph.

Each measurement runs in a fresh Python process (nothing compiled or imported in
memory from a previous run):

* cold: the ResNet-50 weights are already numpy arrays in memory (generated before
  the clock starts, standing in for a model file already read); the clock covers
  building the WebNN graph (every ``MLGraphBuilder`` call, validation, ``build()``
  with its passes: batch-norm folding, filter layout, fusions; lowering and weight
  preparation) and the first ``dispatch`` + ``read_tensor``.
* warm: the clock covers ``load_graph(key)`` (index lookup, checksum, zero-copy
  arrays, lowering of the stored optimised IR) and the first ``dispatch`` +
  ``read_tensor``. The source weights are never touched.

Python start-up, ``import webnn`` and ``create_context`` are the same in both and
are reported separately, not inside the ratio. Each timed region starts right after a
``gc.collect()``: otherwise the garbage-collection debt left by importing torch (a full
collection of its heap costs about 60 ms here) falls inside whichever region happens to
cross the collector's threshold first, which says nothing about either mode (``timeit``
goes further and turns the collector off). The OS page cache is warm in both
cases (the blob was just written; the cold weights are in memory). Medians of
``--runs`` runs each (cold and warm alternate). The warm outputs are checked to be
bit-identical to the cold ones.

    python benchmarks/cache_ttfr.py [--runs 5] [--device cpu] [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import child_env

KEY = "resnet50-bench"
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # width, blocks, first stride


# ------------------------------------------------------------------ the network
def make_weights(width_scale: float, seed: int = 0) -> list[np.ndarray]:
    """All ResNet-50 constants in build order (He-initialised convs, BN statistics, fc)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []

    def conv(cout: int, cin: int, k: int) -> None:
        std = np.sqrt(2.0 / (cin * k * k))
        out.append((rng.standard_normal((cout, cin, k, k), dtype=np.float32) * std).astype(np.float32))
        out.append((rng.standard_normal(cout, dtype=np.float32) * 0.1).astype(np.float32))  # BN mean
        out.append(rng.uniform(0.5, 1.5, cout).astype(np.float32))  # BN variance
        out.append(rng.uniform(0.5, 1.5, cout).astype(np.float32))  # BN scale
        out.append((rng.standard_normal(cout, dtype=np.float32) * 0.1).astype(np.float32))  # BN bias

    w = lambda c: max(4, int(c * width_scale))  # noqa: E731
    conv(w(64), 3, 7)
    cin = w(64)
    for width, blocks, _stride in STAGES:
        for b in range(blocks):
            conv(w(width), cin, 1)
            conv(w(width), w(width), 3)
            conv(w(width) * 4, w(width), 1)
            if b == 0:
                conv(w(width) * 4, cin, 1)
            cin = w(width) * 4
    out.append((rng.standard_normal((cin, 1000), dtype=np.float32) * np.sqrt(1.0 / cin)).astype(np.float32))
    out.append(np.zeros(1000, np.float32))
    return out


def build_resnet50(ctx, weights: list[np.ndarray], size: int):
    """ResNet-50 v1 (bottleneck blocks 3-4-6-3), NCHW, conv2d + batch_normalization + relu."""
    import webnn

    b = webnn.MLGraphBuilder(ctx)
    it = iter(weights)
    x = b.input("image", {"dataType": "float32", "shape": [1, 3, size, size]})

    def conv_bn(h, stride: int, relu: bool):
        f = next(it)
        k = f.shape[2]
        p = k // 2
        h = b.conv2d(h, b.constant(f), strides=[stride, stride], padding=[p, p, p, p])
        mean, var, scale, bias = (b.constant(next(it)) for _ in range(4))
        h = b.batch_normalization(h, mean, var, scale=scale, bias=bias, epsilon=1e-5)
        return b.relu(h) if relu else h

    h = conv_bn(x, 2, True)
    h = b.max_pool2d(h, window_dimensions=[3, 3], strides=[2, 2], padding=[1, 1, 1, 1])
    for _width, blocks, stride in STAGES:
        for i in range(blocks):
            s = stride if i == 0 else 1
            y = conv_bn(h, 1, True)
            y = conv_bn(y, s, True)
            y = conv_bn(y, 1, False)
            shortcut = conv_bn(h, s, False) if i == 0 else h
            h = b.relu(b.add(y, shortcut))
    h = b.average_pool2d(h)
    channels = h.shape[1]
    h = b.reshape(h, [1, channels])
    logits = b.gemm(h, b.constant(next(it)), c=b.constant(next(it)))
    return b.build({"logits": logits})


def first_result(ctx, graph, image: np.ndarray) -> np.ndarray:
    """One dispatch through MLTensors, then read the output (the spec's path)."""
    inp = ctx.create_tensor(graph.inputs["image"], writable=True)
    out = ctx.create_tensor(graph.outputs["logits"], readable=True)
    ctx.write_tensor(inp, image)
    ctx.dispatch(graph, {"image": inp}, {"logits": out})
    return ctx.read_tensor(out)


def timed_first_result(ctx, prepare, image: np.ndarray) -> tuple[object, np.ndarray, dict[str, float]]:
    """``prepare()`` (build or load_graph) then :func:`first_result`, timed from a collected
    heap (see the module note): (graph, output, {prepare_s, first_dispatch_s, total_s})."""
    gc.collect()
    t0 = time.perf_counter()
    graph = prepare()
    t1 = time.perf_counter()
    out = first_result(ctx, graph, image)
    t2 = time.perf_counter()
    return graph, out, {"prepare_s": t1 - t0, "first_dispatch_s": t2 - t1, "total_s": t2 - t0}


def same_bits(out: np.ndarray, reference_path: str) -> bool:
    """Whether ``out`` equals the saved cold output bit for bit."""
    ref = np.load(reference_path)
    return bool(out.dtype == ref.dtype and out.tobytes() == ref.tobytes())


# ------------------------------------------------------------------ one process
def child(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    import webnn

    ctx = webnn.ml.create_context(args.device, cache_dir=args.cache_dir, origin="benchmark")
    t_ready = time.perf_counter()
    image = np.random.default_rng(1).standard_normal((1, 3, args.size, args.size), dtype=np.float32)
    result: dict[str, float | bool | int] = {"startup_s": t_ready - t_start}
    if args.child == "cold":
        weights = make_weights(args.width_scale)  # the model, already in memory
        result["params"] = int(sum(w.size for w in weights))
        graph, out, times = timed_first_result(ctx, lambda: build_resnet50(ctx, weights, args.size), image)
        result.update(times)
        if args.save:
            ctx.save_graph(KEY, graph)
            np.save(args.reference, out)
            result["entry_bytes"] = ctx.cache_info()[0]["size"]
    else:
        _graph, out, times = timed_first_result(ctx, lambda: ctx.load_graph(KEY), image)
        result.update(times, identical=same_bits(out, args.reference))
        result["hits"] = ctx.cache_stats()["hits"]
    print("RESULT " + json.dumps(result))


def run_child(mode: str, args: argparse.Namespace, work: Path, save: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--cache-dir", str(work / "cache"),
           "--reference", str(work / "reference.npy"), "--device", args.device,
           "--size", str(args.size), "--width-scale", str(args.width_scale)]
    if save:
        cmd.append("--save")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=child_env())
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{mode} run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per mode (median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--width-scale", type=float, default=1.0, help="channel multiplier (1.0 = ResNet-50)")
    parser.add_argument("--quick", action="store_true", help="tiny network, one run: checks the script works")
    parser.add_argument("--child", choices=["cold", "warm"], help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.runs, args.size, args.width_scale = 1, 32, 0.0625

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="webnn-ttfr-") as tmp:
        work = Path(tmp)
        prep = run_child("cold", args, work, save=True)  # fills the cache, also warms the OS file cache
        cold, warm = [], []
        for _ in range(args.runs):
            cold.append(run_child("cold", args, work))
            warm.append(run_child("warm", args, work))

    def med(runs: list[dict], field: str) -> float:
        return statistics.median(r[field] for r in runs)

    import torch

    import webnn

    print(f"ResNet-50-shaped WebNN graph: {prep['params'] / 1e6:.1f}M parameters, input 1x3x{args.size}x{args.size}, "
          f"cache entry {prep['entry_bytes'] / 2**20:.1f} MiB")
    print(f"webnn {webnn.__version__}, torch {torch.__version__}, device {args.device}, "
          f"{os.cpu_count()} CPUs, {args.runs} fresh processes per mode (medians)")
    print(f"{'':6}{'prepare':>12}{'1st dispatch':>14}{'total':>10}   (startup+import+context, not counted)")
    for name, runs, what in (("cold", cold, "build"), ("warm", warm, "load_graph")):
        print(f"{name:6}{med(runs, 'prepare_s') * 1e3:>9.1f} ms{med(runs, 'first_dispatch_s') * 1e3:>11.1f} ms"
              f"{med(runs, 'total_s') * 1e3:>7.1f} ms   ({med(runs, 'startup_s') * 1e3:.0f} ms)   prepare = {what}")
    for name, runs in (("cold", cold), ("warm", warm)):
        print(f"{name} runs, total ms: " + ", ".join(f"{r['total_s'] * 1e3:.0f}" for r in runs))
    print(f"1-minute load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"(other work on the machine inflates the dispatch times)")
    ratio = med(warm, "total_s") / med(cold, "total_s")
    identical = all(r["identical"] for r in warm)
    best = min(r["total_s"] for r in warm) / min(r["total_s"] for r in cold)
    print(f"warm / cold time to first result: {ratio:.3f} of the medians (bar: <= 0.25), {best:.3f} of the "
          f"fastest runs;   warm outputs bit-identical to cold: {'yes' if identical else 'NO'}")


if __name__ == "__main__":
    main()
