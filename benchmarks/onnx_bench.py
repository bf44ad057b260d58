"""ONNX Runtime integration benchmarks: WebNN provider vs ORT's CPU EP, same process, same machine.

Subcommands (each prints a table; nothing here asserts a time):

``models``    ResNet-50-style and BERT-style models exported from torch with random
              weights: steady-state latency of the WebNN provider (cpu, and gpu where
              CUDA is present) against ORT's CPUExecutionProvider, and time to first
              result in fresh processes -- ORT session creation + first run, WebNN cold
              (empty graph cache) and WebNN warm (cache filled by an earlier process).
``overhead``  Per-partition cost of the two routes for mixing WebNN with ORT: the chain
              of sub-sessions this integration uses, and one ORT session whose WebNN
              partitions are onnxruntime-extensions Python custom ops (run in a child
              process; skipped with a note when onnxruntime_extensions is not installed).

    python benchmarks/onnx_bench.py models [--bert-layers 4] [--runs 20] [--threads N]
    python benchmarks/onnx_bench.py overhead [--python /path/to/python-with-ortx]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _timing import child_env

PROVIDER = "WebNNExecutionProvider"
CPU = "CPUExecutionProvider"


# -- models -------------------------------------------------------------------------------------
def resnet50_onnx(batch: int = 1) -> tuple[bytes, dict[str, np.ndarray]]:
    """A ResNet-50 (bottleneck blocks 3-4-6-3, torchvision layout) with random weights."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int) -> None:
            super().__init__()
            cout = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.body(x) + self.skip(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for k in range(blocks):
            layers.append(Bottleneck(cin, width, stride if k == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    torch.manual_seed(0)
    model = nn.Sequential(*layers).eval()
    x = torch.randn(batch, 3, 224, 224)
    return _export(model, (x,), ["input"], ["logits"], {"input": {0: "batch"}}), {"input": x.numpy()}


def bert_onnx(layers: int, hidden: int = 768, heads: int = 12, seq: int = 128, batch: int = 1
              ) -> tuple[bytes, dict[str, np.ndarray]]:
    """A BERT-style encoder (embeddings + LayerNorm, post-norm layers, GELU FFN), random weights."""
    import torch
    from torch import nn

    class SelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.out = nn.Linear(hidden, hidden)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            b, s, _ = x.shape
            q, k, v = self.qkv(x).split(hidden, dim=-1)
            shape = (b, s, heads, hidden // heads)
            q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
            scores = q @ k.transpose(-1, -2) / (hidden // heads) ** 0.5 + bias
            ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, hidden)
            return self.out(ctx)

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = SelfAttention()
            self.norm1 = nn.LayerNorm(hidden)
            self.ffn = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))
            self.norm2 = nn.LayerNorm(hidden)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            x = self.norm1(x + self.attn(x, bias))
            return self.norm2(x + self.ffn(x))

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.words = nn.Embedding(30522, hidden)
            self.positions = nn.Embedding(512, hidden)
            self.types = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            pos = torch.arange(ids.shape[1]).unsqueeze(0)
            x = self.norm(self.words(ids) + self.positions(pos) + self.types(types))
            bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, bias)
            return x

    torch.manual_seed(0)
    model = Bert().eval()
    ids = torch.randint(0, 30522, (batch, seq))
    types = torch.zeros(batch, seq, dtype=torch.int64)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    data = _export(model, (ids, types, mask), ["input_ids", "token_type_ids", "attention_mask"], ["hidden"], {})
    return data, {"input_ids": ids.numpy(), "token_type_ids": types.numpy(), "attention_mask": mask.numpy()}


def _export(model: Any, args: tuple, inputs: list[str], outputs: list[str], dynamic: dict) -> bytes:
    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, buf, dynamo=False, input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic or None, opset_version=17)
    return buf.getvalue()


