"""Options and steps shared by run, inspect and bench."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ._host import Host, WebNNSettings, parse_device
from ._samples import FRAMEWORKS
from ._tensors import TensorSpec, load_feeds, parse_input_args


def add_command(sub: Any, name: str, summary: str, doc: str | None, examples: str) -> argparse.ArgumentParser:
    """A subcommand's parser: ``summary`` in ``webnn --help``, the module docstring as its
    description and ``examples`` after its options."""
    return sub.add_parser(name, help=summary, description=(doc or "").replace("``", ""), epilog=examples,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def add_sample_framework(p: argparse.ArgumentParser) -> None:
    p.add_argument("--framework", action="append", choices=FRAMEWORKS, metavar="F",
                   help="embedded sample only: onnx, tflite or torch (repeatable; default all three)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", type=parse_device, default="cpu", metavar="DEVICE",
                   help="where WebNN runs: cpu (default), gpu, cuda or cuda:N")


def add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-cache", action="store_true", help="do not use the persistent graph cache")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="graph cache directory (default: $WEBNN_CACHE_DIR, else the user cache directory)")
    p.add_argument("--origin", metavar="O", help="cache partition (default: $WEBNN_ORIGIN, else 'default')")


def add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", action="append", metavar="NAME=FILE.npy",
                   help="an input array (repeat per input; NAME may be a position 0, 1, ...); "
                        "inputs not given are random of the declared shape")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")


def settings_from(args: argparse.Namespace, origin: str | None = None) -> WebNNSettings:
    return WebNNSettings(args.device, not args.no_cache, args.cache_dir, args.origin or origin)


def feeds_for(host: Host, args: argparse.Namespace) -> tuple[list[TensorSpec], dict[str, np.ndarray], dict[str, str]]:
    """The model's inputs: ``--input`` files, the sample's own image, or random arrays."""
    specs = host.input_specs()
    files = parse_input_args(getattr(args, "input", None))
    default = host.default_feeds()
    if default is not None and not files:
        return specs, dict(default), {k: "embedded sample image" for k in default}
    return specs, *load_feeds(specs, files, getattr(args, "seed", 0))


def inputs_json(specs: list[TensorSpec], feeds: dict[str, np.ndarray], sources: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": s.name, "dtype": feeds[s.name].dtype.name, "shape": list(feeds[s.name].shape),
             "declared": s.describe(), "source": sources.get(s.name, "")} for s in specs]


def inputs_line(specs: list[TensorSpec], feeds: dict[str, np.ndarray], sources: dict[str, str]) -> str:
    from rich.markup import escape

    parts = [f"{escape(s.name)} {feeds[s.name].dtype.name}{list(feeds[s.name].shape)} "
             f"({escape(sources.get(s.name, ''))})" for s in specs]
    dynamic = [s for s in specs if s.dynamic]
    text = "; ".join(parts) or "none"
    if dynamic:
        text += " [dim](open dimensions fed as 1 unless --input gives them)[/dim]"
    return text
