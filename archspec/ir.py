"""The graph IR: a flat DAG of op nodes with dotted names, plus the scopes
(block instances, groups, sequences) those names nest in."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .errors import Frame, Loc
from .names import name_problem
from .ops.base import Op, Tensor

INPUT = "input"   # the graph input's node name, reserved


def parent(path: str) -> str:
    """The scope a dotted name lives in: layer1.0.conv1 -> layer1.0 ("" at the top)."""
    return path.rpartition(".")[0]


def shape_of(ref: str, input_shape: tuple, nodes: dict[str, Node]) -> tuple | None:
    """The shape a ref carries: the graph input's, or a node's output (None where unknown)."""
    return input_shape if ref == INPUT else nodes[ref].shape


@dataclass(eq=False)
class Node:
    name: str                      # dotted, e.g. layer1.0.conv1
    op: Op
    attrs: Any                     # the op's validated Attrs
    inputs: list[str]              # producer node names (INPUT for the graph input)
    in_shapes: list[tuple | None]   # None where an error made an input unknown
    shape: tuple | None            # None where an error made it unknown
    tensors: list[Tensor]
    macs: int
    loc: Loc
    chain: tuple[Frame, ...] = ()
    named: bool = True             # False for anonymous functional nodes (relu, add, ...)
    exprs: dict = field(default_factory=dict)    # attribute -> the spec's `${...}` it was written as (`width * scale`)
    index_env: dict = field(default_factory=dict)    # the repeat indices those read, their values here (`i`: 1)
    step: tuple | None = None      # (the repeat's location, i) where step i of a repeat in its list made it

    @property
    def params(self) -> int:
        return sum(math.prod(t.shape) for t in self.tensors if not t.buffer)

    @property
    def buffers(self) -> int:
        return sum(math.prod(t.shape) for t in self.tensors if t.buffer)

    @property
    def activations(self) -> int:
        return math.prod(self.shape) if self.shape else 0

    @property
    def elementwise(self) -> int:
        """Pooling and add/mul element operations, which the MACs convention leaves out."""
        known = [x for x in self.in_shapes if x is not None]      # all of them, where the output is known
        return self.op.elementwise(self.attrs, known, self.shape) if self.shape else 0

    @property
    def label(self) -> str:
        return self.op.label(self.attrs)


@dataclass(eq=False)
class Scope:
    """A named subtree: a block instance, a group of named nodes, or a numbered sequence."""
    path: str
    kind: str                      # "block" | "nodes" | "seq" | "list" (members convs.0, ...: nn.ModuleList)
    loc: Loc
    block: str | None = None
    args: dict = field(default_factory=dict)     # the block's parameters as bound (given or default)
    output: str | None = None      # the node name its value comes from
    repeat: int | None = None      # index within a repeat, if any
    index: str | None = None       # that repeat's index, by name (`index: j`), where a block is a step of one
    count: str | None = None       # that repeat's count where the spec wrote it as one `${...}` (`depth`)
    inputs: dict = field(default_factory=dict)   # a block's named inputs, name -> ref, in order (several only)
    defaults: dict = field(default_factory=dict)  # the parameters this instance left at the block's default
    declared: dict = field(default_factory=dict)  # the block's plain defaults (`stride: 1`), not types or ${}
    outputs: dict = field(default_factory=dict)  # a block's named outputs, name -> ref, in order (several only)
    lets: dict = field(default_factory=dict)     # a block's `let:` values, name -> number (Res2Net's width)
    let_exprs: dict = field(default_factory=dict)   # the `let:` written as one `${...}`: name -> its expression
    spec_params: dict = field(default_factory=dict)  # the spec's parameters its expressions may read (base_width)
    arg_exprs: dict = field(default_factory=dict)   # the parameters given as one `${...}`: name -> its expression
    #                                  (by name, or by position: `expand.positional_exprs`)
    arg_env: dict = field(default_factory=dict)     # the values of the names those read (not the spec's) at the call
    structure_reads: frozenset = frozenset()        # the names its block's structure reads (repeat counts, when:)
    let_reads: dict = field(default_factory=dict)   # per `let:`, the names it reads (through other lets)
    when: str | None = None        # its block's own `when:`, where one whole `${...}` (`reduction > 0`)
    guard_reads: frozenset = frozenset()    # the names that `when:` alone of its structure reads
    reads_apart: dict = field(default_factory=dict)   # per `let:`, what its structure reads but through it alone
    node_whens: dict = field(default_factory=dict)    # its own nodes' `when:` of its parameters alone, by name
    step: tuple | None = None      # (the repeat's location, i) where step i of a repeat in its list made it


@dataclass
class Output:
    name: str
    node: str
    train_only: bool = False
    loss_weight: float | None = None


@dataclass
class Meta:
    """What the spec says about its network beyond the network itself: its text, where it comes
    from, how it was configured, the figures published for it. Plain values only."""
    title: str | None = None
    paper: str | None = None
    variant_of: str | None = None         # an untitled variant: its titled base's title
    file: str | None = None               # the spec file (a paper table's configurations reload it)
    reference: dict[str, Any] | None = None     # the published figures (`reference:`): source, params, ...
    reference_loc: Loc | None = None
    overridden: bool = False              # --set or keyword params changed it: its reference is not checked
    sets: list[str] = field(default_factory=list)           # the --set strings it was loaded with
    values: dict[str, Any] = field(default_factory=dict)    # and the keyword params
    params: dict[str, Any] = field(default_factory=dict)    # the spec's global params, as set
    structure_reads: tuple = ()      # the names its top-level structure and params: read, sorted
    nodes_structure_reads: tuple = ()     # of those, the ones its top-level structure reads (not params:)
    let_reads: dict[str, tuple] = field(default_factory=dict)   # per top-level `let:`, the names it reads


@dataclass(frozen=True)
class InitRule:
    """How the tensors of one op's modules start (the spec's `init:` rule for the op): a
    torch.nn.init method or a constant, and that method's arguments."""
    weight: float | str = "default"
    bias: float | str = "default"
    mode: str = "fan_in"                  # kaiming_*
    nonlinearity: str = "leaky_relu"      # kaiming_*
    a: float = 0.0                        # kaiming_*: the negative slope
    gain: float = 1.0                     # xavier_*
    mean: float = 0.0                     # normal, trunc_normal
    std: float = 1.0


