"""Members of an nn.Sequential child that some structures of a block have and others lack
(MobileNetV2's 1x1 expansion, there where t != 1; ResNeSt's shortcut pool, or the nn.Identity that
keeps its place): one class serves them all and builds the chain as torchvision's InvertedResidual
does, `layers = [...]`, `if t != 1: layers.append(...)`, `self.conv = nn.Sequential(*layers)`, so
that each instance's members, and so its state_dict keys, are its own. A member is told apart by
the spec entry it comes from (its YAML location, and which of that entry's members it is); the
chains of one child join where each is their union in spec order with some members left out, and
a member of one entry is built alike wherever it is. Chains whose repeats run another count of
steps (Xception's `rep` of `reps` steps) are one repeat's steps (`steps_of`): a loop over them in
__init__ builds each (`StepLoop`, timm's `for i in range(reps):`), each member of a step under a
test of the index (`step_test`: `if i > 0 or start_with_relu:`), each number written from the
index (`stepwidths`)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .layout import WIDTH
from .scopes import Child, ScopeNode, numbered

Place = tuple[str, int, int]                  # (file, line, column) of a spec entry
MemberId = tuple[Place, int, Place, int]      # (where, step, entry, occurrence): `where` the repeat, else the entry


class _Missing:
    """A number of a member that an instance lacks, until `fill` gives it one."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def member_ids(c: Child) -> list[MemberId] | None:
    """Each member of an nn.Sequential child by its spec entry, and within a repeat by its step
    (Xception's ReLU of step 1 is the same member where that of step 0 is left out); None where one
    has no location, or the chain is not in its entries' order."""
    if c.subscope is None or not c.sub.sequential or not numbered([m.local for m in c.sub.children]):
        return None
    seen: dict[tuple[Place, int, Place], int] = {}
    out: list[MemberId] = []
    for m in c.sub.children:
        loc, step = m.loc, m.step
        if loc is None:
            return None
        entry: Place = (str(loc.file), loc.line, loc.col)
        where, i = ((str(step[0].file), step[0].line, step[0].col), step[1]) if step else (entry, 0)
        key = (where, i, entry)
        seen[key] = seen.get(key, -1) + 1
        out.append((*key, seen[key]))
    return out if out == sorted(out) else None


def member_ids_of(sn: ScopeNode, local: str) -> list[MemberId]:
    """The member ids of a scope's nn.Sequential child `local` (none where it has no such child)."""
    c = next((c for c in sn.children if c.local == local), None)
    return (member_ids(c) or []) if c is not None else []


def union(children: Sequence[Child], key: Callable[[Child], Any]) -> list[tuple[MemberId, Child]] | None:
    """The members of nn.Sequential children of one name in several structures, in spec order,
    each with one structure's member, where every chain is that union with some left out and a
    member is built alike (its constructor's structure, `key`) wherever it is; else None."""
    found: dict[MemberId, Child] = {}
    steps: set[frozenset] = set()
    for c in children:
        ids = member_ids(c)
        if ids is None:
            return None
        steps.add(frozenset((w, i) for w, i, e, _ in ids if w != e))
        if len(steps) > 1:          # chains of another count of steps: no test the class writes once is
            return None             # right for every count (that takes a loop over the steps)
        for i, m in zip(ids, c.sub.children):
            if key(found.setdefault(i, m)) != key(m):
                return None
    return sorted(found.items(), key=lambda item: item[0])


StepKey = tuple[Place, int]      # a member of a repeat's step: (its spec entry, which of that entry's members)


@dataclass(eq=False)
class Steps:
    """nn.Sequential children of one name in several structures that are each the members of one
    repeat's steps, 0 .. n - 1 with n the chain's own, between members outside it: what a loop over
    the steps builds (`StepLoop`). `template`: a step's members in spec order, each with a chain's
    member built as it is at every step after the first (the first may build it otherwise: timm's
    `nn.ReLU(inplace=False)` there); `first`, by template member, that the first step builds it
    otherwise somewhere; `counts`, per chain, its steps; `there`, per chain, per step, which
    template members it has; `outside`, the union of the members before and after the repeat
    (`union`), `before` how many of those come first."""
    where: Place
    template: list[tuple[StepKey, Child]]
    first: list[bool]
    counts: list[int]
    there: list[list[tuple[bool, ...]]]
    outside: list[tuple[MemberId, Child]]
    before: int


