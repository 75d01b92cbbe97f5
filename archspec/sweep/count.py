"""The counting sweep: every point loaded, expanded and counted as `archspec summary` does
(params, MACs, activations, training memory at the point's batch), no torch and no Ray. An
invalid point is a row with its located error; `--where` keeps the valid points it is true for."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .. import analyze, load
from ..errors import Diagnostic, Loc, SpecError, SpecErrors
from ..frontend.expr import evaluate
from ..names import one_line, shown
from ..reports.memory import training_memory
from .space import Point

COUNTS = ("params", "macs", "activations", "memory_bytes")
# optimizer state per parameter, as summary --optimizer counts it: SGD with momentum keeps one value,
# RMSProp with momentum two (its mean square and momentum), as many as Adam
MEMORY_OPTIMIZER = {"sgd": "sgd", "rmsprop": "adam"}


@dataclass
class Memory:
    """How training memory is counted: the batch (a point's train.batch_size wins), dtype, optimizer."""
    batch: int = 32
    dtype: str = "float32"
    optimizer: str = "sgd"


@dataclass
class Row:
    """A counted point: its counts, or the error that made it invalid."""
    index: int
    point: Point
    counts: dict[str, int] | None = None
    error: str | None = None


def error_text(e: SpecErrors) -> str:
    """A failed load's first diagnostic on one line (`file:line:col: error: ...; hint: ...`)."""
    if not e.diagnostics:
        return one_line(str(e), 400)
    first = "; ".join(line.strip() for line in str(e.diagnostics[0]).splitlines())
    more = len(e.diagnostics) - 1
    return first + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")


def count_point(spec: str, sets: list[str], index: int, point: Point, memory: Memory, strict: bool = False) -> Row:
    """One point's row: a spec error is the row's error, never the sweep's."""
    train = point.train()
    try:
        g = analyze(load(spec, sets + point.spec_sets()))
        if strict and g.warnings:
            raise SpecErrors(list(g.warnings))
        mem = training_memory(g, train.get("batch_size", memory.batch), memory.dtype,
                              MEMORY_OPTIMIZER[train.get("optimizer", memory.optimizer)])
    except SpecErrors as e:
        return Row(index, point, error=error_text(e))
    return Row(index, point, {"params": g.params, "macs": g.macs, "activations": g.activations,
                              "memory_bytes": mem.total})


def count_all(spec: str, sets: list[str], points: list[Point], memory: Memory,
              strict: bool = False) -> tuple[list[Row], float]:
    """Every point's row, in order, and the seconds they took."""
    start = time.perf_counter()
    rows = [count_point(spec, sets, i, p, memory, strict) for i, p in enumerate(points)]
    return rows, time.perf_counter() - start


def where_env(row: Row) -> dict[str, Any]:
    """What `--where` reads: the point's values (keys that are names) and its counts; flops = 2 x MACs."""
    env = {k: v for k, v in row.point.values.items() if k.isidentifier()}
    assert row.counts is not None
    return {**env, **row.counts, "flops": 2 * row.counts["macs"]}


def keep(rows: list[Row], where: str | None) -> list[Row]:
    """The invalid rows (always listed) and the valid ones `where` is true for, with archspec's
    own expression interpreter (frontend/expr.py: arithmetic, comparisons, and/or, min, abs ...)."""
    if not where:
        return rows
    loc = Loc(f"--where {one_line(where, 60)}")
    kept = []
    for row in rows:
        if row.counts is None:
            kept.append(row)
            continue
        try:
            value = evaluate(where, where_env(row))
        except SpecError as e:
            raise SpecErrors([Diagnostic(loc, e.message, hint=e.hint)]) from None
        if not isinstance(value, bool):
            raise SpecErrors([Diagnostic(loc, f"gives {shown(value)} at {row.point.label()}, not true or false",
                                         hint="a comparison: params < 2e6, abs(macs - 4.1e9) < 0.1e9")])
        if value:
            kept.append(row)
    return kept
