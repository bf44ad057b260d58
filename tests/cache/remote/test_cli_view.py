"""``webnn cache info`` shows the remote tier: its settings, its state, and the counters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import webnn
from tests.cache import graphs
from tests.cache.remote.conftest import SECRET
from webnn.cache import RemoteOptions

ROOT = Path(__file__).resolve().parents[3]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "webnn", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300, check=False)


def test_cache_info_shows_the_remote(redis_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBNN_")}
    env.update(WEBNN_CACHE_REMOTE=redis_server.url, WEBNN_CACHE_REMOTE_SECRET=SECRET.decode(),
               WEBNN_CACHE_DIR=str(tmp_path / "local"), PYTHONPATH=str(ROOT))
    ctx = webnn.ml.create_context("cpu", cache_dir=tmp_path / "local", cache_remote=RemoteOptions(
        url=redis_server.url, secret=SECRET, write="sync"))
    ctx.save_graph("k", graphs.build(ctx, 1))
    ctx.destroy()

    done = _cli("cache", "info", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    remote = doc["remote"]
    assert (remote["url"], remote["state"], remote["mode"], remote["listed"]) == \
        (redis_server.url, "up", "read-write", 1)
    assert doc["counters"]["remote_saves"] == 1 and doc["counters"]["reasons"]["remote_bytes"]["out"] > 4000

    text = _cli("cache", "info", env=env).stdout
    assert f"remote: {redis_server.url}" in text and ": up, 1 keys listed" in text

    redis_server.stop()
    down = _cli("cache", "info", env=env)
    assert down.returncode == 0 and "down (connection)" in down.stdout
    assert "is unavailable" in down.stderr  # the one warning
