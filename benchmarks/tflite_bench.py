"""TFLite with the WebNN delegate vs plain TFLite (XNNPACK), on Keras MobileNetV2 and ResNet50.

Prints, per model: steady-state latency of TFLite's default path (XNNPACK) and of the
WebNN delegate on the CPU (and CUDA when present), the largest output difference, and
the time to first result with a cold and a warm graph cache, each measured in a fresh
process (delegate creation + interpreter + allocate_tensors + first invoke; the TF
import is not counted). Cold and warm runs alternate (``--first-result-runs`` pairs,
each on a new cache directory) so that load from other processes hits both alike; the
table gives the medians and the warm/cold ratio's median with its range over the pairs.
Models are the Keras application architectures with random weights, converted by TF's
own converter.

    python benchmarks/tflite_bench.py [--models mobilenet_v2,resnet50] [--repeats 30] [--first-result-runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _timing import median_seconds  # noqa: E402


def build(name: str) -> bytes:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    if name == "mobilenet_v2":
        model = tf.keras.applications.MobileNetV2(input_shape=(160, 160, 3), alpha=0.5, weights=None,
                                                  classes=100, classifier_activation=None)
    elif name == "resnet50":
        model = tf.keras.applications.ResNet50(input_shape=(96, 96, 3), weights=None, classes=100,
                                               classifier_activation=None)
    else:
        raise SystemExit(f"unknown model {name!r}")
    inp = tf.keras.Input(model.input_shape[1:], batch_size=1)
    fixed = tf.keras.Model(inp, model(inp))
    return tf.lite.TFLiteConverter.from_keras_model(fixed).convert()


THREADS = os.cpu_count()


def interpreter(path: str, delegate: object | None = None):  # noqa: ANN201
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = tf.lite.Interpreter(model_path=path, experimental_delegates=[delegate] if delegate else None,
                                 num_threads=THREADS)
    it.allocate_tensors()
    return it


def first_result(path: str, cache_dir: str, device: str, shape: tuple[int, ...]) -> None:
    """Child process: time from delegate creation to the first output; prints JSON.

    Nothing else runs between the imports and the timed part (the input shape comes from
    the parent): the first Python work after importing TF pays a full garbage collection
    of the objects the imports left (about 0.2 s here), cold and warm alike, as an
    application's first work would."""
    import tensorflow  # noqa: F401  (imported before timing, as an application would have)
    from webnn.integrations.tflite import load_delegate

    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    t0 = time.perf_counter()
    d = load_delegate(device, cache=True, cache_dir=cache_dir, origin="tflite-bench")
    it = interpreter(path, d)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    it.get_tensor(it.get_output_details()[0]["index"])
    seconds = time.perf_counter() - t0
    caches = [p.cache for r in d.placement_report() for p in r.partitions]
    print(json.dumps({"seconds": seconds, "caches": caches}))


def steady(it, x: np.ndarray, repeats: int) -> float:  # noqa: ANN001
    it.set_tensor(it.get_input_details()[0]["index"], x)
    return median_seconds(it.invoke, repeats=repeats, warmup=3)


def output(it, x: np.ndarray) -> np.ndarray:  # noqa: ANN001
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"]).copy()


