"""Code the cache tests run in fresh processes (multiprocessing, spawn context).

Each function returns or queues a plain dict of what happened, so the test in the
parent process makes the assertions.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import traceback
from typing import Any

import numpy as np

import webnn
from tests.cache import graphs

#: Documented outcomes a cache call may have under contention.
DOCUMENTED = (webnn.NotFoundError, webnn.QuotaExceededError)


def race_and_hammer(cache_dir: str, worker: int, barrier: Any, queue: Any, rounds: int, quota: int) -> None:
    """Phase 1: every worker saves the same key at once. Phase 2: random operations."""
    out: dict[str, Any] = {"worker": worker, "ops": 0, "documented": {}, "unexpected": [], "wrong": []}
    try:
        race = webnn.ml.create_context("cpu", cache_dir=cache_dir, origin="race")
        graph = graphs.build(race, 100 + worker)
        barrier.wait(timeout=120)
        race.save_graph("same-key", graph)
        barrier.wait(timeout=120)
        ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir, origin="hammer", cache_quota=quota)
        rng = random.Random(worker)
        feed = graphs.inputs(worker)
        built: dict[int, webnn.MLGraph] = {}
        for _ in range(rounds):
            op = rng.choice(["save", "save", "load", "load", "load", "list", "delete", "info"])
            shared = rng.randrange(4)
            key, variant = (f"shared-{shared}", 10 * shared + worker) if rng.random() < 0.5 else \
                (f"own-{worker}-{rng.randrange(3)}", 1000 + worker)
            out["ops"] += 1
            try:
                if op == "save":
                    if variant not in built:
                        built[variant] = graphs.build(ctx, variant)
                    ctx.save_graph(key, built[variant])
                elif op == "load":
                    loaded = ctx.load_graph(key)
                    result = ctx.compute(loaded, feed)
                    if graphs.which_variant(result, candidates(key), feed) is None:
                        out["wrong"].append(key)
                elif op == "list":
                    ctx.list_graphs()
                elif op == "info":
                    ctx.cache_info()
                else:
                    ctx.delete_graph(key)
            except DOCUMENTED as exc:
                name = f"{op}:{type(exc).__name__}:{getattr(exc, 'reason', '')}"
                out["documented"][name] = out["documented"].get(name, 0) + 1
    except Exception:
        out["unexpected"].append(traceback.format_exc())
    queue.put(out)


def candidates(key: str) -> list[int]:
    """Every variant any worker may have saved under ``key``."""
    if key.startswith("shared-"):
        j = int(key.split("-")[1])
        return [10 * j + w for w in range(16)]
    if key.startswith("own-"):
        return [1000 + int(key.split("-")[1])]
    if key == "same-key":
        return [100 + w for w in range(16)]
    raise ValueError(key)


def disk_full(cache_dir: str, queue: Any) -> None:
    """Save under a file-size limit (the kernel answers EFBIG): a clear error, inference unharmed."""
    out: dict[str, Any] = {}
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir)
        ctx.save_graph("small", graphs.build(ctx, 1))
        b = webnn.MLGraphBuilder(ctx)
        x = b.input("x", {"dataType": "float32", "shape": [512, 1024]})
        weights = np.random.default_rng(0).standard_normal((512, 1024)).astype(np.float32)  # 2 MiB
        big = b.build({"y": b.add(x, b.constant(weights))})
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))
        try:
            ctx.save_graph("big", big)
            out["save"] = "saved"
        except webnn.QuotaExceededError as exc:
            out["save"] = f"QuotaExceededError:{exc.reason}:{exc}"
        feed = np.ones((512, 1024), np.float32)
        out["inference_ok"] = bool(np.array_equal(ctx.compute(big, {"x": feed})["y"], feed + weights))
        out["listed"] = ctx.list_graphs()
        small_feed = graphs.inputs(0)
        out["small_ok"] = graphs.matches(ctx.compute(ctx.load_graph("small"), small_feed), 1, small_feed)
        out["tmp_left"] = os.listdir(os.path.join(cache_dir, "v1", "tmp"))
    except Exception:
        out["unexpected"] = traceback.format_exc()
    queue.put(out)


def read_only(cache_dir: str, scratch: str, drop_to_uid: int | None, queue: Any) -> None:
    """Use a cache directory this process cannot write: loads work, saves refuse clearly."""
    out: dict[str, Any] = {}
    try:
        warm = webnn.ml.create_context("cpu", cache_dir=scratch)  # import everything lazy first
        warm.save_graph("w", graphs.build(warm, 0))
        warm.load_graph("w")
        warm.cache_stats()
        warm.destroy()
        if drop_to_uid is not None:
            os.setgid(drop_to_uid)
            os.setuid(drop_to_uid)
        ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir)
        feed = graphs.inputs(0)
        out["listed"] = ctx.list_graphs()
        out["load_ok"] = graphs.matches(ctx.compute(ctx.load_graph("k"), feed), 1, feed)
        g = graphs.build(ctx, 2)
        try:
            ctx.save_graph("new", g)
            out["save"] = "saved"
        except webnn.QuotaExceededError as exc:
            out["save"] = f"QuotaExceededError:{exc.reason}:{exc}"
        out["inference_ok"] = graphs.matches(ctx.compute(g, feed), 2, feed)
        try:
            ctx.delete_graph("k")
            out["delete"] = "deleted"
        except webnn.NotSupportedError as exc:
            out["delete"] = f"NotSupportedError:{exc}"
        out["listed_after"] = ctx.list_graphs()
    except Exception:
        out["unexpected"] = traceback.format_exc()
    queue.put(out)


def save_one(cache_dir: str, key: str, variant: int, queue: Any) -> None:
    ctx = webnn.ml.create_context("cpu", cache_dir=cache_dir)
    ctx.save_graph(key, graphs.build(ctx, variant))
    queue.put({"saved": True})
