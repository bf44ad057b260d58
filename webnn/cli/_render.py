"""Rich tables shared by the commands: placement by op type, partitions, outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from ._placement import FOLDED, HOST, WEBNN, Placement, cache_outcome
from ._tensors import describe_diff, fmt_stat

#: Rows of the by-op table shown before "... and N more".
MAX_OP_ROWS = 30


def placement_tables(place: Placement, ui: Any, *, max_rows: int = MAX_OP_ROWS) -> None:
    """The one-screen placement summary: headline, op-type table, partitions."""
    ui.print(f"[bold]placement[/bold]: {escape(place.headline())}")
    rows = place.by_op()
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("op type")
    table.add_column("WebNN", justify="right", style="green")
    table.add_column(place.host_name, justify="right", style="yellow")
    folded = any(r[FOLDED] for r in rows)
    if folded:
        table.add_column("folded", justify="right", style="dim")
    table.add_column(f"why {place.host_name}", overflow="fold")
    for r in rows[:max_rows]:
        reasons = "; ".join(f"{why} (x{n})" if n > 1 else why for why, n in sorted(r["reasons"].items()))
        webnn = "-" if not place.per_node else str(r[WEBNN] or "")
        cells = [escape(r["op"]), webnn, str(r[HOST] or "")]
        if folded:
            cells.append(str(r[FOLDED] or ""))
        cells.append(escape(reasons))
        table.add_row(*cells)
    if len(rows) > max_rows:
        table.add_row(f"... {len(rows) - max_rows} more op types (--json has all)", "", "")
    if rows:
        ui.print(table)
    if place.partitions:
        ptable = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        ptable.add_column("WebNN partition", justify="right")
        ptable.add_column("nodes", justify="right")
        ptable.add_column("graph cache")
        ptable.add_column("ops", overflow="fold")
        for p in place.partitions:
            outcome = cache_outcome(p.cache)
            colour = {"hit": "green", "miss": "yellow"}.get(outcome, "dim")
            ops = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(p.ops.items(), key=lambda kv: -kv[1]))
            ptable.add_row(str(p.id), str(p.nodes), f"[{colour}]{escape(p.cache)}[/{colour}]", escape(ops))
        ui.print(ptable)
    for note in place.notes:
        ui.print(f"[dim]{escape(note)}[/dim]")


def outputs_table(outputs: Sequence[Mapping[str, Any]], host_name: str, ui: Any) -> None:
    """Name, dtype, shape, min/max/mean and the difference from the host framework's own output."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for title, justify in (("output", "left"), ("dtype", "left"), ("shape", "left"), ("min", "right"),
                           ("max", "right"), ("mean", "right"), (f"vs {host_name}", "right")):
        table.add_column(title, justify=justify)  # type: ignore[arg-type]
    for o in outputs:
        table.add_row(escape(str(o["name"])), o["dtype"], str(o["shape"]), fmt_stat(o.get("min")),
                      fmt_stat(o.get("max")), fmt_stat(o.get("mean")), describe_diff(o.get("vs_host")))
    ui.print(table)


def where_word(where: str) -> str:
    return {WEBNN: "WebNN", HOST: "host", FOLDED: "folded"}.get(where, where)
