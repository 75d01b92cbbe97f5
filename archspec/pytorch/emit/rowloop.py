"""A run of an nn.Sequential's members of the top class built as torchvision's MobileNetV2 builds
its features: a loop over a table of rows, each row a block repeated, its first instance strided,
the width carried on from one to the next:

    layers = []
    layers.append(...)                      # the members before the run
    in_channels = 32
    for t, c, n, s in rows:
        for i in range(n):
            stride = s if i == 0 else 1
            layers.append(InvertedResidual(in_channels, t, c, stride))
            in_channels = c
    layers.append(...)                      # the members after it, their input width `in_channels`
    self.features = nn.Sequential(*layers)

The table is a spec parameter of rows of ints, its columns named after the block's parameters
that take the row (`args: "${rows[i]}"`: MobileNetV2's t, c, n, s): the block class's arguments
named as a column are the column's value, its `stride` the block's `let:` `s if first else 1`
(the row's first instance strided), its `residual` (where it takes one, a flag its class could
not decide itself: `ctorparams._decide_flags`) `stride == 1 and in_channels == c`. The loop is made
from data, the members' calls, and kept only where expanding it (`expand`) gives exactly those
calls, in order, so the state_dict is unchanged. The members outside it write a width the spec
computes from the table alone as it does (`table_slots`: EfficientNet's `rows[0][3]`), and so
does the loop's first width (`in_channels = rows[0][3]`, else its number)."""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import SpecError
from ...frontend.expr import evaluate
from ...ir import Graph, Scope
from ...names import Namespace
from ...ops.base import Call
from .blockloop import numbers
from .classes import ClassPlanner, number_origins, render_call
from .layout import WIDTH
from .lift import Unliftable
from .scopes import Child, located
from .stageloop import default
from .widthexpr import IN_WIDTH, OUT_WIDTH, TopWidths, top_env

Slots = list[str | None]
Rate = tuple[str, str, float, float]           # RowLoop.rate
RESIDUAL = "stride == 1 and {w} == {c}"         # the block's residual: its stride 1 and its width kept
RATE = "{p} * {b} / {total}"                    # block b's drop-path rate, its total `total_stage_blocks`
COUNT, STRIDE, UNREAD = "n", "s", "_"           # the loop's names of the columns no parameter names (`_given`)


@dataclass
class RowLoop:
    """The run members[start:end] of one block class: the template call, the table, its
    columns' names, which column is the count, the first stride and the output width, the first
    input width; `staged`: each row its own nn.Sequential (torchvision's EfficientNet); `rate`:
    (the block's argument, the top's parameter, its default, the total's offset) where the block
    takes a drop-path rate `p * b / (total - offset)`, b counting the blocks of all rows."""
    start: int
    end: int
    block: Call
    rows: tuple[tuple[int, ...], ...]
    columns: tuple[str, ...]
    count: int
    stride: int
    first: int
    out: int
    staged: bool = False
    rate: Rate | None = None


def _call(loop: RowLoop, row: dict[str, int], width: int, stride: int, b: int) -> Call:
    """The block's call for one instance: its width, the row's columns, its stride, its rate (and residual)."""
    c, rate = row[loop.columns[loop.out]], loop.rate
    p = None if rate is None else rate[2] * b / (sum(r[loop.count] for r in loop.rows) - rate[3])
    given = {"in_channels": width, "stride": stride, **({rate[0]: p} if rate else {})}
    args = tuple((n, given[n] if n in given else row[n]) for n, _ in loop.block.args)
    kwargs = tuple((n, stride == 1 and width == c if n == "residual" else v, d) for n, v, d in loop.block.kwargs)
    return loop.block._replace(args=args, kwargs=kwargs)


def expand(loop: RowLoop) -> list[Call]:
    """The members the loop builds: its blocks, or (staged) one nn.Sequential of them a row."""
    out: list[Call] = []
    width, b = loop.first, 0
    for values in loop.rows:
        row = dict(zip(loop.columns, values))
        stage = []
        for i in range(values[loop.count]):
            stage.append(_call(loop, row, width, values[loop.stride] if i == 0 else 1, b))
            width, b = values[loop.out], b + 1
        out += [Call("nn.Sequential", tuple((str(k), m) for k, m in enumerate(stage)))] if loop.staged else stage
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


