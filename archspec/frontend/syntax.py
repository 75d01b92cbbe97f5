"""syntax: the node forms of one list, its names and its dependency order.

Shared by network expansion (archspec/frontend/expand.py) and by the static check of
block libraries (`check_library`), so both read a list the same way and say
the same thing about the same mistake. Nothing here evaluates a shape.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import Diagnostics, Loc, SpecError, did_you_mean
from ..ir import INPUT
from ..names import name_problem, shown
from ..ops import REGISTRY
from .expr import has_expr
from .yamlpos import YDict, YList

KINDS = ("op", "use", "seq", "nodes", "repeat")
CONTROL = {"in", "when", "else"}          # on any node: its inputs, whether it exists, what stands for it
REPEAT_KEYS = {"repeat", "node", "name", "carry", "index"}
GROUP_KEYS = {"seq": {"seq"} | CONTROL, "nodes": {"nodes"} | CONTROL, "repeat": REPEAT_KEYS | CONTROL}


def key_hint(key: Any, keys, otherwise: str) -> str:
    """The hint for an unknown key of a node: the closest of its own keys (an op's attributes, a
    block's parameters) and the keys every node takes (`wehn:` -> when), else `otherwise`."""
    return did_you_mean(str(key), [*keys, *sorted(CONTROL)]) or otherwise


# a list member's name, `convs[0]` (or `fuse_layers[1][0]`, a list in a list): item 0 of the
# scope's nn.ModuleList `convs`, state_dict key `convs.0.weight`
_MEMBER = re.compile(r"([A-Za-z][A-Za-z0-9_]*)((?:\[[0-9]{1,9}\])+)")


def member_path(name: str) -> str | None:
    """`convs[0]` as its module path `convs.0` (`a[1][2]`: `a.1.2`); None for a plain name."""
    m = _MEMBER.fullmatch(name)
    return None if m is None else m[1] + "".join(f".{k}" for k in re.findall(r"[0-9]+", m[2]))


class Failed(str):
    """The ref of a node that could not be built (or an input that could not be read): its
    shape is unknown, and nothing downstream is blamed for it again."""


class Several(str):
    """What a block with several outputs gives: the ref of its first output, with every
    output's ref by name (`refs`). A block taking as many inputs receives them all."""
    refs: dict[str, str]
    path: str                # the block instance's, for errors

    def __new__(cls, refs: dict[str, str], path: str) -> Several:
        self = super().__new__(cls, next(iter(refs.values())))
        self.refs, self.path = refs, path
        return self


@dataclass(frozen=True)
class Pick:
    """An `in:` that names one output of a block with several: `stage2.y1`."""
    k: int                   # the block's index in the list
    name: str                # the output's name
    loc: Loc


@dataclass
class Decl:
    """One list item, normalised: `conv1: {op: conv, ...}`, `- relu`, `- {use: block, ...}`."""
    name: str | None
    kind: str            # op | use | seq | nodes | repeat | ref (a bare op or block name)
    body: YDict
    loc: Loc
    env: dict | None = None      # a laid repeat step's index (lays_nodes): what its expressions also read
    step: int | None = None      # that step, for error frames


def lays_nodes(d: Decl | None, seq: bool) -> bool:
    """A repeat whose `node:` is a list, in a scope of named nodes: each step lays its nodes into
    the enclosing scope under their templated names (`x${i + 1}`, `convs[${i}]`)."""
    return d is not None and d.kind == "repeat" and not seq and isinstance(d.body.get("node"), YList)


def node_name(d: Decl) -> str:
    """A node's name for messages: its own, or for an anonymous one the op or block it is
    named after when expanded (relu, relu_1, ...)."""
    if d.name:
        return d.name
    target = d.body.get(d.kind) if d.kind in ("op", "use", "ref") else d.kind
    return target if isinstance(target, str) and "${" not in target else d.kind


class Reporter(Protocol):
    def __call__(self, loc: Loc | None, message: str, path: str = "", hint: str | None = None) -> None: ...


@dataclass
class ListScope:
    """What reading a list needs to know about where it is."""
    prefix: str              # dotted path of the scope, for error paths
    seq: bool                # children numbered 0, 1, ... (no names, no `in:`)
    report: Reporter
    outer: dict[str, str] = field(default_factory=dict)    # names bound outside the list: a block's inputs

    def full(self, local: str | None) -> str:
        if not local:
            return self.prefix
        return f"{self.prefix}.{local}" if self.prefix else local


def parse_decl(item: Any, loc: Loc) -> Decl:
    """A list item as a Decl; raises SpecError for a form that is not a node."""
    name = None
    if isinstance(item, str):
        return Decl(None, "ref", YDict(loc, {"ref": item}, {"ref": loc}), loc)
    if isinstance(item, YDict) and len(item) == 1:
        (key, value), = item.items()
        if key in ("seq", "nodes", "repeat") and isinstance(value, str):
            raise SpecError(f"'{key}' is a reserved word (a kind of node) and cannot name a node",
                            loc=item.key_at(key), hint=f"name it otherwise, e.g. {key}1: {value}")
        if isinstance(key, str) and key not in KINDS:
            name, loc = key, item.key_at(key)
            vloc = item.at(key)
            if isinstance(value, str):
                return Decl(name, "ref", YDict(vloc, {"ref": value}, {"ref": vloc}), loc)
            if isinstance(value, YList):
                item = YDict(vloc, {"nodes": value}, {"nodes": vloc})
            elif isinstance(value, YDict):
                item = value
            else:
                raise SpecError(f"node '{key}' needs an op, a block or a body, got {shown(value)}", loc=vloc,
                                hint=f"e.g. {key}: {{op: conv, out: 64, k: 3}}")
    if not isinstance(item, YDict):
        raise SpecError(f"a node is an op name, a mapping or 'name: ...', got {shown(item)}", loc=loc)
    kinds = [k for k in KINDS if k in item]
    if len(kinds) != 1:
        what = f"has {' and '.join(kinds)}" if kinds else "has no op"
        raise SpecError(f"node {what}", loc=loc,
                        hint="give it exactly one of op: (an op), use: (a block), seq: or nodes: "
                             "(a group), repeat:")
    allowed = GROUP_KEYS.get(kinds[0])
    extra = sorted(str(k) for k in item if allowed is not None and k not in allowed)
    if extra:
        raise SpecError(f"unknown key {shown(extra[0])} on a {kinds[0]}: node", loc=item.key_at(extra[0]),
                        hint=did_you_mean(extra[0], sorted(allowed or ())) or
                        f"a {kinds[0]}: node takes: {', '.join(sorted(allowed or ()))}")
    return Decl(name, kinds[0], item, loc)


def parse_list(items: YList, scope: ListScope) -> list[Decl | None]:
    """Every item of a list parsed; a bad one is reported and left None."""
    decls: list[Decl | None] = []
    for k, item in enumerate(items):
        try:
            decls.append(parse_decl(item, items.at(k)))
        except SpecError as e:
            scope.report(e.loc or items.at(k), e.message, hint=e.hint)
            decls.append(None)
    return decls


def check_node_name(name: str, loc: Loc, scope: ListScope) -> bool:
    """A node name passes the one identifier validator (archspec/names.py); else reported."""
    if name == INPUT:
        scope.report(loc, "'input' is reserved for the incoming tensor", hint="rename the node")
        return False
    if name in scope.outer:
        scope.report(loc, f"'{name}' is an input of the block", hint="rename the node")
        return False
    member = isinstance(name, str) and _MEMBER.fullmatch(name)
    problem = name_problem(member[1] if member else name, index_ok=not member)
    if problem:
        scope.report(loc, f"{shown(name)} cannot be a node name: {problem}",
                     hint="names become module attributes and state_dict keys: conv1, layer2, fc")
    return problem is None


def local_names(decls: list[Decl | None], scope: ListScope) -> dict[str, int]:
    """name -> index of the named items; a bad or duplicate name is reported and dropped."""
    local: dict[str, int] = {}
    for k, d in enumerate(decls):
        if d is None or d.name is None:
            continue
        if scope.seq:
            scope.report(d.loc, f"'{d.name}': children of a seq are numbered 0, 1, ... and take no names",
                         hint="use nodes: instead of seq: for named children")
        elif not check_node_name(d.name, d.loc, scope):
            pass
        elif d.name in local:
            first = decls[local[d.name]]
            again = first is not None and first.loc == d.loc      # a laid repeat's template, step after step
            scope.report(d.loc, f"duplicate name '{d.name}'", scope.full(d.name),
                         hint="the template gives every step this name: make it read the index, e.g. y${i + 1}"
                         if again else f"'{d.name}' is first defined at {first.loc if first else '?'}")
        else:
            local[d.name] = k
            continue
        d.name = None
    return local


Dep = int | None | str | Pick      # an index into the list, None for the scope's input, or a ref: a failed
                                   # one (Failed) or one bound outside the list (a block's named input),
                                   # or one output of an item with several
Choose = Callable[[Any, Loc], Any]  # evaluates an `in:` expression (raises SpecError)


def dependencies(k: int, d: Decl | None, local: dict[str, int], scope: ListScope,
                 choose: Choose | None) -> list[Dep]:
    """The inputs of item k: the previous item unless `in:` names others. `choose` evaluates an
    `in:` given by expression; without it (a library check) such an input is not checked."""
    if d is None or "in" not in d.body:
        return [k - 1] if k > 0 else [None]
    if scope.seq:
        scope.report(d.body.at("in"), "children of a seq are chained and take no 'in'",
                     hint="use nodes: for a group with branches")
    refs = d.body["in"]
    if has_expr(refs) and isinstance(refs, str):     # the whole list chosen by expression (optional members)
        if choose is None:
            return [Failed("?")]
        try:
            refs = choose(refs, d.body.at("in"))
        except SpecError as e:
            scope.report(d.body.at("in"), e.message, scope.full(node_name(d)), hint=e.hint)
            return [Failed("?")]
    named = isinstance(refs, YDict)       # a block's inputs bound by name: then the previous node
    locs = [refs.at(key) for key in refs] if named else None
    refs = refs if isinstance(refs, list) else list(refs.values()) if named else [refs]
    out: list[Dep] = []
    for j, ref in enumerate(refs):
        loc = locs[j] if locs else refs.at(j) if isinstance(refs, YList) else d.body.at("in")
        if has_expr(ref):       # a choice of input, from the scope's params: ${'a' if c else 'b'}
            try:
                if choose is None:
                    out.append(Failed("?"))
                    continue
                ref = choose(ref, loc)
            except SpecError as e:
                scope.report(loc, e.message, scope.full(node_name(d)), hint=e.hint)
                out.append(Failed("?"))
                continue
        out.append(_dep(ref, loc, d, local, scope))
    return out + ([k - 1 if k > 0 else None] if named else [])     # last: the default of the first input


def _dep(ref: Any, loc: Loc, d: Decl, local: dict[str, int], scope: ListScope) -> Dep:
    if ref == INPUT:
        return None
    if isinstance(ref, str) and ref in local:
        return local[ref]
    if isinstance(ref, str) and ref in scope.outer:
        return scope.outer[ref]
    head, dot, tail = ref.partition(".") if isinstance(ref, str) else ("", "", "")
    if dot and head in local and tail:
        return Pick(local[head], tail, loc)
    scope.report(loc, f"undefined input {shown(ref)}", scope.full(node_name(d)),
                 hint=did_you_mean(ref, [*local, *scope.outer, INPUT]) or
                 f"names defined in this scope: {', '.join(['input', *scope.outer, *list(local)[:20]])}")
    return Failed("?")


def order(decls: list[Decl | None], deps: list[list[Dep]], scope: ListScope) -> list[int]:
    """List order, unless `in:` points forward: then dependency order, list order among equals."""
    n = len(decls)
    if all((dep.k if isinstance(dep, Pick) else dep) < k for k, ds in enumerate(deps) for dep in ds
           if isinstance(dep, (int, Pick))):
        return list(range(n))
    import networkx as nx  # only here: most lists need no reordering
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from((dep.k if isinstance(dep, Pick) else dep, k) for k, ds in enumerate(deps)
                     for dep in ds if isinstance(dep, (int, Pick)))
    try:
        return list(nx.lexicographical_topological_sort(g))
    except nx.NetworkXUnfeasible:
        cycle = [u for u, _ in nx.find_cycle(g)]
        names = [(d.name if d else None) or f"#{c}" for c, d in ((c, decls[c]) for c in cycle)]
        first = decls[cycle[0]]
        scope.report(first.loc if first else None, f"cycle: {' -> '.join(names + names[:1])}",
                     scope.full(names[0]), hint="a node cannot depend on its own output")
        return [k for k in range(n) if k not in set(nx.descendants(g, cycle[0])) | {cycle[0]}]


# -- block libraries, checked without instantiating them ------------------------------------

class LibraryCheck:
    """Node forms, names, references, and that literal op and block names exist with known
    attribute keys. Shapes are checked where a network uses the blocks."""

    def __init__(self, blocks: dict, diags: Diagnostics):
        self.blocks = blocks
        self.diags = diags

    def block(self, name: str, raw: YDict, loc: Loc) -> None:
        kind = "seq" if "seq" in raw else "nodes"
        inputs = raw.get("inputs")
        outer = {n: n for n in inputs if isinstance(n, str)} if isinstance(inputs, (list, dict)) else {}
        self.list(raw.get(kind), ListScope(name, kind == "seq", self._report, outer), loc)

    def _report(self, loc: Loc | None, message: str, path: str = "", hint: str | None = None) -> None:
        self.diags.error(loc, message, path=path, hint=hint)

    def list(self, items: Any, scope: ListScope, loc: Loc, laid: bool = False) -> None:
        """`laid`: the nodes of a repeat that lays them in its scope (their names are templates)."""
        if not isinstance(items, YList) or not items:
            scope.report(loc, "expected a non-empty list of nodes")
            return
        decls = parse_list(items, scope)
        # names a repeat lays, and the scope's names its nodes read, are known once expanded: checked there
        laid = laid or any(lays_nodes(d, scope.seq) for d in decls)
        local = {} if laid else local_names(decls, scope)
        for k, d in enumerate(decls):
            if not laid:
                dependencies(k, d, local, scope, None)
            if d is not None:
                self.decl(d, scope, laid)

    def decl(self, d: Decl, scope: ListScope, laid: bool = False) -> None:
        body, kind = d.body, d.kind
        if kind in ("seq", "nodes"):
            self.list(body[kind], ListScope(scope.full(d.name), kind == "seq", scope.report), body.at(kind))
        elif kind == "repeat" and "node" in body:
            node = body["node"]
            if isinstance(node, YList):
                self.list(node, ListScope(scope.full(d.name), scope.seq, scope.report), body.at("node"),
                          laid or lays_nodes(d, scope.seq))
            else:
                try:
                    self.decl(parse_decl(node, body.at("node")), scope)
                except SpecError as e:
                    scope.report(e.loc or body.at("node"), e.message, hint=e.hint)
        elif not isinstance(body[kind], str):
            scope.report(body.at(kind), f"{kind} must name an op or block, got {shown(body[kind])}")
        elif not has_expr(body[kind]):
            self._target(body, kind, scope)

    def _target(self, body: YDict, kind: str, scope: ListScope) -> None:
        target = body[kind]
        if target in REGISTRY and kind != "use":
            fields = REGISTRY[target].Attrs.model_fields
            for key in body:
                if key not in fields and key not in CONTROL | {"op", "ref"}:
                    scope.report(body.key_at(key), f"unknown attribute '{key}' for op {target}",
                                 hint=key_hint(key, fields, f"{target} takes: {', '.join(fields)}"))
        elif target in self.blocks:
            params = self.blocks[target].params
            for key in body:
                if key not in params and key not in CONTROL | {"use", "ref", "args"}:
                    scope.report(body.key_at(key), f"block '{target}' has no parameter {shown(key)}",
                                 hint=key_hint(key, [*params, "args"],
                                               f"its parameters: {', '.join(params) or 'none'}"))
        else:
            scope.report(body.at(kind), f"unknown op or block '{target}'",
                         hint=did_you_mean(target, [*REGISTRY, *self.blocks]))
