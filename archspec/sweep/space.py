"""The points of a sweep: the grid of `--grid KEY=V1,V2,...` axes, or `--sample N` points drawn
from them and from `--range KEY=LO:HI[:log|int]` axes with a seeded generator. A KEY is a spec
parameter (its values YAML, passed to the spec as `--set KEY=V`, so the spec types and checks
them) or `train.KEY`, a training option of `archspec train` (TRAIN_KEYS)."""
from __future__ import annotations

import itertools
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, Loc, SpecErrors, did_you_mean
from ..frontend.recipe import OPTIMIZERS
from ..frontend.yamlpos import load_text
from ..names import one_line, shown

MAX_POINTS = 100_000        # points of one sweep (a grid's product is checked before it is made)
MAX_VALUES = 1_000          # values of one --grid axis

# `train.KEY`: the options of `archspec train` a sweep may vary, by the type each takes (a float
# option takes an int too). The `recipe` section of a spec (issue 23) is not read here: these pass
# straight to archspec.pytorch.train.Config.
TRAIN_KEYS: dict[str, type] = {
    "lr": float, "epochs": int, "batch_size": int, "optimizer": str, "lr_step": int, "lr_gamma": float,
    "momentum": float, "weight_decay": float, "label_smoothing": float, "augment": str, "amp": bool,
}
TRAIN_CHOICES = {"optimizer": OPTIMIZERS, "augment": ("crop+flip", "crop", "distort")}
TRAIN_POSITIVE = ("lr", "epochs", "batch_size", "lr_gamma")     # > 0; the other numbers >= 0
TRAIN = "train."


@dataclass(frozen=True)
class Axis:
    """One swept key: a list of (text, value) for --grid, or a range for --range."""
    key: str
    loc: Loc
    values: tuple = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return not self.values


@dataclass(frozen=True)
class Point:
    """One point: each swept key's value, and its text (what `--set KEY=TEXT` passes to the spec)."""
    values: dict[str, Any]
    texts: dict[str, str] = field(default_factory=dict)

    def spec_sets(self) -> list[str]:
        return [f"{k}={t}" for k, t in self.texts.items() if not k.startswith(TRAIN)]

    def train(self) -> dict[str, Any]:
        return {k[len(TRAIN):]: v for k, v in self.values.items() if k.startswith(TRAIN)}

    def label(self) -> str:
        return ", ".join(f"{k}={t}" for k, t in self.texts.items())


def _error(loc: Loc, message: str, hint: str | None = None) -> SpecErrors:
    return SpecErrors([Diagnostic(loc, message, hint=hint)])


