"""Guarded children: a block whose own `when:` reads one of its parameters alone (SE's `when:
${reduction > 0}`) is built by its caller under that test, as timm's create_attn does
(`self.se = SqueezeExcite(planes * 4, reduction=se_reduction) if se_reduction > 0 else None`),
so that the caller may take the parameter from its own and pass it on: its forward runs the
child where it is there (`if self.se is not None:`), its input standing for it where not.

A guard is written only in one narrow form, a comparison of one name of the caller's with an
int (tests/source_check.py admits no other): the block's `when:` a comparison of the parameter
with an int, the caller's argument the bare name it takes.

Or with a text: an optional child (`emit/optional.py`, else an argument that may be None) that
a text parameter of the class's block says where it is, one value of it at every instance that
has it and another at every one that lacks it (DPN's `kind`: the stage's first block projects,
`self.c1x1_w_s1 = BnActConv(...) if kind == "proj" else None`, as timm's DualPathBlock builds
it), the class builds itself under `kind == "proj"`, the value written by `literal`; the class
takes the parameter, with the block's default, and a caller passes it where it differs.

Or with a boolean `let:`: a module child that a boolean `let:` of its block says where it is
(WRN's `project: ${stride != 1 or input.channels != out}`) is built under that `let:` written in
the class's names (`let_test`): comparisons of names and ints joined by `or` / `and` (`stride !=
1 or in_channels != out`, as the WideResNet of the paper's authors builds its `convShortcut`
where `not equalInOut`)."""
from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from ...errors import SpecError
from ...frontend.expr import evaluate, parse
from ...ir import INPUT, Graph, Scope, parent
from ...limits import MAX_NAME
from ...names import name_problem
from ...ops.base import literal
from .scopes import own_children

if TYPE_CHECKING:
    from .classes import ClassPlan
    from .scopes import ScopeNode

WORD = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{MAX_NAME - 1}}}")     # a text a guard compares with
_COMPARE = (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq)


def tested(scope: Scope | None) -> frozenset[str]:
    """The parameter of a block instance that its own `when:` alone reads, comparing it with an
    int, where its caller gives it as a bare name: the caller tests the `when:` itself, so the
    parameter sets no structure between (`lift`'s `_structures`)."""
    test = _test(scope.when) if scope is not None and scope.when else None
    if test is None or scope is None or test[0] not in scope.guard_reads or test[0] not in scope.args:
        return frozenset()
    given = scope.arg_exprs.get(test[0])
    return frozenset({test[0]}) if given is not None and isinstance(parse(given), ast.Name) else frozenset()


def guard_only(g: Graph, sn: ScopeNode) -> frozenset[str]:
    """The parameters of a block instance that its own `when:` alone reads, where that `when:`
    compares one of them with an int and the block's output has its input's shape (where it
    is absent, its input stands for it): what a caller that tests it may pass as it likes."""
    s = sn.scope
    test = _test(s.when) if s is not None and s.when else None
    if test is None or s is None or test[0] not in s.guard_reads or test[0] not in s.args:
        return frozenset()
    if len(sn.inputs) != 1 or len(sn.exports) != 1 or not _inner(sn.inputs[0], parent(sn.path)):
        return frozenset()
    shape = g.shape_of(sn.inputs[0])
    return frozenset({test[0]}) if shape is not None and shape == g.shape_of(sn.exports[0]) else frozenset()


def unguarded(g: Graph, caller: ScopeNode, sn: ScopeNode, arg: str, text: str) -> bool:
    """The caller may not pass `text` to the guarded parameter `arg` of the block instance: not
    a bare name, which its guard would compare (`se_reduction > 0`), or not to a child of its own
    (a member of an nn.Sequential is never None)."""
    own = any(c.subscope is sn and c.local.isidentifier() for c in own_children(caller))
    return arg in guard_only(g, sn) and not (own and isinstance(parse(text), ast.Name))


def _inner(ref: str, path: str) -> bool:
    """A tensor the caller makes itself (where the child is absent it stands for the child's
    output: an input of the caller's, which its later ops may change in place, may not)."""
    return ref != INPUT and (not path or ref.startswith(path + "."))


def _test(text: str) -> tuple[str, ast.Compare] | None:
    """(the name, the comparison) where `text` compares one name with an int."""
    try:
        e = parse(text)
    except Exception:          # noqa: BLE001 - the spec checked it: any other is no guard
        return None
    if not (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], _COMPARE)):
        return None
    left, right = e.left, e.comparators[0]
    if isinstance(left, ast.Name) and isinstance(right, ast.Constant) and type(right.value) is int:
        return left.id, e
    return None


