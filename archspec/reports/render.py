"""render: the graph IR as a Graphviz diagram (DOT, SVG, PNG, PDF).

The diagram is built from the same rows and rollups as `archspec summary`
(report.rows, report.rollup), so a box and its table row always agree. At
`depth` N the hierarchy is cut like summary's: every node deeper than N is
folded into its N-component prefix; a run of identical sibling blocks from
one repeat (layer3.1 ... layer3.5) becomes one "x5" box. Scopes above the cut
are clusters headed by their name, block and rolled-up counts.

Layout is left to Graphviz's `dot` binary through the `graphviz` package, imported only where a
DOT graph is built: the views (boxes, runs, glossary) serve the html viewer without it.
Neither this module nor the CLI path to it imports torch.
"""
from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from html import escape as _escape
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import did_you_mean
from ..files import cannot_write, write_atomic
from ..ir import INPUT, Graph, Node, parent
from ..limits import MAX_GLOSSARY_BOXES, MAX_PAGES
from ..names import file_stem, one_line
from ..ops.base import ChannelsLast
from ..ops.conv import parse_table
from .report import CONVENTION, Row, depth_of, past_lists, rollup, rows
from .skips import shortcuts

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf", "dot")
PAGED = ("png", "pdf")     # formats Graphviz would scale down when too large
BUDGET = 40          # boxes the automatic depth aims for: about one screen of dot layout
INSTALL_HINT = "install Graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz)"

LEGEND = "__legend__"
OUT_PREFIX = "__output__"
GLOSSARY = "__glossary__"
STUB = "__page__"     # where an edge crosses to another page of a split diagram
RANK_PX = 0.8 * 96   # the least one rank takes: a box's least height (0.5 in) and the rank gap (0.3 in), at 96 dpi
MAX_PX = 16_000      # the longest side drawn as one bitmap (Graphviz scales down past 32,767 px); longer: pages
CHAIN = 4            # ops a collapsed straight-line block may name in its box instead of a glossary entry

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
                         f"{INSTALL_HINT}, then run archspec again (or `dot -T{fmt} {path} -o {target}`)")
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
    expand: tuple[str, ...] = ()

    @property
    def clusters(self) -> list[str]:
        """Every proper dotted prefix of a box: the scopes drawn as clusters, outermost first."""
        seen: dict[str, None] = {}
        for b in self.boxes:
            for path in _prefixes(b.id)[:-1]:
                seen.setdefault(path)
        return sorted(seen, key=depth_of)


def unit_at(depth: int, expand: tuple[str, ...] = ()) -> Callable[[str], str]:
    """Node name -> the box it is drawn in: cut at `depth`, except inside scopes that an --expand
    glob matches, which open one level further (and further, while their children match too)."""
    def unit(name: str) -> str:
        parts = name.split(".")
        if not depth:
            return name
        k = depth
        while k < len(parts) and any(fnmatchcase(".".join(parts[:k]), p) for p in expand):
            k += 1
        return ".".join(parts[:k])
    return unit


def check_expand(graph: Graph, expand: tuple[str, ...]) -> None:
    """Every --expand glob must name at least one scope (a typo must not pass silently)."""
    for pattern in expand:
        if not any(fnmatchcase(path, pattern) for path in graph.scopes):
            hint = did_you_mean(pattern, graph.scopes)
            raise DiagramError(f"--expand {one_line(pattern, 80)!r} matches no block of {one_line(graph.name)}"
                               + (f"; {hint}" if hint else ""))


def view(graph: Graph, depth: int = 0, expand: tuple[str, ...] = (), sums: dict | None = None,
         fold: bool = True) -> View:
    """The boxes of the diagram at `depth` (0 = every node), from report.rows (`sums`: its rollup
    with elementwise, where one graph is viewed at several depths); `fold`: short chains as one box."""
    unit = past_lists(graph, unit_at(depth, expand))
    unit = folded(graph, unit, expand) if depth and fold else unit
    boxes = [Box(r.name, r, "node" if r.name in graph.nodes else "scope", [r.name])
             for r in rows(graph, unit=unit if depth else None, sums=sums)]
    if depth:
        boxes = _merge_runs(graph, boxes, _signatures(graph, unit))
    alias = {m: b.id for b in boxes for m in b.members}
    owner = {n: alias[unit(n)] for n in graph.nodes}
    return View(graph, depth, boxes, owner, expand)


def folded(graph: Graph, unit: Callable[[str], str], expand: tuple[str, ...]) -> Callable[[str], str]:
    """`unit`, but a short chain of ops the cut would draw op by op inside its block (DenseNet's
    transition: norm, relu, conv, pool) is one box naming them, as a collapsed dense block is one
    box; a block an --expand glob opens stays open."""
    inside: dict[str, bool] = {}      # scope -> every node of it drawn as itself, directly inside it
    for n in graph.nodes.values():
        p = parent(n.name)
        if p in graph.scopes:
            inside[p] = inside.get(p, True) and unit(n.name) == n.name
    fold = {p for p, alone in inside.items() if alone and chain(nodes_in(graph, p))
            and all(parent(n.name) == p for n in nodes_in(graph, p))
            and not any(fnmatchcase(p, pattern) for pattern in expand)}
    return lambda name: parent(name) if parent(name) in fold else unit(name)


def _signatures(graph: Graph, unit: Callable[[str], str]) -> dict[str, tuple]:
    """What a collapsed scope contains, as (relative name, op label) pairs: equal means identical
    blocks, but for a rate `p` (a schedule value: ConvNeXt's drop-path rate rises block by block;
    its stages still fold, the rate shown as a range)."""
    sigs: dict[str, list] = {}
    for n in graph.nodes.values():
        u = unit(n.name)
        if u != n.name:
            what = n.op.name if getattr(n.attrs, "p", None) is not None else n.label
            sigs.setdefault(u, []).append((n.name[len(u) + 1:], what))
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
    for n in graph.under(path)[:1]:
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


def deepest(graph: Graph) -> int:
    return max((depth_of(n) for n in graph.nodes), default=1)


