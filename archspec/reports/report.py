"""count: per-node figures rolled up by name prefix, and the summary formats
(table, markdown, csv, json) that `archspec summary` prints."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import fmt_shape
from ..ir import Graph
from ..names import md_text, one_line
from ..ops.base import ChannelsLast

CONVENTION = ("MACs = multiply-accumulates of conv and linear layers "
              "(= torch FlopCounterMode / 2 = torchvision's GFLOPS); FLOPs = 2 x MACs")


@dataclass
class Row:
    name: str
    op: str          # the op's label, or the block name (x count) for a collapsed scope
    shape: tuple | None
    params: int
    buffers: int
    macs: int
    activations: int
    depth: int
    elementwise: int = 0    # pooling and add/mul element operations (outside the MACs convention)


def depth_of(name: str) -> int:
    return name.count(".") + 1


def rollup(graph: Graph, elementwise: bool = False) -> dict[str, list[int]]:
    """params, buffers, MACs and activations (and with `elementwise`, the element operations outside
    the MACs convention, fifth) summed under every dotted prefix."""
    sums: dict[str, list[int]] = {}
    for n in graph.nodes.values():
        figures = (n.params, n.buffers, n.macs, n.activations) + ((n.elementwise,) if elementwise else ())
        parts = n.name.split(".")
        for k in range(1, len(parts)):
            acc = sums.setdefault(".".join(parts[:k]), [0] * len(figures))
            for j, f in enumerate(figures):
                acc[j] += f
    return sums


def cut_at(depth: int | None) -> Callable[[str], str]:
    """The row a node is counted in at `depth`: itself, or its depth-component prefix."""
    def cut(name: str) -> str:
        return ".".join(name.split(".")[:depth]) if depth and depth_of(name) > depth else name
    return cut


def past_lists(graph: Graph, cut: Callable[[str], str]) -> Callable[[str], str]:
    """`cut`, never at a list of members (`convs` of convs.0, an nn.ModuleList): a list is no unit
    of its own (its members interleave with the other nodes), so each member is one."""
    def unit(name: str) -> str:
        prefix = cut(name)
        while prefix != name and getattr(graph.scopes.get(prefix), "kind", None) == "list":
            prefix = ".".join(name.split(".")[:depth_of(prefix) + 1])
        return prefix
    return unit


def rows(graph: Graph, depth: int | None = None, unit: Callable[[str], str] | None = None,
         sums: dict[str, list[int]] | None = None) -> list[Row]:
    """One row per node, or per scope where the hierarchy is cut: at `depth`, or where `unit`
    (node name -> the name of its row) says. `sums`: rollup(graph, elementwise=True), where the
    caller cuts one graph at several depths."""
    cut = past_lists(graph, unit or cut_at(depth))
    sums = (sums or rollup(graph, elementwise=True)) if depth or unit else {}
    out, seen = [], set()
    for n in graph.nodes.values():
        prefix = cut(n.name)
        if prefix != n.name:
            if prefix in seen:
                continue
            seen.add(prefix)
            scope = graph.scopes.get(prefix)
            shape = graph.shape_of(scope.output) if scope and scope.output in graph.nodes else None
            params, buffers, macs, activations, elementwise = sums[prefix]
            out.append(Row(prefix, graph.scope_label(prefix), shape, params, buffers, macs, activations,
                           depth_of(prefix), elementwise))
        else:
            out.append(Row(n.name, n.label, n.shape, n.params, n.buffers, n.macs, n.activations, depth_of(n.name),
                           n.elementwise))
    return out


def to_dict(graph: Graph, memory=None) -> dict:
    sums = rollup(graph)
    return ({"memory": memory.to_dict()} if memory else {}) | {
        "name": graph.name,
        "title": graph.meta.title,
        "variant_of": graph.meta.variant_of,     # an untitled variant: its base (the title says so)
        "input": list(graph.input_shape),
        "outputs": {k: list(graph.shape_of(o.node) or ()) for k, o in graph.outputs.items()},
        "train_only_outputs": [k for k, o in graph.outputs.items() if o.train_only],
        "params": graph.params,
        "buffers": graph.buffers,
        "macs": graph.macs,
        "flops": 2 * graph.macs,
        "activations": graph.activations,
        "inference": graph.eval_counts(),
        "convention": CONVENTION,
        "nodes": [{"name": n.name, "op": n.op.name, "label": n.label, "shape": list(n.shape or ()),
                   **layout(n.shape),
                   "params": n.params, "buffers": n.buffers, "macs": n.macs} for n in graph.nodes.values()],
        "blocks": [{"name": s.path, "kind": s.kind, "block": s.block, "params": v[0], "macs": v[2]}
                   for s in graph.scopes.values() for v in [sums.get(s.path, [0] * 4)]],
        "reference": reference_summary(graph),
    }


def reference_summary(graph: Graph) -> dict | None:
    """The stated figures, each checked, and whether all hold (None where not checked: --set)."""
    ref = graph.meta.reference
    if not ref:
        return None
    checks = [{"key": c.key, "stated": c.stated, "measured": c.measured, "holds": c.holds}
              for c in reference_checks(graph)]
    applies = reference_applies(graph)
    return {**ref, "checked": applies, "checks": checks, "holds": all(c["holds"] for c in checks) if applies else None}


def csv_cell(text: str) -> str:
    """A CSV text cell that a spreadsheet never reads as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def layout(shape: tuple | None) -> dict:
    """The JSON outputs' mark of a channels-last shape, {"layout": "HWC"}; {} for any other."""
    return {"layout": shape.layout} if isinstance(shape, ChannelsLast) else {}