def _columns(scope: Scope, table: str, width: int) -> tuple[tuple[str, ...], int] | None:
    """The table's columns' names and its stride column: the block's parameters that take the row
    (`args: "${rows[i]}"`), its `stride` a `let:` `s if first else 1`; else those `_given`."""
    args = tuple(list(scope.args)[:width])
    stride = _stride_column(scope.let_exprs, args) if len(args) == width else None
    return (args, stride) if stride is not None else _given(scope, table, width)


def _given(scope: Scope, table: str, width: int) -> tuple[tuple[str, ...], int] | None:
    """The columns of a block given a parameter each, `t: "${rows[i][0]}"`, its stride its row's
    at the repeat's first step, `stride: "${rows[i][3] if j == 0 else 1}"`, its repeat's count
    one, `repeat: ${rows[i][2]}`: named after the parameters, the count `n`, the first stride `s`
    (torchvision's MobileNetV2's `for t, c, n, s in ...`), any column else `_`; None where the
    parameters read the table otherwise, or a name is met twice."""
    index, row, columns = scope.index, set[str](), [UNREAD] * width

    def cell(e: ast.expr) -> int | None:        # `table[i][k]`: k
        inner = e.value if isinstance(e, ast.Subscript) else None
        if not (isinstance(inner, ast.Subscript) and isinstance(inner.value, ast.Name) and inner.value.id == table
                and isinstance(inner.slice, ast.Name) and isinstance(e, ast.Subscript)
                and isinstance(e.slice, ast.Constant) and type(e.slice.value) is int and 0 <= e.slice.value < width):
            return None
        row.add(inner.slice.id)
        return e.slice.value

    def first(e: ast.expr) -> int | None:       # `table[i][k] if j == 0 else 1`: k
        ok = isinstance(e, ast.IfExp) and index is not None and ast.unparse(e.test) == f"{index} == 0" \
            and ast.unparse(e.orelse) == "1"
        return cell(e.body) if ok and isinstance(e, ast.IfExp) else None

    stride = None
    for name, text in [*scope.arg_exprs.items(), (COUNT, scope.count or "")]:
        e = _parsed(text)
        k = None if e is None else first(e) if name == "stride" else cell(e)
        if k is None:
            continue
        if columns[k] != UNREAD:
            return None
        columns[k] = STRIDE if name == "stride" else name
        stride = k if name == "stride" else stride
    named = [c for c in columns if c != UNREAD]
    if stride is None or COUNT not in named or len(row) != 1 or index in row or len(set(named)) != len(named):
        return None
    return tuple(columns), stride


def _run(members: list[Call]) -> tuple[int, int, bool, list[Call]] | None:
    """The first run of one block class: (start, end, staged, its blocks), the members either the
    blocks themselves or nn.Sequentials of them, one a row."""
    def blocks(m: Call) -> list[Call] | None:
        if not m.fn.startswith("nn."):
            return [m]
        inner = [v for _, v in m.args]
        ok = m.fn == "nn.Sequential" and inner and all(
            isinstance(v, Call) and not v.fn.startswith("nn.") for v in inner)
        return inner if ok else None
    runs = [blocks(m) or [] for m in members]
    start = next((k for k, r in enumerate(runs) if r), None)
    if start is None:
        return None
    staged, fn = members[start].fn == "nn.Sequential", runs[start][0].fn
    end, found = start, list[Call]()
    while end < len(runs) and runs[end] and (members[end].fn == "nn.Sequential") == staged and all(
            m.fn == fn for m in runs[end]):
        found += runs[end]
        end += 1
    return start, end, staged, found


def _table(g: Graph) -> str | None:
    """The spec parameter that is a table of rows of ints."""
    return next((k for k, v in g.meta.params.items() if isinstance(v, list) and v and all(
        isinstance(r, list) and r and all(type(x) is int for x in r) for r in v)), None)