def describe(v: View) -> str:
    """One line about what a view shows, for the CLI."""
    what = "every node" if not v.depth else f"depth {v.depth} of {deepest(v.graph)}"
    opened = f", expanded {', '.join(v.expand)}" if v.expand else ""
    return f"{what}{opened}, {len(v.boxes)} boxes, {len(v.clusters)} clusters"


def default_depth(graph: Graph, sums: dict | None = None) -> int:
    """The deepest cut whose diagram has at most BUDGET boxes (0 when every node fits)."""
    if len(graph.nodes) <= BUDGET:
        return 0
    best, sums = 1, sums or rollup(graph, elementwise=True)      # summed once, not once per depth tried
    for d in range(2, deepest(graph)):
        if len(view(graph, d, sums=sums, fold=False).boxes) > BUDGET:      # the depth the cut itself fits
            break
        best = d
    return best


# -- what a collapsed block is ---------------------------------------------------

def nodes_in(graph: Graph, path: str) -> list[Node]:
    """The nodes inside the scope `path` (indexed once per graph: never scopes x nodes). Read only."""
    return graph.under(path)


def chain(nodes: list[Node]) -> bool:
    """A short straight line of ops (conv -> bn -> relu): its box can name them all, no glossary needed."""
    names = {n.name for n in nodes}
    return (0 < len(nodes) <= CHAIN and all(n.op.name not in _MERGE for n in nodes)
            and all(not names & set(n.inputs) for n in nodes[:1])
            and all(n.inputs == [p.name] for p, n in zip(nodes, nodes[1:])))


def structure(graph: Graph, path: str) -> tuple:
    """A block's wiring and op kinds, widths, kernels and strides left out: inception3a and 4e share
    one, as do EfficientNet's 3x3 and 5x5 MBConv; a projection shortcut is another structure."""
    def rel(x: str) -> str:
        return x[len(path) + 1:] if x.startswith(path + ".") else "<in>"
    return (graph.scope_label(path),) + tuple(
        (rel(n.name), n.op.name, tuple(map(rel, n.inputs))) for n in nodes_in(graph, path))


def opened(graph: Graph, path: str) -> int:
    """The depth a glossary entry draws `path` at: one level open, more while that level is one box
    (an MBConv that only wraps its `block` sequence opens into the sequence)."""
    inside, depth = nodes_in(graph, path), depth_of(path) + 1
    bottom = max((depth_of(n.name) for n in inside), default=depth)
    while depth < bottom and len({unit_at(depth)(n.name) for n in inside}) == 1:
        depth += 1
    # at `bottom` every node is its own box: one box only when the block is one node, which opens to the end
    if len(inside) == 1 and depth >= bottom:
        depth = max(depth, deepest(graph))
    return depth


def merge_tags(nodes: list[Node]) -> list[str]:
    """What a collapsed box hides that defines the network: a residual add, a concatenation."""
    ops = {n.op.name for n in nodes}
    return [tag for op, tag in (("add", "⊕ residual"), ("concat", "⧺ concat"), ("mul", "⊗ gate")) if op in ops]


# -- labels --------------------------------------------------------------------

def escape(text, quote: bool = True) -> str:
    """The one way text reaches a Graphviz HTML-like label: printable, one line, entities escaped,
    backslashes doubled (Graphviz reads \\N, \\G and \\\\ in a label as escapes, even in HTML ones)."""
    return _escape(one_line(text, 300), quote=quote).replace("\\", "\\\\")


def si(v: int) -> str:
    """A count for a box: exact below 100,000 (LeNet's 1,516 reads as in the paper), else three
    significant digits, zeros kept: 25.6M, 11.0M, 4.09G, 128M (never 11M beside 10.8M)."""
    if abs(v) < 100_000:
        return f"{v:,}"
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(v) >= scale * 0.9995 or unit == "K":
            return f"{v / scale:#.3g}".rstrip(".") + unit
    return str(v)


def compact_shape(shape) -> str:
    if not shape:
        return "?"
    return "×".join(map(str, shape)) + (f" {shape.layout}" if isinstance(shape, ChannelsLast) else "")


def lines_label(lines: list[str]) -> str:
    """Centred lines as an HTML-like label, one table row each: Graphviz sizes a row by its own
    font, where <BR/> lines of two sizes overlap (the `_` of conv_relu struck the line below)."""
    cells = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines if line)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _small(text: str, colour: str = _MUTED) -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{colour}">{text}</FONT>'


def _counts(params: int, macs: int) -> str:
    parts = ([f"{si(params)} params"] if params else []) + ([f"{si(macs)} MACs"] if macs else [])
    return " · ".join(parts)


