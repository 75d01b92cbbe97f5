"""A paper's table from the spec's `table:` declaration (`archspec summary --format paper`).

Each row names a node or block (or spans several nodes with `nodes:`); each column is a
built-in value computed over the row's nodes, or NODE.ATTR, an attribute of a node under
the row. Counts come from the same Node figures as every other report."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import Diagnostic, Diagnostics, Loc, SpecErrors, did_you_mean
from ..frontend.expand import expand
from ..frontend.spec import TABLE_VALUES, TableColumn, TableDef, TableRow, load_spec
from ..ir import Graph, Node
from ..limits import MAX_TABLE_CONFIGURATIONS, MAX_TABLE_NODES, MAX_TABLE_READS, MAX_TABLE_ROWS
from ..names import one_line

UNITS = {"K": 1, "M": 2, "G": 3}
WEIGHTED = ("conv", "linear")         # the layers a paper's "depth" counts
WINDOWED = ("conv", "maxpool", "avgpool")
MERGES = ("concat", "add", "mul")
WORDS = {"conv": "convolution", "maxpool": "max pool", "avgpool": "avg pool", "global_avgpool": "avg pool"}


@dataclass
class TableRowSpan:
    name: str
    row: TableRow
    nodes: list[Node]
    prefix: str          # where NODE.ATTR values are found: the row's block, or the top for a span
    loc: Loc | None


def _under(graph: Graph, names: set[str]) -> dict[str, list[Node]]:
    """Each name's node, or every node of its block or group, in graph order (Graph.under: a row
    per block is linear, not rows x nodes)."""
    return {n: [graph.nodes[n]] if n in graph.nodes else graph.under(n) for n in names}


POOLS = ("maxpool", "avgpool", "adaptive_avgpool", "global_avgpool", "subsample")


def segments(graph: Graph) -> list[TableRowSpan]:
    """The paper's rows of a plain chain (VGG's Table 1): a run of convolutions (with what lies
    between them), each pooling layer, each linear layer; rows that show no layer left out."""
    runs: list[list[Node]] = [[]]
    for n in graph.inference_nodes():
        alone = n.op.name in POOLS or n.op.name == "linear"
        if alone or (runs[-1] and runs[-1][-1].op.name in POOLS + ("linear",)):
            runs.append([])
        runs[-1].append(n)
    return [TableRowSpan(run[0].name, TableRow(), run, "", None) for run in runs if _layers(run)]


def _rows(graph: Graph, table: TableDef, raw, diags: Diagnostics) -> list[TableRowSpan]:
    if table.rows == "segments":
        return segments(graph)
    out = []
    rows_raw = raw.get("rows") if raw is not None else None
    entries = []
    for i, entry in enumerate(table.rows):
        loc = rows_raw.at(i) if rows_raw is not None else None
        if isinstance(entry, str):
            entries.append((entry, TableRow(), loc))
        elif len(entry) != 1:
            diags.error(loc, "a table row is a node name, or one mapping NAME: {nodes, text, values}")
        else:
            (name, row), = entry.items()
            entries.append((name, row, loc))
    under = _under(graph, {part for name, row, _ in entries for part in (row.nodes or [name])})
    known: list[str] = []       # the names a hint may offer, listed once for all misspelt rows
    # counted before any is listed: a row may name a big block many times over
    _Reads(raw).add(sum(len(under.get(part, ())) for name, row, _ in entries for part in (row.nodes or [name])))
    for name, row, loc in entries:
        names = row.nodes if row.nodes is not None else [name]
        nodes: list[Node] = []
        for part in names:
            found = under.get(part, [])
            if not found:
                known = known or [*graph.nodes, *graph.scopes]
                diags.error(loc, f"table row '{one_line(part, 80)}': no such node or block",
                            hint=did_you_mean(part, known) or
                            "a row names a node or a block instance, e.g. inception3a")
            nodes += found
        if nodes:
            prefix = "" if row.nodes is not None else name
            out.append(TableRowSpan(name, row, nodes, prefix, loc))
    return out


def check_table(graph: Graph) -> None:
    """Every name a `table:` declares resolves: rows, spans, columns, NODE.ATTR values (each in
    some row), and the column titles that rows' `text:` and `values:` give. Raises SpecErrors.
    (Configurations are other networks: `validate` and the paper format build them.)"""
    paper_table(graph, configurations=False)


def paper_table(graph: Graph, configurations: bool = True) -> tuple[list[str], list[list[str]]]:
    """(column titles, rows of cells) as the paper prints them; a cell may hold several lines."""
    table: TableDef = graph.table
    raw = graph.table_raw
    _check_size(graph, table, raw, configurations)
    diags = Diagnostics()
    cols_raw = raw.get("columns") if raw is not None else None
    titles = [c.title for c in table.columns] + list(table.configurations)
    first: dict[str, int] = {}
    for j, title in enumerate(titles):
        if first.setdefault(title, j) != j:
            where = _at(cols_raw, j, "title") if j < len(table.columns) else _key(raw, "configurations", title)
            diags.error(where, f"table column '{title}' twice")
    spans = _rows(graph, table, raw, diags)
    for span in spans:
        for key in (*span.row.text, *span.row.values):
            if key not in first:
                diags.error(span.loc, f"table row '{span.name}': no column '{one_line(key, 80)}'",
                            hint=did_you_mean(key, titles) or f"columns: {', '.join(titles)}")
    reads = _Reads(raw)
    reads.add(sum(len(span.nodes) for span in spans) * len(table.columns) + len(graph.nodes) * len(table.totals))
    columns = [[_cell(graph, span, c) for span in spans] for c in table.columns]
    for j, c in enumerate(table.columns):
        _check_value(c.value, _at(cols_raw, j, "value"), diags, columns[j], spans, c.title)
    diags.raise_if_errors()
    totals: list[list[str]] = [[] for _ in table.totals]
    built = 0
    for title, values in table.configurations.items() if configurations else ():
        other = _network(graph, raw, title, values)     # one at a time: a column and totals, then dropped
        built += len(other.nodes)
        if built > MAX_TABLE_NODES:
            _refuse(_key(raw, "configurations", title), f"table configurations: their networks have more than "
                    f"{MAX_TABLE_NODES:,} nodes together ({built:,} by '{one_line(title, 40)}')",
                    "limits.MAX_TABLE_NODES; configurations are whole networks, each built in turn")
        columns.append(_configuration(other, table, raw, title, reads))
        for k, total in enumerate(table.totals):
            totals[k].append(_whole(other, total))
    longest = max((len(col) for col in columns), default=0)   # segments: each configuration has its own count
    body = [[(col[i] if i < len(col) else None) or "" for col in columns] for i in range(longest)]
    return titles, body + [_total(graph, table, total, totals[k]) for k, total in enumerate(table.totals)]


def _check_size(graph: Graph, table: TableDef, raw, configurations: bool) -> None:
    """The table's rows and configurations within their limits; the configurations' networks, projected
    at this network's size each, within MAX_TABLE_NODES: all before any is built."""
    rows = 0 if table.rows == "segments" else len(table.rows)
    if rows + len(table.totals) > MAX_TABLE_ROWS:
        _refuse(_key(raw, "", "rows"), f"table: {rows + len(table.totals):,} rows and totals; at most "
                f"{MAX_TABLE_ROWS:,}", "limits.MAX_TABLE_ROWS")
    n = len(table.configurations)
    if n > MAX_TABLE_CONFIGURATIONS:
        _refuse(_key(raw, "", "configurations"), f"table: {n:,} configurations; at most {MAX_TABLE_CONFIGURATIONS}",
                "limits.MAX_TABLE_CONFIGURATIONS")
    if configurations and n * len(graph.nodes) > MAX_TABLE_NODES:
        _refuse(_key(raw, "", "configurations"), f"table: {n} configurations of a {len(graph.nodes):,}-node "
                f"network would build about {n * len(graph.nodes):,} nodes; at most {MAX_TABLE_NODES:,}",
                "limits.MAX_TABLE_NODES; each configuration is a whole network, built in turn")


