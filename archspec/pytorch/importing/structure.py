"""Structure recovery: a traced model's scope tree as spec nodes, blocks and repeats.

- A module scope renders as a list of `Node`s: ops, its child modules, and `in:` references
  by local name (`input` is the scope's incoming tensor).
- Instances of one module class with one structure become one block: the numbers that
  differ between instances are its typed parameters; a named child that only some instances
  have (ResNet's `downsample`) is a `when:` node with a bool parameter. Plain containers
  (nn.Sequential, nn.ModuleList, nn.ModuleDict) are groups, numbered (`seq`) where torch numbers them.
- Runs of sibling instances of one block chained one after another become a `repeat` whose
  arguments are expressions of the step index; runs where each step sees the concatenation
  of all before it (DenseNet) become `repeat` with `carry: concat` (repeats.py).
No torch here: it reads the tree that archspec/pytorch/importing/trace.py made."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from typing import Any

from ...names import name_problem
from ...ops import REGISTRY
from .nodes import Block, Node, Result
from .repeats import name_pattern, op_runs, runs
from .trace import INPUT, ImportError_, Item, Scope, Traced, within


def _is_leaf(v) -> bool:
    return isinstance(v, (bool, int, float)) or (isinstance(v, tuple) and all(isinstance(x, int) for x in v))


@dataclass
class Rendered:
    """A scope as nodes: seq | nodes, the nodes, the external values it reads, its output's name
    where that is not its last node (several: all their names), and its inputs' names where it
    reads several apart (None: one, `input`)."""
    kind: str
    nodes: list[Node]
    externals: list[int]
    out: str | list[str] | None
    inputs: list[str] | None


class _Tree:
    """A traced model's scopes rendered as nodes, blocks used where `instances` names them."""

    def __init__(self, traced: Traced):
        self.traced = traced
        self.alias: dict[int, int] = {}        # anonymous identities (cat of one tensor, contiguous): their input
        self.home: dict[int, str] = {}         # item id -> the path of the scope it is in
        self.scopes: dict[str, Scope] = {}
        self.used_in: dict[int, list[str]] = {}
        self._index(traced.root)
        self.outputs = {self._id(o.id) for o in traced.outputs}
        self.instances: dict[str, tuple[str, dict]] = {}     # scope path -> (block, args)
        self.out_names: dict[str, list[str]] = {}            # scope path -> its block's several outputs
        self.several_in: set[str] = set()                    # blocks that declare several inputs
        self.blocks: list[Block] = []

    # -- the tree ------------------------------------------------------------------------

    def _index(self, scope: Scope) -> None:
        self.scopes[scope.path] = scope
        for p in scope.parts:
            if isinstance(p, Scope):
                self._index(p)
                continue
            self.home[p.id] = scope.path
            if p.op == "identity" and p.name is None:
                self.alias[p.id] = p.ins[0]
        for p in scope.parts:
            if isinstance(p, Item) and p.id not in self.alias:
                for i in p.ins:
                    self.used_in.setdefault(self._id(i), []).append(scope.path)

    def _id(self, i: int) -> int:
        while i in self.alias:
            i = self.alias[i]
        return i

    def _externals(self, scope: Scope) -> list[int]:
        """The values made outside `scope` that ops inside it read, in order of first use."""
        out: list[int] = []
        for item in self._items(scope):
            for i in item.ins:
                i = self._id(i)
                if (i == INPUT or not within(self.home[i], scope.path)) and i not in out:
                    out.append(i)
        return out

    def _items(self, scope: Scope):
        for p in scope.parts:
            if isinstance(p, Scope):
                yield from self._items(p)
            elif p.id not in self.alias:
                yield p

    def _outputs(self, scope: Scope) -> list[int]:
        """The values made inside `scope` that are read outside it or are the model's, in order."""
        outs = [i for i in (p.id for p in self._items(scope))
                if i in self.outputs or any(not within(u, scope.path) for u in self.used_in.get(i, []))]
        if not outs:
            raise ImportError_(f"{scope.path} ({_short(scope.cls)})", "the module has no output",
                               "archspec blocks give at least one")
        return outs

    # -- rendering one scope -------------------------------------------------------------

    def render(self, scope: Scope) -> Rendered:
        """A scope as nodes (see Rendered)."""
        externals = self._externals(scope)
        where = f"{scope.path or '<model>'} ({_short(scope.cls)})"
        parts = list(scope.parts)
        refs, inputs = self._input_refs(scope, parts, externals, where)
        nodes = _join_inputs(runs(self._nodes(scope, parts, refs, where), self.several_in), self.several_in)
        # the outputs are read by name where they are not the last node (the model's several outputs always)
        outs = [refs[i] for i in self._outputs(scope)] if scope.path else \
            [refs[self._id(o.id)] for o in self.traced.outputs]
        last = nodes[-1].ref if nodes else None
        rename = _name_referenced(nodes, {r for r in outs if len(outs) > 1 or r != last})
        outs = [rename.get(r, r) for r in outs]
        if not scope.path:
            self.root_outputs = [(o.name, r, o.train_only) for o, r in zip(self.traced.outputs, outs)]
        out: str | list[str] | None = None
        if len(outs) > 1 and scope.path:
            if set(outs) & {"input", *(inputs or [])}:     # (a node's name, or one of a node's several: `0.y1`)
                raise ImportError_(where, "an output of the module is one of its inputs",
                                   "archspec blocks list their own nodes as outputs")
            out = outs
        elif nodes and outs[0] != nodes[-1].ref:
            out = next(n.name for n in nodes if n.ref == outs[0])
        kind = "seq" if _numbered(nodes) else "nodes"
        if kind == "nodes":        # a named group that all repeats is that repeat (in a seq it keeps its index)
            nodes = [replace(n, body=n.body["seq"][0].body) if _all_repeats(n) else n for n in nodes]
        if kind == "seq":           # numbered: a repeat's steps take the next indices by themselves
            nodes = op_runs([replace(n, body={k: v for k, v in n.body.items() if k != "name"}) for n in nodes])
        return Rendered(kind, nodes, externals, out, inputs)

    def _input_refs(self, scope: Scope, parts: list, externals: list[int],
                    where: str) -> tuple[dict[int, str], list[str] | None]:
        """The scope's input as `input`: its one external value, or the concat of its several that
        opens it and alone reads them (DenseNet's layers; taken out of `parts`); several read apart
        are the inputs x0, x1, ... (DLA's, HRNet's, VoVNet's aggregations)."""
        if not externals:
            raise ImportError_(where, "the module reads no input", "archspec blocks take at least one input")
        if len(externals) == 1:
            return {externals[0]: "input"}, None
        first = next((p for p in parts if not (isinstance(p, Item) and p.id in self.alias)), None)
        if isinstance(first, Item) and first.op == "concat" and [self._id(i) for i in first.ins] == externals \
                and not any(self._id(i) in externals for it in self._items(scope) if it is not first for i in it.ins):
            parts.remove(first)
            return {first.id: "input"}, None
        names = [f"x{k}" for k in range(len(externals))]
        return dict(zip(externals, names)), names

    def _nodes(self, scope: Scope, parts: list, refs: dict[int, str], where: str) -> list[Node]:
        """A node per op and child module, in order, reading by local refs; `refs` gains each one's."""
        nodes: list[Node] = []
        node: Node | None
        anonymous = 0            # anonymous nodes' refs count only them: a dropped optional node shifts none
        for p, owner, prefix in self._laid(scope, parts, None):
            if isinstance(p, Item):
                if p.id in self.alias:
                    continue
                node = self._op_node(p, owner, anonymous)
                anonymous += node.name is None
            else:
                node = self._child_node(p)
                if node is None:
                    continue
            if prefix is not None and node.name is not None:
                node.name = node.ref = _member(prefix, node.name, getattr(p, "path", where))
            ins_ids = p.ins if isinstance(p, Item) else self._externals(p)
            node.ins = [self._ref(i, scope, refs, where) for i in ins_ids]
            if isinstance(p, Item):
                refs[p.id] = node.ref
            else:
                outs = self._outputs(p)
                names = self.out_names.get(p.path, [node.ref])
                refs.update((i, node.ref if len(outs) == 1 else
                             f"{node.ref}.{o if o.isidentifier() else k}") for k, (i, o) in enumerate(zip(outs, names)))
            nodes.append(node)
        return nodes

    def _laid(self, scope: Scope, parts: list, prefix: str | None) -> list[tuple]:
        """(part, its scope, list prefix) of each part, a container inlined (`_inlined`) giving its
        members under its name (`convs[0]`), interleaved with the rest in the order they run."""
        out: list[tuple] = []
        for p in parts:
            if isinstance(p, Scope) and self._inlined(p):
                out += self._laid(p, p.parts, _member(prefix, p.local, p.path))
            else:
                out.append((p, scope, prefix))
        if prefix is None and any(q is not scope for _, q, _ in out):
            out.sort(key=lambda t: t[0].id if isinstance(t[0], Item) else next((i.id for i in self._items(t[0])), -1))
        return out

    def _inlined(self, scope: Scope) -> bool:
        """A container (nn.ModuleList, indexed in forward) that no group can be, as it reads several
        tensors or gives several or its output is not its last: its members are the parent's, list-laid."""
        if not scope.container or scope.path in self.instances:
            return False
        items = list(self._items(scope))
        outs = self._outputs(scope)
        return len(self._externals(scope)) > 1 or outs != [items[-1].id]

    def _ref(self, i: int, scope: Scope, refs: dict, where: str) -> str:
        i = self._id(i)
        if i in refs:
            return refs[i]
        raise ImportError_(where, "an op reads a tensor from inside another module that is not its output",
                           "archspec reaches a block's nodes only through its output")

    def _op_node(self, item: Item, scope: Scope, k: int) -> Node:
        name = item.name
        if item.path is not None and (self.traced.calls.get(item.path, 0) > 1 or
                                      item.path.rpartition(".")[0] != scope.path):
            if item.params:
                raise ImportError_(item.where, "a module with parameters that runs more than once or "
                                   "outside its parent's forward", "archspec nodes run once, in their own module")
            name = None
        return Node(name, {"op": item.op, **item.attrs}, [], name if name is not None else f"~{k}")

    def _child_node(self, scope: Scope) -> Node | None:
        if scope.path in self.instances:
            block, args = self.instances[scope.path]
            return Node(scope.local, {"use": block, **args}, [], scope.local)
        r = self.render(scope)
        if r.out is not None or r.inputs:
            raise ImportError_(f"{scope.path} ({_short(scope.cls)})", "the group's output is not its last op"
                               if isinstance(r.out, str) else "a group of several inputs or outputs",
                               "archspec groups end in their output; blocks take several")
        return Node(scope.local, {r.kind: r.nodes}, [], scope.local)


