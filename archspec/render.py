"""render: the graph IR as a Graphviz diagram (DOT, SVG, PNG, PDF).

The diagram is built from the same rows and rollups as `archspec summary`
(report.rows, report.rollup), so a box and its table row always agree. At
`depth` N the hierarchy is cut like summary's: every node deeper than N is
folded into its N-component prefix; a run of identical sibling blocks from
one repeat (layer3.1 ... layer3.5) becomes one "x5" box. Scopes above the cut
are clusters headed by their name, block and rolled-up counts.

Layout is left to Graphviz's `dot` binary through the `graphviz` package.
Neither this module nor the CLI path to it imports torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape as _escape
from pathlib import Path

import graphviz

from .errors import fmt_shape
from .files import cannot_write, write_atomic
from .ir import INPUT, Graph, Node, parent
from .names import file_stem, one_line
from .ops.conv import parse_table
from .report import CONVENTION, Row, depth_of, rollup, rows

FORMATS = ("svg", "png", "pdf", "dot")
BUDGET = 40          # boxes the automatic depth aims for: about one screen of dot layout
INSTALL_HINT = "install Graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz)"

LEGEND = "__legend__"
OUT_PREFIX = "__output__"

# fill colour per op family; merges also get their own shape (_MERGE)
_FILL = {
    "conv": "#cfe2f3", "linear": "#d9d2e9", "rbf": "#d9d2e9",
    "maxpool": "#d9ead3", "avgpool": "#d9ead3", "adaptive_avgpool": "#d9ead3",
    "global_avgpool": "#d9ead3", "subsample": "#d9ead3",
    "batchnorm": "#fff2cc", "lrn": "#fff2cc",
    "dropout": "#eeeeee", "flatten": "#eeeeee", "identity": "#eeeeee",
}
_MERGE = {   # op -> (shape, fill, border, edge colour): merges must stand out from the main path
    "add": ("ellipse", "#f9cb9c", "#b45f06", "#e69138"),
    "concat": ("invtrapezium", "#b6d7a8", "#38761d", "#38761d"),
    "mul": ("ellipse", "#ead1dc", "#a64d79", "#a64d79"),
}
_BLOCK_FILL, _RUN_FILL = "#fce5cd", "#f6b26b"
_MUTED = "#666666"


class DiagramError(Exception):
    """Graphviz could not draw the diagram (said in one line, never a traceback)."""


class DotMissing(DiagramError):
    """Graphviz's `dot` is not installed; the DOT source was written to `path` instead."""

    def __init__(self, path: Path, target: Path, fmt: str):
        super().__init__(f"Graphviz's `dot` was not found, so no {fmt} was drawn; wrote {path} instead: "
                         f"{INSTALL_HINT}, then run `dot -T{fmt} {path} -o {target}`")
        self.path = path


# -- the boxes at a depth ----------------------------------------------------

@dataclass
class Box:
    """One drawn box: a node, a collapsed scope, or a run of identical repeated scopes."""
    id: str                  # DOT node id: node name, scope path, or a run's first scope
    row: Row                 # counts (from report.rows; summed over a run)
    kind: str                # "node" | "scope" | "run"
    members: list[str] = field(default_factory=list)   # row names folded into this box


@dataclass
class View:
    graph: Graph
    depth: int               # 0: every node
    boxes: list[Box]
    owner: dict[str, str]    # node name -> box id

    @property
    def clusters(self) -> list[str]:
        """Every proper dotted prefix of a box: the scopes drawn as clusters, outermost first."""
        seen: dict[str, None] = {}
        for b in self.boxes:
            parts = b.id.split(".")
            for k in range(1, len(parts)):
                seen.setdefault(".".join(parts[:k]))
        return sorted(seen, key=depth_of)


def view(graph: Graph, depth: int = 0) -> View:
    """The boxes of the diagram at `depth` (0 = every node), from report.rows."""
    boxes = [Box(r.name, r, "node" if r.name in graph.nodes else "scope", [r.name]) for r in rows(graph, depth)]
    if depth:
        boxes = _merge_runs(graph, boxes, _signatures(graph, depth))
    alias = {m: b.id for b in boxes for m in b.members}
    owner = {n: alias[_unit(n, depth)] for n in graph.nodes}
    return View(graph, depth, boxes, owner)


