"""``webnn cache``: the persistent graph cache, through the same API as ``MLContext``.

``list`` shows the entries of an origin (key, device kind, size, last used, whether
this webnn can load it); ``info`` the directory, totals and counters; ``delete KEY``
removes one entry (``MLContext.delete_graph``); ``clear`` every entry of the origin
(``MLContext.delete_saved_graphs``). ``--device`` picks the device kind a context is
made for (``list`` filters by it; ``delete`` acts on it); entries of every device kind
are listed without it. The cache is the one every integration shares.
"""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from ._common import add_command, add_json
from ._errors import FAILURE, CLIError, one_line
from ._host import parse_device
from ._ui import UI, fmt_bytes

HELP = "list, inspect and delete graph cache entries"
EXAMPLES = """examples:
  webnn cache list                          entries of the default origin
  webnn cache list --origin webnn-sample    the entries `webnn run` (no model) made
  webnn cache info --json
  webnn cache delete onnx-3f2a...           one entry of the cpu partition
  webnn cache clear --origin webnn-sample
"""


def add_parser(sub: Any) -> None:
    p = add_command(sub, "cache", HELP, __doc__, EXAMPLES)
    p.add_argument("action", choices=("list", "info", "delete", "clear"), help="what to do")
    p.add_argument("key", nargs="?", metavar="KEY", help="the entry to delete (delete only)")
    p.add_argument("--origin", metavar="O", help="cache partition (default: $WEBNN_ORIGIN, else 'default')")
    p.add_argument("--device", type=parse_device, metavar="D",
                   help="device kind: cpu or gpu/cuda (list: filter; delete: the partition to delete from; "
                        "default cpu)")
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: $WEBNN_CACHE_DIR, else the "
                                                      "user cache directory)")
    add_json(p)
    p.set_defaults(handler=main)


def _kind(device: str | None) -> str | None:
    if device is None:
        return None
    return "cpu" if device == "cpu" else "cuda"


def _context(args: argparse.Namespace, device: str | None = None) -> Any:
    import webnn

    try:
        return webnn.ml.create_context(device or "cpu", origin=args.origin, cache_dir=args.cache_dir)
    except Exception as exc:
        raise CLIError(one_line(exc), FAILURE) from exc


def _when(seconds: float) -> str:
    if not seconds:
        return "-"
    return datetime.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


def main(args: argparse.Namespace, ui: UI) -> int:
    if args.action == "delete" and not args.key:
        raise CLIError("cache delete needs the KEY of the entry (see `webnn cache list`)")
    if args.action != "delete" and args.key:
        raise CLIError(f"cache {args.action} takes no KEY")
    return {"list": do_list, "info": do_info, "delete": do_delete, "clear": do_clear}[args.action](args, ui)