class Recover(_Tree):
    """A traced model as spec nodes and blocks: `recover()` makes the blocks, each class's after
    those of the classes inside it, then renders the model with them."""

    def recover(self) -> Result:
        for cls in self._class_order():
            self._make_blocks(cls)
        r = self.render(self.traced.root)
        outputs = self.root_outputs
        if len(outputs) == 1 and r.out is None:
            outputs = []          # the default: the last node
        return Result(r.kind, r.nodes, self.blocks, outputs)

    def _class_order(self) -> list[str]:
        """Module classes to make blocks of, each after the classes inside it (a class with one
        instance stays a group where a group can be it)."""
        instances: dict[str, list[Scope]] = {}
        for s in self.scopes.values():
            if s.path and not s.container:
                instances.setdefault(s.cls, []).append(s)
        deps = {c: {d.cls for s in ss for d in self._inner(s)} - {c} for c, ss in instances.items()}
        order: list[str] = []

        def visit(c: str, seen: tuple) -> None:
            if c in order or c in seen:
                return
            for d in sorted(deps[c]):
                visit(d, seen + (c,))
            order.append(c)
        for c in instances:
            visit(c, ())
        self.by_class = instances
        return order

    def _inner(self, scope: Scope):
        for p in scope.parts:
            if isinstance(p, Scope):
                if not p.container:
                    yield p
                yield from self._inner(p)

    def _make_blocks(self, cls: str) -> None:
        """The blocks of a class: instances that fit one structure share one. A class inside itself
        (DLA's trees) is made from the innermost instances out, each rendered with those inside it."""
        scopes = self.by_class[cls]
        height: dict[str, int] = {}
        for s in sorted(scopes, key=lambda s: -s.path.count(".")):
            inner = [height[d.path] for d in self._inner(s) if d.cls == cls]
            height[s.path] = 1 + max(inner, default=-1)
        made = 0
        for h in sorted(set(height.values())):
            groups: list[list] = []     # [base Rendered, [(scope, Fit) of each member]]
            rendered = [(s, self.render(s)) for s in scopes if height[s.path] == h]
            for s, r in sorted(rendered, key=lambda sr: -len(sr[1].nodes)):
                g = next((g for g in groups if (r.kind, r.inputs) == (g[0].kind, g[0].inputs)
                          and _fit(g[0].nodes, g[0].out, r.nodes, r.out) is not None), None)
                if g is not None:
                    g[1].append((s, _fit(g[0].nodes, g[0].out, r.nodes, r.out)))
                else:
                    groups.append([r, [(s, _fit(r.nodes, r.out, r.nodes, r.out))]])
            for base, members in groups:
                if len(members) > 1 or base.out is not None or base.inputs:      # one alone: a group
                    made += 1
                    name = _block_name(cls if made == 1 else f"{_block_name(cls, set())}_{made}",
                                       {b.name for b in self.blocks})
                    self.blocks.append(self._block(name, base, members))

    def _block(self, name: str, r: Rendered, members) -> Block:
        base = r.nodes
        optional = sorted({k for _, fit in members for k in fit.dropped})
        leaves = [fit.leaves for _, fit in members]
        groups = _parameter_groups(list(_leaves(base, list(range(len(base))), base)), leaves)
        names = _param_names([g[0] for g in groups] + [(_what(base[k]),) for k in optional])
        params: dict[str, str] = {}
        subst: dict[tuple, str] = {}
        for g, pname in zip(groups, names):
            params[pname] = _type_name([lv[p] for lv in leaves for p in g if lv.get(p) is not None])
            subst.update((p, pname) for p in g)
        opt_names = dict(zip(optional, names[len(groups):]))
        params.update((opt_names[k], "bool") for k in optional)
        body = _substitute(base, subst)
        for k in optional:
            body[k].when = f"${{{opt_names[k]}}}"
            body[k].other = next(fit.other[k] for _, fit in members if k in fit.other) if len(base[k].ins) > 1 \
                else None
        for s, fit in members:
            args = {subst[g[0]]: _first([fit.leaves.get(p) for p in g], [lv.get(p) for lv in leaves for p in g])
                    for g in groups}
            args.update((opt_names[k], k not in fit.dropped) for k in optional)
            self.instances[s.path] = (name, {p: args[p] for p in params})
            if isinstance(r.out, list):
                self.out_names[s.path] = r.out
        if r.inputs:
            self.several_in.add(name)
        return Block(name, r.kind, params, body, r.out if isinstance(r.out, str) else None,
                     r.inputs, r.out if isinstance(r.out, list) else None)


