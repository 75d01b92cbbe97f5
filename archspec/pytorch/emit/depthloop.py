"""A run of the top class's nn.Sequential members built as torchvision's ConvNeXt builds its
features: a loop over two configuration lists, each stage's width and its depth, a stage an
nn.Sequential of blocks, a downsampling layer between two stages, each block's drop-path rate from
a counter over all stages' blocks:

    layers = []
    layers.append(nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0])))
    total_stage_blocks = sum(depths)
    stage_block_id = 0
    for i, (dim, depth) in enumerate(zip(dims, depths)):
        stage = []
        for _ in range(depth):
            sd_prob = stochastic_depth * stage_block_id / (total_stage_blocks - 1.0)
            stage.append(Cnblock(dim, sd_prob, layer_scale=layer_scale))
            stage_block_id += 1
        layers.append(nn.Sequential(*stage))
        if i != len(dims) - 1:
            layers.append(nn.Sequential(LayerNorm2d(dim), nn.Conv2d(dim, dims[i + 1], 2, stride=2)))
    self.features = nn.Sequential(*layers)

The two lists are spec parameters of ints, the depths each stage's count of blocks, the widths
each stage's blocks' first argument; the rate is emit/rowloop.py's (`rates`, `rate_is`); a
downsampling layer's numbers at the first one's places of its stage's width and the next are
those widths. The loop is kept only where expanding it (`expand`) gives exactly the members, so
the state_dict is unchanged; the members before it, and the top's children after it, write the
first width `dims[0]` and the last `dims[-1]` where their input width is that number."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from ...errors import SpecError
from ...frontend.expr import evaluate
from ...names import Namespace, name_problem
from ...ops.base import Call, literal
from .classes import ClassPlanner, render_call
from .expr import is_number
from .layout import WIDTH
from .lift import Indexed
from .rowloop import RATE, Rate, Render, Slots, append_line, member, rate_is, rates
from .scopes import Child, located
from .stageloop import default

INPUTS = ("in_channels", "num_channels", "num_features", "in_features")   # a call's input width, by name


@dataclass
class DepthLoop:
    """members[start:end], stages and the downsampling layers between them: the template block
    and layer, the widths and depths and their spec parameters, the block's width and rate."""
    start: int
    end: int
    block: Call
    down: Call
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    names: tuple[str, str]              # the widths' and the depths' spec parameters
    width: str                          # the block's argument taking its stage's width
    rate: Rate


def _map(call: Call, f) -> Call:
    """The call, each of its numbers (nested calls' too, in `_numbers` order) given by f(k, value)."""
    k = iter(range(1 << 30))

    def one(v: Any) -> Any:
        return walk(v) if isinstance(v, Call) else f(next(k), v) if is_number(v) else v

    def walk(c: Call) -> Call:
        return c._replace(args=tuple((n, one(v)) for n, v in c.args),
                          kwargs=tuple((n, one(v), d) for n, v, d in c.kwargs))
    return walk(call)


def _roles(down: Call, here: int, after: int) -> dict[int, str]:
    """The places of a downsampling layer's numbers that are its stage's width ("in") or the next's ("out")."""
    roles: dict[int, str] = {}

    def see(k: int, v: Any) -> Any:
        if type(v) is int and v in (here, after):
            roles[k] = "in" if v == here else "out"
        return v
    _map(down, see)
    return roles


def expand(loop: DepthLoop) -> list[Call]:
    """The members the loop builds."""
    roles = _roles(loop.down, loop.widths[0], loop.widths[1])
    total, out, b = sum(loop.depths) - loop.rate[3], [], 0
    for s, (w, d) in enumerate(zip(loop.widths, loop.depths)):
        blocks = []
        for _ in range(d):
            given = {loop.width: w, loop.rate[0]: loop.rate[2] * b / total}
            blocks.append(loop.block._replace(args=tuple((n, given.get(n, v)) for n, v in loop.block.args)))
            b += 1
        out.append(Call("nn.Sequential", tuple((str(k), m) for k, m in enumerate(blocks))))
        if s < len(loop.widths) - 1:
            given = {"in": w, "out": loop.widths[s + 1]}
            out.append(_map(loop.down, lambda k, v, given=given: given.get(roles.get(k, ""), v)))
    return out