def _unit(name: str, depth: int) -> str:
    """The row a node is counted in at `depth`: itself, or its depth-component prefix."""
    return ".".join(name.split(".")[:depth]) if depth and depth_of(name) > depth else name


def _signatures(graph: Graph, depth: int) -> dict[str, tuple]:
    """What a collapsed scope contains, as (relative name, op label) pairs: equal means identical blocks."""
    sigs: dict[str, list] = {}
    for n in graph.nodes.values():
        unit = _unit(n.name, depth)
        if unit != n.name:
            sigs.setdefault(unit, []).append((n.name[len(unit) + 1:], n.label))
    return {k: tuple(v) for k, v in sigs.items()}


def _merge_runs(graph: Graph, boxes: list[Box], sigs: dict) -> list[Box]:
    out, i = [], 0
    while i < len(boxes):
        end, members = _run_end(graph, boxes, i, sigs)
        if len(members) > 1:
            out.append(_run_box(boxes[i:end], len(members)))
            i = end
        else:
            out.append(boxes[i])
            i += 1
    return out


def _run_end(graph: Graph, boxes: list[Box], i: int, sigs: dict) -> tuple[int, list]:
    """The end index of the run of repeated identical sibling scopes starting at boxes[i].
    DenseNet's carried concats (concat(x, layer(x)) between the layers) belong to the run."""
    first = graph.scopes.get(boxes[i].id) if boxes[i].kind == "scope" else None
    if first is None or first.repeat is None:
        return i + 1, []
    members, j, carried = [first], i + 1, _entry(graph, first.path)
    while j < len(boxes):
        b, last = boxes[j], members[-1]
        if _is_carry(graph, b, last.output, carried):
            carried, j = b.id, j + 1
            continue
        s = graph.scopes.get(b.id) if b.kind == "scope" else None
        if not (s and (s.kind, s.block) == (first.kind, first.block) and s.repeat == (last.repeat or 0) + 1
                and parent(s.path) == parent(first.path) and sigs.get(s.path) == sigs.get(first.path)):
            break
        members.append(s)
        j += 1
    return j, members


def _entry(graph: Graph, path: str) -> str | None:
    """The tensor a scope reads: the first input of its first node from outside it."""
    for n in graph.nodes.values():
        if n.name.startswith(path + "."):
            return next((x for x in n.inputs if not x.startswith(path + ".")), None)
    return None


def _is_carry(graph: Graph, box: Box, produced: str | None, carried: str | None) -> bool:
    node = graph.nodes.get(box.id) if box.kind == "node" else None
    return bool(node and node.op.name == "concat" and len(node.inputs) == 2
                and set(node.inputs) == {carried, produced})


def _run_box(boxes: list[Box], count: int) -> Box:
    first, scopes = boxes[0], [b for b in boxes if b.kind == "scope"]
    params, buffers, macs, activations = (sum(getattr(b.row, f) for b in boxes)
                                          for f in ("params", "buffers", "macs", "activations"))
    name = f"{short_name(first.id)} – {short_name(scopes[-1].id)}"   # the cluster header has the rest
    row = Row(name, f"{first.row.op} ×{count}", boxes[-1].row.shape, params, buffers, macs, activations,
              first.row.depth)
    return Box(first.id, row, "run", [m for b in boxes for m in b.members])


def _deepest(graph: Graph) -> int:
    return max((depth_of(n) for n in graph.nodes), default=1)


def describe(v: View) -> str:
    """One line about what a view shows, for the CLI."""
    what = "every node" if not v.depth else f"depth {v.depth} of {_deepest(v.graph)}"
    return f"{what}, {len(v.boxes)} boxes, {len(v.clusters)} clusters"


def default_depth(graph: Graph) -> int:
    """The deepest cut whose diagram has at most BUDGET boxes (0 when every node fits)."""
    if len(graph.nodes) <= BUDGET:
        return 0
    best = 1
    for d in range(2, _deepest(graph)):
        if len(view(graph, d).boxes) > BUDGET:
            break
        best = d
    return best


# -- labels --------------------------------------------------------------------

def escape(text, quote: bool = True) -> str:
    """The one way text reaches a Graphviz HTML-like label: printable, one line, entities escaped."""
    return _escape(one_line(text, 300), quote=quote)


