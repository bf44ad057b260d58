"""Core backend benchmark: WebNN graphs vs the same networks in torch eager.

Prints, in one run on one machine: median steady-state latency of a ResNet-style
CNN and a transformer encoder block (real shapes, random weights) through the
webnn torch backend (``MLContext.dispatch``) and written directly in torch eager,
their ratio, and the per-dispatch overhead of a one-op graph.

    python benchmarks/core_bench.py [--device cpu|gpu] [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_per_call, median_seconds  # noqa: E402

import webnn  # noqa: E402

RNG = np.random.default_rng(0)


def _w(*shape: int, scale: float = 0.1) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- ResNet-style CNN
def resnet_params(width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2)) -> dict:
    """Weights of a ResNet-18-style network (conv-bn-relu, basic blocks, fc)."""
    p: dict = {"stem": (_w(width, 3, 7, 7), _bn(width)), "stages": []}
    cin = width
    for i, n in enumerate(blocks):
        cout = width * 2**i
        stage = []
        for j in range(n):
            stride = 2 if (j == 0 and i > 0) else 1
            block = {"stride": stride, "c1": (_w(cout, cin, 3, 3), _bn(cout)),
                     "c2": (_w(cout, cout, 3, 3), _bn(cout))}
            if stride != 1 or cin != cout:
                block["down"] = (_w(cout, cin, 1, 1), _bn(cout))
            stage.append(block)
            cin = cout
        p["stages"].append(stage)
    p["fc"] = (_w(1000, cin), _w(1000))
    return p


def _bn(c: int) -> tuple[np.ndarray, ...]:
    return (_w(c), np.abs(_w(c)) + 0.5, 1 + _w(c), _w(c))  # mean, var, scale, bias


def resnet_webnn(ctx: webnn.MLContext, p: dict, batch: int, size: int) -> webnn.MLGraph:
    b = webnn.MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [batch, 3, size, size]})

    def cbr(x, params, stride, pad, relu=True):
        w, (m, v, s, bb) = params
        y = b.conv2d(x, b.constant(w), strides=[stride, stride], padding=[pad] * 4)
        y = b.batch_normalization(y, b.constant(m), b.constant(v), scale=b.constant(s),
                                  bias=b.constant(bb), epsilon=1e-5)
        return b.relu(y) if relu else y

    y = cbr(x, p["stem"], 2, 3)
    y = b.max_pool2d(y, window_dimensions=[3, 3], strides=[2, 2], padding=[1, 1, 1, 1])
    for stage in p["stages"]:
        for blk in stage:
            out = cbr(y, blk["c1"], blk["stride"], 1)
            out = cbr(out, blk["c2"], 1, 1, relu=False)
            short = cbr(y, blk["down"], blk["stride"], 0, relu=False) if "down" in blk else y
            y = b.relu(b.add(out, short))
    y = b.average_pool2d(y)
    y = b.reshape(y, [batch, y.shape[1]])
    w, bias = p["fc"]
    y = b.gemm(y, b.constant(w), c=b.constant(bias), b_transpose=True)
    return b.build({"logits": y})


def resnet_torch(p: dict, device: torch.device):
    t = {}

    def T(a):
        key = id(a)
        if key not in t:
            t[key] = torch.from_numpy(a).to(device)
        return t[key]

    def cbr(x, params, stride, pad, relu=True):
        w, (m, v, s, bb) = params
        y = F.conv2d(x, T(w), stride=stride, padding=pad)
        y = F.batch_norm(y, T(m), T(v), T(s), T(bb), training=False, eps=1e-5)
        return F.relu(y) if relu else y

    def forward(x):
        y = cbr(x, p["stem"], 2, 3)
        y = F.max_pool2d(y, 3, 2, 1)
        for stage in p["stages"]:
            for blk in stage:
                out = cbr(y, blk["c1"], blk["stride"], 1)
                out = cbr(out, blk["c2"], 1, 1, relu=False)
                short = cbr(y, blk["down"], blk["stride"], 0, relu=False) if "down" in blk else y
                y = F.relu(out + short)
        y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
        return F.linear(y, T(p["fc"][0]), T(p["fc"][1]))

    return forward


# ---------------------------------------------------------------- transformer block
def block_params(d: int, ff: int) -> dict:
    return {"wq": _w(d, d), "wk": _w(d, d), "wv": _w(d, d), "wo": _w(d, d),
            "bq": _w(d), "bk": _w(d), "bv": _w(d), "bo": _w(d),
            "ln1": (1 + _w(d), _w(d)), "ln2": (1 + _w(d), _w(d)),
            "w1": _w(d, ff), "b1": _w(ff), "w2": _w(ff, d), "b2": _w(d)}


def block_webnn(ctx, p, batch, seq, d, heads) -> webnn.MLGraph:
    b = webnn.MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [batch, seq, d]})
    hd = d // heads
    C = b.constant

    def proj(t, w, bias):
        return b.add(b.matmul(t, C(w)), C(bias))

    def split_heads(t):
        return b.transpose(b.reshape(t, [batch, seq, heads, hd]), permutation=[0, 2, 1, 3])

    q = split_heads(proj(x, p["wq"], p["bq"]))
    k = b.transpose(b.reshape(proj(x, p["wk"], p["bk"]), [batch, seq, heads, hd]), permutation=[0, 2, 3, 1])
    v = split_heads(proj(x, p["wv"], p["bv"]))
    scores = b.mul(b.matmul(q, k), C(np.float32(1 / np.sqrt(hd))))
    attn = b.matmul(b.softmax(scores, 3), v)
    attn = b.reshape(b.transpose(attn, permutation=[0, 2, 1, 3]), [batch, seq, d])
    h = b.layer_normalization(b.add(x, proj(attn, p["wo"], p["bo"])), scale=C(p["ln1"][0]),
                              bias=C(p["ln1"][1]), axes=[2], epsilon=1e-5)
    f = proj(b.gelu(proj(h, p["w1"], p["b1"])), p["w2"], p["b2"])
    y = b.layer_normalization(b.add(h, f), scale=C(p["ln2"][0]), bias=C(p["ln2"][1]), axes=[2], epsilon=1e-5)
    return b.build({"y": y})


def block_torch(p, batch, seq, d, heads, device):
    T = {k: (tuple(torch.from_numpy(a).to(device) for a in v) if isinstance(v, tuple)
             else torch.from_numpy(v).to(device)) for k, v in p.items()}
    hd = d // heads

    def forward(x):
        def sh(t):
            return t.reshape(batch, seq, heads, hd).transpose(1, 2)

        q = sh(x @ T["wq"] + T["bq"])
        k = sh(x @ T["wk"] + T["bk"])
        v = sh(x @ T["wv"] + T["bv"])
        attn = torch.softmax(q @ k.transpose(-1, -2) / hd**0.5, dim=-1) @ v
        attn = attn.transpose(1, 2).reshape(batch, seq, d)
        h = F.layer_norm(x + attn @ T["wo"] + T["bo"], (d,), *T["ln1"], eps=1e-5)
        f = F.gelu(h @ T["w1"] + T["b1"]) @ T["w2"] + T["b2"]
        return F.layer_norm(h + f, (d,), *T["ln2"], eps=1e-5)

    return forward


# ---------------------------------------------------------------- harness
def compare(ctx, name, graph, eager, feeds, repeats):
    device = torch.device(ctx.device)
    ins = {n: ctx.create_tensor(d, writable=True) for n, d in graph.inputs.items()}
    outs = {n: ctx.create_tensor(d, readable=True) for n, d in graph.outputs.items()}
    for n, t in ins.items():
        ctx.write_tensor(t, feeds[n])
    torch_in = [torch.from_numpy(feeds[n]).to(device) for n in sorted(feeds)]

    def run_webnn():
        ctx.dispatch(graph, ins, outs)
        ctx._sync()

    def run_eager():
        with torch.inference_mode():
            eager(*torch_in)
        if device.type == "cuda":
            torch.cuda.synchronize()

    run_webnn()
    got = ctx.read_tensor(next(iter(outs.values())))
    with torch.inference_mode():
        want = eager(*torch_in).cpu().numpy()
    err = float(np.max(np.abs(got - want)) / (np.max(np.abs(want)) + 1e-12))
    tw = median_seconds(run_webnn, repeats)
    te = median_seconds(run_eager, repeats)
    print(f"{name:<34} {tw * 1e3:>10.2f} {te * 1e3:>10.2f} {tw / te:>8.3f} {err:>10.1e}")
    return tw / te


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke test)")
    args = ap.parse_args(argv)
    ctx = webnn.ml.create_context(args.device, cache=False)
    device = torch.device(ctx.device)
    print(f"webnn {webnn.__version__}, torch {torch.__version__}, device {ctx.device}, "
          f"threads {torch.get_num_threads()}")
    print(f"{'graph':<34} {'webnn ms':>10} {'eager ms':>10} {'ratio':>8} {'rel.err':>10}")
    size, batch = (64, 1) if args.quick else (224, 1)
    p = resnet_params(16 if args.quick else 64)
    x = RNG.standard_normal((batch, 3, size, size)).astype(np.float32)
    compare(ctx, f"resnet18-style {batch}x3x{size}x{size}", resnet_webnn(ctx, p, batch, size),
            resnet_torch(p, device), {"x": x}, args.repeats)
    seq, d, heads, ff = (32, 64, 4, 256) if args.quick else (128, 768, 12, 3072)
    bp = block_params(d, ff)
    xb = RNG.standard_normal((1, seq, d)).astype(np.float32)
    compare(ctx, f"encoder block seq{seq} d{d} h{heads}", block_webnn(ctx, bp, 1, seq, d, heads),
            block_torch(bp, 1, seq, d, heads, device), {"x": xb}, args.repeats)
    # one-op graph: the per-dispatch overhead
    b = webnn.MLGraphBuilder(ctx)
    g = b.build({"y": b.relu(b.input("x", {"dataType": "float32", "shape": [1]}))})
    t_in = ctx.create_tensor(g.inputs["x"], writable=True)
    t_out = ctx.create_tensor(g.outputs["y"], readable=True)
    overhead = median_per_call(lambda: ctx.dispatch(g, {"x": t_in}, {"y": t_out}))
    one = torch.zeros(1, device=device)
    eager_one = median_per_call(lambda: torch.relu(one))
    print(f"one-op dispatch overhead: {overhead * 1e6:.1f} us per dispatch "
          f"(torch.relu on one element: {eager_one * 1e6:.1f} us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
