"""Diagnostics: every error a user can cause, with its YAML location.

An error carries file:line:col, the dotted node path, what is wrong with the
actual values, the chain of block instantiations that led there, and a hint.
Errors are collected (several per run), never raised as tracebacks at users.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

from .limits import MAX_ERRORS, MAX_MESSAGE


def printable(text: str) -> str:
    """Text safe for a terminal: control characters (escape sequences) shown as spaces, lines kept."""
    return "\n".join("".join(c if c.isprintable() or c == "\t" else " " for c in line)
                     for line in str(text).split("\n"))


class Loc(NamedTuple):
    """A position in a spec file; line and col are 1-based (a tuple: made once per YAML value)."""
    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


@dataclass(frozen=True)
class Frame:
    """One block instantiation on the way to a node."""
    block: str
    loc: Loc
    path: str
    index: int | None = None

    def __str__(self) -> str:
        where = self.path or "<top>"
        if self.index is not None:
            where += f", index {self.index}"
        return f"in block '{self.block}' instantiated at {self.loc} ({where})"


FOLLOWS = "(follows from the error above)"


@dataclass
class Diagnostic:
    loc: Loc | None
    message: str
    path: str = ""
    hint: str | None = None
    chain: tuple[Frame, ...] = ()
    severity: str = "error"
    follows: bool = False           # an echo of an earlier error (it read a shape that error left unknown)
    context: str | None = None      # the --set values the network was built with, where not at a --set

    def __str__(self) -> str:
        head = f"{self.loc}: " if self.loc else ""
        path = f"{self.path}: " if self.path else ""
        lines = [f"{head}{self.severity}: {path}{self.message}" + (f" {FOLLOWS}" if self.follows else "")]
        frames = [f"  {frame}" for frame in reversed(self.chain)]
        if len(frames) > 8:     # a runaway recursion: the innermost and outermost frames tell the story
            frames[4:-2] = [f"  ... {len(frames) - 6} more instantiations"]
        lines += frames
        if self.context:
            lines.append(f"  {self.context}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(_cut(printable(line)) for line in lines)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 4] + " ..."


class SpecError(Exception):
    """Raised by inner code for one problem; the caller adds where it happened."""

    def __init__(self, message: str, hint: str | None = None, loc: Loc | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.loc = loc


class FollowsError(SpecError):
    """An error caused by an earlier one: an expression read a shape that the earlier error left
    unknown. Reported after every root cause, marked as following from it."""


class LimitError(SpecError):
    """A limit of archspec/limits.py was reached: the run stops at once (one error, not one per node)."""

    def __init__(self, message: str, hint: str | None = None, loc: Loc | None = None, chain: tuple = ()):
        super().__init__(message, hint, loc)
        self.chain = chain


class SpecErrors(Exception):
    """A failed run: all the diagnostics collected, errors first in file order."""

    def __init__(self, diagnostics: list[Diagnostic] | str):
        if isinstance(diagnostics, str):      # torch's DataLoader re-raised a worker's: type(its text)
            diagnostics = [_reraised(diagnostics)]
        self.diagnostics = diagnostics
        super().__init__("\n".join(map(str, diagnostics)))


def _reraised(text: str) -> Diagnostic:
    """The diagnostic in a DataLoader worker's re-raised text ("Caught SpecErrors in DataLoader worker
    ... Original Traceback ... SpecErrors: LOC: error: MESSAGE\n  hint: HINT"), its traceback left out."""
    lines = text.rsplit("SpecErrors: ", 1)[-1].strip().splitlines() or [""]
    where, _, message = lines[0].partition(": error: ")
    hints = [line.strip()[len("hint: "):] for line in lines[1:] if line.strip().startswith("hint: ")]
    if not message:
        return Diagnostic(None, printable(lines[0]))
    return Diagnostic(Loc(where), message, hint=hints[0] if hints else None)


@dataclass
class Diagnostics:
    """Collects errors and warnings; identical reports (same place, same text) are kept once."""
    items: list[Diagnostic] = field(default_factory=list)
    _seen: set = field(default_factory=set)
    context: str | None = None      # "with --set k=0": said under each report not located at a --set
    given: frozenset = frozenset()  # the --set (and keyword) locations' names, which say it themselves

    def add(self, diag: Diagnostic) -> None:
        key = (diag.loc, diag.message, diag.severity)
        if self.context and diag.context is None and not (diag.loc and diag.loc.file in self.given):
            diag = replace(diag, context=self.context)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(diag)
            if diag.severity == "error" and len(self.errors) >= MAX_ERRORS:
                stop = Diagnostic(None, f"stopped after {MAX_ERRORS} errors", severity="note")
                raise SpecErrors(sorted(self.errors, key=_position) + [stop])

    def error(self, loc, message, path="", hint=None, chain=(), follows=False):
        self.add(Diagnostic(loc, message, path, hint, tuple(chain), follows=follows))

    def warning(self, loc, message, path="", hint=None, chain=()):
        self.add(Diagnostic(loc, message, path, hint, tuple(chain), "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        """Errors in file order; warnings are left out (they are often an error's echo)."""
        if self.errors:
            raise SpecErrors(sorted(self.errors, key=_position))


def _position(d: Diagnostic):
    """Root causes first, in file order, then the errors that follow from them."""
    return (d.follows, *((d.loc.file, d.loc.line, d.loc.col) if d.loc else ("", 0, 0)))


def did_you_mean(name: str, choices) -> str | None:
    import difflib  # only when there is a mistake to explain
    name = str(name)
    if len(name) > 100:
        return None
    candidates = [str(c) for c in choices]
    if len(candidates) > 1000:      # keep a hint cheap: only names of about the same length
        candidates = [c for c in candidates if abs(len(c) - len(name)) <= 2][:1000]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def fmt_shape(shape) -> str:
    """(C, H, W) as text; a channels-last shape (ops.base.ChannelsLast) says so: (H, W, C) HWC."""
    if shape is None:
        return "(?)"
    layout = getattr(shape, "layout", None)      # errors.py cannot import ops.base, which imports it
    return "(" + ", ".join(map(str, shape)) + ")" + (f" {layout}" if layout else "")


def warn(warnings: list[Diagnostic], strict: bool = False) -> None:
    """Print warnings to stderr; with --strict they are errors."""
    import sys
    if strict and warnings:
        raise SpecErrors([replace(w, severity="error", hint=f"{w.hint} (an error with --strict)" if w.hint
                                  else "a warning, an error with --strict") for w in warnings])
    for w in warnings:
        print(w, file=sys.stderr)
