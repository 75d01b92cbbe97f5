"""An exchange between resolutions as HRNet's own code writes it (timm's HighResolutionModule):
the block takes its n inputs as one list and gives its m outputs as one list, runs its branches
in a comprehension and its fuse layers in a nested loop:

    x = [branch(x_i) for branch, x_i in zip(self.branches, x)]
    x_fuse = []
    for i, fuse_layer in enumerate(self.fuse_layers):
        y = x[0] if i == 0 else fuse_layer[0](x[0])
        for j in range(1, len(x)):
            y = y + (x[j] if i == j else fuse_layer[j](x[j]))
        x_fuse.append(self.fuse_acts[i](y))
    return x_fuse

A block scope is such an exchange where its children are exactly: list members `B.0` .. `B.(n-1)`,
`B.k` reading input k alone; members `F.i.j` for every output i and input j != i, reading `B.j`'s
output alone; per output i, a plain add of `B.i` and `F.i.j` (j != i) in the order of j, then a
member `A.i` reading the sum alone, which is the block's output i. The loop computes the same
values in the same order of rounding (the sum's terms left to right); only what runs first
differs, and every child reads only values no child overwrites (the sums are fresh tensors). Its
callers pass a list and read the items (`x = self.stage2[0]([a, b])`, then `x[1]`). In probe mode
(compiler.check, which reports every sum by its name) no block is one: the file is then unrolled
throughout, its callers too."""
from __future__ import annotations

from dataclasses import dataclass

from ...names import Namespace
from .expr import expression, node_expr
from .loops import member_name
from .scopes import Child, ScopeNode, ScopeTree

_TAKEN = ("x", "x_i", "x_fuse", "y", "i", "j", "self", "torch", "nn", "F", "zip", "enumerate", "range", "len")


@dataclass(frozen=True)
class Exchange:
    """The lists an exchange's forward loops over: its branches, fuse layers and output modules."""
    branches: str
    fuse: str
    acts: str


def listed(tree: ScopeTree, sn: ScopeNode, probe: bool) -> Exchange | None:
    """The scope as an exchange taking and giving lists, or None (always in probe mode)."""
    if probe:
        return None
    if sn not in tree.exchanges:
        tree.exchanges[sn] = _exchange(tree, sn)
    return tree.exchanges[sn]


def _member(c: Child, root: str, *indices: int) -> bool:
    """A list member `root.i.j`, a module of one output."""
    return c.local == ".".join([root, *map(str, indices)]) and c.module and len(c.outputs) == 1


def _exchange(tree: ScopeTree, sn: ScopeNode) -> Exchange | None:
    n, m = len(sn.inputs), len(sn.exports)
    kids = sn.children
    if len(kids) != n + m * (n - 1) + 2 * m:     # (each sum has n >= 2 terms: never the top, of one input)
        return None
    b, f = kids[0].local.split(".")[0], kids[n].local.split(".")[0]
    if not all(_member(c, b, k) and c.inputs == [sn.inputs[k]] for k, c in enumerate(kids[:n])):
        return None
    branch = [c.outputs[0] for c in kids[:n]]
    fused: dict[tuple[int, int], str] = {}
    rest = kids[n:]
    for c in rest:
        parts = c.local.split(".")
        if len(parts) == 3:
            i, j = (int(p) if p.isdigit() else -1 for p in parts[1:])
            if not (0 <= j < n and _member(c, f, i, j) and c.inputs == [branch[j]]):
                return None
            fused[(i, j)] = c.outputs[0]
    outs = [c for c in rest if c.local.count(".") != 2]
    if set(fused) != {(i, j) for i in range(m) for j in range(n) if i != j}:
        return None
    a = outs[1].local.split(".")[0] if len(outs) > 1 else ""
    for i in range(m):
        add, act = outs[2 * i], outs[2 * i + 1]
        terms = [branch[j] if j == i else fused[(i, j)] for j in range(n)]
        if not (_plain_sum(add, terms) and _member(act, a, i) and act.inputs == add.outputs
                and act.outputs == [sn.exports[i]]):
            return None
    return Exchange(b, f, a)


def _plain_sum(c: Child, terms: list[str]) -> bool:
    """A node whose expression is the sum of exactly these values, in this order (`v0 + v1`)."""
    e = node_expr(c.node) if c.node is not None and c.inputs == terms else None
    names = [f"v{k}" for k in range(len(terms))]
    return e is not None and expression(e, names) == " + ".join(names)


def exchange_lines(ex: Exchange) -> list[str]:
    """The forward body (see the module's docstring), the loops' variables named after the lists."""
    names = Namespace(_TAKEN + (ex.branches, ex.fuse, ex.acts))
    branch = names.first(member_name(ex.branches)) or names.fresh("branch")
    fuse = names.first(member_name(ex.fuse)) or names.fresh("fuse_layer")
    return [f"x = [{branch}(x_i) for {branch}, x_i in zip(self.{ex.branches}, x)]",
            "x_fuse = []",
            f"for i, {fuse} in enumerate(self.{ex.fuse}):",
            f"    y = x[0] if i == 0 else {fuse}[0](x[0])",
            "    for j in range(1, len(x)):",
            f"        y = y + (x[j] if i == j else {fuse}[j](x[j]))",
            f"    x_fuse.append(self.{ex.acts}[i](y))",
            "return x_fuse"]


