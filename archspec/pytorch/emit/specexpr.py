"""The spec's own expressions in a generated class: a constructor number that the spec wrote as
`${...}` of the block's parameters (`out: ${width * scale}`) is written as that expression
(`width * scale`), not as a number or one guessed from numbers. Its `let:` values become locals
of __init__ (`width = planes * base_width // 64 * groups`), and the spec's parameters it reads
keyword parameters with the spec's values as defaults, as timm's `base_width=26`.

An expression is written only where it is plain integer arithmetic (+ - * // %, unary -) of
names the class has, or the floor of a product of such names, `int(w * c)` (DenseNet's transition,
`floor(input.channels * compression)`: `int(in_channels * compression)`, the same float product
with its fraction dropped, a width at or above 0), and where the spec's own interpreter gives, at every instance of the
class, the very number the constructor call holds: the number decides, the expression only
names it. A rate (a float that sets no shape: a dropout's, a drop path's, a layer scale's
initial value) is written as the spec's parameter that is its value, or as the expression the
spec computes it by where it makes a block the class builds (`lift`: ConvNeXt's drop-path
rate `stochastic_depth * (3 + j) / 17.0`), + - * / of names and numbers that gives it exactly.
Every name passes the one validator (`names.name_problem`); numbers are written by `ast.unparse`
of int (and, in a rate, float) constants, which is their repr."""
from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from ...frontend.expr import ShapeView, evaluate, parse
from ...ir import Graph, Node, Scope, parent
from ...names import name_problem
from ...ops.base import literal
from .classnames import ParamNamer, as_tuple
from .guard import WORD, guard_only, unguarded
from .lift import Unliftable, bool_op, choice, floor_of_product, floored_names, integral, item_of, known_test, lifted
from .lift import constant as lift_constant
from .members import MISSING
from .scopes import Child, ScopeNode, own_children
from .steps import stepped
from .widthexpr import IN_WIDTH as _IN_WIDTH
from .widthexpr import Keys, TopWidths, WidthText, argument_of, collected, computed, follows, int_list, top_env, tracked

if TYPE_CHECKING:
    from .classes import ClassPlan

_DONE = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
         ast.Mod: operator.mod}
_OPERATORS = tuple(_DONE)
_BOUNDS = {"max": max, "min": min}     # the spec's functions a width may bound itself by (`_bound`)
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
ATTR_OF = {"out_channels": "out", "out_features": "out", "kernel_size": "k", "padding": "pad",  # torch's: the spec's
           "fill_value": "init"}
# The spec's parameter a top or group class takes though its nodes read it: it sets the width of
# the output alone. Any other its nodes read (DenseNet's stem) sets widths that a group class
# writes as numbers from the shapes (`DenseBlock(128, 12, 32)`): another value would not fit them.
# The top class writes them from the spec's (`widthexpr`) and takes those `vary` confirms.
SAFE_ON_TOP = frozenset({"num_classes"})
_SHAPELESS = ("p", "init")     # attributes that set no shape: a dropout's rate (the top's `dropout=0.2`), a
#                                layer scale's initial value
_WALK = 16               # producers walked back for an input width (bn after relu after conv)


class Unwritable(Unliftable):
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
                # (`block_input`: the block's input, as `input` is in its `let:`; a child's argument
                # reads it only where that is the class's input, `Widths.block_input_own`)
                view = {"input": ShapeView(shape), "block_input": ShapeView(shape)} if shape is not None else {}
                self._env = {**s.spec_params, **s.args, **s.lets, **view}
        return self._env


@dataclass
class Reads:
    """What the written expressions read: the class's parameters (column over the instances),
    the spec's parameters (one value), `let:` locals in the order __init__ computes them."""
    params: dict[str, tuple] = field(default_factory=dict)
    spec: dict[str, Any] = field(default_factory=dict)
    lets: dict[str, str] = field(default_factory=dict)

    def copy(self) -> Reads:
        return Reads(dict(self.params), dict(self.spec), dict(self.lets))


