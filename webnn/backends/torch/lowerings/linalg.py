"""Torch lowerings of op family linalg (being written)."""
