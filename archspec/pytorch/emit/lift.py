"""A rate the spec computes where it builds a block, written in the class that builds it.

ConvNeXt's stage gives each of its blocks `p: ${stochastic_depth * (before + j) / (blocks - 1.0)}`:
the top class, which builds the stages as nn.Sequential, writes that rate as
`stochastic_depth * (3 + j) / 17.0`, as torchvision's ConvNeXt computes `sd_prob` in its loop.
An expression is carried up from where the spec evaluates it to the class: a block's argument
given as `${...}` is its expression where the block is made, a `let:` its own expression; the
class's own names (its parameters, `let:` locals, the spec's parameters it takes) stay names,
and so does the repeat index that numbers the block's step (`Indexed`: nn.Sequential writes a
run of such steps as one comprehension, `for j in range(3)`); any other value is written as a
number: a `let:` or index of a block between (`before`, 3), a table's entry (`rows[1][5]`), once
what it comes from is known: the spec parameters so written (`folded`) and those the structure
between reads are the caller's to check against the ones the class takes (a class that took
`depths` and wrote the stage's `before` as 3 would not honour it). Only plain arithmetic
(+ - * / //) of names and numbers is written, a minus before a number only (a `%` only as the
number it gives), and, where the class takes a tuple of ints (`items`: the top's `layers`), its
item by a constant index (`layers[0]`), a table's entry by constant indices (`rows[-1][4]`); names
pass the one validator (`names.name_problem`), and numbers are the interpreter's values, written by
`ast.unparse` of int and float constants (their repr).
`lifted` checks the text: the spec's interpreter gives from it the graph's very number at every
instance (float ==, no rounding)."""
from __future__ import annotations

import ast
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from ...frontend.expr import FUNCTIONS, evaluate, parse
from ...ir import Graph, Node, Scope, parent
from ...names import name_problem
from .guard import tested

if TYPE_CHECKING:
    from .scopes import Child
    from .specexpr import SpecExprs

_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)    # what generated source may compute
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)     # and, in a width's choice, compare
_EXACT = 1 << 20         # the largest numerator and denominator of a factor under a floor (`_floored`)


class Unliftable(Exception):
    """An expression that is not plain arithmetic of what the class may name or write as a number."""


class Indexed(str):
    """A written number that reads the index of its block's step (`stochastic_depth * (3 + j) /
    17.0`): the index's name and value there, and the text with the value in its place (`folded`),
    which is written wherever the step is not in a run that a comprehension writes."""
    name: str
    value: int
    folded: str

    def __new__(cls, text: str, name: str, value: int, folded: str) -> Indexed:
        out = super().__new__(cls, text)
        out.name, out.value, out.folded = name, value, folded
        return out


def _number(v: object) -> bool:
    return type(v) in (int, float)


def constant(v: Any) -> ast.expr:
    """A number as an expression: an int or a float (not a flag, not text)."""
    if not _number(v):
        raise Unliftable
    return ast.Constant(v)


