"""A run of an nn.Sequential's members of the top class built as torchvision's DenseNet builds its
features: a loop over a configuration of block sizes, each block followed, but the last, by a
module between blocks (a transition), the width carried on from one to the next:

    num_features = num_init_features
    for i, num_layers in enumerate(block_config):
        self.features.add_module(f"denseblock{i + 1}", DenseBlock(num_features, num_layers, ...))
        num_features = num_features + num_layers * growth_rate
        if i != len(block_config) - 1:
            self.features.add_module(f"transition{i + 1}", Transition(num_features, num_features // 2))
            num_features = num_features // 2

The loop is made from data, the members' calls and the texts of their numbers (`slots`): the
blocks (`<a>1`, `<a>2`, ...) alike but for their input width and one literal number (the
configuration, a spec parameter of that value), a block's output width its input plus the
configuration's number times one of its other numbers, the width after a transition the
expression the emitter gives the next block's input with the transition's input in its place.
It is kept only where expanding it (`expand`) gives exactly the members, numbers and names in
order, so the state_dict is unchanged."""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...names import name_problem
from ...ops.base import Call, literal
from .expr import is_number
from .layout import bracketed

_NUMBERED = re.compile(r"([a-z][a-z_]*?)1")
Slots = list[str | None]


@dataclass
class BlockLoop:
    """The run members[start:end]: the blocks' and transitions' first calls (templates, the
    input width their first number), the configuration, the first input width (its text), the
    block's number that grows the width per configuration step (its position), the transition's
    numbers that are the width after it (positions), and that width as an expression of `VAR`."""
    start: int
    end: int
    prefixes: tuple[str, str]
    block: Call
    block_slots: Slots
    trans: Call
    trans_slots: Slots
    counts: tuple[int, ...]
    at: int                         # the block's number that is the configuration's
    grow: int                       # the block's number that grows the width
    outs: frozenset[int]            # the transition's numbers that are the width after it
    first: int
    first_text: str | None
    after: str                      # the width after a transition, of VAR


VAR = "num_features"
COUNT = "num_layers"                 # the loop's count of a block's layers, torchvision's


def numbers(call: Call) -> list[Any]:
    return [v for _, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]]


def _flat(call: Call) -> bool:
    return not any(isinstance(v, Call) for v in numbers(call))


def _with(call: Call, values: list[Any]) -> Call:
    """The (flat) call with its numbers `values`, in `_numbers` order."""
    it = iter(values)
    args = tuple((n, next(it) if is_number(v) else v) for n, v in call.args)
    kwargs = tuple((n, next(it) if is_number(v) else v, d) for n, v, d in call.kwargs)
    return call._replace(args=args, kwargs=kwargs)


