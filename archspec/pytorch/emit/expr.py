"""Forward expressions: an op's `call()` (`Call` data over `Arg` placeholders) asked of a node,
and written as source in this one place. Values are written by `literal`, variables by the
names the forward writer gives."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from ...errors import SpecError
from ...ir import Node
from ...ops.base import Arg, ArgAsText, Call, Self, is_default, literal

_HINT = ("return archspec.ops.Call(fn, args, kwargs) over the inputs, e.g. Call('F.silu').on(args[0]), "
         "or Call('torch.cat', (('tensors', args), ('dim', 1)))")
OPERATORS = {"+": 1, "*": 2, "/": 2, "@": 2}      # binding strength: a weaker operand is bracketed

Expr = Call | Arg


class Verbatim(NamedTuple):
    """A number of a forward call that the class's constructor takes: the expression of its
    parameters as forward reads them (`self.radix`), written as it is."""
    text: str


def is_number(v: Any) -> bool:
    """A number, or a tuple of numbers (a shape): one constructor argument where it differs."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, tuple) and not isinstance(v, Verbatim) and bool(v) and all(is_number(x) for x in v)


def callees(v: Any) -> set[str]:
    """The functions and methods a forward value calls (`F.relu`, `torch.cat`, `.flatten`, `+`)."""
    if isinstance(v, Call):
        return {v.fn}.union(*map(callees, (*v.inputs, *(x for _, x in v.args), *(x for _, x, _ in v.kwargs))))
    if isinstance(v, (list, tuple)) and not isinstance(v, (Self, Verbatim, Arg)):
        return set().union(*map(callees, v))
    return set()


def with_numbers(v: Any, label: str, slots: Iterator[str | None], out: list[tuple[str, Any]]) -> Any:
    """The expression with each number of its calls' arguments (depth first: inputs, then args,
    then kwargs) recorded in `out` as (label, value) and replaced by `Verbatim(slot)` where its
    slot in `slots` is not None."""
    if not isinstance(v, Call):
        return v
    def one(name: str, x: Any) -> Any:
        if is_number(x):
            out.append((f"{label}_{name}", x))
            slot = next(slots)
            return x if slot is None else Verbatim(slot)
        return with_numbers(x, f"{label}_{name}", slots, out)
    inputs = tuple(with_numbers(x, label, slots, out) for x in v.inputs)
    args = tuple((n, one(n, x)) for n, x in v.args)
    kwargs = tuple((n, one(n, x), d) for n, x, d in v.kwargs)
    return v._replace(inputs=inputs, args=args, kwargs=kwargs)


def node_expr(n: Node, inplace: bool = False, params: int = 0) -> Expr | None:
    """The node's forward expression over `Arg(0)` .. (its parameter first where `params`), or
    None where its op has none. A Call that places none of its inputs is applied to them all."""
    args = [Arg(k) for k in range(params + len(n.inputs))]
    try:
        out = n.op.call(n.attrs, args, inplace)
    except ArgAsText as e:                 # an op written against the old, text-returning call()
        raise SpecError(f"op '{n.op.name}': call() wrote an input into text: {e}", hint=_HINT) from None
    if out is None or isinstance(out, Arg):
        return out
    if not isinstance(out, Call):
        raise SpecError(f"op '{n.op.name}': call() returned {type(out).__name__}, not a Call", hint=_HINT)
    return out if _reads(out) else out.on(*args)


def _reads(v: Any) -> bool:
    """Whether a value places any input."""
    if isinstance(v, Arg):
        return True
    if isinstance(v, Call):
        return any(map(_reads, (*v.inputs, *(x for _, x in v.args), *(x for _, x, _ in v.kwargs))))
    return isinstance(v, (list, tuple)) and not isinstance(v, (Self, Verbatim)) and any(map(_reads, v))


def expression(v: Any, names: list[str]) -> str:
    """The source of a forward value; `names[k]` is the variable holding `Arg(k)`."""
    if isinstance(v, Arg):
        return names[v.k]
    if isinstance(v, Verbatim):
        return v.text
    if isinstance(v, Self):
        if not v.name.isidentifier():
            raise TypeError(f"Self({v.name!r}) is no attribute name")      # an op definition's mistake
        return f"self.{v.name}"
    if isinstance(v, Call):
        return _call(v, names)
    if isinstance(v, (list, tuple)) and _reads(v):
        items = [expression(x, names) for x in v]
        return f"[{', '.join(items)}]" if isinstance(v, list) else \
            f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return literal(v)


def _call(c: Call, names: list[str]) -> str:
    operands = [*c.inputs, *(v for _, v in c.args)]
    if c.fn in OPERATORS:
        strength = OPERATORS[c.fn]
        return f" {c.fn} ".join(_operand(v, names, strength + (k > 0)) for k, v in enumerate(operands))
    parts = [expression(v, names) for v in operands]
    parts += [f"{k}={expression(v, names)}" for k, v, d in c.kwargs if not is_default(v, d)]
    if c.fn.startswith("."):             # a method of its first operand
        return f"{_operand(operands[0], names, max(OPERATORS.values()) + 1)}{c.fn}({', '.join(parts[1:])})"
    return f"{c.fn}({', '.join(parts)})"


def _operand(v: Any, names: list[str], strength: int) -> str:
    """An operand, bracketed where it is an operator binding less strongly than its place needs
    (a later operand of the same operator too: `a * (b * c)` keeps its order of rounding)."""
    text = expression(v, names)
    weak = isinstance(v, Call) and OPERATORS.get(v.fn, strength) < strength
    return f"({text})" if weak else text


def in_place_add(e: Expr, names: list[str]) -> tuple[str, str] | None:
    """(target, term) where the expression is `target.add_(term)` of two variables: written
    `target += term`, as torchvision does."""
    if (isinstance(e, Call) and e.fn == ".add_" and not e.args and not e.kwargs and len(e.inputs) == 2
            and all(isinstance(v, Arg) for v in e.inputs)):
        return names[e.inputs[0].k], names[e.inputs[1].k]
    return None
