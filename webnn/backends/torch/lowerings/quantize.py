"""Torch lowerings of op family quantize (being written)."""
