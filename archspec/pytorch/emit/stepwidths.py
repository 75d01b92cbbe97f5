"""The numbers of a repeat's step in a block class that builds the steps by a loop in __init__
(`members.StepLoop`, timm's Xception Block: `for i in range(reps):`), written once from the step's
index: a member's own argument as the spec gives it (Xception's Sepconv `out if grow_first or
i == reps - 1 else input.channels`, `input.channels` the block's input width, `in_channels`), and
an input width as the width the member before it in the step leaves, which at the step's first
member is the step before's last (its text with the index one less), `in_channels` at step 0
(`in_channels if i == 0 else ...`). Each text is checked as the spec's interpreter gives it, at
every instance and step that has the member, against the number the graph built there: a text
that any of them refutes writes nothing."""
from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import SpecError
from ...frontend.expr import evaluate, parse
from ...names import name_problem
from ...ops.base import Call
from .guard import IN_CHANNELS, INPUT_CHANNELS
from .members import Steps, split_steps
from .scopes import Child, ScopeNode
from .steps import put_name
from .widthexpr import follows


@dataclass(frozen=True)
class StepPlan:
    """How a class writes a chain built by a loop over a repeat's steps (`members.StepLoop`): the
    loop's index and count (`reps`), per template member the text of each number in its
    constructor's order (None: the number as it is), and the keyword written `kw=i > 0` of a member
    built otherwise at step 0 (`members.first_flags`)."""
    index: str
    count: str
    texts: list[list[str | None]]
    firsts: dict[int, str]


IN_WIDTH = ("in_channels", "num_features")      # a constructor's argument that is its input's width
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)
_COMPARE = (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq)


def own_text(text: str, args: dict[str, Any], index: str) -> ast.expr | None:
    """A spec expression of a step's member in the block's names: its parameters (`args`), the
    repeat's index, `input.channels` as `in_channels`, ints and booleans, joined by arithmetic,
    comparisons, `and` / `or` / `not` and conditional expressions; else None."""
    try:
        return _own(parse(text), args, index)
    except Exception:          # noqa: BLE001 - the spec checked it: any other is no text
        return None


def _own(e: ast.AST, args: dict[str, Any], index: str) -> ast.expr | None:
    if isinstance(e, ast.Constant) and type(e.value) in (int, bool):
        return ast.Constant(e.value)
    if isinstance(e, ast.Name):
        ok = (e.id == index or e.id in args) and e.id != IN_CHANNELS and name_problem(e.id, generated=True) is None
        return ast.Name(e.id) if ok else None
    if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and (e.value.id, e.attr) == INPUT_CHANNELS:
        return ast.Name(IN_CHANNELS)
    if isinstance(e, ast.BinOp) and isinstance(e.op, _OPS):
        p = _all([e.left, e.right], args, index)
        return None if p is None else ast.BinOp(p[0], e.op, p[1])
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.Not, ast.USub)):
        p = _all([e.operand], args, index)
        return None if p is None else ast.UnaryOp(e.op, p[0])
    if isinstance(e, ast.BoolOp):
        p = _all(e.values, args, index)
        return None if p is None else ast.BoolOp(e.op, p)
    if isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], _COMPARE):
        p = _all([e.left, e.comparators[0]], args, index)
        return None if p is None else ast.Compare(p[0], e.ops, [p[1]])
    if isinstance(e, ast.IfExp):
        p = _all([e.test, e.body, e.orelse], args, index)
        return None if p is None else ast.IfExp(p[0], p[1], p[2])
    return None


def _all(es: Sequence[ast.AST], args: dict[str, Any], index: str) -> list[ast.expr] | None:
    """Each of `es` in the block's names (`_own`), or None where one is not."""
    out = [_own(x, args, index) for x in es]
    return [p for p in out if p is not None] if all(p is not None for p in out) else None


def _sets(m: Child, args: dict[str, Any], index: str) -> ast.expr | None | bool:
    """The width a template member leaves as its own text (a block's `out`), True where it leaves
    its input's (a batch norm, a ReLU), False where it is neither (none written)."""
    scope = m.sub.scope if m.subscope is not None else None
    if scope is not None and scope.kind == "block" and "out" in scope.arg_exprs:
        return own_text(scope.arg_exprs["out"], args, index) or False
    if m.node is not None and len(m.node.inputs) == 1 and follows(m.node) in ("first", "sum") and (
            "out" not in m.node.exprs):         # (one input: its width)
        return True
    return False


