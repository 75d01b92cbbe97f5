"""An exchange over a list of widths as one class, as timm writes HRNet's HighResolutionModule:
the block (`exchange`, params `{widths: list, blocks: 2}`, its inputs and outputs one per width)
is one class for every count of branches, whose __init__ builds its lists in loops over the
widths, as timm's `_make_branches` and `_make_fuse_layers` do:

    self.branches = nn.ModuleList([nn.Sequential(*[Basic(widths[j]) for _ in range(blocks)])
                                   for j in range(len(widths))])
    self.fuse_layers = nn.ModuleList()
    for i in range(len(widths)):
        fuse_layer = nn.ModuleList()
        for j in range(len(widths)):
            if j > i:
                fuse_layer.append(nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, ...), ...,
                                                nn.Upsample(scale_factor=2 ** (j - i))))
            elif j < i:
                fuse_layer.append(nn.Sequential(*[... for _ in range(i - j - 1)], ...))
            else:
                fuse_layer.append(None)
        self.fuse_layers.append(fuse_layer)

Such a block is an exchange (`exchange.listed`) at every instance, with one parameter a list of
ints as long as its inputs (`list_param`). Branch j is made with `j` bound, fuse layer (i, j) with
`i` and `j`: each member is written from one of them, its numbers as the spec wrote them where it
makes the member (`Scope.arg_exprs`: `out: ${widths[i]}`, `scale: ${2 ** (j - i)}`, the branch's
`planes: ${widths[j]}`), a number that is equal at every member as itself, and a repeat among the
member's children (`repeat: ${steps - 1}`) as a comprehension whose count is the repeat's count
with the member's arguments in place (`i - j - 1`). The numbers decide: each written expression
gives, by the spec's interpreter, every member's number at every instance, and every member has
the structure of the one written (numbers and the repeat's length aside), or the block is no such
class (`Unlisted`: its instances are then classes by structure, as any block's). The fuse layers
are written under the test, `j > i` or `j < i`, that holds at exactly the members so built; the
diagonal holds None. Expressions are the spec's names and int constants written by
`ast.unparse` (+ - * // **, a list parameter's item by an index), each name one the class has."""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...names import Namespace, name_problem
from ...ops.base import Call
from .counts import Count
from .exchange import Exchange, listed
from .expr import is_number
from .layout import WIDTH
from .loops import member_name
from .scopes import Child, ScopeNode, ScopeTree
from .stepwidths import gives

if TYPE_CHECKING:
    from .classes import ClassPlan, ClassPlanner

RenderCall = Callable[..., str]     # classes.render_call(call, slots, indent, start, end, runs)
_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Pow)
_TESTS = ("j > i", "j < i")
_INDICES = ("i", "j")


class Unlisted(Exception):
    """A block whose exchanges no one class over its list writes: its instances are classed by structure."""

    def __init__(self, block: str, why: str) -> None:
        super().__init__(f"block '{block}': {why}")
        self.block = block


@dataclass
class _Member:
    """A member of an exchange's list: its constructor, the names its numbers may read there
    (the block's parameters, the indices), its scope where a block or group made it."""
    call: Call
    env: dict[str, Any]
    sub: ScopeNode | None
    exprs: dict[str, str]


def list_param(tree: ScopeTree, sn: ScopeNode, probe: bool) -> str | None:
    """The block parameter, a list of ints as long as the exchange's inputs and outputs, that one
    class over it takes (`widths`), where `sn` is an exchange whose other parameters are numbers."""
    scope = sn.scope
    if scope is None or not scope.block or listed(tree, sn, probe) is None:
        return None
    lists = [p for p, v in scope.args.items() if isinstance(v, (list, tuple))]
    plain = all(is_number(v) for p, v in scope.args.items() if p not in lists)
    if len(lists) != 1 or not plain or any(p in _INDICES for p in scope.args):
        return None
    items = scope.args[lists[0]]
    fits = all(type(v) is int for v in items) and len(items) == len(sn.inputs) == len(sn.exports)
    return lists[0] if fits else None


