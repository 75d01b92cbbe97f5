"""forward over an nn.ModuleList's members as timm writes it, where the lines for the members are
alike but for the member:
- members that all read the same values, run one after the other, whose outputs only the next
  step reads, as one list in member order (SKNet's paths stacked), are a comprehension in that
  step's call: `torch.stack([path(x) for path in self.paths], 1)`;
- a stretch of lines repeated once per member of one or more lists (the k-th stretch calling
  the k-th members, each reading what the stretch before left) is a for loop over the lists:
  `for conv, bn in zip(self.convs, self.bns):`.
Either runs the same calls in the same order as the unrolled lines, so the numbers are equal.
A list qualifies only where forward calls its members 0, 1, ..., n - 1 (one level, no gap): iterating
the nn.ModuleList visits exactly them. The loop variables are named after the list (`paths` ->
`path`) through the forward's Namespace."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...names import Namespace, name_problem
from ...ops.base import Arg
from .expr import Verbatim, node_expr
from .scopes import Child, ScopeNode, ScopeTree, own_children

_MEMBER_CALL = re.compile(r"self\.([A-Za-z][A-Za-z0-9_]*)\[(\d+)\]\(")      # self.convs[0](
_WORD = re.compile(r"\w+")
_STATEMENT = re.compile(r"[A-Za-z_]\w* \+?= ")    # an assignment at forward's top level (no block's body)
_ASSIGN = re.compile(r"([A-Za-z_]\w*) = (.+)")
FALLBACK = "module"                         # a member's variable where its list's name is no plural


def lists(sn: ScopeNode) -> dict[str, int]:
    """The scope's nn.ModuleLists: name -> n, its number of members. A loop or comprehension is
    made only where forward calls `self.name[k](...)` for every k in 0 .. n-1, so the list is
    exactly those members: one with a gap (None) lacks one of them, and the members of a list in a
    list are called `self.name[k][j](...)`."""
    return {c.local: len(c.members) for c in own_children(sn) if c.members}


def member_name(root: str) -> str:
    """A member's variable, its list's name in the singular (paths -> path, branches -> branch,
    fuse_layers -> fuse_layer), a numbered list's without its number (HRNet's transition1 ->
    transition), else `module`."""
    stem = root.rstrip("0123456789")
    if stem != root:
        return stem
    for plural, one in (("ches", "ch"), ("shes", "sh"), ("sses", "ss"), ("xes", "x")):
        if root.endswith(plural):
            return root[:-len(plural)] + one
    return root[:-1] if root.endswith("s") and not root.endswith("ss") and len(root) > 1 else FALLBACK


# -- a comprehension in the call that reads the members' outputs ---------------------------

@dataclass(eq=False)
class Gather:
    """List members gathered in one call: the list, and the list literal of the call's
    expression (the members' outputs, Arg(0) .. Arg(n-1)) that their comprehension replaces."""
    root: str
    items: list[Arg]


def gathers(tree: ScopeTree, sn: ScopeNode, order: list[Child], full: dict[str, int],
            optional: set[str], takes_list: Callable[[Child], bool]) -> tuple[list[Child], dict[Child, Gather]]:
    """The children in order with each gathered run of members and its reader made one child
    (the reader's node, or its block that `takes_list` as its one argument, reading what the
    members read), and what each such child gathers. A reader that some instances lack
    (`optional`) gathers nothing: where it is absent, another value stands for it, which may be a
    member's. `full`: the scope's `lists`."""
    if not full:
        return order, {}
    out: list[Child] = []
    found: dict[Child, Gather] = {}
    i = 0
    while i < len(order):
        c = order[i]
        root = c.local.split(".")[0]
        n = full.get(root, 0) if c.local == f"{root}.0" else 0
        g = (_gather(tree, sn, order[i:i + n], order[i + n], takes_list)
             if 2 <= n and i + n < len(order) and order[i + n].local not in optional else None)
        if g is None:
            out.append(c)
            i += 1
            continue
        reader = order[i + n]
        merged = Child(reader.local, list(c.inputs), list(reader.outputs), node=reader.node,
                       subscope=reader.subscope, module=reader.subscope is not None)
        out.append(merged)
        found[merged] = g
        i += n + 1
    return out, found


def _gather(tree: ScopeTree, sn: ScopeNode, run: list[Child], reader: Child,
            takes_list: Callable[[Child], bool]) -> Gather | None:
    """The run of a list's members, in index order, each a module reading the same values, whose
    outputs only `reader` reads, once each, as one list literal of its expression, or as the list
    a block takes (HRNet's `self.stage2[0]([transition(x) for transition in self.transition1])`)."""
    root = run[0].local.split(".")[0]
    outs = [c.outputs[0] for c in run if len(c.outputs) == 1]
    if (len(outs) != len(run) or any(c.local != f"{root}.{k}" or not c.module or c.param or not c.inputs
                                     or c.inputs != run[0].inputs for k, c in enumerate(run))):
        return None
    if reader.subscope is not None and takes_list(reader):
        return Gather(root, []) if reader.inputs == outs and all(
            o not in sn.exports and set(tree.consumers.get(o, [])) <= reader.sub.names for o in outs) else None
    n = reader.node
    if (n is None or reader.module or reader.param or reader.inputs != outs
            or any(o in sn.exports or o in tree.output_refs or tree.consumers.get(o) != [n.name] for o in outs)):
        return None
    e = node_expr(n, tree.inplace(n))
    items = [Arg(k) for k in range(len(outs))]
    return Gather(root, items) if holds(e, items) else None


def holds(e: Any, items: list[Arg]) -> bool:
    """The expression places the list `items` once, and no other input."""
    return _lists_of(e, items) == 1 and _args(e) == len(items)


def _lists_of(v: Any, items: list[Arg]) -> int:
    """How many times the list `items` stands in an expression."""
    if isinstance(v, list):
        return int(v == items) + sum(_lists_of(x, items) for x in v)
    if isinstance(v, tuple) and not isinstance(v, (Arg, Verbatim)):     # a Call, its arguments
        return sum(_lists_of(x, items) for x in v)
    return 0


def _args(v: Any) -> int:
    """How many Args an expression places."""
    if isinstance(v, Arg):
        return 1
    if isinstance(v, (list, tuple)) and not isinstance(v, Verbatim):
        return sum(map(_args, v))
    return 0


def gathered(v: Any, items: list[Arg], by: Verbatim) -> Any:
    """The expression with the list `items` written as `by`."""
    if isinstance(v, list):
        return by if v == items else [gathered(x, items, by) for x in v]
    if isinstance(v, tuple) and not isinstance(v, (Arg, Verbatim)):
        parts = [gathered(x, items, by) for x in v]
        return type(v)(*parts) if hasattr(v, "_fields") else tuple(parts)
    return v


def comprehension(root: str, args: list[str], taken: Namespace) -> str:
    """`[path(x) for path in self.paths]`: the variable named after the list, none of the
    values it reads nor a variable of forward."""
    names = Namespace(args)       # (the comprehension's own scope: a name taken outside it would only be hidden)
    var = next((v for v in (member_name(root), FALLBACK) if taken.usable(v) and names.usable(v)), None)
    var = var or names.fresh(FALLBACK)
    return f"[{var}({', '.join(args)}) for {var} in self.{root}]"


# -- a for loop over stretches of lines alike but for the member ---------------------------

def member_loops(lines: list[str], full: dict[str, int]) -> list[str]:
    """The lines with each run of stretches alike but for the members they call made a for loop."""
    for root, n in full.items():
        if n >= 2:
            lines = _loop(lines, root, n, full)
    return lines


def _loop(lines: list[str], root: str, n: int, full: dict[str, int]) -> list[str]:
    """The lines with the stretches calling the list's members, once each, in order, made a loop
    where they are alike (the loop's variables for the members) and plain statements; the stretch
    may start before its member's call (the step's other lines)."""
    at = [next((j for j, line in enumerate(lines) if f"self.{root}[{k}](" in line), -1) for k in (0, 1)]
    period = at[1] - at[0]          # stretch k, alike the others but for its members, calls member k
    if at[0] < 0 or period <= 0:    # (no stretch could be: said early)
        return lines
    words = set(_WORD.findall("\n".join(lines)))
    for start in range(at[0], max(at[0] - period, -1), -1):
        end = start + n * period
        roots = [m[1] for m in _MEMBER_CALL.finditer("\n".join(lines[start:start + period]))]
        roots = list(dict.fromkeys(roots))
        if end > len(lines) or not all(full.get(r) == n for r in roots):
            continue
        names = Namespace(words)
        var = {r: names.first(member_name(r)) or names.fresh(FALLBACK) for r in roots}
        stretches = [[_with_vars(line, k, var) for line in lines[start + k * period:start + (k + 1) * period]]
                     for k in range(n)]
        body = stretches[-1]
        entry = [] if stretches[0] == body else _entry(stretches[0], body)
        if entry is not None and all(s == body for s in stretches[1:]) and all(map(_STATEMENT.match, body)):
            head = (f"for {var[roots[0]]} in self.{roots[0]}:" if len(roots) == 1 else
                    f"for {', '.join(var.values())} in zip({', '.join(f'self.{r}' for r in roots)}):")
            return lines[:start] + entry + [head, *(f"    {line}" for line in body)] + lines[end:]
    return lines


def _entry(first: list[str], body: list[str]) -> list[str] | None:
    """Where the first stretch starts the chain from another value (`out = conv(stem)` where the
    others read `out = conv(out)`): `out = stem` before the loop, which makes it the others'."""
    m = _ASSIGN.fullmatch(body[0])
    if m is None or first[1:] != body[1:]:
        return None
    target, rhs = m[1], m[2]
    other = _ASSIGN.fullmatch(first[0])
    if other is None or other[1] != target:
        return None
    new = set(_WORD.findall(other[2])) - set(_WORD.findall(rhs))
    start = next(iter(new)) if len(new) == 1 else ""
    if name_problem(start, generated=True) or _renamed(rhs, target, start) != other[2]:
        return None
    return [f"{target} = {start}"]


def _renamed(text: str, old: str, new: str) -> str:
    """The text with every word `old` made `new`."""
    return _WORD.sub(lambda m: new if m[0] == old else m[0], text)


def _with_vars(line: str, k: int, var: dict[str, str]) -> str:
    """A line of the k-th stretch with its calls of the k-th members made calls of the loop's variables."""
    return _MEMBER_CALL.sub(lambda m: f"{var[m[1]]}(" if m[1] in var and m[2] == str(k) else m[0], line)
