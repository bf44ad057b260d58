"""Torch lowerings of op family recurrent (being written)."""