# -- helpers ------------------------------------------------------------------------------------

def _short(cls: str) -> str:
    return cls.rpartition(".")[2]


def _numbered(nodes: list[Node]) -> bool:
    """Whether the nodes are torch's numbered sequence: 0, 1, 2, ... each reading the one before."""
    k = 0
    prev = "input"
    for n in nodes:
        if n.ins != [prev]:
            return False
        if "repeat" in n.body:
            if n.body.get("name", name_pattern(str(k))) != name_pattern(str(k)) or n.body.get("carry"):
                return False
            k += n.body["repeat"]
        elif n.name != str(k):
            return False
        else:
            k += 1
        prev = n.ref
    return bool(nodes)




def _all_repeats(node: Node) -> bool:
    inner = node.body.get("seq")
    return isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0].body.get("node"), dict)


def _member(prefix: str | None, local: str, where: str) -> str:
    """A list-laid member's name: item `local` of the list `prefix` (`convs[0]`, `fuse_layers[0][1]`)."""
    if prefix is None:
        return local
    if not local.isdigit():
        raise ImportError_(where, f"a member {local!r} of a container that its parent indexes in forward",
                           "archspec lays out lists by index (nn.ModuleList), not by key")
    return f"{prefix}[{local}]"


def _join_inputs(nodes: list[Node], several_in: set[str]) -> list[Node]:
    """A child that reads several tensors reads their concatenation: a concat node before it
    (unless it is a block that declares several inputs)."""
    out: list[Node] = []
    for node in nodes:
        if len(node.ins) > 1 and "op" not in node.body and node.body.get("use") not in several_in:
            cat = Node(None, {"op": "concat"}, node.ins, f"~cat{len(out)}")
            out.append(cat)
            node = replace(node, ins=[cat.ref])
        out.append(node)
    return out