@dataclass(frozen=True)
class Init:
    """The spec's `init:`: op name -> its rule, and the name patterns of the nodes whose weight
    starts at zero (fnmatch globs)."""
    rules: dict[str, InitRule] = field(default_factory=dict)
    zero: tuple[str, ...] = ()


@dataclass
class Graph:
    name: str
    input_shape: tuple
    nodes: dict[str, Node]
    scopes: dict[str, Scope]
    outputs: dict[str, Output]
    meta: Meta = field(default_factory=Meta)
    init: Init | None = None       # the spec's `init:` rules; None: PyTorch's defaults
    init_loc: Loc | None = None    # where they are written
    warnings: list = field(default_factory=list)
    # the spec's paper table (`table:`, the front end's TableDef) and its YAML, where its errors point:
    # reports/table.py's alone (summary --format paper), kept apart from the plain meta
    table: Any = None
    table_raw: Any = None
    # caches made on first use; not copied by dataclasses.replace, so a changed copy makes its own
    _nx: Any = field(default=None, init=False, repr=False, compare=False)
    _under: Any = field(default=None, init=False, repr=False, compare=False)   # scope path -> its nodes
    _readers: Any = field(default=None, init=False, repr=False, compare=False)
    _in_place: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def readers(self) -> dict[str, list[str]]:
        """Who reads each tensor: a ref (INPUT or a node) -> the nodes reading it, once each, in
        graph order; a ref nothing reads has no entry."""
        if self._readers is None:
            self._readers = _readers(self.nodes)
        return self._readers

    @property
    def output_refs(self) -> set[str]:
        """The nodes whose values the graph returns."""
        return {o.node for o in self.outputs.values()}

    def in_place(self, n: Node) -> bool:
        """Whether the node runs in place, overwriting its first input (the compiled module writes
        `nn.ReLU(inplace=True)`, `out += identity`; training memory counts one storage): its op can
        (`Op.inplace`), and that input is a fresh tensor (`Op.fresh`: new, and its backward never
        reads it) that nothing else reads and the graph does not return."""
        if self._in_place is None:
            outs, readers = self.output_refs, self.readers
            self._in_place = {m.name for m in self.nodes.values() if m.op.inplace and m.inputs
                              and m.inputs[0] != INPUT and self.nodes[m.inputs[0]].op.fresh
                              and readers.get(m.inputs[0]) == [m.name] and m.inputs.count(m.inputs[0]) == 1
                              and m.inputs[0] not in outs}
        return n.name in self._in_place

    def shares_storage(self, n: Node) -> bool:
        """Whether the node's output is its first input's storage: a view (`Op.view`) or in place."""
        return bool(n.inputs) and (n.op.view or self.in_place(n))

    def lint(self) -> None:
        """Check the IR's invariants, raising IRError naming the first broken one: names valid
        and unique (a node is a leaf: no node or scope lies inside it), every input defined
        before use (so no cycle), shapes present and each input's the producer's, the readers
        those the inputs make, outputs and scope refs defined. A broken one is archspec's bug."""
        lint_graph(self)

    @property
    def nx(self):
        """The dataflow as a networkx DiGraph (INPUT and every node; edges carry shapes).
        Imported on first use: validate and summary don't pay for networkx."""
        if self._nx is None:
            import networkx as nx
            g = nx.DiGraph()
            g.add_node(INPUT, shape=self.input_shape)
            for n in self.nodes.values():
                g.add_node(n.name, node=n)
                for src, shp in zip(n.inputs, n.in_shapes):
                    g.add_edge(src, n.name, shape=shp)
            self._nx = g
        return self._nx

    def under(self, path: str) -> list[Node]:
        """The nodes inside the scope `path` (named path.*), in graph order. Indexed once, so that
        asking for every scope costs the sum of their sizes, not scopes x nodes."""
        if self._under is None:
            index: dict[str, list[Node]] = {}
            for n in self.nodes.values():
                parts = n.name.split(".")
                for k in range(1, len(parts)):
                    index.setdefault(".".join(parts[:k]), []).append(n)
            self._under = index
        return self._under.get(path, [])

    def scope_label(self, path: str) -> str:
        """What a collapsed scope is, for tables and diagrams: its block's name, else its kind."""
        scope = self.scopes.get(path)
        return (scope.block or scope.kind) if scope else "group"

    def shape_of(self, ref: str) -> tuple | None:
        return shape_of(ref, self.input_shape, self.nodes)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def buffers(self) -> int:
        return sum(n.buffers for n in self.nodes.values())

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    @property
    def activations(self) -> int:
        return sum(n.activations for n in self.nodes.values())

    @property
    def elementwise(self) -> int:
        return sum(n.elementwise for n in self.nodes.values())

    def inference_nodes(self) -> list[Node]:
        """The nodes that the outputs used in eval mode depend on (training-only heads left out)."""
        keep, todo = set(), [o.node for o in self.outputs.values() if not o.train_only]
        while todo:
            name = todo.pop()
            if name not in keep and name in self.nodes:
                keep.add(name)
                todo.extend(self.nodes[name].inputs)
        return [n for n in self.nodes.values() if n.name in keep]

    def train_only_nodes(self) -> set[str]:
        """The nodes eval mode does not compute, where the spec has training-only outputs (GoogLeNet's
        auxiliary heads): the compiled forward runs them under `if self.training:` and diagrams draw
        them dashed. Without training-only outputs, every node runs in both modes."""
        if not any(o.train_only for o in self.outputs.values()):
            return set()
        return set(self.nodes) - {n.name for n in self.inference_nodes()}

    def eval_counts(self) -> dict[str, int]:
        """params and MACs in eval mode, training-only heads left out (how figures are published)."""
        nodes = self.inference_nodes()
        return {"params": sum(n.params for n in nodes), "macs": sum(n.macs for n in nodes)}

    def state_dict_shapes(self) -> dict[str, tuple]:
        """Every parameter and buffer as it appears in the compiled module's state_dict, in its
        order: a module's own tensors (a node that is a parameter of its scope, Op.parameter, as
        torchvision's layer_scale), then its submodules', each in the order they were added (an
        nn.ModuleList's, added at its first member, by index)."""
        root: _Module = ({}, {})
        for n in self.nodes.values():
            for t in n.tensors:
                *path, leaf = t.path(n.name).split(".")
                module = root
                for part in path:
                    module = module[1].setdefault(part, ({}, {}))
                module[0][leaf] = tuple(t.shape)
        out: dict[str, tuple] = {}

        def walk(module: _Module, prefix: str) -> None:
            out.update({prefix + k: s for k, s in module[0].items()})
            children = list(module[1].items())
            scope = self.scopes.get(prefix[:-1])
            if scope is not None and scope.kind == "list":      # an nn.ModuleList holds its members by index
                children.sort(key=lambda item: int(item[0]))
            for name, child in children:
                walk(child, f"{prefix}{name}.")
        walk(root, "")
        return out


