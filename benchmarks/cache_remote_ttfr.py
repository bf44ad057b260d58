"""Time to first result with the fleet-shared (Redis) graph cache: cold, remote-warm, local-warm.

The ResNet-50-sized WebNN graph of ``cache_ttfr.py`` (same builder, same weights), each
measurement in a fresh Python process:

* cold: no cache at all; build the graph from weights already in memory + first
  ``dispatch`` + ``read_tensor`` (exactly ``cache_ttfr.py``'s cold run);
* remote-warm: an empty local cache directory (a new machine) and a Redis that holds
  the entry: ``load_graph`` (local miss, Redis fetch, MAC and whole-value checksum,
  backend load) + first dispatch. The local copy (temp file, fsync, rename, index row)
  is written in the background and is not inside the clock; the time from the first
  result until it is complete (``destroy()`` waits for it) is reported next to it;
* local-warm: the local directory the remote-warm run just filled: ``load_graph`` from
  disk + first dispatch (this also shows that the fill is a complete local entry).

Conditions: Python start-up, ``import webnn`` and ``create_context`` are reported
separately, and each timed region starts right after a ``gc.collect()``, as in
``cache_ttfr.py``. Children run without ``PYTHONDONTWRITEBYTECODE``
(users import from ``.pyc`` files) after one unmeasured warm-up child. Local-warm assumes
a warm page cache, as right after a fill: the parent reads the blob file just before each
local-warm child (the VM's memory reclaim may have dropped it meanwhile). Redis holds
its values in memory. A private ``redis-server`` is started on 127.0.0.1 in a temporary
directory (``--redis-url`` uses an existing one instead; the benchmark writes only in a
namespace of its own). Each round starts when other work leaves the CPUs
nearly idle (``--quiet-below``, for shared machines) and runs the three modes back to back,
in a rotating order;
the ratios are taken per round (cold and warm runs of one round share the machine's load
at that time) and their median and range are printed, with the ratios of the per-mode
medians and of the fastest runs. Outputs of warm runs are checked bit-identical to the
cold one; bytes moved are Redis payload bytes.

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
from _timing import child_env  # noqa: E402
from cache_ttfr import KEY, build_resnet50, make_weights, same_bits, timed_first_result  # noqa: E402

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
        graph, out, times = timed_first_result(ctx, lambda: build_resnet50(ctx, weights, args.size), image)
        result.update(times, params=int(sum(w.size for w in weights)))
        if args.save:
            t3 = time.perf_counter()
            ctx.save_graph(KEY, graph)
            result["save_s"] = time.perf_counter() - t3
            np.save(args.reference, out)
            result["entry_bytes"] = ctx.cache_info()[0]["size"]
            result["bytes_out"] = ctx.cache_stats()["remote"]["bytes_out"]
    else:
        _graph, out, times = timed_first_result(ctx, lambda: ctx.load_graph(KEY), image)
        first_done = time.perf_counter()
        result.update(times)
        stats = ctx.cache_stats()  # (waits for a pending local copy of a remote hit)
        result["local_copy_after_s"] = time.perf_counter() - first_done
        result["identical"] = same_bits(out, args.reference)
        result.update(local_hits=stats["hits"], remote_hits=stats["remote"]["hits"],
                      bytes_in=stats["remote"]["bytes_in"], local_fills=stats["reasons"].get("saves", {}).get(
                          "remote-fill", 0),
                      remote_get_ms=sum(v["mean"] * v["calls"] for k, v in stats["remote"]["latency_ms"].items()
                                        if k == "get"))
    print("RESULT " + json.dumps(result))


def run_child(mode: str, args: argparse.Namespace, cache_dir: Path, reference: Path, save: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--cache-dir", str(cache_dir), "--reference", str(reference),
           "--redis-url", args.redis_url, "--namespace", args.namespace, "--size", str(args.size),
           "--width-scale", str(args.width_scale)] + (["--save"] if save else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=child_env())
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{mode} run failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def cpu_busy(window: float = 0.5) -> float | None:
    """The fraction of all CPUs busy over ``window`` seconds (Linux ``/proc/stat``; None elsewhere)."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(window)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def wait_for_quiet(limit: float, patience: float) -> float:
    """Wait (at most ``patience`` s) until other work uses under ``limit`` of the CPUs; the
    busy fraction last seen. On a shared machine a round then starts in a quiet moment."""
    deadline = time.monotonic() + patience
    while True:
        busy = cpu_busy()
        if busy is None or busy < limit or time.monotonic() > deadline:
            return busy or 0.0


