"""Build hook: the optional native shim of the WebNN plugin execution provider for ONNX Runtime.

Everything else is configured in pyproject.toml. The extension is built with the system C
compiler when one (and the Python headers) is present; ``optional=True`` lets the package
install without it, and then ``webnn.integrations.onnx.get_library_path()`` raises an error
that names what was missing (the drop-in ``InferenceSession`` keeps working).
"""

from setuptools import Extension, setup

NATIVE = "integrations/onnx/_native"

setup(
    ext_modules=[
        Extension(
            "webnn.integrations.onnx._native._webnn_ort_ep",
            sources=[f"{NATIVE}/webnn_ort_ep.c"],
            depends=[f"{NATIVE}/ort_abi.h"],
            extra_compile_args=["-O2", "-fvisibility=hidden"],
            optional=True,
        )
    ],
)
