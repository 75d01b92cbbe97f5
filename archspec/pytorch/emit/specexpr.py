"""The spec's own expressions in a generated class: a constructor number that the spec wrote as
`${...}` of the block's parameters (`out: ${width * scale}`) is written as that expression
(`width * scale`), not as a number or one guessed from numbers. Its `let:` values become locals
of __init__ (`width = planes * base_width // 64 * groups`), and the spec's parameters it reads
keyword parameters with the spec's values as defaults, as timm's `base_width=26`.

An expression is written only where it is plain integer arithmetic (+ - * // %, unary -) of
names the class has, and where the spec's own interpreter gives, at every instance of the
class, the very number the constructor call holds: the number decides, the expression only
names it. Every name passes the one validator (`names.name_problem`); numbers are written by
`ast.unparse` of int constants, which is their repr."""
from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from ...frontend.expr import ShapeView, evaluate
from ...ir import Graph, Node, Scope, parent
from ...names import name_problem
from .classnames import ParamNamer, as_tuple
from .scopes import Child, ScopeNode

if TYPE_CHECKING:
    from .classes import ClassPlan

_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)
ATTR_OF = {"out_channels": "out", "out_features": "out", "kernel_size": "k", "padding": "pad"}  # torch's: the spec's
_IN_WIDTH = ("in_channels", "in_features", "num_features", "num_channels")     # a module's input width
# The spec's parameters a top or group class may take. Any other (DenseNet's growth) sets widths
# that the class writes as numbers, from the shapes (`Transition(256, 128)`): a user's other value
# would build a network whose widths do not fit, so the top class takes the value its spec gives.
SAFE_ON_TOP = frozenset({"num_classes"})
_WALK = 16               # producers walked back for an input width (bn after relu after conv)


class Unwritable(Exception):
    """An expression that is not plain arithmetic of names the class has."""


class Instance:
    """One instance of a class as its expressions see it: the names the spec's interpreter reads
    (parameters, `let:` values, `input`), made when first asked (most classes ask none)."""

    def __init__(self, g: Graph, sn: ScopeNode, top: dict[str, Any] | None) -> None:
        self.g, self.sn, self.top = g, sn, top
        self._env: dict[str, Any] | None = None

    @property
    def env(self) -> dict[str, Any]:
        if self._env is None:
            s = self.sn.scope
            if self.top is not None or s is None:
                self._env = self.top or {}
            else:
                shape = self.g.shape_of(self.sn.inputs[0]) if self.sn.inputs else None
                view = {"input": ShapeView(shape)} if shape is not None else {}
                self._env = {**s.spec_params, **s.args, **s.lets, **view}
        return self._env


@dataclass
class Reads:
    """What the written expressions read: the class's parameters (column over the instances),
    the spec's parameters (one value), `let:` locals in the order __init__ computes them."""
    params: dict[str, tuple] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    lets: dict[str, str] = field(default_factory=dict)