def _stages(members: list[Call]) -> tuple[int, int] | None:
    """(start, end): the first run of nn.Sequentials of one block class, a member between two."""
    def fn(m: Call) -> str | None:
        inner = [v for _, v in m.args]
        ok = m.fn == "nn.Sequential" and inner and all(isinstance(v, Call) and v.fn == inner[0].fn for v in inner)
        return inner[0].fn if ok and not inner[0].fn.startswith("nn.") else None
    start = next((k for k, m in enumerate(members) if fn(m)), None)
    if start is None:
        return None
    end = start + 1
    while end + 1 < len(members) and fn(members[end + 1]) == fn(members[start]) and fn(members[end]) is None:
        end += 2
    return (start, end) if end - start >= 3 else None


def depth_loop(members: list[Call], params: dict[str, Any], rates: tuple[Rate, ...]) -> DepthLoop | None:
    """The loop that builds a run of the members over two list parameters, or None."""
    found = _stages(members)
    if found is None:
        return None
    start, end = found
    stages = members[start:end:2]
    depths = tuple(len(s.args) for s in stages)
    block = stages[0].args[0][1]
    width = block.args[0][0] if block.args else ""
    widths = tuple(s.args[0][1].args[0][1] for s in stages)
    lists = {n: tuple(v) for n, v in params.items() if isinstance(v, list) and all(type(x) is int for x in v)}
    names = tuple(next((n for n, v in lists.items() if v == want), None) for want in (widths, depths))
    if None in names or names[0] == names[1] or len(set(widths)) != len(widths):
        return None
    for rate in rates:
        loop = DepthLoop(start, end, block, members[start + 1], widths, depths, names, width, rate)  # type: ignore[arg-type]
        if expand(loop) == members[start:end]:
            return loop
    return None


def written(loop: DepthLoop, slots: list[Slots], members: list[Call]) -> bool:
    """The members' written numbers are only the blocks': their rates (`rate_is`), and at each
    other place one text for all blocks (a parameter passed on: ConvNeXt's layer_scale)."""
    total, b, kept = sum(loop.depths) - loop.rate[3], 0, dict[str, str | None]()
    for k, (m, s) in enumerate(zip(members, slots)):
        stage = loop.start <= k < loop.end and (k - loop.start) % 2 == 0
        if any(t is not None for t in s) and not stage:
            return False
        for place, (_, block) in enumerate(m.args if stage else ()):
            mine = s[place * len(_numbers(block)):(place + 1) * len(_numbers(block))]
            for (n, _), t in zip(_numbers(block), mine):
                if member(n)[1] == loop.rate[0] and not (t is not None and rate_is(t, loop.rate[1], b, place, total)):
                    return False
                if member(n)[1] != loop.rate[0] and kept.setdefault(n, t) != t:
                    return False
            b += 1
    return True


WIDE = ("out_channels", "out_features", *INPUTS)       # the numbers a width may be


def widths_named(call: Call, slots: Slots, width: int, text: str, names: tuple[str, ...] = WIDE) -> Slots:
    """A call's number texts, `text` where a number named a width (`names`) is `width` and unwritten."""
    return [text if t is None and v == width and type(v) is int and any(n.endswith("_" + w) for w in names)
            else t for (n, v), t in zip(_numbers(call), slots)]


