"""``bench --plot``: grouped bars (host vs WebNN) for median latency and time to first
result. SVG is drawn here; PNG goes through matplotlib when it is installed."""

from __future__ import annotations

import importlib.util
from typing import Any
from xml.sax.saxutils import escape

from ._errors import CLIError
from ._ui import fmt_seconds

HOST_FILL, WEBNN_FILL = "#e65100", "#1565c0"
PANELS = (("median", "median latency"), ("time_to_first_result", "time to first result"))


def _label(r: dict[str, Any]) -> str:
    name = r["model"]
    if len(name) > 28:
        name = "\u2026" + name[-27:]
    return f"{r['framework']}: {name}"


def write_plot(path: str, results: list[dict[str, Any]]) -> None:
    if path.lower().endswith(".png"):
        if importlib.util.find_spec("matplotlib") is None:
            raise CLIError("--plot: PNG output needs matplotlib (pip install matplotlib); .svg works without it")
        _png(path, results)
    else:
        text = svg_chart(results)
        try:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise CLIError(f"cannot write {path}: {exc.strerror}") from None


def svg_chart(results: list[dict[str, Any]]) -> str:
    """Two panels side by side, one group of two bars per model, values on the bars."""
    bar_h, gap, label_w, panel_w = 16, 14, 230, 300
    panel_gap = 90
    group_h = 2 * bar_h + gap
    height = 70 + len(results) * group_h + 30
    width = label_w + 2 * (panel_w + panel_gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
           "<title>webnn bench</title>", f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           '<text x="16" y="24" font-size="15" font-weight="bold">webnn bench: host framework vs WebNN '
           "(shorter is better)</text>",
           f'<rect x="16" y="36" width="12" height="12" fill="{HOST_FILL}"/><text x="34" y="46">host framework</text>',
           f'<rect x="150" y="36" width="12" height="12" fill="{WEBNN_FILL}"/><text x="168" y="46">WebNN</text>']
    for pi, (key, title) in enumerate(PANELS):
        x0 = label_w + pi * (panel_w + panel_gap)
        top = 70
        out.append(f'<text x="{x0}" y="{top - 6}" font-weight="bold">{escape(title)}</text>')
        scale = max((max(r["host"][key], r["webnn"][key]) for r in results), default=1.0) or 1.0
        for gi, r in enumerate(results):
            y = top + gi * group_h
            if pi == 0:
                out.append(f'<text x="16" y="{y + bar_h + 4}">{escape(_label(r))}</text>')
            for bi, (path, fill) in enumerate((("host", HOST_FILL), ("webnn", WEBNN_FILL))):
                value = r[path][key]
                w = max(1.0, panel_w * value / scale)
                by = y + bi * bar_h
                out.append(f'<rect x="{x0}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" fill="{fill}">'
                           f"<title>{escape(path)}: {value:.6f} s</title></rect>")
                out.append(f'<text x="{x0 + w + 4:.1f}" y="{by + bar_h - 5}" font-size="11">'
                           f"{escape(fmt_seconds(value))}</text>")
        out.append(f'<line x1="{x0}" y1="{top - 2}" x2="{x0}" y2="{top + len(results) * group_h - gap}" '
                   'stroke="#9e9e9e"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _png(path: str, results: list[dict[str, Any]]) -> None:  # pragma: no cover - needs matplotlib
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [_label(r) for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(11, 1.2 + 0.7 * len(results)))
    for ax, (key, title) in zip(axes, PANELS):
        ys = range(len(results))
        ax.barh([y + 0.2 for y in ys], [r["host"][key] * 1e3 for r in results], 0.4, color=HOST_FILL,
                label="host framework")
        ax.barh([y - 0.2 for y in ys], [r["webnn"][key] * 1e3 for r in results], 0.4, color=WEBNN_FILL,
                label="WebNN")
        ax.set_yticks(list(ys), labels if ax is axes[0] else [""] * len(results))
        ax.set_xlabel(f"{title} (ms)")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