def child(path: str, cache_dir: str, device: str, shape: tuple[int, ...]) -> dict:
    # Without PYTHONDONTWRITEBYTECODE: users' processes import from .pyc files, and a
    # child that recompiled every module it imports would time that instead.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, __file__, "--first-result", path, "--cache-dir", cache_dir,
                          "--device", device, "--threads", str(THREADS), "--input-shape", ",".join(map(str, shape))],
                         capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mobilenet_v2,resnet50")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads for both TFLite (num_threads) and torch (set_num_threads)")
    ap.add_argument("--first-result-runs", type=int, default=5,
                    help="cold/warm pairs of fresh processes for the time to first result")
    ap.add_argument("--first-result", help=argparse.SUPPRESS)
    ap.add_argument("--cache-dir", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    ap.add_argument("--input-shape", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global THREADS
    THREADS = args.threads
    import torch

    torch.set_num_threads(args.threads)
    if args.first_result:
        first_result(args.first_result, args.cache_dir, args.device,
                     tuple(int(d) for d in args.input_shape.split(",")))
        return

    import torch
    from webnn.integrations.tflite import load_delegate

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            t0 = time.perf_counter()
            path = str(Path(tmp) / f"{name}.tflite")
            Path(path).write_bytes(build(name))
            print(f"# {name}: converted in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            base = interpreter(path)
            x = np.random.default_rng(1).random(base.get_input_details()[0]["shape"], dtype=np.float32)
            ref = output(base, x)
            row = {"model": name, "xnnpack_ms": steady(base, x, args.repeats) * 1e3}
            for dev in devices:
                d = load_delegate(dev, cache=False)
                it = interpreter(path, d)
                got = output(it, x)
                rep = d.placement_report()[0]
                row[f"webnn_{dev}_ms"] = steady(it, x, args.repeats) * 1e3
                if dev == "cpu" and len(rep.partitions) == 1:
                    # The delegate's own cost: invoke minus running the same compiled graph directly.
                    graph = d._graphs[rep.partitions[0].key]
                    feeds = {name: torch.from_numpy(x) for name in graph.inputs}
                    direct = median_seconds(lambda c=d.context, g=graph, f=feeds: c.compute_native(g, f),
                                            repeats=args.repeats)
                    row["overhead_ms"] = row["webnn_cpu_ms"] - direct * 1e3
                row[f"maxdiff_{dev}"] = float(np.abs(got - ref).max())
                row[f"placement_{dev}"] = f"{rep.webnn_nodes}/{len(rep.nodes)} nodes, {len(rep.partitions)} graph(s)"
            colds, warms = [], []
            for run in range(args.first_result_runs):
                cache_dir = str(Path(tmp) / f"cache-{name}-{run}")
                colds.append(child(path, cache_dir, "cpu", x.shape))
                warms.append(child(path, cache_dir, "cpu", x.shape))
                shutil.rmtree(cache_dir, ignore_errors=True)
            ratios = [w["seconds"] / c["seconds"] for c, w in zip(colds, warms)]
            row.update(cold_s=statistics.median(c["seconds"] for c in colds),
                       warm_s=statistics.median(w["seconds"] for w in warms),
                       ratio=statistics.median(ratios), ratio_range=(min(ratios), max(ratios)),
                       cold_caches=sorted({x for c in colds for x in c["caches"]}),
                       warm_caches=sorted({x for w in warms for x in w["caches"]}))
            rows.append(row)
    print(f"TFLite (XNNPACK, {THREADS} threads) vs WebNN delegate; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print("| model | XNNPACK ms | WebNN cpu ms | ratio | " + ("WebNN cuda ms | " if "cuda" in devices else "")
          + "max diff | placement | first result cold s | warm s | warm/cold (range) |")
    for r in rows:
        cuda = f"{r['webnn_cuda_ms']:.2f} | " if "cuda" in devices else ""
        print(f"| {r['model']} | {r['xnnpack_ms']:.2f} | {r['webnn_cpu_ms']:.2f} | "
              f"{r['webnn_cpu_ms'] / r['xnnpack_ms']:.1f}x | {cuda}{r['maxdiff_cpu']:.2e} | {r['placement_cpu']} | "
              f"{r['cold_s']:.2f} | {r['warm_s']:.2f} | {r['ratio']:.2f} "
              f"({r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f}) |")
        print(f"#   {args.first_result_runs} cold/warm pairs; caches seen: cold {r['cold_caches']}, "
              f"warm {r['warm_caches']}; delegate overhead per invoke "
              f"(invoke - compute_native of the same graph): {r.get('overhead_ms', float('nan')):.3f} ms")


if __name__ == "__main__":
    main()
