"""Shared fixtures: the WPT pass tally printed at the end of a run."""

from __future__ import annotations

import pytest

_TALLY: list[bool] = []


@pytest.fixture
def wpt_tally() -> list[bool]:
    return _TALLY


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if _TALLY:
        terminalreporter.write_line(
            f"WPT conformance (CPU): {sum(_TALLY)} of {len(_TALLY)} cases run passed")