class Widths:
    """The spec's expressions of the widths of tensors inside a class (written from its first
    instance): what makes each, walked back through nodes and blocks that keep the width."""

    def __init__(self, g: Graph, sn: ScopeNode) -> None:
        self.g, self.sn = g, sn
        self._sub_scopes: dict[str, ScopeNode] | None = None
        self.whens: dict[str, str] = {}     # its own children built under their `when:` (`ClassPlan.whens`)

    def of(self, ref: str | None, own: bool = False) -> Iterator[str]:
        """The spec's expressions of a tensor's width, inside the class: its producer's `out`, or the
        `out` argument of the block it ends, through producers that keep the width (bn, relu); where
        `own`, the class's one input's as `input.channels` (a part of a concat, `_joined`)."""
        inside = self.sn.path
        for _ in range(_WALK):
            if own and ref is not None and self.sn.inputs == [ref]:
                yield "input.channels"
                return
            n = self.g.nodes.get(ref) if ref and ref.startswith(inside + "." if inside else "") else None
            if n is None:
                return
            block = self._block_ending(n.name, inside)
            if block is not None:
                yield from (block.arg_exprs[a] for a in ("out", "out_channels") if a in block.arg_exprs)
                ref = self._kept_by(block, n)        # an SE block's output: its input's width
                if ref is None:
                    return
                continue
            if "out" in n.exprs:              # a width the node sets: its input's, where equal, by chance
                yield self._when(n, n.exprs["out"])
                return
            elif n.op.name in ("concat", "slice"):
                yield from self._joined(n, own)
                return
            if not (n.shape and n.in_shapes and n.in_shapes[0] and n.shape[0] == n.in_shapes[0][0]):
                return
            ref = n.inputs[0] if n.inputs else None

    def _when(self, n: Node, text: str) -> str:
        """A width set by a child the class builds under its `when:` (`ClassPlan.whens`), as the
        choice of that test: its own where it is there, else what stands for it, its input's
        (`bn_size * growth if bn_size > 0 else input.channels`); else `text` as it is."""
        test = self.whens.get(n.name[len(self.sn.path) + 1:] if self.sn.path else n.name)
        if test is None or parent(n.name) != self.sn.path or not n.inputs:
            return text
        other = "input.channels" if self.from_input(n.inputs[0]) else next(self.of(n.inputs[0]), None)
        return text if other is None else WidthText(f"({text}) if ({test}) else ({other})")

    def _joined(self, n: Node, own: bool = False) -> Iterator[str]:
        """A concat's width as the sum of its inputs' (`follows`: a concat along the channels), a
        channel slice's as its stop less its start (the input's width where it has no stop), terms
        collected (Res2Net's ladder and last subset: `4 * width`); none where a part has none."""
        a = n.attrs
        try:
            if n.op.name == "concat" and follows(n) == "sum":
                terms = [(next(self.of(r, own)), 1) for r in n.inputs]
            elif n.op.name == "slice" and a.axis == 0 and a.step == 1 and n.inputs:
                stop = n.exprs.get("stop", None if a.stop is None else str(a.stop))
                terms = [(stop if stop is not None else next(self.of(n.inputs[0])), 1),
                         (n.exprs.get("start", str(a.start)), -1)]
            else:
                return
            yield collected(terms)
        except (StopIteration, Unliftable, SpecError):
            return

    def _kept_by(self, block: Scope, out: Node) -> str | None:
        """The input of a block instance of the class whose output has its input's width."""
        sub = self.subs().get(block.path)
        if sub is None or len(sub.inputs) != 1:
            return None
        shape = self.g.shape_of(sub.inputs[0])
        return sub.inputs[0] if shape and out.shape and shape[0] == out.shape[0] else None

    def subs(self) -> dict[str, ScopeNode]:
        """The scopes of the block instances the class builds (in nn.Sequential members too), by path."""
        if self._sub_scopes is None:
            todo, self._sub_scopes = list(own_children(self.sn)), {}
            while todo:
                c = todo.pop()
                if c.subscope is not None:
                    self._sub_scopes[c.sub.path] = c.sub
                    todo += own_children(c.sub) if c.sub.sequential else []
        return self._sub_scopes

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

    def block_input_own(self, child: Child) -> bool:
        """`block_input` where the child is made is the class's one input: the child is the class's
        own, or a member of an nn.Sequential that the class's input alone feeds (the expander's
        `block_input` in a list is the list's own input)."""
        at = parent(child.path)
        if at == self.sn.path:
            return True
        seq = self.subs().get(at)
        return seq is not None and seq.sequential and len(self.sn.inputs) == 1 and seq.inputs == self.sn.inputs

    def from_input(self, ref: str | None) -> bool:
        """The tensor has the class's input width: it is the input, or made from it by nodes that
        keep the width."""
        inputs = self.sn.inputs
        for _ in range(_WALK):
            if ref in inputs:
                return True
            n = self.g.nodes.get(ref) if ref else None
            if n is None or not n.inputs or not (n.shape and n.in_shapes and n.in_shapes[0]
                                                 and n.shape[0] == n.in_shapes[0][0]):
                return False
            ref = n.inputs[0]
        return False


