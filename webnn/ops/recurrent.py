"""Op family recurrent (being written)."""
