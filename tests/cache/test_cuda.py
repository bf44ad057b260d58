"""The cache on CUDA: entries partitioned by device kind, outputs bit-identical after a load."""

from __future__ import annotations

import pytest
import torch

import webnn
from tests.cache import graphs

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]


def test_cuda_roundtrip_and_partition(cache_root):
    gpu = webnn.ml.create_context("cuda", cache_dir=cache_root)
    cpu = webnn.ml.create_context("cpu", cache_dir=cache_root)
    fresh = graphs.build(gpu, 3)
    gpu.save_graph("k", fresh)
    assert gpu.list_graphs() == ["k"]
    assert cpu.list_graphs() == []  # a cuda entry is neither listed nor loaded on the CPU
    with pytest.raises(webnn.NotFoundError):
        cpu.load_graph("k")
    loaded = webnn.ml.create_context("cuda", cache_dir=cache_root).load_graph("k")
    feed = graphs.inputs(4)
    assert graphs.same_bits(gpu.compute(fresh, feed), loaded.context.compute(loaded, feed))
    assert graphs.matches(loaded.context.compute(loaded, feed), 3, feed)
    assert {(e["key"], e["device"]) for e in cpu.cache_info()} == {("k", "cuda")}
