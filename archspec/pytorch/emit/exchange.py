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
