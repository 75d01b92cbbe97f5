"""forward over nn.ModuleLists as a ladder (Res2Net's hierarchical 3x3s, Gao et al. 2019 Eq. 1),
as timm's Bottle2neck writes it: n steps, step k calling the k-th member of each list in turn,
its first member reading one value that every step reads (`split(subsets)`); each step but the
first may add the step before's output to that (`outs[-1] + split(subsets)`), the same add at every
such step; each step's output is read besides only by one concatenation, whose first items they
are, in order. It is a for loop with the step's index, the outputs collected in a list:

    outs = []
    for i, (split, conv, bn, act) in enumerate(zip(self.splits, self.convs, self.bns, self.acts)):
        sp = split(subsets) if i == 0 else outs[-1] + split(subsets)
        sp = conv(sp)
        ...
        outs.append(sp)
    outs.append(last)
    out = torch.cat(outs, 1)

The loop runs the same calls in the same order as the unrolled lines, so the numbers are equal;
it is written where the concatenation is, after the children between, which cannot change what
the steps read: a node runs in place only on a fresh value that nothing else reads
(ir.Graph.in_place), and the steps' source has a reader per step. A list qualifies as in loops.py:
forward calls its members 0 .. n-1, iterating it visits exactly them."""
from __future__ import annotations

from dataclasses import dataclass

from ...names import Namespace
from ...ops.base import Arg
from .expr import expression, node_expr, with_numbers
from .loops import FALLBACK, holds, lists, member_name
from .scopes import Child, ScopeNode, ScopeTree

LOOP_INDICES = ("i", "k", "index")      # the step's index: tests/source_check.py admits these


@dataclass(eq=False)
class Ladder:
    """The lists in step order, the value every step's first member reads, the add of each step
    but the first (None: no adds), and the reader's items after the steps' outputs; where some
    instances of the class add and others not, the flag that says where they do (attribute,
    negated: `not self.first`)."""
    roots: list[str]
    source: str
    adds: list[Child] | None
    tail: list[str]
    flag: tuple[str, bool] | None = None


def ladder_adds(tree: ScopeTree, sn: ScopeNode) -> dict[str, tuple[str, str]]:
    """The adds of the scope's ladder, if it has one: each add's local -> (its output, the value
    it adds the step before's output to: what the next member reads where the add is left out)."""
    _, found = ladders(tree, sn.children, lists(sn), sn.exports, set())
    return {a.local: (a.outputs[0], a.inputs[1]) for ladder in found.values() for a in ladder.adds or []}


def ladders(tree: ScopeTree, order: list[Child], full: dict[str, int], exports: list[str],
            optional: set[str], flag: tuple[str, bool] | None = None) -> tuple[list[Child], dict[Child, Ladder]]:
    """The children in order with a ladder and its reader made one child (the reader's node,
    reading the source and the reader's other items), at the reader's place; and its ladder.
    The lists of a ladder are those of one length, all of them; none of its children is one that
    some instances of the class lack (`optional`)."""
    for n in sorted({n for n in full.values() if n >= 2}):
        roots = [r for r, m in full.items() if m == n]
        found = _ladder(tree, order, roots, n, exports) if all(r.isidentifier() for r in roots) else None
        if found is not None and not {c.local for c in found[1] | {found[2]}} & optional:
            ladder, absorbed, reader = found
            merged = Child(reader.local, [ladder.source, *ladder.tail], list(reader.outputs), node=reader.node,
                           module=False)
            ladder.flag = flag
            return [merged if c is reader else c for c in order if c not in absorbed], {merged: ladder}
    return order, {}


def _ladder(tree: ScopeTree, order: list[Child], roots: list[str], n: int,
            exports: list[str]) -> tuple[Ladder, set[Child], Child] | None:
    at = {c.local: k for k, c in enumerate(order)}
    if not all(f"{r}.{k}" in at for r in roots for k in range(n)):
        return None
    roots = sorted(roots, key=lambda r: at[f"{r}.0"])
    steps = [[order[at[f"{r}.{k}"]] for r in roots] for k in range(n)]
    if any(not (c.module and len(c.inputs) == 1 and len(c.outputs) == 1) for step in steps for c in step):
        return None
    source = steps[0][0].inputs[0]
    outs = [step[-1].outputs[0] for step in steps]
    adds = _adds(tree, order, steps, outs)
    if adds is None or any(step[0].inputs != [source] for step in steps):
        return None
    for k, step in enumerate(steps):          # each member reads the one before it (the add, after the first)
        before = [c.outputs[0] for c in step[:-1]]
        if adds and k:
            before[0] = adds[k - 1].outputs[0]
        if [c.inputs[0] for c in step[1:]] != before:
            return None
    absorbed = {c for step in steps for c in step} | set(adds)
    reader = _reader(tree, order, outs, absorbed, exports)
    if reader is None or source in {o for c in absorbed for o in c.outputs}:
        return None
    inner = [o for c in absorbed for o in c.outputs if o not in outs]
    if any(o in exports or o in tree.output_refs or len(tree.consumers.get(o, [])) != 1 for o in inner):
        return None
    return Ladder(roots, source, adds or None, reader.inputs[n:]), absorbed, reader