def short_name(name: str) -> str:
    """A node's name inside its cluster (whose header has the rest); an index keeps its parent."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if parts[-1].isdigit() else parts[-1]


def op_label(node: Node) -> str:
    """The op as the diagram names it: a conv with one group per input channel is `depthwise`
    (Xception's and MobileNet's 3x3: `depthwise conv 3x3, 728`, not `g728`)."""
    groups = getattr(node.attrs, "groups", 1)
    shape = node.in_shapes[0] if node.in_shapes else None
    channels = (shape[-1] if isinstance(shape, ChannelsLast) else shape[0]) if shape else None
    if node.op.name == "conv" and groups > 1 and groups == channels:
        return "depthwise " + node.label.replace(f", g{groups}", "")
    return node.label


def node_label(node: Node, name: str | None = None) -> str:
    """Name (when the node has one), op label, params and MACs (the shape is on its edges)."""
    lines = [f"<B>{escape(name or short_name(node.name))}</B>"] if node.named else []
    lines.append(escape(op_label(node)))
    counts = _counts(node.params, node.macs)
    lines.append(_small(counts) if counts else "")
    table = getattr(node.attrs, "connections", None)
    if table:
        return _table_label(lines, parse_table(table))
    return lines_label(lines)


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
    cells = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines[:-1] if line)
    caption = _small(f"connections: rows = input maps 0-{len(grid) - 1}, "
                     f"columns = output maps 0-{len(grid[0]) - 1}")
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1">{cells}<TR><TD>{caption}</TD></TR>'
            f"<TR><TD>{grid_html}</TD></TR><TR><TD>{lines[-1]}</TD></TR></TABLE>>")


def box_label(box: Box, graph: Graph, name: str | None = None) -> str:
    """A collapsed scope or run: its name, block (x count), what it hides (the ops of a short chain, or
    its residual add / concat), arguments, output shape and rolled-up counts."""
    r = box.row
    name = name or (r.name if box.kind == "run" else short_name(r.name))
    inside = nodes_in(graph, box.id)
    ops = " → ".join(map(op_label, inside)) if chain(inside) else ""      # the ops say what the args do
    what = ops or " · ".join(merge_tags([n for m in box.members for n in nodes_in(graph, m) or [graph.nodes[m]]]))
    args = run_args([graph.scopes[m].args for m in box.members if m in graph.scopes])
    lines = [f"<B>{escape(name)}</B>", escape(r.op),
             _small(escape(what), "#000000") if what else "",
             format_args(args) if box.id in graph.scopes and not ops else "",
             _small(_counts(r.params, r.macs)) if r.params or r.macs else ""]
    return lines_label(lines)


def run_args(each: list[dict]) -> dict:
    """The arguments of a run's blocks: one value where they agree, a range where a number differs
    (ConvNeXt's drop-path `p=0.0118–0.0353`), left out where anything else does."""
    out: dict = {}
    for key in each[0] if each else ():
        values = [args.get(key) for args in each]
        if all(v == values[0] for v in values):
            out[key] = values[0]
        else:
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(numbers) == len(values):
                out[key] = f"{min(numbers):.3g}–{max(numbers):.3g}"
    return out


def _arg_items(args: dict) -> list[str]:
    """Arguments as the papers write them: kernels 7x1, strides /2, padding left out beside a kernel."""
    def dims(v) -> str:
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, int) for x in v):
            return "x".join(map(str, v))
        return f"{v:.4g}" if isinstance(v, float) else str(v)      # a computed rate: 0.005882
    kernel = next((k for k in ("k", "kernel", "kernel_size") if k in args), None)
    items = []
    for k, v in args.items():
        if k in ("pad", "padding") and kernel:
            continue
        if k == kernel:
            v = v if isinstance(v, (list, tuple)) else [v, v]
            stride = args.get("stride", 1)
            items.append(dims(v) + (f"/{dims(stride)}" if stride not in (1, [1, 1]) else ""))
        elif k == "stride":
            if not kernel and v not in (1, [1, 1]):
                items.append(f"stride /{dims(v)}")
        else:
            items.append(f"{k}={dims(v)}")
    return items


def format_args(args: dict, width: int = 44) -> str:
    """A block's arguments (GoogLeNet's read like its Table 1), wrapped."""
    lines, line = [], ""
    for item in _arg_items(args):
        if line and len(line) + len(item) > width:
            lines.append(line.rstrip())
            line = ""
        line += item + ", "
    lines.append(line.rstrip(", "))
    return _small("<BR/>".join(escape(x, quote=False) for x in lines)) if args else ""


def cluster_label(path: str, graph: Graph, sums: dict, single: bool) -> str:
    """A cluster's header: name, block, arguments, and counts unless one box inside already shows them."""
    scope = graph.scopes.get(path)
    params, _, macs = sums.get(path, (0, 0, 0))[:3]
    block = f" · {escape(scope.block)}" if scope and scope.block else ""
    lines = [f"<B>{escape(path)}</B>{block}", format_args(scope.args, 40) if scope else "",
             "" if single else _small(_counts(params, macs))]
    # an empty cell as wide as the text, right of it: the frame is at least twice the text's width and
    # its boxes sit in the middle, so the main edge into the frame passes right of the header
    text = max((len(unescape(re.sub(r"<[^>]+>", "", part))) for line in lines
                for part in line.split("<BR/>")), default=0)
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR><TD WIDTH="{6 * text + 12}"></TD>'
            f'<TD>{_left(lines)[1:-1]}</TD></TR></TABLE>>')


def _left(lines: list[str], **table) -> str:
    """Left-aligned lines as an HTML-like label (a bare <BR/> label centres every line)."""
    attrs = {"BORDER": "0", "CELLBORDER": "0", "CELLSPACING": "0", "CELLPADDING": "1", **table}
    cells = "".join(f'<TR><TD ALIGN="LEFT" BALIGN="LEFT">{line}</TD></TR>' for line in lines if line)
    return "<<TABLE " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + f">{cells}</TABLE>>"


_SYMBOLS = {   # what the legend explains, only where the diagram draws it; one meaning per line style
    "add": "orange ellipse: residual add",
    "skip": "dashed edge: the shortcut (bypasses the other branch; into a concat: the carried input)",
    "concat": "green funnel: concat",
    "mul": "pink ellipse: product (a gate)",
    "block": "3-d box: a collapsed block (⊕ holds a skip, ⧺ a concat)",
    "run": "×N: N identical repeats, counts summed",
    "train": "dotted: training only",
    "glossary": "right: each block structure once, opened (sizes of the first one named)",
}
_SHAPES = "edges: tensor shapes (C×H×W)"


def legend_label(v: View, shown: str, drawn: set[str]) -> str:
    """Title, input and outputs, exact totals (the numbers `summary --json` gives), the convention,
    and the symbols the diagram uses."""
    g = v.graph
    lines = [f'<FONT POINT-SIZE="14"><B>{escape(g.meta.title or g.name)}</B></FONT>',
             *([_small(escape(g.meta.paper))] if g.meta.paper else []),
             f"input {compact_shape(g.input_shape)}"]
    for k, o in g.outputs.items():
        note = " (training only" + (f", loss weight {o.loss_weight:g}" if o.loss_weight else "") + ")"
        lines.append(f"output: {escape(k)} {compact_shape(g.shape_of(o.node))}{note if o.train_only else ''}")
    lines += [f"params {g.params:,} trainable" + (f" (+ {g.buffers:,} in buffers)" if g.buffers else ""),
              f"MACs {g.macs:,} ({si(g.macs)}); FLOPs = 2 × MACs = {2 * g.macs:,}"]
    if any(o.train_only for o in g.outputs.values()):
        ev = g.eval_counts()
        lines.append(f"eval mode (training-only heads left out): params {ev['params']:,}, MACs {ev['macs']:,}")
    lines += [_small(escape(part, quote=False)) for part in CONVENTION.split("; ")]
    lines += [_small(escape(shown, quote=False))]
    lines += [_small(escape(line, quote=False))
              for line in _wrap([text for key, text in _SYMBOLS.items() if key in drawn] + [_SHAPES], 84)]
    return _left(lines, BORDER="1", COLOR="#999999", CELLPADDING="2")


