"""A real ``redis-server`` for the remote-tier tests: loopback only, in a temporary directory.

The server listens on 127.0.0.1 at a free port, keeps its dump in its own directory
(so a restart brings the entries back, as a real restart would), and can be stopped,
restarted on the same port, frozen (SIGSTOP: a server that accepts connections and
never answers) and thawed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server")
         if os.access(p, os.X_OK)), None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process; ``url`` is ``redis://127.0.0.1:<port>/0``."""

    def __init__(self, binary: str, workdir: Path, password: str | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.binary, self.workdir, self.password, self.extra = binary, workdir, password, extra
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, keep_port: bool = False) -> None:
        """Start the server; ``keep_port``: on the port it had (a restart), else any free one."""
        for _attempt in range(1 if keep_port else 5):
            args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.workdir),
                    "--dbfilename", "dump.rdb", "--save", "3600 1", "--appendonly", "no", "--daemonize", "no",
                    "--loglevel", "warning", "--logfile", str(self.workdir / "redis.log"), *self.extra]
            if self.password:
                args += ["--requirepass", self.password]
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if self._wait_ready():
                return
            self.stop()
            self.port = _free_port()  # the port was taken meanwhile: another one
        raise RuntimeError(f"redis-server did not start; log: {self.log_tail()}")

    def _wait_ready(self, timeout: float = 15.0) -> bool:
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if self.client(timeout=0.5).ping():
                    return True
            except redis.exceptions.RedisError:
                time.sleep(0.02)
        return False

    def client(self, timeout: float = 5.0):  # noqa: ANN201  (a redis.Redis)
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=timeout,
                           socket_connect_timeout=timeout)

    def stop(self) -> None:
        """Stop the server (SIGTERM: it writes its dump first, as a managed shutdown does)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                with_cont = True
                try:
                    os.kill(self.proc.pid, signal.SIGCONT)
                except ProcessLookupError:
                    with_cont = False
                if with_cont:
                    self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=15)
            self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: connections are accepted by the kernel, nothing is answered."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self) -> str:
        try:
            return (self.workdir / "redis.log").read_text()[-2000:]
        except OSError:
            return "(no log)"
