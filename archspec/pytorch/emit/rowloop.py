"""A run of an nn.Sequential's members of the top class built as torchvision's MobileNetV2 builds
its features: a loop over a table of rows, each row a block repeated, its first instance strided,
the width carried on from one to the next:

    layers = []
    layers.append(...)                      # the members before the run
    in_channels = 32
    for t, c, n, s in rows:
        for i in range(n):
            stride = s if i == 0 else 1
            layers.append(InvertedResidual(in_channels, t, c, stride, residual=...))
            in_channels = c
    layers.append(...)                      # the members after it, their input width `in_channels`
    self.features = nn.Sequential(*layers)

The table is a spec parameter of rows of ints, its columns named after the block's parameters
that take the row (`args: "${rows[i]}"`: MobileNetV2's t, c, n, s): the block class's arguments
named as a column are the column's value, its `stride` the block's `let:` `s if first else 1`
(the row's first instance strided), its `residual` (where it takes one) `stride == 1 and
in_channels == c`. The loop is made from data, the members' calls, and kept only where expanding it
(`expand`) gives exactly those calls, in order, so the state_dict is unchanged."""
from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...ir import Graph
from ...names import Namespace
from ...ops.base import Call
from .blockloop import numbers
from .classes import ClassPlanner, render_call
from .layout import WIDTH
from .scopes import Child, located
from .stageloop import default

Slots = list[str | None]
RESIDUAL = "stride == 1 and {w} == {c}"         # the block's residual: its stride 1 and its width kept


@dataclass
class RowLoop:
    """The run members[start:end] of one block class: the template call, the table, its
    columns' names, which column is the count and which the first stride, the first input width."""
    start: int
    end: int
    block: Call
    rows: tuple[tuple[int, ...], ...]
    columns: tuple[str, ...]
    count: int
    stride: int
    first: int


def _call(block: Call, row: dict[str, int], width: int, stride: int) -> Call:
    """The block's call for one instance: its width, the row's columns, its stride (and residual)."""
    args = tuple((n, width if n == "in_channels" else stride if n == "stride" else row[n]) for n, _ in block.args)
    kwargs = tuple((n, stride == 1 and width == row["c"] if n == "residual" else v, d) for n, v, d in block.kwargs)
    return block._replace(args=args, kwargs=kwargs)


def expand(loop: RowLoop) -> list[Call]:
    """The members the loop builds."""
    out: list[Call] = []
    width = loop.first
    for values in loop.rows:
        row = dict(zip(loop.columns, values))
        for i in range(values[loop.count]):
            out.append(_call(loop.block, row, width, values[loop.stride] if i == 0 else 1))
            width = row["c"]
    return out


def _stride_column(lets: dict[str, str], columns: tuple[str, ...]) -> int | None:
    """The column the block's `stride` let takes for a row's first instance (`s if first else 1`)."""
    try:
        e = ast.parse(lets.get("stride", ""), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(e, ast.IfExp) and isinstance(e.body, ast.Name) and e.body.id in columns):
        return None
    ok = isinstance(e.orelse, ast.Constant) and type(e.orelse.value) is int and e.orelse.value == 1
    return columns.index(e.body.id) if ok else None


def row_loop(g: Graph, target: str, members: list[Call]) -> tuple[str, RowLoop] | None:
    """(the table's spec parameter, the loop that builds a run of the members), or None."""
    fns = [m.fn if isinstance(m, Call) and not m.fn.startswith("nn.") else None for m in members]
    fn = next((f for f in fns if f is not None), None)
    if fn is None:
        return None
    start = fns.index(fn)
    end = start
    while end < len(fns) and fns[end] == fn:
        end += 1
    scope = g.scopes.get(f"{target}.{start}")
    config = next((k for k, v in g.meta.params.items() if isinstance(v, list) and v and all(
        isinstance(r, list) and r and all(type(x) is int for x in r) for r in v)), None)
    if scope is None or config is None:
        return None
    rows = tuple(tuple(r) for r in g.meta.params[config])
    columns = tuple(list(scope.args)[:len(rows[0])])
    block = members[start]
    if len(columns) != len(rows[0]) or any(len(r) != len(columns) for r in rows) or "c" not in columns:
        return None
    names = [n for n, _ in block.args]
    if names[:1] != ["in_channels"] or "stride" not in names or any(
            n not in ("in_channels", "stride", *columns) for n in names) or any(
            n != "residual" for n, _, _ in block.kwargs):
        return None
    stride = _stride_column(scope.let_exprs, columns)
    left = [k for k, n in enumerate(columns) if n not in names and k != stride]
    if stride is None or len(left) != 1 or any(type(v) is not int for _, v in block.args):
        return None
    loop = RowLoop(start, end, block, rows, columns, left[0], stride, numbers(block)[0])
    return (config, loop) if expand(loop) == members[start:end] else None


