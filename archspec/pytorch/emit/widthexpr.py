"""The width of each tensor as an expression of the spec's parameters, for the top class: its
constructors' input widths written from the parameters (`nn.BatchNorm2d(stem)`,
`DenseBlock((stem + 6 * growth) // 2, 12, growth)`), so that it may take the parameters
that set them, as torchvision's DenseNet takes growth_rate and num_init_features.

A tensor's width follows the spec through the graph as built (its repeats unrolled, its `when:`
decided): a node with an `out` has the spec's expression of it, carried up to the top's names
(`lift.Lifter`, `input.channels` read as the width of the tensor it names, `floor(w * 0.5)` as
`w // 2`, `floor(w * compression)` as `int(w * compression)`, a choice whose test reads the top's
names as written: `2 * growth if bottleneck > 0 and compression < 1 else 16`); a node without
one has the width its op's own shape function gives from its inputs' (`follows`: the first
input's, a batch norm's; their sum, a concat's); the graph's input its number. The structures
between are fixed as built (`Lifter.shaped`: the top class takes the parameters they read where
`vary` finds the same structure at another value), other numbers written as numbers
(`Lifter.folded`: the top class does not take the parameters they read). Sums are collected
(`stem + 32 + 32`: `stem + 2 * growth`) so that a dense block's output reads as one term per
parameter. Where any step is not so, or the interpreter does not give from the expression the
tensor's width, it has no expression (Unliftable).

What the top class then takes is checked by building the spec again at another value of each
parameter (`vary`): an expression here names a number, the check decides."""
from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import SpecError
from ...frontend.expr import evaluate, parse
from ...ir import INPUT, Graph, Node, Scope, parent
from ...names import name_problem
from .lift import Indexed, Lifter, Unliftable, channels_of, integral

if TYPE_CHECKING:
    from .classes import ClassPlan
    from .scopes import Child, ScopeNode

IN_WIDTH = ("in_channels", "in_features", "num_features", "num_channels")     # a module's input width
OUT_WIDTH = ("out_channels", "out_features")                                  # the width its `out` sets

class WidthText(str):
    """A width's expression as `TopWidths` writes it (or a block's argument, a repeat's count:
    `argument`): its choices and floors are the spec's (`SpecExprs` writes those only in such a
    text)."""


Keys = tuple[str, str] | frozenset[tuple[str, str]] | None    # the expressions a written number writes
Poly = dict[tuple[str, ...], int]      # sum of int coefficient * product of atoms (names, `(a + b) // 2`)