def evaluate(text: str, env: dict[str, Any]) -> Any:
    """The value of an integer arithmetic expression of names in `env` (a floor `int(w * c)` too);
    None where it is other, or no int."""
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b}

    def ev(e: ast.expr) -> Any:
        if isinstance(e, ast.Constant) and type(e.value) in (int, float):
            return e.value
        if isinstance(e, ast.Name) and type(env.get(e.id)) in (int, float):
            return env[e.id]
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "int" and len(e.args) == 1 \
                and not e.keywords:         # the floor of a product (`int(num_features * compression)`)
            return int(ev(e.args[0]))
        if isinstance(e, ast.BinOp) and type(e.op) in ops:
            return ops[type(e.op)](ev(e.left), ev(e.right))
        raise ValueError(ast.dump(e))
    try:
        value = ev(ast.parse(text, mode="eval").body)
        return value if type(value) is int else None
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _replaced(text: str, part: str) -> str | None:
    """`text` with every subexpression equal to `part` VAR; None where there is none."""
    tree, want = ast.parse(text, mode="eval"), ast.dump(ast.parse(part, mode="eval").body)
    hits = 0

    class Swap(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            nonlocal hits
            if isinstance(node, ast.expr) and ast.dump(node) == want:
                hits += 1
                return ast.Name(VAR, ast.Load())
            return super().visit(node)
    out = ast.unparse(Swap().visit(tree))
    return out if hits else None


def _run(names: list[str]) -> tuple[int, int, str, str] | None:
    """(start, end, block prefix, transition prefix) of the first run `<a>1, <b>1, <a>2, ..., <a>n`."""
    for s in range(len(names) - 2):
        a, b = _numbered(names[s]), _numbered(names[s + 1])
        if not (a and b) or a.group(1) == b.group(1):
            continue
        k = 0
        while s + 2 * k + 2 < len(names) and names[s + 2 * k + 1] == f"{b.group(1)}{k + 1}" and \
                names[s + 2 * k + 2] == f"{a.group(1)}{k + 2}":
            k += 1
        if k:
            return s, s + 2 * k + 1, a.group(1), b.group(1)
    return None


def _numbered(name: str) -> re.Match[str] | None:
    """`name` as a prefix and 1 (`denseblock1`), where the names the loop writes from the prefix
    (`f"denseblock{i + 1}"`, inside an f-string) pass the one validator: the pattern alone keeps
    no text out of generated source."""
    m = _NUMBERED.fullmatch(name)
    return m if m is not None and name_problem(f"{m.group(1)}1", generated=True) is None else None


def _texts(lets: dict[str, str], s: str | None) -> str | None:
    return lets.get(s, s) if s is not None else None


def block_loop(members: list[tuple[str, Call]], slots: list[Slots], lets: dict[str, str],
               env: dict[str, Any]) -> BlockLoop | None:
    """The loop that builds a run of the members, or None where none of this form does."""
    run = _run([n for n, _ in members])
    if run is None:
        return None
    start, end, pa, pb = run
    blocks, trans = list(range(start, end, 2)), list(range(start + 1, end, 2))
    calls = [c for _, c in members]
    if not all(isinstance(c, Call) and _flat(c) for c in calls[start:end]):
        return None
    if len({calls[k]._replace(args=(), kwargs=()) for k in blocks}) != 1 or \
            len({calls[k]._replace(args=(), kwargs=()) for k in trans}) != 1:
        return None
    vals = [numbers(calls[k]) for k in blocks]
    varying = [p for p in range(1, len(vals[0])) if len({type(v[p]) is int and v[p] for v in vals}) > 1]
    if len(varying) != 1 or any(slots[k][varying[0]] is not None for k in blocks):
        return None
    at = varying[0]
    counts = tuple(v[at] for v in vals)
    grow = next((p for p in range(1, len(vals[0])) if p != at and type(vals[0][p]) is int and all(
        numbers(calls[t])[0] == v[0] + v[at] * v[p] for v, t in zip(vals, trans))), None)
    if grow is None or any(type(v[0]) is not int for v in vals):
        return None
    after = _after(calls, slots, blocks, trans, lets, env)
    if after is None:
        return None
    t0 = numbers(calls[trans[0]])
    outs = frozenset(p for p in range(1, len(t0)) if all(
        slots[t][p] is not None and slots[t][p] == slots[b][0] for t, b in zip(trans, blocks[1:])))
    chain = {w for k in blocks for w in re.findall(r"\w+", slots[k][0] or "") if w in lets}
    kept = [s for k in blocks for p, s in enumerate(slots[k]) if p not in (0, at)] + \
        [s for k in trans for p, s in enumerate(slots[k]) if p and p not in outs]
    if any(w in chain for s in kept for w in re.findall(r"\w+", s or "")):
        return None             # a number written from a block's input, which the loop carries on
    loop = BlockLoop(start, end, (pa, pb), calls[blocks[0]], slots[blocks[0]], calls[trans[0]],
                     slots[trans[0]], counts, at, grow, outs, vals[0][0], slots[blocks[0]][0], after)
    alike = all(_same(slots[k], slots[blocks[0]], {0, at}) for k in blocks) and \
        all(_same(slots[k], slots[trans[0]], {0} | outs) for k in trans)
    return loop if alike and expand(loop, env) == members[start:end] else None


def _same(a: Slots, b: Slots, but: set[int]) -> bool:
    """The texts of two members' numbers equal but at the positions `but`."""
    return len(a) == len(b) and all(x == y for p, (x, y) in enumerate(zip(a, b)) if p not in but)


def _after(calls: list[Call], slots: list[Slots], blocks: list[int], trans: list[int],
           lets: dict[str, str], env: dict[str, Any]) -> str | None:
    """The width after a transition as an expression of VAR, the transition's input: the next
    block's input width as the emitter writes it, its transition's input text in VAR's place, one
    expression for all transitions."""
    found: set[str] = set()
    for t, b in zip(trans, blocks[1:]):
        text, part = _texts(lets, slots[b][0]), slots[t][0]
        if text is None or part is None:
            return None
        swapped = _replaced(text, part)
        if swapped is None:
            return None
        found.add(swapped)
    return found.pop() if len(found) == 1 else None


def expand(loop: BlockLoop, env: dict[str, Any]) -> list[tuple[str, Call]]:
    """The members the loop builds, its numbers' values as `env` gives the texts."""
    out: list[tuple[str, Call]] = []
    width = loop.first
    grow = numbers(loop.block)[loop.grow]
    for i, n in enumerate(loop.counts):
        values = numbers(loop.block)
        values[0], values[loop.at] = width, n
        out.append((f"{loop.prefixes[0]}{i + 1}", _with(loop.block, values)))
        width = width + n * grow
        if i != len(loop.counts) - 1:
            after = evaluate(loop.after, {**env, VAR: width})
            if after is None:
                return []
            t = numbers(loop.trans)
            t[0] = width
            t = [after if p in loop.outs else v for p, v in enumerate(t)]
            out.append((f"{loop.prefixes[1]}{i + 1}", _with(loop.trans, t)))
            width = after
    return out


def final(loop: BlockLoop) -> int:
    """The width after the last block."""
    last = numbers(expand(loop, {})[-1][1])
    return last[0] + last[loop.at] * last[loop.grow]


Render = Callable[[Call, Slots, str, int, int], str]


def loop_source(target: str, call: Call, slots: list[Slots], lets: dict[str, str], env: dict[str, Any],
                config: tuple[str, str, str], render: Render) -> tuple[list[str], str, int] | None:
    """__init__'s lines of the top class's nn.Sequential child `call` (`slots`: per member, the
    texts of its numbers) built with a loop over the configuration `config` (its name, the index's
    and the count's): the members before the run its call, then the loop, then the members after it
    added one by one, their numbers equal to the last width and written from the last block's
    input VAR; and that input's text and the last width (later numbers so written are VAR too)."""
    members = list(call.args)
    loop = block_loop(members, slots, lets, env)
    if loop is None or loop.start == 0 or not all(_flat(m) for _, m in members[loop.end:]):
        return None
    name, i, n = config
    a, b = loop.block_slots[:], loop.trans_slots[:]
    a[0], a[loop.at] = VAR, n
    b = [VAR if p == 0 else loop.after if p in loop.outs else s for p, s in enumerate(b)]
    grow = loop.block_slots[loop.grow] or str(numbers(loop.block)[loop.grow])
    (pa, pb), ind = loop.prefixes, " " * 12
    head = call._replace(args=tuple(members[:loop.start]))
    flat = [t for s in slots[:loop.start] for t in s]
    lines = [f"        self.{target} = {render(head, flat, ' ' * 8, len(target) + 8, 0)}",
             f"        {VAR} = {loop.first_text or loop.first}", f"        for {i}, {n} in enumerate({name}):",
             _add(target, f'f"{pa}{{{i} + 1}}"', loop.block, a, ind, render),
             f"{ind}{VAR} = {VAR} + {n} * {grow}", f"{ind}if {i} != len({name}) - 1:",
             _add(target, f'f"{pb}{{{i} + 1}}"', loop.trans, b, ind + "    ", render),
             f"{ind}    {VAR} = {loop.after}"]
    last, width = slots[loop.end - 1][0], final(loop)
    for (local, m), s in zip(members[loop.end:], slots[loop.end:]):
        mine = [VAR if written_from(t, last) and v == width else t for t, v in zip(s, numbers(m))]
        lines.append(_add(target, literal(local), m, mine, " " * 8, render))
    return lines, last or "", width


def written_from(text: str | None, part: str | None) -> bool:
    """`text` reads `part` (a name or an expression) as a subexpression."""
    return text is not None and part is not None and _replaced(text, part) is not None


def _add(target: str, name: str, call: Call, slots: Slots, indent: str, render: Render) -> str:
    head = f"self.{target}.add_module("
    text = render(call, slots, indent + "    ", 0, 0)
    return indent + bracketed(f"self.{target}.add_module", [name, text], "", indent, 0, 0) if "\n" not in text \
        else f"{indent}{head}\n{indent}    {name},\n{indent}    {text},\n{indent})"


def aliased(slots: Slots, values: list[Any], last: str, width: int) -> Slots:
    """A later child's number texts, VAR where written from the last block's input and equal to
    the last width."""
    return [VAR if written_from(t, last) and v == width else t for t, v in zip(slots, values)]


def used_lets(lets: list[tuple[str, str]], lines: list[str]) -> list[tuple[str, str]]:
    """The `let:` locals that the lines read, or the ones they read read."""
    keep = list(lets)
    while True:
        text = "\n".join(lines + [e for _, e in keep])
        left = [(k, e) for k, e in keep if re.search(rf"\b{k}\b", text)]
        if len(left) == len(keep):
            return keep
        keep = left