class SpecExprs:
    """Writes a class's constructor numbers as the spec's expressions where it can."""

    def __init__(self, g: Graph, instances: list[Instance], params: set[str], lets: dict[str, str],
                 spec: set[str], has_in: bool, spec_of: Callable[[ScopeNode], set[str]]) -> None:
        self.g, self.instances, self.spec_of = g, instances, spec_of
        self.params, self.let_exprs, self.spec, self.has_in = params, lets, spec, has_in
        self.reads = Reads()

    def written(self, child: Child, arg: str, column: tuple) -> str | None:
        """The expression of the number `arg` of the constructor of `child` (of the class's first
        instance), whose values over the instances are `column`; None where no expression of the
        spec gives them."""
        if not all(type(v) is int for v in column):
            return None
        if child.node is not None:
            texts = self._candidates(child.node, arg)
        elif child.subscope is not None and not child.sub.sequential:
            sub = child.sub         # a block's argument as the spec gives it, or a spec parameter passed on
            given = sub.scope.arg_exprs if sub.scope is not None else {}
            texts = iter([*([given[arg]] if arg in given else []), *([arg] if arg in self.spec_of(sub) else []),
                          *(self._width_of(sub.inputs[0]) if arg == "in_channels" and len(sub.inputs) == 1 else [])])
        else:
            return None
        for text in dict.fromkeys(texts):
            if self._gives(text, column):
                try:
                    return self._write(text)
                except Unwritable:
                    continue
        return None

    def _candidates(self, n: Node, arg: str) -> Iterator[str]:
        """The expression of the attribute the argument is named after (never another one that
        happens to have its value: a `padding` is no `groups`), or, for an input width, the
        output width of the producers that keep it."""
        own = ATTR_OF.get(arg, arg)
        if own in n.exprs:
            yield n.exprs[own]
        if arg in _IN_WIDTH:
            yield from self._width_of(n.inputs[0] if n.inputs else None)

    def _width_of(self, ref: str | None) -> Iterator[str]:
        """The spec's expressions of a tensor's width, inside the class: its producer's `out`, or the
        `out` argument of the block it ends, through producers that keep the width (bn, relu)."""
        inside = self.instances[0].sn.path
        for _ in range(_WALK):
            n = self.g.nodes.get(ref) if ref and ref.startswith(inside + "." if inside else "") else None
            if n is None:
                return
            block = self._block_ending(n.name, inside)
            if block is not None:
                yield from (block.arg_exprs[a] for a in ("out", "out_channels") if a in block.arg_exprs)
                return
            if "out" in n.exprs:
                yield n.exprs["out"]
            if not (n.shape and n.in_shapes and n.in_shapes[0] and n.shape[0] == n.in_shapes[0][0]):
                return
            ref = n.inputs[0] if n.inputs else None

    def _block_ending(self, name: str, inside: str) -> Scope | None:
        """The innermost block instance inside the class whose output the node is."""
        path = parent(name)
        while path and path != inside:
            s = self.g.scopes.get(path)
            if s is None or s.output != name:
                return None
            if s.kind == "block":
                return s
            path = parent(path)
        return None

    def _gives(self, text: str, column: tuple) -> bool:
        """The spec's interpreter gives the column's number at every instance."""
        try:
            return all(type(v := evaluate(text, inst.env)) is int and v == c for inst, c in zip(self.instances, column))
        except SpecError:
            return False

    def _write(self, text: str) -> str:
        """The expression with each name the class's own: checked, its reads recorded."""
        tree = ast.parse(text, mode="eval").body
        reads = Reads(dict(self.reads.params), dict(self.reads.spec), dict(self.reads.lets))
        out = ast.unparse(self._rewrite(tree, reads, ()))
        self.reads = reads                       # recorded once the whole expression is writable
        return out

    def _rewrite(self, node: ast.AST, reads: Reads, within: tuple[str, ...]) -> ast.expr:
        """The expression with each name checked and read (a `let:` from the lets it reads)."""
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return ast.Constant(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
            return ast.BinOp(self._rewrite(node.left, reads, within), node.op, self._rewrite(node.right, reads, within))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ast.UnaryOp(node.op, self._rewrite(node.operand, reads, within))
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "input"
                and node.attr == "channels" and self.has_in):
            reads.params["in_channels"] = self._column("in_channels")
            return ast.Name("in_channels")
        if isinstance(node, ast.Name) and name_problem(node.id) is None:
            self._read(node.id, reads, within)
            return ast.Name(node.id)
        raise Unwritable

    def _read(self, name: str, reads: Reads, within: tuple[str, ...]) -> None:
        if name in self.params:
            reads.params[name] = self._column(name)
        elif name in self.let_exprs and name not in within:
            if name not in reads.lets:
                tree = ast.parse(self.let_exprs[name], mode="eval").body
                text = ast.unparse(self._rewrite(tree, reads, (*within, name)))   # its own reads first
                reads.lets[name] = text
        elif name in self.spec and len({repr(i.env[name]) for i in self.instances}) == 1:
            reads.spec[name] = self.instances[0].env[name]
        else:
            raise Unwritable

    def column_of_let(self, name: str) -> tuple:
        """A `let:` local's values over the instances."""
        return tuple(i.env[name] for i in self.instances)

    def _column(self, name: str) -> tuple:
        if name == "in_channels":
            return tuple(i.env["input"].get("channels") for i in self.instances)
        return tuple(as_tuple(i.env[name]) for i in self.instances)


def spec_exprs(g: Graph, plan: ClassPlan, namer: ParamNamer, spec_of: Callable[[ScopeNode], set[str]]) -> SpecExprs:
    """The spec's expressions of a block's class (its parameters, `let:` values and the spec's
    parameters) or of the top class (the spec's parameters); None for a group's class."""
    scopes = [sn.scope for sn in plan.instances]
    if not all(s is not None and s.block for s in scopes):      # the top's, a group's: num_classes alone
        env = dict(g.meta.params or {})
        return SpecExprs(g, [Instance(g, sn, env) for sn in plan.instances], set(), {}, set(env) & SAFE_ON_TOP,
                         False, spec_of)
    first = scopes[0]
    assert first is not None
    has_in = all(len(sn.inputs) == 1 for sn in plan.instances) and "in_channels" in dict(namer.columns())
    lets = first.let_exprs if all(s is not None and s.let_exprs == first.let_exprs for s in scopes) else {}
    return SpecExprs(g, [Instance(g, sn, None) for sn in plan.instances], set(first.args), lets,
                     set(first.spec_params) - set(first.args) - set(first.lets), has_in, spec_of)