def loop_lines(target: str, loop: DepthLoop, members: list[Call], slots: list[Slots], names: dict[str, str],
               render: Render) -> list[str]:
    """__init__'s lines: the members before the run appended, their widths equal to the first
    written `dims[0]`, the loop, the members after it appended; `names` the free locals."""
    layers, (dims, depths) = names["layers"], (names[loop.names[0]], names[loop.names[1]])
    i, dim, depth, stage, b = names["i"], names["dim"], names["depth"], names["stage"], names["stage_block_id"]
    lines = [f"        {layers} = []"]
    lines += [append_line(layers, m, widths_named(m, s, loop.widths[0], f"{dims}[0]"), render)
              for m, s in zip(members[:loop.start], slots[:loop.start])]
    total = names["total_stage_blocks"]
    rate = RATE.format(p=loop.rate[1], b=b, total=f"({total} - {loop.rate[3]})" if loop.rate[3] else total)
    text = {loop.width: dim, loop.rate[0]: names["sd_prob"]}
    mine = slots[loop.start][:len(_numbers(loop.block))]
    block = render(loop.block, [text.get(member(n)[1], t) for (n, _), t in zip(_numbers(loop.block), mine)], "", 0, 0)
    roles = _roles(loop.down, loop.widths[0], loop.widths[1])
    down = [dim if roles.get(k) == "in" else f"{dims}[{i} + 1]" if roles.get(k) else None
            for k in range(len(_numbers(loop.down)))]
    lines += [f"        {total} = sum({depths})", f"        {b} = 0",
              f"        for {i}, ({dim}, {depth}) in enumerate(zip({dims}, {depths})):", f"            {stage} = []",
              f"            for _ in range({depth}):", f"                {names['sd_prob']} = {rate}",
              f"                {stage}.append({block})", f"                {b} += 1",
              f"            {layers}.append(nn.Sequential(*{stage}))", f"            if {i} != len({dims}) - 1:",
              append_line(layers, loop.down, down, render, 16)]
    lines += [append_line(layers, m, s, render) for m, s in zip(members[loop.end:], slots[loop.end:])]
    return lines + [f"        self.{target} = nn.Sequential(*{layers})"]


def _numbers(call: Call) -> list[tuple[str, Any]]:
    return ClassPlanner.numbers_in(call)


def depthed(c: Child, call: Call, slots: Slots, taken: Namespace, params: list[str],
            spec: dict[str, Any], defaults: dict[str, Any]) -> tuple[str, tuple[str, int]] | None:
    """The top class's nn.Sequential child `call` with its stages built by the loop, the two
    lists added to `params`: (its lines, (the text and value of the last width, for the children
    after it)); None where no loop builds it."""
    members = [m for _, m in call.args]
    if not all(isinstance(m, Call) for m in members):
        return None
    counts = [len(_numbers(m)) for m in members]
    per = [slots[sum(counts[:k]):sum(counts[:k + 1])] for k in range(len(counts))]
    loop = depth_loop(members, spec, rates(members, per, defaults))
    if loop is None or not written(loop, per, members) or any(p.split("=")[0] in loop.names for p in params):
        return None
    wanted = ("layers", "i", "dim", "depth", "stage", "sd_prob", "total_stage_blocks", "stage_block_id", *loop.names)
    if not all(taken.usable(n) for n in wanted):
        return None
    names = {n: str(taken.first(n)) for n in wanted}
    with located(c):
        lines = loop_lines(c.local, loop, members, per, names,
                           lambda m, s, indent, start, end: render_call(m, iter(s), indent, start, end))
    if any(len(x) > WIDTH for line in lines for x in line.split("\n")):
        return None
    params += [default(n, v) for n, v in zip(loop.names, (loop.widths, loop.depths))]
    return "\n".join(lines), (f"{names[loop.names[0]]}[-1]", loop.widths[-1])


# -- the flat form: a stage's blocks named members of the OrderedDict, the width carried on ----------
#
# timm's DPN builds its features so, an OrderedDict of named blocks, the dense width carried on:
#
#     layers = OrderedDict()
#     layers["conv1_1"] = ...                          # the members before the run
#     in_channels = stem
#     for i, (bw, depth, inc) in enumerate(zip((64, 128, 256, 512), depths, incs)):
#         for j in range(depth):
#             kind = "normal" if j > 0 else "proj" if i == 0 else "down"
#             layers[f"conv{i + 2}_{j + 1}"] = DualPath(in_channels, k_r * bw // 64, bw, inc, kind=kind)
#             in_channels = bw + 3 * inc if j == 0 else in_channels + inc
#     layers["conv5_bn_ac"] = ...                      # the members after it, their input `in_channels`
#     self.features = nn.Sequential(layers)
#
# Made from data, the members' names, calls and number texts: the depths a spec parameter, each
# number of the block one per stage (a spec parameter's list zipped in, a column of literals
# zipped in, or a parameter's multiples scaled by such a column), a word argument a choice by the
# block's place (first stage, first block), the width after a block a sum of its stage's columns
# (or its input plus one). Kept only where expanding it (`named_expand`) gives exactly the named
# members and the width after the last, so the state_dict is unchanged.

