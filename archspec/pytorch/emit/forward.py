"""forward as straight-line code: one line per child, in spec order, each value in a variable
that is reused once the value it held is dead, as hand-written torchvision code does."""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...names import Namespace, name_problem
from ...ops.base import Arg, literal
from .exchange import Lists, exchange_lines, listed
from .expr import Verbatim, callees, expression, in_place_add, node_expr, with_numbers
from .ladder import Ladder, ladder_lines, ladders
from .loops import comprehension, gathered, gathers, lists, member_loops
from .scopes import Child, ScopeNode, ScopeTree, located

_GENERIC = re.compile(r"^(x|out)(_\d+)?$")                      # variables a chain may overwrite
_STEP = re.compile(r"(.+)_([0-9]+)")               # a branch's step: branch7x7_1, Inception-v4's branch2_0


def arg_names(sn: ScopeNode) -> list[str]:
    """forward's parameters: x, or a block's own input names, or x_0, x_1, ... for another scope
    with several inputs."""
    if sn.args:
        return sn.args
    return ["x"] if len(sn.inputs) == 1 else [f"x_{k}" for k in range(len(sn.inputs))]


def attr(name: str) -> str:
    """How forward reaches a child: self.conv1, getattr(self, "0") for a numbered one, or
    self.convs[0] for a list member (`convs.0`)."""
    root, *indices = name.split(".")
    head = f"self.{root}" if root.isidentifier() else f"getattr(self, {literal(root)})"
    return head + "".join(f"[{k}]" for k in indices)


@dataclass
class Forward:
    """A forward's body, and what it is made of: the numbers of its calls' arguments (which a
    class's constructor may take), and the line where each child module is called."""
    lines: list[str]
    numbers: list[tuple[str, Any]] = field(default_factory=list)     # (label, value), in slot order
    calls: dict[str, int] = field(default_factory=dict)              # a module's attribute -> its line
    callees: set[str] = field(default_factory=set)                   # what its expressions call (`F.relu`)


@dataclass(frozen=True)
class Absent:
    """A child that some instances of the class lack: the test that it is there
    (`self.downsample is not None`, `self.residual`), and the ref that stands for its output where not."""
    test: str
    instead: str


BLANK = "#"          # every number of forward's calls written so: forwards alike but for them compare equal


def forward_lines(tree: ScopeTree, sn: ScopeNode, probe: bool, optional: Mapping[str, Absent] | None = None,
                  slots: list[str | None] | None = None, ladder: tuple[str, bool] | None = None,
                  tails: Mapping[str, tuple[int, str]] | None = None,
                  heads: Mapping[str, list[str]] | None = None) -> Forward:
    """The body of a scope's forward. With `probe`, every functional value passes through
    `_probe(self, local_name, value)`. An `optional` child runs under its test, another value
    standing for it where it fails (`identity = x`, `if self.downsample is not None:`).
    `slots` gives, per number of forward's calls,
    the expression written for it or None (the number); without slots every number is `BLANK`.
    `ladder`: the flag that says where the class's ladder adds (`ladder.Ladder.flag`). A
    concatenation of `tails` takes its inputs past the first n only under its test
    (`ClassPlan.tail_tests`); one of `heads` (concatenation -> its first inputs, `optional`
    children that nothing stands for: `ClassPlan.heads`) is a list those begin, each appended
    where it is there."""
    ex = None if optional or tails else listed(tree, sn, probe)
    if ex is not None:
        return Forward(exchange_lines(ex))
    it = iter(slots) if slots is not None else itertools.repeat(BLANK)
    return _Forward(tree, sn, probe, optional or {}, it, ladder, tails or {}, heads or {}).result()


def snake(name: str) -> str:
    """A local variable's name: snake_case (Mixed_6e -> mixed_6e, AuxLogits -> aux_logits)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def member_local(local: str) -> str:
    """A list member's local: its attribute path with `_` for the dots, as torch.fx names it
    (paths.0 -> paths_0, fuse_layers.0.1 -> fuse_layers_0_1): it says which member it holds,
    and, unlike a singular (`conv1` for convs.1), cannot be read as another child's name."""
    return local.replace(".", "_")


def own_local(c: Child) -> str:
    """The local named after a child: its spec name in snake_case, a list member's after its list."""
    return member_local(c.local) if "." in c.local else snake(c.local)


def _concatenated(tree: ScopeTree, sn: ScopeNode, ref: str) -> bool:
    """A value read only by a concatenation or a stack: it is named after its node, as
    torchvision names the branches it concatenates."""
    readers = tree.consumers.get(ref, [])
    return len(readers) == 1 and ref not in sn.exports and tree.graph.nodes[readers[0]].op.name in ("concat", "stack")


