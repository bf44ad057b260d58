"""Fusions the torch backend benefits from (filled in by the fusion rules)."""

from __future__ import annotations

from .infra import Pass


def fusion_passes() -> list[Pass]:
    return []
