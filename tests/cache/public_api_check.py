"""The graph cache's semantics checked from outside, with nothing but the public API.

Run: ``python tests/cache/public_api_check.py [CACHE_DIR]``. Prints one line per check
and exits 0 when every check holds, 1 otherwise. Uses ``import webnn`` and its public
names only (plus plain file operations in the cache directory to damage entries).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import webnn

FAILED: list[str] = []


def check(what: str, ok: bool) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        FAILED.append(what)


def raises(error: type[BaseException], fn: Callable[[], object]) -> BaseException | None:
    try:
        fn()
    except error as exc:
        return exc
    return None


def build(ctx: webnn.MLContext, k: float, n: int = 16) -> webnn.MLGraph:
    b = webnn.MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": [n]})
    w = b.constant(np.linspace(-1, 1, n, dtype=np.float32))
    return b.build({"y": b.max(b.add(b.mul(x, w), b.constant(np.float32(k))), b.constant(np.float32(0)))})


def expected(k: float, x: np.ndarray) -> np.ndarray:
    return np.maximum(x * np.linspace(-1, 1, x.size, dtype=np.float32) + np.float32(k), np.float32(0))


X = np.linspace(-3, 3, 16, dtype=np.float32)


def run(ctx: webnn.MLContext, graph: webnn.MLGraph) -> np.ndarray:
    return ctx.compute(graph, {"x": X})["y"]


def child(cache_dir: str, worker: int, queue: multiprocessing.Queue) -> None:
    errors = []
    ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir, origin="procs")
    for i in range(10):
        try:
            ctx.save_graph(f"shared-{i % 3}", build(ctx, float(worker)))
            g = ctx.load_graph(f"shared-{(i + 1) % 3}")
            if not any(np.array_equal(run(ctx, g), expected(float(w), X)) for w in range(4)):
                errors.append("wrong output")
        except webnn.NotFoundError:
            pass  # not saved yet by anyone: documented
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            errors.append(repr(exc))
    queue.put(errors)


def main(cache_dir: str) -> int:
    ml = webnn.ml
    ctx = ml.create_context("cpu", cache_dir=cache_dir, origin="https://app.example")
    check("cache_enabled by default", ctx.cache_enabled)
    check("cache_dir is the option", ctx.cache_dir == str(Path(cache_dir).absolute()))
    g1 = build(ctx, 1.0)
    ctx.save_graph("model", g1)
    check("list_graphs after save", ctx.list_graphs() == ["model"])
    loaded = ctx.load_graph("model")
    check("loaded graph has the descriptors", loaded.inputs == g1.inputs and loaded.outputs == g1.outputs)
    check("loaded graph output equals fresh, bit for bit", run(ctx, loaded).tobytes() == run(ctx, g1).tobytes())
    check("loaded graph output is right", np.allclose(run(ctx, loaded), expected(1.0, X)))

    ctx.save_graph("model", build(ctx, 2.0))
    check("save replaces", ctx.list_graphs() == ["model"]
          and np.allclose(run(ctx, ctx.load_graph("model")), expected(2.0, X)))

    for bad in ("", None, 5):
        check(f"key {bad!r} is a TypeError", raises(TypeError, lambda bad=bad: ctx.load_graph(bad)) is not None)
    err = raises(webnn.NotFoundError, lambda: ctx.load_graph("missing"))
    check("missing key is NotFoundError naming key and origin",
          err is not None and "'missing'" in str(err) and "https://app.example" in str(err))

    held = ctx.load_graph("model")
    ctx.delete_graph("model")
    ctx.delete_graph("model")
    check("delete is idempotent", ctx.list_graphs() == [])
    check("a loaded graph survives deletion", np.allclose(run(ctx, held), expected(2.0, X)))
    check("deleted key is NotFoundError", raises(webnn.NotFoundError, lambda: ctx.load_graph("model")) is not None)

    other = ml.create_context("cpu", cache_dir=cache_dir, origin="https://other.example")
    ctx.save_graph("a", build(ctx, 3.0))
    other.save_graph("a", build(other, 4.0))
    check("origins are partitions", np.allclose(run(other, other.load_graph("a")), expected(4.0, X))
          and np.allclose(run(ctx, ctx.load_graph("a")), expected(3.0, X)))
    ctx.delete_saved_graphs()
    ctx.delete_saved_graphs()
    check("delete_saved_graphs clears one origin only", ctx.list_graphs() == [] and other.list_graphs() == ["a"])

    off = ml.create_context("cpu", cache=False)
    err = raises(webnn.NotSupportedError, off.list_graphs)
    check("cache=False: NotSupportedError naming the option", not off.cache_enabled and err is not None
          and "cache=False" in str(err))

    tiny = ml.create_context("cpu", cache_dir=cache_dir, origin="tiny", cache_quota=1000)
    g_big = build(tiny, 1.0, n=4096)
    err = raises(webnn.QuotaExceededError, lambda: tiny.save_graph("big", g_big))
    check("over quota: QuotaExceededError, nothing saved, inference fine",
          err is not None and tiny.list_graphs() == []
          and tiny.compute(g_big, {"x": np.ones(4096, np.float32)})["y"].shape == (4096,))

    ctx.save_graph("victim", build(ctx, 5.0))
    for blob in (Path(cache_dir) / "v1" / "blobs").iterdir():
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x10
        blob.write_bytes(bytes(data))
    fresh = ml.create_context("cpu", cache_dir=cache_dir, origin="https://app.example")
    err = raises(webnn.NotFoundError, lambda: fresh.load_graph("victim"))
    check("a damaged entry is NotFoundError and removed", err is not None and fresh.list_graphs() == [])
    stats = fresh.cache_stats()
    check("counters say why", stats["corrupt_removed"] == 1 and stats["reasons"]["corrupt_removed"] == {"checksum": 1})

    other.save_graph("b", build(other, 1.0))
    other.load_graph("b")
    info = other.cache_info()
    check("cache_info lists key, size, device, last use", [e["key"] for e in info] == ["b", "a"]
          and all(e["size"] > 0 and e["device"] == "cpu" and e["last_used"] > 0 for e in info))

    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    procs = [spawn.Process(target=child, args=(cache_dir, w, queue)) for w in range(4)]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in queue.get(timeout=600)]
    for p in procs:
        p.join()
    procs_ctx = ml.create_context("cpu", cache_dir=cache_dir, origin="procs")
    loadable = all(any(np.array_equal(run(procs_ctx, procs_ctx.load_graph(k)), expected(float(w), X))
                       for w in range(4)) for k in procs_ctx.list_graphs())
    check("4 processes: no errors but documented ones; every listed key loads right",
          errors == [] and procs_ctx.list_graphs() == ["shared-0", "shared-1", "shared-2"] and loadable)

    mode = os.stat(Path(cache_dir) / "v1").st_mode & 0o777
    check("cache directory is 0700", mode == 0o700)
    print(f"{'FAILED' if FAILED else 'OK'}: {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        raise SystemExit(main(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        raise SystemExit(main(os.path.join(tmp, "cache")))