def _wrap(items: list[str], width: int) -> list[str]:
    """Short items joined with " · ", a new line before one would pass `width` characters."""
    out: list[str] = []
    for item in items:
        if out and len(out[-1]) + 3 + len(item) <= width:
            out[-1] += " · " + item
        else:
            out.append(item)
    return out


# -- the DOT graph -------------------------------------------------------------

@dataclass
class Canvas:
    """A DOT graph being drawn, and which legend symbols it has used so far."""
    dot: graphviz.Digraph
    drawn: set[str] = field(default_factory=set)
    train: set[str] = field(default_factory=set)     # the graph's training-only nodes (found once)
    sums: dict = field(default_factory=dict)          # report.rollup(graph, elementwise=True), summed once
    skips: dict = field(default_factory=dict)         # skips.shortcuts(graph): merge -> its shortcut input, found once
    tint: dict = field(default_factory=dict)          # box id -> (fill, border), over the op colours (diff)
    spine: set = field(default_factory=set)           # the main line's boxes (one `group`: drawn straight)


@dataclass
class Page:
    """One piece of a diagram too large to draw whole: the boxes it holds, and its place."""
    ids: set[str]
    number: int              # 1-based
    count: int
    where: dict[str, int]    # every box -> its page
    whole: View | None = None     # the view of the whole diagram, made once for every page
    sums: dict | None = None      # report.rollup(graph, elementwise=True), summed once for every page


@dataclass
class Diagram:
    """Graphs laid out one by one, then packed side by side (gvpack): the main graph first, the
    glossary beside it, so the glossary's clusters and headers never stretch the main graph's ranks."""
    parts: list[graphviz.Digraph]
    direction: str = "TB"
    panels: list[graphviz.Digraph] = field(default_factory=list)     # the glossary, packed first
    columns: int = 1                                                  # ... into this many columns

    @property
    def source(self) -> str:
        """One DOT graph holding every part as a subgraph (what `--format dot` writes): `dot` alone
        lays it out as one graph, the parts sharing ranks; archspec lays the parts out apart."""
        whole = digraph(self.parts[-1].name, self.direction)
        for part in self.parts + self.panels:
            whole.subgraph(part)
        return whole.source