class _Reads:
    """Node figures read to fill a table's cells (each row's nodes x its columns), counted before the
    cells of each part: rows that each span a whole network cannot multiply the work unseen."""
    def __init__(self, raw):
        self.n, self.raw = 0, raw

    def add(self, n: int) -> None:
        self.n += n
        if self.n > MAX_TABLE_READS:
            _refuse(_key(self.raw, "", "rows"), f"table: its cells would read {self.n:,} node figures (each "
                    f"row's nodes times its columns); at most {MAX_TABLE_READS:,}",
                    "limits.MAX_TABLE_READS; fewer rows spanning whole blocks, or fewer columns")


def _refuse(loc: Loc | None, message: str, hint: str) -> None:
    raise SpecErrors([Diagnostic(loc, message, hint=hint)])


def _whole(g: Graph, col: TableColumn) -> str:
    """A figure of the whole network (a totals row's cell)."""
    return _cell(g, TableRowSpan(col.title, TableRow(), g.inference_nodes(), "", None), col) or ""


def _total(graph: Graph, table: TableDef, total: TableColumn, configured: list[str]) -> list[str]:
    """A row of whole-network figures (ResNet's FLOPs): its title first, the figure under each column
    of the same value, then `configured`, its figure for each configuration."""
    row = [total.title] + [_whole(graph, c) if c.value == total.value else "" for c in table.columns[1:]]
    return row[:len(table.columns)] + configured