class SpecExprs:
    """Writes a class's constructor numbers as the spec's expressions where it can."""

    def __init__(self, g: Graph, instances: list[Instance], params: set[str], lets: dict[str, str],
                 spec: set[str], has_in: bool, child: Callable[[ScopeNode], ClassPlan], top: bool = False,
                 tracked: tuple[TopWidths, frozenset[str]] | None = None) -> None:
        self.g, self.instances, self.child = g, instances, child
        self.tracked = tracked      # the top class's: its widths from the spec's, and the parameters refuted
        self.checked: set[str] = set()             # the spec parameters it takes that `vary` checks
        self.turned: set[str] = set()              # of those, the ones a structure reads (`vary` tries 0 too)
        self.params, self.let_exprs, self.spec, self.has_in = params, lets, spec, has_in
        self.top = top                             # the top's class or a group's: no block of its own
        self.constants: dict[str, Any] = {}        # spec parameters written as their values
        self.folded: set[str] = set()              # spec parameters a carried-up rate wrote as numbers (`lift`)
        self.reads, self.done = Reads(), set[tuple[str, str]]()
        self.passed: list[tuple[ScopeNode, str, str]] = []     # (block, its argument, the expression given)
        self.follow = True                         # every input width follows (`_widths_follow`)
        self.choosing = False                      # writing a top width's choices and floors (`WidthText`)
        self.widths = Widths(g, instances[0].sn)

    def write_all(self, origins: list[tuple[Child, str] | None], columns: list[tuple],
                  optional: list[str]) -> list[str | None]:
        """Per number, its expression, or None. A spec parameter that the structure or a number
        not so written also reads is written as its value: the class takes as keyword parameters
        only the ones it uses wherever the block does (ResNeXt's groups, not Res2Net's scale)."""
        written = [_listed(self, *o) or self.written(*o, col) if o else None for o, col in zip(origins, columns)]
        self.folded |= self.tracked[0].folded if self.tracked else set()
        loose = self._loose(optional) | self._held(set(self.reads.spec)) | set(self.reads.spec) & self.folded
        self.follow = _widths_follow(self.widths, origins, written, [i.sn for i in self.instances])
        if not self.follow and not self.top:      # SKNet's `out // 2`: a chunk's width, by number
            loose = set(self.reads.spec) & self._shaping(optional) - SAFE_ON_TOP    # (a rate sets none)
        if loose:
            self.constants = {p: self.reads.spec[p] for p in loose}
            self.reads, self.done, self.passed, self.folded = Reads(), set(), [], set()
            written = [_listed(self, *o) or self.written(*o, col) if o else None for o, col in zip(origins, columns)]
        return written + [None] * (len(columns) - len(origins))

    def _held(self, names: set[str]) -> set[str]:
        """Of `names`, those a caller could not vary: passed to a block's parameter that is not
        free; in a top or group class (whose widths are numbers), read by its structure or by
        any node of its own (num_classes aside). The top class, its widths written from the spec's
        (`tracked`), holds only those its structure reads and those `vary` refuted: the others
        these rules hold it takes where `vary` confirms them (`checked`)."""
        rep = self.instances[0].sn
        let_reads = rep.scope.let_reads if rep.scope else {}
        held = {n for sub, arg, text in self.passed if arg not in self.child(sub).free
                or unguarded(self.g, rep, sub, arg, text) for n in _reads_through(text, let_reads)}
        if self.top:
            held |= set(self.g.meta.structure_reads)
            held |= {n for (where, attr), text in _expressions(rep, []) if where in self.g.nodes
                     and attr not in _SHAPELESS for n in _reads_through(text, let_reads)} - SAFE_ON_TOP
        if self.tracked:             # a parameter set from others the top computes as the spec: not held
            self.checked = names & (held | self.tracked[0].shaped - self.tracked[0].folded)
            self.turned = self.checked & (self.tracked[0].shaped | set(self.g.meta.structure_reads))
            by_params = set(self.g.meta.structure_reads) - set(self.g.meta.nodes_structure_reads)
            kept = set(self.g.meta.structure_reads) - by_params | {
                n for p, v in (self.g.meta.params or {}).items() if p not in self.let_exprs for n in _names_of(v)}
            return names & (kept | self.tracked[1])
        return names & held

    def free(self, params: list[str], optional: list[str]) -> set[str]:
        """The parameters a caller may set to another value and get the block the spec builds
        with it, the same shape out: read by no structure, by no number not written from them,
        only by widths (`out`, `groups`) and not the output's, passed on only to free ones; where
        the widths are not known to follow them, read only by rates (ConvNeXt's block's `p`)."""
        rep = self.instances[0].sn
        if self.top or rep.scope is None:
            return set()
        let_reads = rep.scope.let_reads
        blocked = set(rep.scope.structure_reads) - guard_only(self.g, rep) | self._held(set(params))
        for key, text in _expressions(rep, optional):
            if key not in self.done or key[0] in self.g.nodes and not _sets_width(self.g, *key):
                blocked |= _reads_through(text, let_reads)
        export = self._export_width() if self.follow else None
        blocked |= self._shaping(optional) if export is None else _reads_through(export, let_reads)
        return {p for p in params if p not in blocked and p != "in_channels"} & (self.params | set(self.reads.spec))

    def _shaping(self, optional: list[str]) -> set[str]:
        """The names the class's structure and its expressions other than rates read."""
        rep = self.instances[0].sn
        let_reads = rep.scope.let_reads if rep.scope else {}
        return set(rep.scope.structure_reads if rep.scope else ()).union(*(
            _reads_through(text, let_reads) for key, text in _expressions(rep, optional)
            if not (key[0] in self.g.nodes and key[1] in _SHAPELESS)))

    def _export_width(self) -> str | None:
        """The spec's expression of the width the class returns, where one gives it."""
        sns = [i.sn for i in self.instances]
        if not all(len(sn.exports) == 1 for sn in sns):
            return None
        if self.widths.from_input(sns[0].exports[0]):
            return "0"                           # the input's width (an SE block's): no parameter's
        column = tuple((self.g.shape_of(sn.exports[0]) or (None,))[0] for sn in sns)
        return next((t for t in self.widths.of(sns[0].exports[0]) if self._gives(t, column)), None)

    def written(self, child: Child, arg: str, column: tuple) -> str | None:
        """The expression of the number `arg` of the constructor of `child` (of the class's first
        instance), whose values over the instances are `column`; None where no expression of the
        spec gives them. A block's float that is no rate (a factor that sets a width: DenseNet's
        compression) only as the parameter the spec gives, `_held` where a caller may not vary it."""
        block = child.subscope is not None and not child.sub.sequential
        rate = _rates(column) and (ATTR_OF.get(arg, arg) in _SHAPELESS if child.node is not None else
                                   block and arg in self.child(child.sub).free)
        if not all(type(v) is int or v is MISSING for v in column) and not (rate or _rates(column) and block):
            return None         # (MISSING: a child built under a guard that instance lacks, `guard.by_text`)
        texts: Iterator[tuple[Keys, str]]
        index = _indices(self.g, self.instances, child) if child.node is not None and child.node.index_env else {}
        if index is None:
            return None
        if child.node is not None:
            texts = chain(tracked(self.tracked, child, arg, self.child), self._candidates(child.node, arg))
        elif child.subscope is not None and not child.sub.sequential:
            step = stepped(self, child, arg, column)        # the top's: a repeat's step, from its index
            if step is not None:
                return step
            sub = child.sub         # a block's argument as the spec gives it, or a spec parameter passed on
            given = sub.scope.arg_exprs if sub.scope is not None else {}
            texts = iter([*tracked(self.tracked, child, arg, self.child),
                          *([((sub.path, arg), given[arg])] if arg in given else []),
                          *([(None, arg)] if arg in self.child(sub).spec_reads else []),
                          *((None, t) for t in (self.widths.of(sub.inputs[0]) if arg == "in_channels"
                                                and len(sub.inputs) == 1 else [])),
                          *argument_of(self.tracked, child, arg), *((None, t) for t in _made_width(self, sub, arg))])
        else:
            return None
        for key, text in _fed(texts, self.widths.block_input_own(child)):
            if self._gives(text, column, index):
                try:
                    out = self._write(text, index)
                except Unwritable:
                    continue
                self.done.update(key if isinstance(key, frozenset) else [key] if key else [])
                if isinstance(out, ast.Constant):
                    return None         # a number after all (a constant spec parameter): as numbers are
                if child.subscope is not None:
                    self.passed.append((child.sub, arg, text))
                return ast.unparse(out)
        return lifted(self, child, ATTR_OF.get(arg, arg) if child.node else arg, column) if rate else None

    def _candidates(self, n: Node, arg: str) -> Iterator[tuple[tuple[str, str] | None, str]]:
        """The expression of the attribute the argument is named after (never another one that
        happens to have its value: a `padding` is no `groups`), or, for an input width, the
        output width of the producers that keep it."""
        own = ATTR_OF.get(arg, arg)
        if own in n.exprs:
            yield (n.name, own), n.exprs[own]
        if arg in _IN_WIDTH:
            yield from ((None, t) for t in self.widths.of(n.inputs[0] if n.inputs else None))

    def _loose(self, optional: list[str]) -> set[str]:
        """The spec parameters read so far that the block's structure reads, or an expression of
        the class that is not written."""
        rep = self.instances[0].sn
        taken = set(self.reads.spec)
        loose = taken & (rep.scope.structure_reads if rep.scope else frozenset())
        for key, text in _expressions(rep, optional):
            if key not in self.done:
                hit = taken & _reads_through(text, rep.scope.let_reads if rep.scope else {})
                if hit and not _unread(self.widths, key):
                    loose |= hit
        return loose

    def _gives(self, text: str, column: tuple, index: dict[str, int] | None = None) -> bool:
        """The spec's interpreter gives the column's number at every instance (an int; a rate
        only as a parameter's own value, `p=dropout`, never computed), a list member's repeat
        indices at their `index` values."""
        if _rates(column) and not isinstance(parse(text), ast.Name):
            return False
        index = index or {}
        env = {**self.instances[0].env, **index}
        if not all(n in env for n in _names_in(text)):      # a repeat's `i`: no need to raise to know
            return False
        try:
            return all(c is MISSING or type(v := evaluate(text, {**inst.env, **index})) is type(c) and v == c
                       for inst, c in zip(self.instances, column))
        except SpecError:
            return False

    def _write(self, text: str, index: dict[str, int] | None = None) -> ast.expr:
        """The expression with each name the class's own, a repeat index its value: checked, its
        reads recorded."""
        reads = self.reads.copy()
        self.choosing = isinstance(text, WidthText)
        out = self._rewrite(parse(text), reads, (), index or {})
        self.reads = reads                       # recorded once the whole expression is writable
        return out

    def _rewrite(self, node: ast.AST, reads: Reads, within: tuple[str, ...],
                 index: dict[str, int] | None = None) -> ast.expr:
        """The expression with each name checked and read (a `let:` from the lets it reads), a
        repeat index in `index` its value."""
        index = index or {}
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return ast.Constant(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, _OPERATORS):
            return _folded(ast.BinOp(self._rewrite(node.left, reads, within, index), node.op,
                                     self._rewrite(node.right, reads, within, index)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return ast.UnaryOp(node.op, self._rewrite(node.operand, reads, within, index))
        if isinstance(node, ast.Name) and type(index.get(node.id)) is int:
            return ast.Constant(index[node.id])
        if isinstance(node, ast.IfExp) and _word_test(self, node.test, reads, within):
            return _word_choice(node, lambda e: self._rewrite(e, reads, within, index))
        if self.choosing and isinstance(node, (ast.IfExp, ast.Compare, ast.BoolOp, ast.Call, ast.UnaryOp)):
            return _choice(node, lambda e: ast.Constant(e.value) if isinstance(e, ast.Constant) and type(e.value)
                           is float else self._rewrite(e, reads, within, index))
        floored = _floor(node, lambda e: self._rewrite(e, reads, within, index))
        if floored is not None:          # a block's `floor(input.channels * compression)`: `int(...)`; a `max(...)`
            return floored
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ("input", "block_input") and node.attr == "channels" and self.has_in):
            reads.params["in_channels"] = _column(self.instances, "in_channels")
            return ast.Name("in_channels")
        if isinstance(node, ast.Name) and type(self.constants.get(node.id)) is int:
            return ast.Constant(self.constants[node.id])
        if (item := _item(self, node, reads, within)) is not None:     # `channels[2]`
            return item
        if isinstance(node, ast.Name) and name_problem(node.id) is None:
            self._read(node.id, reads, within)
            return ast.Name(node.id)
        raise Unwritable

    def own_name(self, name: str, reads: Reads) -> ast.expr:
        """A name of the class's in a rate carried up to it (`lift`): read, or a number where the
        spec parameter is written as its value."""
        if name in self.constants:
            return lift_constant(self.constants[name])
        if name_problem(name) is not None:
            raise Unwritable
        self._read(name, reads, ())
        if name in reads.spec and type(reads.spec[name]) not in (int, float):
            raise Unwritable
        return ast.Name(name)

    def _read(self, name: str, reads: Reads, within: tuple[str, ...]) -> None:
        if name in self.params:
            reads.params[name] = _column(self.instances, name)
        elif name in self.let_exprs and name not in within:
            if name not in reads.lets:
                tree = parse(self.let_exprs[name])
                text = ast.unparse(self._rewrite(tree, reads, (*within, name)))   # its own reads first
                reads.lets[name] = text
        elif name in self.spec and name not in self.constants and len({repr(i.env[name]) for i in self.instances}) == 1:
            reads.spec[name] = self.instances[0].env[name]
        else:
            raise Unwritable

    def column_of_let(self, name: str) -> tuple:
        """A `let:` local's values over the instances."""
        return tuple(i.env[name] for i in self.instances)


def _column(instances: list[Instance], name: str) -> tuple:
    """A parameter's values over the instances (the input's width for `in_channels`)."""
    if name == "in_channels":
        return tuple(i.env["input"].get("channels") for i in instances)
    return tuple(as_tuple(i.env[name]) for i in instances)


def _word_test(sx: SpecExprs, test: ast.expr, reads: Reads, within: tuple[str, ...]) -> bool:
    """`kind == 'down'` (DPN's stride): a text parameter of the block, a word at every instance,
    equal to a word, read (the class takes it, as `guard.by_text` does)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.left, ast.Name) and test.left.id in sx.params
            and isinstance(test.comparators[0], ast.Constant) and _word(test.comparators[0].value)
            and all(_word(i.env.get(test.left.id)) for i in sx.instances)):
        return False
    sx._read(test.left.id, reads, within)
    return True


def _word_choice(node: ast.IfExp, part: Callable[[ast.expr], ast.expr]) -> ast.expr:
    """`a if kind == "down" else b` (`_word_test`), each branch as `part` writes it, the word as
    `literal` writes it (in ruff's quotes; `ast.unparse` would write a repr's)."""
    t = node.test
    assert isinstance(t, ast.Compare) and isinstance(t.comparators[0], ast.Constant)
    word = ast.Name(literal(t.comparators[0].value))
    return ast.IfExp(ast.Compare(t.left, t.ops, [word]), part(node.body), part(node.orelse))


def _word(v: Any) -> bool:
    """A text a class may compare a parameter with: a word (`proj`)."""
    return type(v) is str and WORD.fullmatch(v) is not None


def _unread(widths: Widths, key: tuple[str, str]) -> bool:
    """(block, argument) of a block the class builds that nothing the block builds reads."""
    sub = widths.subs().get(key[0])
    return sub is not None and key[1] not in _read_by(sub)


def _floor(node: ast.AST, part: Callable[[ast.AST], ast.expr]) -> ast.expr | None:
    """`floor(a * b)` as `int(a * b)`, each factor as `part` writes it (None where the node is no
    such floor, nor a bound, `_bound`): the same float product with its fraction dropped, a width
    at or above 0."""
    bound = _bound(node, part)
    if bound is not None:
        return bound
    product = floor_of_product(node)
    if product is None:
        return None
    try:
        return floored_names(ast.BinOp(part(product.left), ast.Mult(), part(product.right)))
    except Unliftable:
        raise Unwritable from None       # a factor that is a number: as numbers are


def _fed(texts: Iterator[tuple[Keys, str]], own_input: bool) -> Iterator[tuple[Keys, str]]:
    """The texts, those reading `block_input` only where it is the class's input (`own_input`,
    `Widths.block_input_own`): not a list's inside the class, which another tensor feeds."""
    return ((key, text) for key, text in texts if own_input or "block_input" not in _names_in(text))