def row_loop(g: Graph, target: str, members: list[Call],
             rates: tuple[Rate, ...] = ()) -> tuple[str, RowLoop] | None:
    """(the table's spec parameter, the loop that builds a run of the members), or None; `rates`:
    the drop-path rates the block's argument may take (`RowLoop.rate`)."""
    run, config = _run(members), _table(g)
    if run is None or config is None:
        return None
    start, end, staged, blocks = run
    scope = g.scopes.get(f"{target}.{start}" + (".0" if staged else ""))
    if scope is None:
        return None
    rows = tuple(tuple(r) for r in g.meta.params[config])
    found, block = _columns(scope, config, len(rows[0])), blocks[0]
    if found is None:
        return None
    (columns, stride), names = found, [n for n, _ in block.args]
    extra = [n for n in names if n not in ("in_channels", "stride", *columns)]
    if any(len(r) != len(columns) for r in rows) or names[:1] != ["in_channels"] or "stride" not in names \
            or len(extra) > 1 or any(n != "residual" for n, _, _ in block.kwargs):
        return None
    if any(type(v) is not int for n, v in block.args if n not in extra):
        return None
    for rate in [r for r in rates if extra == [r[0]]] if extra else [None]:
        for count in [k for k, n in enumerate(columns) if n not in (*names, UNREAD) and k != stride]:
            for out in [k for k, n in enumerate(columns) if n in names]:
                loop = RowLoop(start, end, block, rows, columns, count, stride, numbers(block)[0], out, staged, rate)
                if expand(loop) == members[start:end]:
                    return config, loop
    return None


Render = Callable[[Call, Slots, str, int, int], str]


def loop_lines(target: str, loop: RowLoop, config: str, members: list[Call], slots: list[Slots],
               names: dict[str, str], render: Render, start: str | None = None) -> list[str]:
    """__init__'s lines: the members before the run appended, the loop, the members after it
    appended, their numbers equal to the last width and named `in_channels` (the first: its conv's
    input) written as the width the loop carried on; `names` the free locals; `start` the run's
    input width as the spec computes it from the table (`rows[0][3]`), else its number."""
    layers, width = names["layers"], names["in_channels"]
    lines = [f"        {layers} = []"]
    lines += [append_line(layers, m, s, render) for m, s in zip(members[:loop.start], slots[:loop.start])]
    lines += [f"        {width} = {start or loop.first}", *_loop(loop, config, names, render)]
    last = loop.rows[-1][loop.out]
    for m, s in zip(members[loop.end:], slots[loop.end:]):
        first = next((k for k, (n, v) in enumerate(_numbers(m)) if n.endswith("in_channels")), None)
        mine = [width if k == first and v == last and t is None else t
                for k, ((_, v), t) in enumerate(zip(_numbers(m), s))]
        lines.append(append_line(layers, m, mine, render))
    if any(len(x) > WIDTH for line in lines for x in line.split("\n")):
        return []
    return lines + [f"        self.{target} = nn.Sequential(*{layers})"]


def _loop(loop: RowLoop, config: str, names: dict[str, str], render: Render) -> list[str]:
    """The loop itself: `for t, c, n, s in rows:` / `for i in range(n):`, each block appended to
    `layers`, or (staged) to a row's `stage` appended as an nn.Sequential; where the blocks take
    a drop-path rate, torchvision's `total_stage_blocks` and `stage_block_id` before it."""
    width, i, stride, cols = names["in_channels"], names["i"], names["stride"], loop.columns
    text = {"in_channels": width, "stride": stride, **({loop.rate[0]: names["sd_prob"]} if loop.rate else {})}
    block = render(loop.block._replace(kwargs=()), [text.get(n, n) for n, _ in loop.block.args], "", 0, 0)
    residual = [f"{names['residual']}={names['residual']}"] if loop.block.kwargs else []
    block = f"{block[:-1]}, {residual[0]})" if residual else block
    ind, add = " " * 16, names["stage"] if loop.staged else names["layers"]
    total, b = names["total_stage_blocks"], names["stage_block_id"]
    rated = [loop.rate] if loop.rate else []
    lines = [line for r in rated for line in (
        f"        {total} = sum({names['row']}[{loop.count}] for {names['row']} in {config})", f"        {b} = 0")]
    lines += [f"        for {', '.join(cols)} in {config}:", *[f"            {add} = []" for _ in [loop.staged] if _],
              f"            for {i} in range({cols[loop.count]}):",
              f"{ind}{stride} = {cols[loop.stride]} if {i} == 0 else 1",
              *[f"{ind}{names['residual']} = {RESIDUAL.format(w=width, c=cols[loop.out])}" for _ in residual],
              *[f"{ind}{names['sd_prob']} = " + RATE.format(p=r[1], b=b, total=f"({total} - {r[3]})" if r[3] else total)
                for r in rated],
              f"{ind}{add}.append({block})", *[f"{ind}{b} += 1" for _ in rated], f"{ind}{width} = {cols[loop.out]}"]
    return lines + [f"            {names['layers']}.append(nn.Sequential(*{add}))" for _ in [loop.staged] if _]


