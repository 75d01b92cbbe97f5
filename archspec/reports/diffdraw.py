"""The diff as a two-column Graphviz diagram (`archspec diff A B --format dot|svg`).

A's rows on the left, B's on the right, in row order; paired rows side by side on one rank
and joined by a dotted line. Changed rows are highlighted (orange), rows only in B green,
rows only in A red, the same rows white. Labels go through render.escape, counts through
render.si, as in `archspec diagram`."""
from __future__ import annotations

from pathlib import Path

import graphviz

from ..errors import fmt_shape
from ..files import cannot_write, write_atomic
from ..names import file_stem
from . import render
from .diff import STATUS, Diff, Pair, delta
from .report import Row

FILL = {"=": "#ffffff", "~": "#f6b26b", "+": "#b6d7a8", "-": "#ea9999"}
BORDER = {"=": "#999999", "~": "#b45f06", "+": "#38761d", "-": "#990000"}


def _label(r: Row, p: Pair, other: Row | None) -> str:
    """Name, op, shape and counts; where the row changed, the counts' delta from the other side."""
    lines = [f"<B>{render.escape(r.name)}</B>", render.escape(r.op)]
    counts = " · ".join(filter(None, [fmt_shape(r.shape), f"{render.si(r.params)} params" if r.params else "",
                                      f"{render.si(r.macs)} MACs" if r.macs else ""]))
    lines.append(f'<FONT POINT-SIZE="9">{render.escape(counts)}</FONT>')
    if p.status == "~" and other is not None and r is p.b and (r.params, r.macs) != (other.params, other.macs):
        change = f"params {delta(other.params, r.params)}, MACs {delta(other.macs, r.macs)}"
        lines.append(f'<FONT POINT-SIZE="9" COLOR="#b45f06">{render.escape(change)}</FONT>')
    return "<" + "<BR/>".join(lines) + ">"


def _title(side: str, d: Diff) -> str:
    g = d.a if side == "a" else d.b
    sets = g.meta.get("sets") or []
    return f"<<B>{side.upper()}: {render.escape(g.name)}</B>" + \
        (f"<BR/>{render.escape('--set ' + ', '.join(sets))}" if sets else "") + ">"


def build(d: Diff) -> graphviz.Digraph:
    dot = graphviz.Digraph("diff", graph_attr={"rankdir": "TB", "newrank": "true", "nodesep": "0.6",
                                               "fontname": "Helvetica"},
                           node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                      "fontsize": "11"})
    last: dict[str, str] = {}
    for side in ("a", "b"):
        with dot.subgraph(name=f"cluster_{side}") as c:
            c.attr(label=_title(side, d), style="rounded", color="#cccccc")
            for i, p in enumerate(d.pairs):
                r, other = (p.a, p.b) if side == "a" else (p.b, p.a)
                if r is None:
                    continue
                nid = f"{side}{i}"
                c.node(nid, _label(r, p, other), fillcolor=FILL[p.status], color=BORDER[p.status],
                       tooltip=STATUS[p.status])
                if side in last:
                    c.edge(last[side], nid)
                last[side] = nid
    for i, p in enumerate(d.pairs):
        if p.a is not None and p.b is not None:
            with dot.subgraph() as s:
                s.attr(rank="same")
                s.node(f"a{i}")
                s.node(f"b{i}")
            dot.edge(f"a{i}", f"b{i}", style="dotted", arrowhead="none", color="#bbbbbb", constraint="false")
    legend = ("<<B>diff</B><BR/>white: same · orange: changed · green: only in B · red: only in A<BR/>" +
              "<BR/>".join(render.escape(f"{k}: {x:,} -> {y:,} ({delta(x, y)})") for k, (x, y) in d.totals().items())
              + ">")
    dot.node("__legend__", legend, shape="note", style="filled", fillcolor="#f3f3f3")
    return dot


def draw(d: Diff, path: Path | str | None, fmt: str) -> Path:
    """Write the diagram (svg, png, pdf, or the dot source) to `path`, default diff_<A>_<B>.<fmt>
    here (names reduced to letters, digits and _: never a path from a spec)."""
    path = Path(path or f"diff_{file_stem(d.a.name)}_{file_stem(d.b.name)}.{fmt}")
    dot = build(d)
    try:
        write_atomic(path, dot.source.encode() if fmt == "dot" else render._draw(render.Diagram([dot]), path, fmt))
    except OSError as e:
        raise cannot_write(path, e) from None
    return path
