"""benchmarks/cache_ttfr.py runs end to end (tiny network; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "cache_ttfr.py"


def test_cache_ttfr_quick_runs_and_outputs_match():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warm / cold time to first result:" in done.stdout
    assert "warm outputs bit-identical to cold: yes" in done.stdout
