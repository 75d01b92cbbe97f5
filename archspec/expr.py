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
from functools import lru_cache

from .errors import SpecError, did_you_mean

_WHOLE = re.compile(r"^\s*\$\{(.*)\}\s*$", re.S)
_PART = re.compile(r"\$\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


class ShapeView:
    """What an expression sees of a tensor: `channels`, `height`, `width`, `shape`."""
    __slots__ = ("shape",)
    _FIELDS = ("channels", "height", "width", "shape", "rank")

    def __init__(self, shape):
        self.shape = list(shape)

    def get(self, field: str):
        if field == "shape":
            return list(self.shape)
        if field == "rank":
            return len(self.shape)
        axis = {"channels": 0, "height": 1, "width": 2}[field]
        if axis >= len(self.shape):
            raise SpecError(f"the incoming tensor {tuple(self.shape)} has no {field}")
        return self.shape[axis]

    def __repr__(self) -> str:
        return f"shape{tuple(self.shape)}"


def _pow(a, b):
    if isinstance(b, (int, float)) and abs(b) > 64:
        raise SpecError(f"exponent {b} is too large")
    return a ** b


def _div(a, b):
    return a / b


_BINOPS = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", _div), ast.FloorDiv: ("//", operator.floordiv), ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", _pow),
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
FUNCTIONS = {
    "min": min, "max": max, "abs": abs, "len": len, "sum": sum, "int": int, "float": float,
    "round": round, "floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt,
    "range": lambda *a: list(range(*a)),
}


def _type(v) -> str:
    return type(v).__name__


@lru_cache(maxsize=4096)
def _parse(src: str) -> ast.AST:
    try:
        return ast.parse(src.strip(), mode="eval").body
    except SyntaxError as e:
        raise SpecError(f"cannot parse expression '{src.strip()}': {e.msg}",
                        hint="expressions use Python syntax: a * b, a // b, x if c else y, min(a, b)") from None


def evaluate(src: str, env: dict):
    """Evaluate one expression text against the names in `env`."""
    try:
        return _eval(_parse(src), env)
    except SpecError:
        raise
    except ZeroDivisionError:
        raise SpecError(f"division by zero in '{src.strip()}'") from None
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as e:
        raise SpecError(f"cannot evaluate '{src.strip()}': {e}") from None


def _eval(node, env):
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return node.value
        raise SpecError(f"unsupported literal {node.value!r}")
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in FUNCTIONS:
            raise SpecError(f"'{node.id}' is a function; call it, e.g. {node.id}(...)")
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise SpecError(f"undefined name '{node.id}' in expression",
                        hint=did_you_mean(node.id, list(env)) or
                        f"names defined here: {', '.join(sorted(k for k in env if k != 'inputs')) or 'none'}")
    if isinstance(node, ast.BinOp):
        sym, fn = _BINOPS.get(type(node.op), (None, None))
        if fn is None:
            raise SpecError(f"operator {type(node.op).__name__} is not allowed in expressions")
        a, b = _eval(node.left, env), _eval(node.right, env)
        try:
            return fn(a, b)
        except ZeroDivisionError:
            raise SpecError(f"division by zero: {a!r} {sym} {b!r}") from None
        except TypeError:
            raise SpecError(f"cannot apply '{sym}' to {_type(a)} {a!r} and {_type(b)} {b!r}") from None
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        try:
            return _UNARY[type(node.op)](v)
        except TypeError:
            raise SpecError(f"bad operand {_type(v)} {v!r} for unary operator") from None
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            v = True
            for n in node.values:
                v = _eval(n, env)
                if not v:
                    return v
            return v
        v = False
        for n in node.values:
            v = _eval(n, env)
            if v:
                return v
        return v
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError:
                raise SpecError(f"cannot compare {_type(left)} {left!r} with {_type(right)} {right!r}") from None
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.Subscript):
        seq, idx = _eval(node.value, env), _eval(node.slice, env)
        if not isinstance(seq, (list, str)):
            raise SpecError(f"cannot index {_type(seq)} {seq!r}")
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise SpecError(f"index must be an int, got {_type(idx)} {idx!r}")
        if not -len(seq) <= idx < len(seq):
            raise SpecError(f"index {idx} out of range for {seq!r} (length {len(seq)})")
        return seq[idx]
    if isinstance(node, ast.Attribute):
        obj = _eval(node.value, env)
        if isinstance(obj, ShapeView) and node.attr in ShapeView._FIELDS:
            return obj.get(node.attr)
        raise SpecError(f"no attribute '{node.attr}' on {obj!r}",
                        hint="a tensor shape has .channels, .height, .width, .shape")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise SpecError("only these functions may be called: " + ", ".join(sorted(FUNCTIONS)))
        args = [_eval(a, env) for a in node.args]
        try:
            return FUNCTIONS[node.func.id](*args)
        except (TypeError, ValueError) as e:
            raise SpecError(f"{node.func.id}(...) failed: {e}") from None
    raise SpecError(f"'{type(node).__name__}' is not allowed in expressions",
                    hint="expressions allow arithmetic, comparisons, and/or/not, x if c else y, indexing and "
                         + ", ".join(sorted(FUNCTIONS)))


def has_expr(value) -> bool:
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
        return _PART.sub(lambda m: str(evaluate(m.group(1), env)), value)
    if isinstance(value, list):
        return [resolve(v, env) for v in value]
    return value