def step_widths(blocks: Sequence[ScopeNode], chains: Sequence[Child], steps: Steps,
                ctor: Callable[[Child], Any], width_of: Callable[[str], int | None]) -> list[list[str | None]] | None:
    """Per template member of `steps` (the chains' steps, `members.steps_of`; `chains[k]` the child
    of `blocks[k]`), per int argument of its constructor (`ctor`), its text (None: the same number
    at every instance and step, written as it is); None where one that varies has no text that
    holds everywhere. `width_of(ref)` is a value's channels."""
    first = blocks[0].scope
    if first is None or steps.before or any(b.scope is None or len(b.inputs) != 1 for b in blocks):
        return None
    index = step_index(steps)
    args = first.args
    leaves: list[ast.expr] = []            # the width after each template member, at step i
    now: ast.expr = ast.Name(IN_CHANNELS)  # before the first: step 0's (then the step before's: below)
    befores: list[ast.expr] = []
    for _, m in steps.template:
        befores.append(now)
        got = _sets(m, args, index)
        if got is False:
            return None
        now = now if got is True else got       # type: ignore[assignment]
        leaves.append(now)
    count = step_count(blocks, steps)
    before = _NotLast(index, count).visit(copy.deepcopy(leaves[-1])) if count is not None else leaves[-1]
    last = put_name(before, index, ast.BinOp(ast.Name(index), ast.Sub(), ast.Constant(1)))
    start = ast.IfExp(ast.Compare(ast.Name(index), [ast.Eq()], [ast.Constant(0)]), ast.Name(IN_CHANNELS), last)
    befores = [start if b is befores[0] else b for b in befores]
    return _checked(blocks, chains, steps, ctor, width_of, index, befores, leaves)


def renamed(text: str, old: str, new: str) -> str:
    """An expression's text with each name `old` read as `new` (the spec's index as the loop's)."""
    tree = parse(text)
    assert isinstance(tree, ast.expr)           # (a test or number text the loop writes: an expression)
    return ast.unparse(put_name(tree, old, ast.Name(new)))


class _NotLast(ast.NodeTransformer):
    """A text of the step before as the loop reads it at steps 1 .. count - 1: the step before is
    never the last, so `index == count - 1` is false there (`!=` true), and the `or`, `and`, `not`
    and conditional expressions around such a test fold (timm's `inc = in_chs if i == 0 else
    out_chs`, not `... else out if grow_first or i - 1 == reps - 1 else in_channels`)."""

    def __init__(self, index: str, count: str) -> None:
        self.index, self.count = index, count

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        sides = {ast.unparse(node.left), ast.unparse(node.comparators[0])}
        if len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and sides == {
                self.index, f"{self.count} - 1"}:
            return ast.Constant(isinstance(node.ops[0], ast.NotEq))
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        self.generic_visit(node)
        absorbing = isinstance(node.op, ast.Or)          # True absorbs an `or`, False an `and`
        if any(isinstance(v, ast.Constant) and v.value is absorbing for v in node.values):
            return ast.Constant(absorbing)
        kept = [v for v in node.values if not (isinstance(v, ast.Constant) and v.value is (not absorbing))]
        return ast.BoolOp(node.op, kept) if len(kept) > 1 else kept[0] if kept else ast.Constant(not absorbing)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
            return ast.Constant(not node.operand.value)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant) and type(node.test.value) is bool:
            return node.body if node.test.value else node.orelse
        return node


def step_index(steps: Steps) -> str:
    """The loop's index: the repeat's own name for it (`index: j`), which a step's block member
    records, else `i`."""
    return next((m.sub.scope.index for _, m in steps.template if m.subscope is not None
                 and m.sub.scope is not None and m.sub.scope.index), "i")


