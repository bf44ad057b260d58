"""Torch lowerings of gemm and matmul (see ``webnn/ops/linalg.py``).

Transposes are views (BLAS reads them transposed, no copy); ``c`` goes to
``torch.addmm``, which adds it in the same kernel; a fused activation is applied in
place on the result.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..registry import LoweringNode, lowering
from ._fused import in_place_activation

Gemm = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@lowering("gemm")
def gemm(node: LoweringNode) -> Gemm:
    a = node.attrs
    alpha, beta = a["alpha"], a["beta"]
    a_t, b_t = a["a_transpose"], a["b_transpose"]
    act = in_place_activation(a)
    has_c = node.inputs[2] is not None

    def run(x: torch.Tensor, y: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        if a_t:
            x = x.t()
        if b_t:
            y = y.t()
        if has_c:
            out = torch.addmm(c, x, y, beta=beta, alpha=alpha)  # type: ignore[arg-type]
        else:
            out = torch.mm(x, y)
            if alpha != 1.0:
                out.mul_(alpha)
        if act is not None:
            act(out)
        return out

    return run


@lowering("matmul")
def matmul(node: LoweringNode) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return torch.matmul
