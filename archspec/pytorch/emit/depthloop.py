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

from dataclasses import dataclass
from typing import Any

from ...names import Namespace
from ...ops.base import Call
from .classes import ClassPlanner, render_call
from .expr import is_number
from .layout import WIDTH
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
