"""Fixtures for the graph cache tests: a fresh cache directory per test, contexts on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import webnn


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "webnn-cache"


@pytest.fixture
def make_context(cache_root: Path) -> Iterator[Callable[..., webnn.MLContext]]:
    """``make_context(**options)``: a CPU context on this test's cache directory."""
    made: list[webnn.MLContext] = []

    def make(**options: object) -> webnn.MLContext:
        options.setdefault("cache_dir", cache_root)
        ctx = webnn.ml.create_context("cpu", **options)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.destroy()
