"""YAML loading that keeps every value's file:line:col.

Mappings become `YDict` and sequences `YList`; each remembers its own location
and the location of each of its values, so any value can be blamed precisely.
Only plain scalars (text, numbers, booleans, null), lists and mappings are read;
every other tag, non-finite numbers and oversized integers are located errors.
"""
from __future__ import annotations

import math
import os
from contextvars import ContextVar

import yaml

from ..errors import Diagnostic, Loc, SpecError, SpecErrors
from ..files import open_regular
from ..limits import MAX_FILE_BYTES, MAX_INT, MAX_YAML_DEPTH, MAX_YAML_VALUES
from ..names import one_line
from .expr import expr_end

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _INT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"


class _Resolving:
    """Scalar tag resolution memoised: specs repeat the same few words and numbers, and
    resolution is most of the cost of a large file."""
    _resolved: dict = {}
    _resolver = yaml.resolver.Resolver()

    @classmethod
    def resolve_scalar(cls, value: str, implicit) -> str:
        key = (value, implicit)
        tag = cls._resolved.get(key)
        if tag is None:
            tag = cls._resolver.resolve(yaml.ScalarNode, value, implicit)
            if len(cls._resolved) < 65536 and len(value) < 64:
                cls._resolved[key] = tag
        return tag


class _Loader(_Resolving, _Base):      # the C parser where PyYAML has it
    """The safe loader's parser."""


class _PyLoader(_Resolving, yaml.SafeLoader):
    """The pure-Python parser: it reads no further ahead than each event needs."""


class YDict(dict):
    """A mapping with `loc` (where it starts) and `locs[key]` (where each value starts)."""
    __slots__ = ("loc", "locs", "key_locs")

    def __init__(self, loc: Loc, items=(), locs=None, key_locs=None):
        super().__init__(items)
        self.loc = loc
        self.locs = dict(locs or {})
        self.key_locs = dict(key_locs or {})

    def at(self, key) -> Loc:
        return self.locs.get(key, self.loc)

    def key_at(self, key) -> Loc:
        return self.key_locs.get(key, self.loc)


def overlay(base, child):
    """The child mapping's entries added to the base's, replacing them name by name (a variant's
    params, blocks and init over its base's)."""
    if not (isinstance(base, YDict) and isinstance(child, YDict)):
        return child
    out = YDict(child.loc, base, base.locs, base.key_locs)
    out.update(child)
    out.locs.update(child.locs)
    out.key_locs.update(child.key_locs)
    return out


class YList(list):
    """A sequence with `loc` and `locs[i]` for each item."""
    __slots__ = ("loc", "locs")

    def __init__(self, loc: Loc, items=(), locs=()):
        super().__init__(items)
        self.loc = loc
        self.locs = list(locs)

    def at(self, i: int) -> Loc:
        return self.locs[i] if i < len(self.locs) else self.loc


def loc_of(value, default: Loc) -> Loc:
    return getattr(value, "loc", default)


# `${...}` is plain YAML: inside a flow collection ({...} or [...]) YAML ends a plain
# scalar at `{`, so there it must be quoted; on its own as a block value it may stay
# unquoted unless it holds ` #` (a comment starts) or `: ` (a mapping starts). Each of
# these is reported at the `${`, with the quoted form as the hint. The checks run only
# when the text has `${` and YAML refused it (or kept a cut-off expression): the fast
# path stays the C parser's.

def _quoted(item: str) -> str:
    """`item` as a YAML quoted scalar: double quotes unless it holds `"` or a backslash."""
    if '"' not in item and "\\" not in item:
        return f'"{item}"'
    return "'" + item.replace("'", "''") + "'"


def _item_end(text: str, pos: int, flow: bool) -> int:
    """Where the plain item whose expression ends at `pos` ends (its own later `${...}` included)."""
    stops = ",]}\n" if flow else "\n"
    n = len(text)
    while pos < n:
        if text.startswith("${", pos):
            end = expr_end(text, pos)
            if end != -1:
                pos = end
                continue
        c = text[pos]
        comment = c == "#" and text[pos - 1] in " \t"
        if c in stops or comment or (c == ":" and text[pos + 1:pos + 2] in ("", " ", "\t", "\n")):
            break
        pos += 1
    while pos > 0 and text[pos - 1] in " \t":
        pos -= 1
    return pos


