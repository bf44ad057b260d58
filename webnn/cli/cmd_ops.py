"""``webnn ops``: what a context can run (``MLContext.op_support_limits()``, the
spec's limits intersected with what the backend lowers) and, per host framework,
which of its ops the integration's converters take (each still subject to its
data-type and shape checks against those limits when a model is converted).
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.markup import escape
from rich.table import Table

from ._common import add_command, add_device
from ._errors import FAILURE, CLIError, one_line
from ._ui import UI

HELP = "the WebNN ops this device supports, and the host ops each integration converts"
EXAMPLES = """examples:
  webnn ops                              tables for the CPU
  webnn ops --device gpu --format json
  webnn ops --framework onnx             only the ONNX converters
"""
FRAMEWORKS = ("onnx", "tflite", "torch")
_GENERAL = ("preferred_input_layout", "max_tensor_byte_length", "input", "constant", "output")


def add_parser(sub: Any) -> None:
    p = add_command(sub, "ops", HELP, __doc__, EXAMPLES)
    add_device(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("--json", action="store_true", help="the same as --format json")
    p.add_argument("--framework", action="append", choices=FRAMEWORKS,
                   help="only these host frameworks' converters (repeatable; default all installed)")
    p.set_defaults(handler=main)


def converters(framework: str) -> dict[str, list[str]]:
    """Host op -> the WebNN ops its converter emits (from the integration's public registry)."""
    if framework == "onnx":
        from webnn.integrations.onnx import REGISTRY

        registry = REGISTRY
    elif framework == "tflite":
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from webnn.integrations.tflite.converters import REGISTRY

        registry = REGISTRY
    else:
        from webnn.integrations.torch import supported_aten_ops

        try:
            from webnn.integrations.torch.converters import REGISTRY as torch_registry
            from webnn.integrations.torch.support import op_name
        except ImportError:
            return {name: [] for name in supported_aten_ops()}
        out = {}
        for key in torch_registry.keys():
            conv = torch_registry.get(key)
            out[op_name(key)] = list(conv.webnn_ops) if conv is not None else []
        return dict(sorted(out.items()))
    out = {}
    for key in registry.keys():
        conv = registry.get(key)
        out[str(key)] = list(conv.webnn_ops) if conv is not None else []
    return dict(sorted(out.items()))


def main(args: argparse.Namespace, ui: UI) -> int:
    import webnn

    as_json = args.json or args.format == "json"
    ui.json_mode = as_json
    try:
        ctx = webnn.ml.create_context(args.device, cache=False)
    except Exception as exc:
        raise CLIError(one_line(exc), FAILURE) from exc
    limits = ctx.op_support_limits()
    ops = {k: v for k, v in limits.items() if k not in _GENERAL}
    general = {k: limits[k] for k in _GENERAL if k in limits}
    frameworks: dict[str, Any] = {}
    for fw in args.framework or FRAMEWORKS:
        try:
            with ui.status(f"loading the {fw} converters"), ui.native_quiet(), ui.collect_warnings():
                table = converters(fw)
            frameworks[fw] = {"available": True, "ops": table}
        except ImportError as exc:
            frameworks[fw] = {"available": False, "reason": one_line(exc)}
    if as_json:
        ui.emit_json({"command": "ops", "device": ctx.device, "limits": general, "webnn_ops": ops,
                      "frameworks": frameworks})
        return 0
    ui.print(f"[bold]WebNN on {ctx.device}[/bold]: {len(ops)} ops; preferred input layout "
             f"{general.get('preferred_input_layout')}, at most {general.get('max_tensor_byte_length')} bytes "
             "per tensor")
    table = Table(show_edge=False, box=None, header_style="bold")
    table.add_column("op")
    table.add_column("operand")
    table.add_column("data types", overflow="fold")
    table.add_column("ranks", justify="right")
    for name, entry in sorted(ops.items()):
        first = True
        for operand, lim in entry.items():
            if operand in ("output", "outputs"):
                continue
            rr = lim["rank_range"]
            table.add_row(escape(name) if first else "", operand, ", ".join(lim["data_types"]),
                          f"{rr['min']}-{rr['max']}")
            first = False
    ui.print(table)
    for fw, info in frameworks.items():
        if not info["available"]:
            ui.print(f"\n[bold]{fw}[/bold]: [yellow]not available[/yellow] ({escape(info['reason'])})")
            continue
        host_ops = info["ops"]
        ui.print(f"\n[bold]{fw}[/bold]: {len(host_ops)} host ops have a converter")
        ui.print(escape(", ".join(host_ops)), soft_wrap=False)
    return 0
