"""skips: which input of a merge is the shortcut, found from the graph's structure.

A residual add's shortcut is the operand that bypasses the other operand's path, whatever order
the spec lists them in (MobileNetV2 writes `add [input, conv]`, ResNet `add [bn2, downsample]`).
Every path into a merge passes through its immediate dominator, the block's fork; each operand's
path from the fork is measured in nodes (the identity shortcut is the fork itself: 0; ResNet's
projection: 2; the residual branch: 5 or more). The operand with strictly the fewest is the
shortcut. A concat's carried input (DenseNet's concat(x, layer(x))) is the operand that is the
fork itself; an Inception module's branches all start after the fork, so none is carried.

One function for the static diagram, the html viewer and the diff diagram. Torch-free.
"""
from __future__ import annotations

from ..ir import Graph

MERGES = ("add", "concat")
_ROOT = ""     # above every graph input: the one node that dominates everything


def dominators(graph: Graph) -> dict[str, str]:
    """Each node's immediate dominator (Cooper, Harvey and Kennedy), in one pass: graph.nodes are in
    topological order, so a node's inputs are settled before it. Graph inputs hang from _ROOT."""
    order = {_ROOT: 0}
    idom = {_ROOT: _ROOT}
    for n in graph.nodes.values():
        for x in n.inputs:
            if x not in graph.nodes and x not in order:
                order[x], idom[x] = len(order), _ROOT
    for name, n in graph.nodes.items():
        order[name] = len(order)
        preds = [x for x in n.inputs if x in idom] or [_ROOT]
        dom = preds[0]
        for p in preds[1:]:
            dom = _meet(dom, p, idom, order)
        idom[name] = dom
    return idom


def _meet(a: str, b: str, idom: dict[str, str], order: dict[str, int]) -> str:
    """The nearest common dominator of a and b: walk the later one up until they meet."""
    while a != b:
        while order[a] > order[b]:
            a = idom[a]
        while order[b] > order[a]:
            b = idom[b]
    return a


def _span(graph: Graph, start: str, fork: str) -> int:
    """The nodes on the paths from `fork` (not counted) to `start` (counted): `fork` dominates
    `start`, so walking inputs back from `start` always stops at it."""
    seen, todo = set(), [start]
    while todo:
        x = todo.pop()
        if x == fork or x in seen:
            continue
        seen.add(x)
        node = graph.nodes.get(x)
        todo += node.inputs if node else []
    return len(seen)


def shortcuts(graph: Graph, idom: dict[str, str] | None = None) -> dict[str, int]:
    """Merge node -> the index of its input that is the shortcut (an add) or the carried input
    (a concat); merges without one (an Inception concat, an add of equal branches) are left out."""
    merges = [n for n in graph.nodes.values() if n.op.name in MERGES and len(n.inputs) > 1]
    if not merges:
        return {}           # a plain chain: no dominators to find
    idom = idom if idom is not None else dominators(graph)
    out = {}
    for n in merges:
        name, fork = n.name, idom[n.name]
        spans = [_span(graph, x, fork) for x in n.inputs]
        least = min(spans)
        if spans.count(least) == 1 and (n.op.name == "add" or least == 0):
            out[name] = spans.index(least)
    return out


def flags(graph: Graph, table: dict[str, int] | None = None) -> dict[str, list[bool]]:
    """Every node -> one bool per input: True where that input is the shortcut or carried input."""
    table = shortcuts(graph) if table is None else table
    return {name: [table.get(name) == k for k in range(len(n.inputs))] for name, n in graph.nodes.items()}
