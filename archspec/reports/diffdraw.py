"""The diff as a diagram (`archspec diff A B --format dot|svg|png|pdf`): each side's real graph.

Each side is drawn as `archspec diagram` draws it (render.build: the same boxes, runs, clusters,
edges and shortcuts, so every edge drawn is an edge of that graph), at one block-level depth that
fits a page, side by side. A box is coloured by what the diff says of the nodes it holds: white
all the same, orange changed, green only in B, red only in A. The first block of each structure
that changed inside (SE-ResNet-50's bottlenecks gain an SE branch) is drawn open, so what was
added stands out as green boxes on their own edges.
"""
from __future__ import annotations

from pathlib import Path

import graphviz

from ..files import cannot_write, write_atomic
from ..ir import Graph
from ..names import file_stem
from . import render
from .diff import Diff, align, delta
from .report import rows

FILL = {"=": "#ffffff", "~": "#f6b26b", "+": "#b6d7a8", "-": "#ea9999"}
BORDER = {"=": "#999999", "~": "#b45f06", "+": "#38761d", "-": "#990000"}
OPEN = 1        # changed blocks drawn open at most: each adds a block's boxes to the page


def node_status(d: Diff) -> tuple[dict[str, str], dict[str, str]]:
    """Each node of A and of B -> '=' same, '~' changed, '-' only in A, '+' only in B (the diff's
    own alignment, node by node, whatever depth its table was cut at)."""
    pairs = d.pairs if not d.depth else align(d.a, rows(d.a), d.b, rows(d.b))
    a = {p.a.name: p.status for p in pairs if p.a is not None}
    b = {p.b.name: p.status for p in pairs if p.b is not None}
    return a, b


def box_status(v: render.View, status: dict[str, str]) -> dict[str, str]:
    """A drawn box's status: its nodes' one status where they share it, else changed."""
    inside: dict[str, set[str]] = {}
    for name, box in v.owner.items():
        inside.setdefault(box, set()).add(status.get(name, "="))
    return {box: next(iter(s)) if len(s) == 1 else "~" for box, s in inside.items()}


def depth_of_diff(d: Diff) -> int:
    """--depth where given; else the deepest cut at which both sides fit render.BUDGET boxes (a small
    network, whose every node fits, does not force the other to its every node)."""
    if d.depth is not None:
        return d.depth
    depths = [render.default_depth(g) for g in (d.a, d.b)]
    return min((x for x in depths if x), default=0)


def opened(d: Diff, depth: int) -> tuple[str, ...]:
    """The first changed block of each pair of differing structures (in B's order), at most OPEN."""
    if not depth:
        return ()
    out: dict[tuple, str] = {}
    for box in render.view(d.b, depth).boxes:
        path = box.id
        if box.kind == "node" or path not in d.a.scopes:
            continue
        key = (render.structure(d.a, path), render.structure(d.b, path))
        if key[0] != key[1] and key not in out and len(out) < OPEN:
            out[key] = path
    return tuple(out.values())


def statuses(d: Diff, depth: int, expand: tuple[str, ...]) -> tuple[render.View, dict, render.View, dict]:
    """Both sides' views and box statuses; a block the same on one side but changed on the other
    (A's bottleneck, whose B twin gained an SE branch) is changed on both."""
    sa, sb = node_status(d)
    va, vb = (render.view(g, depth, tuple(p for p in expand if p in g.scopes)) for g in (d.a, d.b))
    ba, bb = box_status(va, sa), box_status(vb, sb)
    for box in ba.keys() & bb.keys():
        if "~" in (ba[box], bb[box]) and box in d.a.scopes and box in d.b.scopes:
            ba[box] = bb[box] = "~"
    return va, ba, vb, bb


def _side(v: render.View, status: dict[str, str], order: int, title: str) -> graphviz.Digraph:
    """One side's main graph, every box coloured by its status, framed under its title."""
    g = v.graph
    tint = {box: (FILL[s], BORDER[s]) for box, s in status.items()}
    diagram, _ = render.build(g, v.depth, "TB", v.expand, tint=tint)
    main = next(p for p in diagram.parts if p.name == g.name)
    main.name = f"cluster_{order}"
    main.attr(label=title, labelloc="t", fontsize="14", style="rounded", color="#cccccc")
    side = render.digraph(f"side{order}", "TB", order)
    side.subgraph(main)
    return side


def _title(side: str, g: Graph) -> str:
    sets = g.meta.sets or []
    return f"<<B>{side}: {render.escape(g.name)}</B>" + \
        (f"<BR/>{render.escape('--set ' + ', '.join(sets))}" if sets else "") + ">"


def build(d: Diff) -> render.Diagram:
    """The legend, then A's graph and B's, each laid out alone and packed side by side."""
    depth = depth_of_diff(d)
    expand = opened(d, depth)
    va, ba, vb, bb = statuses(d, depth, expand)
    legend = render.digraph("diff_legend", "TB", 0)
    lines = ["<B>diff</B>", "white: same · orange: changed · green: only in B · red: only in A",
             *(render.escape(f"{k}: {x:,} -> {y:,} ({delta(x, y)})") for k, (x, y) in d.totals().items()),
             render.escape(("every node" if not depth else f"depth {depth}")
                           + (f"; opened: {', '.join(expand)}" if expand else ""))]
    legend.node("__legend__", "<" + "<BR/>".join(lines) + ">", shape="note", style="filled", fillcolor="#f3f3f3")
    return render.Diagram([legend, _side(va, ba, 1, _title("A", d.a)), _side(vb, bb, 2, _title("B", d.b))])


def draw(d: Diff, path: Path | str | None, fmt: str) -> Path:
    """Write the diagram (svg, png, pdf, or the dot source) to `path`, default diff_<A>_<B>.<fmt>
    here (names reduced to letters, digits and _: never a path from a spec)."""
    path = Path(path or f"diff_{file_stem(d.a.name)}_{file_stem(d.b.name)}.{fmt}")
    diagram = build(d)
    try:
        write_atomic(path, diagram.source.encode() if fmt == "dot" else render._draw(diagram, path, fmt))
    except OSError as e:
        raise cannot_write(path, e) from None
    return path
