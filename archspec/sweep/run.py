"""`archspec sweep SPEC`: the points, counted (and kept by --where), trained on Ray with
--train, written to DIR/results.csv and DIR/results.json, and drawn."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .. import load
from ..errors import Diagnostic, Loc, SpecErrors
from ..frontend.spec import parse_overrides
from ..names import one_line
from . import results
from .count import Memory, Row, count_all, keep
from .space import TRAIN, Axis, check_keys, check_train, grid, grid_axis, range_axis, sample

MAX_PRINTED = 40        # rows of the table printed (every row is in the files)


@dataclass
class Options:
    """`archspec sweep`'s options (the cli's argparse values, or a caller's own)."""
    spec: str
    grid: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    sample: int | None = None
    seed: int = 0
    seeds: int = 1
    where: str | None = None
    sets: list[str] = field(default_factory=list)
    output: str = "sweep"
    batch_size: int = 32
    dtype: str = "float32"
    strict: bool = False
    train: bool = False
    data: str = "digits"
    address: str | None = None
    cpus: int | None = None
    cpus_per_trial: int = 1
    gpus_per_trial: float | None = None
    asha: bool = False
    asha_eta: int = 3
    asha_min_epochs: int = 1
    pictures: bool = True


def split_sets(sets: list[str]) -> tuple[list[str], dict]:
    """--set strings for the spec, and the `train.KEY=VALUE` ones as training options."""
    spec_sets, train = [], {}
    for s in sets:
        if s.strip().startswith(TRAIN):
            key, value, loc = parse_overrides([s])[0]
            check_train(key, value, loc)
            train[key[len(TRAIN):]] = value
        else:
            spec_sets.append(s)
    return spec_sets, train


def _axes(opts: Options) -> list[Axis]:
    axes = [grid_axis(t) for t in opts.grid] + [range_axis(t) for t in opts.range]
    if not axes:
        raise SpecErrors([Diagnostic(Loc("archspec sweep"), "nothing to sweep",
                                     hint="--grid KEY=V1,V2,... (repeatable), or --sample N --range KEY=LO:HI")])
    ranges = [a for a in axes if a.is_range]
    if ranges and not opts.sample:
        raise SpecErrors([Diagnostic(ranges[0].loc, "a range is sampled: give --sample N",
                                     hint="or list the values with --grid KEY=V1,V2,...")])
    return axes


def sweep(opts: Options) -> int:
    """Run a sweep; exit status 0 (invalid points and failed trials are rows, not failures)."""
    axes = _axes(opts)
    if opts.train:
        from .trials import check_extras
        check_extras()
    spec_sets, train = split_sets(opts.sets)
    check_keys(axes, load(opts.spec, spec_sets).params)     # the shared --set values hold for every point
    points = sample(axes, opts.sample, opts.seed) if opts.sample else grid(axes)
    memory = Memory(train.get("batch_size", opts.batch_size), opts.dtype, train.get("optimizer", "sgd"))
    rows, seconds = count_all(opts.spec, spec_sets, points, memory, opts.strict)
    kept = keep(rows, opts.where)
    keys = [a.key for a in axes]
    _report_counts(rows, kept, seconds, opts.where)
    header = {"spec": opts.spec, "sets": opts.sets, "keys": keys, "where": opts.where,
              "sampled": bool(opts.sample), "training": opts.train}
    if opts.train:
        from .trials import train_sweep
        records = train_sweep(opts, spec_sets, train, kept, header)
    else:
        records = [results.record(r) for r in kept]
    paths = results.write(opts.output, header, keys, records, opts.train)
    print(_table(keys, records, opts.train))
    print("wrote " + ", ".join(paths))
    if opts.pictures:
        from .plots import draw
        for path in draw(opts.output, records, keys, opts.train, bool(opts.sample), opts.asha):
            print(f"wrote {path}")
    return 0


def _report_counts(rows: list[Row], kept: list[Row], seconds: float, where: str | None) -> None:
    invalid = [r for r in rows if r.counts is None]
    rate = len(rows) / seconds * 60 if seconds > 0 else float("inf")
    dropped = len(rows) - len(kept)
    print(f"counted {len(rows):,} point{'s' if len(rows) != 1 else ''} in {seconds:.2f} s ({rate:,.0f} a minute): "
          f"{len(rows) - len(invalid):,} valid, {len(invalid):,} invalid"
          + (f"; --where kept {len(kept) - len(invalid):,}, dropped {dropped:,}" if where else ""))
    for r in invalid:
        print(f"invalid point {r.index} ({one_line(r.point.label(), 200)}): {r.error}", file=sys.stderr)


def _fmt(column: str, v) -> str:
    if v is None:
        return ""
    if column in ("params", "macs", "activations"):
        return f"{v:,}"
    if column == "memory_bytes":
        return f"{v / 2**20:,.1f} MiB"
    if column in ("top1_error", "top5_error"):
        return f"{v:.2%}"
    if column == "train_time_s":
        return f"{v:.1f} s"
    return one_line(v, 60) if isinstance(v, str) else str(v)


def _table(keys: list[str], records: list[dict], training: bool) -> str:
    """The rows as a plain table (the first MAX_PRINTED; the files hold every row)."""
    cols = ["point", *keys, *(["seed", "epochs"] if training else []), "params", "macs", "memory_bytes",
            *(["top1_error", "top5_error", "train_time_s"] if training else [])]
    if any(r.get("error") for r in records):
        cols.append("error")
    cells = [cols] + [[_fmt(c, r.get(c)) for c in cols] for r in records[:MAX_PRINTED]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) if i == len(cols) - 1 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))).rstrip() for row in cells]
    if len(records) > MAX_PRINTED:
        lines.append(f"... {len(records) - MAX_PRINTED:,} more rows in {results.CSV}")
    return "\n".join(lines)


def absolute(path: str) -> str:
    """A path a Ray worker finds whatever its working folder."""
    return os.path.abspath(path)