class TopWidths:
    """The expressions of the widths of a graph's tensors in its top class's names (the spec's
    int parameters), made in graph order and kept (a dense chain reads each once)."""

    def __init__(self, g: Graph, decided: dict[str, frozenset[str]] | None = None, table: str | None = None) -> None:
        self.g = g
        self.table = table                # a table of rows of ints the class takes: its entries stay entries
        self.decided = decided or {}      # per block instance, the `let:` values its class decides itself
        self.folded: set[str] = set()            # the spec parameters the expressions wrote as numbers
        self.shaped: set[str] = set()            # those a structure between reads, no number written
        self.used: dict[str, set[tuple[str, str]]] = {}    # per node, the arguments its `out` carried up
        self._done: dict[str, Poly | None] = {}
        self._inputs: dict[str, str | None] = {}
        self._folds: dict[str, set[str]] = {}     # per width made: the parameters it wrote as numbers
        self._now: set[str] = set()               # those of the width being made, or asked for

    def of(self, ref: str) -> str:
        """The width of tensor `ref` as the text of an expression (Unliftable where it has none).
        `folded` gets the parameters it (and the widths it reads) wrote as numbers: not those of
        the widths made on the way that it does not read (a middle step's, whose index is a number)."""
        text = ast.unparse(self._channels(ref, None))
        self.folded |= self._folds.get(ref, set())
        return text

    def out_of(self, name: str) -> str:
        """The width a node's `out` sets (a conv's output channels)."""
        n = self.g.nodes.get(name)
        if n is None or not isinstance(getattr(n.attrs, "out", None), int):
            raise Unliftable
        return self.of(name)

    def _poly(self, ref: str) -> Poly:
        if ref not in self._done and (ref == INPUT or ref in self.g.nodes):
            self._done[ref] = None               # (an input is made before its reader: never read here)
            for name in self.g.nodes if ref != INPUT else ():    # the producers before it first: no
                if name == ref:                  # deep recursion down a dense chain
                    break
                if name not in self._done:
                    self._done[name] = None
                    self._done[name] = self._attempt(name)
            self._done[ref] = self._attempt(ref)
        out = self._done.get(ref)
        if out is None:
            raise Unliftable
        return out

    def _attempt(self, ref: str) -> Poly | None:
        """The width's expression, where the interpreter gives from it the tensor's width."""
        outer, self._now = self._now, set()
        try:
            poly = self._make(ref)
            shape = self.g.shape_of(ref)
            value = evaluate(ast.unparse(_expr(poly)), top_env(self.g))
        except (Unliftable, SpecError):
            return None
        finally:
            self._folds[ref], self._now = self._now, outer
        return poly if shape and type(value) is int and value == shape[0] else None

    def _make(self, ref: str) -> Poly:
        if ref == INPUT:
            return {(): int(self.g.input_shape[0])}
        n = self.g.nodes[ref]
        out = getattr(n.attrs, "out", None)
        if "out" in n.exprs:
            return self._lifted(n)
        if type(out) is int:
            return {(): out}
        how = follows(n)
        if how is None and (k := spread(n)) is not None:     # a flatten: C * H * W
            return _times(self._read(n.inputs[0]), {(): k})
        if how == "sum":
            return self._carried(n) or _sum([self._read(r) for r in n.inputs])
        if how == "first":
            return self._read(n.inputs[0])
        raise Unliftable

    def _read(self, ref: str) -> Poly:
        """The width of `ref`, read by the one being made: its folded parameters that one's too."""
        poly = self._poly(ref)
        self._now |= self._folds.get(ref, set())
        return poly

    def _lifted(self, n: Node) -> Poly:
        """A node's `out` carried up (`Lifter`): its choices and floors written with the top's
        names (`2 * growth if bottleneck > 0 and compression < 1 else 16`, `int(w * compression)`),
        else, where a sum of products does not hold them (a quotient by a choice), as numbers."""
        for choices in (True, False):
            lifter = self._lifter(choices, floats=True)
            try:
                poly = _poly(lifter.attribute(n, "out", False))
            except Unliftable:
                if choices:
                    continue
                raise
            self._fold(lifter)
            self.used[n.name] = lifter.used
            return poly
        raise Unliftable

    def _lifter(self, choices: bool, floats: bool) -> Lifter:
        """A Lifter to the top's names (floats too where `floats`: a width's floor or test), an
        item of a tuple of ints it takes by its index (DLA's `channels[2]`)."""
        lifter = Lifter(self.g, None, top_name(self.g, floats=floats), self._channels, choices, self.decided)
        lifter.items = top_tuple(self.g, self.table)
        return lifter

    def argument(self, path: str, arg: str) -> str:
        """A block instance's argument as the spec computes it, in the top's names (DenseNet-CIFAR's
        `layers: ${(depth - 4) // (6 if bottleneck else 3)}`, its choice with names where it holds)."""
        outer, self._now = self._now, set()
        try:
            for choices in (True, False)[0 if self._counted(path, arg) else 1:]:    # a count's choices with names
                lifter = self._lifter(choices, floats=False)
                try:
                    tree = lifter.argument(self.g.scopes[path], arg, False)
                except Unliftable:
                    if choices:
                        continue
                    raise
                break
            self._fold(lifter)
            self.folded |= self._now
        finally:
            self._now = outer
        try:
            return WidthText(ast.unparse(_expr(_poly(tree))))     # collected: DPN's `k_r * 256 // 64`, `4 * k_r`
        except Unliftable:
            return WidthText(ast.unparse(tree))

    def _fold(self, lifter: Lifter) -> None:
        """What the lifter wrote as numbers, for the width being made (`_now`): a structure
        between's reads apart (`shaped`), which the top class may take where `vary` finds that the
        spec built at another value has the same structure; and what a block the top makes passes
        to its children's `when:` (`Lifter.turns`), which `vary` tries where the test turns too."""
        self._now |= lifter.valued
        self.shaped |= lifter.shaped - lifter.valued | lifter.turns

    def _carried(self, n: Node) -> Poly | None:
        """The width of a concat that ends a repeat carried by concatenation (DenseNet's dense
        block, `carry: concat`: each step's output joined to what the steps before left), as the
        chain's input width plus the repeat's count (`Scope.count` carried up to the top's names)
        times the steps' one width: `2 * growth + (depth - 4) // 6 * growth`. None where it is not
        so, or the count is a number (then the sum, term by term)."""
        last = self._step_of(n.inputs[1]) if len(n.inputs) == 2 else None
        b = self.g.scopes.get(parent(last.path)) if last is not None else None
        if last is None or last.repeat is None or b is None or not _ends(last, b):
            return None
        outs: list[str] = []
        at: Node | None = n
        start = INPUT
        for j in range(last.repeat, -1, -1):      # back along the chain: concat(..., step j's output)
            if at is None or len(at.inputs) != 2 or (at is not n and follows(at) != "sum"):
                return None
            step = self._step_of(at.inputs[1])
            if step is None or step.repeat != j or step.count != last.count or parent(step.path) != b.path:
                return None
            outs.append(at.inputs[1])
            start, at = at.inputs[0], self.g.nodes.get(at.inputs[0])
        try:
            lifter, count = self._count(last)
            widths = [self._read(o) for o in outs]
            if not any(isinstance(x, ast.Name) for x in ast.walk(count)) or any(w != widths[0] for w in widths):
                return None
            out = _sum([self._read(start), _times(_poly(count), widths[0])])
        except Unliftable:
            return None
        self._fold(lifter)
        return out

    def _counted(self, path: str, arg: str) -> bool:
        """The block instance's argument is the count of a repeat of its own (the dense block's
        `layers`), which `_count` writes with its choices: other arguments keep theirs decided."""
        return any(s.count is not None and parent(s.path) == path and any(
            isinstance(n, ast.Name) and n.id == arg for n in ast.walk(parse(s.count))) for s in self.g.scopes.values())

    def _count(self, step: Scope) -> tuple[Lifter, ast.expr]:
        """The count of the repeat `step` is a step of, carried up, its choices written with names
        where they hold (DenseNet-CIFAR's `(depth - 4) // (6 if bottleneck else 3)`), as `argument`
        writes the block's argument that gives it; else decided."""
        for choices in (True, False):
            lifter = Lifter(self.g, None, top_name(self.g), self._channels, choices, self.decided)
            try:
                return lifter, lifter.count(step)
            except Unliftable:
                if not choices:
                    raise
        raise Unliftable

    def _step_of(self, ref: str) -> Scope | None:
        """The block that is a step of a counted repeat and whose output `ref` is."""
        s = self.g.scopes.get(parent(ref))
        return s if s is not None and s.kind == "block" and s.output == ref and s.count is not None else None

    def channels_of(self, ref: str, b: Scope | None) -> ast.expr:
        """What a Lifter reads `input.channels` by (`_channels`)."""
        return self._channels(ref, b)

    def _channels(self, ref: str, b: Scope | None) -> ast.expr:
        """The width of tensor `ref`, or where it is "", of block b's input (the graph's: None)."""
        if not ref:
            ref = INPUT if b is None else self._input_of(b)
        return _expr(self._read(ref))

    def _input_of(self, b: Scope) -> str:
        """The tensor a block instance reads as `input`: its first named input, else the one
        tensor from outside that its nodes read."""
        if b.path not in self._inputs:
            inside = b.path + "."
            outside = {r for n in self.g.under(b.path) for r in n.inputs if not r.startswith(inside)}
            first = next(iter(b.inputs.values()), None)
            self._inputs[b.path] = first if first is not None else next(iter(outside)) if len(outside) == 1 else None
        ref = self._inputs[b.path]
        if ref is None:
            raise Unliftable
        return ref


