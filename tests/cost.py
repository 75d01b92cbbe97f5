"""Cost counted, not timed (issue 25's bounds): the function calls a run makes, as cProfile counts them
(every Python call and generator step, and each call of a builtin), are the same on every machine,
idle or loaded, fast or slow. A bound on them, or on their growth from n to 2n, fails only when the
code does more work: 2x for linear work, near 4x for quadratic. A wall-clock bound failed on a slower
CI machine (2026-12-07: 21-23 s against 20 s) while the code was unchanged."""
from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from typing import Any


def calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, int]:
    """fn(*args, **kwargs), and the number of function calls it made (in this thread)."""
    profile = cProfile.Profile()
    result = profile.runcall(fn, *args, **kwargs)
    return result, pstats.Stats(profile).total_calls


def growth(run: Callable[[int], Any], n: int) -> float:
    """How many times the calls of run(n) those of run(2 n) are: about 2 where the work is linear in
    n (less, for a fixed cost beside it), about 4 where it is quadratic."""
    return calls(run, 2 * n)[1] / calls(run, n)[1]