def digraph(name: str, direction: str = "TB", order: int = 0) -> graphviz.Digraph:
    """An empty DOT graph with the diagrams' fonts and spacing; `order`: its place when packed."""
    # the `diagram` extra: only a DOT graph needs it
    import graphviz
    return graphviz.Digraph(name, graph_attr={
        "rankdir": direction, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.3",
        "newrank": "true", "labeljust": "l", "sortv": str(order)},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "box",
                   "style": "rounded,filled", "fillcolor": "white", "margin": "0.12,0.04"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8", "fontcolor": _MUTED, "arrowsize": "0.6"})


def build(graph: Graph, depth: int | None = None, direction: str = "TB", expand: tuple[str, ...] = (),
          page: Page | None = None, tint: dict[str, tuple[str, str]] | None = None) -> tuple[Diagram, View]:
    """The diagram (the main graph, and the glossary as a graph of its own), and the view (boxes,
    owners) it was drawn from; with `page`, only that page's boxes, and a stub for each edge to or
    from another page; with `tint` (box id -> fill, border: the diff's colours), no glossary."""
    check_expand(graph, expand)
    auto = depth is None
    sums = page.sums if page and page.sums else rollup(graph, elementwise=True)
    whole = page.whole if page and page.whole else view(graph, default_depth(graph, sums) if depth is None else depth,
                                                        expand, sums)
    v = whole if page is None else View(graph, whole.depth, [b for b in whole.boxes if b.id in page.ids],
                                        whole.owner, expand)
    shown = "shown: every node" if not v.depth else (f"shown: depth {v.depth} of {deepest(graph)}"
                                                     + (" (automatic)" if auto else "")
                                                     + "; --depth 0 draws every node, --expand PATH opens one")
    if page:
        shown += f"; page {page.number} of {page.count}"
    dot = digraph(graph.name, direction)
    canvas = Canvas(dot, train=graph.train_only_nodes(), sums=sums, skips=shortcuts(graph), tint=tint or {},
                    spine=spine(v))
    first = page is None or page.number == 1
    if first:
        dot.node(INPUT, "<<B>input</B>>", shape="invhouse",
                 fillcolor="#444444", fontcolor="white", group="spine")
    _add_boxes(canvas, v)
    owner, nodes = v.owner, list(graph.nodes.values())
    if page:
        owner = {n: box if box in page.ids else STUB + box for n, box in v.owner.items()}
        nodes = [n for n in nodes if owner[n.name] in page.ids
                 or any(owner.get(x) in page.ids or (x == INPUT and first) for x in n.inputs)]
        _add_stubs(dot, v, page, owner, nodes)
    _add_edges(canvas, graph, nodes, owner, {b.id for b in v.boxes if b.kind == "node"},
               lambda src: src if first else STUB + src,
               keep=None if page is None else lambda a, b: a in page.ids or b in page.ids or a == INPUT)
    _add_outputs(canvas, v)
    panels: list[graphviz.Digraph] = []
    columns = 1
    if first and tint is None:
        note, panels, columns = _add_glossary(canvas, v, direction)
        shown += note
    legend = digraph(LEGEND, direction, -1)       # a part of its own: its height stretches no rank
    legend.node(LEGEND, legend_label(v, shown, canvas.drawn), shape="plaintext", style="")
    return Diagram([legend, dot], direction, panels, columns), v


def spine(v: View) -> set[str]:
    """The boxes of the longest path to the main output: drawn in one Graphviz `group`, so the
    main line runs straight and side branches (aux heads, shortcuts) go around it."""
    g = v.graph
    main = next((o.node for o in g.outputs.values() if not o.train_only), None)
    if main is None or main not in v.owner:
        return set()
    preds = box_preds(g, list(g.nodes.values()), v.owner)
    level = levels([b.id for b in v.boxes], preds)
    out, at = set(), v.owner[main]
    while at in level:
        out.add(at)
        at = max((p for p in preds.get(at, ()) if p in level), key=lambda p: level[p], default="")
    return out


def _add_stubs(dot: graphviz.Digraph, v: View, page: Page, owner: dict[str, str], nodes: list[Node]) -> None:
    """Where an edge leaves this page or arrives from another: a small note naming the box and its page."""
    for n in nodes:
        for x in n.inputs:
            ends = (owner.get(x, INPUT), owner[n.name])
            if not any(e in page.ids for e in ends):
                continue
            for stub in (e for e in ends if e.startswith(STUB)):
                box = stub[len(STUB):]
                other = page.where.get(box, 1)
                arrow = "↑ from" if other < page.number else "↓ to"
                dot.node(stub, f"<{arrow} page {other}: <B>{escape(box)}</B>>", shape="note", style="filled",
                         fillcolor="#f3f3f3", fontsize="10")


def _add_boxes(canvas: Canvas, v: View) -> None:
    """Boxes nested in their clusters, each cluster inside its parent, in the graph's order. A cluster's
    header is its own label, above its first box: a header node beside the box bent the main line."""
    g, sums = v.graph, canvas.sums
    inside: dict[str, list] = {}            # cluster path ("" = top) -> boxes and sub-clusters, in order
    for b in v.boxes:
        for path in _prefixes(b.id)[:-1]:   # register each enclosing cluster at its first box
            if path not in inside:
                inside[path] = []
                inside.setdefault(parent(path), []).append(path)
        inside.setdefault(parent(b.id), []).append(b)
    live = {p for n, owner in v.owner.items() if n not in canvas.train for p in _prefixes(owner)}
    level = levels([b.id for b in v.boxes], box_preds(g, list(g.nodes.values()), v.owner))
    inside[""] = _in_sections(inside.get("", []), sections(g))

    def emit(target, path: str, items: list | None = None) -> None:
        items = inside.get(path, []) if items is None else items
        for item in items:
            if isinstance(item, Box):
                _add_box(canvas, target, item, g, item.id not in live)
                continue
            if isinstance(item, tuple):             # a section of the paper's figure: its title, its parts
                with target.subgraph(name=f"cluster_section {item[0]}") as c:
                    c.attr(label=f"<<B>{escape(item[0])}</B>>", fontsize="12", labelloc="t", labeljust="l",
                           style="rounded", color="#4a6f96", penwidth="1.5")
                    emit(c, "", item[1])
                continue
            with target.subgraph(name=f"cluster_{item}") as c:      # its header: the frame's own label
                single = len(inside[item]) == 1 and isinstance(inside[item][0], Box)
                c.attr(label=cluster_label(item, g, sums, single), fontsize="10", labelloc="t", labeljust="r",
                       fontcolor=_MUTED if item not in live else "black",
                       style="rounded" + (",dotted" * (item not in live)), color="#999999")
                emit(c, item)
        if path:
            for group in rank_groups([b.id for b in items if isinstance(b, Box)], level):
                _same_rank(target, group)
    emit(canvas.dot, "")


def sections(g: Graph) -> dict[str, str]:
    """Top-level node or block -> the section of the paper's figure it lies in. A paper table (`table:`)
    whose every row spans several nodes cuts the network into parts, each row one (Xception's entry,
    middle and exit flows); a table of single layers (GoogLeNet's Table 1) cuts nothing."""
    table = g.table
    rows = [] if table is None or table.rows == "segments" else table.rows
    spans = [(title, row.nodes) for entry in rows if isinstance(entry, dict) for title, row in entry.items()]
    if not spans or len(spans) != len(rows) or any(not names or len(names) < 2 for _, names in spans):
        return {}
    return {name: title for title, names in spans for name in names}


def _in_sections(items: list, where: dict[str, str]) -> list:
    """The top level's boxes and clusters, each run of those in one section gathered as (title, items)."""
    out: list = []
    for item in items:
        title = where.get((item.id if isinstance(item, Box) else item).split(".")[0])
        if title and out and isinstance(out[-1], tuple) and out[-1][0] == title:
            out[-1][1].append(item)
        else:
            out.append((title, [item]) if title else item)
    return out


def _same_rank(target, ids: list[str]) -> None:
    """Boxes side by side on one rank, left to right in the order given (invisible flat edges)."""
    if len(ids) < 2:
        return
    with target.subgraph() as s:
        s.attr(rank="same")
        for a, b in zip(ids, ids[1:]):
            s.edge(a, b, style="invis")


def box_preds(g: Graph, nodes: list[Node], owner: dict[str, str]) -> dict[str, set[str]]:
    """Drawn box -> the drawn boxes it reads from."""
    preds: dict[str, set[str]] = {}
    for n in nodes:
        dst = owner[n.name]
        preds.setdefault(dst, set()).update(owner[x] for x in n.inputs if x in owner and owner[x] != dst)
    return preds


def levels(ids: list[str], preds: dict[str, set[str]]) -> dict[str, int]:
    """Longest-path depth of each box from the first among `ids` (in topological order)."""
    level: dict[str, int] = {}
    for b in ids:
        level[b] = max((level[p] + 1 for p in preds.get(b, ()) if p in level), default=0)
    return level


def rank_groups(ids: list[str], level: dict[str, int]) -> list[list[str]]:
    """Boxes of one cluster at equal longest-path depth, in drawing order: the branches of an Inception
    module side by side, each step of each branch on one rank."""
    by: dict[int, list[str]] = {}
    for b in ids:
        by.setdefault(level[b], []).append(b)
    return [group for group in by.values() if len(group) > 1]


def _prefixes(name: str) -> list[str]:
    """`name` and every dotted prefix of it: layer1.0 -> [layer1, layer1.0]."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def _add_box(canvas: Canvas, target, box: Box, g: Graph, dashed: bool, id: str | None = None,
             name: str | None = None) -> None:
    attrs = {}
    if box.kind == "node":
        node = g.nodes[box.id]
        label = node_label(node, name)
        if node.op.name in _MERGE:
            shape, fill, border, _ = _MERGE[node.op.name]
            attrs = {"shape": shape, "style": "filled,bold", "fillcolor": fill, "color": border}
            canvas.drawn.add(node.op.name)
        else:
            attrs = {"fillcolor": _FILL.get(node.op.name, "white")}
        if id is None and node.name in g.outputs and g.outputs[node.name].node == node.name:
            attrs["peripheries"] = "2"      # the output box bears the output's name: no second box
    else:
        label = box_label(box, g, name)
        attrs = {"shape": "box3d", "style": "filled", "margin": "0.15,0.1",     # room for the 3-d top
                 "fillcolor": _RUN_FILL if box.kind == "run" else _BLOCK_FILL}
        if "⊕" in label:
            attrs["color"] = _MERGE["add"][2]
        canvas.drawn.update({"block"} | ({"run"} if box.kind == "run" else set()))
    if dashed:   # training-only: drawn dotted and muted (dashed is the shortcut's)
        attrs["style"] = attrs.get("style", "rounded,filled") + ",dotted"
        attrs["fontcolor"] = _MUTED
        canvas.drawn.add("train")
    if id is None and box.id in canvas.tint:
        attrs["fillcolor"], attrs["color"] = canvas.tint[box.id]
        attrs["penwidth"] = "2"
    if id is None and box.id in canvas.spine:
        attrs["group"] = "spine"
    target.node(id or box.id, label, **attrs)


def _add_edges(canvas: Canvas, g: Graph, nodes: list[Node], owner: dict[str, str], alone: set[str],
               outside: Callable[[str], str], keep: Callable[[str, str], bool] | None = None) -> None:
    """One edge per (producer box, consumer box, tensor shape); merges drawn as their own box (`alone`)
    colour the branches they join. `owner` maps a node to its drawn box; `outside` names the box of
    an input that is not drawn."""
    seen = set()
    for n in nodes:
        dst = owner[n.name]
        merge = _MERGE.get(n.op.name) if n.name in alone else None
        for k, (src, shape) in enumerate(zip(n.inputs, n.in_shapes)):
            tail = owner.get(src) or outside(src)
            if tail == dst or (tail, dst, shape) in seen or (keep and not keep(tail, dst)):
                continue
            seen.add((tail, dst, shape))
            attrs = {}
            skip = canvas.skips.get(n.name) == k           # found by structure (skips.py), not input order
            if merge and (n.op.name != "add" or skip):     # an add's other inputs are the main path
                attrs = {"color": merge[3], "penwidth": "1.4"}
            if merge and skip:
                attrs.update(style="dashed", weight="0")   # the shortcut (or carried input) bends, not the spine
                canvas.drawn.add("skip")
            canvas.dot.edge(tail, dst, label=compact_shape(shape), **attrs)


def _add_outputs(canvas: Canvas, v: View) -> None:
    """An output box per output, except where the box that computes it already bears its name
    (LeNet's `output: rbf 10`): that box is ringed instead."""
    ids = {b.id for b in v.boxes}
    for name, o in v.graph.outputs.items():
        shape = v.graph.shape_of(o.node)
        src = v.owner[o.node]
        if src not in ids:       # on another page
            continue
        if src == name == o.node:       # ringed by _add_box
            continue
        note = _small("training only" + (f", loss × {o.loss_weight:g}" if o.loss_weight else ""),
                      "white") if o.train_only else ""
        style = "rounded,filled,dotted" if o.train_only else "rounded,filled"
        canvas.dot.node(OUT_PREFIX + name, lines_label([f"<B>{escape(name)}</B>", note]), shape="house",
                        style=style, fillcolor="#999999" if o.train_only else "#444444", fontcolor="white")
        canvas.dot.edge(src, OUT_PREFIX + name, label=compact_shape(shape))


# -- the block glossary ----------------------------------------------------------

@dataclass
class Entry:
    """One block structure of the glossary: drawn once, from its first instance, one level open."""
    path: str
    also: list[str] = field(default_factory=list)     # the other blocks of the same structure
    carry: Node | None = None                          # DenseNet: the concat that follows each layer


def glossary(v: View) -> list[Entry]:
    """Each distinct structure among the view's collapsed blocks (and, inside those, their collapsed
    sub-blocks), in order of first appearance; short chains are named in their box instead, and a
    structure the main graph already draws open is left out."""
    g = v.graph
    entries: dict[tuple, Entry] = {}
    shown = {structure(g, c) for c in v.clusters}     # already drawn open in the main graph (--expand)
    todo = deque((b.id, b.members) for b in v.boxes if b.kind != "node")   # a run's members: scopes, carries
    while todo:
        path, members = todo.popleft()
        inside = nodes_in(g, path)
        if chain(inside):
            continue
        key = structure(g, path)
        if key in shown:
            continue
        if key in entries:
            entry = entries[key]
            entry.also += [m for m in members if m in g.scopes and m != entry.path]
            if entry.carry is None and strided(g, path) and not strided(g, entry.path):
                # drawn from a block that strides: where ResNet v1.5 puts the stride (the 3x3) shows
                entry.also = [entry.path] + [m for m in entry.also if m != path]
                entry.path = path
            continue
        carry = next((g.nodes[m] for m in members if m in g.nodes), None)
        entries[key] = Entry(path, [m for m in members if m in g.scopes and m != path], carry)
        cut = past_lists(g, unit_at(opened(g, path)))     # the boxes _draw_entry draws: never a list
        todo += [(c, [c]) for c in dict.fromkeys(cut(n.name) for n in inside) if c in g.scopes]
    return list(entries.values())


def strided(g: Graph, path: str) -> bool:
    """Some node of the block has a stride over 1."""
    return any(any(x > 1 for x in (s if isinstance(s, (list, tuple)) else [s]))
               for s in (getattr(n.attrs, "stride", 1) for n in nodes_in(g, path)) if s is not None)


def within_budget(g: Graph, entries: list[Entry]) -> list[Entry]:
    """The first entries whose boxes add up to at most MAX_GLOSSARY_BOXES: Graphviz lays out the
    glossary with the graph, so a block that opens into thousands of boxes is named, not drawn."""
    kept, total = [], 0
    for e in entries:
        cut = past_lists(g, unit_at(opened(g, e.path)))
        total += len({cut(n.name) for n in nodes_in(g, e.path)}) + (e.carry is not None)
        if total > MAX_GLOSSARY_BOXES:
            break
        kept.append(e)
    return kept


def _add_glossary(canvas: Canvas, v: View, direction: str) -> tuple[str, list[graphviz.Digraph], int]:
    """The glossary: one graph per block structure, in the order the network runs them, to be packed
    in reading order into as many columns as keep it about as tall as the main graph (each laid out
    alone: one panel's height stretches no other's ranks). Returns a note for the legend where
    structures were left out (MAX_GLOSSARY_BOXES), the panels, and the columns."""
    found = glossary(v)
    entries = within_budget(v.graph, found)
    note = (f"; the glossary draws {len(entries)} of {len(found)} block structures (at most "
            f"{MAX_GLOSSARY_BOXES:,} boxes)" if len(entries) < len(found) else "")
    if not entries:
        return note, [], 1
    canvas.drawn.add("glossary")
    panels, heights = [], []
    for i, entry in enumerate(entries):
        panel = digraph(f"{GLOSSARY}{i}", direction, i)
        heights.append(_draw_entry(replace(canvas, dot=panel), panel, v.graph, entry, f"{GLOSSARY}{i}/")[2])
        panels.append(panel)
    columns = max(1, min(len(panels), math.ceil(sum(heights) / max(_ranks(v), 1))))
    return note, panels, columns


def _draw_entry(canvas: Canvas, target, g: Graph, entry: Entry, prefix: str) -> tuple[str, str, int]:
    """One block's children as boxes, between its input and output; returns the input and output ids
    and its height in ranks."""
    path, depth = entry.path, opened(g, entry.path)
    nodes = nodes_in(g, path) + ([entry.carry] if entry.carry else [])
    cut = past_lists(g, unit_at(depth))     # a list of members is no box: each member is one, as in rows()
    owner = {n.name: prefix + (cut(n.name)[len(path) + 1:] if n is not entry.carry else "carry") for n in nodes}
    source, sink = prefix + "in", prefix + "out"
    scope, train = g.scopes[path], canvas.train
    also = _names(entry.also)
    head = [f"<B>{escape(g.scope_label(path))}</B> · as {escape(path)}", format_args(scope.args, 48),
            _small(escape(f"same structure: {also}")) if also else ""]
    live = {owner[n.name] for n in nodes if n.name not in train}
    dashed = set(owner.values()) - live       # boxes all of whose nodes are training-only
    with target.subgraph(name=f"cluster_{prefix}") as c:     # training-only parts dotted, as in the main graph
        c.attr(label=_left(head), style="rounded,filled" + (",dotted" * all(n.name in train for n in nodes)),
               fillcolor="white", color="#999999")
        c.node(source, "in", shape="plaintext", style="", fontcolor=_MUTED)
        inner = replace(g, nodes={n.name: n for n in nodes_in(g, path)})
        for row in rows(inner, unit=cut):      # the block's own rows: never a rollup of the whole graph
            if row.name.startswith(path + "."):
                kind, id = "node" if row.name in g.nodes else "scope", prefix + row.name[len(path) + 1:]
                _add_box(canvas, c, Box(row.name, row, kind, [row.name]), g, id in dashed, id,
                         row.name[len(path) + 1:])
        if entry.carry:
            _add_box(canvas, c, _node_box(entry.carry), g, owner[entry.carry.name] in dashed,
                     owner[entry.carry.name], "concat")
        level = levels(list(dict.fromkeys(owner.values())), box_preds(g, nodes, owner))
        for group in rank_groups(list(level), level):
            _same_rank(c, group)
        c.node(sink, "out", shape="plaintext", style="", fontcolor=_MUTED)
    _add_edges(canvas, g, nodes, owner, {n.name for n in nodes if cut(n.name) == n.name}, lambda src: source)
    exits = [entry.carry.name] if entry.carry else list(scope.outputs.values()) or [scope.output]
    for exit_node in exits:         # a block with several outputs: an edge from each
        canvas.dot.edge(owner[exit_node] if exit_node in owner else source, sink,
                        label=compact_shape(g.shape_of(exit_node) if exit_node else None))
    return source, sink, 4 + max(level.values(), default=0)


def _node_box(n: Node) -> Box:
    return Box(n.name, Row(n.name, n.label, n.shape, n.params, n.buffers, n.macs, n.activations,
                           depth_of(n.name)), "node")


def _names(paths: list[str], limit: int = 4) -> str:
    return ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


# -- files ---------------------------------------------------------------------

@dataclass
class Drawing:
    paths: list[Path]
    view: View
    split: str = ""          # where a large diagram was cut into pages ("" when drawn whole)


def render(graph: Graph, path: Path | str | None = None, fmt: str = "svg", depth: int | None = None,
           direction: str = "TB", expand: tuple[str, ...] = ()) -> Drawing:
    """Draw `graph` into `path` (default: <name>.<fmt> here). A bitmap or PDF that would be longer than
    MAX_PX is cut into pages at rank boundaries (<stem>-1.png, ...) rather than scaled down. Raises
    DotMissing, having written the .dot source, when the Graphviz binary is not installed."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path = Path(path or f"{file_stem(graph.name)}.{fmt}")     # never a path from the spec's text
    dot, v = build(graph, depth, direction, expand)
    try:
        if fmt == "dot":
            write_atomic(path, dot.source.encode())
            return Drawing([path], v)
        if fmt in PAGED:
            _check_pages(v, "at least ", math.ceil(_ranks(v) * RANK_PX / MAX_PX))    # before Graphviz lays it out
        count = _pages_needed(dot, path, direction) if fmt in PAGED else 1
        _check_pages(v, "", count)
        if count == 1:
            write_atomic(path, _draw(dot, path, fmt))
            return Drawing([path], v)
        return _render_pages(graph, v, path, fmt, depth, direction, expand, count)
    except OSError as e:
        raise cannot_write(path, e) from None


def _cuts(v: View, level: dict[str, int], n: int) -> list[int]:
    """n - 1 levels to cut at: near equal shares, preferring a level where an outer block begins
    (page 2 starts at layer3, not inside layer2.5)."""
    starts: dict[str, int] = {}
    for b in v.boxes:
        for p in _prefixes(b.id):
            starts.setdefault(p, level[b.id])
    score: dict[int, int] = {}
    for p, at in starts.items():
        score[at] = min(score.get(at, 99), depth_of(p))
    top = max(level.values()) + 1
    slack = max(1, top // (4 * n))
    cuts = []
    for k in range(1, n):
        ideal = k * top // n
        cuts.append(min(range(max(1, ideal - slack), min(top, ideal + slack + 1)),
                        key=lambda c: (score.get(c, 99), abs(c - ideal))))
    return sorted(set(cuts))


def _ranks(v: View) -> int:
    """The longest path through the boxes: the ranks Graphviz must lay out one after another."""
    return 1 + max(levels([b.id for b in v.boxes], box_preds(v.graph, list(v.graph.nodes.values()), v.owner))
                   .values(), default=0)


def _check_pages(v: View, bound: str, count: int) -> None:
    if count > MAX_PAGES:
        raise DiagramError(f"the diagram of {one_line(v.graph.name)} would need {bound}{count:,} pages of "
                           f"{MAX_PX:,} px ({len(v.boxes):,} boxes), over the limit of {MAX_PAGES} (MAX_PAGES): "
                           "draw it as svg, or collapse it with --depth")


def _pages_needed(dot: Diagram, path: Path, direction: str) -> int:
    """How many pages keep the long side of the layout within MAX_PX at 96 dpi (1 when it fits)."""
    width, height = map(float, _draw(dot, path, "plain").split(b"\n", 1)[0].split()[2:4])
    long = (width if direction == "LR" else height) * 96
    return max(1, math.ceil(long / MAX_PX))


def _render_pages(graph: Graph, v: View, path: Path, fmt: str, depth: int | None, direction: str,
                  expand: tuple[str, ...], count: int) -> Drawing:
    """Cut at rank boundaries (equal shares of the longest path), so every edge runs forward to a later
    page; more pages while any still would not fit. Pages are written only once all of them fit."""
    level = levels([b.id for b in v.boxes], box_preds(graph, list(graph.nodes.values()), v.owner))
    sums = rollup(graph, elementwise=True)
    for n in range(count, min(count + 8, MAX_PAGES + 1)):
        cuts = _cuts(v, level, n)
        where = {b: 1 + sum(level[b] >= c for c in cuts) for b in level}
        pages = [build(graph, depth, direction, expand,
                       Page({b for b, p in where.items() if p == k}, k, n, where, v, sums))[0]
                 for k in range(1, n + 1)]
        if all(_pages_needed(d, path, direction) == 1 for d in pages):
            break
    paths = [path.with_name(f"{path.stem}-{k}{path.suffix}") for k in range(1, n + 1)]
    drawn = [_draw(d, p, fmt) for d, p in zip(pages, paths)]
    for p, data in zip(paths, drawn):
        write_atomic(p, data)
    starts = [next(b.id for b in v.boxes if where[b.id] == k) for k in range(2, n + 1)]
    split = (f"split into {n} pages (one piece would be over {MAX_PX:,} px and scaled down): "
             + "; ".join(f"page {k} starts at {s}" for k, s in enumerate(starts, 2)))
    return Drawing(paths, v, split)


def _draw(diagram: Diagram, path: Path, fmt: str) -> bytes:
    """The laid-out diagram from Graphviz: each part by `dot`, packed side by side by `gvpack` (left to
    right; one under another where the graph runs LR), drawn by `neato -n2` at those positions.
    Without Graphviz, the .dot source beside `path`."""
    import graphviz
    try:
        if len(diagram.parts) == 1 and not diagram.panels:
            return diagram.parts[0].pipe(format=fmt)
        laid = [p.pipe(format="dot") for p in diagram.parts]
        if diagram.panels:      # the glossary in reading order, then as one part after the others
            panels = b"".join(p.pipe(format="dot") for p in diagram.panels)
            laid.append(_gvpack(panels, _array(diagram.direction, diagram.columns), f"-Gsortv={len(laid)}"))
        return graphviz.pipe("neato", fmt, _gvpack(b"".join(laid), _array(diagram.direction, len(laid))),
                             neato_no_op=2, quiet=True)
    except (graphviz.ExecutableNotFound, FileNotFoundError):
        fallback = path.with_suffix(".dot")
        write_atomic(fallback, diagram.source.encode())
        raise DotMissing(fallback, path, fmt) from None
    except graphviz.CalledProcessError as e:
        message = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        raise DiagramError(f"dot failed: {message[-1] if message else e}") from None


def _array(direction: str, count: int) -> str:
    """gvpack's array: `count` columns in `sortv` order, tops aligned (LR: `count` rows, left aligned)."""
    return f"-array_ucl{count}" if direction == "LR" else f"-array_ut{count}"


def _gvpack(laid: bytes, array: str, *more: str) -> bytes:
    """Graphviz's gvpack over graphs already laid out: kept as laid, placed in an array by `sortv`."""
    import subprocess
    run = subprocess.run(["gvpack", array, "-m", "24", *more], input=laid, capture_output=True, check=False)
    if run.returncode:
        message = run.stderr.decode(errors="replace").strip().splitlines()
        raise DiagramError(f"gvpack failed: {message[-1] if message else run.returncode}")
    return run.stdout