def plan_listed(planner: ClassPlanner, plan: ClassPlan, render: RenderCall) -> None:
    """The class of an exchange over a list: it takes the block's parameters, the list first, those
    with a plain default after the others with that default, and builds its lists in loops."""
    scope = plan.instances[0].scope
    assert scope is not None and plan.listing is not None and scope.block is not None
    rest = [p for p in scope.args if p != plan.listing]
    plan.params = [plan.listing, *(p for p in rest if p not in scope.declared),
                   *(p for p in rest if p in scope.declared)]
    plan.defaults = {p: scope.declared[p] for p in rest if p in scope.declared}
    plan.free = set(plan.params)        # the class builds what the spec does at any of them
    for sn in plan.instances:
        args = sn.scope.args if sn.scope is not None else {}
        planner.args_of[sn] = [tuple(args[p]) if isinstance(args[p], list) else args[p] for p in plan.params]
    plan.init_lines = listed_init(planner, scope.block, plan.instances, plan.params, render)


def listed_init(planner: ClassPlanner, block: str, instances: list[ScopeNode], params: list[str],
                render: RenderCall) -> list[str]:
    """__init__'s lines after `super().__init__()` (Unlisted where no class over the list writes them);
    `render`: `classes.render_call`, which plans the class these lines are of."""
    tree, probe = planner.tree, planner.probe
    exchanges = [listed(tree, sn, probe) for sn in instances]
    names = Namespace(["self", "nn", "torch", "F", *params, *_INDICES])
    param = list_param(tree, instances[0], probe)
    if param is None or any(e is None for e in exchanges) or len({(e.branches, e.fuse, e.acts) for e in exchanges
                                                                   if e is not None}) != 1:
        raise Unlisted(block, "its instances name their lists differently")
    ex: Exchange = exchanges[0]      # type: ignore[assignment]
    groups: dict[str, list[_Member]] = {"branch": [], "act": [], **{t: [] for t in _TESTS}}
    for sn in instances:
        for c in sn.children:
            _file(planner, sn, c, ex, groups)
    pool = _pool(block, [m for ms in groups.values() for m in ms], set(params))
    n = f"range(len({param}))"
    text = {key: _Written(*_written(block, ms, pool), render) for key, ms in groups.items()}
    fuse = names.first(member_name(ex.fuse)) or names.fresh("fuse_layer")
    lines = _comprehension(f"self.{ex.branches} = nn.ModuleList(", text["branch"], f"for j in {n}")
    lines += [f"self.{ex.fuse} = nn.ModuleList()", f"for i in {n}:", f"    {fuse} = nn.ModuleList()",
              f"    for j in {n}:"]
    for k, test in enumerate(_TESTS):
        lines += [f"        {'if' if not k else 'elif'} {test}:",
                  *_appended(fuse, text[test], "            ")]
    lines += ["        else:", f"            {fuse}.append(None)", f"    self.{ex.fuse}.append({fuse})"]
    lines += _comprehension(f"self.{ex.acts} = nn.ModuleList(", text["act"], f"for _ in {n}")
    return lines


def _file(planner: ClassPlanner, sn: ScopeNode, c: Child, ex: Exchange, groups: dict[str, list[_Member]]) -> None:
    """File a child of the exchange `sn` with its members' group, the names it may read bound."""
    scope = sn.scope
    assert scope is not None
    parts = c.local.split(".")
    call = planner.ctor(c)
    if call is None:
        return              # the sums: forward's
    sub = c.sub if c.subscope is not None else None
    own = sub.scope if sub is not None else None
    indices = {ex.branches: ("j",), ex.acts: ("i",)}.get(parts[0], _INDICES)
    env = {**scope.spec_params, **scope.args, **dict(zip(indices, map(int, parts[1:])))}
    member = _Member(call, env, sub, dict(own.arg_exprs) if own is not None else {})
    key = {ex.branches: "branch", ex.acts: "act"}.get(parts[0])
    groups[key or (_TESTS[0] if env["j"] > env["i"] else _TESTS[1])].append(member)


