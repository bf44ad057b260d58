"""Torch lowerings of op family reduction (being written)."""