def _readers(order: list[Child], ref: str) -> list[Child]:
    """The children reading a value (the scope's, not the graph's: a class's merged instances
    read an absent child's value too)."""
    return [s for s in order if ref in s.inputs]


def _read_by_others(sn: ScopeNode, order: list[Child], c: Child) -> bool:
    """The child reads the scope's input, which other children read too: a multi-branch forward."""
    return bool(c.inputs) and c.inputs[0] in sn.inputs and len(_readers(order, c.inputs[0])) > 1


def _branch_end(tree: ScopeTree, sn: ScopeNode, order: list[Child], c: Child, ref: str) -> str | None:
    """The name of the branch a child's value goes on to: a named value that a concatenation
    reads, reached through steps that each read only the one before's. Its steps' values are held
    in that name, not in the input's variable, where they would be read as the input
    (InceptionA's pool branch as `x = self.pool(x)`)."""
    end = c
    while not _concatenated(tree, sn, ref):
        steps = _readers(order, ref)
        if len(steps) != 1 or ref in sn.exports or steps[0].inputs != [ref] or len(steps[0].outputs) != 1:
            return None
        end, ref = steps[0], steps[0].outputs[0]
    return own_local(end) if end.named and name_problem(own_local(end)) is None else None


def _branches(tree: ScopeTree, sn: ScopeNode) -> dict[str, str]:
    """Children that are steps of one named branch (torchvision's branch7x7_1, branch7x7_2, ...;
    Inception-v4's branch2_0, branch2_1): each step's local -> the branch's variable, where two
    or more steps share it. A child may bear the branch's name where it ends the branch, after
    every read of the steps' values (InceptionE's `branch3x3dbl = torch.cat([...], 1)` after
    `branch3x3dbl = self.branch3x3dbl_2(branch3x3dbl)`, as torchvision writes it): the variable
    is free again there, and holds the branch's value throughout."""
    stems: dict[str, list[Child]] = {}
    for c in sn.children:
        m = _STEP.fullmatch(c.local)
        if m and c.named and c.local.isidentifier():
            stems.setdefault(snake(m[1]), []).append(c)
    at = {snake(c.local): k for k, c in enumerate(sn.children)}
    args = set(arg_names(sn))
    taken = Namespace(set(at) | args)
    out: dict[str, str] = {}
    for stem, steps in stems.items():
        ends = (stem in at and stem not in args and name_problem(stem, generated=True) is None
                and all(_read_before(tree, sn, o, at[stem]) for c in steps for o in c.outputs))
        if len(steps) > 1 and (taken.usable(stem) or ends):
            out.update((c.local, stem) for c in steps)
    return out


def tail_lines(live: Namespace, args: list[str], n: int, test: str) -> tuple[str, list[str]]:
    """A concatenation's list of its inputs `args`, those past the first n added under `test`
    (`ClassPlan.tail_tests`), as timm's DLA grows its `children` (`if self.level_root:
    children.append(bottom)`): the list's variable, and the lines making it."""
    name = live.first("branches", "parts") or live.fresh("parts")
    live.release(name)            # read by the concatenation only, on its line
    rest = f"{name}.append({args[n]})" if len(args) == n + 1 else f"{name}.extend([{', '.join(args[n:])}])"
    return name, [f"{name} = [{', '.join(args[:n])}]", f"if {test}:", f"    {rest}"]


def _read_before(tree: ScopeTree, sn: ScopeNode, ref: str, end: int) -> bool:
    """Only children before the `end`-th read the value (and the scope does not return it)."""
    return ref not in sn.exports and all(any(r in tree.names_of(c) for c in sn.children[:end])
                                         for r in tree.consumers.get(ref, []))


def _start(tree: ScopeTree, owner: dict[str, Child], ref: str) -> str | None:
    """Where the chain computing a value starts: the first value it reads that something
    else reads too, or the scope's input (`self.skipbn(self.skip(x))` starts at x)."""
    c = owner[ref]
    while len(c.inputs) == 1 and c.inputs[0] in owner and len(tree.consumers[c.inputs[0]]) == 1:
        c = owner[c.inputs[0]]
    return c.inputs[0] if len(c.inputs) == 1 else None


def _upstream(owner: dict[str, Child], ref: str) -> set[str]:
    """Every value of the scope (and its inputs) that a value is computed from, itself included."""
    seen: set[str] = set()
    todo = [ref]
    while todo:
        r = todo.pop()
        if r not in seen:
            seen.add(r)
            todo += owner[r].inputs if r in owner else []
    return seen


