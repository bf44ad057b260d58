"""Torch lowerings of op family conv (being written)."""
