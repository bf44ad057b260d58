"""webnn run: run a model through its integration, or the embedded sample through all three.

For a model file: the host framework runs it once on its own (the reference), then
the integration runs it with WebNN taking what it can. Printed are the inputs, the
placement (WebNN vs host by op type, with reasons), the outputs against the host's,
the graph cache outcome and the time to first result: making the session plus the
first run, which with a cold cache includes conversion and compilation.

With no model: the embedded sample through ONNX Runtime, TFLite (when TensorFlow is
installed) and torch.compile in turn, each twice on new sessions: cold (the sample's
cache origin is cleared first, so everything is converted, compiled and saved) and
warm (loaded from the shared graph cache).

First-result times exclude the one-time set-up of the process (imports, dynamo's
first compile, ORT's first session): a throwaway model goes through the integration
with the cache off before anything is timed, and that set-up time is shown apart.
"""

from __future__ import annotations

import argparse
from typing import Any

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
    inputs_json,
    inputs_line,
    settings_from,
)
from ._errors import FAILURE, CLIError, one_line
from ._host import SAMPLE_ORIGIN, Host, WebNNSettings, check_device, open_model, timed, warm_up
from ._placement import Placement
from ._render import outputs_table, placement_tables
from ._samples import FRAMEWORKS, sample_hosts
from ._tensors import compare, parse_input_args, summarize
from ._ui import UI, fmt_seconds

HELP = "run a model (or the embedded sample) through WebNN with host fallback"
EXAMPLES = """examples:
  webnn run                                  the embedded sample through ONNX Runtime, TFLite and torch.compile
  webnn run model.onnx --input x=image.npy   one model, with a real input
  webnn run --framework onnx --framework torch    the sample in two integrations only
  webnn run model.tflite --device gpu --json
"""


def add_parser(sub: Any) -> None:
    p = add_command(sub, "run", HELP, __doc__, EXAMPLES)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help=".onnx, .tflite or .pt2 (torch.export) file; omit for the embedded sample")
    add_device(p)
    add_sample_framework(p)
    add_inputs(p)
    add_cache(p)
    add_json(p)
    p.set_defaults(handler=main)


def cache_word(place: Placement) -> str:
    counts = place.cache_counts()
    if not place.partitions:
        return "no WebNN partition"
    if counts.get("off") == len(place.partitions):
        return "cache off"
    if counts.get("hit") == len(place.partitions):
        return "cache hit"
    if counts.get("miss") == len(place.partitions):
        return "cache miss: converted, compiled, saved"
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def run_host(host: Host, settings: WebNNSettings, feeds: dict[str, Any], ui: UI, *,
             cold_warm: bool) -> dict[str, Any]:
    """Framework warm-up, reference run on the host, then the WebNN path (once, or cold then warm)."""
    with ui.status(f"{host.framework}: one-time framework set-up"), ui.collect_warnings():
        setup = warm_up(host, settings)
    with ui.status(f"{host.host_name}: running the model on its own (reference)"):
        with ui.collect_warnings():
            _, reference, host_first = timed(lambda: host.host_runner(settings.device), feeds)
    ref = dict(reference)
    with ui.status(f"WebNN via {host.framework}: converting, compiling, running"), ui.collect_warnings() as warns:
        runner, outputs, first = timed(lambda: host.webnn_runner(settings), feeds)
        place = runner.placement()
        counters = runner.cache_counters()
    result: dict[str, Any] = {
        "framework": host.framework, "host": host.host_name, "model": host.label, "device": settings.device,
        "outputs": [summarize(name, value, ref.get(name)) for name, value in outputs],
        "placement": place.to_json(),
        "time_to_first_result": {"seconds": first, "cache": cache_word(place)},
        "host_time_to_first_result": host_first, "framework_setup_seconds": setup,
        "cache_counters": counters, "warnings": list(warns),
    }
    if cold_warm:
        result["time_to_first_result"] = {"cold": first, "cold_cache": cache_word(place)}
        # The warm run is a new session, as in a new process: the cold session is released first
        # (alive, its host runtime's threads, e.g. ONNX Runtime's spinning pool, slowed the warm
        # session's first run three- to fourfold on two cores).
        del runner
        if settings.cache:
            with ui.status(f"WebNN via {host.framework}: again on a new session (warm cache)"), \
                    ui.collect_warnings() as warns2:
                runner2, outputs2, warm = timed(lambda: host.webnn_runner(settings), feeds)
                place2 = runner2.placement()
            result["time_to_first_result"].update(warm=warm, warm_cache=cache_word(place2))
            result["warm_placement_summary"] = place2.summary()
            result["warnings"] += [w for w in warns2 if w not in result["warnings"]]
            cold_out = dict(outputs)
            result["warm_outputs_match_cold"] = all(compare(v, cold_out[n])["match"] for n, v in outputs2)
    result["_placement"] = place
    return result


