"""Every WPT WebNN conformance case in ``shared/conformance/wpt`` against the CPU backend.

Skipped cleanly where the shared data is absent. Known failures live in
``expected_failures.py`` with their reasons (strict xfail).
"""

from __future__ import annotations

import pytest

import webnn
from tests.shared_data import wpt_dir

from .expected_failures import EXPECTED_FAILURES
from .wpt import build_and_run, compare, load_file

WPT = wpt_dir()


def _cases() -> list:
    if WPT is None:
        return [pytest.param(None, None, marks=pytest.mark.skip(reason="shared/conformance/wpt not found"))]
    params = []
    for path in sorted(WPT.glob("*.json")):
        if path.stem in ("index", "tolerances"):
            continue
        for i, case in enumerate(load_file(path)["cases"]):
            marks = []
            reason = EXPECTED_FAILURES.get((path.stem, case["name"]))
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            params.append(pytest.param(path, i, id=f"{path.stem}::{case['name']}", marks=marks))
    return params


@pytest.fixture(scope="module")
def cpu_context() -> webnn.MLContext:
    return webnn.ml.create_context("cpu", cache=False)


@pytest.mark.parametrize(("path", "index"), _cases())
def test_wpt_case(cpu_context, path, index, wpt_tally):
    case = load_file(path)["cases"][index]
    wpt_tally.append(False)
    outputs = build_and_run(cpu_context, case)
    problems = []
    for name, expected in case["graph"]["expectedOutputs"].items():
        problem = compare(outputs[name], expected, case["tolerance"])
        if problem:
            problems.append(f"{name}: {problem}")
    wpt_tally[-1] = not problems
    assert not problems, "; ".join(problems)
