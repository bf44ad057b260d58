"""Op family quantize (being written)."""
