"""Optional children: which structures of one block share a class. Two structures do where one
is the other with some children left out, each of which something else stands for where it is
absent (its input, or the block's): a module becomes an argument that may be None (torchvision's
`downsample=None`) or one the class builds under a flag, an op runs under a flag (`if
self.residual:`). A ladder's adds (emit/ladder.py) are no children here: structures that differ in
them share a class whose ladder adds where a flag says (Res2Net's first block of a stage, timm's
`is_first`), which is how the first block, with a pool the others lack, joins them. An
nn.Sequential child whose members differ between structures (some lack a member: MobileNetV2's
expansion) joins them too, built member by member under tests (emit/members.py), and so do
chains that run other counts of one repeat's steps, built by a loop over the steps (Xception's
`rep`: `members.steps_of`, `ctorparams._step_loops`). The last inputs
of a concatenation that some give more of are no children either (`concat_tails`): the class
concatenates them where a flag says (DLA's `level_root`)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import LimitError
from ...limits import MAX_CLASS_TESTS
from ...names import name_problem
from .alternatives import join
from .exchange import listed
from .ladder import ladder_adds
from .members import Steps, flat, steps_of, union
from .scopes import Child, ScopeNode

if TYPE_CHECKING:
    from .classes import ClassPlan, ClassPlanner


def _rel(sn: ScopeNode, ref: str) -> str:
    """A ref as the scope sees it: its own value's name relative to it, or `<in k>` for its k-th input."""
    return ref[len(sn.path) + 1:] if ref.startswith(sn.path + ".") else f"<in {sn.inputs.index(ref)}>"


def _check_tests(tests: int, sn: ScopeNode) -> None:
    """Each new structure of a block is compared with every earlier one, child by child: the count
    is made before the comparisons, and refused where so many structures of one block would make
    it quadratic."""
    if tests > MAX_CLASS_TESTS:
        assert sn.scope is not None
        raise LimitError(f"{sn.path}: block '{sn.scope.block}' has so many distinct structures that telling "
                         f"their classes apart would compare {tests:,} children; at most {MAX_CLASS_TESTS:,}",
                         loc=sn.scope.loc, hint="limits.MAX_CLASS_TESTS; each distinct structure of a block "
                         "(which `when:` nodes it has, its arguments other than numbers) is a class of its own")


