"""diff: two architectures side by side, as papers compare them (`archspec diff A B`).

Rows come from report.rows (the same cut by --depth as `summary`), so every figure has
one definition. They are aligned by name first (difflib over the two name sequences);
within a stretch whose names do not match, rows are paired by structure (the op or
block kind, in order); what is left is added (only in B) or removed (only in A).
Past MAX_DIFF_PAIRS, both steps align near-linearly (opcodes): difflib is quadratic.
"""
from __future__ import annotations

import csv
import io
import json
import math
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from ..errors import fmt_shape
from ..ir import Graph
from ..limits import MAX_DIFF_PAIRS
from ..names import md_text, one_line
from .report import CONVENTION, Row, csv_cell, rows

STATUS = {"=": "same", "~": "changed", "+": "added", "-": "removed"}
ELEMENTWISE = "pooling, add and mul element operations (not MACs; counted by some papers)"


@dataclass
class Pair:
    a: Row | None
    b: Row | None

    @property
    def status(self) -> str:
        """'=' same, '~' changed, '+' added in B, '-' removed from A."""
        if self.a is None:
            return "+"
        if self.b is None:
            return "-"
        same = (self.a.name, self.a.op, self.a.shape, self.a.params, self.a.macs) == \
               (self.b.name, self.b.op, self.b.shape, self.b.params, self.b.macs)
        return "=" if same else "~"

    @property
    def name(self) -> str:
        if self.a and self.b and self.a.name != self.b.name:
            return f"{self.a.name} -> {self.b.name}"
        return (self.a or self.b).name      # type: ignore[union-attr]


def _kind(graph: Graph, row: Row) -> str:
    """A row's structure for alignment: its op, or the block a collapsed scope instantiates."""
    node = graph.nodes.get(row.name)
    return node.op.name if node else graph.scope_label(row.name)


Opcode = tuple[str, int, int, int, int]


def opcodes(a: list[str], b: list[str]) -> list[Opcode]:
    """difflib's opcodes where a x b is within MAX_DIFF_PAIRS (the exact same alignment as ever);
    above it, anchored first, so two 20,000-row networks align in n log n (_anchored)."""
    if len(a) * len(b) <= MAX_DIFF_PAIRS:
        return [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()]   # as list[Opcode]
    return _merged(_anchored(a, b))


def _anchored(a: list[str], b: list[str]) -> list[Opcode]:
    """Common ends; then the longest in-order chain of items that occur once on each side (patience
    diff's anchors, by a longest increasing subsequence); the gaps between anchors by _bounded."""
    lo, hi = _ends(a, b)
    ma, mb = a[lo:len(a) - hi], b[lo:len(b) - hi]
    once = {x for x, k in Counter(ma).items() if k == 1} & {x for x, k in Counter(mb).items() if k == 1}
    where = {x: j for j, x in enumerate(mb) if x in once}
    chain = _increasing([(i, where[x]) for i, x in enumerate(ma) if x in once])
    out: list[Opcode] = [("equal", 0, lo, 0, lo)]
    i = j = 0
    for ai, bj in chain + [(len(ma), len(mb))]:
        out += [(t, lo + i1, lo + i2, lo + j1, lo + j2) for t, i1, i2, j1, j2 in _bounded(ma[i:ai], mb[j:bj], i, j)]
        out.append(("equal", lo + ai, lo + ai + 1, lo + bj, lo + bj + 1))
        i, j = ai + 1, bj + 1
    out[-1] = ("equal", len(a) - hi, len(a), len(b) - hi, len(b))
    return out


def _ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many items a and b share at their start, and then at their end."""
    lo = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    hi = next((k for k, (x, y) in enumerate(zip(reversed(a[lo:]), reversed(b[lo:]))) if x != y),
              min(len(a), len(b)) - lo)
    return lo, hi


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest chain of (i, j) pairs increasing in j (they come increasing in i): n log n."""
    ends: list[int] = []           # ends[k]: the smallest j that ends a chain of k + 1 pairs
    tails: list[int] = []          # ... and the index in pairs of that chain's last pair
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        at = bisect_left(ends, j)
        back[k] = tails[at - 1] if at else -1
        ends[at:at + 1], tails[at:at + 1] = [j], [k]
    chain, k = [], tails[-1] if tails else -1
    while k >= 0:
        chain.append(pairs[k])
        k = back[k]
    return chain[::-1]