def warm_page_cache(cache_dir: Path) -> None:
    """Read the blob files of ``cache_dir`` (local-warm's stated condition: a warm page cache)."""
    scratch = bytearray(16 << 20)
    for blob in (cache_dir / "v1" / "blobs").glob("*.wnnb"):
        with open(blob, "rb", buffering=0) as f:
            while f.readinto(scratch):
                pass


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
    parser.add_argument("--quiet-below", type=float, default=0.25,
                        help="start each round when other work uses less than this fraction of the CPUs "
                             "(1 = do not wait)")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait at most this long per round (s)")
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
        args.runs, args.size, args.width_scale, args.quiet_below = 1, 32, 0.0625, 1.0

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
            run_child("remote", args, work / "warm-up", reference)  # unmeasured: .pyc files, page cache
            cold, remote, local = [], [], []
            busy = []
            for i in range(args.runs):
                busy.append(wait_for_quiet(args.quiet_below, args.quiet_wait) if args.quiet_below < 1 else 0.0)
                fresh = work / f"machine-{i}"  # a new machine: empty local cache
                # (local-warm needs the fill of this round's remote-warm: it rotates among the other two)
                order = [("cold", "remote", "local"), ("remote", "cold", "local"), ("remote", "local", "cold")][i % 3]
                for mode in order:
                    if mode == "cold":
                        cold.append(run_child("cold", args, work / "unused", reference))
                    elif mode == "remote":
                        remote.append(run_child("remote", args, fresh, reference))
                    else:
                        warm_page_cache(fresh)
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
          f"local copy complete {med(remote, 'local_copy_after_s') * 1e3:.0f} ms after the first result (median, "
          f"background); bytes moved: {prep['bytes_out'] / 2**20:.1f} MiB up once (save, "
          f"{float(prep['save_s']) * 1e3:.0f} ms with the local save), {med(remote, 'bytes_in') / 2**20:.1f} MiB "
          f"down per remote-warm load, 0 per local-warm load")
    ok = (all(r["identical"] for r in remote + local)
          and all(r["remote_hits"] == 1 and r["local_fills"] == 1 for r in remote)
          and all(r["local_hits"] == 1 and r["bytes_in"] == 0 for r in local))
    print(f"1-minute load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; CPU busy before "
          f"each round (other work): " + ", ".join(f"{b:.0%}" for b in busy))

    def total(r: dict) -> float:
        return float(r["total_s"])

    for name, runs, bar in (("remote-warm", remote, "   (bar: <= 0.35)"), ("local-warm", local, "")):
        per_round = sorted(total(w) / total(c) for w, c in zip(runs, cold))
        print(f"{name} / cold: per round median {statistics.median(per_round):.3f} "
              f"(range {per_round[0]:.3f}-{per_round[-1]:.3f}); of the medians "
              f"{med(runs, 'total_s') / med(cold, 'total_s'):.3f}; of the fastest runs "
              f"{min(map(total, runs)) / min(map(total, cold)):.3f}{bar}")
    print(f"remote-warm - local-warm (what the remote tier adds): "
          f"{(med(remote, 'total_s') - med(local, 'total_s')) * 1e3:.0f} ms of the medians;   "
          f"warm outputs bit-identical to cold, hits and local copies where expected: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