def si(v: int) -> str:
    """A count for a box: exact below 100,000 (LeNet's 1,516 reads as in the paper), else 25.6M, 4.09G."""
    if abs(v) < 100_000:
        return f"{v:,}"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return str(v)


def compact_shape(shape) -> str:
    return "×".join(map(str, shape)) if shape else "?"


def _small(text: str, colour: str = _MUTED) -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{colour}">{text}</FONT>'


def _counts(params: int, macs: int) -> str:
    parts = ([f"{si(params)} params"] if params else []) + ([f"{si(macs)} MACs"] if macs else [])
    return " · ".join(parts)


def short_name(name: str) -> str:
    """A node's name inside its cluster (whose header has the rest); an index keeps its parent."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() else parts[-1]


def node_label(node: Node) -> str:
    """Name (when the node has one), op label, output shape, params and MACs."""
    lines = [f"<B>{escape(short_name(node.name))}</B>"] if node.named else []
    lines.append(escape(node.label))
    tail = " · ".join(filter(None, [fmt_shape(node.shape), _counts(node.params, node.macs)]))
    lines.append(_small(tail))
    table = getattr(node.attrs, "connections", None)
    if table:
        return _table_label(lines, parse_table(table))
    return "<" + "<BR/>".join(lines) + ">"


def _table_label(lines: list[str], grid: tuple[str, ...]) -> str:
    """A partial connection table drawn as LeNet-5's Table I: rows = input maps, columns = output maps."""
    head = "<TR><TD></TD>" + "".join(f'<TD><FONT POINT-SIZE="8">{j}</FONT></TD>'
                                     for j in range(len(grid[0]))) + "</TR>"
    body = "".join(
        f'<TR><TD><FONT POINT-SIZE="8">{i}</FONT></TD>'
        + "".join(f'<TD BGCOLOR="{"#3d85c6" if c in "Xx" else "white"}"><FONT POINT-SIZE="8" COLOR="white">'
                  f'{"X" if c in "Xx" else " "}</FONT></TD>' for c in row) + "</TR>"
        for i, row in enumerate(grid))
    grid_html = (f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2">{head}{body}</TABLE>')
    cells = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines[:-1])
    caption = _small(f"connections: rows = input maps 0-{len(grid) - 1}, "
                     f"columns = output maps 0-{len(grid[0]) - 1}")
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1">{cells}<TR><TD>{caption}</TD></TR>'
            f"<TR><TD>{grid_html}</TD></TR><TR><TD>{lines[-1]}</TD></TR></TABLE>>")


def box_label(box: Box, graph: Graph) -> str:
    """A collapsed scope or run: its name, block (x count), arguments, output shape and rolled-up counts."""
    r = box.row
    name = r.name if box.kind == "run" else short_name(r.name)
    distinct = {repr(graph.scopes[m].args) for m in box.members if m in graph.scopes}   # a run's may differ
    lines = [f"<B>{escape(name)}</B>", escape(r.op),
             _args(graph.scopes[box.id].args) if box.id in graph.scopes and len(distinct) == 1 else "",
             _small(" · ".join(filter(None, [fmt_shape(r.shape), _counts(r.params, r.macs)])))]
    return "<" + "<BR/>".join(filter(None, lines)) + ">"


def _args(args: dict, width: int = 44) -> str:
    """A block's arguments as written in the spec (GoogLeNet's read like its Table 1), wrapped."""
    lines, line = [], ""
    for k, v in args.items():
        item = f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"     # a computed rate: 0.005882
        if line and len(line) + len(item) > width:
            lines.append(line.rstrip())
            line = ""
        line += item + ", "
    lines.append(line.rstrip(", "))
    return _small("<BR/>".join(escape(x, quote=False) for x in lines)) if args else ""


def cluster_label(path: str, graph: Graph, sums: dict) -> str:
    scope = graph.scopes.get(path)
    kind = graph.scope_label(path)
    params, _, macs, _ = sums.get(path, (0, 0, 0, 0))
    return _left([f"<B>{escape(path)}</B> · {escape(kind)}", _args(scope.args, 80) if scope else "",
                  _small(f"{si(params)} params · {si(macs)} MACs")])


