"""The placement picture: the model graph, each node coloured by where it runs
(WebNN partition k, or the host framework), drawn as SVG in pure Python.

Layout is the classic layered (Sugiyama-style) one, kept small: layers by longest
path from the inputs, dummy points on edges that skip layers, a few barycentre
sweeps to reduce crossings, then x positions pulled towards neighbours. No graphviz
is needed. Every node carries a ``<title>`` tooltip (name, op, placement, reason,
cache) and ``data-*`` attributes, so the file is also machine-checkable.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ._graph import GraphView
from ._placement import FOLDED, HOST, WEBNN, NodePlace, Placement

NODE_W, NODE_H = 176, 44
IO_W, IO_H = 150, 28
DUMMY_W = 14
H_GAP, V_GAP = 22, 42
MARGIN = 24
#: WebNN partitions cycle through these (greens, blues, purples); the host is orange.
PARTITION_COLOURS = ("#2e7d32", "#1565c0", "#00838f", "#6a1b9a", "#558b2f", "#283593", "#00695c", "#4527a0",
                     "#1b5e20", "#0d47a1")
HOST_COLOUR = "#e65100"
FOLDED_COLOUR = "#757575"
IO_COLOUR = "#ffffff"


def partition_colour(pid: int) -> str:
    return PARTITION_COLOURS[pid % len(PARTITION_COLOURS)]


@dataclass
class _Vertex:
    key: str
    kind: str  # "node", "input", "output", "dummy"
    width: int
    height: int
    label: str = ""
    sub: str = ""
    title: str = ""
    fill: str = IO_COLOUR
    where: str = ""
    partition: int | None = None
    layer: int = 0
    x: float = 0.0
    y: float = 0.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _node_title(n: NodePlace, host_name: str) -> str:
    where = (f"WebNN partition {n.partition}" if n.where == WEBNN
             else host_name if n.where == HOST else "folded into a constant")
    lines = [f"{n.name} ({n.op})", f"runs on: {where}"]
    if n.reason:
        lines.append(f"why: {n.reason}")
    if n.cache:
        lines.append(f"graph cache: {n.cache}")
    return "\n".join(lines)


def layout(graph: GraphView, place: Placement) -> tuple[dict[str, _Vertex], list[tuple[list[str], str]], int, int]:
    """Vertices with coordinates, edges as vertex-key paths (with dummies), and the size."""
    by_index = {n.index: n for n in place.nodes if n.subgraph == 0}
    verts: dict[str, _Vertex] = {}
    producer: dict[str, str] = {}
    for name in graph.inputs:
        key = f"in:{name}"
        shown = graph.labels.get(name, name)
        verts[key] = _Vertex(key, "input", IO_W, IO_H, _short(shown, 22), "", f"model input {shown}")
        producer[name] = key
    for n in graph.nodes:
        key = f"n:{n.index}"
        p = by_index.get(n.index)
        if p is None:
            fill, where, pid, title = "#bdbdbd", "unknown", None, f"{n.name} ({n.op})\nruns on: not reported"
        elif p.where == WEBNN:
            fill, where, pid = partition_colour(p.partition or 0), WEBNN, p.partition
            title = _node_title(p, place.host_name)
        elif p.where == HOST:
            fill, where, pid, title = HOST_COLOUR, HOST, None, _node_title(p, place.host_name)
        else:
            fill, where, pid, title = FOLDED_COLOUR, FOLDED, None, _node_title(p, place.host_name)
        verts[key] = _Vertex(key, "node", NODE_W, NODE_H, _short(n.op, 22), _short(n.name, 26), title, fill, where,
                             pid)
        for t in n.outputs:
            producer.setdefault(t, key)
    edges: dict[tuple[str, str], list[str]] = {}
    for n in graph.nodes:
        dst = f"n:{n.index}"
        for t in n.inputs:
            src = producer.get(t)
            if src is not None and src != dst:
                edges.setdefault((src, dst), []).append(t)
    for name in graph.outputs:
        key = f"out:{name}"
        shown = graph.labels.get(name, name)
        verts[key] = _Vertex(key, "output", IO_W, IO_H, _short(shown, 22), "", f"model output {shown}")
        src = producer.get(name)
        if src is not None:
            edges.setdefault((src, key), []).append(name)
    _assign_layers(verts, list(edges))
    paths = _add_dummies(verts, edges)
    layers = _order(verts, paths)
    width, height = _place(verts, layers, paths)
    return verts, paths, width, height


def _assign_layers(verts: dict[str, _Vertex], edges: list[tuple[str, str]]) -> None:
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    indeg = {k: 0 for k in verts}
    for s, d in edges:
        preds[d].append(s)
        succs[s].append(d)
        indeg[d] += 1
    order = [k for k in verts if indeg[k] == 0]
    seen = set(order)
    i = 0
    while i < len(order) or len(seen) < len(verts):
        if i == len(order):  # a cycle (not expected in ONNX/TFLite): break it at the first unseen vertex
            k = next(k for k in verts if k not in seen)
            order.append(k)
            seen.add(k)
        k = order[i]
        i += 1
        for d in succs[k]:
            indeg[d] -= 1
            if indeg[d] == 0 and d not in seen:
                order.append(d)
                seen.add(d)
    for k in order:
        verts[k].layer = max((verts[p].layer + 1 for p in preds[k]), default=0)
    # Sources (inputs, nodes that read only constants) sit right above their first reader,
    # not all in the top layer; latest sources first so chains of them move together.
    for k in reversed(order):
        v = verts[k]
        if not preds[k] and succs[k]:
            v.layer = max(0, min(verts[d].layer for d in succs[k]) - 1)


def _add_dummies(verts: dict[str, _Vertex], edges: dict[tuple[str, str], list[str]]) -> list[tuple[list[str], str]]:
    paths = []
    count = 0
    for (s, d), tensors in edges.items():
        chain = [s]
        ls, ld = verts[s].layer, verts[d].layer
        if ld <= ls:  # a back edge of a broken cycle: draw it straight
            paths.append(([s, d], ", ".join(tensors)))
            continue
        for layer in range(ls + 1, ld):
            key = f"d:{count}"
            count += 1
            verts[key] = _Vertex(key, "dummy", DUMMY_W, NODE_H, layer=layer)
            chain.append(key)
        chain.append(d)
        paths.append((chain, ", ".join(tensors)))
    return paths


def _order(verts: dict[str, _Vertex], paths: list[tuple[list[str], str]]) -> list[list[str]]:
    depth = max((v.layer for v in verts.values()), default=0)
    layers: list[list[str]] = [[] for _ in range(depth + 1)]
    for k, v in verts.items():
        layers[v.layer].append(k)
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for chain, _ in paths:
        for a, b in zip(chain, chain[1:]):
            if verts[b].layer == verts[a].layer + 1:
                up[b].append(a)
                down[a].append(b)
    pos = {k: i for layer in layers for i, k in enumerate(layer)}
    for _ in range(6):
        for rng, nbrs in ((range(1, len(layers)), up), (range(len(layers) - 2, -1, -1), down)):
            for li in rng:
                layer = layers[li]
                bary = {}
                for k in layer:
                    ns = nbrs[k]
                    bary[k] = sum(pos[n] for n in ns) / len(ns) if ns else pos[k]
                layer.sort(key=lambda k: (bary[k], pos[k]))
                for i, k in enumerate(layer):
                    pos[k] = i
    return layers


def _place(verts: dict[str, _Vertex], layers: list[list[str]], paths: list[tuple[list[str], str]]) -> tuple[int, int]:
    nbrs: dict[str, list[str]] = defaultdict(list)
    for chain, _ in paths:
        for a, b in zip(chain, chain[1:]):
            nbrs[a].append(b)
            nbrs[b].append(a)
    widths = [sum(verts[k].width for k in layer) + H_GAP * max(len(layer) - 1, 0) for layer in layers]
    total = max(widths, default=NODE_W)
    for layer, w in zip(layers, widths):
        x = (total - w) / 2
        for k in layer:
            verts[k].x = x + verts[k].width / 2
            x += verts[k].width + H_GAP
    for _ in range(4):  # pull each vertex towards its neighbours, keeping order and gaps
        for layer in layers:
            desired = []
            for k in layer:
                ns = nbrs[k]
                desired.append(sum(verts[n].x for n in ns) / len(ns) if ns else verts[k].x)
            prev_right = None
            for k, want in zip(layer, desired):
                v = verts[k]
                left = want - v.width / 2
                if prev_right is not None:
                    left = max(left, prev_right + H_GAP)
                v.x = left + v.width / 2
                prev_right = left + v.width
            overflow = max(verts[layer[-1]].x + verts[layer[-1]].width / 2 - total, 0) if layer else 0
            for k in reversed(layer):  # push back from the right edge
                v = verts[k]
                v.x -= overflow
    min_x = min((v.x - v.width / 2 for v in verts.values()), default=0)
    max_x = max((v.x + v.width / 2 for v in verts.values()), default=NODE_W)
    for v in verts.values():
        v.x += MARGIN - min_x
        v.y = MARGIN + v.layer * (NODE_H + V_GAP) + NODE_H / 2
    width = int(max_x - min_x + 2 * MARGIN)
    height = int(MARGIN * 2 + len(layers) * (NODE_H + V_GAP) - V_GAP)
    return width, height


def render_svg(graph: GraphView, place: Placement, title: str) -> str:
    """The whole picture as an SVG document (legend on top, graph below)."""
    verts, paths, gw, gh = layout(graph, place)
    width = max(gw, 760)
    spots, legend_h = _legend_spots(_legend(place), width)
    head_h = 56 + legend_h
    shift_x = (width - gw) / 2
    height = gh + head_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12" '
           f'data-framework={quoteattr(place.framework)}>',
           f"<title>{escape(title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#616161"/></marker></defs>',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa"/>',
           f'<text x="{MARGIN}" y="24" font-size="15" font-weight="bold">{escape(_short(title, 110))}</text>',
           f'<text x="{MARGIN}" y="42" fill="#424242">{escape(place.headline())} \u2014 device {escape(place.device)}'
           f"</text>"]
    for (label, colour, dashed), (lx, ly) in spots:
        dash = ' stroke-dasharray="4 2"' if dashed else ""
        out.append(f'<g class="legend"><rect x="{lx}" y="{ly}" width="16" height="14" rx="3" fill="{colour}" '
                   f'stroke="#212121" stroke-width="0.6"{dash}/><text x="{lx + 22}" y="{ly + 11}">'
                   f"{escape(label)}</text></g>")
    out.append(f'<g transform="translate({shift_x:.1f},{head_h})">')
    out.append('<g class="edges" fill="none" stroke="#616161" stroke-width="1.2">')
    for chain, tensors in paths:
        out.append(f'<path d="{_edge_path(verts, chain)}" marker-end="url(#arrow)"><title>{escape(tensors)}'
                   "</title></path>")
    out.append("</g><g class=\"nodes\">")
    for v in verts.values():
        if v.kind == "dummy":
            continue
        out.append(_vertex_svg(v))
    out.append("</g></g></svg>")
    return "\n".join(out) + "\n"


def _legend(place: Placement) -> list[tuple[str, str, bool]]:
    items = []
    for p in place.partitions:
        items.append((f"WebNN partition {p.id}: {p.nodes} node{'s' if p.nodes != 1 else ''}, cache {p.cache}",
                      partition_colour(p.id), False))
    if place.host_nodes or not items:
        items.append((f"{place.host_name}: {place.host_nodes} node{'s' if place.host_nodes != 1 else ''}",
                      HOST_COLOUR, True))
    if place.folded_nodes:
        items.append((f"folded at build: {place.folded_nodes}", FOLDED_COLOUR, False))
    items.append(("model input / output", IO_COLOUR, False))
    return items


def _legend_spots(items: list[tuple[str, str, bool]], width: int) -> tuple[list[tuple[tuple[str, str, bool],
                                                                                   tuple[int, int]]], int]:
    """Legend entries flowed left to right, wrapping at the picture's width."""
    spots = []
    x, y = MARGIN, 54
    for item in items:
        w = 22 + int(6.8 * len(item[0])) + 22
        if x > MARGIN and x + w > width - MARGIN:
            x, y = MARGIN, y + 22
        spots.append((item, (x, y)))
        x += w
    return spots, y - 54 + 30


