"""Torch lowerings of op family activation (being written)."""
