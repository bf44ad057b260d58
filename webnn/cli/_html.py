"""The placement report as one self-contained HTML page (well-formed XHTML: inline
SVG picture, the by-op table, the partitions and every node), no scripts, no
external resources."""

from __future__ import annotations

from html import escape
from typing import Any

from ._graph import GraphView
from ._placement import FOLDED, HOST, WEBNN, Placement
from ._svg import FOLDED_COLOUR, HOST_COLOUR, partition_colour, render_svg

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #212121; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid #e0e0e0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; } td.n { text-align: right; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; }
.picture { overflow: auto; border: 1px solid #e0e0e0; }
.note { color: #616161; }
"""


def _swatch(where: str, partition: int | None) -> str:
    colour = partition_colour(partition or 0) if where == WEBNN else HOST_COLOUR if where == HOST else FOLDED_COLOUR
    return f'<span class="swatch" style="background:{colour}"></span>'


def render_html(place: Placement, graph: GraphView | None, title: str, meta: dict[str, Any]) -> str:
    """The page; ``graph`` None (torch: no per-node report) leaves the picture out with a note."""
    e = escape
    out = ["<!DOCTYPE html>",
           '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>',
           f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
           f"<h1>{e(title)}</h1>", f"<p>{e(place.headline())}</p>", "<table>"]
    for k, v in meta.items():
        out.append(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>")
    out.append("</table>")
    for note in place.notes:
        out.append(f'<p class="note">{e(note)}</p>')
    out.append("<h2>Graph</h2>")
    if graph is not None:
        svg = render_svg(graph, place, title)
        out.append(f'<div class="picture">{svg}</div>')
    else:
        out.append('<p class="note">No per-node picture: this integration reports placement per op type only.</p>')
    out.append("<h2>By op type</h2><table><tr><th>op type</th><th>WebNN</th>"
               f"<th>{e(place.host_name)}</th><th>folded</th><th>why not WebNN</th></tr>")
    for r in place.by_op():
        reasons = "; ".join(f"{why} (x{n})" if n > 1 else why for why, n in sorted(r["reasons"].items()))
        webnn = str(r[WEBNN]) if place.per_node else "-"
        out.append(f"<tr><td>{e(r['op'])}</td><td class=\"n\">{webnn}</td><td class=\"n\">{r[HOST]}</td>"
                   f"<td class=\"n\">{r[FOLDED]}</td><td>{e(reasons)}</td></tr>")
    out.append("</table><h2>WebNN partitions</h2><table><tr><th>partition</th><th>nodes</th><th>graph cache</th>"
               "<th>ops</th></tr>")
    for p in place.partitions:
        ops = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(p.ops.items()))
        out.append(f"<tr><td>{_swatch(WEBNN, p.id)}{p.id}</td><td class=\"n\">{p.nodes}</td><td>{e(p.cache)}</td>"
                   f"<td>{e(ops)}</td></tr>")
    out.append("</table>")
    if place.per_node:
        out.append("<h2>Nodes</h2><table><tr><th>#</th><th>name</th><th>op</th><th>runs on</th><th>why</th>"
                   "<th>graph cache</th></tr>")
        for n in place.nodes:
            where = (f"WebNN partition {n.partition}" if n.where == WEBNN
                     else place.host_name if n.where == HOST else "folded")
            out.append(f"<tr><td class=\"n\">{n.index}</td><td>{e(n.name)}</td><td>{e(n.op)}</td>"
                       f"<td>{_swatch(n.where, n.partition)}{e(where)}</td><td>{e(n.reason or '')}</td>"
                       f"<td>{e(n.cache or '')}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
