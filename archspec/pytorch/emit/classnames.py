"""Names in the generated classes: each class after its block (and what sets it apart where a
block needs several), the top class after the spec's name, constructor parameters after the
block parameters or channels whose values they take."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ...ir import Graph, Scope
from ...names import RESERVED, Namespace, name_problem
from .scopes import ScopeNode, ScopeTree, block_of

if TYPE_CHECKING:
    from .classes import ClassPlan


def camel(name: str) -> str:
    """A class name from a name or title: CamelCase words, never a keyword, builtin or reserved name."""
    out = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    return out if out[:1].isalpha() and out not in RESERVED else "Block" + out


def root_name(g: Graph) -> str:
    """The top class: the spec's `name:` (a title says more than a class name should), each
    word cased as the title writes it (resnet50, "ResNet-50" -> ResNet50; convnext_tiny,
    "ConvNeXt-T" -> ConvNeXtTiny), else capitalised."""
    title = re.sub(r"[^A-Za-z0-9]", "", g.meta.title or "")
    out = ""
    for word in (w for w in re.split(r"[^A-Za-z0-9]+", g.name) if w):
        at = title.lower().find(word.lower())
        cased = title[at:at + len(word)] if at >= 0 else word
        cased = cased[:1].upper() + cased[1:]
        out += ("_" if out[-1:].isdigit() and cased[:1].isdigit() else "") + cased
    return out if name_problem(out) is None and out[:1].isalpha() and out not in RESERVED else camel(g.name)


# -- class names: the block's, and what differs where one block needs several classes ----------

def name_classes(tree: ScopeTree, plans: list[ClassPlan], taken: Namespace) -> None:
    """Each class is named after its block; where a block needs several classes, each
    also says what sets it apart (`InvertedResidualNoExpand`, `InvertedResidualSkip`):
    the fewest feature words, in a fixed order, that tell it from its siblings, numbered
    (`Module2`) only where no feature does. `taken`, the file's class names, gives each."""
    groups: dict[str, list[ClassPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.name, []).append(plan)
    order = {name: k for k, name in enumerate(tree.graph.nodes)}     # graph order, for each class's first conv
    for base, group in sorted(groups.items(), key=lambda g: len(g[1]) > 1):   # blocks' own names first
        found = [_features(tree, plan, base, order) for plan in group]
        every = sorted(set().union(*(ops for _, ops in found)) - {"add"})   # an add: the Skip word
        rows = [(*words, *("" if op in ops else f"No{camel(op)}" for op in every), *_switches(plan))
                for (words, ops), plan in zip(found, group)]
        rows = [row + ("",) * (max(map(len, rows)) - len(row)) for row in rows]    # two blocks, one base name
        for plan, name in zip(group, _told_apart(base, rows)):
            plan.name = taken.fresh(name if name_problem(name) is None else base, "", 2)   # Module2


def _switches(plan: ClassPlan) -> tuple[str, ...]:
    """A word per boolean block parameter that every instance sets away from its default
    (Xception's `start_with_relu: false`: ModuleNoStartWithRelu), else "": the last resort
    before a number."""
    scopes = [sn.scope for sn in plan.instances]
    if any(s is None or not s.block for s in scopes):
        return ()
    args = sorted(k for k, v in scopes[0].args.items() if isinstance(v, bool))   # type: ignore[union-attr]
    words = []
    for a in args:
        values = {(s.args.get(a), a in s.defaults) for s in scopes}     # type: ignore[union-attr]
        v, default = next(iter(values))
        words.append("" if len(values) > 1 or default or not isinstance(v, bool) else
                     camel(a) if v else f"No{camel(a)}")
    return tuple(words)


def _told_apart(base: str, rows: list[tuple[str, ...]]) -> list[str]:
    """Each row's name: the base and, column by column, the row's word wherever the rows that
    agree with it on every earlier column (its peers, not told apart yet) differ there.
    All rows at once, by splitting the peer groups column by column: linear in the rows."""
    names = [base] * len(rows)
    peers = [list(range(len(rows)))]
    for j in range(len(rows[0]) if rows else 0):
        split: list[list[int]] = []
        for group in peers:
            by_word: dict[str, list[int]] = {}
            for r in group:
                by_word.setdefault(rows[r][j], []).append(r)
            if len(by_word) > 1:
                for word, members in by_word.items():
                    for r in members:
                        names[r] += word
            split += by_word.values()
        peers = split
    return names


def _features(tree: ScopeTree, plan: ClassPlan, base: str,
              order: dict[str, int]) -> tuple[tuple[str, ...], set[str]]:
    """The words for what every instance of a class has or lacks (an identity shortcut, an
    expansion: a first 1x1 conv that widens the channels, a spatial reduction; "" where
    they differ or it has none), and the op kinds of its own nodes (not its child classes')."""
    per_instance = [_instance_features(tree.graph, sn, base, order) for sn in plan.instances]
    words = tuple(w if all(f[j] == w for f in per_instance) else "" for j, w in enumerate(per_instance[0]))
    g, sn = tree.graph, plan.rep
    own = set(sn.names).difference(*(c.names for c in _child_classes(sn)))
    return words, {g.nodes[n].op.name for n in own}


def _instance_features(g: Graph, sn: ScopeNode, base: str, order: dict[str, int]) -> tuple[str, str, str]:
    nodes = [g.nodes[n] for n in sorted(sn.names) if n in g.nodes]
    skip = any(n.op.name == "add" and set(n.inputs) & set(sn.inputs) for n in nodes)
    first = min((n for n in nodes if n.op.name == "conv"), key=lambda n: order[n.name], default=None)
    expands = (first is not None and getattr(first.attrs, "k", None) in (1, (1, 1)) and first.shape is not None
               and bool(first.in_shapes) and first.in_shapes[0] is not None
               and first.shape[0] > first.in_shapes[0][0])
    shapes = [g.shape_of(r) for r in sn.inputs[:1] + sn.exports[:1]]
    reduces = (len(shapes) == 2 and all(s is not None and len(s) == 3 for s in shapes)
               and shapes[1][1] < shapes[0][1])              # type: ignore[index]
    return (("Skip" if "Residual" in base else "Residual") if skip else "",
            "" if expands else "NoExpand", "Reduction" if reduces else "")


def _child_classes(sn: ScopeNode) -> Iterator[ScopeNode]:
    """The scopes inside `sn` that have classes of their own (nn.Sequential ones do not)."""
    for c in sn.children:
        if c.subscope is not None:
            yield from _child_classes(c.sub) if c.sub.sequential else [c.sub]


# -- constructor parameters -------------------------------------------------------------------

class ParamNamer:
    """Names a class's constructor parameters: a block parameter or in/out_channels whose values
    are the column, else the label. The candidates are indexed by their columns once per class,
    so each parameter is a lookup, not a pass over every block parameter and instance."""

    def __init__(self, g: Graph, plan: ClassPlan) -> None:
        self.g, self.plan = g, plan
        self.index: dict[tuple, list[str]] | None = None     # column -> candidates, made when first asked
        self.params = Namespace(plan.optional)          # the constructor's parameters, the optional children's

    def __call__(self, col: tuple, label: str) -> str:
        fallback = re.sub(r"\W", "_", label if label[0].isalpha() else "m" + label)
        return self.params.first(*self._candidates(col)) or self.params.fresh(fallback, "_", 2)

    def is_named(self, col: tuple) -> bool:
        """A block parameter or in/out_channels has these values (its name is no node's)."""
        return bool(self._candidates(col))

    def lets(self) -> dict[tuple, str]:
        """The block's `let:` values (Res2Net's width) by their values over the instances: names for
        a column no parameter names and none derives, in place of a node's (`conv1_out_channels`)."""
        out: dict[tuple, str] = {}
        for name, col in _common([s.lets for s in self._blocks()]):
            try:
                out.setdefault(col, name)
            except TypeError:        # a list value: never equal to a column of numbers
                pass
        return out

    def columns(self) -> list[tuple[str, tuple]]:
        """Every candidate and its values over the instances, in the order they are preferred."""
        return list(self._columns())

    def _candidates(self, col: tuple) -> list[str]:
        if self.index is None:
            self.index = {}
            for name, column in self._columns():
                try:
                    self.index.setdefault(column, []).append(name)
                except TypeError:        # a list argument: never equal to a column of numbers
                    pass
        try:
            return self.index.get(col, [])
        except TypeError:
            return []

    def _blocks(self) -> list[Scope]:
        """The block instance of each instance of the class (a group's: the block it is part of),
        or none where an instance has none."""
        blocks = [block_of(self.g, sn.scope) for sn in self.plan.instances]
        return [b for b in blocks if b is not None] if None not in blocks else []

    def _columns(self) -> Iterator[tuple[str, tuple]]:
        """(candidate, its values over the instances), in the order they are preferred."""
        plan = self.plan
        yield from _common([s.args for s in self._blocks()])
        for side, refs in (("in_channels", [sn.inputs for sn in plan.instances]),
                           ("out_channels", [sn.exports for sn in plan.instances])):
            if all(len(r) == 1 for r in refs) or side == "in_channels" and plan.same and all(refs):
                yield side, tuple(_channels(self.g, r[0]) for r in refs)


def _common(named: list[dict]) -> Iterator[tuple[str, tuple]]:
    """(name, its values) of the names every instance binds."""
    for a in named[0] if named else ():
        if all(a in s for s in named):
            yield a, tuple(as_tuple(s[a]) for s in named)


def classifiers(g: Graph, num_classes: int) -> list[str]:
    """The nodes that make each output's `num_classes` channels from other widths (a network's
    fc), found by walking back from the output through nodes that keep that width."""
    found = []
    for o in g.outputs.values():
        n = g.nodes[o.node]
        while n.shape and n.shape[0] == num_classes and n.in_shapes and n.in_shapes[0] \
                and n.in_shapes[0][0] == num_classes and n.inputs[0] in g.nodes:
            n = g.nodes[n.inputs[0]]
        if n.shape and n.shape[0] == num_classes:
            found.append(n.name)
    return found


def as_tuple(v: Any) -> Any:
    """A block argument as the ops' calls hold it: a list (`k: [1, 7]`) is a tuple."""
    return tuple(as_tuple(x) for x in v) if isinstance(v, list) else v


def _channels(g: Graph, ref: str) -> Any:
    shape = g.shape_of(ref)
    assert shape is not None
    return shape[0]