def _bounded(a: list[str], b: list[str], i0: int, j0: int) -> list[Opcode]:
    """A gap between anchors: difflib whole where small, else in matching slices of at most
    sqrt(MAX_DIFF_PAIRS) rows a side (linear; exact where the two sides differ little)."""
    lo, hi = _ends(a, b)
    out: list[Opcode] = [("equal", i0, i0 + lo, j0, j0 + lo)]
    ma, mb = a[lo:len(a) - hi], b[lo:len(b) - hi]
    pieces = max(1, -(-max(len(ma), len(mb)) // math.isqrt(MAX_DIFF_PAIRS)))
    for k in range(pieces):
        a1, a2 = len(ma) * k // pieces, len(ma) * (k + 1) // pieces
        b1, b2 = len(mb) * k // pieces, len(mb) * (k + 1) // pieces
        out += [(t, i0 + lo + a1 + i1, i0 + lo + a1 + i2, j0 + lo + b1 + j1, j0 + lo + b1 + j2) for t, i1, i2, j1, j2
                in SequenceMatcher(None, ma[a1:a2], mb[b1:b2], autojunk=False).get_opcodes()]
    return out + [("equal", i0 + len(a) - hi, i0 + len(a), j0 + len(b) - hi, j0 + len(b))]


def _merged(ops: list[Opcode]) -> list[Opcode]:
    """Empty opcodes dropped, neighbours of one kind joined (an unmatched stretch is one 'replace')."""
    out: list[Opcode] = []
    for op in ops:
        if op[1] == op[2] and op[3] == op[4]:
            continue
        tag = "equal" if op[0] == "equal" else "replace"
        if out and (out[-1][0] == "equal") == (tag == "equal"):
            out[-1] = (tag, out[-1][1], op[2], out[-1][3], op[4])
        else:
            out.append((tag, *op[1:]))
    return out


def align(ga: Graph, ra: list[Row], gb: Graph, rb: list[Row]) -> list[Pair]:
    out: list[Pair] = []
    for tag, i1, i2, j1, j2 in opcodes([r.name for r in ra], [r.name for r in rb]):
        if tag == "equal":
            out += [Pair(a, b) for a, b in zip(ra[i1:i2], rb[j1:j2])]
        else:
            out += _by_structure(ga, ra[i1:i2], gb, rb[j1:j2])
    return out


def _by_structure(ga: Graph, ra: list[Row], gb: Graph, rb: list[Row]) -> list[Pair]:
    out: list[Pair] = []
    for tag, i1, i2, j1, j2 in opcodes([_kind(ga, r) for r in ra], [_kind(gb, r) for r in rb]):
        if tag == "equal":
            out += [Pair(a, b) for a, b in zip(ra[i1:i2], rb[j1:j2])]
        else:
            out += [Pair(a, None) for a in ra[i1:i2]] + [Pair(None, b) for b in rb[j1:j2]]
    return out


@dataclass
class Diff:
    a: Graph
    b: Graph
    pairs: list[Pair]
    elementwise: bool = False
    depth: int | None = None      # the rows' cut (--depth); None: every node, and the diagram picks its own

    def totals(self) -> dict[str, tuple[int, int]]:
        figures = {"params": (self.a.params, self.b.params), "MACs": (self.a.macs, self.b.macs)}
        if self.a.train_only_nodes() or self.b.train_only_nodes():     # as published: without aux heads
            ea, eb = self.a.eval_counts(), self.b.eval_counts()
            figures["params in eval mode"] = (ea["params"], eb["params"])
            figures["MACs in eval mode"] = (ea["macs"], eb["macs"])
        if self.elementwise:
            figures["elementwise"] = (self.a.elementwise, self.b.elementwise)
            figures["MACs + elementwise"] = (self.a.macs + self.a.elementwise, self.b.macs + self.b.elementwise)
        return figures


def diff(a: Graph, b: Graph, depth: int | None = None, elementwise: bool = False) -> Diff:
    return Diff(a, b, align(a, rows(a, depth), b, rows(b, depth)), elementwise, depth)


def delta(x: int, y: int) -> str:
    return f"{y - x:+,}" if y != x else "0"


def ratio(x: int, y: int) -> str:
    """B / A, and the change in percent."""
    if x == 0:
        return "-" if y == 0 else "new"
    return f"{y / x:.4f} ({(y - x) / x * 100:+.2f}%)"


def _side(r: Row | None, key: str) -> int:
    return getattr(r, key) if r else 0


def _columns(d: Diff, merged: bool) -> list[str]:
    """The table's columns; `merged`: one op and one output column, "A -> B" where they differ."""
    cols = ["", "node", "op", "output"] if merged else ["", "node", "op A", "op B", "output A", "output B"]
    for k in ["params", "MACs"] + (["elementwise"] if d.elementwise else []):
        cols += [f"{k} A", f"{k} B", f"{k} delta"]
    return cols


def _either(a: str | None, b: str | None) -> str:
    return (a or "") if b is None or a == b else b if a is None else f"{a} -> {b}"


def _cells(d: Diff, p: Pair, merged: bool) -> list[str]:
    ops = (p.a.op if p.a else None, p.b.op if p.b else None)
    shapes = (fmt_shape(p.a.shape) if p.a else None, fmt_shape(p.b.shape) if p.b else None)
    cells = [p.status, p.name]
    cells += [_either(*ops), _either(*shapes)] if merged else [x or "" for x in (*ops, *shapes)]
    for k in ["params", "macs"] + (["elementwise"] if d.elementwise else []):
        x, y = _side(p.a, k), _side(p.b, k)
        cells += [f"{x:,}" if p.a else "", f"{y:,}" if p.b else "", delta(x, y)]
    return cells


def _title(g: Graph) -> str:
    return g.name + (f": {one_line(g.meta.title)}" if g.meta.title else "") + \
        (" (--set " + ", ".join(g.meta.sets or []) + ")" if g.meta.sets else "")


def _total_lines(d: Diff) -> list[str]:
    out = [f"{k}: {x:,} -> {y:,}, {delta(x, y)}, B/A {ratio(x, y)}" for k, (x, y) in d.totals().items()]
    counts = {s: sum(p.status == s for p in d.pairs) for s in "=~+-"}
    out.append(f"rows: {counts['=']} same, {counts['~']} changed, {counts['+']} added in B, "
               f"{counts['-']} removed from A")
    out.append(f"convention: {CONVENTION}" + (f"; elementwise = {ELEMENTWISE}" if d.elementwise else ""))
    return out


def to_dict(d: Diff) -> dict:
    def side(r: Row | None) -> dict | None:
        return None if r is None else {"name": r.name, "op": r.op, "shape": list(r.shape or ()), "params": r.params,
                                       "macs": r.macs, **({"elementwise": r.elementwise} if d.elementwise else {})}
    return {
        "a": {"name": d.a.name, "title": d.a.meta.title, "sets": d.a.meta.sets or []},
        "b": {"name": d.b.name, "title": d.b.meta.title, "sets": d.b.meta.sets or []},
        "rows": [{"status": STATUS[p.status], "a": side(p.a), "b": side(p.b)} for p in d.pairs],
        "totals": {k: {"a": x, "b": y, "delta": y - x, "ratio": y / x if x else None}
                   for k, (x, y) in d.totals().items()},
        "convention": CONVENTION,
    }


def format_diff(d: Diff, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(to_dict(d), indent=1, allow_nan=False)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["status", *_columns(d, False)[1:]])
        for p in d.pairs:
            cells = _cells(d, p, False)
            w.writerow([STATUS[p.status], *(csv_cell(c) for c in cells[1:6])] + [c.replace(",", "") for c in cells[6:]])
        return buf.getvalue()
    head, body = _columns(d, True), [_cells(d, p, True) for p in d.pairs]
    if fmt == "md":
        lines = [f"A: {md_text(_title(d.a))}  ", f"B: {md_text(_title(d.b))}", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * 4 + "--:|" * (len(head) - 4)]
        lines += ["| " + " | ".join(map(md_text, r)) + " |" for r in body]
        return "\n".join(lines + [""] + [f"{line}  " for line in _total_lines(d)])
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    rule = "-" * len(line(head))
    return "\n".join([f"A: {_title(d.a)}", f"B: {_title(d.b)}", rule, line(head), rule, *map(line, body), rule,
                      *_total_lines(d)])