def _ends(step: Scope, b: Scope) -> bool:
    """The step is its repeat's last (its count, read where the step is made, is one more)."""
    try:
        return evaluate(step.count or "", {**b.spec_params, **b.args, **b.lets}) == (step.repeat or 0) + 1
    except SpecError:
        return False


def argument_of(t: tuple[TopWidths, frozenset[str]] | None, child: Child,
                arg: str) -> list[tuple[tuple[str, str], str]]:
    """A block's argument, an int the spec computes, as the top class writes it (`TopWidths.argument`)."""
    if t is None or child.subscope is None or child.sub.scope is None or arg not in child.sub.scope.arg_exprs:
        return []
    try:
        return [((child.sub.path, arg), t[0].argument(child.sub.path, arg))]
    except Unliftable:
        return []


def tracked(t: tuple[TopWidths, frozenset[str]] | None, child: Child, arg: str,
            plan_of: Callable[[ScopeNode], ClassPlan]) -> list[tuple[Keys, str]]:
    """The top class's number `arg` of a child's constructor as the width it is, where it is one
    (`specexpr.SpecExprs.written` checks it gives the number): a module's input width or `out`;
    a block's input width, or a parameter its class made for a width inside (`_inside`), with
    the block's arguments that width carried up (DenseNet-CIFAR's transition's compression)."""
    if t is None:
        return []
    widths = t[0]
    try:
        if child.node is not None:
            n = child.node
            if arg in OUT_WIDTH:         # the spec's `out`, written: nothing else reads what it reads
                return [((n.name, "out") if "out" in n.exprs else None, WidthText(widths.out_of(n.name)))]
            text = widths.of(n.inputs[0]) if arg in IN_WIDTH and n.inputs else None
        elif arg == "in_channels" and len(child.sub.inputs) == 1:
            text = widths.of(child.sub.inputs[0])
        else:
            scope = child.sub.scope
            if scope and arg not in scope.args:
                text, used = _inside(widths, plan_of(child.sub), child.sub, arg)
                return [(frozenset(used), WidthText(text))]
            text = None
    except Unliftable:
        return []
    return [] if text is None else [(None, WidthText(text))]