def _name_referenced(nodes: list[Node], pinned: set[str]) -> dict[str, str]:
    """An anonymous node read by another than the next one (or `pinned`) gets a name ({op}_{k})."""
    taken = {n.name for n in nodes if n.name}
    prev = "input"
    rename: dict[str, str] = {r: "" for r in pinned if r.startswith("~")}
    for node in nodes:
        for r in node.ins:
            if r.startswith("~") and (r != prev or len(node.ins) > 1) and r not in rename:
                rename[r] = ""
        prev = node.ref
    for node in nodes:
        if node.ref in rename:
            op = str(node.body.get("op", "out"))
            base = REGISTRY[op].node_name if op in REGISTRY else op      # as archspec names one (slice: sliced)
            clash = any(n.name is None and n.body.get("op") == op for n in nodes if n is not node)
            k = 1
            name = f"{base}_1" if clash or base in taken else base      # (anonymous ones are named base, base_1...)
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            node.name = name
            taken.add(node.name)
            rename[node.ref] = node.name
    for node in nodes:
        node.ins = [rename.get(r) or r for r in node.ins]
        if node.ref in rename:
            node.ref = rename[node.ref]
    return rename


def _parameter_groups(paths: list[tuple], leaves: list[dict]) -> list[list[tuple]]:
    """The block's parameters as groups of number paths (in the base's nodes) that always hold the
    same value: one group per set of numbers that differ between the instances, `leaves`."""
    varying = [p for p in paths if len({repr(lv.get(p)) for lv in leaves if p in lv}) > 1]
    groups: list[list[tuple]] = []
    for p in varying:
        for g in groups:
            if _agree(leaves, p, g[0]):
                g.append(p)
                break
        else:
            groups.append([p])
    for p in paths:                  # a number only some instances have follows a parameter it agrees with
        if p not in varying and any(p not in lv for lv in leaves):
            hit = next((g for g in groups if _agree(leaves, p, g[0])), None)
            if hit is not None:
                hit.append(p)
    return groups


