"""Command-line option values checked by their meaning: each a usage error (exit 2) that names the
option and its valid range, before any work. argparse adds the option's name to the message."""
from __future__ import annotations

import argparse
import math
import re

from .. import limits

MAX_SEED = 2**32 - 1         # a seed for torch, Python and the data sampler alike (each adds to it)
MAX_WORKERS = 256            # data loading processes
MAX_THREADS = 1024           # torch's CPU threads (torch itself fails far past the cores there are)


def integer(low: int, high: int | None = None, what: str = "an integer"):
    """An int in [low, high] (high None: no upper bound), written in decimal digits."""
    def parse(text: str) -> int:
        digits = text.strip()
        value = int(digits) if re.fullmatch(r"-?[0-9]{1,30}", digits) else None
        if value is None or value < low or (high is not None and value > high):
            span = f"from {low:,} to {high:,}" if high is not None else f"of {low:,} or more"
            raise argparse.ArgumentTypeError(f"expected {what} {span}, got {text[:40]!r}")
        return value
    return parse


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = True,
           what: str = "a number"):
    """A finite float in the interval [low, high), its ends open or closed as given."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if not (math.isfinite(value) and above and below):
            span = (("(" if low_open else "[") + f"{low:g}, " + (f"{high:g}" if math.isfinite(high) else "inf")
                    + (")" if high_open else "]"))
            raise argparse.ArgumentTypeError(f"expected {what} in {span}, got {text[:40]!r}")
        return value
    return parse


seed = integer(0, MAX_SEED, "a seed")
workers = integer(0, MAX_WORKERS, "a number of processes")
non_negative = integer(0)                      # --lr-step (0: a constant lr), --image
momentum = number(0.0, 1.0, what="a momentum")
weight_decay = number(0.0, what="a weight decay")
fraction = number(0.0, 1.0, what="a fraction")  # --label-smoothing

positive = integer(1)                          # --epochs, --patch
threads = integer(1, MAX_THREADS, "a number of threads")
batch = integer(1, limits.MAX_BATCH, "a batch")
depth = integer(0, what="a depth (0: every node)")
positive_float = number(0.0, low_open=True)    # --lr, --lr-gamma