def _inside(widths: TopWidths, plan: ClassPlan, sub: ScopeNode, param: str) -> tuple[str, set[tuple[str, str]]]:
    """A parameter a block's class made that is not the block's (Transition's `out_channels`), at
    instance `sub`: the width of the module numbers it gives (each the same expression), and the
    block arguments the `out`s it reads carried up."""
    first = plan.instances[0].path
    texts, used = set(), set()
    for slot, origin in zip(plan.slots, plan.origins):
        if slot != param:
            continue
        if origin is None or origin[0].node is None or origin[1] not in IN_WIDTH + OUT_WIDTH:
            raise Unliftable
        node = widths.g.nodes.get(sub.path + origin[0].node.name[len(first):])
        if node is None:
            raise Unliftable
        texts.add(widths.of(node.inputs[0]) if origin[1] in IN_WIDTH else widths.out_of(node.name))
        used |= widths.used.get(node.name, set()) if origin[1] in OUT_WIDTH else set()
    if len(texts) != 1:
        raise Unliftable
    return texts.pop(), used


def named_quotients(plan: ClassPlan, fresh: Callable[[str], str]) -> list[tuple[str, str]]:
    """The top class's quotients that two or more of its numbers read, each a local of __init__
    named after what the first number that is it holds (`num_features = (stem + 6 * growth) //
    2`, a block's `layers`: `num_layers`), as torchvision's DenseNet keeps `num_features`:
    (local, expression) in order, the slots reading them by name. `fresh`: a free name from a
    base (numbered where the base is taken)."""
    trees = [ast.parse(s, mode="eval").body if s and not isinstance(s, Indexed) else None for s in plan.slots]
    counts: dict[str, int] = {}
    for t in trees:
        for q in {ast.unparse(n) for n in ast.walk(t) if _quotient(n)} if t is not None else ():
            counts[q] = counts.get(q, 0) + 1
    names: dict[str, str] = {}
    lets = []
    for t, origin in zip(trees, plan.origins):
        text = ast.unparse(t) if t is not None else ""
        if t is None or origin is None or not _quotient(t) or counts.get(text, 0) < 2 or text in names:
            continue
        name = fresh(_holds(origin[1]))
        lets.append((name, ast.unparse(_named(t, names, top=False))))
        names[text] = name
    plan.slots = [ast.unparse(_named(t, names)) if t is not None and names else s for t, s in zip(trees, plan.slots)]
    return lets


