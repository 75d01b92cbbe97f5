"""Alternatives: children of one block that a text parameter picks between, never two at one
instance (DPN's projections: `c1x1_w_s1` where `kind == "proj"`, `c1x1_w_s2` where `kind ==
"down"`, none where it is "normal"), each reading the same value, its output read where the
others' would be, that value read there where it has none. The structures of the block that
differ only by which of them they have share a class (timm's one DualPathBlock), written from
their union (`join`): the block's children in spec order, the alternatives chained, each
standing for its input where it is absent, as the spec writes them (`c1x1_w_s2: {in: c1x1_w_s1,
when: ...}`), so that where one is there the others pass its value on. The class builds each
under its test (`guard.by_text`); the union is no instance: the class's `rep` where it has one.
An alternative is a block's instance or an op's module (BN-Inception's pools: `avgpool` where
`pool == "avg"`, `maxpool` where it is "max", the projection reading whichever is there)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .guard import text_test
from .scopes import Child, ScopeNode

if TYPE_CHECKING:
    from .classes import ClassPlan
    from .optional import Joiner

Runs = list[list[str]]          # the alternatives, consecutive in the union's order, by run


def join(joiner: Joiner, plan: ClassPlan, sn: ScopeNode) -> bool:
    """`sn` joins the class as one more structure of its union, where all are alike but for
    alternatives (module children of one input and output, a text parameter telling where each
    is, at most one of a run at each); sets `plan.union`, `plan.absent`, `plan.optional`."""
    members = [*joiner.planner.structures[plan], sn]
    if (plan.members or plan.tails or plan.same or plan.ladder_varies or not sn.path
            or any(joiner._adds(m) for m in members)
            or len({tuple(lab for lab, _ in joiner.planner.numbers_of.get(m, [])) for m in members}) != 1):
        return False
    order = _order(members)
    has = [{c.local for c in m.children} for m in members]
    optional = [o for o in order or [] if any(o not in h for h in has)]
    runs = _runs(order or [], optional)
    if order is None or not optional or not all(_alternative(joiner, members, o) for o in optional) or any(
            sum(o in h for o in run) > 1 for run in runs for h in has):
        return False
    into = _into(joiner, members, runs)
    if into is None or any(v.startswith("<run ") for v in into):
        return False                # (a run reading another's output: no such alternatives)
    base = next((m for m, h in zip(members, has) if all(any(o in h for o in run) for run in runs)), None)
    if base is None:                # (its readers of each run say which read it)
        return False
    union, absent = _union(base, members, order, runs)
    if plan.union is not None:      # the union of fewer structures
        joiner.planner.plan_of.pop(plan.union, None)
        joiner.planner.numbers_of.pop(plan.union, None)
    plan.union = union
    plan.absent = {o: into[i] if o not in absent else absent[o] for i, run in enumerate(runs) for o in run}
    plan.optional = list(optional)
    joiner.planner.numbers_of[union] = joiner.planner.numbers_of.get(base, [])
    joiner.planner.plan_of[union] = plan
    return True


def _order(members: list[ScopeNode]) -> list[str] | None:
    """The children's names of all the structures in one order that each keeps, those of one
    structure between two that all have in the spec's order (by where each is written); None
    where there is none."""
    order: list[str] = []
    place: dict[str, tuple] = {}
    for m in members:
        at = 0
        for c in m.children:
            if c.local in order:
                if order.index(c.local) < at:
                    return None
                at = order.index(c.local) + 1
                continue
            loc = c.loc
            place[c.local] = (str(loc.file), loc.line, loc.col) if loc is not None else ()
            while at < len(order) and order[at] in place and () < place[order[at]] < place[c.local]:
                at += 1         # after an alternative of another structure written before it
            order.insert(at, c.local)
            at += 1
    return order


def _runs(order: list[str], optional: list[str]) -> Runs:
    """The optional children in runs of ones next to each other in the union's order."""
    runs: Runs = []
    for k, o in enumerate(order):
        if o in optional:
            if runs and k and order[k - 1] == runs[-1][-1]:
                runs[-1].append(o)
            else:
                runs.append([o])
    return runs