def add_guards(g: Graph, plan: ClassPlan) -> None:
    """The class's guarded children (`plan.guards`: child -> its test in the class's names), each
    where the class passes its guarded parameter as a name of its own; its input stands for it
    where it is absent (`plan.absent`)."""
    rep = plan.rep
    for c in own_children(rep):
        if (c.subscope is None or c.local in plan.optional or c.local in plan.built or not c.module
                or not c.local.isidentifier()):
            continue
        only = guard_only(g, c.sub)
        s = c.sub.scope
        if not only or s is None or s.when is None:
            continue
        test = _test(s.when)
        slot = next((w for o, w in zip(plan.origins, plan.slots)
                     if o is not None and o[0].local == c.local and o[1] in only), None)
        if test is None or not isinstance(slot, str) or name_problem(slot) is not None:
            continue           # a number the spec fixed: the test holds at every instance, as built
        e = test[1]
        plan.guards[c.local] = ast.unparse(ast.Compare(ast.Name(slot), e.ops, e.comparators))
        plan.absent[c.local] = c.inputs[0][len(rep.path) + 1:] if rep.path else c.inputs[0]    # (`_inner`)


def by_text(plan: ClassPlan) -> None:
    """The optional module children of the class that a text parameter of its block says where
    they are (`_text_test`) become children it builds under that test (`plan.guards`), the
    parameter read noted in `plan.guard_params`; in a union of alternatives (emit/alternatives.py),
    those an int parameter says where they are too (`count_test`: BN-Inception's `proj > 0`)."""
    rep = plan.rep
    taken = {c.local.split(".")[0] for c in rep.children}
    for local in list(plan.optional):
        found = presence_test(plan.instances, local) if plan.union is not None else text_test(plan.instances, local)
        if found is None or found[0] in taken:
            continue
        plan.optional.remove(local)
        plan.guards[local], plan.guard_params[local] = found[1], found[0]


def text_test(instances: list[ScopeNode], local: str) -> tuple[str, str] | None:
    """(p, `p == "v"`) of a parameter p of the block, a word at every instance, whose value is v
    at every instance that has the child and another at every one that lacks it."""
    scopes = [sn.scope for sn in instances]
    if not all(s is not None and s.block for s in scopes):
        return None
    there = [any(c.local == local for c in sn.children) for sn in instances]
    for p in scopes[0].args:                            # type: ignore[union-attr]
        col = [s.args.get(p) for s in scopes]           # type: ignore[union-attr]
        if not all(type(v) is str and WORD.fullmatch(v) for v in col):
            continue
        have = {v for v, t in zip(col, there) if t}
        if len(have) == 1 and have.isdisjoint(v for v, t in zip(col, there) if not t) and name_problem(p) is None:
            return p, f"{p} == {literal(next(iter(have)))}"
    return None


def count_test(instances: list[ScopeNode], local: str) -> tuple[str, str] | None:
    """(p, `p > 0`) of an int parameter p of the block (not a bool) that the spec writes the
    child's width as (`out: ${proj}`), positive at every instance that has the child and 0 at
    every one that lacks it, where some lack it: a branch of width 0 is no branch (BN-Inception's
    stride-2 modules, `n1x1: 0`). Not a parameter that is 0 there by chance (`n1x1` is, where the
    pool projection's `proj` is)."""
    scopes = [sn.scope for sn in instances]
    if not all(s is not None and s.block for s in scopes):
        return None
    there = [any(c.local == local for c in sn.children) for sn in instances]
    if all(there):
        return None
    given = [_given(sn, local) for sn, t in zip(instances, there) if t]
    for p in scopes[0].args:                            # type: ignore[union-attr]
        col = [s.args.get(p) for s in scopes]           # type: ignore[union-attr]
        if (all(type(v) is int and v >= 0 and (v > 0) == t for v, t in zip(col, there))
                and all(p in g for g in given) and name_problem(p) is None):
            return p, f"{p} > 0"
    return None


def _given(sn: ScopeNode, local: str) -> set[str]:
    """The expressions the spec wrote the child's numbers as (`${proj}`: `proj`), its block's or its op's."""
    c = next(c for c in sn.children if c.local == local)
    if c.subscope is not None:
        return set(c.sub.scope.arg_exprs.values()) if c.sub.scope is not None else set()
    return set(c.node.exprs.values()) if c.node is not None else set()