def _holds(param: str) -> str:
    """A local's name for the number a constructor parameter takes, as torchvision names it: a
    width `num_features` (not the node it enters, `denseblock2_in_channels`), a count `num_<it>`."""
    return "num_features" if param in IN_WIDTH + OUT_WIDTH else param if param.startswith("num_") else f"num_{param}"


def _quotient(n: ast.AST) -> bool:
    """A quotient or remainder, a floor (`int(w * compression)`) or a choice that reads a name
    (`(stem + 6 * growth) // 2`)."""
    atom = (isinstance(n, ast.BinOp) and isinstance(n.op, (ast.FloorDiv, ast.Mod)) or isinstance(n, ast.IfExp)
            or isinstance(n, ast.Call) and ast.unparse(n.func) == "int")
    return atom and any(isinstance(m, ast.Name) and m.id != "int" for m in ast.walk(n))


def _named(t: ast.expr, names: dict[str, str], top: bool = True) -> ast.expr:
    """The expression with each quotient `names` has as its local (the whole too, where `top`)."""
    if top and ast.unparse(t) in names:
        return ast.Name(names[ast.unparse(t)])
    if isinstance(t, ast.BinOp):
        return ast.BinOp(_named(t.left, names), t.op, _named(t.right, names))
    if isinstance(t, ast.UnaryOp):
        return ast.UnaryOp(t.op, _named(t.operand, names))
    if isinstance(t, ast.Call):
        return ast.Call(t.func, [_named(a, names) for a in t.args], [])
    if isinstance(t, ast.IfExp):
        return ast.IfExp(_named(t.test, names), _named(t.body, names), _named(t.orelse, names))
    if isinstance(t, ast.Compare):
        return ast.Compare(_named(t.left, names), t.ops, [_named(c, names) for c in t.comparators])
    if isinstance(t, ast.BoolOp):
        return ast.BoolOp(t.op, [_named(v, names) for v in t.values])
    return t


def top_name(g: Graph, floats: bool = False):
    """A name the top class has: a spec parameter that is an int (not a flag), or one the spec
    computes from them that the top class computes too (`computed`), or, in a width's floor or
    test (`floats`), a float (DenseNet's compression; `TopWidths._attempt` keeps only the widths
    that give an int)."""
    params = top_env(g)
    kinds = (int, float) if floats else (int,)

    def name(n: str) -> ast.expr:
        if n not in params or type(params[n]) not in kinds or name_problem(n) is not None:
            raise Unliftable
        return ast.Name(n)
    return name


def int_list(v: Any) -> bool:
    """A list of ints, one or more (not flags): a parameter the top class may take as a tuple."""
    return isinstance(v, (list, tuple)) and bool(v) and all(type(x) is int for x in v)


def top_tuple(g: Graph, table: str | None = None):
    """A tuple of ints the top class may take: a spec parameter that is a list of ints (not flags),
    one or more (ResNet's `layers: [3, 4, 6, 3]`, its stages' depths: `range(layers[0] - 1)`), or
    the table of rows of ints its row loop takes (EfficientNet's `rows`: `rowloop`)."""
    params = g.meta.params or {}

    def name(n: str) -> ast.expr:
        v = params.get(n)
        if not (int_list(v) or n == table and isinstance(v, list) and v and all(int_list(r) for r in v)) \
                or name_problem(n) is not None:
            raise Unliftable
        return ast.Name(n)
    return name