STAGE_NAME = re.compile(r"([A-Za-z][A-Za-z_]*?)([0-9]{1,4})_([0-9]{1,4})")    # conv3_2: stage 3, block 2
SCALES = range(1, 9)                # the factor of a column in a width after a block


@dataclass
class NamedLoop:
    """members[start:end], named `<prefix><stage>_<block>` from `first` on: the template block,
    the depths, the zipped columns (their loop names, each its per-stage values and its list's
    text: a spec parameter or a tuple of literals), the block's number texts (`{}` the zipped
    names), its words' texts, the widths after a stage's first block and after the others."""
    start: int
    end: int
    prefix: str
    first: tuple[int, int]
    block: Call
    depths: tuple[int, ...]
    columns: dict[str, tuple[tuple[int, ...], str]]
    numbers: list[str | None]           # per number of the block's but its input width: its text, None a literal
    words: dict[str, str]               # a word argument -> its text
    lets: dict[str, str]                # a stage's local -> its text (timm's `r = k_r * bw // 64`)
    carry: tuple[str, str]              # the width after a stage's first block, after the others


def _stage_run(named: list[tuple[str, Call]]) -> tuple[int, int, str, tuple[int, int], tuple[int, ...]] | None:
    """The first run of blocks of one class named `<prefix><s>_<b>`, stages s, s + 1, ... of blocks
    b, b + 1, ...: (start, end, prefix, (s, b), the depths)."""
    marks = [STAGE_NAME.fullmatch(n) if isinstance(c, Call) and not c.fn.startswith("nn.") else None
             for n, c in named]
    start = next((k for k, m in enumerate(marks) if m), None)
    if start is None:
        return None
    m0, fn = marks[start], named[start][1].fn
    first, depths, end = (int(m0[2]), int(m0[3])), [0], start       # type: ignore[index]
    while end < len(named) and (m := marks[end]) and m[1] == m0[1] and named[end][1].fn == fn:  # type: ignore[index]
        s, b = int(m[2]), int(m[3])
        if (s, b) == (first[0] + len(depths) - 1, first[1] + depths[-1]):
            depths[-1] += 1
        elif (s, b) == (first[0] + len(depths), first[1]) and depths[-1]:
            depths.append(1)
        else:
            break
        end += 1
    return (start, end, m0[1], first, tuple(depths)) if len(depths) >= 2 else None   # type: ignore[index]


def _scaled(texts: list[str | None], columns: dict[str, tuple[tuple[int, ...], str]]) -> str | None:
    """Per-stage texts `q`, `2 * q`, `4 * q`, ... as `q * bw // 64`: a parameter's multiples
    scaled by a zipped column's ratio to its first (DPN's `k_r * widths[i] // widths[0]`)."""
    factors, names = [], set()
    for t in texts:
        e = ast.parse(t, mode="eval").body if t else None
        if isinstance(e, ast.Name):
            factors.append(1)
            names.add(e.id)
        elif isinstance(e, ast.BinOp) and isinstance(e.op, ast.Mult) and isinstance(e.left, ast.Constant) \
                and type(e.left.value) is int and isinstance(e.right, ast.Name):
            factors.append(e.left.value)
            names.add(e.right.id)
        else:
            return None
    if len(names) != 1:
        return None
    q = names.pop()
    for var, (values, _) in columns.items():
        if values[0] > 0 and all(f * values[0] == factors[0] * v for f, v in zip(factors, values)):
            head = f"{factors[0]} * {q}" if factors[0] != 1 else q
            return f"{head} * {var} // {values[0]}"
    return None


def _choice(cells: dict[tuple[bool, bool], Any], i: str, j: str) -> str | None:
    """A word by the block's place, (first stage, first block) -> the word, as a choice: `"normal"
    if j > 0 else "proj" if i == 0 else "down"`; None where no such choice gives them."""
    words = set(cells.values())
    if not all(isinstance(w, str) for w in words):
        return None
    if len(words) == 1:
        return literal(words.pop())
    stage: dict[bool, set[str]] = {}
    for (s, _), w in cells.items():
        stage.setdefault(s, set()).add(w)
    if all(len(v) == 1 for v in stage.values()) and len(stage) == 2:
        return f"{literal(*stage[True])} if {i} == 0 else {literal(*stage[False])}"
    rest = {w for (_, f), w in cells.items() if not f}
    firsts = {s: w for (s, f), w in cells.items() if f}
    if len(rest) != 1 or len(firsts) != 2:
        return None
    head = literal(firsts[True]) if firsts[True] == firsts[False] else \
        f"{literal(firsts[True])} if {i} == 0 else {literal(firsts[False])}"
    return f"{literal(rest.pop())} if {j} > 0 else {head}"


