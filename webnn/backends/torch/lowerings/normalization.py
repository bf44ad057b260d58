"""Torch lowerings of op family normalization (being written)."""
