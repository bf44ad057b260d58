"""``webnn inspect``: where each node of a model would run, without running it, and a
picture of the graph coloured by placement (WebNN partition k / host fallback).

ONNX: the session's plan is built for the input shapes (converted, compiled or
loaded from the graph cache) and its placement read. TFLite: the interpreter is
created with the WebNN delegate and its tensors allocated (the delegate's Prepare),
but never invoked. torch compiles at the first call, so a ``.pt2`` model is run
once on random inputs (said so in the output). The tables are the ones ``webnn run``
prints, from the same reports.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.markup import escape

from ._common import (
    add_cache,
    add_command,
    add_device,
    add_inputs,
    add_json,
    feeds_for,
    inputs_json,
    inputs_line,
    settings_from,
)
from ._errors import FAILURE, CLIError
from ._host import check_device, open_model
from ._render import placement_tables
from ._tensors import parse_input_args
from ._ui import UI

HELP = "show where each node would run, and draw the graph coloured by placement"
EXAMPLES = """examples:
  webnn inspect model.onnx                       placement table
  webnn inspect model.tflite --svg graph.svg     and the picture
  webnn inspect model.onnx --html report.html --json
  webnn inspect --svg sample.svg                 the embedded sample (ONNX)
"""


def add_parser(sub: Any) -> None:
    p = add_command(sub, "inspect", HELP, __doc__, EXAMPLES)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help=".onnx, .tflite or .pt2 file; omit for the embedded sample as ONNX")
    add_device(p)
    p.add_argument("--svg", metavar="FILE", help="write the placement picture as SVG")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report (picture and tables)")
    add_inputs(p)
    add_cache(p)
    add_json(p)
    p.set_defaults(handler=main)


def _check_target(path: str | None, flag: str) -> None:
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{flag}: the folder {folder} does not exist")


def main(args: argparse.Namespace, ui: UI) -> int:
    parse_input_args(args.input)  # malformed --input values fail before any framework is imported
    _check_target(args.svg, "--svg")
    _check_target(args.html, "--html")
    settings = settings_from(args)
    if args.device != "cpu":
        check_device(settings)
    if args.model is None:
        from ._samples import sample_host

        host = sample_host("onnx", ui)
    else:
        host = open_model(args.model, ui)
    graph = host.graph()
    if args.svg and graph is None:
        raise CLIError(f"--svg: no per-node placement from the {host.framework} integration (it reports per op "
                       "type), so there is no graph to colour; --html gives the tables", FAILURE)
    specs, feeds, sources = feeds_for(host, args)
    with ui.status(f"WebNN via {host.framework}: partitioning, converting, compiling"), \
            ui.collect_warnings() as warns:
        runner = host.webnn_runner(settings)
        runner.prepare(feeds)
        place = runner.placement()
    title = f"{os.path.basename(host.label)} \u2014 WebNN placement ({host.framework}, {settings.device})"
    written = {}
    if args.svg:
        from ._svg import render_svg

        _write(args.svg, render_svg(graph, place, title))  # type: ignore[arg-type]
        written["svg"] = os.path.abspath(args.svg)
    if args.html:
        from ._html import render_html

        meta = {"model": host.label, "framework": host.framework, "host fallback": host.host_name,
                "device": settings.device, "inputs": ", ".join(f"{s.name} {s.describe()}" for s in specs),
                "graph cache": "off" if not settings.cache else (settings.cache_dir or "default location")}
        _write(args.html, render_html(place, graph, title, meta))
        written["html"] = os.path.abspath(args.html)
    if ui.json_mode:
        ui.emit_json({"command": "inspect", "model": host.label, "framework": host.framework,
                      "host": host.host_name, "device": settings.device, "ran": runner.ran_to_prepare,
                      "inputs": inputs_json(specs, feeds, sources), "placement": place.to_json(),
                      "files": written, "warnings": list(warns)})
        return 0
    ui.print(f"[bold cyan]{escape(host.label)}[/] ({host.framework}; fallback: {host.host_name}; "
             f"WebNN on {settings.device})")
    ui.print(f"[bold]inputs[/bold]: {inputs_line(specs, feeds, sources)}")
    if runner.ran_to_prepare:
        ui.print("[dim]torch compiles at the first call: the model was run once on these inputs[/dim]")
    placement_tables(place, ui)
    for kind, path in written.items():
        ui.print(f"wrote {kind.upper()}: {escape(path)}")
    for w in warns:
        ui.print(f"[yellow]warning[/yellow]: {escape(w)}")
    return 0


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from None
