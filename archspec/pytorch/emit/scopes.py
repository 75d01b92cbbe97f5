"""The scope tree: every node placed in its scope, what each scope reads and returns,
and which scopes are torchvision-style nn.Sequential chains."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from ...errors import Loc, SpecError
from ...ir import INPUT, Graph, Node, Scope, parent
from ...ops.base import Call
from .expr import node_expr


@dataclass(eq=False)
class Child:
    """One child of a scope: a node, or a sub-scope."""
    local: str                         # its attribute name in the parent: "conv1", "0"
    inputs: list[str]                  # refs it reads from outside itself, in order
    outputs: list[str]                 # refs it produces for the rest of the graph
    node: Node | None = None
    subscope: ScopeNode | None = None
    module: bool = True                # a submodule (else a functional call in forward)
    param: bool = False                # a parameter of the scope's module itself (Op.parameter)
    members: list[tuple[tuple[int, ...], Child]] = field(default_factory=list)   # of a list: (indices, member)

    @property
    def named(self) -> bool:
        """Named in the spec (not an index, not an anonymous op's generated name)."""
        return not self.local.isdigit() and (self.subscope is not None or self.node is not None and self.node.named)

    @property
    def path(self) -> str:
        """Its dotted name in the graph."""
        return self.node.name if self.node is not None else self.sub.path

    @property
    def sub(self) -> ScopeNode:
        """The sub-scope of a child that is not a node."""
        assert self.subscope is not None
        return self.subscope

    @property
    def loc(self) -> Loc | None:
        if self.node is not None:
            return self.node.loc
        scope = self.sub.scope
        return scope.loc if scope else None

    @property
    def step(self) -> tuple | None:
        """(the repeat's location, i) where step i of a repeat in its list made it."""
        return self.node.step if self.node is not None else getattr(self.sub.scope, "step", None)


@dataclass(eq=False)
class ScopeNode:
    """A scope as code: its children, what it reads, what it returns."""
    path: str                          # "" for the graph itself
    scope: Scope | None                # the IR's scope (None for the graph)
    children: list[Child] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)    # every node inside
    sequential: bool = False
    args: list[str] = field(default_factory=list)   # forward's parameters where a block names its inputs
    same: dict[str, str] = field(default_factory=dict)    # a named input given an earlier one's value -> its name
    shared: dict[str, str] = field(default_factory=dict)   # child -> the earlier child whose module it reuses
    registered: list[Child] | None = None     # own_children, made once
    reads: frozenset[str] | None = None      # of a block instance: the names what it builds reads (specexpr)


def block_of(g: Graph, s: Scope | None) -> Scope | None:
    """The block instance a scope is, or whose nodes it groups (SKNet's `attn` in its
    `selective_kernel`): a group's class is that block's part, named by its parameters. None for
    the top and a group of the top's."""
    while s is not None and not s.block and s.kind == "nodes" and s.path:
        s = g.scopes.get(parent(s.path))
    return s if s is not None and s.block else None


def numbered(names: list[str]) -> bool:
    """Children named 0, 1, ...: an nn.Sequential of them needs no names (else an OrderedDict)."""
    return names == [str(k) for k in range(len(names))]


def local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def own_children(sn: ScopeNode) -> list[Child]:
    """The children that get an attribute of their own (not a shared module's second use), in the
    order __init__ registers them: list members (`convs.0`, `convs.1`) as one child, their
    nn.ModuleList `convs`, where its first member is."""
    if sn.registered is None:
        sn.registered = []
        lists: dict[str, Child] = {}
        for c in sn.children:
            if "." not in c.local:
                if sn.shared.get(c.local, c.local) == c.local:
                    sn.registered.append(c)
                continue
            if c.param:
                raise SpecError(f"{c.path}: a parameter of its block cannot be a list member", loc=c.loc,
                                hint="name it without an index")
            root, *indices = c.local.split(".")
            if root not in lists:
                lists[root] = Child(root, [], [])
                sn.registered.append(lists[root])
            if c.module or c.subscope is not None:
                lists[root].members.append((tuple(map(int, indices)), c))
    return sn.registered


