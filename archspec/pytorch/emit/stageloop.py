"""An nn.Sequential of the top class built as torchvision's VGG `make_layers(cfg, batch_norm)`
builds its features: a loop over a configuration of stages, each a tuple of widths, every width
one unit (a conv from the width before, its norm, its activation), every stage closed by one
module (a max pool):

    layers = []
    in_channels = 3
    for stage in stages:
        for width in stage:
            layers.append(nn.Conv2d(in_channels, width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            in_channels = width
        layers.append(nn.MaxPool2d(2))
    self.features = nn.Sequential(*layers)

The top class takes the configuration, named after the block's `let:` that holds it (VGG's
`stages`), with the spec's value as its default; and the spec's bool parameter that the block's
structure reads, where the units' norms are there at its value and no other bool of the spec is
true (`batch_norm`): the norm members are appended under it. The loop is made from data, the
members' constructor calls, and only where expanding it (`expand`) gives exactly those calls, in
order: the same modules under the same indices (`features.0.weight`), so torchvision's weights
load. Where the units are not all alike but for their widths (VGG-C's 1x1 convs, A-LRN's LRN
after the first conv only) the child stays written out member by member.

Where the units differ only in their conv's kernel size, its padding half of it (VGG-C's 1x1 conv
closing stages 3-5 among 3x3s), the kernels are the loop's data too: a tuple of them per stage
beside the widths', which the top takes (named after the block's `let:` that holds them, VGG's
`kernels`, the spec's sizes its default) and the loop zips with the stages, a unit's conv
`nn.Conv2d(in_channels, width, k, padding=k // 2)`:

        for stage, kernel in zip(stages, kernels):
            for width, k in zip(stage, kernel):

A loop whose units share their kernel (D) takes none; one whose kernels no `let:` holds is none."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...names import Namespace
from ...ops.base import Call, literal
from .classes import ClassPlanner
from .layout import WIDTH
from .scopes import Child

_WIDTHS = {"in_channels": "in", "out_channels": "out", "num_features": "out"}   # torch's names of the widths
MIN_STAGES = 2            # stages, each closed by the same module, that make a loop


@dataclass
class StageLoop:
    """A configuration loop: the first unit's input width, the widths stage by stage, one
    unit's members (its first the conv that changes the width), which of them are norms, the
    module closing each stage, and the conv's kernel sizes stage by stage where they differ."""
    first: int
    stages: tuple[tuple[int, ...], ...]
    unit: list[Call]
    norms: frozenset[int]
    close: Call
    kernels: tuple[tuple[int, ...], ...] | None = None


def _with(call: Call, widths: dict[str, int]) -> Call:
    """The call with its width arguments given `widths` ("in", "out")."""
    return call._replace(args=tuple((n, widths[_WIDTHS[n]]) if n in _WIDTHS else (n, v) for n, v in call.args))


