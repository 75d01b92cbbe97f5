"""How many steps of a repeat the top class builds, written from the spec's parameters.

A stage of the CIFAR ResNet repeats its block `${depth}` times, given `depth: ${n}`: the top class
writes the stage's run of equal blocks as torchvision's `_make_layer` loops over them,
`*[Basic(32, 32) for _ in range(n - 1)]`, and so may take `n`. The count is the repeat's own
expression (`Scope.count`) carried up to the top's names (`lift.Lifter`: WRN's `(depth - 4) // 6`,
ResNet's stage `depth: ${layers[1]}` as `layers[1]`, an item of the tuple the top then takes),
where the repeat's steps are the members of an nn.Sequential the top class builds, the block they
are made in is one the top makes itself, the expression reads only the top's int parameters (none
that `vary` refuted) and the spec's interpreter gives from it the steps the graph has. Which runs
are written so `classes.counted_runs` decides (the repeat's last steps, written alike), and whether
the class may then take what the count reads `vary` checks, building the spec again.

A block's class writes so a repeat of the blocks it makes whose count is one of its own parameters
(`block_counts`: HRNet's exchange's branch, `repeat: ${blocks}`, `*[Basic(c0) for _ in range(blocks)]`),
where the steps are alike (`ctorparams._member_counts`): the spec's interpreter gives the steps from
the parameter, and no structure but the repeat's reads it there."""
from __future__ import annotations

import ast
from typing import NamedTuple

from ...errors import SpecError
from ...frontend.expr import evaluate
from ...ir import Graph, Scope
from .lift import Lifter, Unliftable
from .scopes import ScopeNode
from .widthexpr import top_name, top_tuple


class Count(NamedTuple):
    """A member of an nn.Sequential that is a step of a counted repeat: the members from it to
    the repeat's last (`left`), its step (`offset`), and the repeat's count in the top's names."""
    left: int
    offset: int
    total: str

    @property
    def text(self) -> str:
        """How many members from this one on, as an expression (`n - 1`)."""
        if not self.offset:
            return self.total
        return ast.unparse(ast.BinOp(ast.parse(self.total, mode="eval").body, ast.Sub(), ast.Constant(self.offset)))


def repeats(sn: ScopeNode) -> list[tuple[int, int, Scope]]:
    """The repeats among an nn.Sequential's members: (its first member, its steps, the first
    step's scope) of each run of members that are blocks made at steps 0, 1, ... of one repeat
    whose count the spec wrote as an expression."""
    scopes = [c.sub.scope if c.subscope is not None else None for c in sn.children]
    out = []
    k = 0
    while k < len(scopes):
        first = scopes[k]
        if first is None or first.kind != "block" or first.repeat != 0 or first.count is None:
            k += 1
            continue
        n = 1
        while k + n < len(scopes) and (s := scopes[k + n]) is not None and s.kind == "block" and s.repeat == n:
            n += 1
        out.append((k, n, first))
        k += n
    return out


def candidates(g: Graph, sn: ScopeNode, refuted: frozenset[str]) -> tuple[dict[int, Count], set[str]]:
    """Per member of an nn.Sequential of the top class that is a step of a repeat whose count
    the top class may write, its Count; and the parameters those counts read."""
    params = g.meta.params or {}
    out: dict[int, Count] = {}
    read: set[str] = set()
    for first, steps, scope in repeats(sn):
        lifter = Lifter(g, None, top_name(g))
        lifter.items = top_tuple(g)
        try:
            tree = lifter.count(scope)
        except Unliftable:
            continue
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        text = ast.unparse(tree)
        if lifter.folded or not names or names & refuted or not gives(text, params, steps):
            continue
        out.update({first + j: Count(steps - j, j, text) for j in range(steps)})
        read |= names
    return out, read


def gives(text: str, env: dict, value: int) -> bool:
    """The interpreter gives the int `value` from the expression as written (a repeat's steps
    from its count, a step's width from its index)."""
    try:
        v = evaluate(text, env)
    except SpecError:
        return False
    return type(v) is int and v == value


def block_counts(g: Graph, own: Scope, sn: ScopeNode) -> dict[int, Count]:
    """Per first member of a repeat among the members of an nn.Sequential that a block's class
    builds (`sn`, made in the block `own`: HRNet's exchange's branch, `repeat: ${blocks}`), its
    Count where the repeat's count reads only the block's own parameters and the spec's
    interpreter gives from it the steps the graph has (`*[Basic(c0) for _ in range(blocks)]`)."""
    env = {**own.spec_params, **own.args, **own.lets}
    out: dict[int, Count] = {}
    for first, steps, scope in repeats(sn):
        lifter = Lifter(g, own, _own_name(own))
        try:
            tree = lifter.count(scope)
        except Unliftable:
            continue
        text = ast.unparse(tree)
        if not lifter.folded and isinstance(tree, ast.Name) and gives(text, env, steps):
            out[first] = Count(steps, 0, text)
    return out


def _own_name(own: Scope):
    """A block's own parameter, by name (anything else: Unliftable)."""
    def name(n: str) -> ast.expr:
        if n not in own.args or n in own.lets:
            raise Unliftable
        return ast.Name(n)
    return name