def _adds(tree: ScopeTree, order: list[Child], steps: list[list[Child]], outs: list[str]) -> list[Child] | None:
    """The add before each step's second member but the first step's, each `prev + first` of
    the step before's output and this step's first member's; [] where no step has one; None where
    some do and not so."""
    if len(steps[0]) < 2:
        return None
    found: list[Child] = []
    for k, step in enumerate(steps[1:], 1):
        src = step[1].inputs[0]
        add = next((c for c in order if src in c.outputs), None)
        if add is None or add in step:
            continue
        if (add.node is None or add.module or add.param or add.node.op.name != "add"
                or add.inputs != [outs[k - 1], step[0].outputs[0]] or _numbers(add)
                or expression(node_expr(add.node, tree.inplace(add.node)), ["A", "B"]) != "A + B"):
            return None
        found.append(add)
    return found if len(found) in (0, len(steps) - 1) else None


def _numbers(c: Child) -> bool:
    """The node's call writes a number (which its class would take: not written by a ladder)."""
    assert c.node is not None
    got: list = []
    with_numbers(node_expr(c.node), "", iter(lambda: None, 0), got)
    return bool(got)


def _reader(tree: ScopeTree, order: list[Child], outs: list[str], absorbed: set[Child],
            exports: list[str]) -> Child | None:
    """The concatenation reading the steps' outputs as its first items, one list of all its
    inputs in its expression; each output read besides only by the next step's add."""
    names = [tree.consumers.get(o, []) for o in outs]
    reader = next((c for c in order if c not in absorbed and c.inputs[:len(outs)] == outs), None)
    if (reader is None or reader.module or reader.param or reader.node is None
            or any(o in exports or o in tree.output_refs for o in outs)):
        return None
    if any(set(r) - {reader.node.name} - {n for c in absorbed for n in tree.names_of(c)} for r in names):
        return None
    if set(reader.inputs[len(outs):]) & {o for c in absorbed for o in c.outputs}:
        return None
    items = [Arg(k) for k in range(len(reader.inputs))]
    return reader if holds(node_expr(reader.node, tree.inplace(reader.node)), items) else None


def ladder_lines(ladder: Ladder, args: list[str], live: Namespace, assigned: set[str]) -> tuple[str, list[str]]:
    """The list the loop collects the steps' outputs in, and the lines that fill it: the loop,
    then an append per item of the reader after them. `args`: the variables of the source and
    those items; every variable of the loop is new to forward (`assigned`: those given so far)."""
    names = Namespace(assigned | set(args) | {"self"})
    index = names.first(*LOOP_INDICES) if ladder.adds or ladder.flag else ""      # (only an add reads it)
    assert index is not None, "a forward that names i, k and index"
    members = [names.first(member_name(r)) or names.fresh(FALLBACK) for r in ladder.roots]
    carry = names.first("sp") or names.fresh("sp")
    outs = names.first("outs") or names.fresh("outs")
    for v in filter(None, (index, *members, carry, outs)):
        live.take(v)
        live.release(v)
        assigned.add(v)
    lists = (f"zip({', '.join(f'self.{r}' for r in ladder.roots)})" if len(ladder.roots) > 1
             else f"self.{ladder.roots[0]}")
    targets = ", ".join(members)
    first = f"{members[0]}({args[0]})"
    alone = f"{index} == 0"          # the first step, or (where the flag says no adds) every step reads its split alone
    if ladder.flag is not None:
        alone += f" or {'' if ladder.flag[1] else 'not '}self.{ladder.flag[0]}"
    step = f"{first} if {alone} else {outs}[-1] + {first}" if index else first
    body = [f"{carry} = {step}", *(f"{carry} = {m}({carry})" for m in members[1:]), f"{outs}.append({carry})"]
    head = (f"for {index}, ({targets}) in enumerate({lists}):" if index and len(members) > 1 else
            f"for {index}, {targets} in enumerate({lists}):" if index else f"for {targets} in {lists}:")
    return outs, [f"{outs} = []", head,
                  *(f"    {line}" for line in body), *(f"{outs}.append({t})" for t in args[1:])]
