"""op_support_limits(): spec-shaped, and derived from what the backend lowers."""

from __future__ import annotations

import pytest

import webnn
from webnn.ops._spec_table import SPEC_OPS


@pytest.fixture(scope="module")
def limits():
    return webnn.ml.create_context("cpu", cache=False).op_support_limits()


def test_top_level_members(limits):
    assert limits["preferred_input_layout"] == "nchw"
    assert limits["max_tensor_byte_length"] == 2**31 - 1
    for key in ("input", "constant", "output"):
        assert set(limits[key]) == {"data_types", "rank_range"}


def test_binary_and_comparison_entries(limits):
    assert set(limits["add"]) == {"a", "b", "output"}
    assert limits["equal"]["output"]["data_types"] == ["uint8"]
    assert limits["exp"]["input"]["data_types"] == ["float32", "float16"]


def test_entries_only_for_lowered_ops(limits):
    from webnn.backends.torch.registry import LOWERINGS

    lowered = {op for op, _ in LOWERINGS}
    ops = {k for k in limits if k in SPEC_OPS}
    assert ops == lowered & set(SPEC_OPS)


def test_required_types_are_supported(limits):
    """Every spec op the backend lowers supports the spec's required data types."""
    import csv
    from pathlib import Path

    from tests.shared_data import shared_dir

    base = shared_dir()
    if base is None:
        pytest.skip("shared/spec/ops.tsv not found")
    rows = csv.DictReader((Path(base) / "spec" / "ops.tsv").open(), delimiter="\t")
    for row in rows:
        entry = limits.get(row["snake_name"])
        if entry is None:
            continue
        main = next(iter(entry.values()))
        for dt in row["required_dtypes"].split(", "):
            assert dt in main["data_types"], (row["snake_name"], dt)