def _expr_error(text: str, filename: str, dollar: int, item_start: int, flow: bool) -> SpecError:
    """The located error for the unquoted `${` at `dollar` in the item starting at `item_start`."""
    end = expr_end(text, dollar)
    item = text[item_start:_item_end(text, end if end != -1 else dollar + 2, flow)]
    line_start = text.rfind("\n", 0, dollar) + 1
    before = text[line_start:item_start].rstrip()
    key = ""
    if before.endswith(":"):       # the item is a mapping value: show its key too
        key_start = max(before.rfind(c, 0, len(before) - 1) for c in "{[,") + 1
        key = before[key_start:-1].strip()
        while key.startswith(("- ", "-\t")):
            key = key[2:].strip()
        key = f"{key}: " if key else ""
    loc = Loc(filename, text.count("\n", 0, dollar) + 1, dollar - line_start + 1)
    if flow:
        what = "an expression inside a YAML flow collection ({...} or [...]) must be quoted"
    else:
        what = "an expression holding ': ' or ' #' must be quoted (YAML reads a mapping or a comment there)"
    return SpecError(what, loc=loc, hint=f"write {key}{_quoted(item)}")


def _item_start(text: str, dollar: int, flow: bool) -> int:
    """Where the plain item holding the `${` at `dollar` starts, read back along its line."""
    line_start = text.rfind("\n", 0, dollar) + 1
    head = text[line_start:dollar]
    if flow:
        cut = max(head.rfind("{"), head.rfind("["), head.rfind(","), head.rfind(": ") + 1, head.rfind(":\t") + 1)
    else:
        body = head.lstrip(" \t")
        while body.startswith(("- ", "-\t")):
            body = body[2:].lstrip(" \t")
        cut = max(len(head) - len(body) - 1, head.rfind(": ") + 1, head.rfind(":\t") + 1)
    start = line_start + cut + 1
    while start < dollar and text[start] in " \t":
        start += 1
    return start