def steps_of(children: Sequence[Child], key: Callable[[Child], Any]) -> Steps | None:
    """The chains as one repeat's steps (`Steps`), where each is members outside it, the steps of
    one repeat in order, members outside it, and every step's members are in spec order; else None."""
    split = [split_steps(c) for c in children]
    if any(s is None for s in split) or len({s[0] for s in split if s is not None}) != 1:
        return None
    firsts: dict[StepKey, dict[str, Child]] = {}
    laters: dict[StepKey, dict[str, Child]] = {}
    for s in split:
        assert s is not None
        for j, step in enumerate(s[2]):
            for k, m in step:
                (laters if j else firsts).setdefault(k, {}).setdefault(repr(key(m)), m)
    template = sorted({*firsts, *laters})
    if any(len(laters.get(k, {})) > 1 or len(firsts.get(k, {})) > 1 for k in template):
        return None             # built otherwise at two later steps, or two ways at the first
    first = [k in firsts and k in laters and firsts[k].keys() != laters[k].keys() for k in template]
    outside = _outside([s[1] for s in split if s is not None], key)
    where = split[0][0] if split[0] is not None else None
    if outside is None or where is None:
        return None
    return Steps(where, [(k, next(iter((laters.get(k) or firsts[k]).values()))) for k in template], first,
                 [len(s[2]) for s in split if s is not None],
                 [[tuple(k in dict(step) for k in template) for step in s[2]] for s in split if s is not None],
                 outside, sum(1 for i, _ in outside if i[0] < where))


ANY_STEP = -1      # a MemberId's step where the member is a template member of a loop's steps (`flat`)


def flat(steps: Steps) -> list[tuple[MemberId, Child]]:
    """A loop's chain as the class builds it, member by member: the members outside it before the
    steps, the template's (one step, each id with step ANY_STEP), the members after."""
    template = [((steps.where, ANY_STEP, e, occ), m) for (e, occ), m in steps.template]
    return [*steps.outside[:steps.before], *template, *steps.outside[steps.before:]]


def first_flags(steps: Steps, chains: Sequence[Child], call: Callable[[Child], Any]) -> dict[int, str] | None:
    """Per template member that the first step builds otherwise (`Steps.first`), the keyword a
    loop writes `kw=i > 0`: one boolean keyword, False at step 0 wherever a chain has the member
    there and True at every later step, the call otherwise alike (timm's first ReLU,
    `nn.ReLU(inplace=False)`, for the block's input that the skip reads again); None where a member
    is built otherwise in another way. `call(m)`: a node member's constructor."""
    out: dict[int, str] = {}
    for k, ((key, m), first) in enumerate(zip(steps.template, steps.first)):
        if not first:
            continue
        later = call(m) if m.node is not None else None
        if later is None:
            return None
        kws = [name for name, v, _ in later.kwargs if v is True]
        for c in chains:
            split = split_steps(c)
            step0 = dict(split[2][0]) if split is not None and split[2] else {}
            if key not in step0:
                continue
            at0 = call(step0[key]) if step0[key].node is not None else None
            kws = [n for n in kws if at0 is not None and (at0.fn, at0.args) == (later.fn, later.args)
                   and at0.kwargs == tuple((a, False if a == n else v, d) for a, v, d in later.kwargs)]
        if len(kws) != 1:
            return None
        out[k] = kws[0]
    return out


def split_steps(c: Child) -> tuple[Place, list[tuple[MemberId, Child]], list[list[tuple[StepKey, Child]]]] | None:
    """A chain's repeat, its members outside the repeat, and its steps (each its members by
    StepKey); None where it has no repeat, two, or lacks a step. (`member_ids` has the chain in spec
    order: steps in order, each step's members in their entries' order, none outside the repeat
    between two of its members.)"""
    ids = member_ids(c)
    if ids is None:
        return None
    wheres = {w for w, _, e, _ in ids if w != e}
    if len(wheres) != 1:
        return None
    steps: list[list[tuple[StepKey, Child]]] = []
    outside: list[tuple[MemberId, Child]] = []
    for (w, i, e, occ), m in zip(ids, c.sub.children):
        if w == e:
            outside.append(((w, i, e, occ), m))
        elif i == len(steps) - 1:
            steps[-1].append(((e, occ), m))
        elif i == len(steps):
            steps.append([((e, occ), m)])
        else:
            return None         # a step missing
    return next(iter(wheres)), outside, steps