def append_line(layers: str, m: Call, slots: Slots, render: Render, indent: int = 8) -> str:
    """`layers.append(Module(...))` laid out as ruff does: on one line, else the call exploded
    inside the parentheses."""
    ind = " " * indent
    one = render(m, slots, ind, len(layers) + 15 + indent - 8, 1)
    if "\n" not in one:
        return f"{ind}{layers}.append({one})"
    return f"{ind}{layers}.append(\n{ind}    {render(m, slots, ind + ' ' * 4, 0, 0)}\n{ind})"


def _numbers(call: Call) -> list[tuple[str, Any]]:
    return ClassPlanner.numbers_in(call)


def local_names(taken: Namespace, config: str, columns: tuple[str, ...]) -> dict[str, str] | None:
    """The loop's locals ("layers", "in_channels", "i", "stride", torchvision's EfficientNet's),
    its columns (but those it does not read, `_`) and its table, each free in __init__ (its
    parameters and `let:` locals: `taken`); None where one is taken."""
    wanted = ("layers", "in_channels", "i", "stride", "residual", "stage", "sd_prob", "total_stage_blocks",
              "stage_block_id", "row", *[c for c in columns if c != UNREAD], config)
    if len(set(wanted)) != len(wanted) or not all(taken.usable(n) for n in wanted):
        return None
    return {n: str(taken.first(n)) for n in wanted}


def rates(members: list[Call], slots: list[Slots], defaults: dict[str, Any]) -> tuple[Rate, ...]:
    """The drop-path rates the run's blocks may take (`RowLoop.rate`): the one argument whose
    written numbers differ from block to block, each reading one float parameter of the top class
    (and the spec's index), over the blocks of all rows or all but one."""
    written: dict[str, set[str]] = {}
    for m, s in zip(members, slots):
        for (n, _), t in zip(_numbers(m), s):
            if t is not None:
                written.setdefault(member(n)[1], set()).add(t)
    varying = [a for a, texts in written.items() if len(texts) > 1]
    params = {p for a in varying for t in written[a] for p in _names(t) if isinstance(defaults.get(p), float)}
    if len(params) != 1 or len(varying) != 1:
        return ()
    p = params.pop()
    return tuple((varying[0], p, defaults[p], offset) for offset in (0.0, 1.0))


def _written(loop: RowLoop, slots: list[Slots], members: list[Call]) -> bool:
    """The members' written numbers are only the blocks' rates, each `p * b / (total - offset)`
    for any p: block b of the run, the spec's index (its one other name) its place in its row."""
    places = [i for r in loop.rows for i in range(r[loop.count])]
    total, at = len(places) - (loop.rate[3] if loop.rate else 0), 0
    for k, (m, s) in enumerate(zip(members, slots)):
        run = loop.start <= k < loop.end
        for (n, _), t in zip(_numbers(m), s):
            place, arg = member(n)
            if t is None:
                continue
            if not (loop.rate and run and arg == loop.rate[0]):
                return False
            b = at + (place if loop.staged else 0)
            if not rate_is(t, loop.rate[1], b, places[b], total):
                return False
        at += (len(m.args) if loop.staged else 1) if run else 0
    return True


def rate_is(text: str, p: str, b: int, place: int, total: float) -> bool:
    """`text` is block b's rate `p * b / total` for any p, the spec's index (its one other name)
    the block's place in its stage."""
    index = _names(text) - {p}
    return len(index) <= 1 and all(_value(text, {p: x, **dict.fromkeys(index, place)}) == x * b / total
                                   for x in (0.37, 1.0))