def _key(raw, section: str, key: str) -> Loc | None:
    """Where `key` of `section` is written (`section` "": a key of the table itself)."""
    part = (raw.get(section) if section else raw) if raw is not None else None
    return part.key_at(key) if part is not None and hasattr(part, "key_at") else None


def _network(graph: Graph, raw, title: str, values: dict) -> Graph:
    """A configuration: this spec with those parameter values over the ones it was loaded with
    (--set num_classes=10 holds in every column; the configuration's own values win)."""
    try:      # values by dict: a key may be `path` or `sets`
        spec = load_spec(graph.meta.file, graph.meta.sets or [], {**graph.meta.values, **values})
        spec.doc = spec.doc.model_copy(update={"table": None})
        return expand(spec)
    except SpecErrors as e:
        raise SpecErrors([Diagnostic(_key(raw, "configurations", title), f"table configuration '{title}': "
                                     f"{e.diagnostics[0].message}", hint=e.diagnostics[0].hint)]) from None


def _configuration(other: Graph, table: TableDef, raw, title: str, reads: _Reads) -> list[str | None]:
    """One configuration's column: the table's cell for each of its rows."""
    diags = Diagnostics()
    spans = _rows(other, table, raw, diags)
    diags.raise_if_errors()
    reads.add(sum(len(span.nodes) for span in spans) + len(other.nodes) * len(table.totals))
    cells = [_cell(other, span, TableColumn(title=title, value=table.cell)) for span in spans]
    _check_value(table.cell, raw.at("cell") if raw is not None and "cell" in raw else None, diags, cells,
                 spans, title)
    diags.raise_if_errors()
    return cells


def _at(items, j: int, key: str) -> Loc | None:
    """Where item j's `key` is written (the item's place where it is not a mapping)."""
    if items is None:
        return None
    item = items[j]
    return item.at(key) if isinstance(item, dict) and key in item and hasattr(item, "at") else items.at(j)


def _check_value(value: str, loc, diags: Diagnostics, cells: list, spans: list[TableRowSpan], title: str) -> None:
    if value in TABLE_VALUES:
        return
    if "." not in value:
        diags.error(loc, f"table column '{title}': unknown value '{one_line(value, 80)}'",
                    hint=did_you_mean(value, list(TABLE_VALUES)) or
                    f"use one of {', '.join(TABLE_VALUES)}, or NODE.ATTR (an attribute of a node under the row)")
    elif all(cell is None for cell, span in zip(cells, spans) if title not in span.row.values):
        diags.error(loc, f"table column '{title}': '{one_line(value, 80)}' is no node attribute under any row",
                    hint="NODE.ATTR names a node under the row's block and one of its op's attributes, "
                         "e.g. branch2.0.conv.out")


def _cell(graph: Graph, span: TableRowSpan, col: TableColumn) -> str | None:
    """A cell's text; None where a NODE.ATTR value does not resolve under this row (printed blank)."""
    if col.title in span.row.text:
        return span.row.text[col.title]
    value = span.row.values.get(col.title, col.value)
    nodes = span.nodes
    if value == "params":
        return _count(sum(n.params for n in nodes), col)
    if value == "macs":
        return _count(sum(n.macs for n in nodes), col)
    if value == "output":
        return _size(nodes[-1].shape if span.prefix not in graph.scopes else
                     graph.shape_of(graph.scopes[span.prefix].output or nodes[-1].name))
    if value == "depth":
        return str(_depth(nodes))
    if value == "name":
        return span.name
    if value == "layers":
        return _layers(nodes)
    if value == "stack":
        return _stack(graph, span)
    chain = not any(n.op.name in MERGES for n in nodes)
    if value == "window":
        windowed = [n for n in nodes if n.op.name in WINDOWED]
        return _window(windowed[-1]) if chain and windowed else ""
    if value == "type":
        main = [n for n in nodes if n.op.name in (*WINDOWED, *WEIGHTED, "global_avgpool", "dropout")]
        if chain and main:
            return _word(main[0])
        scope = graph.scopes.get(span.prefix)
        return scope.block or scope.kind if scope else nodes[0].op.name
    path, _, attr = value.rpartition(".")
    node = graph.nodes.get(f"{span.prefix}.{path}" if span.prefix else path)
    if node is None or attr not in type(node.attrs).model_fields:
        return None
    v = getattr(node.attrs, attr)
    return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)


def _layers(nodes: list[Node]) -> str:
    """VGG's notation, one layer a line: conv3-64, LRN, maxpool, FC-4096."""
    words = []
    for n in nodes:
        if n.op.name == "conv":
            k = n.attrs.k
            words.append(f"conv{k[0] if k[0] == k[1] else f'{k[0]}x{k[1]}'}-{n.attrs.out}")
        elif n.op.name == "linear":
            words.append(f"FC-{n.attrs.out}")
        elif n.op.name in ("lrn", "maxpool", "avgpool", "global_avgpool"):
            words.append({"lrn": "LRN", "global_avgpool": "avgpool"}.get(n.op.name, n.op.name))
    return "\n".join(words)