Render = Callable[[Call, Slots, str, int, int], str]


def loop_lines(target: str, loop: RowLoop, config: str, members: list[Call], slots: list[Slots],
               names: dict[str, str], render: Render) -> list[str]:
    """__init__'s lines: the members before the run appended, the loop, the members after it
    appended, their numbers equal to the last width and named `in_channels` (the first: its conv's
    input) written as the width the loop carried on; `names` the free locals."""
    layers, width, i, stride = names["layers"], names["in_channels"], names["i"], names["stride"]
    cols = loop.columns
    lines = [f"        {layers} = []"]
    lines += [_append(layers, m, s, render) for m, s in zip(members[:loop.start], slots[:loop.start])]
    text = {"in_channels": width, "stride": stride}
    block = render(loop.block._replace(kwargs=()), [text.get(n, n) for n, _ in loop.block.args], "", 0, 0)
    ind, residual = " " * 16, [f"{names['residual']}={names['residual']}"] if loop.block.kwargs else []
    block = f"{block[:-1]}, {residual[0]})" if residual else block
    lines += [f"        {width} = {loop.first}", f"        for {', '.join(cols)} in {config}:",
              f"            for {i} in range({cols[loop.count]}):",
              f"{ind}{stride} = {cols[loop.stride]} if {i} == 0 else 1",
              *[f"{ind}{names['residual']} = {RESIDUAL.format(w=width, c='c')}" for _ in residual],
              f"{ind}{layers}.append({block})", f"{ind}{width} = c"]
    last = loop.rows[-1][cols.index("c")]
    for m, s in zip(members[loop.end:], slots[loop.end:]):
        first = next((k for k, (n, v) in enumerate(_numbers(m)) if n.endswith("in_channels")), None)
        mine = [width if k == first and v == last and t is None else t
                for k, ((_, v), t) in enumerate(zip(_numbers(m), s))]
        lines.append(_append(layers, m, mine, render))
    if any(len(x) > WIDTH for line in lines for x in line.split("\n")):
        return []
    return lines + [f"        self.{target} = nn.Sequential(*{layers})"]


def _append(layers: str, m: Call, slots: Slots, render: Render) -> str:
    """`layers.append(Module(...))` laid out as ruff does: on one line, else the call exploded
    inside the parentheses."""
    one = render(m, slots, " " * 8, len(layers) + 15, 1)
    if "\n" not in one:
        return f"        {layers}.append({one})"
    return f"        {layers}.append(\n            {render(m, slots, ' ' * 12, 0, 0)}\n        )"


def _numbers(call: Call) -> list[tuple[str, Any]]:
    return ClassPlanner.numbers_in(call)


def local_names(taken: Namespace, config: str, columns: tuple[str, ...]) -> dict[str, str] | None:
    """The loop's locals ("layers", "in_channels", "i", "stride"), its columns and its table, each
    free in __init__ (its parameters and `let:` locals: `taken`); None where one is taken."""
    wanted = ("layers", "in_channels", "i", "stride", "residual", *columns, config)
    if len(set(wanted)) != len(wanted) or not all(taken.usable(n) for n in wanted):
        return None
    return {n: str(taken.first(n)) for n in wanted}


def rowed(g: Graph, c: Child, call: Call, slots: Slots, taken: Namespace, params: list[str]) -> str | None:
    """The top class's nn.Sequential child `call` (its numbers all written as values: `slots`)
    with a run of blocks built by a loop over the spec's row table, the table added to `params`;
    None where no loop builds it."""
    members = [m for _, m in call.args]
    if any(s is not None for s in slots) or not all(isinstance(m, Call) for m in members):
        return None
    found = row_loop(g, c.local, members)
    if found is None:
        return None
    config, loop = found
    names = local_names(taken, config, loop.columns)
    if names is None or config in params:
        return None
    per: list[Slots] = [[None] * len(_numbers(m)) for m in members]
    with located(c):
        lines = loop_lines(c.local, loop, config, members, per, names,
                           lambda m, s, indent, start, end: render_call(m, iter(s), indent, start, end))
    if not lines:
        return None
    params.append(default(config, loop.rows))
    return "\n".join(lines)
