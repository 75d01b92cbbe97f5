"""Building a large graph allocates millions of small objects and no garbage cycles;
Python's cyclic collector would rescan them all again and again (quadratic time
on a 100k-node spec), so it is paused while a spec is loaded and expanded."""
from __future__ import annotations

import gc
from contextlib import contextmanager
from functools import wraps


@contextmanager
def paused():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def gc_paused(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        with paused():
            return fn(*args, **kwargs)
    return wrapper