def computed(g: Graph) -> dict[str, str]:
    """The spec's parameters set from others by integer arithmetic (PyramidNet's `units: ${3 * n}`),
    each as its expression, in the spec's order: the top class computes them as locals of __init__
    (`units = 3 * n`) from the parameters it takes, as the spec does. Not one a `--set` made a
    number, nor one whose expression gives no int from the spec's values."""
    return _computed(g)[0]


def top_env(g: Graph) -> dict[str, Any]:
    """The spec's parameters with those set from others (`computed`) as their values."""
    return _computed(g)[1]


def _computed(g: Graph) -> tuple[dict[str, str], dict[str, Any]]:
    params = g.meta.params or {}
    env = {p: v for p, v in params.items() if not _formula(v)}
    out: dict[str, str] = {}
    for p, v in params.items():
        text = _formula(v)
        if text is None or name_problem(p) is not None:
            continue
        try:
            tree = parse(text)
            value = evaluate(text, env)
        except SpecError:
            continue
        if isinstance(tree, ast.expr) and integral(tree) and type(value) is int:
            out[p], env[p] = ast.unparse(tree), value
    return out, env


def _formula(v: Any) -> str | None:
    """The expression of a parameter given as one `${...}`."""
    if isinstance(v, str) and v.startswith("${") and v.endswith("}") and v.count("${") == 1:
        return v[2:-1]
    return None


def follows(n: Any) -> str | None:
    """How a node's width follows its inputs' by its op's shape function: "sum" (a concat: each
    input one wider makes it one wider), "first" (all inputs one wider: it is; a batch norm, an
    add), else None."""
    shapes = n.in_shapes
    if not (n.shape and shapes and all(s and len(s) == len(shapes[0]) for s in shapes)):
        return None

    def width(ins: list[tuple]) -> int | None:
        try:
            out = n.op.shape(n.attrs, ins)
        except Exception:           # the op refuses the shapes: not its rule
            return None
        return out[0] if out else None

    if width(list(shapes)) != n.shape[0]:
        return None
    if all(width([(s[0] + (k == j), *s[1:]) for k, s in enumerate(shapes)]) == n.shape[0] + 1
           for j in range(len(shapes))):
        return "sum"
    if len({s[0] for s in shapes}) == 1 and width([(s[0] + 1, *s[1:]) for s in shapes]) == n.shape[0] + 1:
        return "first"
    return None


def spread(n: Any) -> int | None:
    """The factor k by which a node of one input makes its input's width k times as wide (a flatten
    of C x H x W: C * H * W, k = H * W, whatever C), by its op's shape function at C, C + 1 and
    C + 2; None where it does not so (or k is 1: it `follows` its input)."""
    shapes = n.in_shapes
    if not (n.shape and shapes and len(shapes) == 1 and shapes[0]):
        return None
    c = shapes[0][0]
    try:
        widths = [n.op.shape(n.attrs, [(c + j, *shapes[0][1:])])[0] for j in range(3)]
    except Exception:           # the op refuses the shapes: not its rule
        return None
    k = widths[1] - widths[0]
    return k if k > 1 and widths[0] == n.shape[0] == k * c and widths[2] - widths[1] == k else None


# -- sums of products, collected ------------------------------------------------------------------

def collected(terms: list[tuple[str, int]]) -> str:
    """The sum of expressions (text, sign +1 or -1), its terms collected (Res2Net's concat of
    three subsets and the last, `width + width + width + (width * scale - (scale - 1) * width)`:
    `4 * width`). Unliftable where one is not + - * // of names and ints."""
    polys = [_poly(_tree(text)) for text, _ in terms]
    return ast.unparse(_expr(_sum([p if sign > 0 else {k: -c for k, c in p.items()}
                                   for p, (_, sign) in zip(polys, terms)])))


