"""Op family activation (being written)."""
