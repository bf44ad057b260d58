"""Help text and the error paths: cheap subprocesses that must not import a framework
they do not need, and must fail in one line with the documented exit status."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ._util import run_cli

COMMANDS = ("run", "inspect", "bench", "cache", "ops")


def test_top_level_help_lists_every_command_with_examples() -> None:
    r = run_cli("--help")
    assert r.rc == 0, r.stderr
    for cmd in COMMANDS:
        assert cmd in r.stdout
    assert "examples:" in r.stdout and "webnn run" in r.stdout
    bare = run_cli()
    assert bare.rc == 0 and "COMMAND" in bare.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_with_an_example(command: str) -> None:
    r = run_cli(command, "--help")
    assert r.rc == 0, r.stderr
    assert "examples:" in r.stdout
    assert f"webnn {command}" in r.stdout.split("examples:", 1)[1]


def test_version() -> None:
    import webnn

    r = run_cli("--version")
    assert r.rc == 0 and webnn.__version__ in r.stdout


def test_console_script_is_installed() -> None:
    exe = shutil.which("webnn")
    if exe is None:
        pytest.skip("the webnn console script is not on PATH (package not installed as a distribution)")
    import subprocess

    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "webnn run" in proc.stdout


def _one_line_error(r, code: int, *fragments: str) -> None:  # noqa: ANN001
    assert r.rc == code, (r.rc, r.stdout, r.stderr)
    lines = r.error_lines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for frag in fragments:
        assert frag in lines[0], lines[0]
    assert r.stdout == ""


def test_missing_model_file(tmp_path: Path) -> None:
    r = run_cli("run", str(tmp_path / "nope.onnx"), cache_dir=tmp_path)
    _one_line_error(r, 2, "webnn run: error:", "no such file", "nope.onnx")


def test_directory_instead_of_model(tmp_path: Path) -> None:
    _one_line_error(run_cli("inspect", str(tmp_path), cache_dir=tmp_path), 2, "is a directory")


def test_unknown_device_is_a_usage_error(tmp_path: Path) -> None:
    _one_line_error(run_cli("run", "--device", "tpu", cache_dir=tmp_path), 2, "unknown device 'tpu'")


def test_unknown_command_and_option(tmp_path: Path) -> None:
    _one_line_error(run_cli("frobnicate", cache_dir=tmp_path), 2, "invalid choice")
    _one_line_error(run_cli("run", "--frob", cache_dir=tmp_path), 2, "unrecognized arguments")


def test_malformed_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage that is not a protobuf\xff\xff\xff")
    _one_line_error(run_cli("run", str(bad), cache_dir=tmp_path), 2, "bad.onnx", "ONNX model")


def test_malformed_tflite_file_fails_before_importing_tensorflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"definitely not a flatbuffer")
    _one_line_error(run_cli("inspect", str(bad), cache_dir=tmp_path), 2, "not a TFLite model")


def test_malformed_pt2_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt2"
    bad.write_bytes(b"PK\x03\x04 broken zip")
    _one_line_error(run_cli("run", str(bad), cache_dir=tmp_path), 2, "bad.pt2", "ExportedProgram")


def test_unknown_model_format(tmp_path: Path) -> None:
    odd = tmp_path / "model.xyz"
    odd.write_bytes(b"\x00" * 16)
    _one_line_error(run_cli("run", str(odd), cache_dir=tmp_path), 2, "unknown model format")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07garbage\xff\xff")
    r = run_cli("run", str(bad), "--debug", cache_dir=tmp_path)
    assert r.rc == 2
    assert "Traceback" in r.stderr and "webnn run: error:" in r.stderr


@pytest.mark.parametrize("bad_input, fragment", [
    ("x", "expects NAME=FILE.npy"),
    ("q=in.npy", "no input of that name"),
    ("x=wrong_shape.npy", "has shape [2, 7]"),
    ("x=not_npy.npy", "not a readable .npy file"),
])
def test_bad_input_files(onnx_file: Path, tmp_path: Path, bad_input: str, fragment: str) -> None:
    np.save(tmp_path / "wrong_shape.npy", np.zeros((2, 7), np.float32))
    np.save(tmp_path / "wrong_dtype.npy", np.zeros((2, 6), np.float64))
    (tmp_path / "not_npy.npy").write_bytes(b"hello")
    name, _, file = bad_input.partition("=")
    arg = f"{name}={tmp_path / file}" if file else bad_input
    _one_line_error(run_cli("run", str(onnx_file), "--input", arg, cache_dir=tmp_path), 2, fragment)


def test_sample_run_refuses_input_files(tmp_path: Path) -> None:
    _one_line_error(run_cli("run", "--input", "x=a.npy", cache_dir=tmp_path), 2, "--input needs a MODEL")


def test_bench_runs_must_be_positive(tmp_path: Path) -> None:
    _one_line_error(run_cli("bench", "--runs", "0", cache_dir=tmp_path), 2, "positive integer")


def test_inspect_picture_into_missing_folder(onnx_file: Path, tmp_path: Path) -> None:
    r = run_cli("inspect", str(onnx_file), "--svg", str(tmp_path / "no" / "such" / "g.svg"), cache_dir=tmp_path)
    _one_line_error(r, 2, "--svg", "does not exist")


def test_cache_delete_needs_a_key_and_reports_a_missing_one(tmp_path: Path) -> None:
    _one_line_error(run_cli("cache", "delete", cache_dir=tmp_path), 2, "needs the KEY")
    _one_line_error(run_cli("cache", "delete", "onnx-nothing", cache_dir=tmp_path), 1, "no entry 'onnx-nothing'")


def test_gpu_without_cuda_is_one_line(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _one_line_error(run_cli("ops", "--device", "gpu", cache_dir=tmp_path), 1, "CUDA is not available")


def test_framework_choice_is_for_the_sample_only(tmp_path: Path) -> None:
    _one_line_error(run_cli("run", "m.onnx", "--framework", "onnx", cache_dir=tmp_path), 2, "--framework picks")
    _one_line_error(run_cli("bench", "--framework", "caffe", cache_dir=tmp_path), 2, "invalid choice")