def _alternative(joiner: Joiner, members: list[ScopeNode], local: str) -> bool:
    """A block's instance (not an nn.Sequential) or an op's module, of one input, built alike
    wherever it is, that a text parameter says where it is (`guard.text_test`), and that may be
    absent (`Joiner._may_be_absent`)."""
    mine = [(m, c) for m in members for c in m.children if c.local == local]
    key = joiner.planner.ctor_key
    return (all((c.subscope is not None and not c.sub.sequential or c.node is not None and c.module)
                and len(c.inputs) == 1 for _, c in mine)
            and len({repr(key(c)) for _, c in mine}) == 1 and text_test(members, local) is not None
            and all(joiner._optional_ok(m, c) for m, c in mine))


def _rel(sn: ScopeNode, ref: str) -> str:
    return ref[len(sn.path) + 1:] if ref.startswith(sn.path + ".") else f"<in {sn.inputs.index(ref)}>"


Read = list[list]       # per child other than the alternatives, then per output: what it reads, as `_canon`


def _into(joiner: Joiner, members: list[ScopeNode], runs: Runs) -> list[str] | None:
    """Per run, the one value its alternatives read, where each structure reads alike (`_canon`):
    where it has none of a run, that value read where another reads the run's output; else None."""
    got = [_canon(joiner, m, runs) for m in members]
    into: list[str] = []
    for i in range(len(runs)):
        values = {ins[i] for _, ins in got if i in ins}
        with_it = next((r for r, ins in got if i in ins), None)
        if len(values) != 1 or with_it is None:
            return None
        into.append(values.pop())
        for read, ins in got:
            if i not in ins:          # its readers read the value itself
                for mine, theirs in zip(read, with_it):
                    mine[-1] = [f"<run {i}>" if t == f"<run {i}>" and r == into[i] else r
                                for r, t in zip(mine[-1], theirs[-1])] if len(mine[-1]) == len(theirs[-1]) else mine[-1]
    return into if all(read == got[0][0] for read, _ in got) else None


def _canon(joiner: Joiner, m: ScopeNode, runs: Runs) -> tuple[Read, dict[int, str]]:
    """What each child other than the alternatives is built as and reads, then what the scope
    returns, a run's output read as `<run i>`; and per run it has, the value its alternative reads
    (`<run i>` where it is another alternative's: no such alternatives)."""
    run_of = {o: i for i, run in enumerate(runs) for o in run}
    outs = {c.outputs[0]: run_of[c.local] for c in m.children if c.local in run_of}

    def canon(ref: str) -> str:
        return f"<run {outs[ref]}>" if ref in outs else _rel(m, ref)
    ins = {run_of[c.local]: canon(c.inputs[0]) for c in m.children if c.local in run_of}
    read: Read = [[c.local, repr(joiner.planner.ctor_key(c)), c.module, list(map(canon, c.inputs))]
                  for c in m.children if c.local not in run_of]
    return [*read, ["<return>", list(map(canon, m.exports))]], ins


def _union(base: ScopeNode, members: list[ScopeNode], order: list[str],
           runs: Runs) -> tuple[ScopeNode, dict[str, str]]:
    """The structures' union, as `base` (which has one of each run) names its values: the
    alternatives it lacks as the structures that have them build them, each reading the one
    before it in its run (the first what the run reads), the readers of a run's output the
    last's; and per alternative but the first of a run, the one before it, which stands for it
    where it is absent (relative)."""
    child = {c.local: c for m in reversed(members) for c in m.children}
    mine = {c.local: c for c in base.children}
    out_of = {o: mine[o].outputs[0] if o in mine else f"{base.path}.{o}" for run in runs for o in run}
    last = {mine[o].outputs[0] if o in mine else "": run[-1] for run in runs for o in run}
    last.pop("", None)
    children: list[Child] = []
    for local in order:
        c = mine.get(local) or child[local]
        run = next((r for r in runs if local in r), None)
        if run is not None:
            k = run.index(local)
            first = next(mine[o].inputs[0] for o in run if o in mine)
            c = dataclasses.replace(c, inputs=[out_of[run[k - 1]] if k else first], outputs=[out_of[local]])
        else:
            c = dataclasses.replace(c, inputs=[out_of[last[r]] if r in last else r for r in c.inputs])
        children.append(c)
    exports = [out_of[last[r]] if r in last else r for r in base.exports]
    before = {run[k]: _rel(base, out_of[run[k - 1]]) for run in runs for k in range(1, len(run))}
    return dataclasses.replace(base, children=children, exports=exports, registered=None), before
