"""Torch lowerings of op family gather_scatter (being written)."""