def _value_of(text: str, env: dict[str, Any]) -> Any:
    """What the spec's interpreter gives from a loop's text (None where it gives nothing)."""
    try:
        return evaluate(text, env)
    except SpecError:
        return None


def _columns(blocks: list[Call], per: list[Slots], depths: tuple[int, ...], lists: dict[str, tuple],
             taken: Namespace) -> tuple[dict[str, tuple[tuple[int, ...], str]], list[str | None],
                                        dict[str, str]] | None:
    """The block's numbers but its input width, one per stage: the zipped columns (by the
    argument's name: a spec parameter's list, or literals), each number's text, and the stage's
    locals (a scaled number's, by the argument's name)."""
    firsts = [sum(depths[:s]) for s in range(len(depths))]
    numbers = [_numbers(b) for b in blocks]
    columns: dict[str, tuple[tuple[int, ...], str]] = {}
    texts: list[str | None] = []
    pending = []
    for p in range(1, len(numbers[0])):
        cells = [(numbers[k][p][1], per[k][p]) for k in range(len(blocks))]
        if any(isinstance(t, Indexed) for _, t in cells):
            return None                     # a step's index: the run's own comprehension writes it
        stages = [cells[f] for f in firsts]
        if any(cells[k] != stages[next(s for s in range(len(depths)) if firsts[s] + depths[s] > k)]
               for k in range(len(blocks))):
            return None                     # a number that differs within a stage
        values, written = tuple(v for v, _ in stages), [t for _, t in stages]
        if type(values[0]) is not int or len(set(written)) == 1 and (written[0] is not None or len(set(values)) == 1):
            texts.append(written[0])
            continue
        if any(t is not None for t in written):
            texts.append(None)
            pending.append((p, written))
            continue
        var = member(numbers[0][p][0])[1]
        same = next((n for n, (v, _) in columns.items() if v == values), None)
        if same is None and not taken.usable(var):
            return None
        src = next((n for n, v in lists.items() if v == values), literal(values))
        columns.setdefault(same or var, (values, src))
        texts.append(same or var)
    lets = {}
    for p, written in pending:
        var = member(numbers[0][p][0])[1]
        if (text := _scaled(written, columns)) is None or not taken.usable(var) or var in columns:
            return None
        texts[p - 1], lets[var] = var, text
    return columns, texts, lets


def _carry(group: list[tuple[dict[str, Any], int]], width: str,
           columns: dict[str, tuple[tuple[int, ...], str]]) -> str | None:
    """The width after each block of `group` ((its loop's names, the width after it)): its input
    plus a column, a column, or a column plus a multiple of another."""
    names = list(columns)
    tries = [f"{width} + {x}" for x in names] + names
    tries += [f"{x} + {y}" if c == 1 else f"{x} + {c} * {y}" for x in names for y in names if x != y for c in SCALES]
    return next((t for t in tries if group and all(_value_of(t, env) == after for env, after in group)), None)


LOOP_NAMES = ("layers", "in_channels", "i", "j", "depth")      # the flat loop's locals, timm's DPN's


