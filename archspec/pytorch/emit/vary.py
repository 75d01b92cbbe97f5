"""Which width parameters the top class may take: those with which it builds what the spec builds
at another value.

The top class writes its widths from the spec's parameters (`widthexpr`), and so takes them
(`DenseNet121(growth=32, stem=64)`). Each it takes that the rules before widths were followed would
hold (`SpecExprs.checked`: an int, not num_classes, which every spec's classifier reads alone) is
checked: the spec is loaded again (its file, its --set and keyword values) with the parameter
doubled, and its classes planned; the other classes must be the very same source, and each number
of the top class's, as written, must give there the number that graph has (its `let:` locals
first). A parameter that fails (or another kind, or a spec that loads from no file, or fails to
load so) is refuted: the top class writes it as its value, as before. An expression names a
number; this decides whether another value fits it, one value at a time: a check, not a proof
(tests/test_top_widths.py builds each at other values again). The builds are bounded: at most
`limits.MAX_VARY_NODES` nodes together (each build's own count, the graph's where one fails), the
next one counted as the graph's before it is made; the parameters past that stay numbers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import SpecError, SpecErrors
from ...frontend.expand import expand
from ...frontend.expr import evaluate
from ...frontend.spec import load_spec
from ...ir import Graph
from ...limits import MAX_VARY_NODES
from .classes import ClassPlan, ClassPlanner
from .lift import Indexed
from .scopes import ScopeTree
from .specexpr import SAFE_ON_TOP


def refuted(graph: Graph, planner: ClassPlanner, probe: bool,
            texts: Callable[[ClassPlanner], list[str]]) -> frozenset[str]:
    """The width parameters the top class takes that another value of does not fit (`texts`: the
    source of the classes but the top's)."""
    params = graph.meta.params or {}
    taken = sorted(planner.root.checked - SAFE_ON_TOP)
    ints = [p for p in taken if type(params.get(p)) is int]
    if not ints or graph.meta.file is None:
        return frozenset(taken)          # a width is an int: another kind is not varied, and not taken
    mine = texts(planner)
    out, spent = {p for p in taken if p not in ints}, [0]      # the nodes the builds made, together
    for p in ints:
        if spent[0] + len(graph.nodes) > MAX_VARY_NODES or not _fits(graph, planner, (p, 2 * params[p] or 1),
                                                                     probe, mine, texts, spent):
            out.add(p)
    return frozenset(out)


def _fits(graph: Graph, planner: ClassPlanner, varied: tuple[str, int], probe: bool, mine: list[str],
          texts: Callable[[ClassPlanner], list[str]], spent: list[int]) -> bool:
    """The spec built with `varied` (parameter, value): the same other classes, and the top
    class's numbers. Its nodes are added to `spent` (the graph's where the build fails)."""
    meta = graph.meta
    assert meta.file is not None
    try:
        other = expand(load_spec(meta.file, meta.sets or [], {**meta.values, varied[0]: varied[1]}))
        spent[0] += len(other.nodes)
        theirs = ClassPlanner(ScopeTree(other), probe)
    except (SpecError, SpecErrors):
        spent[0] += len(graph.nodes)
        return False
    if texts(theirs) != mine:
        return False
    numbers = _numbers(theirs)
    root = planner.root
    if [label for label, _ in numbers] != [label for label, _ in _numbers(planner)]:
        return False
    env = _env(root, dict(other.meta.params or {}))
    return env is not None and all(_gives(slot, was, v, env) for slot, (_, was), (_, v)
                                   in zip(root.slots, _numbers(planner), numbers))


def _numbers(planner: ClassPlanner) -> list[tuple[str, Any]]:
    """The top class's numbers, constructors' then forward's, as `parameterise` counts them."""
    sn = planner.tree.root
    return planner.positions_of(sn, planner.root.optional) + planner.numbers_of.get(sn, [])


def _env(root: ClassPlan, env: dict[str, Any]) -> dict[str, Any] | None:
    """The names the top class's numbers read: the spec's parameters, then its `let:` locals."""
    try:
        for name, text in root.lets:
            env[name] = evaluate(text, env)
    except SpecError:
        return None
    return env


def _gives(slot: str | None, was: Any, value: Any, env: dict[str, Any]) -> bool:
    """The number as written (a literal, `was`; an expression, what it gives at `env`) is `value`."""
    if slot is None:
        return repr(was) == repr(value)
    try:
        got = evaluate(slot.folded if isinstance(slot, Indexed) else slot, env)
    except SpecError:
        return False
    return type(got) is type(value) and got == value
