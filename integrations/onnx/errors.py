"""Errors raised by the WebNN provider, as ONNX Runtime's own exception classes.

A drop-in ``InferenceSession`` has to fail the way ORT fails, so code that catches
``onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument`` (and friends) keeps
working; messages follow ORT's ``[ONNXRuntimeError] : <code> : <NAME> : ...`` form and
add what was expected and what came.
"""

from __future__ import annotations

from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

InvalidArgument = _ort_state.InvalidArgument
InvalidGraph = _ort_state.InvalidGraph
InvalidProtobuf = _ort_state.InvalidProtobuf
NoSuchFile = _ort_state.NoSuchFile
Fail = _ort_state.Fail

_CODES = {"FAIL": 1, "INVALID_ARGUMENT": 2, "NO_SUCHFILE": 3, "INVALID_PROTOBUF": 7, "INVALID_GRAPH": 10}


def _message(name: str, text: str) -> str:
    return f"[ONNXRuntimeError] : {_CODES[name]} : {name} : {text}"


def invalid_argument(text: str) -> Exception:
    return InvalidArgument(_message("INVALID_ARGUMENT", text))


def invalid_graph(text: str) -> Exception:
    return InvalidGraph(_message("INVALID_GRAPH", text))


def invalid_protobuf(text: str) -> Exception:
    return InvalidProtobuf(_message("INVALID_PROTOBUF", text))


def no_such_file(text: str) -> Exception:
    return NoSuchFile(_message("NO_SUCHFILE", text))


def fail(text: str) -> Exception:
    return Fail(_message("FAIL", text))


class ConversionError(Exception):
    """A node could not be converted after its capability check passed.

    Carries the node's position so the planner can hand that node back to ORT
    (and report why) instead of failing the session.
    """

    def __init__(self, position: int | None, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason
