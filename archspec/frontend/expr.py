"""`${...}` expressions, evaluated by a restricted interpreter (never Python's eval).

The text is parsed with Python's own parser (`ast.parse`, which runs nothing)
and the tree is walked with a whitelist: literals, names, arithmetic,
comparisons, and/or/not, `a if c else b`, indexing, a few pure functions, and
the attributes of an incoming tensor shape (`input.channels`, `input.height`,
`input.width`, `input.shape`).
"""
from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..errors import SpecError, did_you_mean
from ..limits import MAX_COMPREHENSION, MAX_EXPR_CHARS, MAX_EXPR_NODES, MAX_INT, MAX_SIZE
from ..names import shown
from ..ops.base import ChannelsLast

_WHOLE = re.compile(r"^\s*\$\{(.*)\}\s*$", re.S)


_FIRST = {"channels": 0, "height": 1, "width": 2}      # (C, H, W)
_LAST = {"channels": 2, "height": 0, "width": 1}       # (H, W, C), after a permute


class ShapeView:
    """What an expression sees of a tensor: `channels`, `height`, `width`, `shape`."""
    __slots__ = ("shape", "axes")
    _FIELDS = ("channels", "height", "width", "shape", "rank")

    def __init__(self, shape):
        self.shape = list(shape)
        self.axes = _LAST if isinstance(shape, ChannelsLast) else _FIRST

    def get(self, field: str):
        if field == "shape":
            return list(self.shape)
        if field == "rank":
            return len(self.shape)
        axis = self.axes[field]
        if axis >= len(self.shape) or (field != "channels" and len(self.shape) != 3):   # (R, C, H, W): .shape
            raise SpecError(f"the incoming tensor {tuple(self.shape)} has no {field}")
        return self.shape[axis]

    def __repr__(self) -> str:
        return f"shape{tuple(self.shape)}"


def _pow(a, b):
    if isinstance(b, (int, float)) and abs(b) > 64:
        raise SpecError(f"exponent {b} is too large")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > 2 * MAX_INT.bit_length():
        raise SpecError(f"{shown(a)} ** {b} is too large")
    try:
        return a ** b
    except OverflowError:        # a float past the largest double
        raise SpecError(f"{shown(a)} ** {shown(b)} is too large") from None


def _type(v) -> str:
    return type(v).__name__


def _div(a, b):
    return a / b


def _mul(a, b):
    """Numbers, or text and lists repeated: the result's size is checked before it is made."""
    if isinstance(b, (str, list)):
        a, b = b, a
    if isinstance(a, (str, list)) and isinstance(b, int) and _size(a) * b > MAX_SIZE:
        raise SpecError(f"repeating {type(a).__name__} of size {_size(a)} {b} times exceeds archspec's "
                        f"limit of {MAX_SIZE:,} elements")
    return operator.mul(a, b)


def _mod(a, b):
    if isinstance(a, str):
        raise SpecError("'%' applies to numbers, not text", hint="build text with + or ${...} inside a string")
    return operator.mod(a, b)


def _range(*args):
    r = range(*args)
    if len(r) > MAX_SIZE:
        raise SpecError(f"range of {len(r):,} numbers exceeds archspec's limit of {MAX_SIZE:,}")
    return list(r)


def _round(x, ndigits=None):
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 30):
        raise SpecError(f"round(x, n) takes n between -30 and 30, got {shown(ndigits)}")
    return round(x, ndigits)


def _sum(values):
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
        raise SpecError(f"sum(...) adds a list of numbers, got {shown(values)}")
    return sum(values)


