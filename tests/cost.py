"""Cost counted, not timed (issue 25's bounds). A wall-clock bound failed on a slower CI machine
(2026-12-07: 21-23 s against 20 s) while the code was unchanged; counts are the same on every
machine, idle or loaded, fast or slow, so a bound on them, or on their growth from n to 2n, fails
only when the code does more work: 2x for linear work, near 4x for quadratic.

Two counts: `calls`, every function call and builtin call (cProfile), and `steps`, every line
archspec's own code runs (a loop's every turn, calls and returns included; sys.settrace). A loop
that calls nothing (`next(n for n in nodes if ...)`) is invisible to the first, not to the second.
`within` counts calls as `calls` does and stops the run past a budget: work that would never end
(a walk round a link loop) fails after the same count on every machine."""
from __future__ import annotations

import cProfile
import importlib
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import archspec

PACKAGE = str(Path(archspec.__file__).parent)


def calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """fn(*args, **kwargs), and the number of function calls it made (in this thread)."""
    profile = cProfile.Profile()
    result = profile.runcall(fn, *args, **kwargs)
    return result, pstats.Stats(profile).total_calls


def steps(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """fn(*args, **kwargs), and the trace events (call, line, return) of archspec's own functions
    in it (in this thread); other code (the standard library, torch) runs untraced."""
    count = 0

    def inside(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        return inside

    def enter(frame: FrameType, event: str, arg: Any) -> Any:
        return inside(frame, event, arg) if frame.f_code.co_filename.startswith(PACKAGE) else None

    before = sys.gettrace()
    sys.settrace(enter)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.settrace(before)
    return result, count


def growth(run: Callable[[int], Any], n: int,
           count: Callable[..., tuple[Any, int]] = calls) -> float:
    """How many times the count of run(n) that of run(2 n) is: about 2 where the work is linear in
    n (less, for a fixed cost beside it), about 4 where it is quadratic. run(2 n) runs last."""
    first = count(run, n)[1]
    return count(run, 2 * n)[1] / first


FIND_AND_LOAD = importlib._bootstrap._find_and_load.__code__    # type: ignore[attr-defined]  # an import's work


class Overrun(BaseException):       # not an Exception: no `except Exception` in archspec turns it into an error
    """More function calls than a case may make."""


def within(most: int, fn, *args):
    """(fn(*args), the function calls it made), stopped by Overrun at call `most` + 1: work that
    would go on for ever (a walk round a link loop) fails after the same count on every machine.
    Counted as `calls` counts (each Python call and generator step, each builtin
    called), but not inside an import: a module's first import in this process (main imports
    lazily) is not the case's work, so the count is the same whichever tests ran before."""
    made, importing = 0, 0

    def count(frame, event, arg):
        nonlocal made, importing
        if frame.f_code is FIND_AND_LOAD:
            importing += {"call": 1, "return": -1}.get(event, 0)
        elif event in ("call", "c_call") and not importing:
            made += 1
            if made > most:
                sys.setprofile(None)
                raise Overrun(f"more than {most:,} function calls")
    sys.setprofile(count)
    try:
        return fn(*args), made
    finally:
        sys.setprofile(None)
