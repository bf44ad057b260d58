"""WebNN integration for onnx (see its issue)."""