def _sized(conv: Call, k: int | None) -> Call:
    """The conv with kernel size `k` and padding `k // 2` (unchanged where `k` is None)."""
    if k is None:
        return conv
    return conv._replace(args=tuple((n, k) if n == "kernel_size" else (n, v) for n, v in conv.args),
                         kwargs=tuple((n, k // 2, d) if n == "padding" else (n, v, d) for n, v, d in conv.kwargs))


def _names(call: Call) -> set[str]:
    return {n for n, _ in call.args if n in _WIDTHS}


def expand(loop: StageLoop, norm: bool = True) -> list[Call]:
    """The members the loop builds, with its norms or without."""
    out: list[Call] = []
    width = loop.first
    for s, stage in enumerate(loop.stages):
        for j, w in enumerate(stage):
            size = loop.kernels[s][j] if loop.kernels else None
            out += [_with(_sized(m, size) if k == 0 else m, {"in": width, "out": w})
                    for k, m in enumerate(loop.unit) if norm or k not in loop.norms]
            width = w
        out.append(loop.close)
    return out


def stage_loop(members: list[Call]) -> StageLoop | None:
    """The loop that builds the members, or None where none of this form does."""
    if len(members) < 2 or not all(isinstance(m, Call) for m in members):
        return None
    close = members[-1]
    if _names(close) or close.fn == "nn.Sequential":
        return None
    starts = [k for k, m in enumerate(members) if _names(m) == {"in_channels", "out_channels"}]
    if not starts or starts[0] != 0 or len(starts) < 2:
        return None
    unit = members[:min(starts[1], members.index(close))]      # (a stage of one unit: its close)
    if any(_names(m) - {"num_features"} for m in unit[1:]):
        return None
    stages = _by_stage(members, close, starts, "out_channels")
    kernels = _by_stage(members, close, starts, "kernel_size")
    if len(stages) < MIN_STAGES or not all(stages):
        return None
    sizes = {k for stage in kernels for k in stage}
    varied = tuple(kernels) if len(sizes) > 1 and all(type(k) is int for k in sizes) else None
    loop = StageLoop(dict(unit[0].args)["in_channels"], tuple(stages), unit,
                     frozenset(k for k, m in enumerate(unit) if _names(m) == {"num_features"}), close, varied)
    return loop if expand(loop) == members else None


def _by_stage(members: list[Call], close: Call, starts: list[int], arg: str) -> list[tuple[Any, ...]]:
    """The units' first members' argument `arg`, stage by stage (a stage closed by `close`)."""
    stages: list[tuple[Any, ...]] = []
    stage: list[Any] = []
    for k, m in enumerate(members):
        if m == close:
            stages.append(tuple(stage))
            stage = []
        elif k in starts:
            stage.append(dict(m.args).get(arg))
    return stages


Naming = tuple[str, str | None, str | None]


def named(c: Child, loop: StageLoop, params: dict[str, Any], reads: frozenset[str]) -> Naming | None:
    """(the configuration's name, the norms' flag or None, the kernels' name or None): the `let:`
    of the child's block that holds the configuration (as lists or tuples), and the one that holds
    the kernels where they differ; the flag a bool of the spec's `params` the block's structure
    reads, the one that is true, where the loop has norms. None where the block names no
    configuration, or no kernels that differ."""
    scope = c.sub.scope if c.subscope is not None else None
    lets = scope.lets if scope is not None else {}
    name = next((k for k, v in lets.items() if _tuples(v) == loop.stages), None)
    kernels = next((k for k, v in lets.items() if _tuples(v) == loop.kernels), None) if loop.kernels else None
    if name is None or (loop.kernels and kernels is None):
        return None
    true = [k for k in sorted(reads) if params.get(k) is True]
    return name, (true[0] if loop.norms and len(true) == 1 else None), kernels


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


Render = Callable[[Call, list[str | None], str, int, int], str]


def loop_lines(target: str, loop: StageLoop, names: dict[str, str], flag: str | None, render: Render) -> list[str]:
    """__init__'s lines of the loop; `names` the locals ("layers", "in_channels", "stage",
    "width") and the configuration ("stages"), each free in __init__; `render(call, slots,
    indent, start, end)` a constructor with its width arguments as the names in `slots`."""
    var, width = names["in_channels"], names["width"]
    ind = " " * 16
    body: list[str] = []
    for k, m in enumerate(loop.unit):
        sized = {"_kernel_size": names["k"], "_padding": f"{names['k']} // 2"} if loop.kernels and k == 0 else {}
        slots = [var if n == "_in_channels" else width if n in ("_out_channels", "_num_features") else sized.get(n)
                 for n, _ in _numbers(m)]
        at = ind + "    " if k in loop.norms and flag else ind
        head = f"{names['layers']}.append("
        line = f"{at}{head}{render(m, slots, at, len(head), 1)})"
        body += [f"{ind}if {flag}:", line] if k in loop.norms and flag else [line]
    close: list[str | None] = [None] * len(_numbers(loop.close))
    outer, inner = f"{names['stage']} in {names['stages']}", f"{width} in {names['stage']}"
    if loop.kernels:
        outer = f"{names['stage']}, {names['kernel']} in zip({names['stages']}, {names['kernels']})"
        inner = f"{width}, {names['k']} in zip({names['stage']}, {names['kernel']})"
    return [f"        {names['layers']} = []", f"        {var} = {literal(loop.first)}",
            f"        for {outer}:", f"            for {inner}:", *body, f"{ind}{var} = {width}",
            f"            {names['layers']}.append({render(loop.close, close, ' ' * 12, 0, 0)})",
            f"        self.{target} = nn.Sequential(*{names['layers']})"]


def default(config: str, stages: tuple[Any, ...]) -> str:
    """`stages=((64, 64), ...)`, the configuration parameter with its default as a line of the
    signature's one-parameter-a-line form writes it; where that line is too long, one stage a line
    with a trailing comma, as ruff explodes a collection."""
    one = f"{config}={literal(stages)}"
    if 8 + len(one) + 1 <= WIDTH:
        return one
    return f"{config}=(\n" + "".join(f"{' ' * 12}{literal(t)},\n" for t in stages) + f"{' ' * 8})"


def parameters(loop: StageLoop, config: str, flag: str | None, kernels: str | None) -> list[str]:
    """The signature's lines the loop adds: the configuration, the kernels where the loop takes
    them, and the norms' flag, each with its default."""
    sized = [default(kernels, loop.kernels)] if kernels is not None and loop.kernels is not None else []
    return [default(config, loop.stages), *sized, *([f"{flag}=True"] if flag else [])]


def _numbers(call: Call) -> list[tuple[str, Any]]:
    return ClassPlanner.numbers_in(call)


def local_names(taken: Namespace, config: str, flag: str | None, kernels: str | None) -> dict[str, str] | None:
    """The loop's locals, each free in __init__ (its parameters and `let:` locals: `taken`), and
    the parameters it adds, `config`, `flag` and `kernels`; None where one of them is taken already."""
    if any(p is not None and taken.first(p) != p for p in (config, flag, kernels)):
        return None
    made = {"stages": config, **{k: taken.first(k) or taken.fresh(k)
                                 for k in ("layers", "in_channels", "stage", "width")}}
    if kernels is not None:
        made |= {"kernels": kernels, **{k: taken.first(k) or taken.fresh(k) for k in ("kernel", "k")}}
    return made
