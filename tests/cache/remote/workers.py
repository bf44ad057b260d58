"""Code the remote-tier tests run in fresh processes (multiprocessing, spawn context).

Each worker has its own local cache directory (its own machine, as far as the cache can
tell) and shares one Redis with the others; it returns a plain dict of what happened.
"""

from __future__ import annotations

import random
import traceback
from typing import Any

import webnn
from tests.cache import graphs
from tests.cache.workers import candidates
from webnn.cache import RemoteOptions


def fleet_member(url: str, secret: bytes, local_dir: str, worker: int, barrier: Any, queue: Any,
                 rounds: int) -> None:
    """Phase 1: all save one key at once. Phase 2: random saves, loads, lists, deletes."""
    out: dict[str, Any] = {"worker": worker, "ops": 0, "documented": {}, "unexpected": [], "wrong": [],
                           "remote_hits": 0}
    write = "async" if worker % 2 else "sync"
    opts = RemoteOptions(url=url, secret=secret, write=write, timeout_ms=10_000)
    try:
        race = webnn.ml.create_context("cpu", cache_dir=local_dir, origin="race", cache_remote=opts)
        graph = graphs.build(race, 100 + worker)
        barrier.wait(timeout=120)
        race.save_graph("same-key", graph)
        race.destroy()  # drains an asynchronous upload
        barrier.wait(timeout=120)
        ctx = webnn.ml.create_context("cpu", cache_dir=local_dir, origin="fleet", cache_remote=opts)
        rng = random.Random(worker)
        feed = graphs.inputs(worker)
        built: dict[int, webnn.MLGraph] = {}
        for _ in range(rounds):
            op = rng.choice(["save", "save", "load", "load", "load", "load", "list", "delete"])
            shared = rng.randrange(4)
            key, variant = (f"shared-{shared}", 10 * shared + worker) if rng.random() < 0.6 else \
                (f"own-{worker}-{rng.randrange(3)}", 1000 + worker)
            out["ops"] += 1
            try:
                if op == "save":
                    if variant not in built:
                        built[variant] = graphs.build(ctx, variant)
                    ctx.save_graph(key, built[variant])
                elif op == "load":
                    result = ctx.compute(ctx.load_graph(key), feed)
                    if graphs.which_variant(result, candidates(key), feed) is None:
                        out["wrong"].append(key)
                elif op == "list":
                    ctx.list_graphs()
                else:
                    ctx.delete_graph(key)
            except webnn.NotFoundError as exc:
                name = f"{op}:NotFoundError:{getattr(exc, 'reason', '')}"
                out["documented"][name] = out["documented"].get(name, 0) + 1
        remote = ctx.cache_stats()["remote"]
        out["remote_hits"] = remote["hits"]
        out["remote_errors"] = remote["errors"]
        out["remote_rejected"] = remote["reasons"].get("rejected", {})
        ctx.destroy()
    except Exception:
        out["unexpected"].append(traceback.format_exc())
    queue.put(out)


def save_and_exit(url: str, secret: bytes, local_dir: str) -> None:
    """Save with an asynchronous upload and return without destroy(): the exit hook drains it."""
    ctx = webnn.ml.create_context("cpu", cache_dir=local_dir,
                                  cache_remote=RemoteOptions(url=url, secret=secret, write="async"))
    ctx.save_graph("from-a-child", graphs.build(ctx, 4))