class _Heads:
    """A forward's concatenations whose first inputs are children some instances lack, nothing
    standing for them there (`ClassPlan.heads`): the list those begin before the first of them
    (`branches = []`), each appended to where it is there, the rest added at the concatenation."""

    def __init__(self, heads: Mapping[str, list[str]], live: Namespace) -> None:
        self.heads, self.live = heads, live
        self.of = {h: local for local, hs in heads.items() for h in hs}
        self.lists: dict[str, str] = {}          # a concatenation -> its list's variable

    def step(self, local: str, test: str, expr: str) -> tuple[str, str]:
        """The list (the child's value's variable) and the lines appending the child to it."""
        concat = self.of[local]
        name = self.lists.get(concat)
        begin = []
        if name is None:
            name = self.lists[concat] = self.live.first("branches", "parts") or self.live.fresh("parts")
            begin = [f"{name} = []"]
        return name, "\n".join([*begin, f"if {test}:", f"    {name}.append({expr})"])

    def concat(self, local: str, e: Any, args: list[str]) -> tuple[Any, list[str]]:
        """The concatenation reading its list, and the line adding the rest of its inputs."""
        name, rest = args[0], args[len(self.heads[local]):]
        add = f"{name}.append({rest[0]})" if len(rest) == 1 else f"{name}.extend([{', '.join(rest)}])"
        return gathered(e, [Arg(j) for j in range(len(args))], Verbatim(name)), [add]


