"""The top class's stage depths where a stage of the spec is one block: planned from the spec
built with more.

A stage repeated `${layers[0]}` times is written as torchvision's and timm's `_make_layer` write
it, its first block and then `*[Block(...) for _ in range(layers[0] - 1)]` (`counts`). Where the
spec's own depth is 1 there is no second block to write that run from, and the first may well
be planned otherwise (ResNeSt-14d's: every block a stage holds builds a projection shortcut, so
its class builds it itself, where at two blocks a stage the caller passes it in). So, where
`vary` refuted such a list of depths, the spec is built again with it at the first value `vary`
tries that builds (each depth twice its own and more), and its classes planned; that plan is the
file's, the depths' default the spec's own, where it takes the depths there and holds at the
spec's own: each node of the spec's graph is that graph's node of its name (op, attributes,
shapes, tensors), each stage child the top class builds is built at the spec's depths as many
members as the spec's has, each number as written giving there the wider graph's number of its
name, and each class serves some instance of the spec's graph (its docstring names only those)."""
from __future__ import annotations

from collections.abc import Callable

from ...errors import SpecError, SpecErrors
from ...frontend.expand import expand
from ...frontend.spec import load_spec
from ...ir import Graph, Node
from ...limits import MAX_VARY_NODES
from .classes import ClassPlanner, member_sizes
from .counts import candidates
from .scopes import ScopeTree, own_children
from .vary import built_numbers, count_given, refuted, top_env_at, top_numbers, tried_values, written_gives
from .widthexpr import int_list

Texts = Callable[[ClassPlanner], list[str]]


def planned(graph: Graph, probe: bool, texts: Texts) -> tuple[ClassPlanner, bool]:
    """The file's plan: the graph's (its top class's parameters those `vary` does not refute),
    or the one of a wider build of the spec (`widened`), with whether it is that one."""
    planner, held = _planner(graph, probe, texts)
    for p in sorted(_one_block_depths(planner) & held):
        wide = _widened(graph, planner, p, probe, texts)
        if wide is not None:
            return wide, True
    return planner, False


def _planner(graph: Graph, probe: bool, texts: Texts) -> tuple[ClassPlanner, frozenset[str]]:
    """The graph's plan, its top class's widths from the spec's less those `vary` refutes; and those."""
    planner = ClassPlanner(ScopeTree(graph), probe, frozenset())
    held = refuted(graph, planner, probe, texts)
    if held:
        planner = ClassPlanner(ScopeTree(graph), probe, held)
    return planner, held


def _one_block_depths(planner: ClassPlanner) -> set[str]:
    """The lists of depths the top class's stages of one block read for their counts (`counts`)."""
    g = planner.tree.graph
    params = g.meta.params or {}
    out: set[str] = set()
    for c in own_children(planner.tree.root):
        if c.subscope is None or not c.sub.sequential:
            continue
        steps, names = candidates(g, c.sub, frozenset())
        if any(s.left == 1 and s.offset == 0 for s in steps.values()):
            out |= {n for n in names if int_list(params.get(n))}
    return out


def _widened(graph: Graph, planner: ClassPlanner, p: str, probe: bool, texts: Texts) -> ClassPlanner | None:
    """The plan of the spec built with the depths `p` at the first value `vary` tries that builds,
    its default `p` the spec's own, where it holds there (module docstring); else None."""
    meta, own = graph.meta, (graph.meta.params or {})[p]
    if meta.file is None:
        return None
    for value in tried_values(own):
        try:
            wider = expand(load_spec(meta.file, meta.sets or [], {**meta.values, p: value}))
        except (SpecError, SpecErrors):
            continue
        if len(wider.nodes) > MAX_VARY_NODES:
            return None
        wide, held = _planner(wider, probe, texts)
        if p in held or not _holds(graph, planner, wide):
            return None
        wide.root.defaults[p] = tuple(own)
        return wide
    return None


def _holds(graph: Graph, planner: ClassPlanner, wide: ClassPlanner) -> bool:
    """The wider plan's file builds the graph at the spec's own values (module docstring)."""
    wider = wide.tree.graph
    if any(n.name not in wider.nodes or _node_key(n) != _node_key(wider.nodes[n.name]) for n in graph.nodes.values()):
        return False
    paths = {sn.path for sn in planner.tree.post_order()}
    if not all(any(sn.path in paths for sn in plan.instances) for plan in wide.unique_plans()):
        return False
    env = top_env_at(wide.root, dict(graph.meta.params or {}))
    built = built_numbers(wide, env) if env is not None else None
    theirs = dict(top_numbers(wide))
    if env is None or built is None or not all(
            label in theirs and written_gives(slot, was, theirs[label], env) for label, was, slot in built):
        return False
    return _members(wide, env) == _members(planner, None) and wide.root.forward == planner.root.forward


def _node_key(n: Node) -> tuple:
    """What a node builds and gives, but for which nodes it reads (a stage's first block reads the
    last of the stage before, which the wider graph has more of)."""
    return (n.op.name, repr(n.attrs), n.in_shapes, n.shape, tuple(n.tensors))


def _members(planner: ClassPlanner, env: dict | None) -> dict[str, int] | None:
    """Per child of the top class, the members it builds: with `env`, as its counted runs give
    them there (`ClassPlan.counts`), else as the plan's graph has them."""
    out = {}
    for child, sizes in member_sizes(planner):
        runs = planner.root.counts.get(child, {}) if env is not None else {}
        k = n = 0
        while k < len(sizes):
            count = runs.get(k)
            times = count_given(count.text, env) if count and env is not None else 1
            if times is None:
                return None
            n += times
            k += count.left if count else 1
        out[child] = n
    return out
