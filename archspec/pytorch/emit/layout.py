"""Line layout as `ruff format` writes it (line length 100), for the few shapes emit writes:
a bracketed list of parts after a head, and wrapped prose for comments and docstrings."""
from __future__ import annotations

import textwrap
from collections.abc import Iterator

WIDTH = 100


def bracketed(head: str, parts: list[str], tail: str, indent: str, start: int = 0, end: int = 0,
              open_: str = "(", close: str = ")") -> str:
    """`head(parts)tail`, `start` columns after `indent` and followed by `end` more characters
    on its line: on one line where it fits, else the parts on one line of their own, else one
    part a line with a trailing comma (ruff's right-hand split)."""
    one = f"{head}{open_}{', '.join(parts)}{close}{tail}"
    if "\n" not in one and len(indent) + start + len(one) + end <= WIDTH:
        return one
    inner = indent + "    "
    joined = ", ".join(parts)
    if "\n" not in joined and len(inner) + len(joined) <= WIDTH:
        return f"{head}{open_}\n{inner}{joined}\n{indent}{close}{tail}"
    return f"{head}{open_}\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent}{close}{tail}"


def prose(text: str, indent: str, first: int = 0, prefix: str = "") -> list[str]:
    """Text wrapped to fit after `indent` + `prefix` (the first line `first` columns shorter,
    for an opening quote), never breaking a word."""
    width = WIDTH - len(indent) - len(prefix)
    lines = textwrap.wrap(" " * first + text, width, break_long_words=False, break_on_hyphens=False)
    if lines and first:
        lines[0] = lines[0][first:]
    return [prefix + line for line in lines] or [prefix.rstrip()]


def split_line(line: str) -> list[str]:
    """A statement line longer than WIDTH split at its last bracket pair as ruff does: the
    contents on one line of their own where they fit, else one item a line (each split again
    where it is still too long) with a trailing comma."""
    if len(line) <= WIDTH:
        return [line]
    pairs = _bracket_pairs(line)
    # the last bracket closed before nothing but one of ":", ",", ")": at most two places to look
    stripped = line.rstrip()
    ends = [len(stripped) - 1] + ([len(stripped[:-1].rstrip()) - 1] if stripped[-1:] in (":", ",", ")") else [])
    close = max((c for c in ends if c in pairs), default=None)
    if close is None:
        return [line]
    open_ = pairs[close]
    indent = line[:len(line) - len(line.lstrip())]
    head, items, tail = line[:open_ + 1], _items(line[open_ + 1:close]), line[close:]
    inner = indent + "    "
    joined = ", ".join(items)
    if len(inner) + len(joined) <= WIDTH:
        return [head, inner + joined, indent + tail]
    return [head, *(part for item in items for part in split_line(f"{inner}{item},")), indent + tail]


def _bracket_pairs(line: str) -> dict[int, int]:
    """{closing index: opening index} of the brackets outside string literals."""
    pairs, stack = {}, []
    for i, ch in _code(line):
        if ch in "([{":
            stack.append(i)
        elif ch in ")]}" and stack:
            pairs[i] = stack.pop()
    return pairs


def _items(body: str) -> list[str]:
    """The comma-separated items at the top level of a bracket's contents."""
    items, depth, start = [], 0, 0
    for i, ch in _code(body):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            items.append(body[start:i].strip())
            start = i + 1
    last = body[start:].strip()
    return items + ([last] if last else [])


def _code(text: str) -> Iterator[tuple[int, str]]:
    """(index, character) of the characters outside string literals (the emitter's strings
    hold no escaped quote)."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        else:
            yield i, ch