def _number(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(f"{what} takes a number, got {_type(v)} {shown(v)}")
    return v


def _sqrt(x):
    if _number(x, "sqrt(x)") < 0:
        raise SpecError(f"sqrt of the negative number {shown(x)}", hint="sqrt(x) needs x >= 0")
    return math.sqrt(x)


def _log2(x):
    if _number(x, "log2(x)") <= 0:
        raise SpecError(f"log2 of {shown(x)}, which is not positive", hint="log2(x) needs x > 0")
    return math.log2(x)


def _make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    """v rounded to the nearest multiple of `divisor`, at least `min_value` (None: divisor), and
    raised by one divisor where rounding lost more than 1 - round_limit of v: torchvision's
    `_make_divisible` (torchvision/models/_utils.py, from TF slim's MobileNet) line for line, and
    timm's `make_divisible` (timm/layers/helpers.py) with its `round_limit`, except that timm
    reads a min_value of 0 as None (`min_value or divisor`); here 0 is 0, as in torchvision."""
    _number(v, "make_divisible(v, ...)")
    _number(round_limit, "make_divisible's round_limit")
    if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1:
        raise SpecError(f"make_divisible's divisor must be a positive int, got {shown(divisor)}")
    if min_value is None:
        min_value = divisor
    _number(min_value, "make_divisible's min_value")
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:      # make sure that rounding down does not lose more than 10%
        new_v += divisor
    return new_v


def _size(v) -> int:
    """Elements in a value, nested lists counted through (stops early past MAX_SIZE)."""
    if isinstance(v, str):
        return len(v)
    if not isinstance(v, list):
        return 1
    total = 0
    for x in v:
        total += _size(x)
        if total > MAX_SIZE:
            break
    return total


def bounded(v):
    """An expression's value within archspec's limits: finite, integers below MAX_INT, text and
    lists at most MAX_SIZE elements."""
    if isinstance(v, float) and not math.isfinite(v):
        raise SpecError(f"the result {v} is not a finite number")
    if isinstance(v, int) and abs(v) >= MAX_INT:
        raise SpecError(f"the result {shown(v)} is outside archspec's integer range, "
                        f"-2**{MAX_INT.bit_length() - 1} < n < 2**{MAX_INT.bit_length() - 1}")
    if isinstance(v, (str, list)) and _size(v) > MAX_SIZE:
        raise SpecError(f"the result has more than archspec's limit of {MAX_SIZE:,} elements")
    return v


_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", _mul),
    ast.Div: ("/", _div), ast.FloorDiv: ("//", operator.floordiv), ast.Mod: ("%", _mod),
    ast.Pow: ("**", _pow),
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "len": len, "sum": _sum, "int": int, "float": float,
    "round": _round, "floor": math.floor, "ceil": math.ceil, "sqrt": _sqrt, "log2": _log2, "range": _range,
    "make_divisible": _make_divisible, "str": str,
}
KEYWORDS = {"make_divisible": ("divisor", "min_value", "round_limit")}   # the functions that take keywords


@lru_cache(maxsize=4096)
def _parse(src: str) -> ast.AST:
    if len(src) > MAX_EXPR_CHARS:
        raise SpecError(f"expression of {len(src):,} characters exceeds archspec's limit of {MAX_EXPR_CHARS:,}")
    try:
        tree = ast.parse(src.strip(), mode="eval").body
    except SyntaxError as e:
        raise SpecError(f"cannot parse expression {shown(src.strip())}: {e.msg}",
                        hint="expressions use Python syntax: a * b, a // b, x if c else y, min(a, b)") from None
    except (RecursionError, MemoryError):
        raise SpecError(f"expression {shown(src.strip())} is nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_EXPR_NODES:
        raise SpecError(f"expression {shown(src.strip())} has more than archspec's limit of "
                        f"{MAX_EXPR_NODES} terms")
    return tree


def parse(src: str) -> ast.AST:
    """The syntax tree of an expression's text as the interpreter reads it (its limits checked,
    cached): what code that writes an expression elsewhere (emit's specexpr) must start from."""
    return _parse(src)


def evaluate(src: str, env: dict):
    """Evaluate one expression text against the names in `env`."""
    try:
        return _eval(_parse(src), env)
    except SpecError:
        raise
    except ZeroDivisionError:
        raise SpecError(f"division by zero in '{src.strip()}'") from None
    except (TypeError, ValueError, IndexError, KeyError, OverflowError, RecursionError) as e:
        raise SpecError(f"cannot evaluate {shown(src.strip())}: {shown(str(e), 120)[1:-1]}") from None


def _eval(node: ast.AST, env: dict) -> Any:
    rule = _RULES.get(type(node))
    if rule is None:
        raise SpecError(f"'{type(node).__name__}' is not allowed in expressions",
                        hint="expressions allow arithmetic, comparisons, and/or/not, x if c else y, indexing and "
                             + ", ".join(sorted(FUNCTIONS)))
    return rule(node, env)


def _constant(node: ast.Constant, env: dict) -> Any:
    if isinstance(node.value, (int, float, str, bool)) or node.value is None:
        return bounded(node.value)
    raise SpecError(f"unsupported literal {shown(node.value)}")


def _name(node: ast.Name, env: dict) -> Any:
    if node.id in env:
        return env[node.id]
    if node.id in FUNCTIONS:
        raise SpecError(f"'{node.id}' is a function; call it, e.g. {node.id}(...)")
    if node.id in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.id]
    raise SpecError(f"undefined name '{node.id}' in expression",
                    hint=did_you_mean(node.id, list(env)) or
                    f"names defined here: {', '.join(sorted(k for k in env if k != 'inputs')) or 'none'}")