def _agree(leaves: list[dict], p: tuple, q: tuple) -> bool:
    """Whether two numbers are equal in every instance that has both."""
    return all(lv.get(p) is None or lv.get(q) is None or (type(lv[p]) is type(lv[q]) and lv[p] == lv[q])
               for lv in leaves)     # (True == 1, yet a flag is no count)


def _skeleton(nodes: list[Node], out: str | list[str] | None = None):
    """A node list's structure with its numbers left out; anonymous refs numbered in order."""
    anon = {n.ref: f"~{j}" for j, n in enumerate(x for x in nodes if x.ref.startswith("~"))}
    shown = [(n.name, anon.get(n.ref, n.ref), tuple(anon.get(r, r) for r in n.ins), n.when, n.other, _skel(n.body))
             for n in nodes]
    outs = [out] if isinstance(out, str) else out or []
    return tuple(shown) + tuple(anon.get(o, o) for o in outs)


def _skel(v):
    if isinstance(v, dict):
        return tuple((k, _skel(x)) for k, x in v.items())
    if isinstance(v, list):
        return _skeleton(v) if v and isinstance(v[0], Node) else tuple(_skel(x) for x in v)
    return "#" if _is_leaf(v) else v


def _what(node: Node) -> str:
    """An optional node's parameter name: its own name, or (anonymous or numbered) its op or block."""
    if node.name and not node.name.isdigit():
        return node.name
    return str(node.body.get("op") or node.body.get("use") or "node")


def _key(node: Node, k: int) -> Any:
    return node.name if node.name is not None else f"#{k}"


def _leaves(nodes: list[Node], where: list[int], base: list[Node], path: tuple = ()) -> dict[tuple, Any]:
    """Every number in the nodes by its path; node k is base node where[k] (its name, or its place)."""
    out: dict[tuple, Any] = {}
    for n, k in zip(nodes, where):
        _walk(n.body, path + (_key(base[k], k),), out)
    return out


def _walk(v, path: tuple, out: dict) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _walk(x, path + (k,), out)
    elif isinstance(v, list) and v and isinstance(v[0], Node):
        out.update(_leaves(v, list(range(len(v))), v, path))
    elif _is_leaf(v):
        out[path] = v