_FLOW_START = (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_FLOW_END = (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _unquoted_expr(text: str, filename: str, mark) -> SpecError | None:
    """The error for an unquoted `${...}` that made YAML fail at `mark`, or None. Mostly the
    parser stops at the `{` of `${` (in a block value `{` cannot start a token). Otherwise
    the tokens up to the failing line (the culprit is never later) show which plain scalars
    are in a flow collection; one there that ends in `$` before a `{` is the culprit."""
    if text[mark.index - 1:mark.index + 1] == "${":     # the parser's error at `{` after a flow `...$`
        return _expr_error(text, filename, mark.index - 1, _item_start(text, mark.index - 1, True), flow=True)
    line_end = text.find("\n", mark.index)
    scanner = _Base(text if line_end == -1 else text[:line_end + 1])
    depth = 0
    try:
        while scanner.check_token():
            token = scanner.get_token()
            if isinstance(token, _FLOW_START):
                depth += 1
            elif isinstance(token, _FLOW_END):
                depth -= 1
            elif depth and isinstance(token, yaml.ScalarToken) and token.plain and token.value.endswith("$"):
                end = token.end_mark.index
                if text[end:end + 1] == "{":
                    return _expr_error(text, filename, end - 1, token.start_mark.index, flow=True)
    except yaml.YAMLError:       # the scanner's own error: inside an expression on its line?
        pass
    finally:
        scanner.dispose()
    line_start = text.rfind("\n", 0, mark.index) + 1
    i = text.find("${", line_start, mark.index + 1)
    while i != -1:
        end = expr_end(text, i)
        if end == -1:
            break
        if i < mark.index < end:
            flow = depth > 0
            return _expr_error(text, filename, i, _item_start(text, i, flow), flow)
        i = text.find("${", end, mark.index + 1)
    return None


def load_text(text: str, filename: str):
    """Parse YAML text; a syntax error is reported at its own position. The libyaml of newer
    PyYAML (6.0.4) refuses nesting past 1,000 while it scans ahead, before the builder has met
    archspec's own limit event by event: such a text is parsed again by the Python parser, which
    reaches the limit first and so reports it where it is (MAX_YAML_DEPTH)."""
    try:
        return _load_text(text, filename, _Loader)
    except SpecError as e:
        if _Base is yaml.SafeLoader or not e.message.endswith(LIBYAML_DEPTH):
            raise
        return _load_text(text, filename, _PyLoader)


LIBYAML_DEPTH = "exceeded maximum nesting depth"     # libyaml's own message


def _load_text(text: str, filename: str, parser: type):
    loader = parser(text)
    try:
        return _Builder(filename, text).build(loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        unquoted = _unquoted_expr(text, filename, mark) if mark and "${" in text else None
        if unquoted:
            raise unquoted from None
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else Loc(filename)
        what = e.problem or e.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {what}", loc=loc,
                        hint="check indentation and that every '{', '[' and quote is closed") from None
    except yaml.reader.ReaderError as e:     # a control character: located by its offset
        pos = e.position
        loc = Loc(filename, text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos))
        raise SpecError(f"YAML error: character {e.character!r} is not allowed in YAML text", loc=loc) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {one_line(e)}", loc=Loc(filename)) from None
    finally:
        loader.dispose()


# While set, the only files a spec may read (real paths): a checkpoint's own spec files, as
# train/checkpoint.py rebuilds them; an `extends:` or `use:` of any other file is refused unread.
CONFINED: ContextVar[frozenset[str] | None] = ContextVar("archspec_confined", default=None)


def read_text(path: str, shown: str, what: str = "spec file") -> str:
    """A spec file's text: a regular file (never a device, pipe or folder) within the size limit."""
    confined = CONFINED.get()
    if confined is not None and os.path.realpath(path) not in confined:
        raise SpecError(f"{what} is not one of the checkpoint's files: a checkpoint's spec reads only those",
                        loc=Loc(shown))
    try:      # never a device, pipe or folder (a FIFO with no writer would block)
        f = open_regular(path)
        if f is None:
            raise SpecError(f"{what} is not a regular file", loc=Loc(shown))
        with f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise SpecError(f"cannot read {what}: {e.strerror}", loc=Loc(shown)) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(f"{what} is larger than archspec's limit of {MAX_FILE_BYTES // 2**20} MiB", loc=Loc(shown))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{what} is not UTF-8 text", loc=Loc(shown)) from None


def load_file(path: str, shown: str | None = None, what: str = "spec file"):
    shown = shown or path
    return load_text(read_text(path, shown, what), shown)


_SCALARS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null")}
_COLLECTIONS = {"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Builder:
    """Spec values straight from the YAML event stream, with an explicit stack: nesting,
    alias expansion and self-referencing aliases are checked as the events arrive, before
    any of that work is done. An alias shares the anchored value (as PyYAML's does); its
    expanded size counts against MAX_YAML_VALUES."""

    def __init__(self, filename: str, text: str = ""):
        self.filename = filename
        self.text = text
        self.scalars = yaml.constructor.SafeConstructor()
        self.anchors: dict[str, tuple | None] = {}   # anchor -> (value, expanded size); None while open
        self.total = 0
        self.bad_values: list[Diagnostic] = []   # reported together, after the whole file is read

    def loc(self, event) -> Loc:
        return Loc(self.filename, event.start_mark.line + 1, event.start_mark.column + 1)

    def build(self, loader):
        stack: list[list] = []      # [container, anchor, size, pending key, key loc]
        root, documents = None, 0
        while loader.check_event():
            ev = loader.get_event()
            kind = type(ev)             # by frequency: scalars, then collections (a large file is mostly scalars)
            if kind is yaml.ScalarEvent:
                self._count(1, ev)
                value, size, loc = self._scalar(ev), 1, self.loc(ev)
                if ev.anchor is not None:
                    self.anchors[ev.anchor] = (value, 1)
            elif kind in _ENDS:
                box, anchor, size, _, _ = stack.pop()
                if anchor is not None:
                    self.anchors[anchor] = (box, size)
                value, loc = box, box.loc
            elif kind in _STARTS:
                stack.append(self._start(ev, len(stack)))
                continue
            elif kind is yaml.AliasEvent:
                value, size = self._alias(ev)
                self._count(size, ev)
                loc = self.loc(ev)
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise SpecError("a spec file holds one YAML document", loc=self.loc(ev),
                                    hint="remove the second '---'")
                continue
            else:
                continue
            if not stack:
                root = value
                continue
            self._add(stack[-1], value, size, loc)
        if self.bad_values:
            raise SpecErrors(self.bad_values)
        return root

    def _start(self, ev, depth: int) -> list:
        """A mapping or sequence begins: its box on the stack, nesting and tag checked."""
        self._count(1, ev)
        if depth >= MAX_YAML_DEPTH:
            raise SpecError(f"YAML nested more than {MAX_YAML_DEPTH} deep", loc=self.loc(ev))
        self._collection_tag(ev)
        box = YDict(self.loc(ev)) if type(ev) is yaml.MappingStartEvent else YList(self.loc(ev))
        if ev.anchor is not None:
            self.anchors[ev.anchor] = None
        return [box, ev.anchor, 1, _NO_KEY, None]

    def _alias(self, ev) -> tuple:
        if ev.anchor not in self.anchors:
            raise SpecError(f"undefined YAML alias '*{ev.anchor}'", loc=self.loc(ev))
        anchored = self.anchors[ev.anchor]
        if anchored is None:
            raise SpecError(f"YAML alias '*{ev.anchor}' refers to a value that contains it",
                            loc=self.loc(ev), hint="an alias may only repeat a finished value")
        return anchored

    def _count(self, size: int, ev) -> None:
        self.total += size
        if self.total > MAX_YAML_VALUES:
            raise SpecError(f"the YAML expands to more than {MAX_YAML_VALUES:,} values", loc=self.loc(ev),
                            hint="aliases (*name) repeat their anchor's whole value; a spec needs few")

    def _add(self, top: list, value, size: int, loc: Loc) -> None:
        box = top[0]
        top[2] += size
        if isinstance(box, YList):
            box.append(value)
            box.locs.append(loc)
        elif top[3] is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise SpecError("a mapping key must be a plain scalar", loc=loc)
            if value in box:
                raise SpecError(f"duplicate key '{one_line(value, 60)}'", loc=loc,
                                hint=f"it is already set at {box.key_at(value)}")
            top[3], top[4] = value, loc
        else:
            key = top[3]
            box[key] = value
            box.locs[key], box.key_locs[key] = loc, top[4]
            top[3] = _NO_KEY

    def _collection_tag(self, ev) -> None:
        if ev.tag not in (None, "!") and ev.tag not in _COLLECTIONS:
            raise SpecError(f"unsupported YAML tag {one_line(ev.tag, 60)}", loc=self.loc(ev),
                            hint="a spec holds plain lists, mappings, text, numbers and booleans")

    def _cut_expr(self, ev) -> None:
        """A plain scalar whose `${...}` YAML cut short at ' #' (a comment) or ': ' (a mapping)."""
        i = ev.value.rfind("${")
        if expr_end(ev.value, i) != -1 or ev.end_mark.line != ev.start_mark.line:
            return
        dollar = ev.start_mark.index + i
        if self.text[dollar:dollar + 2] == "${" and expr_end(self.text, dollar) != -1:
            raise _expr_error(self.text, self.filename, dollar, ev.start_mark.index, flow=False)

    def _scalar(self, ev):
        tag = ev.tag
        if tag in (None, "!"):
            tag = _Loader.resolve_scalar(ev.value, ev.implicit)
        text = ev.value
        if not ev.style and "${" in text:     # plain (the C parser says '', PyYAML's None)
            self._cut_expr(ev)
        if tag == _STR or (tag == _TIMESTAMP and ev.tag is None):     # a bare date stays text
            return text
        if tag not in _SCALARS:
            raise SpecError(f"unsupported YAML tag {one_line(tag, 60)}", loc=self.loc(ev),
                            hint="a spec holds plain lists, mappings, text, numbers and booleans")
        if tag == _INT and len(text) > 40:
            raise SpecError(f"integer too large: {text[:20]}... ({len(text)} characters)", loc=self.loc(ev))
        node = yaml.ScalarNode(tag, text, ev.start_mark, ev.end_mark, ev.style)
        try:
            value = int(text) if tag == _INT and text.isdigit() else self.scalars.construct_object(node)
        except Exception:   # noqa: BLE001 - PyYAML's constructors raise ValueError, KeyError, ...
            kind = tag.rsplit(":", 1)[-1]
            raise SpecError(f"invalid {kind} value {one_line(text, 40)!r}", loc=self.loc(ev)) from None
        problem = number_problem(value)
        if problem:
            self.bad_values.append(Diagnostic(self.loc(ev), f"{one_line(text, 40)}: {problem}"))
            return 0
        return value


def number_problem(value) -> str | None:
    """Why a number cannot be in a spec (non-finite, or an integer past MAX_INT), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
        return f"integer too large (archspec's limit is 2**{MAX_INT.bit_length() - 1})"
    return None


_NO_KEY = object()
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