def presence_test(instances: list[ScopeNode], local: str) -> tuple[str, str] | None:
    """The parameter and test that say where an alternative of a union is: an int's, else a text's
    (a width of 0 says it; a text that two structures differ in may by chance)."""
    return count_test(instances, local) or text_test(instances, local)


IN_CHANNELS = "in_channels"     # `input.channels` of a block's `let:`, as its class names its input's width
INPUT_CHANNELS = ("input", "channels")


def let_test(g: Graph, sns: list[ScopeNode], text: str, there: tuple[bool, ...],
             lets: frozenset[str] = frozenset()) -> tuple[ast.expr, list[str]] | None:
    """A block's boolean `let:` (`stride != 1 or input.channels != out`) as a test in its class's
    names, `input.channels` written `in_channels`: comparisons of the block's int parameters (and
    of its int `lets`, which the class takes as parameters: MobileNetV2's `stride`), its input's
    width and ints, joined by `or` / `and`, that the interpreter gives at each instance as `there`
    says (the test decides nothing: the graph does). (the test, the names it reads in order), or None."""
    try:
        e = parse(text)
    except Exception:          # noqa: BLE001 - the spec checked it: any other is no test
        return None
    first = sns[0].scope
    names: list[str] = []
    out = _own(e, {**dict.fromkeys(lets), **first.args} if first is not None else {}, names)
    if out is None:
        return None
    for sn, t in zip(sns, there):
        shape = g.shape_of(sn.inputs[0]) if len(sn.inputs) == 1 else None
        s = sn.scope
        known = {**{n: v for n, v in s.lets.items() if n in lets}, **s.args} if s is not None else {}
        if s is None or not shape or any(type(known.get(n)) is not int for n in names if n != IN_CHANNELS):
            return None
        env = {**{n: known[n] for n in names if n != IN_CHANNELS}, IN_CHANNELS: shape[0]}
        try:
            if evaluate(ast.unparse(out), env) is not t:
                return None
        except SpecError:
            return None
    return out, names


_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)
_INVERSE = {ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}


def negated_test(test: str) -> str:
    """`not (test)` for a `let_test`'s test, in its form (comparisons joined by or / and, which
    is all a guard may be): each comparison inverted, `or` and `and` swapped."""
    def flip(e: ast.expr) -> ast.expr:
        if isinstance(e, ast.BoolOp):
            return ast.BoolOp(ast.And() if isinstance(e.op, ast.Or) else ast.Or(), [flip(v) for v in e.values])
        assert isinstance(e, ast.Compare) and len(e.ops) == 1, test      # (`let_test` gives no other)
        return ast.Compare(e.left, [_INVERSE[type(e.ops[0])]()], e.comparators)
    return ast.unparse(flip(ast.parse(test, mode="eval").body))


def _own(e: ast.AST, args: dict, names: list[str]) -> ast.expr | None:
    """`e` in the class's names, where it is comparisons of them and ints joined by or / and."""
    if isinstance(e, ast.BoolOp):
        parts = [p for v in e.values if (p := _own(v, args, names)) is not None]
        return ast.BoolOp(e.op, parts) if len(parts) == len(e.values) else None
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], _COMPARE):
        left, right = _side(e.left, args, names), _side(e.comparators[0], args, names)
        return None if left is None or right is None else ast.Compare(left, e.ops, [right])
    return None


def _side(e: ast.AST, args: dict, names: list[str]) -> ast.expr | None:
    """A side of a comparison: an int, a name, the input's width, or their sum, difference,
    product or floor quotient (Res2Net's `input.channels != planes * 4`)."""
    if isinstance(e, ast.Constant) and type(e.value) is int:
        return ast.Constant(e.value)
    if isinstance(e, ast.BinOp) and isinstance(e.op, _ARITHMETIC):
        left, right = _side(e.left, args, names), _side(e.right, args, names)
        return None if left is None or right is None else ast.BinOp(left, e.op, right)
    if isinstance(e, ast.Name) and e.id in args and e.id != IN_CHANNELS and name_problem(e.id, generated=True) is None:
        name = e.id
    elif isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and (e.value.id, e.attr) == INPUT_CHANNELS:
        name = IN_CHANNELS
    else:
        return None
    if name not in names:
        names.append(name)
    return ast.Name(name)