def _substitute(nodes: list[Node], subst: dict[tuple, str], path: tuple = ()) -> list[Node]:
    out = []
    for k, n in enumerate(nodes):
        out.append(replace(n, body=_sub(n.body, path + (_key(n, k),), subst)))
    return out


def _sub(v, path: tuple, subst: dict):
    if isinstance(v, dict):
        return {k: _sub(x, path + (k,), subst) for k, x in v.items()}
    if isinstance(v, list) and v and isinstance(v[0], Node):
        return _substitute(v, subst, path)
    if path in subst:
        return f"${{{subst[path]}}}"
    return v


@dataclass
class Fit:
    """How an instance is its block's base: the base nodes it lacks (each dropped by `when:`,
    with the input that stands for it), and its numbers by the base's paths."""
    dropped: set[int]
    other: dict[int, str]
    leaves: dict[tuple, Any]


def _fit(base: list[Node], base_out, nodes: list[Node], out) -> Fit | None:
    """`nodes` as `base` with some of base's nodes dropped, or None where it is not."""
    where, k = [], 0
    for n in nodes:              # align in order: same name, or same op/block where anonymous
        while k < len(base) and not _same_kind(base[k], n):
            k += 1
        if k == len(base):
            return None
        where.append(k)
        k += 1
    dropped = [k for k in range(len(base)) if k not in where]
    choices = [base[k].ins if len(base[k].ins) > 1 else [None] for k in dropped]
    want = _skeleton(nodes, out or nodes[-1].ref)
    for pick in itertools.islice(itertools.product(*choices), 64):
        other = {k: c for k, c in zip(dropped, pick) if c is not None}
        kept, last = _drop(base, dropped, other, base_out or [base[-1].ref])
        if _skeleton(kept, last) == want:
            return Fit(set(dropped), other, _leaves(nodes, where, base))
    return None


def _same_kind(a: Node, b: Node) -> bool:
    if a.name is not None or b.name is not None:
        return a.name == b.name
    return next(iter(a.body)) == next(iter(b.body)) and \
        a.body.get("op", a.body.get("use")) == b.body.get("op", b.body.get("use"))


def _drop(nodes: list[Node], dropped: list[int], other: dict[int, str],
          out: str | list[str]) -> tuple[list[Node], list[str]]:
    """The nodes without the dropped ones, what read one reading what stands for it; and the output."""
    stands: dict[str, str] = {}
    kept = []
    for k, n in enumerate(nodes):
        ins = [stands.get(r, r) for r in n.ins]
        if k in dropped:
            stand = other.get(k, n.ins[0])
            stands[n.ref] = stands.get(stand, stand)
            continue
        kept.append(replace(n, ins=ins))
    return kept, [stands.get(o, o) for o in ([out] if isinstance(out, str) else out)]


_SKIP = {"seq", "nodes", "node", "use", "op"}


def _param_names(paths: list[tuple]) -> list[str]:
    """Each number's parameter name: the shortest end of its path no other one shares (`stride`,
    `conv1_out`), a numbered child's index after the attribute (`out0` for seq item 0's out)."""
    parts = [[re.sub(r"\[(\d+)\]", r"\1", str(c)) for c in p if c not in _SKIP] for p in paths]
    parts = [[("depth" if c == "repeat" else c) for c in p] for p in parts]
    names: list[str] = []
    for p in parts:
        for n in range(1, len(p) + 1):
            cand = "_".join(p[-n:])
            if sum(1 for q in parts if "_".join(q[-n:]) == cand) == 1 or n == len(p):
                break
        if cand[:1].isdigit() and n > 1:
            cand = p[-1] + "_".join(p[-n:-1])
        names.append(_valid(cand, set(names)))
    return names


def _valid(name: str, taken: set[str]) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not name[:1].isalpha():
        name = "p" + name
    while name_problem(name) or name in taken:
        name += "_"
    return name


def _type_name(values: list) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(type(v) is int for v in values):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float"
    return "pair" if all(type(v) is int or isinstance(v, tuple) for v in values) else "any"


def _first(values: list, fallback: list):
    """A parameter's value: the instance's own, or (for a node it drops) any instance's."""
    return next((v for v in values + fallback if v is not None))


def _block_name(cls: str, taken: set[str]) -> str:
    base = _short(cls)
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base).lower().strip("_")
    return _valid(snake + ("_block" if snake in REGISTRY else ""), taken)