def do_list(args: argparse.Namespace, ui: UI) -> int:
    ctx = _context(args)
    rows = ctx.cache_info()
    kind = _kind(args.device)
    if kind:
        rows = [r for r in rows if r["device"] == kind]
    if ui.json_mode:
        ui.emit_json({"command": "cache list", "directory": ctx.cache_dir, "origin": ctx.origin, "device": kind,
                      "entries": rows})
        return 0
    ui.print(f"graph cache {escape(str(ctx.cache_dir))}, origin {ctx.origin!r}"
             + (f", device {kind}" if kind else "") + f": {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    if rows:
        ui.out.width = max(ui.out.width, 130)
        table = Table(show_edge=False, box=None, header_style="bold")
        table.add_column("key", no_wrap=True)
        for col in ("device", "size", "last used", "usable here"):
            table.add_column(col, justify="right" if col == "size" else "left")
        for r in rows:
            table.add_row(escape(r["key"]), r["device"], fmt_bytes(int(r["size"])), _when(r["last_used"]),
                          "yes" if r["visible"] else "[yellow]no[/yellow]")
        if not all(r["visible"] for r in rows):
            ui.print("[dim]usable here: no = made for another device kind or by other library versions[/dim]")
        ui.print(table)
    return 0


def do_info(args: argparse.Namespace, ui: UI) -> int:
    from webnn.cache import DEFAULT_QUOTA

    ctx = _context(args, args.device)
    rows = ctx.cache_info()
    remote = _remote(ctx)  # first: its calls count in the counters below
    stats = ctx.cache_stats()
    per_device: dict[str, dict[str, int]] = {}
    for r in rows:
        d = per_device.setdefault(r["device"], {"entries": 0, "bytes": 0, "usable": 0})
        d["entries"] += 1
        d["bytes"] += int(r["size"])
        d["usable"] += bool(r["visible"])
    doc = {"command": "cache info", "directory": ctx.cache_dir, "origin": ctx.origin, "device": ctx.device_kind,
           "quota_bytes": DEFAULT_QUOTA, "entries": len(rows),
           "bytes": sum(int(r["size"]) for r in rows), "per_device": per_device,
           "counters": stats.get("partition_totals", {}), "remote": remote}
    if ui.json_mode:
        ui.emit_json(doc)
        return 0
    ui.print(f"directory: {escape(str(doc['directory']))}")
    ui.print(f"origin: {doc['origin']!r}   quota per origin and device: {fmt_bytes(doc['quota_bytes'])}")
    ui.print(f"entries: {doc['entries']} ({fmt_bytes(doc['bytes'])})")
    for dev, d in sorted(per_device.items()):
        ui.print(f"  {dev}: {d['entries']} entries, {fmt_bytes(d['bytes'])}, {d['usable']} usable by this webnn")
    counters = doc["counters"]
    if counters:
        names = [k for k in counters if k != "reasons" and not k.startswith("remote_")]
        ui.print(f"counters ({ctx.device_kind}, every process): "
                 + ", ".join(f"{k} {counters[k]}" for k in names))
        for name, reasons in counters.get("reasons", {}).items():
            if not name.startswith("remote_"):
                ui.print(f"  {name}: " + ", ".join(f"{why} {n}" for why, n in reasons.items()))
    _print_remote(ui, doc["remote"], counters)
    return 0


def _remote(ctx: Any) -> dict[str, Any] | None:
    """The remote tier's settings and state after one listing call (None when it is off)."""
    if ctx.cache_stats().get("remote") is None:
        return None
    listed = len(ctx.list_graphs())  # asks Redis: the state below is current
    remote = ctx.cache_stats()["remote"]
    keep = ("url", "namespace", "mode", "authenticated", "write", "timeout_ms", "ttl_s", "state", "down_reason")
    return {**{k: remote[k] for k in keep}, "listed": listed, "latency_ms": remote["latency_ms"]}


def _print_remote(ui: UI, remote: dict[str, Any] | None, counters: dict[str, Any]) -> None:
    if remote is None:
        ui.print("remote: off (set WEBNN_CACHE_REMOTE=redis://host:port/db to share entries across machines)")
        return
    state = "[green]up[/green]" if remote["state"] == "up" else f"[red]down[/red] ({remote['down_reason']})"
    ttl = f", ttl {remote['ttl_s']} s" if remote["ttl_s"] else ""
    ui.print(f"remote: {escape(remote['url'])}  {remote['mode']}{'' if remote['authenticated'] else ' (no secret)'}"
             f", {remote['write']} writes, namespace {remote['namespace']!r}, timeout {remote['timeout_ms']} ms{ttl}:"
             f" {state}, {remote['listed']} keys listed (local and remote)")
    per = counters.get("reasons", {})
    count = lambda name: counters.get(f"remote_{name}", 0)  # noqa: E731
    moved = per.get("remote_bytes", {})
    ui.print(f"  remote counters (every process on this machine): hits {count('hits')}, misses {count('misses')}, "
             f"rejected {count('rejected')}, errors {count('errors')}, saves {count('saves')}, "
             f"save failures {count('save_failures')}; {fmt_bytes(moved.get('in', 0))} in, "
             f"{fmt_bytes(moved.get('out', 0))} out")
    for name in ("misses", "rejected", "removed", "errors", "save_failures"):
        if per.get(f"remote_{name}"):
            ui.print(f"  remote {name.replace('_', ' ')}: "
                     + ", ".join(f"{why} {n}" for why, n in per[f"remote_{name}"].items()))
    lat = remote["latency_ms"].get("list")
    if lat:
        ui.print(f"  latency of this check: {lat['calls']} calls, mean {lat['mean']:.2f} ms, max {lat['max']:.2f} ms")


def do_delete(args: argparse.Namespace, ui: UI) -> int:
    ctx = _context(args, args.device)
    present = [r for r in ctx.cache_info() if r["key"] == args.key and r["device"] == ctx.device_kind]
    if not present:
        raise CLIError(f"no entry {args.key!r} in origin {ctx.origin!r}, device {ctx.device_kind!r} "
                       "(see `webnn cache list`)", FAILURE)
    ctx.delete_graph(args.key)
    if ui.json_mode:
        ui.emit_json({"command": "cache delete", "key": args.key, "origin": ctx.origin, "device": ctx.device_kind,
                      "deleted": True, "bytes": int(present[0]["size"])})
    else:
        ui.print(f"deleted {escape(args.key)} ({fmt_bytes(int(present[0]['size']))}) from origin {ctx.origin!r}, "
                 f"device {ctx.device_kind}")
    return 0


def do_clear(args: argparse.Namespace, ui: UI) -> int:
    ctx = _context(args)
    rows = ctx.cache_info()
    ctx.delete_saved_graphs()
    total = sum(int(r["size"]) for r in rows)
    if ui.json_mode:
        ui.emit_json({"command": "cache clear", "origin": ctx.origin, "directory": ctx.cache_dir,
                      "deleted": len(rows), "bytes": total})
    else:
        ui.print(f"deleted {len(rows)} entr{'y' if len(rows) == 1 else 'ies'} ({fmt_bytes(total)}) of origin "
                 f"{ctx.origin!r} in {escape(str(ctx.cache_dir))}")
    return 0
