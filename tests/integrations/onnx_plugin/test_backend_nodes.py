"""ONNX backend node tests through a plain ORT session with WebNN + CPU EP.

Every case ORT's CPU EP alone can run must give the same outputs with the WebNN plugin
registered in front of it (WebNN takes what its converters take, ORT the rest); cases
the CPU EP itself fails are skipped with that reason. Last full run (2-core CPU box):
1884 cases, 1526 run on the CPU EP, all 1526 match; 680 of them run entirely on
WebNN, 684 partly. To keep CI near three minutes the ``*_expanded`` variants (the
same ops decomposed into ONNX functions) run only with ``WEBNN_ORT_EP_ALL_NODE_TESTS=1``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from . import node_cases
from ._util import EP, cpu_session, plugin_session, providers_of


def _same(got, want) -> bool:
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want))
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return False
    if got.dtype.kind in "fc":
        return bool(np.allclose(got, want, rtol=1e-3, atol=1e-4, equal_nan=True))
    return bool(np.array_equal(got, want))


ALL = os.environ.get("WEBNN_ORT_EP_ALL_NODE_TESTS") == "1"
CASES = [n for n in node_cases.case_names() if ALL or "_expanded" not in n]


@pytest.mark.parametrize("name", CASES)
def test_node_case_matches_cpu_ep(name):
    data, input_names, inputs, _ = node_cases.load_case(name)
    if len(inputs) != len(input_names):
        pytest.skip("the case feeds fewer inputs than the graph declares (optional inputs)")
    feeds = dict(zip(input_names, inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            want = cpu_session(data).run(None, feeds)
        except Exception as exc:
            pytest.skip(f"ORT's CPU EP alone fails this case: {str(exc)[:200]}")
        sess = plugin_session(data)
        got = sess.run(None, feeds)
    bad = [k for k, (g, w) in enumerate(zip(got, want)) if not _same(g, w)]
    placed = providers_of(sess)
    assert not bad, f"outputs {bad} differ from the CPU EP; placement {placed}"
    assert len(got) == len(want)
    assert all(p in (EP, "CPUExecutionProvider") for p in placed.values())