class Lifter:
    """Carries expressions of the blocks inside one instance of a class (`own`: its scope, None for
    the top's or a group's) up to it. `name` writes one of the class's own names (raising Unliftable
    where it has none); `folded` gets the spec parameters written as numbers, `used` the (block,
    argument) and (node, attribute) whose expressions were written, `index` the step index read."""

    def __init__(self, g: Graph, own: Scope | None, name: Callable[[str], ast.expr],
                 channels: Callable[[str, Scope | None], ast.expr] | None = None, choices: bool = False,
                 decided: dict[str, frozenset[str]] | None = None) -> None:
        self.g, self.own, self.name = g, own, name
        self.decided = decided or {}      # per block instance, the `let:` values its class decides itself
        self.choices = choices            # a width's `a if test else b` and `floor(w * c)` written with names
        self.folded, self.used = set[str](), set[tuple[str, str]]()
        self.shaped: set[str] = set()     # of `folded`, those a structure between reads (`_structures`)
        self.valued: set[str] = set()     # of `folded`, those an expression written reads
        self.turns: set[str] = set()      # the class's names a block it makes passes to a test of its children
        self.index: tuple[str, int] | None = None
        self._step: Scope | None = None            # the block whose step's index stays a name
        # a width's expression (`widthexpr`): `input.channels` as the width of the tensor it names (the
        # node's own input in its attribute, the block's in its arguments and `let:`), else a number
        self.channels = channels
        self._here: str | None = None
        self.items: Callable[[str], ast.expr] | None = None     # a tuple's name the class has (`_as_tuple`)

    def argument(self, b: Scope, arg: str, step: bool) -> ast.expr:
        """Block instance b's argument `arg`, as the class writes it (b's step index a name where `step`)."""
        self._structures(b.path)
        self._step = b if step else None
        return self._name(arg, b, False)

    def attribute(self, node: Node, attr: str, step: bool) -> ast.expr:
        """A node's attribute, as the class writes it (the step index of the node's block a name,
        where `step`)."""
        self._structures(node.name)
        b = self._block(node.name)
        self._step = b if step else None
        self.used.add((node.name, attr))
        self._here = node.inputs[0] if node.inputs else None
        return self._expr(parse(node.exprs[attr]), b, False)

    def count(self, step: Scope) -> ast.expr:
        """The count of the repeat that block `step` is a step of (`Scope.count`), as the class
        writes it: read in the block the step is in, which the class makes itself (no block
        between, whose structure another value could change)."""
        b = self._block(step.path)
        if step.count is None or b is not None and self._block(b.path) is not self.own:
            raise Unliftable
        return self._expr(parse(step.count), b, False)

    # -- the expression, name by name ------------------------------------------------------

    def _expr(self, node: ast.AST, b: Scope | None, call: bool) -> ast.expr:
        """An expression read in block b (`call`: where b is made) as the class writes it."""
        if isinstance(node, ast.Constant) and _number(node.value):
            return ast.Constant(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
            return _fold(ast.BinOp(self._expr(node.left, b, call), node.op, self._expr(node.right, b, call)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return _fold(ast.UnaryOp(node.op, self._expr(node.operand, b, call)))
        if isinstance(node, ast.Name):
            here, self._here = self._here, None     # a name's expression: `input` is its block's
            try:
                return self._name(node.id, b, call)
            finally:
                self._here = here
        if self.channels is not None and channels_of(node) is not None:
            return self._width(node, b, call)
        part: Callable[[ast.AST], ast.expr] = lambda e: self._expr(e, b, call)   # noqa: E731
        if self.channels is not None and floor_of_product(node) is not None:
            return _floored(node, part, lambda e: self._value(e, b, call), self._written)
        if self.channels is not None and _floor_of_quotient(node) is not None:
            return _floored_quotient(node, part)
        if self.channels is not None and isinstance(node, ast.IfExp):     # the branch taken, its test folded
            written = self._written(lambda: choice(_test(node.test, part), part(node.body), part(node.orelse)))
            if written is not None:
                return written
            valued = set(self.valued)            # (a choice of structure, as a `when:`: `shaped`)
            test = self._decided(node.test, b, call)
            self._shaping(valued)
            if type(test) not in (bool, int):           # (`6 if bottleneck else 3`: the interpreter's truth)
                raise Unliftable
            return self._expr(node.body if test else node.orelse, b, call)
        if self.items is not None and (item := items_of(node)) is not None:     # `layers[0]`, `rows[-1][4]`
            return _item(self, item[1], lambda: self._name(item[0], b, call), lambda: self._value(node, b, call))
        return _through(self, node, b, call) or self._value(node, b, call)     # an item, a table's entry, a sum

    def _written(self, make: Callable[[], ast.expr]) -> ast.expr | None:
        """Where `choices`, what `make` writes, where it reads a name (else None, and nothing it
        recorded kept: the caller writes the part as a number)."""
        if not self.choices:
            return None
        kept = (set(self.folded), set(self.shaped), set(self.valued), set(self.used))
        try:
            out = make()
        except Unliftable:
            out = None
        if out is not None and any(isinstance(n, ast.Name) for n in ast.walk(out)):
            return out
        self.folded, self.shaped, self.valued, self.used = kept
        return None

    def _width(self, node: ast.AST, b: Scope | None, call: bool) -> ast.expr:
        """`input.channels` (`block_input.channels`) as the expression of that tensor's width."""
        assert self.channels is not None
        if channels_of(node) == "input" and self._here is not None:
            return self.channels(self._here, None)
        if call and channels_of(node) == "block_input":
            raise Unliftable                 # the caller's block's input: not followed
        return self.channels("", b)          # the input of block b (the graph's where b is None)

    def _name(self, n: str, b: Scope | None, call: bool) -> ast.expr:
        if call and b is not None:                  # b's arguments: where b is made
            c = self._block(b.path)
            if _is_index(n, b, c):
                if b is self._step and n == b.index and name_problem(n) is None:
                    self.index = (n, b.arg_env[n])
                    return ast.Name(n)
                return self._index(n, b, c)
            return self._name(n, c, False)
        if b is self.own or b is None:
            if b is None and self.own is not None:
                raise Unliftable             # a top-level name inside a block's class: none it has
            return self.name(n)
        if n in b.args:
            if n in b.arg_exprs:
                self.used.add((b.path, n))
                return self._expr(parse(b.arg_exprs[n]), b, True)
            if n in b.defaults and n not in b.declared:
                raise Unliftable             # a default the spec computes: from what, unknown here
            return constant(b.args[n])
        if n in b.lets and n in b.let_exprs:
            return self._expr(parse(b.let_exprs[n]), b, False)
        if n in b.spec_params and n not in b.lets and not self._hidden(n):
            return self.name(n)
        raise Unliftable

    def _index(self, n: str, b: Scope, c: Scope | None) -> ast.expr:
        """The index of step b of a repeat, read where it is not a name: its value. In a width, of a
        repeat in a block the class makes, whose count `_structures` leaves to the class (`counts`),
        the last step's is the count less one (PyramidNet's last unit, `floor(16 + alpha * (2 * n +
        (n - 1) + 1) / units)`) and another's value ties the count's names to their values (`folded`)."""
        value = b.arg_env[n]
        if not (self.channels is not None and b.count is not None and n == b.index      # (its value: b.repeat)
                and c is not None and self._block(c.path) is self.own):
            return constant(value)
        if evaluate(b.count, {**c.spec_params, **c.args, **c.lets}) == value + 1:
            return _fold(ast.BinOp(self._expr(parse(b.count), c, False), ast.Sub(), ast.Constant(1)))
        for m in sorted(_names(parse(b.count))):
            self._deps(m, c, False)
        return constant(value)

    def _value(self, node: ast.AST, b: Scope | None, call: bool) -> ast.expr:
        """A part that is no arithmetic, as the number the interpreter gives it, where it reads
        none of the class's names."""
        return constant(self._decided(node, b, call))

    def _decided(self, node: ast.AST, b: Scope | None, call: bool) -> Any:
        """What the interpreter gives a part, its names' spec parameters written as their values
        (`folded`): none of the class's names, but in a width (`channels`) of the top's class, whose
        names it may so fold (the top class then takes none of them)."""
        top = self.channels is not None and self.own is None and b is None
        if (b is self.own or b is None) and not top:
            raise Unliftable
        for n in sorted(_names(node)):
            self._deps(n, b, call)
        env = dict(self.g.meta.params or {}) if b is None else {**b.spec_params, **b.args, **b.lets}
        if call and b is not None:
            c = self._block(b.path)
            env = {**(b.spec_params if c is None else {**c.spec_params, **c.args, **c.lets}), **b.arg_env}
        try:
            return evaluate(ast.unparse(node), env)
        except SpecError:
            raise Unliftable from None

    # -- what a number written depends on ----------------------------------------------------

    def _deps(self, n: str, b: Scope | None, call: bool) -> None:
        """Record the spec parameters that name n, read in block b (where b is made: `call`),
        comes from (`folded`); raise where that is not known, or it is the class's own."""
        if call and b is not None:
            c = self._block(b.path)
            if not _is_index(n, b, c):          # an index: its structure's (`_structures`)
                self._deps(n, c, False)
        elif b is self.own or b is None:
            self._spec(n)
        elif n in b.args:
            if n in b.arg_exprs:
                for m in sorted(_names(parse(b.arg_exprs[n]))):
                    self._deps(m, b, True)
            elif n in b.defaults and n not in b.declared:
                raise Unliftable
        elif n in b.lets:
            for m in sorted(b.let_reads.get(n, {n}) - set(b.lets)):
                self._deps(m, b, False)
        else:
            self._spec(n)

    def _spec(self, n: str) -> None:
        """A spec parameter given as a value (or those a top-level `let:` reads: `_params_of`), as it."""
        params = self.g.meta.params or {}
        for m in _params_of(self.g, n) if not self._hidden(n) else [n]:
            if m not in params or isinstance(params[m], str) and "${" in params[m] or self._hidden(m):
                raise Unliftable
            self.folded.add(m)
            self.valued.add(m)

    def _hidden(self, n: str) -> bool:
        """A name of the class's own block that hides the spec parameter of that name."""
        return self.own is not None and (n in self.own.args or n in self.own.lets)

    def _structures(self, path: str) -> None:
        """The spec parameters the structure of each block between the class and `path` reads
        (which nodes they have, how many steps their repeats take): `folded`, as a number. Not, in
        a width (`channels`), an argument that the class gives a block it makes as an expression:
        the class may write it so (DenseNet-CIFAR's `DenseBlock(2 * growth, (depth - 4) // 6,
        growth)`, its width `2 * growth + (depth - 4) // 6 * growth`), and `vary` checks it does;
        nor what the count of the repeat that the way to `path` is a step of reads there (PyramidNet's
        stage, `repeat: ${n}`): the class may write that count (`counts`), and a step's index
        written as a number (neither a name nor the count less one) ties it (`_index`)."""
        at, below, valued = self._block(path), self.g.scopes.get(path), set(self.valued)
        while at is not None and at is not self.own:
            passed = self.channels is not None and self._block(at.path) is self.own
            counted = _names(parse(below.count)) if passed and below is not None and below.count else set()
            reads = at.structure_reads
            for let in self.decided.get(at.path, ()):        # (its class tests that `let:`: `_build_tested`)
                reads = reads & at.reads_apart.get(let, reads)
            for n in sorted(reads - tested(at)):       # (its caller tests that `when:`)
                if ((n in at.args or n in at.lets or n in at.spec_params) and not (passed and n in at.arg_exprs)
                        and n not in counted):
                    self._deps(n, at, False)
            self.turns |= _when_passed(at, reads - tested(at)) if passed else set()
            at, below = self._block(at.path), at
        self._shaping(valued)

    def _shaping(self, valued: set[str]) -> None:
        """The parameters folded since `valued` was what `valued` held set a structure (which
        nodes a block has, which branch a width takes): `shaped`, not `valued`."""
        self.shaped |= self.valued - valued
        self.valued = valued

    def _block(self, path: str) -> Scope | None:
        """The block instance whose names an expression at `path` (a node, a block) reads: the
        nearest enclosing one, or None at the top."""
        at = parent(path)
        while at:
            s = self.g.scopes.get(at)
            if s is not None and s.kind == "block":
                return s
            at = parent(at)
        return None


def _through(self: Lifter, node: ast.AST, b: Scope | None, call: bool) -> ast.expr | None:
    """`seq[k]`, k a step's index or seq a block's list given as a slice of a tuple the class
    has (HRNet's exchange, `widths: ${widths[:3]}`, its branch `planes: ${widths[j]}`), as
    that tuple's item (`widths[1]`); None where it is no such item (nothing recorded kept), and
    where seq is the class's own list read at a step (DPN's `incs[i]`: the depth loop's column)."""
    if self.items is None or not isinstance(node, ast.Subscript):
        return None
    kept = (set(self.folded), set(self.shaped), set(self.valued), set(self.used))
    try:
        k = self._decided(node.slice, b, call) if not isinstance(node.slice, ast.Slice) else None
        if type(k) is not int or k < 0:
            raise Unliftable
        seq, start, given = _sequence(self, node.value, b, call)
        if not given:
            raise Unliftable
        return _subscript(seq, (start + k,))
    except Unliftable:
        self.folded, self.shaped, self.valued, self.used = kept
        return None

def _sequence(self: Lifter, node: ast.AST, b: Scope | None, call: bool,
              given: bool = False) -> tuple[ast.expr, int, bool]:
    """A tuple the class has, where in it the list `node` (a name, or its slice `[a:b]`, read in
    block b) starts, and whether a block was given it (`given`) or a slice of it."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and node.slice.step is None:
        lower = node.slice.lower
        first = lower.value if isinstance(lower, ast.Constant) else 0 if lower is None else -1
        if type(first) is not int or first < 0:
            raise Unliftable
        seq, start, _ = _sequence(self, node.value, b, call)
        return seq, start + first, True
    if not isinstance(node, ast.Name):
        raise Unliftable
    n = node.id
    if call and b is not None:
        c = self._block(b.path)
        if _is_index(n, b, c):
            raise Unliftable
        return _sequence(self, node, c, False, given)
    if b is self.own or b is None:
        return _as_tuple(self, lambda: self.name(n)), 0, given
    if n in b.args and n in b.arg_exprs:
        self.used.add((b.path, n))
        return _sequence(self, parse(b.arg_exprs[n]), b, True, True)
    raise Unliftable


def _floored(node: ast.AST, part: Callable[[ast.AST], ast.expr], value: Callable[[ast.AST], ast.expr],
         written: Callable[[Callable[[], ast.expr]], ast.expr | None]) -> ast.expr:
    """`floor(w * c)` (DenseNet's `floor(input.channels * compression)`) as `w * p // q`, where
    the factor c is a number p / q with q a small power of two (0.5, 0.75; not 0.3, whose
    q is 2**54): then w * c is exact in floating point (|w * p| < 2**53 for any width under
    2**33) and its floor is that of the integer quotient."""
    product = floor_of_product(node)
    assert product is not None
    named = written(lambda: floored_names(ast.BinOp(part(product.left), ast.Mult(), part(product.right))))
    if named is not None:         # (`choices`: `int(w * compression)`)
        return named
    for width, factor in ((product.left, product.right), (product.right, product.left)):
        try:
            c = value(factor)
        except Unliftable:
            continue
        v = c.value if isinstance(c, ast.Constant) else None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            continue
        p, q = v.as_integer_ratio()          # q: a power of two, as any float's
        if q > _EXACT or p > _EXACT:
            continue
        w = part(width)
        return _fold(ast.BinOp(_fold(ast.BinOp(w, ast.Mult(), ast.Constant(p))), ast.FloorDiv(), ast.Constant(q)))
    raise Unliftable


def _floored_quotient(node: ast.AST, part: Callable[[ast.AST], ast.expr]) -> ast.expr:
    """`floor(c + a / d)` (PyramidNet's `floor(16 + alpha * k / units)`) as `c + a // d`, where a,
    d and c are integer arithmetic: the same number where 2|a| + |d| (|c| + 1) < 2**53 (`_EXACT_SUM`)."""
    found = _floor_of_quotient(node)
    assert found is not None
    c, q = found
    parts = [part(x) for x in (q.left, q.right, *([c] if c is not None else []))]
    if not all(map(integral, parts)):
        raise Unliftable
    out = _fold(ast.BinOp(parts[0], ast.FloorDiv(), parts[1]))
    return _fold(ast.BinOp(parts[2], ast.Add(), out)) if c is not None else out


def _is_index(n: str, b: Scope, c: Scope | None) -> bool:
    """Where b is made, n is a repeat's index (neither the caller's parameter nor its `let:`)."""
    return n in b.arg_env and not (c is not None and (n in c.args or n in c.lets))


def _test(node: ast.AST, part: Callable[[ast.AST], ast.expr]) -> ast.expr:
    """A choice's test written with names: comparisons of expressions (each as `part` writes
    it), `and`, `or`, `not` (DenseNet-CIFAR's `bottleneck > 0 and compression < 1`)."""
    if isinstance(node, ast.BoolOp):
        return bool_op(node.op, [_test(v, part) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _test(node.operand, part)
        return ast.Constant(not inner.value) if isinstance(inner, ast.Constant) else ast.UnaryOp(node.op, inner)
    if isinstance(node, ast.Compare) and all(isinstance(op, _COMPARE) for op in node.ops):
        return known_test(ast.Compare(part(node.left), node.ops, [part(c) for c in node.comparators]))
    return part(node)


def known_test(test: ast.Compare) -> ast.expr:
    """A comparison of numbers alone (a parameter the top class writes as its value: `4 > 0`)
    as its truth, as the spec's interpreter gives it."""
    if any(isinstance(n, ast.Name) for n in ast.walk(test)):
        return test
    return ast.Constant(bool(evaluate(ast.unparse(test), {})))


def bool_op(op: ast.boolop, values: list[ast.expr]) -> ast.expr:
    """`and` / `or` of tests, the known ones dropped (`4 > 0 and compression < 1`: `compression
    < 1`), or the truth one of them decides."""
    unit = isinstance(op, ast.And)          # the truth `and` drops (`or` drops False)
    if any(isinstance(v, ast.Constant) and bool(v.value) != unit for v in values):
        return ast.Constant(not unit)
    rest = [v for v in values if not isinstance(v, ast.Constant)]
    return ast.BoolOp(op, rest) if len(rest) > 1 else rest[0] if rest else ast.Constant(unit)


def choice(test: ast.expr, body: ast.expr, orelse: ast.expr) -> ast.expr:
    """`body if test else orelse`, or the branch a known test takes."""
    if isinstance(test, ast.Constant):
        return body if test.value else orelse
    return ast.IfExp(test, body, orelse)


def floored_names(product: ast.BinOp) -> ast.expr:
    """`int(w * c)`: the spec's `floor(w * c)`, the same floating-point product with its fraction
    dropped: a width, at or above 0, where `int`'s truncation is the floor (a negative product
    is a width the spec refuses). Not where a factor is a number: `_floored` writes that."""
    if any(isinstance(x, ast.Constant) for x in (product.left, product.right)):
        raise Unliftable                  # a factor that is a number: `w * p // q`, exactly (`_floored`)
    return ast.Call(ast.Name("int"), [product], [])


def _params_of(g: Graph, n: str) -> list[str]:
    """The spec parameters a name stands for: itself, or those a top-level `let:` reads (DPN's
    `widths`: `small`), written as numbers with it."""
    lets = g.meta.let_reads
    return [m for m in lets[n] if m not in lets] if n in lets and n not in (g.meta.params or {}) else [n]


def items_of(node: ast.AST) -> tuple[str, tuple[int, ...]] | None:
    """(name, (k, ...)) where the node is `name[k]...`, each k an int constant (`rows[-1][4]`:
    a table's entry, its row counted from the end)."""
    ks: list[int] = []
    while isinstance(node, ast.Subscript):
        k = node.slice
        negative = isinstance(k, ast.UnaryOp) and isinstance(k.op, ast.USub)
        value = k.operand if isinstance(k, ast.UnaryOp) and negative else k
        if not (isinstance(value, ast.Constant) and type(value.value) is int):
            return None
        ks.insert(0, -value.value if negative else value.value)
        node = node.value
    return (node.id, tuple(ks)) if ks and isinstance(node, ast.Name) else None


def item_of(node: ast.AST) -> tuple[str, int] | None:
    """(name, k) where the node is `name[k]`, k an int constant, 0 or more."""
    item = items_of(node)
    return (item[0], item[1][0]) if item is not None and len(item[1]) == 1 and item[1][0] >= 0 else None


def _item(lifter: Lifter, ks: tuple[int, ...], read: Callable[[], ast.expr], value: Callable[[], ast.expr]) -> ast.expr:
    """Item ks of the tuple `read` names with the lifter's tuples (`items`), or, where the name is
    none of them (DPN's `let:` widths), the number `value` writes (nothing the try recorded kept)."""
    kept = (set(lifter.folded), set(lifter.shaped), set(lifter.valued), set(lifter.used))
    try:
        seq = _as_tuple(lifter, read)
    except Unliftable:
        lifter.folded, lifter.shaped, lifter.valued, lifter.used = kept
        return value()
    return _subscript(seq, ks)


def _as_tuple(lifter: Lifter, read: Callable[[], ast.expr]) -> ast.expr:
    """What `read` writes with the lifter's names read as the tuples' it has (`items`)."""
    name, items = lifter.name, lifter.items
    assert items is not None
    lifter.name = items
    try:
        return read()
    finally:
        lifter.name = name


def _subscript(seq: ast.expr, ks: tuple[int, ...]) -> ast.expr:
    """`seq[k]...`, where `seq` is a name."""
    if not isinstance(seq, ast.Name):
        raise Unliftable
    for k in ks:
        seq = ast.Subscript(seq, ast.Constant(k), ast.Load())
    return seq


def channels_of(node: ast.AST) -> str | None:
    """`input` or `block_input` where the node is `input.channels` (`block_input.channels`)."""
    if (isinstance(node, ast.Attribute) and node.attr == "channels" and isinstance(node.value, ast.Name)
            and node.value.id in ("input", "block_input")):
        return node.value.id
    return None


def floor_of_product(node: ast.AST) -> ast.BinOp | None:
    """The product inside `floor(a * b)`."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "floor"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.BinOp)
            and isinstance(node.args[0].op, ast.Mult)):
        return node.args[0]
    return None


# _EXACT_SUM: the interpreter computes floor(c + a / d) in floats, the class `c + a // d` in integers.
# Where 2|a| + |d| (|c| + 1) < 2**53 they agree: a non-integer x = a / d is at least 1 / |d| from
# every integer, and its rounding t is within |x| 2**-53 of it (< 1 / |d| as |a| < 2**53), so t lies
# strictly between the same two integers (an integer x, under 2**53, is exact); c + t then rounds by
# at most |c + t| 2**-53 <= (|c| + |x| + 1) 2**-53, and both errors together, times |d|, are under
# 2|a| + |d| (|c| + 1) < 2**53: under 1 / |d|, so the sum stays below the next integer (and rounds to
# no less than c + floor(x), a float itself). tests/test_top_widths.py checks it against fractions.


def _floor_of_quotient(node: ast.AST) -> tuple[ast.expr | None, ast.BinOp] | None:
    """(c, the quotient) where the node is `floor(a / d)` (c None), `floor(c + a / d)` or `floor(a / d + c)`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "floor"
            and len(node.args) == 1 and not node.keywords):
        return None
    e = node.args[0]
    if _quotient(e):
        return None, e               # type: ignore[return-value]
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        for c, q in ((e.left, e.right), (e.right, e.left)):
            if _quotient(q):
                return c, q          # type: ignore[return-value]
    return None


def _quotient(e: ast.AST) -> bool:
    return isinstance(e, ast.BinOp) and isinstance(e.op, ast.Div)


def integral(e: ast.AST) -> bool:
    """Integer arithmetic (+ - * //, a minus before a number) of names and ints: a width's names are
    the top's int parameters (`top_name`), so it is an int."""
    if isinstance(e, ast.BinOp):
        return isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)) and integral(e.left) and integral(e.right)
    if isinstance(e, ast.UnaryOp):
        return isinstance(e.op, ast.USub) and integral(e.operand)
    return isinstance(e, ast.Name) or isinstance(e, ast.Constant) and type(e.value) is int


def _when_passed(at: Scope, names: AbstractSet[str]) -> set[str]:
    """The names the expressions read that the caller passes to the parameters among `names` that
    block `at`'s children's `when:` read (`Scope.node_whens`): the class writes those arguments
    (`DenseBlock(..., bn_size=bn_size)`), and `vary` tries them where the test turns (`Lifter.turns`)."""
    whens = set().union(*(_names(parse(t)) for t in at.node_whens.values()))
    return set().union(*(_names(parse(at.arg_exprs[n])) for n in names & whens if n in at.arg_exprs))


def _names(tree: ast.AST) -> set[str]:
    """The names an expression reads (not the interpreter's functions: `sum`, `max`)."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in FUNCTIONS}


def _fold(e: ast.BinOp | ast.UnaryOp) -> ast.expr:
    """`e` with an operation on numbers done by the interpreter (`18 - 1.0`: 17.0), and an int 0
    added or 1 multiplied by dropped (`0 + j`: j), which leaves any number as it is. A minus is
    written before a number only (generated source negates no name)."""
    parts = [e.operand] if isinstance(e, ast.UnaryOp) else [e.left, e.right]
    if all(isinstance(p, ast.Constant) for p in parts):
        try:
            return constant(evaluate(ast.unparse(e), {}))
        except SpecError:
            raise Unliftable from None
    if isinstance(e, ast.UnaryOp):
        raise Unliftable
    if isinstance(e, ast.BinOp):
        unit = {ast.Add: 0, ast.Sub: 0, ast.Mult: 1}.get(type(e.op))
        if isinstance(e.right, ast.Constant) and type(e.right.value) is int and e.right.value == unit:
            return e.left
        if (isinstance(e.left, ast.Constant) and type(e.left.value) is int and e.left.value == unit
                and isinstance(e.op, (ast.Add, ast.Mult))):
            return e.right
    return e


def lifted(spec: SpecExprs, child: Child, attr: str, column: tuple) -> str | None:
    """The rate `attr` of a child of the class (an argument of its block, an attribute of its
    node) carried up to the class (`Lifter`): the same text at every instance, from which the
    spec's interpreter gives the column's very number there (an `Indexed` one where it reads its
    step's index, as does the text with the index's value in its place); None where it is not so."""
    first = spec.instances[0].sn.path
    rel = child.path[len(first) + 1:] if first else child.path
    reads, found, lifters = spec.reads.copy(), set(), []
    for inst, value in zip(spec.instances, column):
        sn = inst.sn
        own = sn.scope if sn.scope is not None and sn.scope.kind == "block" else None
        path = f"{sn.path}.{rel}" if sn.path else rel
        texts: list[tuple[str, tuple[str, int] | None]] = []
        for step in (True, False):          # the index a name, then its value in its place
            lifter = Lifter(spec.g, own, lambda n: spec.own_name(n, reads))
            try:
                tree = (lifter.attribute(spec.g.nodes[path], attr, step) if child.node is not None
                        else lifter.argument(spec.g.scopes[path], attr, step))
            except (Unliftable, KeyError):
                return None
            text = ast.unparse(tree)
            env = {**inst.env, **dict([lifter.index] if lifter.index else [])}
            if step and isinstance(tree, ast.Constant) or not _exact(text, env, value):
                return None                 # a number after all, or not this number
            texts.append((text, lifter.index))
            lifters.append(lifter)
            if lifter.index is None:
                break
        found.add((texts[0][0], texts[0][1], texts[-1][0]))
    if len(found) != 1:
        return None
    text, index, folded = found.pop()
    spec.reads = reads
    spec.folded.update(*(lifter.folded for lifter in lifters))
    spec.done.update(lifters[0].used)
    if child.subscope is not None:
        spec.passed.append((child.sub, attr, text))
    return text if index is None else Indexed(text, index[0], index[1], folded)


def _exact(text: str, env: dict, value: object) -> bool:
    """The interpreter gives `value` from the text: of its type, and equal (no rounding)."""
    try:
        v = evaluate(text, env)
    except SpecError:
        return False
    return type(v) is type(value) and v == value