def named_loop(named: list[tuple[str, Call]], per: list[Slots], lists: dict[str, tuple], after: int | None,
               env: dict[str, Any], taken: Namespace) -> NamedLoop | None:
    """The loop that builds a run of the named members (`after`: the width the member after the
    run reads, where one does), or None."""
    run = _stage_run(named)
    if run is None:
        return None
    start, end, prefix, first, depths = run
    blocks = [c for _, c in named[start:end]]
    nums = _numbers(blocks[0])
    if not nums or not nums[0][0].endswith("_in_channels") or any(isinstance(v, Call) for _, v in blocks[0].args) \
            or any(s[0] is not None for s in per[start + 1:end]) or not any(v == depths for v in lists.values()):
        return None
    found = _columns(blocks, per[start:end], depths, lists, taken)
    if found is None:
        return None
    columns, texts, lets = found
    i, j = LOOP_NAMES[2:4]
    words = _words(blocks, depths, i, j)
    if words is None:
        return None
    fresh = (*LOOP_NAMES, *columns, *lets, *words)
    if not all(taken.usable(n) for n in fresh) or len(set(fresh)) != len(fresh):
        return None
    loop = NamedLoop(start, end, prefix, first, blocks[0], depths, columns, texts, words, lets, ("", ""))
    widths = [_numbers(b)[0][1] for b in blocks] + ([after] if after is not None else [])
    envs = [({**e, LOOP_NAMES[1]: w}, out) for e, (w, out) in zip(_envs(loop, env), zip(widths, widths[1:]))]
    carry = [_carry([(e, w) for e, w in envs if (e[j] == 0) == f], LOOP_NAMES[1], columns) for f in (True, False)]
    if None in carry:
        return None
    loop.carry = (carry[0], carry[1])       # type: ignore[assignment]
    made, last = named_expand(loop, widths[0], env)
    ok = made == named[start:end] and (after is None or last == after)
    return loop if ok else None


def _words(blocks: list[Call], depths: tuple[int, ...], i: str, j: str) -> dict[str, str] | None:
    """The block's word arguments that differ from block to block, each its choice by place (`_choice`)."""
    places = [(s == 0, b == 0) for s, d in enumerate(depths) for b in range(d)]
    out = {}
    for k, (name, _, _) in enumerate(blocks[0].kwargs):
        cells: dict[tuple[bool, bool], Any] = {}
        for place, block in zip(places, blocks):
            if cells.setdefault(place, block.kwargs[k][1]) != block.kwargs[k][1]:
                return None
        if len({repr(w) for w in cells.values()}) > 1:
            if (text := _choice(cells, i, j)) is None:
                return None
            out[name] = text
    return out


def _envs(loop: NamedLoop, env: dict[str, Any]) -> list[dict[str, Any]]:
    """Per block, the names its texts read: the top's, the loop's index, column and depth."""
    i, j, depth = LOOP_NAMES[2:]
    out = []
    for s, d in enumerate(loop.depths):
        e = {**env, i: s, depth: d, **{n: v[s] for n, (v, _) in loop.columns.items()}}
        e.update({n: _value_of(t, e) for n, t in loop.lets.items()})
        out += [{**e, j: b} for b in range(d)]
    return out


def named_expand(loop: NamedLoop, width: int, env: dict[str, Any]) -> tuple[list[tuple[str, Call]], int]:
    """The named members the loop builds from the first width, and the width after the last."""
    out, var = [], LOOP_NAMES[1]
    for e in _envs(loop, env):
        e[var] = width
        values = iter([width] + [v if t is None else _value_of(t, e)
                                 for t, (_, v) in zip(loop.numbers, _numbers(loop.block)[1:])])
        call = _map(loop.block, lambda k, v, values=values: next(values))
        words = {n: _value_of(t, e) for n, t in loop.words.items()}
        call = call._replace(kwargs=tuple((n, words.get(n, v), d) for n, v, d in call.kwargs))
        name = f"{loop.prefix}{e[LOOP_NAMES[2]] + loop.first[0]}_{e[LOOP_NAMES[3]] + loop.first[1]}"
        out.append((name, call))
        width = _value_of(loop.carry[0] if e[LOOP_NAMES[3]] == 0 else loop.carry[1], e)
    return out, width


def _assign_line(layers: str, name: str, m: Call, slots: Slots, render: Render) -> str:
    """`layers["conv1_1"] = Module(...)`, laid out as ruff does."""
    head = f"        {layers}[{literal(name)}] = "
    one = render(m, slots, "        ", len(head) - 8, 0)
    return head + (one if "\n" not in one and len(head) + len(one) <= WIDTH else render(m, slots, "        ", 0, 0))