class Joiner:
    """Finds the class of a block that a new structure of it joins, for `ClassPlanner`."""

    def __init__(self, planner: ClassPlanner, probe: bool = False, stepless: frozenset[str] = frozenset()) -> None:
        self.planner = planner
        self.probe = probe           # forward unrolled (no ladder): each structure's adds as they are
        self.stepless = stepless     # blocks whose chains no loop over a repeat's steps builds (`_steps`)
        self.tests = 0                                   # children `merge` has compared (MAX_CLASS_TESTS)
        self.locals_of: dict[ScopeNode, frozenset[str]] = {}    # its children's names
        self.optional_ok: dict[Child, bool] = {}         # of a child in its own scope (`merge` asks again)
        self.adds_of: dict[ScopeNode, dict[str, tuple[str, str]]] = {}    # its ladder's (`_adds`)

    def merge(self, base: str, sn: ScopeNode) -> ClassPlan | None:
        """A class of the same block that `sn` joins, where they differ only by children that
        one of them lacks and that something else stands for when absent (`_bypasses`); the
        class gains them as optional children (`ClassPlan.absent`)."""
        planner = self.planner
        if sn.scope is None or not sn.scope.block or sn in planner.loop_of or listed(planner.tree, sn, planner.probe):
            return None
        block = sn.scope.block            # `res_block` and `resBlock` are both ResBlock: never one class
        plans = [p for p in planner.of_block.get(base, [])      # a loop builds it as it is; a list-taking
                 if p not in planner.looped and getattr(p.instances[0].scope, "block", None) == block
                 and not listed(planner.tree, p.instances[0], planner.probe)]       # exchange as it is
        self.tests += sum(planner.children_of[p] + len(sn.children) for p in plans)
        _check_tests(self.tests, sn)
        for plan in plans:
            if plan.union is not None:      # a union of alternatives (emit/alternatives.py)
                if join(self, plan, sn):
                    return plan
                continue
            if self._same_inputs(plan, sn):
                return plan
            tails = concat_tails(self.planner, plan, sn)
            if tails is not None:
                plan.tails = tails
                return plan
            joined = self._joins(plan, sn)
            members = [*planner.structures[plan], sn]
            chains = self._chains(members) if joined is not None else None
            if joined is not None and chains is not None:
                modules = {c.local for i in members for c in i.children if c.module}
                plan.absent = joined
                plan.optional = [o for o in joined if o in modules]
                plan.ladder_varies = len({bool(self._adds(i)) for i in members}) > 1
                plan.members = {local: flat(got) if isinstance(got, Steps) else got for local, got in chains.items()
                                if local not in plan.optional}      # (a caller passes those in built: not its)
                plan.steps = {k: got for k, got in chains.items() if isinstance(got, Steps) and k in plan.members}
                return plan
            if joined is None and join(self, plan, sn):
                return plan
        return None

    def _joins(self, plan: ClassPlan, sn: ScopeNode) -> dict[str, str] | None:
        """The children of `plan` some instances lack, each with what stands for it there (`_bypasses`),
        with `sn` joined, where it can join. Instances of one structure (key) are alike in all that
        `_bypasses` reads: one of each stands for all."""
        if plan.tails:                  # a class of one structure but its concatenation's tail (`concat_tails`)
            return None
        members = [*self.planner.structures[plan], sn]
        fuller = max(members, key=lambda i: len(self._locals(i)))
        has = [self._locals(i) for i in members]
        every = has[members.index(fuller)]
        varies = len({bool(self._adds(i)) for i in members}) > 1      # a ladder's adds, under a flag
        if not all(h <= every for h in has) or all(len(h) == len(every) for h in has) and not (
                varies or self._chains(members)):
            return None             # one has a child the fuller one lacks, or none lacks one: nothing optional
        labels = [[lab for lab, _ in self.planner.numbers_of.get(i, [])] for i in members]
        if any(lab != labels[members.index(fuller)] for lab in labels):
            return None             # an optional call's numbers would leave the instances' columns unaligned
        optional = [c.local for c in fuller.children if c.local in every and any(c.local not in h for h in has)]
        if not all(self._optional_ok(fuller, c) for c in fuller.children if c.local in optional):
            return None
        instead: dict[str, str] = {}
        for other in members:
            got = self._bypasses(fuller, other, optional)
            if got is None or any(instead.get(k, v) != v for k, v in got.items()):
                return None
            instead.update(got)
        for c in fuller.children:       # read by none that stays, where it is absent: its input stands for it
            if c.local in optional and c.local not in instead and len(c.inputs) == 1:
                instead[c.local] = _rel(fuller, c.inputs[0])
        if set(instead) != set(optional):
            return None
        return {o: self._nearest(fuller, o, instead, [i for i, h in zip(members, has) if o not in h]) for o in optional}

    def _same_inputs(self, plan: ClassPlan, sn: ScopeNode) -> bool:
        """Where `sn` and the class's structures are one, but for named inputs that some are given
        another input's value (DLA's leaves `in: [tree1, tree1]`): the class takes each such input
        as None by default, standing for that other one (timm's `shortcut=None`), where those are
        its last inputs and nothing changes an input in place. Records it in `plan.same`."""
        members = [*self.planner.structures[plan], sn]
        if plan.absent or plan.tails or not all(m.args for m in members):
            return False
        full = max(members, key=lambda m: len(m.args))
        same = {a: b for m in members for a, b in m.same.items()}
        if all(len(m.args) == len(full.args) for m in members) or full.same or any(
                m.args != full.args[:len(m.args)] or set(m.same) != set(full.args[len(m.args):])
                or any(same[a] != b for a, b in m.same.items()) for m in members):
            return False       # none is given fewer inputs; one lacks another than the last (its
            #                    callers pass inputs by position), or stands for it otherwise
        if not all(self._alike(full, m) for m in members if m is not full) or any(
                self.planner.tree.inplace(n) and n.inputs[0] in full.inputs for n in self._nodes(full)):
            return False
        plan.same = {a: same[a] for a in full.args if a in same}
        return True

    def _alike(self, full: ScopeNode, other: ScopeNode) -> bool:
        """`other` is `full` with some inputs given another one's value: the same children, each
        reading the same values (an input by its name)."""
        def rel(sn: ScopeNode, ref: str) -> str:
            r = _rel(sn, ref)
            return f"<in {sn.args[int(r[4:-1])]}>" if r.startswith("<in ") else r

        def reads(f_ref: str, o_ref: str) -> bool:
            f, o = rel(full, f_ref), rel(other, o_ref)
            return f == o or f.startswith("<in ") and other.same.get(f[4:-1]) == o[4:-1]
        if [c.local for c in full.children] != [c.local for c in other.children]:
            return False
        for c, o in zip(full.children, other.children):
            if (self.planner.ctor_key(c) != self.planner.ctor_key(o) or c.module != o.module
                    or len(c.inputs) != len(o.inputs) or not all(map(reads, c.inputs, o.inputs))):
                return False
        return len(full.exports) == len(other.exports) and all(map(reads, full.exports, other.exports))

    def _nodes(self, sn: ScopeNode) -> list:
        """The nodes reading the scope's inputs."""
        return [self.planner.tree.graph.nodes[r] for ref in sn.inputs for r in self.planner.tree.consumers.get(ref, [])]

    def _nearest(self, fuller: ScopeNode, local: str, instead: dict[str, str], lacking: list[ScopeNode]) -> str:
        """What stands for a left-out child, as near it as it may be: the output of a left-out
        input that the same value stands for and that every instance lacking the child lacks too
        (EfficientNet's add without its stochastic depth: `out`, not a value two steps back)."""
        c = next(c for c in fuller.children if c.local == local)
        for r in c.inputs:
            g = next((g for g in fuller.children if g.outputs == [r] and g.local in instead), None)
            if (g is not None and instead[g.local] == instead[local]
                    and all(g.local not in self._locals(i) for i in lacking)):
                return _rel(fuller, r)
        return instead[local]

    def _locals(self, sn: ScopeNode) -> frozenset[str]:
        """Its children's names, but its ladder's adds (which a flag of the class runs: `_adds`)."""
        if sn not in self.locals_of:
            self.locals_of[sn] = frozenset(c.local for c in sn.children) - set(self._adds(sn))
        return self.locals_of[sn]

    def _adds(self, sn: ScopeNode) -> dict[str, tuple[str, str]]:
        """The adds of the scope's ladder (`ladder.ladder_adds`): an instance that has them and one
        that has not share a class, which runs them where a flag says (Res2Net's `not first`)."""
        if sn not in self.adds_of:
            self.adds_of[sn] = {} if self.probe else ladder_adds(self.planner.tree, sn)
        return self.adds_of[sn]

    def _through(self, sn: ScopeNode, ref: str) -> str:
        """A ladder add's output read as the value it adds to: what is read where the add is not."""
        return next((x for out, x in self._adds(sn).values() if out == ref), ref)

    def _bypasses(self, fuller: ScopeNode, other: ScopeNode, optional: list[str]) -> dict[str, str] | None:
        """Where `other` is `fuller` with some of the `optional` children left out, whose readers
        read instead one value that was there before it (one of its inputs, or the scope's):
        each left-out child -> that value, relative to the scope (`conv`, `<in 0>`); else None."""
        mine = {c.local: c for c in other.children if c.local in self._locals(other)}
        kept = [c for c in fuller.children if c.local in mine]
        if [c.local for c in kept] != list(mine) or len(fuller.inputs) != len(other.inputs):
            return None
        gone = {c.outputs[0]: c for c in fuller.children if c.local in optional and c.local not in mine}
        instead: dict[str, str] = {}

        def read(f_ref: str, o_ref: str) -> bool:       # fuller reads f_ref where other reads o_ref
            f_ref, o_ref = self._through(fuller, f_ref), self._through(other, o_ref)
            f, o = _rel(fuller, f_ref), self._chain_output(fuller, other, o_ref) or _rel(other, o_ref)
            if f == o:
                return True
            c = gone.get(f_ref)
            return c is not None and instead.setdefault(c.local, o) == o
        for c in kept:
            o = mine[c.local]
            if (not self._built_alike(c, o) or c.module != o.module
                    or len(c.inputs) != len(o.inputs) or not all(map(read, c.inputs, o.inputs))):
                return None
        if len(fuller.exports) != len(other.exports) or not all(map(read, fuller.exports, other.exports)):
            return None
        return instead if all(self._stands_for(fuller, gone, c, instead[c.local])
                              for c in gone.values() if c.local in instead) else None

    def _built_alike(self, c: Child, o: Child) -> bool:
        """Two structures' children of one name are built alike, or are nn.Sequential chains of
        members some lack (`members.union`)."""
        key = self.planner.ctor_key
        return key(c) == key(o) or union([c, o], key) is not None or steps_of([c, o], key) is not None

    def _chain_output(self, fuller: ScopeNode, other: ScopeNode, o_ref: str) -> str | None:
        """An output of `other`'s nn.Sequential child whose members differ from `fuller`'s child of
        that name as `fuller` names it (the last member's, numbered by its place in each); else None."""
        o = next((c for c in other.children if o_ref in c.outputs), None)
        f = next((c for c in fuller.children if o is not None and c.local == o.local), None)
        if (f is None or o is None or len(f.outputs) != len(o.outputs) or self.planner.ctor_key(f) ==
                self.planner.ctor_key(o) or union([f, o], self.planner.ctor_key) is None
                and steps_of([f, o], self.planner.ctor_key) is None):
            return None
        return _rel(fuller, f.outputs[o.outputs.index(o_ref)])

    def _chains(self, members: list[ScopeNode]) -> dict[str, list | Steps] | None:
        """Per nn.Sequential child whose members differ between the structures, their union, or
        where they run other counts of one repeat's steps, those (`_steps`); None where a child's
        differ otherwise."""
        key = self.planner.ctor_key
        by_local: dict[str, list[Child]] = {}
        for sn in members:
            for c in sn.children:
                by_local.setdefault(c.local, []).append(c)
        out: dict[str, list | Steps] = {}
        for local, cs in by_local.items():
            if len({repr(key(c)) for c in cs}) > 1:
                got = union(cs, key) or (_steps(self.stepless, members, cs, key) if len(cs) == len(members)
                                          else None)
                if got is None:
                    return None
                out[local] = got
        return out

    def _stands_for(self, fuller: ScopeNode, gone: dict[str, Child], c: Child, rel: str | None) -> bool:
        """`rel` may stand for the left-out `c`: one of its inputs (or what stands for that one,
        itself left out), or an input of the scope that nothing changes in place."""
        if rel is None:
            return False
        for r in c.inputs:
            if _rel(fuller, r) == rel or r in gone and self._stands_for(fuller, gone, gone[r], rel):
                return True
        if not rel.startswith("<in "):
            return False
        ref = fuller.inputs[int(rel[4:-1])]
        readers = [self.planner.tree.graph.nodes[r] for r in self.planner.tree.consumers.get(ref, [])]
        return not any(self.planner.tree.inplace(n) and n.inputs[0] == ref for n in readers)

    def _optional_ok(self, sn: ScopeNode, c: Child) -> bool:
        if c not in self.optional_ok:
            self.optional_ok[c] = self._may_be_absent(sn, c)
        return self.optional_ok[c]

    def _may_be_absent(self, sn: ScopeNode, c: Child) -> bool:
        """A module of one input (an argument that may be None) or a functional node (under a flag),
        of one output that nothing overwrites in place."""
        functional = c.node is not None and not (c.module or c.param or c.members)
        if not ((c.module and len(c.inputs) == 1 or functional) and len(c.outputs) == 1 and c.local.isidentifier()
                and name_problem(c.local) is None
                and sn.shared.get(c.local, c.local) == c.local):
            return False
        readers = [self.planner.tree.graph.nodes[r] for r in self.planner.tree.consumers.get(c.outputs[0], [])]
        return not any(self.planner.tree.inplace(n) and n.inputs[0] == c.outputs[0] for n in readers)


