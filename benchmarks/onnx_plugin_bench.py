"""Plain ORT with the WebNN plugin EP vs ORT's CPU EP alone vs the drop-in InferenceSession.

Same process, same models, same inputs. Prints a table of median latencies and ratios,
the per-partition overhead (an alternating WebNN/ORT chain of tiny nodes, per WebNN
partition), and the time to first result of a new session with a cold and a warm graph
cache. Models: a ResNet-style CNN and transformer blocks exported from torch, and ResNet-50
as published (the onnx wheel's "real" set, random weights). Nothing here asserts a time.

    python benchmarks/onnx_plugin_bench.py            # all models
    python benchmarks/onnx_plugin_bench.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from webnn.integrations import onnx as webnn_ort  # noqa: E402

from benchmarks._timing import median_per_call, median_seconds  # noqa: E402
from tests.integrations.onnx_plugin import models  # noqa: E402

EP = "WebNNExecutionProvider"


def plugin_session(data: bytes, **options: str) -> ort.InferenceSession:
    devs = [d for d in ort.get_ep_devices() if d.ep_name == webnn_ort.get_ep_name()]
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.add_provider_for_devices(devs[:1], {"deviceType": "cpu", **options})
    return ort.InferenceSession(data, sess_options=so)


def cpu_session(data: bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=so, providers=["CPUExecutionProvider"])


def drop_in_session(data: bytes, **options: str):
    return webnn_ort.InferenceSession(data, providers=[(EP, {"deviceType": "cpu", **options}),
                                                       "CPUExecutionProvider"])


def chain_model(partitions: int, width: int = 16) -> bytes:
    """Relu (WebNN) and TopK-free ORT-only nodes alternating: ``partitions`` WebNN partitions."""
    nodes, prev = [], "x"
    for k in range(partitions):
        nodes.append(helper.make_node("Relu", [prev], [f"r{k}"]))
        nodes.append(helper.make_node("Mod", [f"r{k}", "m"], [f"m{k}"], fmod=1))  # no WebNN converter
        prev = f"m{k}"
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, width])],
                          [numpy_helper.from_array(np.array([7.0], np.float32), "m")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def latency_table(quick: bool) -> None:
    repeats = 10 if quick else 30
    cases = [
        ("resnet-style CNN 64ch 112px b1", models.resnet_block_model(channels=64, size=112, blocks=4),
         {"x": np.random.default_rng(0).standard_normal((1, 3, 112, 112)).astype(np.float32)}),
        ("transformer block d256 seq128 b4", models.transformer_model(d_model=256, heads=8, seq=128),
         {"x": np.random.default_rng(0).standard_normal((4, 128, 256)).astype(np.float32)}),
        ("transformer block d64 seq16 b1", models.transformer_model(d_model=64, heads=4, seq=16),
         {"x": np.random.default_rng(0).standard_normal((1, 16, 64)).astype(np.float32)}),
    ]
    real = models.light_model("light_resnet50")  # the published architecture, from the onnx wheel
    if real is not None:
        cases.append(("ResNet-50 (onnx wheel), 224px b1", real[0].SerializeToString(), real[1]))
    print(f"{'model':36} {'ORT CPU EP':>12} {'ORT+WebNN EP':>13} {'drop-in':>12} {'plugin/CPU':>11} "
          f"{'drop-in/CPU':>12}")
    for name, data, feeds in cases:
        cpu, plug, drop = cpu_session(data), plugin_session(data, cache="0"), drop_in_session(data, cache="0")
        ref = cpu.run(None, feeds)[0]
        for s in (plug, drop):
            np.testing.assert_allclose(s.run(None, feeds)[0], ref, rtol=1e-3, atol=1e-3)
        t = [median_seconds(lambda s=s, f=feeds: s.run(None, f), repeats=repeats) for s in (cpu, plug, drop)]
        print(f"{name:36} {t[0] * 1e3:10.2f}ms {t[1] * 1e3:11.2f}ms {t[2] * 1e3:10.2f}ms "
              f"{t[1] / t[0]:10.2f}x {t[2] / t[0]:11.2f}x")


def overhead(quick: bool) -> None:
    calls = 300 if quick else 2000
    print("\nper-partition overhead (alternating Relu on WebNN / Mod on ORT, [1,16] float32):")
    print(f"{'partitions':>10} {'ORT CPU EP':>12} {'ORT+WebNN EP':>13} {'drop-in':>12} "
          f"{'plugin extra/partition':>23} {'drop-in extra/partition':>24}")
    for parts in (1, 4, 16):
        data = chain_model(parts)
        feeds = {"x": np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)}
        sessions = [cpu_session(data), plugin_session(data, cache="0"), drop_in_session(data, cache="0")]
        t = [median_per_call(lambda s=s, f=feeds: s.run(None, f), calls=calls, repeats=5) for s in sessions]
        print(f"{parts:>10} {t[0] * 1e6:10.1f}us {t[1] * 1e6:11.1f}us {t[2] * 1e6:10.1f}us "
              f"{(t[1] - t[0]) / parts * 1e6:21.1f}us {(t[2] - t[0]) / parts * 1e6:22.1f}us")


def cold_warm() -> None:
    cases = [("resnet-style CNN", models.resnet_block_model(channels=64, size=112, blocks=4, batch=1),
              {"x": np.random.default_rng(0).standard_normal((1, 3, 112, 112)).astype(np.float32)})]
    real = models.light_model("light_resnet50")
    if real is not None:
        cases.append(("ResNet-50 (onnx wheel)", real[0].SerializeToString(), real[1]))
    print("\ntime to first result (new session + first run; warm: best of 3):")
    for name, data, feeds in cases:
        def first(make, feeds=feeds) -> float:
            t0 = time.perf_counter()
            make().run(None, feeds)
            return time.perf_counter() - t0

        ort_t = min(first(lambda data=data: cpu_session(data)) for _ in range(3))
        with tempfile.TemporaryDirectory() as d:
            cold = first(lambda data=data, d=d: plugin_session(data, cacheDir=d))
            warm = min(first(lambda data=data, d=d: plugin_session(data, cacheDir=d)) for _ in range(3))
        with tempfile.TemporaryDirectory() as d:
            dcold = first(lambda data=data, d=d: drop_in_session(data, cacheDir=d))
            dwarm = min(first(lambda data=data, d=d: drop_in_session(data, cacheDir=d)) for _ in range(3))
        print(f"  {name}: ORT CPU EP {ort_t * 1e3:.1f}ms | plugin cold {cold * 1e3:.1f}ms, warm {warm * 1e3:.1f}ms "
              f"(warm/cold {warm / cold:.2f}) | drop-in cold {dcold * 1e3:.1f}ms, warm {dwarm * 1e3:.1f}ms "
              f"(warm/cold {dwarm / dcold:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    ort.register_execution_provider_library("webnn", webnn_ort.get_library_path())
    print(f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs")
    latency_table(args.quick)
    overhead(args.quick)
    cold_warm()


if __name__ == "__main__":
    main()
