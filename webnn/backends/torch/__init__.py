"""The torch backend: lowers the IR to one generated torch callable per graph, on
"cpu" or "cuda". This package is the only place the core imports torch."""