_Module = tuple[dict[str, tuple], dict[str, "_Module"]]     # (own tensors, submodules), for state_dict order


class IRError(AssertionError):
    """A broken invariant of the IR (Graph.lint): archspec's own mistake, never the spec's."""


def _readers(nodes: dict[str, Node]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in nodes.values():
        for r in dict.fromkeys(n.inputs):
            out.setdefault(r, []).append(n.name)
    return out


def lint_graph(g: Graph) -> None:
    """Graph.lint."""
    def broken(invariant: str, detail: str) -> IRError:
        return IRError(f"IR invariant '{invariant}' broken in {g.name}: {detail}")
    _lint_names(g, broken)
    seen = {INPUT}
    for n in g.nodes.values():
        for r in n.inputs:
            if r not in seen:
                why = "a cycle or a later node" if r in g.nodes else "no such node"
                raise broken("inputs defined before use", f"{n.name} reads {r} ({why})")
        seen.add(n.name)
        if n.shape is None or len(n.in_shapes) != len(n.inputs):
            raise broken("shapes present", f"{n.name}: shape {n.shape}, {len(n.in_shapes)} input shapes "
                                            f"for {len(n.inputs)} inputs")
        for r, shape in zip(n.inputs, n.in_shapes):
            if shape is None or shape != g.shape_of(r):
                raise broken("shapes present", f"{n.name}: input {r} has shape {shape}, its producer {g.shape_of(r)}")
    if g.readers != _readers(g.nodes):
        raise broken("readers consistent", "Graph.readers is not what the nodes' inputs make (changed after use?)")
    for where, refs in [("outputs", [o.node for o in g.outputs.values()]),
                        *((f"scope {s.path}", [*s.inputs.values(), *s.outputs.values(), *filter(None, [s.output])])
                          for s in g.scopes.values())]:
        for r in refs:
            if r != INPUT and r not in g.nodes:
                raise broken("refs defined", f"{where} names {r}, no node")


def _lint_names(g: Graph, broken) -> None:
    """Every node's name its key, each dotted part a valid name (or an index), INPUT no node's,
    and no node with a node or scope inside it."""
    for key, n in g.nodes.items():
        problem = next(filter(None, (name_problem(p, index_ok=True) for p in n.name.split("."))), None)
        if key != n.name or problem or n.name == INPUT:
            raise broken("names valid and unique", f"node {key!r} (named {n.name!r}): {problem or 'key or name'}")
    for path in [*g.nodes, *g.scopes]:
        owner = parent(path)
        while owner:
            if owner in g.nodes:
                raise broken("names valid and unique", f"{path} lies inside the node {owner}")
            owner = parent(owner)
    clash = set(g.nodes) & set(g.scopes)
    if clash:
        raise broken("names valid and unique", f"{sorted(clash)[0]} is both a node and a scope")