def _outside(outside: list[list[tuple[MemberId, Child]]],
             key: Callable[[Child], Any]) -> list[tuple[MemberId, Child]] | None:
    """The union of the chains' members outside the repeat, in spec order, each built alike
    wherever it is (a chain's members are in spec order: one comes before the steps or after them
    in every chain)."""
    found: dict[MemberId, Child] = {}
    for members in outside:
        for i, m in members:
            if key(found.setdefault(i, m)) != key(m):
                return None
    return sorted(found.items(), key=lambda item: item[0])


def step_test(there: list[list[bool]], flags: dict[str, tuple[bool, ...]], index: str) -> str | None:
    """The test, of the step's index and a boolean of the block's, under which a loop over the
    steps builds a member that chain c has at step j where `there[c][j]`: "" where every step has
    it, `i > 0` where all but the first do, `i > 0 or flag` (`start_with_relu`) where those and the
    first at the chains where the flag is true (or false: `not flag`) do, `flag` where every step
    of those chains does; None where none of these says it."""
    if all(all(steps) for steps in there):
        return ""
    if all(not steps[0] and all(steps[1:]) for steps in there):
        return f"{index} > 0"
    later = all(all(steps[1:]) for steps in there)
    every = all(len(set(steps)) == 1 for steps in there)
    for name, col in flags.items():
        for negated in (False, True):
            says = tuple(v != negated for v in col)
            flag = f"not {name}" if negated else name
            if later and all(steps[0] == t for steps, t in zip(there, says)):
                return f"{index} > 0 or {flag}"
            if every and all(steps[0] == t for steps, t in zip(there, says)):
                return flag
    return None


def fill(columns: list[tuple], candidates: list[tuple[str, tuple]], named: Sequence[bool] = ()) -> list[tuple]:
    """Each number of a member an instance lacks (MISSING) given a value: the one value it has
    wherever the member is (a kernel size stays a number), else that of the block parameter,
    `let:` value or width that is the column wherever the member is, else its first. Only which
    expression writes the number reads it: an instance builds no member it lacks. Where `named`
    says so (a child that one instance alone may have: `guard.by_text`), a parameter's column
    comes first."""
    out = []
    for k, col in enumerate(columns):
        there = [v is not MISSING for v in col]
        if all(there):
            out.append(col)
            continue
        kept = [v for v, t in zip(col, there) if t]
        named_col = next((c for _, c in candidates if len(c) == len(col) and all(
            not t or _same(a, v) for a, v, t in zip(c, col, there))), None)
        if named_col is not None and (len(set(map(repr, kept))) > 1 or k < len(named) and named[k]):
            out.append(tuple(v if t else a for a, v, t in zip(named_col, col, there)))
        else:
            out.append(tuple(v if t else kept[0] for v, t in zip(col, there)))
    return out


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def member_test(there: tuple[bool, ...], columns: dict[str, tuple], defaults: dict[str, Any]) -> tuple[str, str] | None:
    """The test, `p != v` or `p == v` of an int parameter p the constructor takes, that holds
    exactly at the instances that have a member (`there`): v p's one value where the member is not
    (or where it is), never where it is (is not). A comparison with p's declared default comes
    first (ResNeSt's `stride != 1` and `stride == 1`, not `planes != 64`), then `!=` (MobileNetV2's
    `t != 1`), in the order of `columns`: (p, the test), or None where no parameter tells."""
    found: list[tuple[bool, bool, int, str, str]] = []
    for k, (p, col) in enumerate(columns.items()):
        if not all(type(v) is int for v in col):
            continue
        lack = {v for v, t in zip(col, there) if not t}
        have = {v for v, t in zip(col, there) if t}
        for values, op in ((lack, "!="), (have, "==")):
            if len(values) == 1 and lack.isdisjoint(have):
                v = next(iter(values))
                found.append((p not in defaults or defaults[p] != v, op == "==", k, p, f"{p} {op} {v}"))
    return min(found)[3:] if found else None