def progression(texts: list[str], index: str) -> str | None:
    """The texts, int expressions of names, as one in `index` that gives the k-th at index k,
    where each is the first plus k times one step (Res2Net's subsets' bounds, `0, width, 2 * width`:
    `i * width`; `width, 2 * width, 3 * width`: `(i + 1) * width`); None where they are not so."""
    try:
        polys = [_poly(_tree(t)) for t in texts]
    except Unliftable:
        return None
    step = _sum([polys[1], {k: -c for k, c in polys[0].items()}]) if len(polys) > 1 else {}
    if not step or any(p != _sum([polys[0], _times(step, {(): k})]) for k, p in enumerate(polys)):
        return None
    i: ast.expr = ast.Name(index)
    if set(step) == {()}:                                   # a number's steps: `3 + 2 * i`
        return ast.unparse(_expr(_sum([polys[0], _times(step, {(index,): 1})])))
    key = next(iter(step))
    c = polys[0].get(key, 0) // step[key]                   # the first as a multiple of the step, where it is
    if _times(step, {(): c}) != polys[0]:                   # none: `first + i * step`
        return ast.unparse(_expr(_sum([polys[0], _times(step, {(index,): 1})])))
    start = ast.BinOp(i, ast.Add() if c > 0 else ast.Sub(), ast.Constant(abs(c))) if c else i
    return ast.unparse(ast.BinOp(start, ast.Mult(), _expr(step)))


def _tree(text: str) -> ast.expr:
    tree = parse(text)
    if not isinstance(tree, ast.expr):
        raise Unliftable
    return tree


def _sum(polys: list[Poly]) -> Poly:
    out: Poly = {}
    for p in polys:
        for k, c in p.items():
            out[k] = out.get(k, 0) + c
    return {k: c for k, c in out.items() if c}


def _times(a: Poly, b: Poly) -> Poly:
    return _sum([{tuple(sorted(ka + kb)): ca * cb} for ka, ca in a.items() for kb, cb in b.items()])


def _poly(e: ast.expr) -> Poly:
    """An int expression (+ - * // of names and ints) as a sum of products; a quotient or a
    remainder of a sum is one atom."""
    if isinstance(e, ast.Constant) and type(e.value) is int:
        return {(): e.value} if e.value else {}
    if isinstance(e, ast.Name) or isinstance(e, ast.Subscript) or channels_of(e):
        return {(ast.unparse(e),): 1}            # a name, a tuple's or table's item (`channels[2]`), `input.channels`
    if isinstance(e, ast.IfExp) or isinstance(e, ast.Call) and ast.unparse(e.func) == "int":
        return {(ast.unparse(e),): 1}            # a choice, a floor: one atom
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return {k: -c for k, c in _poly(e.operand).items()}
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub)):
        right = _poly(e.right)
        return _sum([_poly(e.left), right if isinstance(e.op, ast.Add) else {k: -c for k, c in right.items()}])
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult):
        return _times(_poly(e.left), _poly(e.right))
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.FloorDiv, ast.Mod)):
        left, right = _poly(e.left), _poly(e.right)
        if set(right) != {()} or right[()] <= 0:     # by an expression (PyramidNet's `alpha * k // units`): one atom
            return {(ast.unparse(ast.BinOp(_expr(left), e.op, _expr(right))),): 1}
        d = right[()]
        if set(left) <= {()}:
            v = left.get((), 0)
            return _poly(ast.Constant(v // d if isinstance(e.op, ast.FloorDiv) else v % d))
        if all(c % d == 0 for c in left.values()):       # (18 * growth) // 2: 9 * growth, exactly
            return {k: c // d for k, c in left.items()} if isinstance(e.op, ast.FloorDiv) else {}
        return {(ast.unparse(ast.BinOp(_expr(left), e.op, ast.Constant(d))),): 1}
    raise Unliftable


def _expr(p: Poly) -> ast.expr:
    """A sum of products as an expression, its terms in the order they came (`stem + 6 * growth`)."""
    out: ast.expr | None = None
    for key, c in p.items():
        atoms = [ast.parse(a, mode="eval").body for a in key]
        term: ast.expr | None = None
        for a in [*([ast.Constant(abs(c))] if abs(c) != 1 or not atoms else []), *atoms]:
            term = a if term is None else ast.BinOp(term, ast.Mult(), a)
        assert term is not None
        if out is None:
            out = term if c > 0 else ast.UnaryOp(ast.USub(), term)
        else:
            out = ast.BinOp(out, ast.Add() if c > 0 else ast.Sub(), term)
    return out if out is not None else ast.Constant(0)
