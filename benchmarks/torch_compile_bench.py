"""torch.compile(backend="webnn") against eager and inductor: latency and time to first result.

Models (random weights, built here from tests/integrations/torch/models.py):

* ``resnet18``: ResNet-18-style (64/128/256/512 widths, 2 basic blocks per stage), 1x3x224x224;
* ``bert``: a BERT-base-sized encoder (12 layers, hidden 768, 12 heads, FFN 3072,
  vocab 30522), batch 1, sequence 128;
* ``torch_encoder``: the same size built from torch's ``nn.TransformerEncoder`` (GELU,
  batch-first), whose eval-mode fast path is one fused op per layer in eager.

Measured, on each device asked for (CPU, and CUDA when present):

* steady-state latency (median of ``--iters`` interleaved runs after warm-up) of eager,
  webnn and inductor, all in this process, and the ratios to eager; also the process CPU
  time per run, which is the steadier figure on a machine shared with other work;
* time to first result in a *new process* (``torch.compile`` call to first output), cold
  (empty caches) and warm (caches populated by a previous process) for webnn and for
  inductor (its FX graph and AOT autograd caches), the fastest of ``--repeats`` fresh
  pairs, and webnn's own share of it: the time from dynamo handing over the graph to
  the compiled callable (``GraphReport.compile_seconds``).

Nothing here asserts a time; it prints a table and ratios. Example::

    python benchmarks/torch_compile_bench.py --models resnet18,bert --iters 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import child_env

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "tests" / "integrations" / "torch"


def build(name: str, device: str):
    """(model, example inputs) for ``name`` on ``device``, seeded."""
    import torch

    sys.path.insert(0, str(MODELS_DIR))
    import models  # noqa: PLC0415

    torch.manual_seed(0)
    if name == "resnet18":
        m = models.ResNet(widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2), classes=1000)
        args = (torch.randn(1, 3, 224, 224),)
    elif name == "bert":
        m = models.Encoder(vocab=30522, d=768, heads=12, ff=3072, layers=12, max_len=512)
        args = (torch.randint(0, 30522, (1, 128)),)
    elif name == "torch_encoder":  # torch's own nn.TransformerEncoder: its fused fast path in eval
        layer = torch.nn.TransformerEncoderLayer(768, 12, 3072, activation="gelu", batch_first=True)
        m = torch.nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
        args = (torch.randn(1, 128, 768),)
    elif name == "tiny":  # per-dispatch overhead: almost no compute
        m = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU())
        args = (torch.randn(1, 8),)
    else:
        raise SystemExit(f"unknown model {name!r}; use resnet18, bert, torch_encoder or tiny")
    return m.eval().to(device), tuple(a.to(device) for a in args)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def steady_state(name: str, device: str, backends: list[str], iters: int, warmup: int) -> dict[str, float]:
    """Median latency in seconds per backend, in this process. Runs are interleaved
    (one call of each backend per round) so that load changes hit every backend alike."""
    import torch

    model, args = build(name, device)
    fns = {}
    with torch.no_grad():
        for backend in backends:
            if backend == "eager":
                fns[backend] = model
            elif backend == "webnn":
                fns[backend] = torch.compile(model, backend="webnn", options={"cache": False})
            else:
                fns[backend] = torch.compile(model, backend=backend)
            for _ in range(warmup):
                fns[backend](*args)
        times: dict[str, list[float]] = {b: [] for b in backends}
        cpu: dict[str, list[float]] = {b: [] for b in backends}
        for _ in range(iters):
            for backend, fn in fns.items():
                _sync(device)
                t, c = time.perf_counter(), time.process_time()
                fn(*args)
                _sync(device)
                times[backend].append(time.perf_counter() - t)
                cpu[backend].append(time.process_time() - c)
    out = {b: statistics.median(v) for b, v in times.items()}
    out.update({f"{b} (cpu time)": statistics.median(v) for b, v in cpu.items()})
    return out


_CHILD = """
import json, sys, time
sys.path.insert(0, {bench_dir!r})
import torch
import torch_compile_bench as b
name, device, backend = sys.argv[1:4]
model, args = b.build(name, device)
with torch.no_grad():
    t = time.perf_counter()
    fn = torch.compile(model, backend=backend) if backend != "webnn" else torch.compile(model, backend="webnn")
    fn(*args)
    b._sync(device)
    first = time.perf_counter() - t