def _bound(node: ast.AST, part: Callable[[ast.AST], ast.expr]) -> ast.expr | None:
    """`max(a, b)` / `min(a, b)` of int expressions, each as `part` writes it (Python's `max` and
    `min` on ints are the interpreter's); of numbers alone, its value. None where the node is no
    such call."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _BOUNDS
            and len(node.args) == 2 and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
        return None
    args = [part(a) for a in node.args]
    if not all(map(integral, args)):
        raise Unwritable             # (a float's, a choice's bound: not a width's)
    if all(isinstance(a, ast.Constant) for a in args):
        return ast.Constant(_BOUNDS[node.func.id](a.value for a in args))     # type: ignore[attr-defined]
    return ast.Call(ast.Name(node.func.id), args, [])


def _choice(node: ast.expr, part: Callable[[ast.expr], ast.expr]) -> ast.expr:
    """The top class's width as `TopWidths` writes a choice and a floor, each part as `part`
    writes it: `a if test else b`, its test comparisons joined by and/or/not (a float there,
    DenseNet-CIFAR's `compression < 1`), `int(w * compression)`."""
    if isinstance(node, ast.IfExp):         # (a test of a parameter written as its value: as it decides)
        return choice(part(node.test), part(node.body), part(node.orelse))
    if isinstance(node, ast.Compare) and all(isinstance(op, _COMPARE) for op in node.ops):
        return known_test(ast.Compare(part(node.left), node.ops, [part(c) for c in node.comparators]))
    if isinstance(node, ast.BoolOp):
        return bool_op(node.op, [part(v) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = part(node.operand)
        return ast.Constant(not inner.value) if isinstance(inner, ast.Constant) else ast.UnaryOp(node.op, inner)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "int"
            and len(node.args) == 1 and not node.keywords):
        return ast.Call(ast.Name("int"), [part(node.args[0])], [])
    raise Unwritable


def _indices(g: Graph, instances: list[Instance], child: Child) -> dict[str, int] | None:
    """The repeat indices a list member's expressions read (`Node.index_env`: Res2Net's
    `splits[1]` reads `i`), where they are the same at each instance of the class: its numbers
    are written with their values in their place (`i * width`: `width`). Else None."""
    first = instances[0].sn.path
    rel = child.path[len(first) + 1:] if first else child.path
    nodes = [g.nodes.get(f"{i.sn.path}.{rel}" if i.sn.path else rel) for i in instances]
    envs = [n.index_env if n is not None else None for n in nodes]
    return envs[0] if all(e == envs[0] for e in envs) else None



def _sets_width(g: Graph, node: str, attr: str) -> bool:
    """The node's attribute sets a width, or no shape: a module's `out` or `groups`, a channel
    slice's bounds (Res2Net's subsets, `start: ${i * width}`), a rate."""
    n = g.nodes[node]
    return attr in ("out", "groups", *_SHAPELESS) or (
        n.op.name == "slice" and n.attrs.axis == 0 and attr in ("start", "stop"))



def _widths_follow(widths: Widths, origins: list[tuple[Child, str] | None], written: list[str | None],
                   instances: list[ScopeNode]) -> bool:
    """Every input width of the class's constructors is written from the spec's expressions
    or is the class's input width: none is a number that a spec parameter may have set. (An
    alternative that the first instance lacks, `alternatives`: as the instance that has it sees it.)"""
    at = {sn.path: sn for sn in instances}
    for o, w in zip(origins, written):
        if o is None or w is not None:
            continue
        child, arg = o
        if child.node is not None and arg in _IN_WIDTH:
            ref = child.node.inputs[0] if child.node.inputs else None
        elif child.subscope is not None and arg == "in_channels" and len(child.sub.inputs) == 1:
            ref = child.sub.inputs[0]
            own = at.get(parent(child.sub.path))
            if own is not None and own is not widths.sn:
                widths = Widths(widths.g, own)
        else:
            continue
        if not widths.from_input(ref):
            return False
    return True



def _made_width(spec: SpecExprs, sub: ScopeNode, arg: str) -> Iterator[str]:
    """A parameter that a child block's class made for an input width inside it, not the
    block's own (DLA's last tree's `root_in_channels`, its root's concatenation): the spec's
    expressions of that tensor's width in this class, the class's input's too."""
    if sub.scope is None or arg in sub.scope.args:
        return
    plan = spec.child(sub)
    first = plan.instances[0].path
    for slot, origin in zip(plan.slots, plan.origins):
        if slot != arg or origin is None or origin[1] not in _IN_WIDTH:
            continue
        c = origin[0]         # a module's input, or a block's one input (the root's concatenation)
        ins = c.node.inputs if c.node is not None else c.sub.inputs if c.subscope is not None else []
        ref = ins[0] if len(ins) == 1 or c.node is not None and ins else ""
        if ref.startswith(first + "."):       # (made inside the child: at `sub`, the same place in it)
            yield from spec.widths.of(sub.path + ref[len(first):], own=True)


def spec_exprs(g: Graph, plan: ClassPlan, namer: ParamNamer, child: Callable[[ScopeNode], ClassPlan],
               refuted: frozenset[str] | None = None, decided: dict[str, frozenset[str]] | None = None) -> SpecExprs:
    """The spec's expressions of a block's class (its parameters, `let:` values and the spec's
    parameters) or of the top's or a group's class (the spec's parameters); the top's widths from
    the spec's (`widthexpr`) unless `refuted` is None, the parameters `vary` refuted held (`decided`:
    per block instance, the `let:` values its class decides itself)."""
    scopes = [sn.scope for sn in plan.instances]
    if not all(s is not None and s.block for s in scopes):
        tracked = (TopWidths(g, decided), refuted) if [sn.path for sn in plan.instances] == [""] and _widths(g) and (
            refuted is not None) else None
        env = top_env(g) if tracked else dict(g.meta.params or {})     # (`units = 3 * n`: the top's widths' locals)
        return SpecExprs(g, [Instance(g, sn, env) for sn in plan.instances], set(), computed(g) if tracked else {},
                         set(env), False, child, top=True, tracked=tracked)
    first = scopes[0]
    assert first is not None
    has_in = all(len(sn.inputs) == 1 for sn in plan.instances) and "in_channels" in dict(namer.columns())
    lets = first.let_exprs if all(s is not None and s.let_exprs == first.let_exprs for s in scopes) else {}
    out = SpecExprs(g, [Instance(g, sn, None) for sn in plan.instances], set(first.args), lets,
                    set(first.spec_params) - set(first.args) - set(first.lets), has_in, child)
    out.widths.whens = plan.whens
    return out


def _listed(spec: SpecExprs, child: Child, arg: str) -> str | None:
    """The list the top class passes an exchange over a list (`listclass`) where the spec gives a
    spec parameter's list or its slice (`widths: ${widths[:3]}`): as the spec writes it; the class
    takes the parameter. None for any other number."""
    scope = child.sub.scope if child.subscope is not None and not child.sub.sequential else None
    if not spec.tracked or scope is None or scope.kind != "block" or arg != spec.child(child.sub).listing:
        return None
    text = scope.arg_exprs.get(arg)
    tree = sliced(parse(text), set(spec.instances[0].env)) if text is not None else None
    if tree is None:
        return None
    name = next(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    spec.done.add((scope.path, arg))
    spec.reads.spec[name] = as_tuple(spec.instances[0].env[name])
    return ast.unparse(tree)


def sliced(node: ast.AST, names: set[str]) -> ast.expr | None:
    """`name` or its slice by int constants (`widths[:3]`), rebuilt, where name is one of `names`; else None."""
    if isinstance(node, ast.Name) and node.id in names and name_problem(node.id) is None:
        return ast.Name(node.id)
    if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and node.slice.step is None):
        return None
    ends = [node.slice.lower, node.slice.upper]
    if not all(e is None or isinstance(e, ast.Constant) and type(e.value) is int for e in ends):
        return None
    seq = sliced(node.value, names)
    made = [ast.Constant(e.value) if isinstance(e, ast.Constant) else None for e in ends]
    return ast.Subscript(seq, ast.Slice(*made)) if isinstance(seq, ast.Name) else None


def _item(spec: SpecExprs, node: ast.AST, reads: Reads, within: tuple[str, ...]) -> ast.expr | None:
    """`name[k]`, k an int constant, as an item of a list of ints the class reads whole, taken as a
    tuple (DLA's `channels[2]`, ZFNet's `conv3_5[2]`, as ResNet's `layers`), or as its value where
    the class writes the list as its value; None where the node is no such item, or the class is
    a block's (a block's list parameter is no tuple its class takes: HRNet's exchange's `c`)."""
    if (item := item_of(node)) is None or not spec.top:
        return None
    name, k = item
    v, constant = spec.instances[0].env.get(name), spec.constants.get(name)
    if not (spec.top and int_list(v)) and isinstance(constant, list) and type(constant[k]) is int:
        return ast.Constant(constant[k])
    if name_problem(name) is not None or not isinstance(v, (list, tuple)) or k >= len(v) or type(v[k]) is not int:
        raise Unwritable
    spec._read(name, reads, within)
    if name in reads.spec:          # a spec parameter's default: a tuple, as ResNet's `layers`
        reads.spec[name] = as_tuple(reads.spec[name])
    return ast.Subscript(ast.Name(name), ast.Constant(k), ast.Load())


def _widths(g: Graph) -> bool:
    """The spec has an int parameter a width may read, or a list of them (ZFNet's `conv3_5`), not
    num_classes, nor one its top-level structure reads: else the top class's widths stay numbers,
    and none are followed."""
    params = g.meta.params or {}
    return any((type(v) is int or int_list(v)) and p not in SAFE_ON_TOP and p not in g.meta.structure_reads
               for p, v in params.items())


def _folded(e: ast.BinOp) -> ast.expr:
    """`e` with a constant operation done (`(4 - 1) * width`: `3 * width`) and an identity dropped
    (`x * 1`, `x // 1`, `x + 0`, `x * 64 // 64`), as a constant spec parameter leaves them. Python's own operators
    on ints are the spec interpreter's."""
    left, right = e.left, e.right
    if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
        a, b = left.value, right.value
        if type(a) is int and type(b) is int and not (b == 0 and isinstance(e.op, (ast.FloorDiv, ast.Mod))):
            return ast.Constant(_DONE[type(e.op)](a, b))
        return e
    if (isinstance(e.op, ast.FloorDiv) and isinstance(right, ast.Constant) and type(right.value) is int
            and right.value and isinstance(left, ast.BinOp) and isinstance(left.op, ast.Mult)
            and isinstance(left.right, ast.Constant) and left.right.value == right.value):
        return left.left            # `planes * 64 // 64` where base_width is 64: planes (x * c // c == x on ints)
    if isinstance(e.op, ast.Mult) and any(isinstance(x, ast.Constant) and x.value == 0 for x in (left, right)):
        return ast.Constant(0)      # `0 * width`, a list's first member's start: 0 (x * 0 == 0 on ints)
    unit = {ast.Add: 0, ast.Sub: 0, ast.Mult: 1, ast.FloorDiv: 1}.get(type(e.op))
    if isinstance(right, ast.Constant) and right.value == unit:
        return left
    if isinstance(left, ast.Constant) and left.value == unit and isinstance(e.op, (ast.Add, ast.Mult)):
        return right
    return e


def _expressions(sn: ScopeNode, optional: list[str]) -> Iterator[tuple[tuple[str, str], str]]:
    """((node or block instance, attribute or argument), expression) of every number the spec
    gives in a class's own constructor calls: its nodes', its nn.Sequential and list members',
    and the arguments of the blocks it builds (not an optional child's: its caller builds it)."""
    for c in own_children(sn):
        if c.local not in optional:
            yield from _child_expressions(c)


def _child_expressions(c: Child) -> Iterator[tuple[tuple[str, str], str]]:
    if c.node is not None:
        yield from (((c.node.name, a), t) for a, t in c.node.exprs.items())
    for _, m in c.members:
        yield from _child_expressions(m)
    if c.subscope is not None and c.sub.sequential:
        yield from _expressions(c.sub, [])
    elif c.subscope is not None and c.sub.scope is not None:
        yield from (((c.sub.path, a), t) for a, t in c.sub.scope.arg_exprs.items())


def _read_by(sn: ScopeNode) -> frozenset[str]:
    """The names a block instance's own expressions read, through its `let:` values: its
    structure's, its nodes', its blocks' arguments (not one that only a node it lacks reads:
    EfficientNet's first block of a stage has no drop path to take its rate)."""
    if sn.reads is None:
        scope = sn.scope
        names, todo = set(scope.structure_reads if scope else ()), list(sn.children)
        while todo:
            c = todo.pop()
            texts = list(c.node.exprs.values()) if c.node is not None else []
            todo += [m for _, m in c.members]
            if c.subscope is not None and c.sub.scope is not None and c.sub.scope.kind == "block":
                texts += c.sub.scope.arg_exprs.values()
            elif c.subscope is not None:
                todo += c.sub.children
            names.update(*map(_names_in, texts))
        let_reads = scope.let_reads if scope else {}
        sn.reads = frozenset(names.union(*(let_reads[n] for n in names if n in let_reads)))
    return sn.reads


def _names_of(v: Any) -> frozenset[str]:
    """The names a parameter's `${...}` reads (none where it is a value)."""
    return _names_in(v[2:-1]) if isinstance(v, str) and v.startswith("${") and v.endswith("}") else frozenset()


def _rates(column: tuple) -> bool:
    """A column of floats (a dropout's rate at each instance)."""
    return all(type(v) is float for v in column)


def _reads_through(text: str, let_reads: dict) -> set[str]:
    """The names an expression reads, a `let:` with the names it reads."""
    names = _names_in(text)
    return set(names).union(*(let_reads[n] for n in names if n in let_reads))


@functools.lru_cache(maxsize=4096)
def _names_in(text: str) -> frozenset[str]:
    """The names an expression reads (not a comprehension's own, nor a function it calls: `int`)."""
    tree = parse(text)
    bound = {n.id for c in ast.walk(tree) if isinstance(c, ast.comprehension) for n in ast.walk(c.target)
             if isinstance(n, ast.Name)}
    called = {id(c.func) for c in ast.walk(tree) if isinstance(c, ast.Call)}
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called) - bound
