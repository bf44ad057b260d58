"""Torch lowerings of op family shape (being written)."""
