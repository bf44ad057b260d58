"""The native shim of the WebNN plugin execution provider (``_webnn_ort_ep``).

Built from ``webnn_ort_ep.c`` by ``setup.py`` when a C compiler is present at install;
``ort_abi.h`` declares the part of ONNX Runtime's C ABI it uses. Import it through
``webnn.integrations.onnx.plugin``, which says what is missing when it was not built.
"""
