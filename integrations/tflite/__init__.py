"""WebNN integration for tflite (see its issue)."""