def _binop(node: ast.BinOp, env: dict) -> Any:
    if type(node.op) not in _BINOPS:
        raise SpecError(f"operator {type(node.op).__name__} is not allowed in expressions")
    sym, fn = _BINOPS[type(node.op)]
    a, b = _eval(node.left, env), _eval(node.right, env)
    try:
        return bounded(fn(a, b))
    except ZeroDivisionError:
        raise SpecError(f"division by zero: {shown(a)} {sym} {shown(b)}") from None
    except TypeError:
        raise SpecError(f"cannot apply '{sym}' to {_type(a)} {shown(a)} and {_type(b)} {shown(b)}") from None


def _unary(node: ast.UnaryOp, env: dict) -> Any:
    if type(node.op) not in _UNARY:
        raise SpecError(f"operator {type(node.op).__name__} is not allowed in expressions")
    v = _eval(node.operand, env)
    try:
        return bounded(_UNARY[type(node.op)](v))
    except TypeError:
        raise SpecError(f"bad operand {_type(v)} {shown(v)} for unary operator") from None


def _boolop(node: ast.BoolOp, env: dict) -> Any:
    """`and` / `or`, short-circuit: the value that decided, as in Python."""
    stop_when = not isinstance(node.op, ast.And)      # and stops at a false value, or at a true one
    v: Any = not stop_when
    for n in node.values:
        v = _eval(n, env)
        if bool(v) == stop_when:
            return v
    return v


def _compare(node: ast.Compare, env: dict) -> bool:
    left = _eval(node.left, env)
    for op, comp in zip(node.ops, node.comparators):
        right = _eval(comp, env)
        try:
            if not _CMPOPS[type(op)](left, right):
                return False
        except TypeError:
            raise SpecError(f"cannot compare {_type(left)} {shown(left)} with {_type(right)} {shown(right)}") from None
        left = right
    return True


def _ifexp(node: ast.IfExp, env: dict) -> Any:
    return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)


def _sequence(node: ast.List | ast.Tuple, env: dict) -> list:
    return [_eval(e, env) for e in node.elts]


def _listcomp(node: ast.ListComp, env: dict) -> list:
    """`[f'y{k + 1}' for k in range(n) if c]`: one loop over at most MAX_COMPREHENSION items, with no
    comprehension inside it and its name hiding none in scope: its work is bounded by the terms'."""
    walked = [n for part in (node.elt, *node.generators[0].ifs) for n in ast.walk(part)]
    if len(node.generators) != 1 or any(isinstance(n, ast.ListComp) for n in walked) or node.generators[0].is_async:
        raise SpecError("a list comprehension takes one 'for' and no comprehension inside it")
    gen = node.generators[0]
    if not isinstance(gen.target, ast.Name):
        raise SpecError("a list comprehension's 'for' names one variable: [x * 2 for k in range(n)]")
    name = gen.target.id
    if name in env or name in FUNCTIONS:
        raise SpecError(f"the comprehension's variable '{name}' would hide '{name}'", hint="name it otherwise, e.g. k")
    values = _eval(gen.iter, env)
    if not isinstance(values, (list, str)):
        raise SpecError(f"a comprehension loops over a list, got {_type(values)} {shown(values)}")
    if len(values) > MAX_COMPREHENSION:
        raise SpecError(f"a comprehension over {len(values):,} items exceeds archspec's limit of "
                        f"{MAX_COMPREHENSION:,}")
    out = []
    for v in values:
        inner = {**env, name: v}
        if all(_eval(c, inner) for c in gen.ifs):
            out.append(_eval(node.elt, inner))
    return bounded(out)


def _fstring(node: ast.JoinedStr, env: dict) -> str:
    """f'y{k + 1}': text with values in it (a format spec or conversion is not allowed)."""
    parts = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append(str(v.value))
        elif isinstance(v, ast.FormattedValue) and v.conversion == -1 and v.format_spec is None:
            parts.append(str(_eval(v.value, env)))
        else:
            raise SpecError("an f-string here takes plain {value} fields (no !r or :format)")
    return bounded("".join(parts))


def _subscript(node: ast.Subscript, env: dict) -> Any:
    seq = _eval(node.value, env)
    if not isinstance(seq, (list, str)):
        raise SpecError(f"cannot index {_type(seq)} {shown(seq)}")
    if isinstance(node.slice, ast.Slice):       # `widths[:3]`, `widths[1:]`: no step
        if node.slice.step is not None:
            raise SpecError("a slice takes no step: write widths[a:b]")
        ends = [None if e is None else _eval(e, env) for e in (node.slice.lower, node.slice.upper)]
        for e in ends:
            if e is not None and (not isinstance(e, int) or isinstance(e, bool)):
                raise SpecError(f"a slice's ends must be ints, got {_type(e)} {shown(e)}")
        return seq[ends[0]:ends[1]]
    idx = _eval(node.slice, env)
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise SpecError(f"index must be an int, got {_type(idx)} {shown(idx)}")
    if not -len(seq) <= idx < len(seq):
        raise SpecError(f"index {idx} out of range for {shown(seq)} (length {len(seq)})")
    return seq[idx]


