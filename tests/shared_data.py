"""Where the project's shared material (``../shared``) lies, for tests that read it."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``$WEBNN_SHARED_DIR`` or ``../shared`` beside the checkout; None where absent."""
    env = os.environ.get("WEBNN_SHARED_DIR")
    for candidate in ([Path(env)] if env else []) + [REPO.parent / "shared", REPO / "shared"]:
        if candidate.is_dir():
            return candidate
    return None


def wpt_dir() -> Path | None:
    base = shared_dir()
    if base is None or not (base / "conformance" / "wpt").is_dir():
        return None
    return base / "conformance" / "wpt"