def split_values(text: str) -> list[str]:
    """`V1,V2,...` split at the commas outside brackets: `[1,1],[2,2]` is two values."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _key_value(text: str, flag: str) -> tuple[str, str, Loc]:
    loc = Loc(f"{flag} {one_line(text, 60)}")
    key, eq, rest = text.partition("=")
    if not eq or not key.strip() or not rest.strip():
        raise _error(loc, "expected KEY=VALUES", hint=f"e.g. {flag} depth=16,22,28" if flag == "--grid"
                     else f"e.g. {flag} lr=0.001:0.1:log")
    return key.strip(), rest, loc


def grid_axis(text: str) -> Axis:
    """`--grid KEY=V1,V2,...`: each value YAML, as `--set` takes it."""
    key, rest, loc = _key_value(text, "--grid")
    texts = [t.strip() for t in split_values(rest)]
    if len(texts) > MAX_VALUES:
        raise _error(loc, f"{len(texts):,} values: more than a sweep's limit of {MAX_VALUES:,} on one axis")
    if "" in texts:
        raise _error(loc, "an empty value (two commas, or one at an end)")
    if len(set(texts)) < len(texts):
        raise _error(loc, "a value is given twice")
    values = tuple((t, load_text(t, loc.file)) for t in texts)
    if key.startswith(TRAIN):
        for _, v in values:
            check_train(key, v, loc)
    return Axis(key, loc, values)


def range_axis(text: str) -> Axis:
    """`--range KEY=LO:HI[:log][:int]`: uniform in [LO, HI], log-uniform, or whole numbers."""
    key, rest, loc = _key_value(text, "--range")
    parts = [p.strip() for p in rest.split(":")]
    flags = set(parts[2:])
    numbers = [_number(p) for p in parts[:2]]
    low, high = numbers if len(numbers) == 2 else (None, None)
    if len(parts) < 2 or low is None or high is None or not flags <= {"log", "int"} or len(flags) < len(parts) - 2:
        raise _error(loc, "expected KEY=LO:HI, then :log and/or :int", hint="e.g. --range lr=0.001:0.1:log")
    if not low < high:
        raise _error(loc, f"LO ({parts[0]}) must be below HI ({parts[1]})")
    if "log" in flags and low <= 0:
        raise _error(loc, f"a log range needs LO > 0, got {parts[0]}")
    if "int" in flags and not (float(low).is_integer() and float(high).is_integer()):
        raise _error(loc, "an int range needs whole numbers LO and HI")
    return Axis(key, loc, (), float(low), float(high), "log" in flags, "int" in flags)


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def check_train(key: str, value: Any, loc: Loc) -> None:
    """A `train.KEY` value: a known option, of its type, in its range."""
    name = key[len(TRAIN):]
    want = TRAIN_KEYS.get(name)
    if want is None:
        raise _error(loc, f"unknown training option {shown(key)}", hint=did_you_mean(name, list(TRAIN_KEYS)) or
                     "train.KEY is one of " + ", ".join(TRAIN + k for k in TRAIN_KEYS))
    ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok or (name in TRAIN_CHOICES and value not in TRAIN_CHOICES[name]):
        kind = " or ".join(TRAIN_CHOICES[name]) if name in TRAIN_CHOICES else f"a {want.__name__}"
        raise _error(loc, f"{key} takes {kind}, got {shown(value)}")
    if want in (int, float) and (value < 0 or (name in TRAIN_POSITIVE and value == 0)):
        raise _error(loc, f"{key} must be {'positive' if name in TRAIN_POSITIVE else 'at least 0'}, got {value}")


def check_keys(axes: list[Axis], params: dict) -> None:
    """Every swept key is a parameter of the spec (`name[i]`: an item of a list one), `input`, or
    `train.KEY`; none is swept twice."""
    seen: set[str] = set()
    for a in axes:
        if a.key in seen:
            raise _error(a.loc, f"{shown(a.key)} is swept twice")
        seen.add(a.key)
        if a.key.startswith(TRAIN):
            if a.is_range:
                check_train(a.key, int(a.low) if a.integer else a.low, a.loc)
            continue
        item = re.fullmatch(r"(\w+)\[\d+\]", a.key)
        if a.key not in params and a.key != "input" and not (item and item[1] in params):
            raise _error(a.loc, f"unknown parameter {shown(a.key)}",
                         hint=did_you_mean(a.key, list(params)) or
                         f"this spec's parameters: {', '.join(sorted(params)) or 'none'}")


def grid(axes: list[Axis]) -> list[Point]:
    """Every combination of the axes' values, the first axis slowest."""
    size = math.prod(len(a.values) for a in axes)
    if size > MAX_POINTS:
        raise _error(axes[0].loc, f"the grid has {size:,} points: more than a sweep's limit of {MAX_POINTS:,}",
                     hint="fewer values, or --sample N points of it")
    return [Point({a.key: v for a, (_, v) in zip(axes, combo)}, {a.key: t for a, (t, _) in zip(axes, combo)})
            for combo in itertools.product(*(a.values for a in axes))]


def sample(axes: list[Axis], n: int, seed: int) -> list[Point]:
    """`n` points, each axis drawn independently: a --grid axis uniformly among its values, a
    --range axis as it says (floats kept to 4 significant digits, as a table prints them)."""
    if n > MAX_POINTS:
        raise _error(Loc("--sample"), f"{n:,} points: more than a sweep's limit of {MAX_POINTS:,}")
    rng = random.Random(seed)
    points = []
    for _ in range(n):
        values, texts = {}, {}
        for a in axes:
            if a.is_range:
                v = _draw(a, rng)
                values[a.key], texts[a.key] = v, repr(v)
            else:
                texts[a.key], values[a.key] = rng.choice(a.values)
        points.append(Point(values, texts))
    return points


def _draw(a: Axis, rng: random.Random) -> int | float:
    if a.integer and not a.log:
        return rng.randint(int(a.low), int(a.high))
    if a.log:
        x = math.exp(rng.uniform(math.log(a.low), math.log(a.high)))
    else:
        x = rng.uniform(a.low, a.high)
    if a.integer:
        return min(max(round(x), int(a.low)), int(a.high))
    return float(f"{x:.4g}")