class Lists:
    """The lists a forward holds: those a block gives that `listed` (`x = self.stage2[0]([a, b])`),
    and those a run of a list's members makes, mapping one such list item for item (`runs`).
    Each list's items are values forward reads as `x[1]`; its variable lives while one is still read."""

    def __init__(self, tree: ScopeTree, probe: bool, live: Namespace, var: dict[str, str],
                 assigned: set[str]) -> None:
        self.tree, self.probe, self.live, self.var = tree, probe, live, var
        self.assigned = assigned                 # every variable forward gives (`forward._Forward.assigned`)
        self.holder: dict[str, str] = {}         # an item's ref -> its list's variable
        self.count: dict[str, int] = {}          # a list's variable -> its items still to be read
        self.mapped: dict[Child, str] = {}       # a run of members made one child -> their list
        self.climbed: dict[Child, str] = {}      # a climb (`climbs`) made one child -> its list

    def takes(self, c: Child) -> bool:
        """A block that takes a list (and gives one)."""
        return c.subscope is not None and listed(self.tree, c.sub, self.probe) is not None

    def runs(self, order: list[Child], full: dict[str, int]) -> list[Child]:
        """The children with each run of a list's members L.0 .. L.(n-1), the k-th reading item k
        alone of a list of n given before (all its items, in order), made one child that gives a
        list: `x = [incre_module(x_i) for incre_module, x_i in zip(self.incre_modules, x)]`."""
        given: list[list[str]] = []
        out: list[Child] = []
        i = 0
        while i < len(order):
            c = order[i]
            root = c.local.split(".")[0]
            run = order[i:i + full.get(root, 0)] if c.local == f"{root}.0" else []
            items = [r.inputs[0] for r in run if len(r.inputs) == 1]
            if run and items in given and all(r.local == f"{root}.{k}" and len(r.outputs) == 1
                                              for k, r in enumerate(run)):
                c = Child(root, items, [r.outputs[0] for r in run])
                self.mapped[c] = root
            if self.takes(c) or c in self.mapped:
                given.append(c.outputs)
            out.append(c)
            i += len(run) if c in self.mapped else 1
        return out

    def climbs(self, order: list[Child], full: dict[str, int]) -> list[Child]:
        """The children with each climb up a list's items made one child: members D.0 .. D.(n-1) of a list, D.0
        reading item 0 of a list of n + 1, each D.k followed by the sum of item k + 1 and its
        output, which D.(k + 1) reads (HRNet's head: `out = x[0]`, then `for i, downsamp_module in
        enumerate(self.downsamp_modules): out = x[i + 1] + downsamp_module(out)`)."""
        given = [c.outputs for c in order if self.takes(c) or c in self.mapped]
        out: list[Child] = []
        i = 0
        while i < len(order):
            c = order[i]
            root = c.local.split(".")[0]
            n = full.get(root, 0) if c.local == f"{root}.0" else 0
            items = next((g for g in given if len(g) == n + 1 and c.inputs == g[:1]), None)
            if n and items and self._climbs(root, order[i:i + 2 * n], items):
                c = Child(root, items, order[i + 2 * n - 1].outputs)
                self.climbed[c] = root
            out.append(c)
            i += 2 * n if c in self.climbed else 1
        return out

    def _climbs(self, root: str, steps: list[Child], items: list[str]) -> bool:
        """The steps are D.0, sum, D.1, sum, ...: D.k reads the value before alone, the sum adds
        item k + 1 and D.k's output, each read by the next step alone (the last sum aside)."""
        value = items[0]
        if len(steps) != 2 * len(items) - 2:
            return False
        for k in range(len(items) - 1):
            down, add = steps[2 * k], steps[2 * k + 1]
            if not (down.local == f"{root}.{k}" and down.inputs == [value] and len(down.outputs) == 1
                    and _plain_sum(add, [items[k + 1], down.outputs[0]])):
                return False
            value = add.outputs[0]
        inner = steps[:-1]           # every value but the last sum: read by the next step alone
        return all(set(self.tree.consumers.get(o, [])) <= self.tree.names_of(nxt) and o not in self.tree.output_refs
                   for c, nxt in zip(inner, steps[1:]) for o in c.outputs)

    def climbing(self, c: Child) -> str:
        """A climb's lines, its value in a variable of its own (no list's, no live one's)."""
        root, holder = self.climbed[c], self.holder[c.inputs[0]]
        v = self.live.first("out") or self.live.fresh("out")
        i = next(n for n in ("i", "k", "index") if self.live.usable(n) and n not in self.assigned)
        names = Namespace([holder, v, i, *self.assigned])
        d = names.first(member_name(root)) or names.fresh("module")
        self.var[c.outputs[0]] = v
        self.assigned.update((v, i, d))
        return f"{v} = {holder}[0]\nfor {i}, {d} in enumerate(self.{root}):\n    {v} = {holder}[{i} + 1] + {d}({v})"

    def mapping(self, c: Child) -> str:
        """A mapped run's comprehension over the list it maps."""
        root, holder = self.mapped[c], self.holder[c.inputs[0]]
        names = Namespace([holder, "x_i"])
        v = names.first(member_name(root)) or names.fresh("module")
        return f"[{v}(x_i) for {v}, x_i in zip(self.{root}, {holder})]"

    def hold(self, c: Child, expr: str, read: dict[str, int]) -> str:
        """`x = <expr>`: the child's outputs the items of a list (`x[1]`); `read`: the values read later."""
        v = self.live.first("x") or self.live.fresh("xs")
        for k, o in enumerate(c.outputs):
            self.var[o], self.holder[o] = f"{v}[{k}]", v
        self.count[v] = sum(o in read for o in c.outputs)
        self.assigned.add(v)
        return f"{v} = {expr}"

    def free(self, ref: str) -> None:
        """A dead value's variable may be given again; a list's, once no item of it is read later."""
        v = self.holder.get(ref)
        if v is None:
            self.live.release(self.var[ref])
            return
        self.count[v] -= 1
        if not self.count[v]:
            self.live.release(v)
