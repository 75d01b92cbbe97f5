"""The widths of a repeat's steps in the top class, written from the step's index, as a
hand-written loop over a stage's blocks computes them.

PyramidNet's stage gives unit i the width `floor(16 + alpha * (first + i + 1) / units)`; its
input is the unit before's output. The top class, which builds the stage as an nn.Sequential,
writes the unit's `out` as the spec's expression with the step's index a name (`lift.Indexed`:
`16 + alpha * (n + i + 1) // units`) and its input width as the step before's output width with
the index one less in its place (`16 + alpha * (n + i) // units`), so that the steps alike are one
comprehension (`classes._repeats`: `for i in range(1, n)`), as torchvision's `_make_layer` reads
`self.inplanes`. Both are checked as `lift.lifted` checks a rate: the spec's interpreter gives from
the text, with the index's value, the graph's very number, and from the text with the value in
its place (`Indexed.folded`) too."""
from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING

from ...ir import Node, Scope, parent
from .counts import gives
from .lift import Indexed, Lifter, Unliftable
from .widthexpr import follows

if TYPE_CHECKING:
    from .scopes import Child
    from .specexpr import SpecExprs


def stepped(spec: SpecExprs, child: Child, arg: str, column: tuple) -> Indexed | None:
    """The top class's int argument `arg` of a block that is a step of a repeat, as an
    expression of the step's index: its own argument as the spec gives it, or its input width as
    the step before's output width; None where it reads no index or is not so."""
    scope = child.sub.scope if child.subscope is not None else None
    if (spec.tracked is None or scope is None or scope.kind != "block" or scope.index is None
            or len(column) != 1 or type(column[0]) is not int):
        return None
    reads = spec.reads.copy()
    lifter = Lifter(spec.g, None, lambda n: spec.own_name(n, reads), spec.tracked[0].channels_of,
                    decided=spec.tracked[0].decided)
    try:
        if arg == "in_channels" and len(child.sub.inputs) == 1:
            tree = _from_step_before(lifter, scope, child.sub.inputs[0])
        elif arg in scope.arg_exprs:
            tree = lifter.argument(scope, arg, True)
        else:
            return None
    except (Unliftable, KeyError):
        return None
    if lifter.index != (scope.index, scope.arg_env.get(scope.index)):
        return None
    name, value = lifter.index
    tree = summed(tree)
    text, folded = ast.unparse(tree), ast.unparse(summed(put_name(tree, name, ast.Constant(value))))
    env = spec.instances[0].env
    if not (gives(text, {**env, name: value}, column[0]) and gives(folded, env, column[0])):
        return None
    spec.reads = reads
    spec.folded |= lifter.folded
    spec.done |= lifter.used
    spec.passed.append((child.sub, arg, text))
    return Indexed(text, name, value, folded)


def _from_step_before(lifter: Lifter, scope: Scope, ref: str) -> ast.expr:
    """The width of `ref`, the output of the step before `scope` in its repeat, as the `out` of the
    node that sets it (through nodes whose width is their first input's: a batch norm, an add),
    its index a name that then stands one less (`i` for `i - 1`)."""
    before = lifter.g.scopes.get(parent(ref))
    if (before is None or before.kind != "block" or before.output != ref or before.index != scope.index
            or before.count != scope.count or parent(before.path) != parent(scope.path)
            or before.repeat is None or scope.repeat != before.repeat + 1):
        raise Unliftable
    node: Node | None = lifter.g.nodes.get(ref)
    while node is not None and "out" not in node.exprs and node.inputs and (
            follows(node) == "first" or len(node.inputs) == 1 and follows(node) == "sum"):   # (one input: its width)
        node = lifter.g.nodes.get(node.inputs[0])
    if node is None or "out" not in node.exprs or parent(node.name) != before.path:
        raise Unliftable
    tree = lifter.attribute(node, "out", True)
    if lifter.index is None or scope.index is None:
        raise Unliftable
    name, value = lifter.index
    lifter.index = (name, value + 1)
    return put_name(tree, name, ast.BinOp(ast.Name(name), ast.Sub(), ast.Constant(1)))


def put_name(tree: ast.expr, name: str, by: ast.expr) -> ast.expr:
    """The expression with each name `name` replaced by `by`."""
    class Put(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return by if node.id == name else node
    return Put().visit(copy.deepcopy(tree))      # (never a cached `parse` tree: it is shared)


def summed(tree: ast.expr) -> ast.expr:
    """The expression with each sum of terms collected (`n + (i - 1) + 1`: `n + i`; `2 * n + (n - 1)
    + 1`: `3 * n`): a term is a number, or an int times an expression (compared as written), kept in
    the order it first comes, the number last. Integer arithmetic only: it is the same number."""
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Add, ast.Sub)):
        terms: dict[str, list] = {}
        for sign, term in _terms(tree, 1):
            coef, rest = _coefficient(summed(term))
            terms.setdefault(ast.unparse(rest) if rest is not None else "", [0, rest])[0] += sign * coef
        number = terms.get("", [0])[0]
        if number < 0 or next(iter(terms)) != "":      # the number where it came first, else last
            terms.pop("", None)
            terms[""] = [number, None]
        out: ast.expr | None = None
        for coef, rest in terms.values():
            if coef:
                term = ast.Constant(abs(coef)) if rest is None else rest if abs(coef) == 1 else ast.BinOp(
                    ast.Constant(abs(coef)), ast.Mult(), rest)
                out = (term if coef > 0 else ast.UnaryOp(ast.USub(), term)) if out is None else (
                    ast.BinOp(out, ast.Add() if coef > 0 else ast.Sub(), term))
        return out if out is not None else ast.Constant(0)
    if isinstance(tree, ast.BinOp):
        left, right = summed(tree.left), summed(tree.right)
        if isinstance(tree.op, ast.Mult) and isinstance(right, ast.Constant) and right.value == 1:
            return left                 # `alpha * (0 + 1)`: alpha
        return ast.BinOp(left, tree.op, right)
    return tree


def _terms(tree: ast.expr, sign: int) -> list[tuple[int, ast.expr]]:
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, (ast.Add, ast.Sub)):
        return _terms(tree.left, sign) + _terms(tree.right, sign if isinstance(tree.op, ast.Add) else -sign)
    return [(sign, tree)]


def _coefficient(term: ast.expr) -> tuple[int, ast.expr | None]:
    """(c, e) where the term is c * e (e None: the number c)."""
    if isinstance(term, ast.Constant) and type(term.value) is int:
        return term.value, None
    if (isinstance(term, ast.BinOp) and isinstance(term.op, ast.Mult) and isinstance(term.left, ast.Constant)
            and type(term.left.value) is int):
        return term.left.value, term.right
    return 1, term