def _left(lines: list[str], **table) -> str:
    """Left-aligned lines as an HTML-like label (a bare <BR/> label centres every line)."""
    attrs = {"BORDER": "0", "CELLBORDER": "0", "CELLSPACING": "0", "CELLPADDING": "1", **table}
    cells = "".join(f'<TR><TD ALIGN="LEFT">{line}</TD></TR>' for line in lines if line)
    return "<<TABLE " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + f">{cells}</TABLE>>"


def legend_label(v: View, shown: str) -> str:
    """Title, input and outputs, exact totals (the numbers `summary --json` gives) and the convention."""
    g = v.graph
    lines = [f'<FONT POINT-SIZE="14"><B>{escape(g.meta.get("title") or g.name)}</B></FONT>',
             *([_small(escape(g.meta["paper"]))] if g.meta.get("paper") else []),
             f"input {fmt_shape(g.input_shape)}"]
    for k, o in g.outputs.items():
        note = " (training only" + (f", loss weight {o.loss_weight:g}" if o.loss_weight else "") + ")"
        lines.append(f"output: {escape(k)} {fmt_shape(g.shape_of(o.node))}{note if o.train_only else ''}")
    lines += [f"params {g.params:,} trainable" + (f" (+ {g.buffers:,} in buffers)" if g.buffers else ""),
              f"MACs {g.macs:,} ({si(g.macs)}); FLOPs = 2 × MACs = {2 * g.macs:,}"]
    if any(o.train_only for o in g.outputs.values()):
        ev = g.eval_counts()
        lines.append(f"eval mode (training-only heads left out): params {ev['params']:,}, MACs {ev['macs']:,}")
    lines += [_small(escape(part, quote=False)) for part in CONVENTION.split("; ")]
    lines += [_small(shown), _small("orange ellipse = residual add (dashed orange edge: the shortcut); "
                                    "green funnel = concat; 3-d box = a collapsed block"),
              _small("×N = N identical blocks of one repeat, counts summed; dashed = training only; "
                     "edges carry tensor shapes")]
    return _left(lines, BORDER="1", COLOR="#999999", CELLPADDING="2")


# -- the DOT graph -------------------------------------------------------------

