"""``python -m webnn.cache``: look into and clear the graph cache store directly.

    python -m webnn.cache info  [--dir DIR] [--origin ORIGIN] [--json]   entries, counters
    python -m webnn.cache clear --origin ORIGIN [--dir DIR]              delete an origin's entries

Reads the store directly: no context, no torch import, every origin and device kind
at once (``webnn cache`` is the user-facing command, through ``MLContext``). ``--dir`` defaults to what a
context would use: ``$WEBNN_CACHE_DIR``, else the user cache directory.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .location import LAYOUT, resolve_root
from .stats import summarize
from .store import Store


def _entries(store: Store, origin: str | None) -> list[dict[str, Any]]:
    out = []
    for row in reversed(store.rows(origin)):
        try:
            stamp = json.loads(row.versions) if isinstance(row.versions, str) else {}
        except ValueError:
            stamp = {}
        text = lambda v: v if isinstance(v, str) else repr(v)  # noqa: E731  (a damaged field is bytes)
        out.append({"origin": text(row.origin), "device": text(row.device), "key": text(row.key),
                    "size": row.safe_size,
                    "last_used": row.safe_last_used / 1e9, "webnn": stamp.get("webnn", "?"),
                    "backend": f"{stamp.get('backend', '?')} {stamp.get('lib:torch', '')}".strip(),
                    "intact": row.intact})
    return out


def _counters(store: Store, origin: str | None) -> dict[str, Any]:
    grouped: dict[str, list[tuple[str, str, int]]] = {}
    for o, d, name, reason, value in store.counters(origin):
        grouped.setdefault(f"{o} / {d}", []).append((name, reason, value))
    return {part: summarize(events) for part, events in grouped.items()}


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def info(args: argparse.Namespace) -> int:
    root = resolve_root(args.dir)
    store = Store(root)
    try:
        entries = _entries(store, args.origin)
        counters = _counters(store, args.origin)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"directory": str(root), "entries": entries, "counters": counters}, indent=2))
        return 0
    print(f"graph cache {root / LAYOUT}: {len(entries)} entries, {_size(sum(e['size'] for e in entries))}")
    if entries:
        print(f"{'origin':<24} {'device':<6} {'size':>10}  {'last used':<19}  {'webnn':<7} {'backend':<18} key")
        for e in entries:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["last_used"]))
            flag = "" if e["intact"] else "  (damaged row)"
            print(f"{str(e['origin'])[:24]:<24} {str(e['device']):<6} {_size(e['size']):>10}  {when:<19}  "
                  f"{e['webnn']:<7} {e['backend'][:18]:<18} {e['key']!s}{flag}")
    for part, summary in counters.items():
        counts = ", ".join(f"{name} {summary[name]}" for name in summary if name != "reasons" and summary[name])
        reasons = "; ".join(f"{name}: " + ", ".join(f"{r} {n}" for r, n in per.items())
                            for name, per in summary["reasons"].items())
        print(f"counters {part}: {counts or 'none'}" + (f"  [{reasons}]" if reasons else ""))
    return 0


def clear(args: argparse.Namespace) -> int:
    store = Store(resolve_root(args.dir))
    try:
        count = store.delete(args.origin, None, None)
    finally:
        store.close()
    print(f"deleted {count} entries of origin {args.origin!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webnn.cache",
                                     description="Look into or clear the WebNN graph cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_info = sub.add_parser("info", help="list entries and counters")
    p_info.add_argument("--dir", help="cache directory (default: $WEBNN_CACHE_DIR or the user cache directory)")
    p_info.add_argument("--origin", help="only this origin")
    p_info.add_argument("--json", action="store_true", help="machine-readable output")
    p_clear = sub.add_parser("clear", help="delete every entry of one origin")
    p_clear.add_argument("--dir", help="cache directory")
    p_clear.add_argument("--origin", required=True)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return info(args) if args.command == "info" else clear(args)
