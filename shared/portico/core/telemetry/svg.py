"""A small SVG drawing of the service graph: services in columns by call depth, arrows labelled with figures.

Self-contained on purpose (no graphviz): the graph of a mesh is shallow, and a layered layout reads well.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from portico.core.telemetry.graph import GraphEdge, edge_label

_BOX_W, _BOX_H, _MIN_COL_GAP, _ROW_GAP, _MARGIN = 170, 44, 150, 40, 30
_CHAR_W = 7  # a generous average advance of 12px sans-serif, so a label never runs under the boxes it joins


def _layers(edges: Sequence[GraphEdge]) -> dict[str, int]:
    """Depth of each service: the longest call path reaching it (cycles cut after as many steps as nodes)."""
    nodes = sorted({e.source for e in edges} | {e.destination for e in edges})
    depth = dict.fromkeys(nodes, 0)
    for _ in range(len(nodes)):
        changed = False
        for e in edges:
            if e.source != e.destination and depth[e.destination] < depth[e.source] + 1 <= len(nodes):
                depth[e.destination] = depth[e.source] + 1
                changed = True
        if not changed:
            break
    return depth


def to_svg(edges: Sequence[GraphEdge], title: str = "Portico service graph") -> str:
    depth = _layers(edges)
    gap = max([_MIN_COL_GAP, *(len(edge_label(e)) * _CHAR_W + 30 for e in edges)])
    columns: dict[int, list[str]] = {}
    for name in sorted(depth):
        columns.setdefault(depth[name], []).append(name)
    pos: dict[str, tuple[int, int]] = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            pos[name] = (_MARGIN + col * (_BOX_W + gap), _MARGIN + 30 + row * (_BOX_H + _ROW_GAP))
    width = _MARGIN * 2 + max(len(columns), 1) * (_BOX_W + gap)
    rows = max((len(n) for n in columns.values()), default=1)
    height = _MARGIN * 2 + 30 + rows * (_BOX_H + _ROW_GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        f'<text x="{_MARGIN}" y="{_MARGIN}" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for e in edges:
        (x1, y1), (x2, y2) = pos[e.source], pos[e.destination]
        colour = "#c0392b" if e.error_rate >= 0.05 else "#555"
        if e.source == e.destination:
            continue
        sx, sy, ex, ey = float(x1 + _BOX_W), y1 + _BOX_H / 2, float(x2), y2 + _BOX_H / 2
        if x2 <= x1:  # a call back to an earlier column: go around below
            sx, ex = x1 + _BOX_W / 2, x2 + _BOX_W / 2
            sy, ey = y1 + _BOX_H, y2 + _BOX_H
        out.append(
            f'<line class="edge" x1="{sx}" y1="{sy}" x2="{ex}" y2="{ey}" stroke="{colour}" stroke-width="1.5" '
            'marker-end="url(#arrow)"/>'
        )
        out.append(
            f'<text x="{(sx + ex) / 2}" y="{(sy + ey) / 2 - 6}" text-anchor="middle" fill="{colour}">'
            f"{escape(edge_label(e))}</text>"
        )
    for name, (x, y) in sorted(pos.items()):
        out.append(
            f'<g class="node"><rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="#eef3fb" '
            f'stroke="#2c5aa0"/><text x="{x + _BOX_W / 2}" y="{y + _BOX_H / 2 + 4}" text-anchor="middle">'
            f"{escape(name)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
