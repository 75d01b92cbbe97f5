"""Command-line option values checked by their meaning: each a usage error (exit 2) that names the
option and its valid range, before any work. argparse adds the option's name to the message."""
from __future__ import annotations

import argparse
import math

from .. import limits

MAX_SEED = 2**32 - 1         # a seed for torch, Python and the data sampler alike (each adds to it)
MAX_WORKERS = 256            # data loading processes


def integer(low: int, high: int | None = None, what: str = "an integer"):
    """An int in [low, high] (high None: no upper bound), written in decimal digits."""
    def parse(text: str) -> int:
        digits = text.strip()
        value = int(digits) if len(digits) <= 30 and digits.lstrip("-").isdigit() else None
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


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return int(text)


def batch(text: str) -> int:
    value = positive(text)
    if value > limits.MAX_BATCH:
        raise argparse.ArgumentTypeError(f"a batch of at most {limits.MAX_BATCH:,}, got {value:,}")
    return value


def depth(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"depth must be 0 (every node) or a positive int, got {text!r}")
    return int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value

