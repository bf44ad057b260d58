"""Op family pool (being written)."""