share = None
if backend == "webnn":
    import webnn.integrations.torch as wt
    share = sum(r.compile_seconds for r in wt.reports())
    stats = wt.cache_stats()
else:
    stats = None
print(json.dumps({{"first": first, "share": share, "stats": stats}}))
"""


def first_result(name: str, device: str, backend: str, cache_dir: str) -> dict:
    """Time to first result of ``backend`` in a new process using ``cache_dir`` for its caches."""
    env = child_env()
    env["WEBNN_CACHE_DIR"] = os.path.join(cache_dir, "webnn-graphs")
    env["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache_dir, "inductor-cache")
    env["TRITON_CACHE_DIR"] = os.path.join(cache_dir, "triton-cache")
    code = _CHILD.format(bench_dir=str(Path(__file__).resolve().parent))
    res = subprocess.run([sys.executable, "-c", code, name, device, backend], capture_output=True, text=True,
                         env=env, timeout=3600, cwd=str(REPO))
    if res.returncode != 0:
        raise RuntimeError(f"{backend} child failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="resnet18,bert")
    parser.add_argument("--devices", default="auto", help="cpu, cuda or auto (cpu, plus cuda when present)")
    parser.add_argument("--backends", default="eager,webnn,inductor")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-first-result", action="store_true", help="skip the cold/warm new-process runs")
    parser.add_argument("--repeats", type=int, default=3,
                        help="cold/warm process pairs per backend; the fastest of each is reported")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.devices == "auto" \
        else args.devices.split(",")
    backends = args.backends.split(",")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, devices {devices}")
    results: dict = {}
    for device in devices:
        for name in args.models.split(","):
            lat = steady_state(name, device, backends, args.iters, args.warmup)
            row = {"latency_ms": {k: v * 1e3 for k, v in lat.items()}}
            print(f"\n== {name} on {device}: steady-state latency (median of {args.iters})")
            for k, v in lat.items():
                ref = "eager (cpu time)" if k.endswith("(cpu time)") else "eager"
                ratio = f"  x{v / lat[ref]:.3f} eager" if ref in lat else ""
                print(f"  {k:20s} {v * 1e3:9.2f} ms{ratio}")
            if not args.no_first_result:
                ttf: dict = {}
                for backend in (b for b in backends if b != "eager"):
                    colds, warms = [], []
                    for _ in range(args.repeats):  # each repeat: a fresh cache, one cold then one warm process
                        with tempfile.TemporaryDirectory(prefix="webnn-bench-") as d:
                            colds.append(first_result(name, device, backend, d))
                            warms.append(first_result(name, device, backend, d))
                    cold = min(colds, key=lambda r: r["first"])
                    warm = min(warms, key=lambda r: r["first"])
                    ttf[backend] = {"cold_s": cold["first"], "warm_s": warm["first"], "cold_share_s": cold["share"],
                                    "warm_share_s": warm["share"], "warm_stats": warm["stats"],
                                    "all_cold_s": [r["first"] for r in colds],
                                    "all_warm_s": [r["first"] for r in warms]}
                row["first_result"] = ttf
                print(f"== {name} on {device}: time to first result, new process (best of {args.repeats})")
                for k, v in ttf.items():
                    share = "" if v["cold_share_s"] is None else \
                        f"  (backend share {v['cold_share_s']:.2f} s -> {v['warm_share_s']:.3f} s, " \
                        f"x{v['warm_share_s'] / v['cold_share_s']:.3f})"
                    print(f"  {k:9s} cold {v['cold_s']:7.2f} s   warm {v['warm_s']:7.2f} s{share}")
                if "webnn" in ttf and "inductor" in ttf:
                    w, i = ttf["webnn"], ttf["inductor"]
                    print(f"  webnn/inductor: cold x{w['cold_s'] / i['cold_s']:.3f}, "
                          f"warm x{w['warm_s'] / i['warm_s']:.3f}")
            results[f"{name}@{device}"] = row
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