def show(result: dict[str, Any], specs_line: str, ui: UI) -> None:
    ui.print()
    ui.print(f"[bold cyan]── {escape(result['host'])} · {escape(result['model'])} · WebNN on {result['device']}[/]")
    ui.print(f"[bold]inputs[/bold]: {specs_line}")
    placement_tables(result["_placement"], ui)
    ui.print("[bold]outputs[/bold] (compared with the model run by " + escape(result["host"]) + " alone):")
    outputs_table(result["outputs"], result["host"], ui)
    t = result["time_to_first_result"]
    if "cold" in t:
        line = f"[bold]time to first result[/bold]: cold {fmt_seconds(t['cold'])} ({escape(t['cold_cache'])})"
        if "warm" in t:
            ratio = t["cold"] / t["warm"] if t["warm"] > 0 else float("inf")
            line += f" → warm {fmt_seconds(t['warm'])} ({escape(t['warm_cache'])}): {ratio:.1f}x"
        ui.print(line)
    else:
        ui.print(f"[bold]time to first result[/bold]: {fmt_seconds(t['seconds'])} ({escape(t['cache'])}); "
                 f"{escape(result['host'])} alone: {fmt_seconds(result['host_time_to_first_result'])}")
    ui.print(f"[dim](one-time {escape(result['framework'])} set-up in this process, not counted above: "
             f"{fmt_seconds(result['framework_setup_seconds'])})[/dim]")
    for w in result["warnings"]:
        ui.print(f"[yellow]warning[/yellow]: {escape(w)}")


def public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


def main(args: argparse.Namespace, ui: UI) -> int:
    parse_input_args(args.input)  # malformed --input values fail before any framework is imported
    if args.model is None:
        return run_sample(args, ui)
    if args.framework:
        raise CLIError("--framework picks among the embedded sample's builds; a MODEL file has its own framework")
    if args.device != "cpu":
        check_device(settings_from(args))
    host = open_model(args.model, ui)
    specs, feeds, sources = feeds_for(host, args)
    settings = settings_from(args)
    result = run_host(host, settings, feeds, ui, cold_warm=False)
    result["inputs"] = inputs_json(specs, feeds, sources)
    if ui.json_mode:
        ui.emit_json({"command": "run", **public(result)})
    else:
        show(result, inputs_line(specs, feeds, sources), ui)
    return 0


def run_sample(args: argparse.Namespace, ui: UI) -> int:
    if args.input:
        raise CLIError("--input needs a MODEL (the embedded sample brings its own image)")
    settings = settings_from(args, SAMPLE_ORIGIN)
    check_device(settings)
    cache_dir = None
    if settings.cache:
        context = settings.context()
        cache_dir = context.cache_dir
        context.delete_saved_graphs()  # only the sample's origin: the cold runs are really cold
        context.destroy()
    ui.print(f"[bold]webnn run[/bold]: the embedded sample (a small CNN classifier with a top-3 head, built here "
             f"with each framework's own tools) through all three integrations, WebNN on {settings.device}")
    if cache_dir:
        ui.print(f"graph cache: {escape(cache_dir)} (origin {settings.origin!r}, cleared before the cold runs)")
    else:
        ui.print("graph cache: off (--no-cache): no warm runs")
    results, skipped, failed = [], [], []
    for fw, host, why in sample_hosts(ui, tuple(args.framework or FRAMEWORKS)):
        if host is None:
            skipped.append({"framework": fw, "reason": why})
            ui.print(f"\n[yellow]skipped {fw}[/yellow]: {escape(why or '')}")
            continue
        try:
            specs, feeds, sources = feeds_for(host, args)
            result = run_host(host, settings, feeds, ui, cold_warm=True)
        except CLIError:
            raise
        except Exception as exc:
            if ui.debug:
                raise
            failed.append({"framework": fw, "error": one_line(exc)})
            ui.print(f"\n[red]{fw} failed[/red]: {escape(one_line(exc))}")
            continue
        result["inputs"] = inputs_json(specs, feeds, sources)
        results.append(result)
        if not ui.json_mode:
            show(result, inputs_line(specs, feeds, sources), ui)
    if ui.json_mode:
        ui.emit_json({"command": "run", "model": None, "device": settings.device, "cache_dir": cache_dir,
                      "origin": settings.origin, "runs": [public(r) for r in results], "skipped": skipped,
                      "failed": failed})
    else:
        summary_table(results, ui)
    if failed:
        return FAILURE
    return 0


def summary_table(results: list[dict[str, Any]], ui: UI) -> None:
    if not results:
        return
    table = Table(title="summary", show_edge=False, box=None, header_style="bold", title_justify="left")
    for col in ("integration", "on WebNN", "on host", "cold", "warm", "cold/warm", "outputs vs host"):
        table.add_column(col, justify="left" if col in ("integration", "outputs vs host") else "right")
    for r in results:
        s = r["placement"]["summary"]
        t = r["time_to_first_result"]
        warm = t.get("warm")
        ratio = f"{t['cold'] / warm:.1f}x" if warm else "-"
        ok = all(o.get("vs_host", {}).get("match", False) for o in r["outputs"])
        table.add_row(f"{r['framework']} ({r['host']})", f"{s['webnn_nodes']}/{s['total_nodes']}",
                      str(s["host_nodes"]), fmt_seconds(t["cold"]), fmt_seconds(warm), ratio,
                      "[green]match[/green]" if ok else "[red]differ[/red]")
    ui.print()
    ui.print(table)