def _edge_path(verts: dict[str, _Vertex], chain: list[str]) -> str:
    pts = []
    for i, k in enumerate(chain):
        v = verts[k]
        if v.kind == "dummy":
            pts.append((v.x, v.y))
        elif i == 0:
            pts.append((v.x, v.y + v.height / 2))
        else:
            pts.append((v.x, v.y - v.height / 2))
    d = [f"M {pts[0][0]:.1f} {pts[0][1]:.1f}"]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        my = (y0 + y1) / 2
        d.append(f"C {x0:.1f} {my:.1f} {x1:.1f} {my:.1f} {x1:.1f} {y1:.1f}")
    return " ".join(d)


def _vertex_svg(v: _Vertex) -> str:
    x, y = v.x - v.width / 2, v.y - v.height / 2
    attrs = f'data-kind="{v.kind}"'
    if v.kind == "node":
        attrs += f' data-node={quoteattr(v.key[2:])} data-where="{v.where}"'
        if v.partition is not None:
            attrs += f' data-partition="{v.partition}"'
    head = f'<g class="vertex" {attrs}><title>{escape(v.title)}</title>'
    if v.kind == "node":
        dash = ' stroke-dasharray="5 3"' if v.where == HOST else ""
        return (head + f'<rect x="{x:.1f}" y="{y:.1f}" width="{v.width}" height="{v.height}" rx="6" fill="{v.fill}" '
                f'stroke="#212121" stroke-width="0.8"{dash}/>'
                f'<text x="{v.x:.1f}" y="{y + 18:.1f}" text-anchor="middle" fill="#ffffff" font-weight="bold">'
                f"{escape(v.label)}</text>"
                f'<text x="{v.x:.1f}" y="{y + 34:.1f}" text-anchor="middle" fill="#ffffff" font-size="10">'
                f"{escape(v.sub)}</text></g>")
    return (head + f'<rect x="{x:.1f}" y="{y:.1f}" width="{v.width}" height="{v.height}" rx="{v.height / 2:.0f}" '
            f'fill="{IO_COLOUR}" stroke="#424242" stroke-width="1"/>'
            f'<text x="{v.x:.1f}" y="{v.y + 4:.1f}" text-anchor="middle" fill="#212121">{escape(v.label)}</text></g>')
