"""Torch lowerings of op family pool (being written)."""
