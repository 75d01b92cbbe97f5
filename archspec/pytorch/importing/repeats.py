"""Repeats: runs of sibling nodes written once, as a `repeat` whose arguments are expressions of
the step index i. A chain of one block's instances, each reading the one before (ResNet's stages);
a dense run, each step reading the run's input and every step before, closed by their
concatenation (`carry: concat`, DenseNet); and in a numbered sequence, a list of ops written again
and again (VGG's conv, batchnorm, relu)."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from .nodes import Node


def runs(nodes: list[Node], several_in: set[str] | frozenset = frozenset()) -> list[Node]:
    """The nodes with each dense run and chain run of one block's instances as one `repeat` node
    (a block of `several_in`, declaring several inputs, reads them apart: never a dense run)."""
    out: list[Node] = []
    k = 0
    while k < len(nodes):
        run = (None if nodes[k].body.get("use") in several_in else _dense_run(nodes, k)) or _chain_run(nodes, k)
        if run is None:
            out.append(nodes[k])
            k += 1
            continue
        node, used = run
        out.append(node)
        k += used
    return out


def _same_block(nodes: list[Node], k: int) -> int:
    """How many nodes from k on use the same block, with names that count up."""
    if "use" not in nodes[k].body:
        return 1
    n = 1
    while (k + n < len(nodes) and nodes[k + n].body.get("use") == nodes[k].body["use"]
           and _name_step(nodes[k].name, nodes[k + n].name, n)):
        n += 1
    return n


def _chain_run(nodes: list[Node], k: int):
    """The longest run from k on that reads well, each step reading the one before."""
    if len(nodes[k].ins) != 1:
        return None
    for n in range(_same_block(nodes, k), 1, -1):
        steps, later = nodes[k:k + n], nodes[k + n:]
        if all(steps[j].ins == [steps[j - 1].ref] for j in range(1, n)) and _reads_well(steps) and \
                not any(s.ref in m.ins for s in steps for m in later if not (m is later[0] and m.ins == [s.ref])):
            return _repeat(steps, nodes[k].ins, steps[-1].ref, None), n   # (steps are read only in turn)
    return None


def _dense_run(nodes: list[Node], k: int):
    """Steps whose inputs are the run's input and every step before, closed by their concatenation."""
    n = _same_block(nodes, k)
    x = nodes[k].ins
    if n < 2 or len(x) != 1:
        return None
    refs = [s.ref for s in nodes[k:k + n]]
    m = 1
    while m < n and nodes[k + m].ins == x + refs[:m]:
        m += 1
    end = k + m
    if m < 2 or end >= len(nodes) or nodes[end].body.get("op") != "concat" or nodes[end].ins != x + refs[:m]:
        return None
    later = {r for q in nodes[end + 1:] for r in q.ins}
    if any(r in later for r in refs) or not _reads_well(nodes[k:end]):
        return None
    return _repeat(nodes[k:end], x, nodes[end].ref, "concat"), m + 1


def _repeat(steps: list[Node], ins: list[str], ref: str, carry: str | None) -> Node:
    block = steps[0].body["use"]
    args = {p: _index_expr([s.body[p] for s in steps]) for p in steps[0].body if p != "use"}
    body: dict[str, Any] = {"repeat": len(steps)}
    if steps[0].name != "0":
        body["name"] = name_pattern(steps[0].name or "")
    if carry:
        body["carry"] = carry
    body["node"] = {"use": block, **args}
    return Node(None, body, ins, ref)


_NUMBER = re.compile(r"(.*?)(\d+)")


def _name_step(first: str | None, name: str | None, n: int) -> bool:
    a, b = _NUMBER.fullmatch(first or ""), _NUMBER.fullmatch(name or "")
    return bool(a and b and a.group(1) == b.group(1) and int(b.group(2)) == int(a.group(2)) + n)


def name_pattern(first: str) -> str:
    m = _NUMBER.fullmatch(first)
    assert m is not None
    start = int(m.group(2))
    return f"{m.group(1)}${{i + {start}}}" if start else f"{m.group(1)}${{i}}"


def op_runs(nodes: list[Node]) -> list[Node]:
    """In a numbered sequence, a list of ops written again and again (VGG's conv, batchnorm, relu)
    as one repeat of that list: the period and count that save the most lines."""
    out: list[Node] = []
    k = 0
    while k < len(nodes):
        best = (0, 1, 1)                 # (lines saved, period, count)
        for p in range(1, 7):
            unit = [n.body for n in nodes[k:k + p]]
            if len(unit) < p or not all("op" in b for b in unit):
                break
            r = 1
            while [n.body for n in nodes[k + r * p:k + (r + 1) * p]] == unit:
                r += 1
            best = max(best, (p * (r - 1), p, r))
        saved, p, r = best
        if saved == 0:
            out.append(nodes[k])
            k += 1
            continue
        steps = nodes[k:k + p]
        unit_nodes = [replace(n, ins=[q.ref]) for n, q in zip(steps, [Node(None, {}, [], "input")] + steps)]
        out.append(Node(None, {"repeat": r, "node": unit_nodes}, steps[0].ins, nodes[k + r * p - 1].ref))
        k += r * p
    return out


def _reads_well(steps: list[Node]) -> bool:
    """A run is a repeat where that reads better than its lines: no argument needs a table of
    values (an index into a list) or varies in floats (drop-path rates, exact only as numbers),
    and a run of two differs in one argument at most."""
    args = [p for p in steps[0].body if p != "use"]
    exprs = [_index_expr([s.body[p] for s in steps]) for p in args]
    varying = [e for e in exprs if isinstance(e, str) and e.startswith("${")]
    floats = any(isinstance(s.body[p], float) for s in steps for p, e in zip(args, exprs) if e in varying)
    return not floats and not any(e.endswith("[i]}") for e in varying) and (len(steps) > 2 or len(varying) <= 1)


def _index_expr(values: list):
    """Values over the steps of a repeat as one value or an expression of the index i."""
    v0, rest = values[0], values[1:]
    if all(v == v0 for v in rest):
        return v0
    if all(v == rest[0] for v in rest):
        if isinstance(v0, bool):
            return "${i == 0}" if v0 else "${i > 0}"
        return f"${{{_lit(v0)} if i == 0 else {_lit(rest[0])}}}"
    if all(type(v) is int for v in values) and len(values) > 2:
        d = values[1] - values[0]
        if all(values[j] == values[0] + d * j for j in range(len(values))):
            return f"${{{values[0]} + {d} * i}}" if values[0] else f"${{{d} * i}}"
    return f"${{{_lit(list(values))}[i]}}"


def _lit(v) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    return repr(v)
