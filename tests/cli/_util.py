"""Helpers of the command-line tests: the CLI as a subprocess, the ONNX test model's
numpy reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Subprocesses that import torch or TensorFlow take seconds; this is only a hang guard.
TIMEOUT = 300


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(*args: str, cache_dir: Path | str | None = None, cwd: Path | None = None) -> Result:
    """``python -m webnn ARGS`` with a private cache directory; returns rc, stdout, stderr."""
    env = dict(os.environ)
    env.pop("WEBNN_ORIGIN", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["COLUMNS"] = "200"
    if cache_dir is not None:
        env["WEBNN_CACHE_DIR"] = str(cache_dir)
    proc = subprocess.run([sys.executable, "-m", "webnn", *args], capture_output=True, text=True, env=env,
                          timeout=TIMEOUT, cwd=cwd)
    return Result(proc.returncode, proc.stdout, proc.stderr)


#: Weights of the ONNX test model (x[N,6] @ W[6,5]).
W = np.linspace(-1.0, 1.2, 30, dtype=np.float32).reshape(6, 5)


def onnx_reference(x: np.ndarray) -> dict[str, np.ndarray]:
    """The ONNX test model in numpy, written from the ONNX operator definitions."""
    h = np.maximum(x @ W, 0)
    return {"y": np.tanh(np.fmod(h, np.float32(0.75))), "z": 1 / (1 + np.exp(-(x @ W)))}