def _stack(graph: Graph, span: TableRowSpan) -> str:
    """ResNet's notation: a stage as its first block's convolutions, [3x3, 64; 3x3, 64] x2; a
    single layer as 7x7, 64, stride 2 or 3x3 max pool, stride 2."""
    scope = graph.scopes.get(span.prefix)
    blocks = _blocks_in(graph, span) if scope else []
    if blocks:
        first = blocks[0]
        convs = [n for n in span.nodes if n.op.name == "conv" and n.name.rpartition(".")[0] == first]
        inner = "; ".join(f"{n.attrs.k[0]}x{n.attrs.k[1]}, {n.attrs.out}" for n in convs)
        return f"[{inner}] x{len(blocks)}"
    parts = []
    for n in span.nodes:
        stride = (n.attrs.stride or n.attrs.k)[0] if n.op.name in WINDOWED else 1
        tail = f", stride {stride}" if stride > 1 else ""
        if n.op.name == "conv":
            parts.append(f"{n.attrs.k[0]}x{n.attrs.k[1]}, {n.attrs.out}{tail}")
        elif n.op.name == "maxpool":
            parts.append(f"{n.attrs.k[0]}x{n.attrs.k[1]} max pool{tail}")
        elif n.op.name in ("global_avgpool", "avgpool"):
            parts.append("average pool")
        elif n.op.name == "linear":
            parts.append(f"{n.attrs.out}-d fc")
    return ", ".join(parts)


def _blocks_in(graph: Graph, span: TableRowSpan) -> list[str]:
    """The blocks directly in the row's scope, in order, found from the row's own nodes (a scan of
    every scope per row would make a table of many rows quadratic)."""
    cut = len(span.prefix) + 1
    children = dict.fromkeys(span.prefix + "." + n.name[cut:].split(".", 1)[0] for n in span.nodes
                             if "." in n.name[cut:])
    return [p for p in children if p in graph.scopes and graph.scopes[p].kind == "block"]


def _word(n: Node) -> str:
    if n.op.name == "dropout":
        return f"dropout ({n.attrs.p * 100:g}%)"
    return WORDS.get(n.op.name, n.op.name)


def _window(n: Node) -> str:
    k, s = n.attrs.k, n.attrs.stride or n.attrs.k
    return f"{k[0]}x{k[1]}/{s[0] if s[0] == s[1] else f'{s[0]},{s[1]}'}"


def _size(shape) -> str:
    """(C, H, W) as papers write it, H x W x C; a vector is 1 x 1 x C."""
    if not shape:
        return ""
    c, *hw = shape
    return "x".join(map(str, [*(hw or [1, 1]), c]))


def _depth(nodes: list[Node]) -> int:
    """Conv and linear layers on the longest path through the row's nodes."""
    inside = {n.name for n in nodes}
    longest: dict[str, int] = {}
    for n in nodes:              # graph order is a topological order
        before = max((longest[i] for i in n.inputs if i in inside), default=0)
        longest[n.name] = before + (n.op.name in WEIGHTED)
    return max(longest.values(), default=0)


def _count(v: int, col: TableColumn) -> str:
    if col.unit is None:
        return f"{v:,}"
    if v == 0:
        return ""
    x = v / col.base ** UNITS[col.unit]
    if col.decimals is not None:
        return f"{x:.{col.decimals}f}{col.unit}"
    return (f"{x:.2g}" if x < 10 else f"{x:.0f}") + col.unit


def format_paper(graph: Graph) -> str:
    """The table as text, columns aligned, under its title and source."""
    table: TableDef | None = graph.table
    if table is None:
        raise SpecErrors([Diagnostic(Loc(graph.meta.file or graph.name), "this spec declares no table:",
                                     hint="summary --format paper prints the paper's table a spec declares; "
                                          "see specs/googlenet.yaml")])
    titles, body = paper_table(graph)
    lines = []              # a cell of several lines (VGG's conv3-64, conv3-64) makes its row that tall
    for i, row in enumerate(body):
        if i and table.configurations:
            lines.append([""] * len(row))
        cells = [c.split("\n") for c in row]
        lines += [[c[k] if k < len(c) else "" for c in cells] for k in range(max(map(len, cells), default=1))]
    widths = [max(len(r[i]) for r in [titles, *lines]) for i in range(len(titles))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    rule = "-" * len(line(titles))
    head = [one_line(table.title)] + ([f"source: {one_line(table.source)}"] if table.source else [])
    return "\n".join([*head, rule, line(titles), rule, *map(line, lines), rule])
