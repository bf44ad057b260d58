"""``webnn bench``: latency and time to first result through WebNN against the host
framework's own path (ORT's CPU provider, the TFLite interpreter, eager torch), in
the same process on the same inputs.

For each path: time to first result (make the session + first run; WebNN's depends
on the graph cache, whose outcome is shown), then ``--runs`` timed runs after that
first one, summarised by their median (and 10th/90th percentiles). The process's
one-time set-up (imports, dynamo's first compile) is done before anything is timed. Ratios are
host / WebNN, so above 1 means WebNN is faster. Numbers, not assertions: they
depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

from ._common import (
    add_cache,
    add_command,
    add_device,
    add_inputs,
    add_json,
    add_sample_framework,
    feeds_for,
    settings_from,
)
from ._errors import CLIError
from ._host import Host, WebNNSettings, check_device, open_model, timed, warm_up
from ._placement import Placement
from ._samples import FRAMEWORKS, sample_hosts
from ._tensors import parse_input_args
from ._ui import UI, fmt_seconds
from .cmd_run import cache_word

HELP = "median latency and time to first result, WebNN vs the host framework"
EXAMPLES = """examples:
  webnn bench model.onnx                     20 runs each way
  webnn bench model.tflite --runs 100 --plot bench.svg
  webnn bench --json                         the embedded sample in all three integrations
"""


def add_parser(sub: Any) -> None:
    p = add_command(sub, "bench", HELP, __doc__, EXAMPLES)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help=".onnx, .tflite or .pt2 file; omit for the embedded sample in all three integrations")
    add_device(p)
    add_sample_framework(p)
    p.add_argument("--runs", type=_positive, default=20, metavar="N", help="timed runs per path (default 20)")
    p.add_argument("--plot", metavar="FILE", help="bar chart: .svg (built in) or .png (needs matplotlib)")
    add_inputs(p)
    add_cache(p)
    add_json(p)
    p.set_defaults(handler=main)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _stats(times: list[float]) -> dict[str, float]:
    arr = np.asarray(times)
    return {"median": float(statistics.median(times)), "p10": float(np.percentile(arr, 10)),
            "p90": float(np.percentile(arr, 90)), "min": float(arr.min())}


def measure(host: Host, settings: WebNNSettings, feeds: dict[str, Any], runs: int, ui: UI) -> dict[str, Any]:
    """Both paths: first result, then ``runs`` timed runs each."""
    out: dict[str, Any] = {"framework": host.framework, "host_name": host.host_name, "model": host.label,
                           "device": settings.device, "runs": runs}
    with ui.status(f"{host.framework}: one-time framework set-up"), ui.collect_warnings():
        out["framework_setup_seconds"] = warm_up(host, settings)
    place: Placement | None = None
    with ui.progress() as bar, ui.collect_warnings() as warns:
        for path in ("host", "webnn"):
            task = bar.add_task(f"{host.framework}: {'WebNN' if path == 'webnn' else host.host_name}", total=runs)
            if path == "host":
                runner, _, first = timed(lambda: host.host_runner(settings.device), feeds)
            else:
                runner, _, first = timed(lambda: host.webnn_runner(settings), feeds)
                place = runner.placement()
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                runner.run(feeds)
                times.append(time.perf_counter() - start)
                bar.advance(task)
            out[path] = {"time_to_first_result": first, **_stats(times)}
    assert place is not None
    out["webnn"]["cache"] = cache_word(place)
    out["webnn"]["cache_outcomes"] = place.cache_counts()
    out["placement_summary"] = place.summary()
    out["speedup"] = {"latency": out["host"]["median"] / out["webnn"]["median"],
                      "time_to_first_result": out["host"]["time_to_first_result"]
                      / out["webnn"]["time_to_first_result"]}
    out["warnings"] = list(warns)
    return out


def main(args: argparse.Namespace, ui: UI) -> int:
    parse_input_args(args.input)  # malformed --input values fail before any framework is imported
    if args.plot and not args.plot.lower().endswith((".svg", ".png")):
        raise CLIError(f"--plot: {args.plot} must end in .svg or .png")
    settings = settings_from(args)
    if args.device != "cpu":
        check_device(settings)
    results, skipped = [], []
    if args.model is not None:
        if args.framework:
            raise CLIError("--framework picks among the embedded sample's builds; a MODEL file has its own "
                           "framework")
        host = open_model(args.model, ui)
        _, feeds, _ = feeds_for(host, args)
        results.append(measure(host, settings, feeds, args.runs, ui))
    else:
        if args.input:
            raise CLIError("--input needs a MODEL (the embedded sample brings its own image)")
        for fw, host, why in sample_hosts(ui, tuple(args.framework or FRAMEWORKS)):
            if host is None:
                skipped.append({"framework": fw, "reason": why})
                continue
            _, feeds, _ = feeds_for(host, args)
            results.append(measure(host, settings, feeds, args.runs, ui))
    plot = None
    if args.plot:
        from ._plot import write_plot

        write_plot(args.plot, results)
        plot = args.plot
    if ui.json_mode:
        ui.emit_json({"command": "bench", "device": settings.device, "results": results, "skipped": skipped,
                      "plot": plot})
        return 0
    table = Table(show_edge=False, box=None, header_style="bold")
    for col in ("model", "path", "first result", "median", "p10-p90", "speedup (host/WebNN)"):
        table.add_column(col, justify="left" if col in ("model", "path") else "right")
    for r in results:
        for path in ("host", "webnn"):
            m = r[path]
            outcomes = ", ".join(f"{k}" if len(m["cache_outcomes"]) == 1 else f"{n} {k}"
                                 for k, n in sorted(m["cache_outcomes"].items())) if path == "webnn" else ""
            name = r["host_name"] if path == "host" else f"WebNN (cache {outcomes or 'unused'})"
            speed = "" if path == "host" else (f"latency {r['speedup']['latency']:.2f}x, first result "
                                               f"{r['speedup']['time_to_first_result']:.2f}x")
            table.add_row(escape(r["model"]) if path == "host" else "", escape(name),
                          fmt_seconds(m["time_to_first_result"]), fmt_seconds(m["median"]),
                          f"{fmt_seconds(m['p10'])}-{fmt_seconds(m['p90'])}", speed)
    ui.print(f"[bold]webnn bench[/bold]: {args.runs} runs per path after the first, WebNN on {settings.device}")
    ui.print(table)
    for s in skipped:
        ui.print(f"[yellow]skipped {s['framework']}[/yellow]: {escape(s['reason'] or '')}")
    if plot:
        ui.print(f"wrote plot: {escape(plot)}")
    return 0