def _csv_shape(shape: tuple | None) -> str:
    """96x56x56; a channels-last shape says so: 56x56x96 HWC."""
    return "x".join(map(str, shape or ())) + (f" {shape.layout}" if isinstance(shape, ChannelsLast) else "")


def _num(v: int) -> str:
    return f"{v:,}"


def format_summary(graph: Graph, fmt: str = "table", depth: int | None = None, memory=None) -> str:
    """The summary; with `memory` (archspec.reports.memory.Memory), a column of the bytes each row keeps for
    backward in training, and the training memory's totals."""
    if fmt == "json":
        return json.dumps(to_dict(graph, memory), indent=1, allow_nan=False)     # strict JSON: no NaN
    table = rows(graph, depth)
    head = ["node", "op", "output", "params", "MACs"] + (["saved bytes"] if memory else [])
    body = [[r.name, r.op, fmt_shape(r.shape), _num(r.params), _num(r.macs)] +
            ([_num(memory.under(r.name))] if memory else []) for r in table]
    total = ["total", "", "", _num(graph.params), _num(graph.macs)] + ([_num(memory.activations)] if memory else [])
    if memory and memory.saved.get("input"):
        body.insert(0, ["input", "", fmt_shape(graph.input_shape), "", "", _num(memory.saved["input"])])
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["node", "op", "output", "params", "buffers", "macs"] + (["saved_bytes"] if memory else []))
        w.writerows([csv_cell(r.name), csv_cell(r.op), _csv_shape(r.shape), r.params, r.buffers, r.macs]
                    + ([memory.under(r.name)] if memory else []) for r in table)
        return buf.getvalue()
    if fmt == "md":
        lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "--:|" * (len(head) - 3)]
        lines += ["| " + " | ".join(map(md_text, r)) + " |" for r in body + [total]]
        return "\n".join(lines + ["", *map(md_text, _footer(graph, memory).splitlines())])
    widths = [max(len(r[i]) for r in [head, total, *body]) for i in range(len(head))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i >= 3 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * len(line(head))
    title = f"{graph.name}" + (f": {one_line(graph.meta.title)}" if graph.meta.title else "")
    return "\n".join([title, f"input {fmt_shape(graph.input_shape)}", rule, line(head), rule,
                      *map(line, body), rule, line(total), rule, _footer(graph, memory)])


def _footer(graph: Graph, memory=None) -> str:
    outs = ", ".join(f"{k} {fmt_shape(graph.shape_of(o.node))}" + (" (training only)" if o.train_only else "")
                     for k, o in graph.outputs.items())
    inference = ""
    if any(o.train_only for o in graph.outputs.values()):
        ev = graph.eval_counts()
        inference = (f"in eval mode (training-only heads left out): {_num(ev['params'])} params, "
                     f"{_num(ev['macs'])} MACs\n")
    return (f"outputs: {outs}\n"
            f"params: {_num(graph.params)} trainable, {_num(graph.buffers)} in buffers\n"
            f"MACs: {_num(graph.macs)} ({graph.macs / 1e9:.3f} G); FLOPs = 2 x MACs = {2 * graph.macs / 1e9:.3f} G\n"
            f"activations: {_num(graph.activations)} elements\n{inference}{_reference(graph)}"
            + "".join(f"{line}\n" for line in (memory.lines() if memory else [])) +
            f"convention: {CONVENTION}")


@dataclass
class RefCheck:
    """One figure of a spec's `reference:` against archspec's count (eval mode, as published)."""
    key: str
    stated: Any
    measured: Any
    holds: bool

    def __str__(self) -> str:
        stated = f"{self.stated:,}" if isinstance(self.stated, int) else f"{self.stated}"
        if self.key == "params_millions":      # a rounded figure, compared at its own precision
            return f"params {stated}M " + ("matches" if self.holds else "differs") + f" ({self.measured})"
        measured = f"{self.measured:,}" if isinstance(self.measured, int) else f"{self.measured}"
        return f"{self.key} {stated} " + ("matches" if self.holds else f"differs: {measured} here")


def reference_checks(graph: Graph) -> list[RefCheck]:
    """Every figure the spec's own `reference:` states, checked (empty where it states none)."""
    ref = graph.meta.reference or {}
    ours = {**graph.eval_counts(), "buffers": graph.buffers}
    checks = [RefCheck(k, ref[k], ours[k], ref[k] == ours[k]) for k in ("params", "macs", "buffers") if k in ref]
    if "params_millions" in ref:
        stated = ref["params_millions"]
        decimals = len(repr(float(stated)).split(".")[1].rstrip("0")) if "." in repr(float(stated)) else 0
        rounded = round(ours["params"] / 1e6, decimals)
        checks.append(RefCheck("params_millions", stated, f"{ours['params']:,} params = {rounded}M", rounded == stated))
    for name, stated in (ref.get("layers") or {}).items():
        measured = graph.nodes[name].params if name in graph.nodes else "no such node"
        checks.append(RefCheck(f"{name} params", stated, measured, measured == stated))
    return checks


def reference_applies(graph: Graph) -> bool:
    """A reference describes the file as written: with --set overrides it is not checked."""
    return bool(graph.meta.reference) and not graph.meta.overridden


def _reference(graph: Graph) -> str:
    ref = graph.meta.reference or {}
    checks = reference_checks(graph)
    if not checks:
        return ""
    if not reference_applies(graph):
        return f"reference ({ref['source']}): not checked (parameters were overridden)\n"
    return f"reference ({ref['source']}): {'; '.join(map(str, checks))}\n"