Render = Callable[[Any, str, int, int], str]


@dataclass(frozen=True)
class StepLoop:
    """Members `first` .. `end - 1` of a chain are one step of a repeat, built once per step by a
    loop in __init__ as timm's Xception Block builds its `rep`: `for i in range(reps):`, each
    member's numbers and test written from the step's index `index` (`if i > 0 or
    start_with_relu:`), `count` the constructor's name for the number of steps."""
    index: str
    count: str
    first: int
    end: int


def chain_lines(target: str, var: str, members: list[Any], tests: dict[int, str], render: Render,
                loop: StepLoop | None = None) -> list[str]:
    """__init__'s lines that build an nn.Sequential child member by member, as torchvision's
    InvertedResidual does: the members every instance has in a list `var`, each that some lack
    appended under its test (`tests`, by member), then `self.<target> = nn.Sequential(*var)`;
    with `loop`, its members in a for loop over the steps (`StepLoop`), the list made before it.
    `render(member, indent, start, end)` writes a member's constructor, laid out as ruff does."""
    ind = " " * 8
    placed = list(enumerate(members))
    if loop is None:
        return [*_built(var, placed, tests, ind, render, False), f"{ind}self.{target} = nn.Sequential(*{var})"]
    out = _built(var, placed[:loop.first], tests, ind, render, False) or [f"{ind}{var} = []"]
    out += [f"{ind}for {loop.index} in range({loop.count}):",
            *_built(var, placed[loop.first:loop.end], tests, ind + "    ", render, True),
            *_built(var, placed[loop.end:], tests, ind, render, True)]
    return [*out, f"{ind}self.{target} = nn.Sequential(*{var})"]


def _built(var: str, members: list[tuple[int, Any]], tests: dict[int, str], ind: str, render: Render,
           made: bool) -> list[str]:
    """The lines that put members (by their places in the chain) in the list `var`: a run of those
    under no test listed (the list's first lines, where it is not `made` yet) or extended, one
    appended, each under a test appended under it."""
    out: list[str] = []
    k = 0
    while k < len(members):
        if members[k][0] in tests:
            out += [*([f"{ind}{var} = []"] if not (out or made) else []), f"{ind}if {tests[members[k][0]]}:",
                    *_appended(f"{var}.append(", members[k][1], ind + "    ", render)]
            k += 1
            continue
        run = []
        while k < len(members) and members[k][0] not in tests:
            run.append(members[k][1])
            k += 1
        if not (out or made):
            out += _listed(f"{var} = ", "", run, ind, render)
        elif len(run) == 1:
            out += _appended(f"{var}.append(", run[0], ind, render)
        else:
            out += _listed(f"{var}.extend(", ")", run, ind, render)
    return out


def _appended(head: str, member: Any, ind: str, render: Render) -> list[str]:
    """`head<member>)` on one line where it fits, else the member on lines of its own, one level in."""
    one = render(member, ind, len(head), 1)
    if "\n" not in one and len(ind) + len(head) + len(one) + 1 <= WIDTH:
        return [f"{ind}{head}{one})"]
    return [f"{ind}{head}", f"{ind}    {render(member, ind + '    ', 0, 0)}", f"{ind})"]


def _listed(head: str, tail: str, members: list[Any], ind: str, render: Render) -> list[str]:
    """`head[a, b]tail` on one line where it fits, else one member a line with a trailing comma
    (inside a call, `tail` ")", the list one level in, as ruff splits a sole argument)."""
    texts = [render(m, ind, 0, 0) for m in members]
    one = f"{head}[{', '.join(texts)}]{tail}"
    if "\n" not in one and len(ind) + len(one) <= WIDTH:
        return [ind + one]
    inner = ind + "    " if tail else ind
    texts = [render(m, inner + "    ", 0, 1) for m in members]
    body = [f"{inner}[", *(f"{inner}    {t}," for t in texts), f"{inner}]"]
    return [f"{ind}{head}", *body, f"{ind}{tail}"] if tail else [f"{ind}{head}[", *body[1:]]