# -- timing -------------------------------------------------------------------------------------
def steady_ms(session: Any, feeds: dict[str, np.ndarray], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def first_result_child(args: argparse.Namespace) -> None:
    """Child process: import first (onnxruntime; torch for WebNN), then time session creation + first run."""
    import onnxruntime as ort
    import torch  # the WebNN backend's library, imported before timing as ORT is
    from webnn.integrations.onnx import InferenceSession

    threads = int(args.threads)
    if threads:
        torch.set_num_threads(threads)
    feeds = {k: v for k, v in np.load(args.feeds).items()}
    t = time.perf_counter()
    if args.route == "ort":
        sess = ort.InferenceSession(args.model, _ort_options(threads), providers=[CPU])
    else:
        sess = InferenceSession(args.model, providers=[(PROVIDER, {"deviceType": args.device,
                                                                   "cacheDir": args.cache_dir}), CPU])
    sess.run(None, feeds)
    elapsed = time.perf_counter() - t
    cache = sorted({p["cache"] for p in sess.placement() if p.get("cache")}) if args.route != "ort" else []
    print(json.dumps({"seconds": elapsed, "cache": cache}))


def _ort_options(threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return options


def _child_first_result(model: Path, feeds: Path, route: str, device: str, cache_dir: str,
                        threads: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "_first", "--model", str(model), "--feeds", str(feeds), "--route", route,
           "--device", device, "--cache-dir", cache_dir, "--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800, env=child_env())
    return json.loads(out.stdout.strip().splitlines()[-1])


def models(args: argparse.Namespace) -> None:
    import onnxruntime as ort
    import torch
    from webnn.integrations.onnx import InferenceSession

    devices = ["cpu"] + (["gpu"] if torch.cuda.is_available() else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {os.cpu_count()} CPU cores; torch {torch.__version__}; onnxruntime {ort.__version__}; "
          f"CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}; "
          f"threads: {args.threads or 'default'} (torch intra-op and ORT intra_op_num_threads)")
    work = Path(tempfile.mkdtemp(prefix="webnn-onnx-bench-"))
    built = {"resnet50": resnet50_onnx(), f"bert-{args.bert_layers}L": bert_onnx(args.bert_layers)}
    rows = []
    for name, (data, feeds) in built.items():
        path = work / f"{name}.onnx"
        path.write_bytes(data)
        feeds_path = work / f"{name}.npz"
        np.savez(feeds_path, **feeds)
        ref_sess = ort.InferenceSession(data, _ort_options(args.threads), providers=[CPU])
        ort_ms = steady_ms(ref_sess, feeds, args.runs)
        ref = ref_sess.run(None, feeds)
        for device in devices:
            sess = InferenceSession(data, providers=[(PROVIDER, {"deviceType": device, "cache": "0"}), CPU])
            ours = sess.run(None, feeds)
            err = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, ref))
            summary = sess.placement_summary()
            ms = steady_ms(sess, feeds, args.runs)
            cache_dir = str(work / f"cache-{name}-{device}")
            ort_first = _child_first_result(path, feeds_path, "ort", device, cache_dir, args.threads)["seconds"]
            cold = _child_first_result(path, feeds_path, "webnn", device, cache_dir, args.threads)
            warm = _child_first_result(path, feeds_path, "webnn", device, cache_dir, args.threads)
            rows.append((name, device, ort_ms, ms, ms / ort_ms, ort_first, cold["seconds"], warm["seconds"],
                         warm["seconds"] / cold["seconds"], err, summary, warm["cache"]))
    print()
    print("| model | WebNN device | ORT CPU EP ms | WebNN EP ms | ratio | ORT create+1st s | WebNN cold s "
          "| WebNN warm s | warm/cold | max abs diff | placement | warm cache |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        place = f"{r[10]['webnn_partitions']} WebNN partitions, {r[10]['ort_sessions']} ORT sessions"
        print(f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.2f}x | {r[5]:.2f} | {r[6]:.2f} | {r[7]:.2f} "
              f"| {r[8]:.2f}x | {r[9]:.1e} | {place} | {', '.join(r[11])} |")
    print(f"\nsteady state: median of {args.runs} runs after 3 warm-up runs, batch 1; first result: fresh "
          "process, library imports (onnxruntime, torch) excluded, session creation + first run.")


# -- per-partition overhead ---------------------------------------------------------------------------
def _chain_model(parts: int, shape: tuple[int, ...]) -> bytes:
    """x -> [Relu (WebNN) -> Mod (ORT: no WebNN op)] * parts -> Relu: ``parts`` WebNN partitions."""
    from onnx import TensorProto, helper

    nodes, cur = [], "x"
    for k in range(parts):
        nodes.append(helper.make_node("Relu", [cur], [f"r{k}"]))
        nodes.append(helper.make_node("Mod", [f"r{k}", "m"], [f"m{k}"], fmod=1))
        cur = f"m{k}"
    nodes.append(helper.make_node("Relu", [cur], ["y"]))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                              initializer=[helper.make_tensor("m", TensorProto.FLOAT, [1], [7.0])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def overhead(args: argparse.Namespace) -> None:
    import onnxruntime as ort
    from webnn.integrations.onnx import InferenceSession

    shape = (1, 64)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    print("route A -- chain of sub-sessions (what this integration does):")
    print("| WebNN partitions | ORT alone us | chain us | chain - ORT us | per partition us |")
    print("|---|---|---|---|---|")
    base = {}
    for parts in (0, 1, 4, 16):
        data = _chain_model(parts, shape)
        ref = ort.InferenceSession(data, providers=[CPU])
        ort_us = _us(lambda: ref.run(None, {"x": x}))  # noqa: B023
        sess = InferenceSession(data, providers=[(PROVIDER, {"cache": "0"}), CPU])
        sess.run(None, {"x": x})
        ours = _us(lambda: sess.run(None, {"x": x}))  # noqa: B023
        base[parts] = (ort_us, ours)
        per = (ours - ort_us) / parts if parts else float("nan")
        print(f"| {parts} | {ort_us:.1f} | {ours:.1f} | {ours - ort_us:.1f} | {per:.1f} |")
    python = args.python or sys.executable
    probe = subprocess.run([python, "-c", "import onnxruntime_extensions"], capture_output=True)
    if probe.returncode != 0:
        print("\nroute B -- onnxruntime-extensions custom ops: not measured (onnxruntime_extensions is not "
              f"importable by {python}; pass --python with an environment that has it)")
        return
    print(f"\nroute B -- one ORT session, WebNN partitions as onnxruntime-extensions Python custom ops ({python}):")
    print("| WebNN partitions | fused session us | fused - ORT alone us | per partition us |")
    print("|---|---|---|---|")
    for parts in (1, 4, 16):
        out = subprocess.run([python, __file__, "_ortx", "--parts", str(parts)], capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            print(f"| {parts} | failed: {out.stderr.strip().splitlines()[-1] if out.stderr else out.returncode} | | |")
            continue
        fused = json.loads(out.stdout.strip().splitlines()[-1])["us"]
        ort_us = base[parts][0]
        print(f"| {parts} | {fused:.1f} | {fused - ort_us:.1f} | {(fused - ort_us) / parts:.1f} |")


def ortx_child(args: argparse.Namespace) -> None:
    """Child process (custom-op registration is process-wide): the fused route for --parts partitions.

    Each WebNN partition (a Relu) becomes a custom-domain node whose Python kernel
    dispatches a compiled MLGraph; the Mod nodes stay in the same ORT session.
    """
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from onnxruntime_extensions import PyCustomOpDef, get_library_path, onnx_op

    import webnn

    shape = (1, 64)
    context = webnn.ml.create_context("cpu", cache=False)
    builder = webnn.MLGraphBuilder(context)
    graph = builder.build({"y": builder.relu(builder.input("x", {"dataType": "float32", "shape": list(shape)}))})

    @onnx_op(op_type="WebNNPartition_f32_f32", inputs=[PyCustomOpDef.dt_float], outputs=[PyCustomOpDef.dt_float],
             attrs={"partition": PyCustomOpDef.dt_string})
    def kernel(x: np.ndarray, **_: Any) -> np.ndarray:
        return context.compute(graph, {"x": x})["y"]

    nodes, cur = [], "x"
    for k in range(args.parts):
        nodes.append(helper.make_node("WebNNPartition_f32_f32", [cur], [f"r{k}"], domain="ai.onnx.contrib",
                                      partition=str(k)))
        nodes.append(helper.make_node("Mod", [f"r{k}", "m"], [f"m{k}"], fmod=1))
        cur = f"m{k}"
    nodes.append(helper.make_node("Relu", [cur], ["y"]))
    g = helper.make_graph(nodes, "fused", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(shape))],
                          initializer=[helper.make_tensor("m", TensorProto.FLOAT, [1], [7.0])])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.contrib", 1)])
    options = ort.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=[CPU])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    print(json.dumps({"us": _us(lambda: sess.run(None, {"x": x}))}))


def _us(fn: Any, runs: int = 3000, warmup: int = 300) -> float:
    for _ in range(warmup):
        fn()
    best = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(runs // 3):
            fn()
        best.append((time.perf_counter() - t) / (runs // 3))
    return min(best) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models")
    m.add_argument("--bert-layers", type=int, default=4)
    m.add_argument("--runs", type=int, default=20)
    m.add_argument("--threads", type=int, default=0, help="CPU threads for both (0: each library's default)")
    o = sub.add_parser("overhead")
    o.add_argument("--python", help="interpreter with onnxruntime_extensions for route B")
    f = sub.add_parser("_first")
    for name in ("--model", "--feeds", "--route", "--device", "--cache-dir", "--threads"):
        f.add_argument(name, required=True)
    x = sub.add_parser("_ortx")
    x.add_argument("--parts", type=int, required=True)
    args = parser.parse_args()
    {"models": models, "overhead": overhead, "_first": first_result_child, "_ortx": ortx_child}[args.command](args)


if __name__ == "__main__":
    main()