def _pool(block: str, members: list[_Member], params: set[str]) -> list[str]:
    """The expressions the spec wrote where it made the members, each written in the class's
    names (its parameters and the indices), in the order first met."""
    out: dict[str, None] = {}
    for m in members:
        for text in m.exprs.values():
            tree = _plain(ast.parse(text, mode="eval").body, params)
            if tree is not None:
                out.setdefault(ast.unparse(tree))
    return list(out)


def _plain(node: ast.AST, names: set[str]) -> ast.expr | None:
    """The expression rebuilt where it is plain integer arithmetic of the names, the indices and
    int constants, or a name's item by an index (`widths[j]`); else None."""
    known = names | set(_INDICES)
    if isinstance(node, ast.Name) and node.id in known and name_problem(node.id) is None:
        return ast.Name(node.id)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return ast.Constant(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, _OPS):
        left, right = _plain(node.left, names), _plain(node.right, names)
        return ast.BinOp(left, type(node.op)(), right) if left is not None and right is not None else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _plain(node.operand, names)
        return ast.UnaryOp(ast.USub(), inner) if inner is not None else None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in names:
        index = _plain(node.slice, names)
        return ast.Subscript(ast.Name(node.value.id), index) if index is not None else None
    return None


def _run(m: _Member) -> tuple[int, int, str] | None:
    """The member's counted repeat: (its first child, its steps, its count in the member's
    parameters' expressions), where its children are steps 0, 1, ... of one repeat."""
    if m.sub is None or not m.sub.sequential:
        return None
    scopes = [c.sub.scope if c.subscope is not None else None for c in m.sub.children]
    for k, s in enumerate(scopes):
        if s is not None and s.step is not None and s.step[1] == 0 and s.count is not None:
            steps = 1
            while k + steps < len(scopes) and (t := scopes[k + steps]) is not None and t.step == (s.step[0], steps):
                steps += 1
            return k, steps, _through(s.count, m.exprs)
    return None