def _steps(stepless: frozenset[str], members: list[ScopeNode], cs: list[Child], key: Callable[[Child], Any]
           ) -> Steps | None:
    """The chains as one repeat's steps, which a loop over them builds (timm's Xception Block),
    where the block is not one whose steps no loop writes (`stepless`). Whether one does is known
    once the members' classes take their numbers (`ctorparams._step_loops`)."""
    block = members[0].scope.block if members[0].scope is not None else None
    return None if block in stepless else steps_of(cs, key)


def concat_tails(planner: ClassPlanner, plan: ClassPlan, sn: ScopeNode) -> dict[str, tuple[int, int]] | None:
    """Where `sn` and the class's structures are one but for a concatenation that some give
    only the first of the inputs that another concatenates (DLA's tree, whose root takes the
    stage's downsampled input too where it is the level root): the class concatenates the
    rest where a flag says (timm's `if self.level_root: children.append(bottom)`). That child
    -> (how many inputs all read, how many the fullest reads); None where it is no such case."""
    members = [*planner.structures[plan], sn]
    if plan.absent or plan.same or plan.tails or any(m.same for m in members):
        return None
    full = max(members, key=lambda m: sum(len(c.inputs) for c in m.children))
    labels = {tuple(lab for lab, _ in planner.numbers_of.get(m, [])) for m in members}
    tails: dict[str, set[int]] = {}
    for m in members:
        if [c.local for c in m.children] != [c.local for c in full.children] or len(labels) != 1 or not (
                len(m.inputs) == len(full.inputs) and _reads(full, m, full.exports, m.exports)):
            return None
        for c, o in zip(full.children, m.children):
            n = len(o.inputs)
            if (planner.ctor_key(c) != planner.ctor_key(o) or c.module != o.module
                    or not 1 <= n <= len(c.inputs) or not _reads(full, m, c.inputs[:n], o.inputs)):
                return None
            if n < len(c.inputs):
                if c.module or c.node is None or c.node.op.name != "concat":
                    return None
                tails.setdefault(c.local, set()).add(n)
    if len(tails) != 1 or any(len(ns) != 1 for ns in tails.values()):
        return None         # one concatenation, its tail read whole or not at all: one flag
    local, (n,) = next(iter(tails.items()))
    return {local: (n, len(next(c for c in full.children if c.local == local).inputs))}


def _reads(full: ScopeNode, other: ScopeNode, f_refs: list[str], o_refs: list[str]) -> bool:
    """`other` reads, value for value, what `full` does (relative to each scope)."""
    return len(f_refs) == len(o_refs) and all(_rel(full, f) == _rel(other, o) for f, o in zip(f_refs, o_refs))
