"""Time to first result with the fleet-shared (Redis) graph cache: cold, remote-warm, local-warm.

The ResNet-50-sized WebNN graph of ``cache_ttfr.py`` (same builder, same weights), each
measurement in a fresh Python process:

* cold: no cache at all; build the graph from weights already in memory + first
  ``dispatch`` + ``read_tensor`` (exactly ``cache_ttfr.py``'s cold run);
* remote-warm: an empty local cache directory (a new machine) and a Redis that holds
  the entry: ``load_graph`` (local miss, Redis fetch, MAC and whole-value checksum,
  backend load, write to the local store with fsync) + first dispatch;
* local-warm: the local directory the remote-warm run just filled: ``load_graph`` from
  disk + first dispatch (this also shows that the fill is a complete local entry).

Python start-up, ``import webnn`` and ``create_context`` are reported separately, as in
``cache_ttfr.py``. A private ``redis-server`` is started on 127.0.0.1 in a temporary
directory (``--redis-url`` uses an existing one instead; its keys are flushed only in the
benchmark's own namespace). Medians of ``--runs`` runs (modes interleaved); outputs of
warm runs are checked bit-identical to the cold one; bytes moved are Redis payload bytes.

    python benchmarks/cache_remote_ttfr.py [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cache_ttfr import KEY, build_resnet50, first_result, make_weights  # noqa: E402

SECRET = "benchmark-shared-secret-0123456789"


def child(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    import webnn
    from webnn.cache import RemoteOptions

    remote = None if args.child == "cold" and not args.save else RemoteOptions(
        url=args.redis_url, secret=SECRET.encode(), write="sync", namespace=args.namespace)
    ctx = webnn.ml.create_context("cpu", cache_dir=args.cache_dir, origin="benchmark",
                                  cache=args.child != "cold" or args.save, cache_remote=remote)
    t_ready = time.perf_counter()
    image = np.random.default_rng(1).standard_normal((1, 3, args.size, args.size), dtype=np.float32)
    result: dict[str, object] = {"startup_s": t_ready - t_start}
    if args.child == "cold":
        weights = make_weights(args.width_scale)
        t0 = time.perf_counter()
        graph = build_resnet50(ctx, weights, args.size)
        t1 = time.perf_counter()
        out = first_result(ctx, graph, image)
        t2 = time.perf_counter()
        result.update(prepare_s=t1 - t0, first_dispatch_s=t2 - t1, total_s=t2 - t0,
                      params=int(sum(w.size for w in weights)))
        if args.save:
            t3 = time.perf_counter()
            ctx.save_graph(KEY, graph)
            result["save_s"] = time.perf_counter() - t3
            np.save(args.reference, out)
            result["entry_bytes"] = ctx.cache_info()[0]["size"]
            result["bytes_out"] = ctx.cache_stats()["remote"]["bytes_out"]
    else:
        t0 = time.perf_counter()
        graph = ctx.load_graph(KEY)
        t1 = time.perf_counter()
        out = first_result(ctx, graph, image)
        t2 = time.perf_counter()
        result.update(prepare_s=t1 - t0, first_dispatch_s=t2 - t1, total_s=t2 - t0)
        ref = np.load(args.reference)
        result["identical"] = bool(out.dtype == ref.dtype and out.tobytes() == ref.tobytes())
        stats = ctx.cache_stats()
        result.update(local_hits=stats["hits"], remote_hits=stats["remote"]["hits"],
                      bytes_in=stats["remote"]["bytes_in"],
                      remote_get_ms=sum(v["mean"] * v["calls"] for k, v in stats["remote"]["latency_ms"].items()
                                        if k == "get"))
    print("RESULT " + json.dumps(result))


def run_child(mode: str, args: argparse.Namespace, cache_dir: Path, reference: Path, save: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--cache-dir", str(cache_dir), "--reference", str(reference),
           "--redis-url", args.redis_url, "--namespace", args.namespace, "--size", str(args.size),
           "--width-scale", str(args.width_scale)] + (["--save"] if save else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{mode} run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (Debian: apt-get install redis-server), or pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
                             "--save", "", "--appendonly", "no", "--maxmemory", "2gb",
                             "--maxmemory-policy", "allkeys-lru"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    for _ in range(500):
        try:
            client.ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.exceptions.RedisError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per mode (median reported)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--width-scale", type=float, default=1.0, help="channel multiplier (1.0 = ResNet-50)")
    parser.add_argument("--quick", action="store_true", help="tiny network, one run: checks the script works")
    parser.add_argument("--redis-url", help="use this Redis instead of starting one (loopback or your own)")
    parser.add_argument("--child", choices=["cold", "remote", "local"], help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--reference", help=argparse.SUPPRESS)
    parser.add_argument("--namespace", default=f"webnn-bench-{secrets.token_hex(4)}", help=argparse.SUPPRESS)
    parser.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.runs, args.size, args.width_scale = 1, 32, 0.0625

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="webnn-remote-ttfr-") as tmp:
        work = Path(tmp)
        server = None
        if args.redis_url is None:
            (work / "redis").mkdir()
            server, args.redis_url = start_redis(work / "redis")
        try:
            reference = work / "reference.npy"
            prep = run_child("cold", args, work / "saver", reference, save=True)  # fills Redis
            cold, remote, local = [], [], []
            for i in range(args.runs):
                cold.append(run_child("cold", args, work / "unused", reference))
                fresh = work / f"machine-{i}"  # a new machine: empty local cache
                remote.append(run_child("remote", args, fresh, reference))
                local.append(run_child("local", args, fresh, reference))
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)

    def med(runs: list[dict], field: str) -> float:
        return statistics.median(float(r[field]) for r in runs)

    import torch

    import webnn

    print(f"ResNet-50-shaped WebNN graph: {prep['params'] / 1e6:.1f}M parameters, input 1x3x{args.size}x{args.size}, "
          f"cache entry {prep['entry_bytes'] / 2**20:.1f} MiB")
    print(f"webnn {webnn.__version__}, torch {torch.__version__}, cpu, {os.cpu_count()} CPUs, Redis on loopback, "
          f"{args.runs} fresh processes per mode (medians)")
    print(f"{'':12}{'prepare':>12}{'1st dispatch':>14}{'total':>10}   (startup+import+context, not counted)")
    for name, runs, what in (("cold", cold, "build"), ("remote-warm", remote, "load_graph: Redis -> local"),
                             ("local-warm", local, "load_graph: local")):
        print(f"{name:12}{med(runs, 'prepare_s') * 1e3:>9.1f} ms{med(runs, 'first_dispatch_s') * 1e3:>11.1f} ms"
              f"{med(runs, 'total_s') * 1e3:>7.1f} ms   ({med(runs, 'startup_s') * 1e3:.0f} ms)   prepare = {what}")
    for name, runs in (("cold", cold), ("remote-warm", remote), ("local-warm", local)):
        print(f"{name} runs, total ms: " + ", ".join(f"{float(r['total_s']) * 1e3:.0f}" for r in runs))
    print(f"Redis calls inside remote-warm load_graph (median): {med(remote, 'remote_get_ms'):.1f} ms; "
          f"bytes moved: {prep['bytes_out'] / 2**20:.1f} MiB up once (save, {float(prep['save_s']) * 1e3:.0f} ms "
          f"with the local save), {med(remote, 'bytes_in') / 2**20:.1f} MiB down per remote-warm load, "
          f"0 per local-warm load")
    ok = (all(r["identical"] for r in remote + local) and all(r["remote_hits"] == 1 for r in remote)
          and all(r["local_hits"] == 1 and r["bytes_in"] == 0 for r in local))
    print(f"1-minute load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    def best(runs: list[dict]) -> float:
        return min(float(r["total_s"]) for r in runs)

    print(f"remote-warm / cold: {med(remote, 'total_s') / med(cold, 'total_s'):.3f} of the medians, "
          f"{best(remote) / best(cold):.3f} of the fastest runs (bar: <= 0.35)   "
          f"local-warm / cold: {med(local, 'total_s') / med(cold, 'total_s'):.3f} of the medians, "
          f"{best(local) / best(cold):.3f} of the fastest")
    print(f"remote-warm - local-warm (what the remote tier adds): "
          f"{(med(remote, 'total_s') - med(local, 'total_s')) * 1e3:.0f} ms of the medians;   "
          f"warm outputs bit-identical to cold, hits where expected: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
