"""The ONNX backend node tests that come with the onnx package.

The installed onnx wheel ships the node-test generators (``onnx.backend.test.case.node``)
but not their data files, so the cases are generated once per process (about 15 s).
"""

from __future__ import annotations

import functools
import warnings


@functools.cache
def cases() -> dict[str, object]:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {c.name: c for c in collect_testcases()}


def case_names() -> list[str]:
    return sorted(cases())


def load_case(name: str) -> tuple[bytes, list[str], list, list]:
    """Model bytes, input names, input arrays and expected outputs of the first data set."""
    case = cases()[name]
    model = case.model
    init = {t.name for t in model.graph.initializer}
    names = [v.name for v in model.graph.input if v.name not in init]
    ins, outs = case.data_sets[0] if case.data_sets else ([], [])
    return model.SerializeToString(), names, list(ins), list(outs)
