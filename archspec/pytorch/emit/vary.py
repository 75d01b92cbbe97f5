"""Which width and depth parameters the top class may take: those with which it builds what the
spec builds at another value.

The top class writes its widths from the spec's parameters (`widthexpr`), and so takes them
(`DenseNet121(growth=32, stem=64)`), and the counts of its stages' repeats (`counts`: CIFAR ResNet's
`range(n - 1)`). Each it takes that the rules before widths were followed would hold, each a
structure between reads (`Lifter.shaped`: DenseNet's bn_size), and each a count reads
(`SpecExprs.checked`: a number, not num_classes, which every spec's classifier reads alone) is
checked: the spec is loaded again (its file, its --set and keyword values) with the parameter
doubled (or the first of the TRIES values on that the spec builds with: WRN's depth 58 where 56
breaks its constraint; a float, a factor, halved first: `tried_values`), and its classes planned; the
other classes must be the very same source (their docstrings, which list the instances, aside),
and each number of the top class's, as written, must give there the number that graph has (its
`let:` locals first), a counted run's first member's at each of the members its count gives
there. A parameter that fails (or another kind than a number, or a spec that loads from no file,
or builds at none of the values) is refuted: the top class writes it as its value, as before. An
expression names a number; this decides whether another value fits it, one value at a time: a
check, not a proof (tests/test_top_widths.py builds each at other values again). The builds are
bounded: at most `limits.MAX_VARY_NODES` nodes together (each build's own count, the graph's
where one fails), the next one counted as the graph's before it is made; the parameters past that stay numbers."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import SpecError, SpecErrors
from ...frontend.expand import expand
from ...frontend.expr import evaluate
from ...frontend.spec import load_spec
from ...ir import Graph
from ...limits import MAX_VARY_NODES
from .classes import ClassPlan, ClassPlanner, member_sizes
from .lift import Indexed
from .scopes import ScopeTree
from .specexpr import SAFE_ON_TOP
from .widthexpr import int_list

TRIES = 6                  # values a parameter is tried at, from twice its own: the first the spec builds with


def refuted(graph: Graph, planner: ClassPlanner, probe: bool,
            texts: Callable[[ClassPlanner], list[str]]) -> frozenset[str]:
    """The width parameters the top class takes that another value of does not fit (`texts`: the
    source of the classes but the top's)."""
    params = graph.meta.params or {}
    taken = sorted(planner.root.checked - SAFE_ON_TOP)
    ints = [p for p in taken if type(params.get(p)) in (int, float) or int_list(params.get(p))]
    if not ints or graph.meta.file is None:
        return frozenset(taken)          # a width is a number: another kind is not varied, and not taken
    mine = texts(planner)
    out, spent = {p for p in taken if p not in ints}, [0]      # the nodes the builds made, together
    for p in ints:
        if not _any_fits(graph, planner, p, probe, mine, texts, spent):
            out.add(p)
    return frozenset(out)


def _any_fits(graph: Graph, planner: ClassPlanner, p: str, probe: bool, mine: list[str],
              texts: Callable[[ClassPlanner], list[str]], spent: list[int]) -> bool:
    """Parameter p fits the first of TRIES values from twice its own on that the spec builds (a
    constraint `(depth - 4) % 6 == 0` holds at one of six in a row), and, where a structure reads
    it (`ClassPlan.turned`: a block's `when:`, a count), the value where a test of it turns
    (`_turns`) where the spec builds with it, within the bound. (Not a width alone: PyramidNet's
    alpha at 0 gives other classes, all its units as wide, and its top class builds that too.)"""
    own = (graph.meta.params or {})[p]
    fits = None
    for value in tried_values(own):
        fits = _fits_within(graph, planner, (p, value), probe, mine, texts, spent)
        if fits is not None:
            break
    turns = _turns(own) if p in planner.root.turned else []
    return bool(fits) and all(_fits_within(graph, planner, (p, value), probe, mine, texts, spent, True) is not False
                              for value in turns)


def _fits_within(graph: Graph, planner: ClassPlanner, varied: tuple[str, Any], probe: bool, mine: list[str],
                 texts: Callable[[ClassPlanner], list[str]], spent: list[int], turn: bool = False) -> bool | None:
    """`_fits`, False past the bound."""
    if spent[0] + len(graph.nodes) > MAX_VARY_NODES:
        return False
    return _fits(graph, planner, varied, probe, mine, texts, spent, turn)


def _turns(v: Any) -> list[Any]:
    """A number's 0, of its type, other than its own: where a flag or a test of it turns
    (DenseNet-CIFAR's `6 if bottleneck else 3`, the dense layer's `when: ${bn_size > 0}`), which
    twice its own does not cross; it must fit where the spec builds with it. (Not 1, where a
    class may well differ and the top class still build the spec's: a DenseBlock whose growth
    is 1 writes `in_channels + i`.)"""
    return [type(v)(0)] if type(v) in (int, float) and v else []


def tried_values(v: int | float | list[int]) -> list[Any]:
    """The values a parameter is tried at: from twice its own on (an int), or half of it, then
    other multiples (a float, a factor such as DenseNet's compression, 0 < c <= 1, whose 1.0 makes
    a transition's output its input's width: its class would take one width, not two); a list of
    ints, each item twice its own plus its position, then one more each ([2, 2] -> [4, 5], [5, 6], ...:
    items the list has equal differ there, so an item read in another's place fails there or at the
    spec's own values)."""
    if isinstance(v, list):
        return [[2 * x + k + t for k, x in enumerate(v)] for t in range(TRIES)]
    if type(v) is int:
        first = 2 * v or 1
        return list(range(first, first + TRIES))
    return [v / 2, 0.75 * v, 1.5 * v, 2 * v, v / 3, 3 * v][:TRIES] if v else [0.5, 1.0]


def _fits(graph: Graph, planner: ClassPlanner, varied: tuple[str, int | float], probe: bool, mine: list[str],
          texts: Callable[[ClassPlanner], list[str]], spent: list[int], turn: bool = False) -> bool | None:
    """The spec built with `varied` (parameter, value): the same other classes, and the top
    class's numbers; None where the spec does not build with it. Its nodes are added to
    `spent` (the graph's where the build fails). At a value where a test turns (`turn`), the
    classes that build children under their block's `when:` (`ClassPlan.whens`), and those that
    build them, may differ (`_same_classes`), and the top's numbers those classes take with them."""
    meta = graph.meta
    assert meta.file is not None
    try:
        other = expand(load_spec(meta.file, meta.sets or [], {**meta.values, varied[0]: varied[1]}))
        spent[0] += len(other.nodes)
        theirs = ClassPlanner(ScopeTree(other), probe)
    except (SpecError, SpecErrors):
        spent[0] += len(graph.nodes)
        return None
    if not _same_classes(planner, theirs, texts(theirs), mine, turn):
        return False
    numbers = top_numbers(theirs)
    env = top_env_at(planner.root, dict(other.meta.params or {}))
    built = built_numbers(planner, env) if env is not None else None
    if env is None or built is None:
        return False
    if turn and [label for label, _, _ in built] != [label for label, _ in numbers]:
        built = _matched(built, [label for label, _ in numbers])
    if built is None or [label for label, _, _ in built] != [label for label, _ in numbers]:
        return False
    return all(written_gives(slot, was, v, env) for (_, was, slot), (_, v) in zip(built, numbers))


def _same_classes(planner: ClassPlanner, theirs: ClassPlanner, their_texts: list[str], mine: list[str],
                  turn: bool) -> bool:
    """The other classes the same source; at a value where a test turns (`turn`), but those
    that build children under their block's `when:` and those that build such classes (`_guarding`):
    those build, where the test turns, what the spec builds by their tests (the spec drops
    the children there: the classes written there lack them), of the same names."""
    if their_texts == mine:
        return True
    ours = [p for p in planner.unique_plans() if p is not planner.root]
    others = [p for p in theirs.unique_plans() if p is not theirs.root]
    loose = _guarding(planner)
    return (turn and bool(loose) and len(ours) == len(others) == len(mine) == len(their_texts)
            and all(a.name == b.name and (a in loose or t == m) for a, b, t, m in zip(ours, others, their_texts, mine)))


def _guarding(planner: ClassPlanner) -> set[ClassPlan]:
    """The classes that build children under their block's `when:` (`ClassPlan.whens`), and the
    classes whose instances hold an instance of one."""
    guarded = {p for p in planner.unique_plans() if p.whens}
    inside = [sn.path for sn, p in planner.plan_of.items() if p in guarded]
    return guarded | {p for p in planner.unique_plans() if p is not planner.root and any(
        path.startswith(sn.path + ".") for sn in p.instances for path in inside)}


def _matched(built: list[tuple[str, Any, str | None]], labels: list[str]) -> list[tuple[str, Any, str | None]] | None:
    """The top's numbers the spec's build at a turned test has, by label, in its order: the
    others are arguments of classes that it builds under their `when:` (`_guarding`), which
    the classes there do not take."""
    by_label = {entry[0]: entry for entry in built}
    return [by_label[label] for label in labels] if all(label in by_label for label in labels) else None


def top_numbers(planner: ClassPlanner) -> list[tuple[str, Any]]:
    """The top class's numbers, constructors' then forward's, as `parameterise` counts them."""
    sn = planner.tree.root
    return planner.positions_of(sn, planner.root.optional) + planner.numbers_of.get(sn, [])


def built_numbers(planner: ClassPlanner, env: dict[str, Any]) -> list[tuple[str, Any, str | None]] | None:
    """The top class's numbers as it builds them with the names `env` gives: (label, value,
    slot), each counted run of an nn.Sequential's members (`ClassPlan.counts`) its first member's
    as many times as its count gives (their labels numbered on), or None where it gives no count."""
    root = planner.root
    entries = [(label, v, slot) for (label, v), slot in zip(top_numbers(planner), root.slots)]
    out, at = [], 0
    for child, sizes in member_sizes(planner):
        runs = root.counts.get(child, {})
        members, k, m = [], 0, 0
        for size in sizes:
            members.append(entries[at:at + size])
            at += size
        while k < len(members):
            count = runs.get(k)
            times = count_given(count.text, env) if count else 1
            if times is None:
                return None
            for j in range(times):
                out += _renumbered(_stepped(members[k], j), child, k, m) if runs else members[k]
                m += 1
            k += count.left if count else 1
    return out + entries[at:]


def count_given(text: str, env: dict[str, Any]) -> int | None:
    try:
        n = evaluate(text, env)
    except SpecError:
        return None
    return n if type(n) is int and n >= 0 else None


def _stepped(entries: list[tuple[str, Any, str | None]], j: int) -> list[tuple[str, Any, str | None]]:
    """A counted run's first member's numbers as its j-th member's: a step's index j more."""
    return [(label, v, Indexed(slot, slot.name, slot.value + j, "") if isinstance(slot, Indexed) and j else slot)
            for label, v, slot in entries]


def _renumbered(entries: list[tuple[str, Any, str | None]], child: str, k: int,
                m: int) -> list[tuple[str, Any, str | None]]:
    """Member k's numbers labelled as member m's (`top_numbers`: `layer2_1_in_channels`)."""
    old, new = f"{child}_{k}", f"{child}_{m}"
    return [(new + label[len(old):], v, slot) for label, v, slot in entries]


def top_env_at(root: ClassPlan, env: dict[str, Any]) -> dict[str, Any] | None:
    """The names the top class's numbers read: the spec's parameters, then its `let:` locals."""
    try:
        for name, text in root.lets:
            env[name] = evaluate(text, env)
    except SpecError:
        return None
    return env


def written_gives(slot: str | None, was: Any, value: Any, env: dict[str, Any]) -> bool:
    """The number as written (a literal, `was`; an expression, what it gives at `env`) is `value`."""
    if slot is None:
        return repr(was) == repr(value)
    try:
        got = evaluate(slot, {**env, slot.name: slot.value} if isinstance(slot, Indexed) else env)
    except SpecError:
        return False
    got = tuple(got) if type(got) is list and type(value) is tuple else got   # a list the call passes as a tuple
    return type(got) is type(value) and got == value