def _through(count: str, exprs: dict[str, str]) -> str:
    """A count in the member's block's names, with each argument the spec gave as an expression in its place."""
    tree = ast.parse(count, mode="eval").body
    class Put(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            return ast.parse(exprs[node.id], mode="eval").body if node.id in exprs else node
    return ast.unparse(Put().visit(tree))


def _written(block: str, members: list[_Member], pool: list[str]) -> tuple[Call, list[str | None], dict]:
    """One member constructor for the group, its numbers' slots and its counted run (Unlisted
    where the members differ in more than numbers and the run's length, or a number no
    expression of the pool gives)."""
    if not members:
        raise Unlisted(block, "an exchange without fuse layers both ways")
    runs = [_run(m) for m in members]
    full = next((k for k, r in enumerate(runs) if r is not None and r[1] > 0), None)
    if full is None and any(runs):
        raise Unlisted(block, "a repeat of no steps at every member")
    shape = _normal(members[full or 0].call, runs[full or 0], 1)
    counted: dict = {}
    if full is not None:
        first, _, count = runs[full]      # type: ignore[misc]
        runs = [r or (first, 0, count) for r in runs]       # a member without the repeat's steps: none of them
        text = _count_text(block, count, pool)
        if not all(r is not None and gives(text, m.env, r[1]) for m, r in zip(members, runs)):
            raise Unlisted(block, f"the repeat's count {count} at some member")
        counted = {first: Count(1, 0, text)}
    columns = []
    for m, r in zip(members, runs):
        mine = _normal(m.call, r, 1)
        if _key(mine) != _key(shape) and not (r is not None and r[1] == 0 and _key(mine) == _key(_normal(
                shape, (r[0], 1, ""), 0))):
            raise Unlisted(block, "members that differ in more than numbers")
        columns.append((m, _numbers_of(mine, shape, r)))
    slots = [_slot(block, [(m.env, col[k]) for m, col in columns], pool) for k in range(len(_numbers(shape)))]
    return shape, slots, counted


def _count_text(block: str, count: str, pool: list[str]) -> str:
    tree = _plain(ast.parse(count, mode="eval").body, {n.id for p in pool for n in ast.walk(ast.parse(p))
                                                        if isinstance(n, ast.Name)})
    if tree is None:
        raise Unlisted(block, f"a repeat's count {count} the class cannot write")
    return ast.unparse(tree)


def _normal(call: Call, run: tuple[int, int, str] | None, keep: int) -> Call:
    """The call with its counted run cut to its first `keep` steps."""
    if run is None or run[1] <= keep:
        return call
    first, steps, _ = run
    args = call.args[:first + keep] + call.args[first + steps:]
    return call._replace(args=tuple((str(k), v) for k, (_, v) in enumerate(args)))   # nn.Sequential's, numbered


def _key(call: Call) -> tuple:
    def k(v: Any) -> Any:
        return "#" if is_number(v) else _key(v) if isinstance(v, Call) else repr(v)
    return (call.fn, tuple((n, k(v)) for n, v in call.args), tuple((n, k(v)) for n, v, _ in call.kwargs))


def _numbers(call: Call) -> list[Any]:
    """Every number of a call, in the order `classes.render_call` takes its slots."""
    out: list[Any] = []
    for _, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        out += [v] if is_number(v) else _numbers(v) if isinstance(v, Call) else []
    return out


def _numbers_of(mine: Call, shape: Call, run: tuple[int, int, str] | None) -> list[Any]:
    """The member's numbers in the written call's places (None where its repeat has no step)."""
    if run is None or run[1] > 0 or mine is shape:
        return _numbers(mine)
    first = run[0]
    before = sum((_numbers(Call("", (a,))) for a in shape.args[:first]), [])
    absent = [None] * len(_numbers(Call("", (shape.args[first],))))
    got = _numbers(mine)
    return got[:len(before)] + absent + got[len(before):]


def _slot(block: str, column: list[tuple[dict, Any]], pool: list[str]) -> str | None:
    """A number's slot: None (its value, written) where every member holds the same, else the
    first expression of the pool that gives every member's."""
    values = {repr(v) for _, v in column if v is not None}
    if len(values) <= 1:
        return None
    for text in pool:
        if all(v is None or gives(text, env, v) for env, v in column):
            return text
    raise Unlisted(block, f"numbers {', '.join(sorted(values))} that no expression of its parameters gives")


@dataclass(frozen=True)
class _Written:
    """A member's call as the class writes it: its slots, its counted runs, and the renderer."""
    call: Call
    slots: list[str | None]
    counted: dict
    render: RenderCall


def _render(written: _Written, indent: str, start: int, end: int) -> str:
    return written.render(written.call, iter(written.slots), indent, start, end, written.counted)


def _comprehension(head: str, written: _Written, loop: str) -> list[str]:
    """`head[<member> <loop>])` at __init__'s level, on one line where it fits, else as ruff lays it out."""
    text = _render(written, "            ", 0, 0)
    one = f"{head}[{text} {loop}])"
    if "\n" not in text and 8 + len(one) <= WIDTH:
        return [one]
    deeper = text.replace("\n", "\n    ")
    return [head, "    [", f"        {deeper}", f"        {loop}", "    ]", ")"]


def _appended(var: str, written: _Written, indent: str) -> list[str]:
    """`var.append(<member>)` at `indent` within __init__'s body, as ruff lays it out."""
    head = f"{var}.append("
    text = _render(written, "        " + indent, len(head), 1)
    if "\n" not in text:
        return [f"{indent}{head}{text})"]
    text = _render(written, "            " + indent, 0, 0)
    return [f"{indent}{head}", f"{indent}    {text}", f"{indent})"]

