"""Test graphs for the cache tests, with numpy references (importable by spawned workers).

``build(ctx, variant)`` makes a graph whose outputs depend on ``variant`` through
its constants, so a loaded graph that came from the wrong entry, or from a torn
one, gives different numbers. Every output's reference is computed with numpy.
"""

from __future__ import annotations

import numpy as np

import webnn

SHAPE = (4, 8)
#: Shape of the largest constant: 1.02 MiB of float32, just over blobfile.MAP_FROM.
BIG = (261, 1024)


def _constants(variant: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1000 + variant)
    return {
        "w": rng.standard_normal(SHAPE).astype(np.float32),
        "s": np.float32(variant + 0.5),
        "wh": rng.standard_normal(SHAPE).astype(np.float16),
        "k": rng.integers(-1000, 1000, SHAPE).astype(np.int32),
        "ku": rng.integers(0, 2**20, SHAPE[-1:]).astype(np.uint32),
        "big": rng.standard_normal(BIG).astype(np.float32),
    }


def build(ctx: webnn.MLContext, variant: int) -> webnn.MLGraph:
    """x*w + s (relu'd with max), a float16 product, int32 and uint32 sums, a row-sum-like add."""
    c = _constants(variant)
    b = webnn.MLGraphBuilder(ctx)
    x = b.input("x", {"dataType": "float32", "shape": list(SHAPE)})
    xh = b.input("xh", {"dataType": "float16", "shape": list(SHAPE)})
    n = b.input("n", {"dataType": "int32", "shape": list(SHAPE)})
    u = b.input("u", {"dataType": "uint32", "shape": list(SHAPE)})
    y = b.max(b.add(b.mul(x, b.constant(c["w"])), b.constant(c["s"])), b.constant(np.float32(0)))
    h = b.mul(xh, b.constant(c["wh"]))
    m = b.add(n, b.constant(c["k"]))
    v = b.add(u, b.constant(c["ku"]))
    # a constant over blobfile.MAP_FROM, so entries are loaded the way real models are: mapped
    z = b.sub(b.constant(c["big"]), b.constant(np.float32(variant)))
    zz = b.add(z, b.constant(np.zeros(BIG, np.float32)))
    return b.build({"y": y, "h": h, "m": m, "v": v, "z": zz})


def inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal(SHAPE).astype(np.float32),
        "xh": rng.standard_normal(SHAPE).astype(np.float16),
        "n": rng.integers(-1000, 1000, SHAPE).astype(np.int32),
        "u": rng.integers(0, 2**31, SHAPE).astype(np.uint32),
    }


def reference(variant: int, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The outputs computed with numpy alone."""
    c = _constants(variant)
    y = np.maximum(feed["x"] * c["w"] + c["s"], np.float32(0))
    h = (feed["xh"].astype(np.float32) * c["wh"].astype(np.float32)).astype(np.float16)
    m = feed["n"] + c["k"]
    v = feed["u"] + c["ku"]
    z = c["big"] - np.float32(variant)
    return {"y": y, "h": h, "m": m, "v": v, "z": z}


def matches(outputs: dict[str, np.ndarray], variant: int, feed: dict[str, np.ndarray]) -> bool:
    """True when ``outputs`` are the numpy reference of ``variant`` (float32 to 1e-6, rest exact)."""
    ref = reference(variant, feed)
    if sorted(outputs) != sorted(ref):
        return False
    for name, want in ref.items():
        got = outputs[name]
        if got.dtype != want.dtype or got.shape != want.shape:
            return False
        if name in ("y", "z"):
            if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
                return False
        elif name == "h":
            if not np.allclose(got.astype(np.float32), want.astype(np.float32), rtol=1e-3, atol=1e-3):
                return False
        elif not np.array_equal(got, want):
            return False
    return True


def which_variant(outputs: dict[str, np.ndarray], candidates: list[int], feed: dict[str, np.ndarray]) -> int | None:
    for variant in candidates:
        if matches(outputs, variant, feed):
            return variant
    return None


def same_bits(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Bit-for-bit equality of two output dicts (dtype, shape and bytes)."""
    return sorted(a) == sorted(b) and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and np.ascontiguousarray(a[k]).tobytes() == np.ascontiguousarray(b[k]).tobytes() for k in a)