def _inside(ref: str, path: str) -> bool:
    return ref != INPUT if path == "" else ref.startswith(path + ".")


def _module(n: Node, inplace: bool = False) -> Call | None:
    """The op's module form of a node. Every shape is known in a graph emit is given (an
    expansion error stops before emit), so the IR's `None` for an unknown shape cannot occur."""
    return n.op.module(n.attrs, cast(list[tuple], n.in_shapes), cast(tuple, n.shape), inplace)


def _parameter(n: Node) -> Call | None:
    """The initial value of the parameter a node is on its scope's module (Op.parameter), or None."""
    return n.op.parameter(n.attrs, cast(list[tuple], n.in_shapes), cast(tuple, n.shape))


@contextmanager
def located(target: Child | Node) -> Iterator[None]:
    """A SpecError from writing a node's or scope's source, placed at its YAML location."""
    try:
        yield
    except SpecError as e:
        path, loc = (target.name, target.loc) if isinstance(target, Node) else (target.path, target.loc)
        raise SpecError(f"{path}: {e.message}", e.hint, e.loc or loc) from None


class ScopeTree:
    """The graph's scopes as a tree of ScopeNodes, with the facts about readers that the
    forward and class writers share."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.consumers = graph.readers                  # ref -> the nodes reading it, once each (the IR's)
        self.output_refs = graph.output_refs
        self.train_only = graph.train_only_nodes()
        self.helper_classes: set[str] = set()          # classes the ops define (TableConv, ...)
        self.exchanges: dict[ScopeNode, Any] = {}       # a scope -> its `exchange.Exchange` or None, once asked
        self.root = self._build()

    # -- building --------------------------------------------------------------------

    def _build(self) -> ScopeNode:
        """Every node placed in its scope, scopes nested by dotted path, in node order."""
        scopes: dict[str, ScopeNode] = {"": ScopeNode("", None)}
        for n in self.graph.nodes.values():
            param = _parameter(n) is not None
            owner, name = self._home(n.name)
            child = Child(name, list(n.inputs), [n.name], node=n, param=param,
                          module=not param and self._as_module(n))
            self._scope_at(owner, scopes).children.append(child)
        self._close(scopes[""])
        return scopes[""]

    def _as_module(self, n: Node) -> bool:
        """A node is a module where its op has a module form (so that print(model) shows the
        network, as torchvision's nn.ReLU modules do), else a functional call (add, concat)."""
        with located(n):
            module = _module(n)
            call = node_expr(n)
        if module is None and (call is None or n.tensors):
            raise SpecError(f"{n.name}: op '{n.op.name}' has no PyTorch " + ("module" if n.tensors else "form"),
                            loc=n.loc, hint="its definition needs Op.module (a module holding its tensors)"
                                            + ("" if n.tensors else " or Op.call (a functional call)"))
        if module is not None and "." not in module.fn:
            self.helper_classes.add(module.fn)      # no block class may take a helper's name
        return module is not None

    def _scope_at(self, path: str, scopes: dict[str, ScopeNode]) -> ScopeNode:
        if path not in scopes:
            sub = scopes[path] = ScopeNode(path, self.graph.scopes.get(path))
            owner, name = self._home(path)
            self._scope_at(owner, scopes).children.append(Child(name, [], [], subscope=sub))
        return scopes[path]

    def _home(self, path: str) -> tuple[str, str]:
        """The scope a node or scope is a child of, and its name there: a list member's is its path
        below the nearest scope that is not a list (`convs.0`, reached as self.convs[0])."""
        owner = parent(path)
        while owner and getattr(self.graph.scopes.get(owner), "kind", None) == "list":
            owner = parent(owner)
        return owner, path[len(owner) + 1:] if owner else path

    def _close(self, sn: ScopeNode) -> None:
        """Post-order: the sub-scopes' inputs and exports, then this scope's."""
        for c in sn.children:
            if c.subscope is not None:
                self._close(c.subscope)
                c.inputs, c.outputs = c.subscope.inputs, c.subscope.exports
        self._share(sn)
        nodes = self.nodes(sn)
        sn.names = {n.name for n in nodes}
        if sn.path == "":
            sn.inputs = [INPUT]
            sn.exports = list(dict.fromkeys(o.node for o in self.graph.outputs.values()))
            return
        sn.inputs = list(dict.fromkeys(r for n in nodes for r in n.inputs if not _inside(r, sn.path)))
        named = sn.scope.inputs if sn.scope else {}
        if named and set(named.values()) == set(sn.inputs):
            first: dict[str, str] = {}                                 # each value's first name
            for a, r in named.items():
                first.setdefault(r, a)
            sn.inputs, sn.args = list(first), list(first.values())     # forward(self, x, skip)
            sn.same = {a: first[r] for a, r in named.items() if first[r] != a}     # DLA's `in: [x, x]`
        elif len(sn.inputs) > 1 and sn.children[0].subscope is not None and sn.children[0].sub.inputs == sn.inputs:
            sn.args = sn.children[0].sub.args       # a repeat of such a block: its first step's names
        sn.exports = [n.name for n in nodes if n.name in self.output_refs or
                      any(not _inside(c, sn.path) for c in self.consumers.get(n.name, []))]
        if sn.scope is not None and sn.scope.outputs:     # a block's declared outputs, in their order
            sn.exports = list(sn.scope.outputs.values())
        sn.exports = sn.exports or [nodes[-1].name]
        sn.sequential = self._is_sequential(sn)

    def _share(self, sn: ScopeNode) -> None:
        """Anonymous modules without tensors that are constructed alike share one attribute,
        as torchvision's blocks call one `self.relu` several times."""
        first: dict[Call, str] = {}
        for c in sn.children:
            if c.node is not None and c.module and not c.node.tensors and not c.named and not c.local.isdigit():
                sn.shared[c.local] = first.setdefault(self.node_call(c.node), c.local)

    def _is_sequential(self, sn: ScopeNode) -> bool:
        """A chain of modules, each read only by the next, numbered 0, 1, ... or of a group (a
        scope that is no block's: DenseNet's `features`, named children, as torchvision's
        `nn.Sequential(OrderedDict(...))`): torchvision's nn.Sequential. A block keeps its class,
        named after the block; a shared module (run twice) or a list member keeps its scope's."""
        children = sn.children
        group = sn.scope is not None and not sn.scope.block and all(
            "." not in c.local and sn.shared.get(c.local, c.local) == c.local for c in children)
        if not (numbered([c.local for c in children]) or group) or len(sn.inputs) != 1:
            return False
        prev = sn.inputs
        for k, c in enumerate(children):
            if c.inputs != prev or len(c.outputs) != 1 or not c.module:
                return False
            if k + 1 < len(children) and not self.only_read_by(c.outputs[0], children[k + 1]):
                return False
            prev = c.outputs
        return prev == sn.exports

    # -- queries -----------------------------------------------------------------------

    def nodes(self, sn: ScopeNode) -> list[Node]:
        """The nodes inside a scope, in graph order."""
        out: list[Node] = []
        for c in sn.children:
            out += [c.node] if c.node is not None else self.nodes(c.sub)
        return out

    def post_order(self, sn: ScopeNode | None = None) -> Iterator[ScopeNode]:
        """Every scope after the scopes inside it: a class's children are planned first."""
        sn = self.root if sn is None else sn
        for c in sn.children:
            if c.subscope is not None:
                yield from self.post_order(c.subscope)
        yield sn

    def names_of(self, c: Child) -> set[str]:
        return {c.node.name} if c.node is not None else c.sub.names

    def only_read_by(self, ref: str, c: Child) -> bool:
        return ref not in self.output_refs and all(r in self.names_of(c) for r in self.consumers.get(ref, []))

    def inplace(self, n: Node) -> bool:
        """An op may overwrite its first input when that is a fresh tensor nothing else reads (the IR's rule)."""
        return self.graph.in_place(n)

    def node_call(self, n: Node) -> Call:
        """The constructor of a module node, or the initial value of a parameter node (only asked
        of those)."""
        call = _parameter(n) or _module(n, self.inplace(n))
        assert call is not None
        return call