def named_lines(target: str, loop: NamedLoop, named: list[tuple[str, Call]], per: list[Slots], zipped: str,
                last: int, render: Render) -> list[str] | None:
    """__init__'s lines: the members before the run, the loop, the members after it (their input
    width `in_channels` where it is the last), `self.<target> = nn.Sequential(layers)`; None where
    a line is too long. `zipped`: the lists' texts, `last`: the width after the last block."""
    layers, width, i, j, depth = LOOP_NAMES
    first = per[loop.start][0] or literal(_numbers(loop.block)[0][1])
    block = render(loop.block._replace(kwargs=tuple(k for k in loop.block.kwargs if k[0] not in loop.words)),
                   [width, *loop.numbers], "", 0, 0)
    if "\n" in block:
        return None
    block = block[:-1] + "".join(f", {w}={w}" for w in loop.words) + ")"
    stage = f"{{{i} + {loop.first[0]}}}" if loop.first[0] else f"{{{i}}}"
    key = f'f"{loop.prefix}{stage}_{{{j} + {loop.first[1]}}}"' if loop.first[1] else f'f"{loop.prefix}{stage}_{{{j}}}"'
    after = loop.carry[0] if loop.carry[0] == loop.carry[1] else f"{loop.carry[0]} if {j} == 0 else {loop.carry[1]}"
    lines = [f"        {layers} = OrderedDict()"]
    lines += [_assign_line(layers, n, m, s, render) for (n, m), s in zip(named[:loop.start], per[:loop.start])]
    lines += [f"        {width} = {first}",
              f"        for {i}, ({', '.join([depth, *loop.columns])}) in enumerate(zip({zipped})):",
              *[f"            {n} = {t}" for n, t in loop.lets.items()],
              f"            for {j} in range({depth}):",
              *[f"                {w} = {t}" for w, t in loop.words.items()],
              f"                {layers}[{key}] = {block}",
              f"                {width} = {after}"]
    lines += [_assign_line(layers, n, m, widths_named(m, s, last, width, INPUTS), render)
              for (n, m), s in zip(named[loop.end:], per[loop.end:])]
    lines.append(f"        self.{target} = nn.Sequential({layers})")
    return None if any(len(x) > WIDTH for line in lines for x in line.split("\n")) else lines


def named_depthed(c: Child, call: Call, slots: Slots, taken: Namespace, params: list[str],
                  spec: dict[str, Any], defaults: dict[str, Any]) -> tuple[str, tuple[str, int]] | None:
    """The top class's nn.Sequential child `call` of named members with a run of them built by
    the flat loop, the lists it zips from the spec's parameters added to `params`: (its lines,
    (the carried width's name and its last value, for the children after it)); None where no
    loop builds it."""
    named = list(call.args)
    if not all(isinstance(m, Call) for _, m in named):
        return None
    counts = [len(_numbers(m)) for _, m in named]
    per = [slots[sum(counts[:k]):sum(counts[:k + 1])] for k in range(len(counts))]
    lists = {n: tuple(v) for n, v in spec.items() if isinstance(v, list) and v and all(type(x) is int for x in v)
             and name_problem(n) is None and not any(p.split("=")[0] == n for p in params)}
    run = _stage_run(named)
    after = None
    if run is not None and run[1] < len(named):
        after = next((v for n, v in _numbers(named[run[1]][1]) if any(n.endswith("_" + w) for w in INPUTS)), None)
    env = {**spec, **defaults}
    loop = named_loop(named, per, lists, after, env, taken)
    if loop is None or name_problem(loop.prefix) is not None:
        return None
    depths = next(n for n, v in lists.items() if v == loop.depths)
    used = [depths, *(src for _, src in loop.columns.values() if src in lists)]
    values = list(lists.values())
    if len(set(used)) != len(used) or any(values.count(lists[n]) > 1 for n in used):
        return None             # two lists of one value: which one a column reads, the values do not say
    zipped = ", ".join([depths, *(src for _, src in loop.columns.values())])
    last = named_expand(loop, _numbers(loop.block)[0][1], env)[1]
    with located(c):
        lines = named_lines(c.local, loop, named, per, zipped, last,
                            lambda m, s, indent, start, end: render_call(m, iter(s), indent, start, end))
    if lines is None:
        return None
    for n in (*LOOP_NAMES, *loop.columns, *loop.lets, *loop.words):
        taken.take(n)
    params += [default(n, lists[n]) for n in used]
    return "\n".join(lines), (LOOP_NAMES[1], last)
