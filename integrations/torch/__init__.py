"""WebNN integration for torch (see its issue)."""
