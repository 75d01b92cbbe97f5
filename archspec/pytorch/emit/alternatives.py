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
`pool == "avg"`, `maxpool` where it is "max", the projection reading whichever is there). Or one
that an int parameter says where it is, a branch of width 0 being none (`guard.count_test`: the
projection under `proj > 0`, which may follow the pool there in its run, its input standing for it
where absent; the 1x1 branch under `n1x1 > 0`, a run of its own that a concatenation reads
first, which nothing stands for: the class's forward leaves it out of the list, `ClassPlan.heads`)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .guard import count_test, presence_test
from .scopes import Child, ScopeNode

if TYPE_CHECKING:
    from .classes import ClassPlan
    from .optional import Joiner

Runs = list[list[str]]          # the alternatives, consecutive in the union's order, by run


def join(joiner: Joiner, plan: ClassPlan, sn: ScopeNode) -> bool:
    """`sn` joins the class as one more structure of its union, where all are alike but for
    alternatives (module children of one input and output, a text or int parameter telling where
    each is, at most one of a run's that a text tells at each); sets `plan.union`, `plan.absent`,
    `plan.optional`, `plan.heads`."""
    members = [*joiner.planner.structures[plan], sn]
    if (plan.members or plan.tails or plan.same or plan.ladder_varies or not sn.path
            or any(joiner._adds(m) for m in members)
            or len({tuple(lab for lab, _ in joiner.planner.numbers_of.get(m, [])) for m in members}) != 1):
        return False
    order = _order(members)
    has = [{c.local for c in m.children} for m in members]
    optional = [o for o in order or [] if any(o not in h for h in has)]
    runs = _runs(order or [], optional)
    if order is None or not optional or not all(_alternative(joiner, members, o) for o in optional):
        return False
    texts = {o for o in optional if count_test(members, o) is None}     # the others: an int says where
    if any(sum(o in h for o in run if o in texts) > 1 for run in runs for h in has):
        return False
    found = _into(joiner, members, runs, {i for i, run in enumerate(runs) if len(run) == 1 and run[0] not in texts})
    if found is None or any(v.startswith("<run ") for v in found[0]):
        return False                # (a run reading another's output: no such alternatives)
    into, heads = found
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
    plan.heads = {local: [runs[i][0] for i in ks] for local, ks in heads.items()}
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
            and len({repr(key(c)) for _, c in mine}) == 1 and presence_test(members, local) is not None
            and all(joiner._optional_ok(m, c) for m, c in mine))


def _rel(sn: ScopeNode, ref: str) -> str:
    return ref[len(sn.path) + 1:] if ref.startswith(sn.path + ".") else f"<in {sn.inputs.index(ref)}>"


Read = list[list]       # per child other than the alternatives, then per output: what it reads, as `_canon`
Heads = dict[str, list[int]]      # a concatenation -> the runs it reads first, which nothing stands for


def _into(joiner: Joiner, members: list[ScopeNode], runs: Runs,
          droppable: set[int]) -> tuple[list[str], Heads] | None:
    """Per run, the one value its alternatives read, where each structure reads alike (`_canon`):
    where it has none of a run, that value read where another reads the run's output; else None.
    And the concatenations whose first inputs are `droppable` runs (one child an int says where
    it is) that nothing stands for where they are absent (BN-Inception's 1x1 branch): each
    structure that has such a run reads it there, the others lack the input (`_heads`)."""
    got = [_canon(joiner, m, runs, droppable) for m in members]
    heads = _heads([h for _, _, h in got], [set(ins) for _, ins, _ in got])
    if heads is None:
        return None
    into: list[str] = []
    for i in range(len(runs)):
        values = {ins[i] for _, ins, _ in got if i in ins}
        with_it = next((r for r, ins, _ in got if i in ins), None)
        if len(values) != 1 or with_it is None:
            return None
        into.append(values.pop())
        for read, ins, _ in got:
            if i not in ins:          # its readers read the value itself
                for mine, theirs in zip(read, with_it):
                    mine[-1] = [f"<run {i}>" if t == f"<run {i}>" and r == into[i] else r
                                for r, t in zip(mine[-1], theirs[-1])] if len(mine[-1]) == len(theirs[-1]) else mine[-1]
    if not all(read == got[0][0] for read, _, _ in got):
        return None
    dropped = {i for ks in heads.values() for i in ks}
    if any(f"<run {i}>" in entry[-1] for read, _, _ in got for entry in read for i in dropped):
        return None                   # read elsewhere too: not only a concatenation's input
    return into, heads


def _heads(per: list[Heads], present: list[set[int]]) -> Heads | None:
    """The structures' concatenations' droppable first inputs, one order in all (each structure's
    those of its runs), where they agree; else None."""
    union: Heads = {}
    for h in per:
        for local, ks in h.items():
            union[local] = [*union.get(local, []), *(k for k in ks if k not in union.get(local, []))]
    if any(sorted(ks) != ks for ks in union.values()):
        return None
    for h, there in zip(per, present):
        if any(h.get(local, []) != [k for k in ks if k in there] for local, ks in union.items()):
            return None
    return union


def _canon(joiner: Joiner, m: ScopeNode, runs: Runs, droppable: set[int]) -> tuple[Read, dict[int, str], Heads]:
    """What each child other than the alternatives is built as and reads, then what the scope
    returns, a run's output (its last alternative there's) read as `<run i>`, a concatenation's
    first inputs that are `droppable` runs' left out (and noted); and per run it has, the value
    its first alternative there reads, each other the one before it (`<run i>` where one reads
    another run's output, or other than the one before it: no such alternatives)."""
    run_of = {o: i for i, run in enumerate(runs) for o in run}
    chains: dict[int, list[Child]] = {}
    for c in m.children:
        if c.local in run_of:
            chains.setdefault(run_of[c.local], []).append(c)
    outs = {chain[-1].outputs[0]: i for i, chain in chains.items()}
    inner = {c.outputs[0]: i for i, chain in chains.items() for c in chain[:-1]}

    def canon(ref: str) -> str:
        return f"<run {outs[ref]}>" if ref in outs else f"<within {inner[ref]}>" if ref in inner else _rel(m, ref)
    ins = {i: canon(chain[0].inputs[0]) if all(
        b.inputs[0] == a.outputs[0] for a, b in zip(chain, chain[1:])) else f"<run {i}>" for i, chain in chains.items()}
    read: Read = []
    heads: Heads = {}
    for c in m.children:
        if c.local in run_of:
            continue
        refs = list(map(canon, c.inputs))
        if c.node is not None and c.node.op.name == "concat":
            k = 0
            while k < len(refs) and refs[k] in {f"<run {i}>" for i in droppable if i in chains}:
                k += 1
            if k:
                heads[c.local] = [int(r[5:-1]) for r in refs[:k]]
                refs = refs[k:]
        read.append([c.local, repr(joiner.planner.ctor_key(c)), c.module, refs])
    return [*read, ["<return>", list(map(canon, m.exports))]], ins, heads


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