def build(graph: Graph, depth: int | None = None, direction: str = "TB") -> tuple[graphviz.Digraph, View]:
    """The diagram as a graphviz.Digraph, and the view (boxes, owners) it was drawn from."""
    auto = depth is None
    v = view(graph, default_depth(graph) if depth is None else depth)
    shown = "shown: every node" if not v.depth else (f"shown: depth {v.depth} of {_deepest(graph)}"
                                                     + (" (automatic)" if auto else "")
                                                     + "; --depth 0 draws every node")
    dot = graphviz.Digraph(graph.name, graph_attr={
        "rankdir": direction, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.3",
        "newrank": "true", "labeljust": "l"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "box",
                   "style": "rounded,filled", "fillcolor": "white", "margin": "0.12,0.04"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8", "fontcolor": _MUTED, "arrowsize": "0.6"})
    dot.node(LEGEND, legend_label(v, shown), shape="plaintext", style="")
    dot.node(INPUT, f"<<B>input</B><BR/>{fmt_shape(graph.input_shape)}>", shape="invhouse",
             fillcolor="#444444", fontcolor="white")
    _add_boxes(dot, v, graph.train_only_nodes())
    _add_edges(dot, v)
    _add_outputs(dot, v)
    return dot, v


def _add_boxes(dot: graphviz.Digraph, v: View, train: set[str]) -> None:
    """Boxes nested in their clusters, each cluster inside its parent, in the graph's order."""
    g, sums = v.graph, rollup(v.graph)
    inside: dict[str, list] = {}            # cluster path ("" = top) -> boxes and sub-clusters, in order
    for b in v.boxes:
        parts = b.id.split(".")
        for k in range(1, len(parts)):      # register each enclosing cluster at its first box
            path = ".".join(parts[:k])
            if path not in inside:
                inside[path] = []
                inside.setdefault(parent(path), []).append(path)
        inside.setdefault(parent(b.id), []).append(b)
    live = {p for n, owner in v.owner.items() if n not in train for p in _prefixes(owner)}

    def emit(target, path: str) -> None:
        for item in inside.get(path, []):
            if isinstance(item, Box):
                _add_box(target, item, g, item.id not in live)
                continue
            with target.subgraph(name=f"cluster_{item}") as c:
                c.attr(label=cluster_label(item, g, sums), style="rounded" + (",dashed" * (item not in live)),
                       color="#999999", fontname="Helvetica", fontsize="10")
                emit(c, item)
    emit(dot, "")


def _prefixes(name: str) -> list[str]:
    """`name` and every dotted prefix of it: layer1.0 -> [layer1, layer1.0]."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def _add_box(target, box: Box, g: Graph, dashed: bool) -> None:
    attrs = {}
    if box.kind == "node":
        node = g.nodes[box.id]
        label = node_label(node)
        if node.op.name in _MERGE:
            shape, fill, border, _ = _MERGE[node.op.name]
            attrs = {"shape": shape, "style": "filled,bold", "fillcolor": fill, "color": border}
        else:
            attrs = {"fillcolor": _FILL.get(node.op.name, "white")}
    else:
        label = box_label(box, g)
        attrs = {"shape": "box3d", "style": "filled", "margin": "0.15,0.1",     # room for the 3-d top
                 "fillcolor": _RUN_FILL if box.kind == "run" else _BLOCK_FILL}
    if dashed:   # training-only: drawn dashed and muted
        attrs["style"] = attrs.get("style", "rounded,filled") + ",dashed"
        attrs["fontcolor"] = _MUTED
    target.node(box.id, label, **attrs)


def _add_edges(dot: graphviz.Digraph, v: View) -> None:
    """One edge per (producer box, consumer box, tensor shape); merges colour the branches they join."""
    seen = set()
    for n in v.graph.nodes.values():
        dst = v.owner[n.name]
        merge = _MERGE.get(n.op.name) if dst == n.name else None
        for k, (src, shape) in enumerate(zip(n.inputs, n.in_shapes)):
            tail = v.owner.get(src, src)
            if tail == dst or (tail, dst, shape) in seen:
                continue
            seen.add((tail, dst, shape))
            attrs = {}
            if merge and (n.op.name != "add" or k > 0):   # an add's first input is the main path
                attrs = {"color": merge[3], "penwidth": "1.4"}
                if n.op.name == "add":
                    attrs["style"] = "dashed"              # the shortcut
            dot.edge(tail, dst, label=compact_shape(shape), **attrs)


def _add_outputs(dot: graphviz.Digraph, v: View) -> None:
    for name, o in v.graph.outputs.items():
        shape = v.graph.shape_of(o.node)
        note = "<BR/>" + _small("training only" + (f", loss × {o.loss_weight:g}" if o.loss_weight else ""),
                                "white") if o.train_only else ""
        style = "rounded,filled,dashed" if o.train_only else "rounded,filled"
        dot.node(OUT_PREFIX + name, f"<<B>{escape(name)}</B> {fmt_shape(shape)}{note}>", shape="house",
                 style=style, fillcolor="#999999" if o.train_only else "#444444", fontcolor="white")
        dot.edge(v.owner[o.node], OUT_PREFIX + name, label=compact_shape(shape))


# -- files ---------------------------------------------------------------------

def render(graph: Graph, path: Path | str | None = None, fmt: str = "svg", depth: int | None = None,
           direction: str = "TB") -> tuple[Path, View]:
    """Draw `graph` into `path` (default: <name>.<fmt> here). Raises DotMissing, having written the
    .dot source, when the Graphviz binary is not installed."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path or f"{file_stem(graph.name)}.{fmt}")     # never a path from the spec's text
    dot, v = build(graph, depth, direction)
    try:
        if fmt == "dot":
            write_atomic(path, dot.source.encode())
        else:
            write_atomic(path, _draw(dot, path, fmt))
    except OSError as e:
        raise cannot_write(path, e) from None
    return path, v


def _draw(dot: graphviz.Digraph, path: Path, fmt: str) -> bytes:
    """The laid-out diagram from Graphviz's `dot`; without it, the .dot source beside `path`."""
    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        fallback = path.with_suffix(".dot")
        write_atomic(fallback, dot.source.encode())
        raise DotMissing(fallback, path, fmt) from None
    except graphviz.CalledProcessError as e:
        message = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise DiagramError(f"dot failed: {message[-1] if message else e}") from None