def member(name: str) -> tuple[int, str]:
    """(the block's place in its nn.Sequential, its argument) of a number's name (`_numbers`:
    `_1_stochastic_depth_prob` in a row's nn.Sequential, `_stochastic_depth_prob` in a block)."""
    m = re.fullmatch(r"_(?:(\d+)_)?(\w+)", name)
    return (int(m[1] or 0), m[2]) if m else (0, name)


def _value(text: str, env: dict[str, Any]) -> Any:
    """The arithmetic `text` (names, numbers, + - * /, parentheses) at `env`; None where it is other."""
    e = ast.parse(text, mode="eval")
    if not all(isinstance(n, (ast.Expression, ast.BinOp, ast.Name, ast.Constant, ast.Load, ast.Add, ast.Sub,
                              ast.Mult, ast.Div)) for n in ast.walk(e)):
        return None
    return eval(compile(e, "<rate>", "eval"), {"__builtins__": {}}, env)


def _parsed(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        return None


def _names(text: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


def table_slots(g: Graph, table: str, call: Call, c: Child, slots: Slots) -> Slots:
    """The slots of a call of the top class's outside its row loop, each width written as a number
    (None) that the spec computes from the table alone written as it does (`TopWidths`), as
    torchvision's EfficientNet computes its first conv's width from its config's first row and
    its last conv's from its last: `rows[0][3]`, `4 * rows[-1][4]` (the table's other values
    build another network: a number would not follow them)."""
    widths, out = TopWidths(g, table=table), list(slots)
    for k, (origin, (_, value)) in enumerate(zip(number_origins(call, c), _numbers(call))):
        node = origin[0].node if origin is not None and out[k] is None else None
        if node is not None and origin is not None and origin[1] in (*IN_WIDTH, *OUT_WIDTH) and (
                origin[1] in OUT_WIDTH or node.inputs):
            out[k] = table_width(widths, table, node.name if origin[1] in OUT_WIDTH else node.inputs[0], value,
                                 origin[1] in OUT_WIDTH)
    return out


def table_width(widths: TopWidths, table: str, ref: str, value: int, out: bool = False) -> str | None:
    """The width of tensor `ref` (what node `ref`'s `out` sets, where `out`) as the spec computes
    it from the table alone (`rows[0][3]`), where that gives `value`; else None (a number)."""
    widths.folded = set()
    try:
        text = widths.out_of(ref) if out else widths.of(ref)
        same = evaluate(text, top_env(widths.g)) == value
    except (Unliftable, SpecError, IndexError):
        return None
    return text if same and not widths.folded and _names(text) == {table} else None


def rowed(g: Graph, c: Child, call: Call, slots: Slots, taken: Namespace, params: list[str],
          defaults: dict[str, Any]) -> tuple[str, str] | None:
    """The top class's nn.Sequential child `call` (its numbers all written as values: `slots`,
    but for the blocks' drop-path rates, `rates`) with a run of blocks built by a loop over the
    spec's row table, the table added to `params`: (its lines, the table), or None where no loop
    builds it. The members outside the run write the widths the spec computes from the table
    so (`table_slots`)."""
    members = [m for _, m in call.args]
    if not all(isinstance(m, Call) for m in members):
        return None
    counts = [len(_numbers(m)) for m in members]
    per = [slots[sum(counts[:k]):sum(counts[:k + 1])] for k in range(len(counts))]
    found = row_loop(g, c.local, members, rates(members, per, defaults))
    if found is None:
        return None
    config, loop = found
    names = local_names(taken, config, loop.columns)
    if names is None or config in params or not _written(loop, per, members):
        return None
    inside, sequential = range(loop.start, loop.end), c.subscope is not None and c.sub.sequential
    per = [[None] * len(_numbers(m)) if k in inside or not sequential else
           table_slots(g, config, m, c.sub.children[k], [None] * len(_numbers(m))) for k, m in enumerate(members)]
    run = c.sub.children[loop.start].sub if sequential and c.sub.children[loop.start].subscope is not None else None
    first = table_width(TopWidths(g, table=config), config, run.inputs[0], loop.first) if run and run.inputs else None
    with located(c):
        lines = loop_lines(c.local, loop, config, members, per, names,
                           lambda m, s, indent, start, end: render_call(m, iter(s), indent, start, end), first)
    if not lines:
        return None
    params.append(default(config, loop.rows))
    return "\n".join(lines), config
