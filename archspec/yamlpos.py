"""YAML loading that keeps every value's file:line:col.

Mappings become `YDict` and sequences `YList`; each remembers its own location
and the location of each of its values, so any value can be blamed precisely.
Only the safe schema is used (plain scalars, lists, mappings).
"""
from __future__ import annotations

import re

import yaml

from .errors import Loc, SpecError

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _INT = "tag:yaml.org,2002:str", "tag:yaml.org,2002:int"


class _Loader(_Base):
    """The safe loader, with scalar tag resolution memoised: specs repeat the same
    few words and numbers, and resolution is most of the cost of a large file."""
    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(self._resolved) < 65536:
                self._resolved[key] = tag
        return tag


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


# `${...}` must read naturally inside flow mappings ({out: ${planes * 4}, k: 3}),
# where YAML would end a plain scalar at `{ } [ ] ,`. Before parsing, those
# characters inside an expression are swapped one-for-one with private-use
# characters (so every column stays true) and swapped back in the loaded strings.
_EXPR = re.compile(r"\$\{[^{}\n]*(?:\{[^{}\n]*\}[^{}\n]*)*\}")
_PLAIN, _SAFE = "{}[],#", "\ue000\ue001\ue002\ue003\ue004\ue005"
_PROTECT, _RESTORE = str.maketrans(_PLAIN, _SAFE), str.maketrans(_SAFE, _PLAIN)


def _protect(text: str) -> str:
    if "${" not in text:
        return text
    return _EXPR.sub(lambda m: m.group(0).translate(_PROTECT), text)


def load_text(text: str, filename: str):
    """Parse YAML text; a syntax error is reported at its own position."""
    try:
        root = yaml.compose(_protect(text), Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(filename, mark.line + 1, mark.column + 1) if mark else Loc(filename)
        what = e.problem or e.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {what}", loc=loc,
                        hint="check indentation and that every '{', '[' and quote is closed") from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML error: {e}", loc=Loc(filename)) from None
    if root is None:
        return None
    return _Converter(filename).convert(root)


def load_file(path: str, shown: str | None = None):
    shown = shown or path
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SpecError(f"cannot read spec file: {e.strerror}", loc=Loc(shown)) from None
    except UnicodeDecodeError:
        raise SpecError("spec file is not UTF-8 text", loc=Loc(shown)) from None
    return load_text(text, shown)


class _Converter:
    def __init__(self, filename: str):
        self.filename = filename
        self.scalars = yaml.constructor.SafeConstructor()

    def loc(self, node) -> Loc:
        return Loc(self.filename, node.start_mark.line + 1, node.start_mark.column + 1)

    def convert(self, node):
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:      # the common cases, without the constructor's bookkeeping
                return node.value.translate(_RESTORE)
            if node.tag == _INT and node.value.isdigit():
                return int(node.value)
            try:
                return self.scalars.construct_object(node)
            except yaml.constructor.ConstructorError as e:
                raise SpecError(f"unsupported YAML value: {e.problem}", loc=self.loc(node)) from None
        if isinstance(node, yaml.SequenceNode):
            return YList(self.loc(node), [self.convert(n) for n in node.value],
                         [self.loc(n) for n in node.value])
        if isinstance(node, yaml.MappingNode):
            out = YDict(self.loc(node))
            for knode, vnode in node.value:
                key = self.convert(knode)
                if isinstance(key, (dict, list)):
                    raise SpecError("a mapping key must be a plain scalar", loc=self.loc(knode))
                if key in out:
                    raise SpecError(f"duplicate key '{key}'", loc=self.loc(knode),
                                    hint=f"'{key}' is already set at {out.key_at(key)}")
                out[key] = self.convert(vnode)
                out.locs[key] = self.loc(vnode)
                out.key_locs[key] = self.loc(knode)
            return out
        raise SpecError("unsupported YAML node", loc=self.loc(node))