def _checked(blocks: Sequence[ScopeNode], chains: Sequence[Child], steps: Steps, ctor: Callable[[Child], Any],
             width_of: Callable[[str], int | None], index: str, befores: list[ast.expr],
             leaves: list[ast.expr]) -> list[list[str | None]] | None:
    """Each number's text (its input width `befores[k]`, a block's argument `leaves[k]`, else none)
    where the interpreter gives from it the graph's number at every instance and step."""
    keys = [k for k, _ in steps.template]
    found: list[dict[str, tuple[str | None, set]]] = [{} for _ in keys]
    for b, c in zip(blocks, chains):
        split = split_steps(c)
        assert split is not None and b.scope is not None
        env = {**b.scope.args, IN_CHANNELS: width_of(b.inputs[0])}
        for j, step in enumerate(split[2]):
            for key, m in step:
                k = keys.index(key)
                for arg, value in ctor(m).args:
                    if type(value) is not int:
                        continue
                    own = m.sub.scope.arg_exprs if m.subscope is not None and m.sub.scope is not None else {}
                    text = (ast.unparse(befores[k]) if arg in IN_WIDTH else ast.unparse(leaves[k]) if arg in own
                            else None)
                    seen = found[k].setdefault(arg, (text, set()))
                    seen[1].add(value)
                    if text is not None and not gives(text, {**env, index: j}, value):
                        return None
    out = []
    for k, (_, m) in enumerate(steps.template):
        texts = []
        for arg, value in ctor(m).args:
            if type(value) is int:
                text, values = found[k].get(arg, (None, {value}))
                if text is None and len(values) > 1:
                    return None
                texts.append(text)
        out.append(texts)
    return out


def step_numbers(steps: Steps, chains: Sequence[Child], ctor: Callable[[Child], Any],
                 widths: list[list[str | None]],
                 numbers_of: Callable[[Call], list[tuple[str, Any]]]) -> list[list[str | None]] | None:
    """Per template member, the text of each number of its constructor in the order a class's
    slots take them (`classes._numbers`: arguments, then keywords, depth first): an int argument's
    from `widths` (`step_widths`), None for the rest, which must then be the template's own at every
    chain and step (a kernel size, a stride, eps: written as they are); else None. `numbers_of`
    gives a call's numbers (`ClassPlanner.numbers_in`, passed in: classes imports this module)."""
    from .expr import is_number
    keys = [k for k, _ in steps.template]
    out: list[list[str | None]] = []
    for (_, m), texts in zip(steps.template, widths):
        call, given = ctor(m), iter(texts)
        per: list[str | None] = []
        for pos, (_, v) in enumerate([*call.args, *((n, v) for n, v, _ in call.kwargs)]):
            if isinstance(v, Call) and numbers_of(v):
                return None             # a member's own numbers only (its block's class takes them)
            if is_number(v):
                per.append(next(given) if pos < len(call.args) and type(v) is int else None)
        out.append(per)
    for c in chains:
        split = split_steps(c)
        assert split is not None
        for step in split[2]:
            for key, m in step:
                k = keys.index(key)
                mine = [v for _, v in numbers_of(ctor(m))]
                fixed = [v for _, v in numbers_of(ctor(steps.template[k][1]))]
                if len(mine) != len(out[k]) or any(t is None and repr(a) != repr(b)
                                                   for t, a, b in zip(out[k], mine, fixed)):
                    return None
    return out


def gives(text: str, env: dict[str, Any], value: Any) -> bool:
    """`text` evaluates at `env` to `value`, its type too (a width 2 is not 2.0 or True)."""
    try:
        got = evaluate(text, env)
    except SpecError:
        return False
    return type(got) is type(value) and got == value


def step_count(blocks: Sequence[ScopeNode], steps: Steps) -> str | None:
    """The block's int parameter that is the repeat's count as the spec writes it (Xception's
    `repeat: ${reps}`, which a step's block member records), where its value at each instance is
    that chain's count of steps (`Steps.counts`): the count the loop runs, `range(reps)`; else None
    (a repeat whose members are all nodes records none)."""
    names = {m.sub.scope.count for _, m in steps.template
             if m.subscope is not None and m.sub.scope is not None and m.sub.scope.count}
    if len(names) != 1 or len(blocks) != len(steps.counts):
        return None
    name = names.pop()
    if name is None or name_problem(name, generated=True) is not None:
        return None
    ok = all(b.scope is not None and type(b.scope.args.get(name)) is int and b.scope.args[name] == n
             for b, n in zip(blocks, steps.counts))
    return name if ok else None
