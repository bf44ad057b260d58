"""The public-API check script passes when run as a separate program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("public_api_check.py")


def test_public_api_script(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "cache")], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("OK: 0 failed")
    assert "FAIL " not in done.stdout