class _Forward:
    """One forward being written: the variable namespace (which variable holds which value)
    and the children in the order they run."""

    def __init__(self, tree: ScopeTree, sn: ScopeNode, probe: bool, optional: Mapping[str, Absent],
                 slots: Iterator[str | None], ladder: tuple[str, bool] | None = None,
                 tails: Mapping[str, tuple[int, str]] | None = None,
                 heads: Mapping[str, list[str]] | None = None) -> None:
        self.tree, self.sn, self.probe, self.optional = tree, sn, probe, optional
        self.slots, self.tails, self.heads = slots, tails or {}, heads or {}
        self.numbers: list[tuple[str, Any]] = []
        self.calls: dict[str, int] = {}
        self.callees: set[str] = set()
        main, train = self._schedule()
        self.lists = lists(sn)
        self.var: dict[str, str] = {}            # ref -> the variable holding it (or the list item: x[1])
        self.live = Namespace()                  # the variables holding a value still to be read
        self.assigned = set(arg_names(sn))       # every variable given so far (a loop's must be new)
        self.held = Lists(tree, probe, self.live, self.var, self.assigned)
        (self.main, first), (self.train, second) = (gathers(tree, sn, part, self.lists, set(optional), self.held.takes)
                                                    for part in (main, train))
        self.gathered = {**first, **second}          # a run of list members read as one list: one child
        self.ladders: dict[Child, Ladder] = {}      # a ladder over lists and its concatenation: one child
        if not probe:
            self.main, self.ladders = ladders(tree, self.main, self.lists, sn.exports, set(optional), ladder)
        self.main = self.held.climbs(self.held.runs(self.main, self.lists), self.lists)
        self.pre: list[str] = []                 # the lines a ladder writes before its concatenation's
        self.order = self.main + self.train
        self.last = {r: i for i, c in enumerate(self.order) for r in c.inputs}     # the step that reads it last
        self.last.update({r: len(self.order) for r in sn.exports})
        for i, c in enumerate(self.order):         # what stands for an absent child lives until it
            if c.local in optional:
                self.last[optional[c.local].instead] = max(i, self.last.get(optional[c.local].instead, i))
        self.branches = _branches(tree, sn)
        self._owner: dict[str, Child] | None = None
        for r, v in zip(sn.inputs, arg_names(sn)):
            self.var[r] = self.live.take(v)
        self.headed = _Heads(self.heads, self.live)

    @property
    def owner(self) -> dict[str, Child]:
        """A node -> the child it is in: made when a shortcut is first asked about (10,000 scopes
        with none ask nothing)."""
        if self._owner is None:
            self._owner = {n: c for c in self.sn.children for n in self.tree.names_of(c)}
        return self._owner

    def _schedule(self) -> tuple[list[Child], list[Child]]:
        """Children in order; at the top, those that only training-only outputs need go last,
        under `if self.training:`, so that eval mode does not compute them."""
        if self.sn.path != "" or not self.tree.train_only:
            return self.sn.children, []
        main: list[Child] = []
        train: list[Child] = []
        for c in self.sn.children:
            (train if self.tree.names_of(c) <= self.tree.train_only else main).append(c)
        return main, train

    def result(self) -> Forward:
        return Forward(self.lines(), self.numbers, self.calls, self.callees)

    def lines(self) -> list[str]:
        out: list[str] = []
        for i, c in enumerate(self.order):
            if self.train and i == len(self.main):
                out.append("if self.training:")
            line = self._step(i, c)
            called = self.sn.shared.get(c.local, c.local)
            if c.module and called.isidentifier():
                self.calls.setdefault(called, len(out))      # the first line of its step
            if line is not None:
                out += [f"{'    ' if i >= len(self.main) else ''}{part}" for part in line.split("\n")]
        looped = member_loops(out, self.lists)
        if looped != out:            # where each call is now: the first line naming it
            self.calls = {a: next(j for j, line in enumerate(looped) if f"self.{a}(" in line)
                          for a in self.calls if any(f"self.{a}(" in line for line in looped)}
        return looped + self._returns()

    def _step(self, i: int, c: Child) -> str | None:
        """The line computing one child; None where it only renames a value (an identity)."""
        expr, added = self._expr(c, [self.var[r] for r in c.inputs])
        if c.local in self.headed.of:        # a concatenation's first input, appended to its list
            for r in dict.fromkeys(r for r in c.inputs if self.last[r] == i):
                self.held.free(r)
            self.var[c.outputs[0]], line = self.headed.step(c.local, self.optional[c.local].test, expr)
            return line
        absent = self.optional.get(c.local)
        dying = [r for r in dict.fromkeys(c.inputs) if self.last[r] == i]
        instead = self.var[absent.instead] if absent else None
        held = [r for r in dying if absent and self.var[r] != instead]    # read under the test: kept till then
        for r in dying:
            if r not in held:
                self.held.free(r)
        if self.held.takes(c) or c in self.held.mapped:
            assert absent is None     # a dropped instance's outputs cannot be read by index: none is optional
            return self.held.hold(c, expr, self.last)
        if c in self.held.climbed:
            return expr
        reusable = (self.var[c.inputs[0]] if c.inputs and dying[:1] == c.inputs[:1] and held[:1] != dying[:1]
                    else None)
        if absent is None and expr == reusable and len(c.outputs) == 1:
            self.var[c.outputs[0]] = self.live.take(reusable)
            return None
        names = []
        for o in c.outputs:
            v = self._name(c, o, i, reusable)
            self.var[o] = self.live.take(v)
            names.append(v)
        for r in held:
            self.held.free(r)
        self.assigned.update(names)
        line = (f"{names[0]} += {added[1]}" if added and added[0] == names[0] and len(names) == 1
                else f"{', '.join(names)} = {expr}")        # out += identity, as torchvision writes it
        line, self.pre = "\n".join([*self.pre, line]), []
        if absent is None:
            return line
        assign = f"{names[0]} = {instead}\n" if names[0] != instead else ""
        return f"{assign}if {absent.test}:\n    {line}"

    def _name(self, c: Child, ref: str, i: int, reusable: str | None) -> str:
        """A branch keeps its spec name; a chain reuses its input's variable, else it is `out`."""
        exports = self.sn.exports
        nxt = self.order[i + 1] if i + 1 < len(self.order) else None
        chained = exports == [ref] if nxt is None else len(nxt.inputs) == 1 and self.tree.only_read_by(ref, nxt)
        branch = self.branches.get(c.local)
        if branch is not None and reusable == branch and len(c.outputs) == 1:
            return branch                 # branch3x3dbl = self.branch3x3dbl_2(branch3x3dbl)
        reuse = reusable is not None and _GENERIC.match(reusable) and len(c.outputs) == 1
        plain = reuse and len(self.tree.consumers.get(ref, [])) == 1 and ref not in exports
        if self._shortcut(ref):
            base = "identity"
        elif len(c.outputs) > 1 and name_problem(ref.rpartition(".")[2]) is None:
            base = ref.rpartition(".")[2]        # y0, y1 = self.stage(x0, x1): the block's output names
        elif branch is not None and len(c.outputs) == 1:
            base = branch
        elif (c.named and (not (chained or plain) or _concatenated(self.tree, self.sn, ref)) and len(c.outputs) == 1
              and name_problem(own_local(c)) is None):
            base = own_local(c)           # AuxLogits -> aux_logits; a concat's operands: Res2Net's y1, y2, ...
        elif reusable is not None and len(c.outputs) == 1 and (
                end := _branch_end(self.tree, self.sn, self.order, c, ref)) is not None and (
                reusable == end or reuse and _read_by_others(self.sn, self.order, c)):
            base = end                    # branch_pool = self.pool(x), as torchvision names InceptionA's pool branch
        elif reuse:
            assert reusable is not None
            return reusable
        else:
            base = "out"
        return self.live.fresh(base)

    def _shortcut(self, ref: str) -> bool:
        """A residual block's shortcut, torchvision's `identity`: a value read only by an add of
        this scope, as a later term, where the add's first term is not the block's input (`x +
        self.conv(x)` has no shortcut value) but is computed from where the shortcut starts (a
        path around it, not another branch: HRNet's fused resolutions), and the sum is what the
        scope returns, maybe through single steps (`out = self.relu(out)`), not a value in its
        middle (Res2Net's `y1 + x2`, DPN's `x_res + f_res`)."""
        readers = self.tree.consumers.get(ref, [])
        if len(readers) != 1 or ref in self.sn.exports or readers[0] not in self.sn.names:
            return False
        add = self.tree.graph.nodes.get(readers[0])
        if add is None or add.op.name != "add" or self.owner[readers[0]].node is None:
            return False
        main = add.inputs[0]
        return (ref in add.inputs[1:] and ref != main and main not in self.sn.inputs
                and self._returned(add.name) and _start(self.tree, self.owner, ref) in _upstream(self.owner, main))

    def _returned(self, ref: str) -> bool:
        """The value reaches the scope's return through steps that each read only it."""
        while ref not in self.sn.exports:
            readers = self.tree.consumers.get(ref, [])
            step = self.owner.get(readers[0]) if len(readers) == 1 else None
            if step is None or step.inputs != [ref] or len(step.outputs) != 1:
                return False
            ref = step.outputs[0]
        return True

    def _expr(self, c: Child, args: list[str]) -> tuple[str, tuple[str, str] | None]:
        """The child's value as source, and (target, term) where it is an in-place add of two
        variables (`out += identity`)."""
        if c.module:
            given = ", ".join(args)
            g = self.gathered.get(c)
            if c in self.held.mapped:
                return self.held.mapping(c), None
            if c in self.held.climbed:
                return self.held.climbing(c), None
            if g is not None:                        # the list its members make: their comprehension
                given = comprehension(g.root, args, self.live)
            elif self.held.takes(c):
                given = f"[{given}]"                 # a block taking a list (`exchange`)
            call = f"{attr(self.sn.shared.get(c.local, c.local))}({given})"
            probed = self.probe and c.local in self.sn.shared
            return (f"_probe(self, {literal(c.local)}, {call})" if probed else call), None
        n = c.node
        assert n is not None
        if c.param:              # the op's parameter, then its inputs
            args = [attr(c.local), *args]
        with located(c):
            e = node_expr(n, self.tree.inplace(n), int(c.param))
            assert e is not None       # a node without a call is a module (ScopeTree._as_module)
            e = with_numbers(e, c.local, self.slots, self.numbers)
            self.callees |= callees(e)
            g = self.gathered.get(c)
            if g is not None:        # its list of the members' outputs: the members' calls, in a comprehension
                e = gathered(e, g.items, Verbatim(comprehension(g.root, args, self.live)))
            ladder = self.ladders.get(c)
            if ladder is not None or c.local in self.tails:   # its list of the steps' outputs and the rest
                outs, self.pre = (ladder_lines(ladder, args, self.live, self.assigned) if ladder is not None
                                  else tail_lines(self.live, args, *self.tails[c.local]))   # or grown under a flag
                e = gathered(e, [Arg(k) for k in range(len(n.inputs))], Verbatim(outs))
            if c.local in self.heads:       # its first inputs in the list they began: the rest added
                e, self.pre = self.headed.concat(c.local, e, args)
            text = expression(e, args)
        if self.probe:
            return f"_probe(self, {literal(c.local)}, {text})", None
        return text, in_place_add(e, args)

    def _returns(self) -> list[str]:
        if self.sn.path != "":
            return [f"return {', '.join(self.var[r] for r in self.sn.exports)}"]
        outs = list(self.tree.graph.outputs.values())
        evals = [o for o in outs if not o.train_only] or outs
        if len(evals) == len(outs):
            return [f"return {self._value(outs)}"]
        head = [] if self.train else ["if self.training:"]
        return head + [f"    return {self._value(outs)}", f"return {self._value(evals)}"]

    def _value(self, outputs: list) -> str:
        """The returned value: a tensor, or a dict of the named outputs."""
        if len(outputs) == 1:
            return self.var[outputs[0].node]
        return "{" + ", ".join(f"{literal(o.name)}: {self.var[o.node]}" for o in outputs) + "}"