def _attribute(node: ast.Attribute, env: dict) -> Any:
    obj = _eval(node.value, env)
    if isinstance(obj, ShapeView) and node.attr in ShapeView._FIELDS:
        return obj.get(node.attr)
    raise SpecError(f"no attribute '{node.attr}' on {shown(obj)}",
                    hint="a tensor shape has .channels, .height, .width, .shape")


def _call(node: ast.Call, env: dict) -> Any:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        raise SpecError("only these functions may be called: " + ", ".join(sorted(FUNCTIONS)))
    name, allowed = node.func.id, KEYWORDS.get(node.func.id, ())
    for k in node.keywords:
        if k.arg not in allowed:
            raise SpecError(f"{name}(...) takes no keyword {shown(k.arg)}",
                            hint=f"its keywords: {', '.join(allowed)}" if allowed else "pass its arguments by position")
    args = [_eval(a, env) for a in node.args]
    kwargs = {str(k.arg): _eval(k.value, env) for k in node.keywords}
    try:
        return bounded(FUNCTIONS[name](*args, **kwargs))
    except (TypeError, ValueError, OverflowError) as e:
        raise SpecError(f"{name}(...) failed: {shown(str(e), 120)[1:-1]}") from None


_RULES: dict[type, Callable[[Any, dict], Any]] = {
    ast.Constant: _constant, ast.Name: _name, ast.BinOp: _binop, ast.UnaryOp: _unary, ast.BoolOp: _boolop,
    ast.Compare: _compare, ast.IfExp: _ifexp, ast.List: _sequence, ast.Tuple: _sequence,
    ast.Subscript: _subscript, ast.Attribute: _attribute, ast.Call: _call,
    ast.ListComp: _listcomp, ast.JoinedStr: _fstring,
}


def expr_end(text: str, start: int) -> int:
    """The index just past the `}` closing the `${` at `start`, or -1: one line, at most one
    level of inner braces, at most MAX_EXPR_CHARS long (a scan that stays linear)."""
    depth = 0
    for j in range(start + 2, min(len(text), start + 2 + MAX_EXPR_CHARS)):
        c = text[j]
        if c == "\n" or (c == "{" and depth == 1):
            return -1
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return j + 1
            depth -= 1
    return -1


def expr_spans(text: str):
    """(start, end) of every `${...}` in a text, in order."""
    i = text.find("${")
    while i != -1:
        end = expr_end(text, i)
        if end == -1:
            i = text.find("${", i + 2)
            continue
        yield i, end
        i = text.find("${", end)


def _substitute(text: str, env: dict) -> str:
    """Text with each `${...}` replaced by its value."""
    out, pos = [], 0
    for start, end in expr_spans(text):
        out += [text[pos:start], str(evaluate(text[start + 2:end - 1], env))]
        pos = end
    return "".join(out) + text[pos:]


def names_read(text: str) -> set[str]:
    """The names the `${...}` of a text read (an expression that does not parse reads none here:
    it is reported where it is evaluated)."""
    return set(_names_read(text))


@lru_cache(maxsize=4096)
def _names_read(text: str) -> frozenset[str]:
    """names_read, once per text: the expander asks it of each node's every expression again at
    each instance of its block (a walk of the parsed tree each time)."""
    names: set[str] = set()
    for start, end in expr_spans(text):
        try:
            tree = _parse(text[start + 2:end - 1])
        except SpecError:
            continue
        names.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return frozenset(names)


def whole_expr(value) -> str | None:
    """The expression of a value written as one whole `${...}` (`"${planes * 4}"`: `planes * 4`), else None."""
    whole = _WHOLE.match(value) if isinstance(value, str) else None
    return whole.group(1).strip() if whole and "${" not in whole.group(1) else None


def has_expr(value) -> bool:
    """A value holding `${...}`: a string, or a list with one among its items (`[1, "${scale}"]`)."""
    if isinstance(value, list):
        return any(has_expr(v) for v in value)
    return isinstance(value, str) and "${" in value


def resolve(value, env: dict):
    """Evaluate `${...}` in a value: a whole-expression string keeps the result's type,
    text around expressions makes a string; lists are resolved element-wise."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        whole = _WHOLE.match(value)
        if whole and "${" not in whole.group(1):
            return evaluate(whole.group(1), env)
        return bounded(_substitute(value, env))
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value
