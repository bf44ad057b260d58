"""Host-framework integrations, installed as ``webnn.integrations``.

Each subpackage imports its host framework (torch, onnxruntime, tensorflow) only
when it is imported itself; ``import webnn`` imports none of them.
"""
