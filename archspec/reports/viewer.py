"""viewer: `archspec diagram --format html`, one self-contained interactive page.

The page holds the model as JSON (every node with its shape, counts, attributes
and weight shapes; every scope with its rolled-up counts) and the viewer's own
JavaScript and CSS from archspec/reports/assets, inline: it opens from disk with no
network access. Layout happens in the browser, by elkjs (ELK's layered algorithm over the open
blocks nested as compound nodes, edges routed around the boxes; assets/elk.bundled.js, version
ELK_VERSION, EPL-2.0, its licence in assets/elk.LICENSE.md), so any combination of open and closed
blocks is drawn without precomputing one Graphviz layout per expansion state (a block that is one
column of boxes, most of DenseNet's and ResNet's, the page lays out itself: ELK's cost per graph).

Spec text reaches the page only as JSON inside <script type="application/json">
with `<`, `>` and `&` escaped (so `</script>` cannot end it), and the script
puts it on screen only through textContent and setAttribute, never innerHTML.
"""
from __future__ import annotations

import json
from fnmatch import fnmatchcase
from html import escape
from importlib import resources
from pathlib import Path

from ..files import write_atomic
from ..ir import Graph
from ..names import file_stem, one_line
from .render import deepest, short_name, unit_at, view
from .report import CONVENTION, layout, rollup
from .skips import flags

ELK_VERSION = "0.12.1"      # assets/elk.bundled.js: `npm pack elkjs@0.12.1`, lib/elk.bundled.js as published


def model(graph: Graph, depth: int, expand: tuple[str, ...] = ()) -> dict:
    """What the page shows: nodes in graph order, scopes with counts, and the scopes open at first:
    those the static diagram draws open (above the cut at `depth`, or opened by --expand globs) that
    hold blocks (`opened`)."""
    sums, train, skip = rollup(graph), graph.train_only_nodes(), flags(graph)
    return {
        "name": graph.name, "title": graph.meta.title or graph.name, "paper": graph.meta.paper,
        "input": list(graph.input_shape), "convention": CONVENTION,
        "totals": {"params": graph.params, "buffers": graph.buffers, "macs": graph.macs},
        "outputs": [{"name": k, "node": o.node, "train_only": o.train_only} for k, o in graph.outputs.items()],
        "nodes": [{"name": n.name, "op": n.op.name, "label": n.label, "shape": list(n.shape or ()), **layout(n.shape),
                   "params": n.params, "buffers": n.buffers, "macs": n.macs, "inputs": n.inputs,
                   "skip": skip[n.name],     # per input: the shortcut or carried input (skips.py)
                   "attrs": _attrs(n.attrs), "train_only": n.name in train,
                   "weights": [{"key": t.key or n.name.rsplit(".", 1)[-1], "shape": list(t.shape), "buffer": t.buffer}
                               for t in n.tensors]}
                  for n in graph.nodes.values()],
        "scopes": [{"path": s.path, "block": graph.scope_label(s.path), "args": {k: str(v) for k, v in s.args.items()},
                    "params": sums.get(s.path, [0] * 4)[0], "buffers": sums.get(s.path, [0] * 4)[1],
                    "macs": sums.get(s.path, [0] * 4)[2],
                    "shape": list(graph.shape_of(s.output) or ()) if s.output in graph.nodes else [],
                    **layout(graph.shape_of(s.output) if s.output in graph.nodes else None)}
                   for s in graph.scopes.values()],
        "open": opened(graph, depth, expand),
        "runs": runs(graph),
    }


def opened(graph: Graph, depth: int, expand: tuple[str, ...]) -> list[str]:
    """The blocks open at first: those the cut at `depth` (or an --expand glob) passes below, except a
    block of plain ops that no glob names: it starts closed, as its sibling blocks' own blocks do
    (DenseNet's transitions beside its dense blocks, each dense layer closed in its run)."""
    unit, holders = unit_at(depth, expand), {s.rsplit(".", 1)[0] for s in graph.scopes if "." in s}
    named = lambda s: any(fnmatchcase(s, p) for p in expand)      # noqa: E731
    return [s for s in graph.scopes if not depth or (len(unit(s + ".x")) > len(s) and (s in holders or named(s)))]


def runs(graph: Graph) -> list[dict]:
    """Every run of identical repeated sibling blocks, as the static diagram merges them into one "×N"
    box (layer1.0 – layer1.2, basic ×3), at each depth: the viewer draws one box until it is opened."""
    out, sums = [], rollup(graph, elementwise=True)
    for depth in range(1, deepest(graph)):
        for b in view(graph, depth, sums=sums).boxes:
            if b.kind == "run":
                scopes = [m for m in b.members if m in graph.scopes]
                out.append({"id": f"{b.id} – {short_name(scopes[-1])}", "name": b.row.name, "members": b.members,
                            "block": b.row.op, "shape": list(b.row.shape or ()), **layout(b.row.shape),
                            "params": b.row.params, "buffers": b.row.buffers, "macs": b.row.macs})
    return out


def _attrs(attrs) -> dict[str, str]:
    """An op's attributes as text (tuples read 7x7 would hide which is which: kept as written)."""
    fields = getattr(attrs, "model_dump", None)
    items = fields().items() if fields else vars(attrs).items() if hasattr(attrs, "__dict__") else ()
    return {k: str(v) for k, v in items if v is not None}


def script_json(data: dict) -> str:
    """JSON that can sit inside a <script> element: no `</script>`, `<!--` or `&` can appear raw."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("archspec.reports").joinpath("assets").joinpath(name).read_text(encoding="utf-8")


def page(graph: Graph, depth: int, expand: tuple[str, ...] = ()) -> str:
    title = escape(one_line(graph.meta.title or graph.name))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title} · archspec</title>\n<style>\n{_asset('viewer.css')}</style></head>\n<body>\n"
            f"{_asset('viewer.html')}"
            f'<script type="application/json" id="model">{script_json(model(graph, depth, expand))}</script>\n'
            f'<script id="elk">\n// elkjs {ELK_VERSION} (Eclipse Layout Kernel), EPL-2.0: its licence ships as '
            f'archspec/reports/assets/elk.LICENSE.md\n{_asset("elk.bundled.js")}</script>\n'
            f"<script>\n{_asset('viewer.js')}</script>\n</body></html>\n")


class Inline:
    """The viewer of one graph inside a notebook: Jupyter shows `_repr_html_`, the page in an
    <iframe srcdoc> (its ids, styles and script stay apart from the notebook's; a saved notebook
    keeps it working offline). Depth as `archspec diagram` picks it unless given."""

    def __init__(self, graph: Graph, depth: int | None = None, expand: tuple[str, ...] = (), height: int = 640):
        from .render import default_depth
        self.graph, self.expand, self.height = graph, tuple(expand), int(height)
        self.depth = default_depth(graph) if depth is None else depth

    def _repr_html_(self) -> str:
        doc = escape(page(self.graph, self.depth, self.expand), quote=True)
        return (f'<iframe class="archspec-viewer" title="{escape(one_line(self.graph.name))} · archspec viewer" '
                f'style="width: 100%; height: {self.height}px; border: 1px solid #ddd" srcdoc="{doc}"></iframe>')


def write(graph: Graph, path: Path | str | None, depth: int, expand: tuple[str, ...] = ()) -> Path:
    return write_atomic(Path(path or f"{file_stem(graph.name)}.html"), page(graph, depth, expand))
