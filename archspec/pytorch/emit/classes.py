"""Classes: one per distinct scope structure. Instances that differ only in numbers share a
class, whose constructor takes the numbers that differ as parameters."""
from __future__ import annotations

import ast
import copy
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ...names import Namespace, name_problem
from ...ops.base import Call, is_default, kw, literal
from .classnames import camel, name_classes, root_name
from .counts import Count
from .ctorparams import StepLoopError, parameterise
from .expr import is_number
from .forward import Absent, Forward, forward_lines
from .guard import add_guards, by_text
from .layout import WIDTH, bracketed
from .lift import Indexed
from .listclass import Unlisted, list_param, plan_listed
from .members import ANY_STEP, MISSING, MemberId, Steps, member_ids
from .optional import Joiner
from .scopes import Child, ScopeNode, ScopeTree, block_of, local, numbered, own_children
from .stepwidths import StepPlan
from .widthexpr import progression


@dataclass(eq=False)
class ClassPlan:
    """A generated class: the scopes it serves and the numbers its constructor takes."""
    name: str
    instances: list[ScopeNode]         # the scopes it serves, in graph order
    forward: list[str]
    params: list[str] = field(default_factory=list)
    slots: list[str | None] = field(default_factory=list)   # per number in __init__: a parameter, or None (literal)
    optional: list[str] = field(default_factory=list)       # module children some lack: arguments that may be None
    built: list[str] = field(default_factory=list)          # those it builds itself under a flag (an activation)
    absent: dict[str, str] = field(default_factory=dict)    # each child some lack -> what stands for it there
    guards: dict[str, str] = field(default_factory=dict)    # a child built under its block's `when:` -> the test
    union: ScopeNode | None = None     # its structures' union, where they differ by alternatives (`alternatives`)
    guard_params: dict[str, str] = field(default_factory=dict)   # of those, one a text parameter tells
    #                                  (`kind == "proj"`: `guard.by_text`) -> that parameter, which the class takes
    tested: dict[str, Child] = field(default_factory=dict)  # of those, one a boolean `let:` of the class says
    #                                  where it is, built under that let's test (`ctorparams._build_tested`),
    #                                  or under the block's flag (`ctorparams._build_flagged`)
    flagged: set[str] = field(default_factory=set)          # of `tested`, those under a flag
    whens: dict[str, str] = field(default_factory=dict)     # of `tested`, those under the block's own `when:`
    #                                  -> that `when:` as the spec writes it (`ctorparams._build_when`)
    decided: dict[str, str] = field(default_factory=dict)   # those `let:` values: the class decides them itself
    #                                  -> the child built under its test (`guards`), which a flag reads too,
    #                                  or a functional child there where it holds (`own_tests`)
    own_tests: dict[str, str] = field(default_factory=dict)  # such a functional child (MobileNetV2's add)
    #                                  -> the `let:`'s test in the class's names (`ctorparams._decide_flags`)
    same: dict[str, str] = field(default_factory=dict)      # a forward input some are not given -> the one it is
    tails: dict[str, tuple[int, int]] = field(default_factory=dict)   # a concatenation some give only its first
    #                                  inputs -> (how many all give, how many in all): the rest under a flag
    heads: dict[str, list[str]] = field(default_factory=dict)   # a concatenation -> the alternatives (of a
    #                                  union) it reads first, left out of it where absent (`alternatives._heads`)
    flags: dict[str, tuple[str, bool]] = field(default_factory=dict)   # a functional one -> (its flag, negated)
    defaults: dict[str, Any] = field(default_factory=dict)  # parameters named after a block's, with its default
    lets: list[tuple[str, str]] = field(default_factory=list)     # (local, expression): the `let:` __init__ computes
    spec_reads: set[str] = field(default_factory=set)   # the spec's parameters it takes (keyword, the spec's value)
    checked: set[str] = field(default_factory=set)      # of those, the top class's that `vary` checks
    turned: set[str] = field(default_factory=set)       # of those, the ones a structure reads: tried at 0 too
    free: set[str] = field(default_factory=set)     # parameters a caller may vary (`specexpr.SpecExprs.free`)
    stored: list[tuple[str, str]] = field(default_factory=list)   # (attribute, parameter): what forward reads
    forward_slots: list[str | None] = field(default_factory=list)   # per number of forward's calls: its source
    members: dict[str, list[tuple[MemberId, Child]]] = field(default_factory=dict)   # an nn.Sequential
    #                                  child whose members some lack: their union (`members`)
    member_tests: dict[tuple[str, int], str] = field(default_factory=dict)   # (child, member): its test
    steps: dict[str, Steps] = field(default_factory=dict)    # of `members`, a chain built by a loop over a
    #                                  repeat's steps (`members.steps_of`), `members` its `flat` list
    step_loops: dict[str, StepPlan] = field(default_factory=dict)   # how the class writes each (`ctorparams`)
    ladder_varies: bool = False        # its ladder adds at some instances, not others (`Joiner`)
    ladder: tuple[str, bool] | None = None    # then the flag that says where: (attribute, negated)
    origins: list[tuple[Child, str] | None] = field(default_factory=list)   # per constructor number of the
    #                                  first instance: (child, argument) where it is a child's own (`number_origins`)
    listing: str | None = None         # an exchange over this list parameter, one class whatever its length
    init_lines: list[str] = field(default_factory=list)     # then its __init__ after super() (`listclass`)
    counts: dict[str, dict[int, Count]] = field(default_factory=dict)    # the top's: per nn.Sequential child,
    #                                  the steps of counted repeats by member (`counts`), then the runs written
    #                                  `range(n - 1)`: first member -> its Count, `left` the run's length

    @property
    def rep(self) -> ScopeNode:
        """The instance the class is written from: one with every optional child and input, or
        the union of its structures' alternatives (`union`)."""
        if self.union is not None:
            return self.union
        return next(sn for sn in self.instances if {c.local for c in sn.children} >= set(self.absent)
                    and not (self.same and sn.same)
                    and all(len(c.inputs) == self.tails[c.local][1] for c in sn.children if c.local in self.tails))

    def tail_tests(self) -> dict[str, tuple[int, str]]:
        """How forward writes each concatenation of `tails`: how many inputs it always takes, and
        the test under which it takes the rest (`self.level_root`)."""
        return {local: (n, f"{'not ' if self.flags[local][1] else ''}self.{self.flags[local][0]}")
                for local, (n, _) in self.tails.items()}

    def absent_tests(self) -> dict[str, Absent]:
        """How forward writes each child some instances lack: the test that it is there, and the
        value that stands for its output where it is not (its input, or the scope's)."""
        rep = self.rep

        def ref(rel: str) -> str:
            m = re.fullmatch(r"<in (\d+)>", rel)
            return rep.inputs[int(m[1])] if m else f"{rep.path}.{rel}"
        return {local: Absent(f"self.{local} is not None" if local in (*self.optional, *self.built, *self.guards) else
                              f"{'not ' if self.flags[local][1] else ''}self.{self.flags[local][0]}", ref(rel))
                for local, rel in self.absent.items()}


@dataclass(eq=False)
class Loop:
    """A scope whose modules are a run of one class named prefix1, prefix2, ... whose numbers
    grow by a fixed step (DenseNet's dense block): built by a for loop, run by one."""
    prefix: str
    start: int                         # the first index in the names
    children: list[Child]
    forward: list[str]                 # the scope's forward with the run as a loop


_WORD = re.compile(r"\w+")                      # \bname\b matches exactly the words equal to name


def _renamed(line: str, old: str, new: str) -> str:
    """The line with every word `old` made `new` (re.sub(rf"\b{old}\b", ...) without a pattern per name)."""
    return _WORD.sub(lambda m: new if m[0] == old else m[0], line)


# -- numbers in constructor calls -----------------------------------------------------

def _shape_key(call: Call) -> tuple:
    """A call with its numbers blanked out: calls with equal keys differ only in numbers."""
    def k(v: Any) -> Any:
        return "#" if is_number(v) else _shape_key(v) if isinstance(v, Call) else repr(v)
    return (call.fn, tuple((n, k(v)) for n, v in call.args), tuple((n, k(v)) for n, v, _ in call.kwargs))


def _numbers(call: Call, label: str, out: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(label, value) of every number in a call, depth first: what a class may parameterise.
    `render_call` consumes its slots in this order."""
    for name, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        if is_number(v):
            out.append((f"{label}_{name}", v))
        elif isinstance(v, Call):
            _numbers(v, f"{label}_{name}", out)
    return out


def number_origins(call: Call, child: Child) -> list[tuple[Child, str] | None]:
    """Per number of `_numbers(call)`: (child, argument) for the numbers of the child's own call
    and, in an nn.Sequential or a one-level nn.ModuleList, of its members' calls (Res2Net's
    `splits`), and of the optional children a block's call passes (`stochastic_depth=
    StochasticDepth(0.025)`); None for the other numbers inside."""
    sequential = child.subscope is not None and child.sub.sequential
    members = iter(child.sub.children if sequential else [])
    listed = {str(at[0]): m for at, m in child.members if len(at) == 1}     # an nn.ModuleList's, by index
    out: list[tuple[Child, str] | None] = []
    for name, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        if is_number(v):
            out.append((child, name))
        elif isinstance(v, Call):
            member = next(members, None) if call.fn == "nn.Sequential" else listed.get(name) if (
                call.fn == "nn.ModuleList") else None if sequential or (
                child.subscope is None) else next((c for c in child.sub.children if c.local == name), None)
            out += number_origins(v, member) if member is not None else [None] * len(_numbers(v, "", []))
    return out


def render_call(call: Call, slots: Iterator[str | None], indent: str, start: int = 0, end: int = 0,
                runs: dict[Any, Any] | None = None, taken: frozenset[str] = frozenset()) -> str:
    """Source of a constructor call laid out at `indent`, `start` columns into its line and
    followed by `end` characters; `slots` gives, per number in `_numbers` order, a parameter
    name to write, or None to write the value; `runs`, of an nn.Sequential's members, those
    written as a count of the class's parameters (`ClassPlan.counts`; of an nn.ModuleList's, by
    member index: `{"0": {0: Count}}`); `taken`, the names of
    __init__ that a comprehension's variables must not hide (`_list_run`)."""
    def text(v: Any) -> tuple[str, bool]:
        if is_number(v):
            s = next(slots)
            s = s.folded if isinstance(s, Indexed) else s      # a step's index: its value (`_members`)
            return (s, True) if s is not None else (literal(v), False)
        if isinstance(v, Call):
            return render_call(v, slots, indent + "    ", 0, 1), False
        return literal(v), False
    if call.fn == "nn.ModuleList":
        return _module_list(call, slots, indent, start, end, taken, runs or {})
    if call.fn == "nn.Sequential" and not numbered([name for name, _ in call.args]):
        return _ordered_sequential(call, slots, indent)
    if call.fn == "nn.Sequential" and any(isinstance(v, Call) for _, v in call.args):    # one child a line
        lines = _repeats(_members(call, slots, indent + "    "), indent + "    ", runs or {})
        return f"{call.fn}(\n" + "".join(f"{indent}    {p},\n" for p in lines) + f"{indent})"
    parts = [text(v)[0] for _, v in call.args]
    for name, v, default in call.kwargs:
        t, param = text(v)
        if param or not is_default(v, default):
            parts.append(f"{name}={t}")
    if any(isinstance(v, Call) for _, v in call.args):     # a call of calls: one a line
        return f"{call.fn}(\n" + "".join(f"{indent}    {p},\n" for p in parts) + f"{indent})"
    return bracketed(call.fn, parts, "", indent, start=start, end=end)


def _module_list(call: Call, slots: Iterator[str | None], indent: str, start: int, end: int,
                 taken: frozenset[str], runs: dict[str, dict[int, Count]]) -> str:
    """nn.ModuleList([...]) laid out as ruff does: members that are one equal one-line constructor
    written once, `nn.ModuleList([nn.Conv2d(...) for _ in range(3)])`; members of one constructor
    whose numbers differ as a comprehension over them (`_list_run`); an absent member is None."""
    inner = indent + "    "
    mine = list(itertools.islice(slots, len(_numbers(call, "", []))))
    run = None if runs else _list_run(call, mine, inner, taken)
    slots = iter(mine)
    parts = [render_call(v, slots, inner + "    ", 0, 1, runs.get(name), taken=taken) if isinstance(v, Call)
             else literal(v) for name, v in call.args]
    if run is not None:
        body = f"[\n{inner}    {run[0]}\n{inner}    {run[1]}\n{inner}]"
        if "\n" not in run[0] and len(inner) + len(run[0]) + len(run[1]) + 3 <= WIDTH:
            body = f"[{run[0]} {run[1]}]"
    elif len(parts) > 1 and len(set(parts)) == 1 and "\n" not in parts[0]:
        body = f"[{parts[0]} for _ in range({len(parts)})]"
        if len(inner) + len(body) > WIDTH:
            body = f"[\n{inner}    {parts[0]}\n{inner}    for _ in range({len(parts)})\n{inner}]"
    else:
        body = f"[{', '.join(parts)}]"
        if "\n" in body or len(inner) + len(body) > WIDTH:
            body = "[\n" + "".join(f"{inner}    {p},\n" for p in parts) + f"{inner}]"
    one = f"nn.ModuleList({body})"
    if "\n" not in one and len(indent) + start + len(one) + end <= WIDTH:
        return one
    return f"nn.ModuleList(\n{inner}{body}\n{indent})"


def _list_run(call: Call, slots: list[str | None], indent: str, taken: frozenset[str]) -> tuple[str, str] | None:
    """RUN_MIN or more members of one constructor that differ only in ints the class does not
    compute (literal in every member), as timm builds HRNet's head in a loop: the member with
    a variable per such column (equal columns share one, named after the argument), and the loop
    over the columns, `for in_channels, planes in zip((16, 32, 64), (32, 64, 128))`; else None."""
    members = [v for _, v in call.args]
    if len(members) < RUN_MIN or not all(isinstance(v, Call) for v in members) or len(
            {_shape_key(v) for v in members}) != 1:
        return None
    numbers = [_numbers(v, "", []) for v in members]
    width = len(numbers[0])
    own = [slots[k * width:(k + 1) * width] for k in range(len(members))]
    columns = [tuple(n[j][1] for n in numbers) for j in range(width)]
    varying = [j for j, col in enumerate(columns) if len(set(map(repr, col))) > 1]
    names = Namespace(taken | set(_WORD.findall(" ".join(s for s in own[0] if s))) | {"zip", "range"})
    written = all(o[j] is not None for o in own for j in varying)      # (a literal that differs: not an item)
    if varying and written and any(o != own[0] for o in own) and (texts := _item_run(own, names)) is not None:
        elt = render_call(members[0], iter(texts[1:]), indent + "    ", 0, 1, taken=taken)
        return elt, f"for {texts[0]} in range({len(members)})"
    if any(o != own[0] for o in own) and not any(isinstance(s, Indexed) for o in own for s in o):
        return _index_run(members, own, columns, indent, taken)
    if (not varying or any(o != own[0] for o in own) or any(isinstance(s, Indexed) for s in own[0])
            or any(own[0][j] is not None or any(type(v) is not int for v in columns[j]) for j in varying)):
        return None
    var: dict[tuple, str] = {}
    for j in varying:
        if columns[j] not in var:
            var[columns[j]] = names.first(_arg_names(members[0])[j]) or names.fresh("value")
    texts = [var[columns[j]] if j in varying else s for j, s in enumerate(own[0])]
    elt = render_call(members[0], iter(texts), indent + "    ", 0, 1, taken=taken)
    tuples = [literal(col) for col in var]
    over = tuples[0] if len(var) == 1 else f"zip({', '.join(tuples)})"
    return elt, f"for {', '.join(var.values())} in {over}"


def _item_run(own: list[list[str | None]], names: Namespace) -> list[str | None] | None:
    """Members whose numbers are items of the top's tuples by the member's place, `widths[k]`,
    `4 * head[k + 1]` at member k (HRNet's head over `widths` and `head`): the index's name, then
    the first member's numbers with it in k's place (`widths[i]`, `4 * head[i + 1]`); else None."""
    if any(isinstance(s, Indexed) for o in own for s in o):
        return None
    trees = [ast.parse(s, mode="eval").body if s else None for s in own[0]]
    if (any([_shifted(t, k) for t in trees] != _texts(o) for k, o in enumerate(own))
            or all(_shifted(t, 1) == _shifted(t, 0) for t in trees)):
        return None
    index = names.first("i") or names.fresh("i")
    return [index, *(ast.unparse(_shifted(t, 0, index)) if t is not None else None for t in trees)]


def _texts(slots: list[str | None]) -> list[str | None]:
    return [ast.unparse(ast.parse(s, mode="eval").body) if s else None for s in slots]


def _shifted(tree: ast.expr | None, k: int, index: str | None = None) -> Any:
    """The expression with each item of a tuple by a constant, `name[c]`, at `name[c + k]` (as
    text), or, with `index`, at `name[index + c]`."""
    if tree is None:
        return None
    out = copy.deepcopy(tree)
    for n in ast.walk(out):
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and type(n.slice.value) is int:
            c = n.slice.value
            n.slice = (ast.Constant(c + k) if index is None else ast.Name(index) if c == 0
                       else ast.BinOp(ast.Name(index), ast.Add(), ast.Constant(c)))
    return ast.unparse(out) if index is None else out


def _index_run(members: list[Call], own: list[list[str | None]], columns: list[tuple], indent: str,
               taken: frozenset[str]) -> tuple[str, str] | None:
    """Members whose numbers, as the class writes them, step by one expression from member to
    member (Res2Net's subsets, `Slice(1, stop=width)`, `Slice(1, start=width, stop=2 * width)`,
    ...: `widthexpr.progression`), as timm's Res2Net splits its subsets in a loop: the member with
    each such number an expression of the index, and the loop over it, `for i in range(3)`; else None."""
    names = Namespace(taken | set(_WORD.findall(" ".join(s for o in own for s in o if s))))
    index = names.first("i") or names.fresh("i")
    texts = list(own[0])
    for j, col in enumerate(columns):
        written = [s if (s := o[j]) is not None else literal(v) for o, v in zip(own, col)]
        if len(set(written)) == 1:
            continue
        if any(type(v) is not int for v in col) or (text := progression(written, index)) is None:
            return None
        texts[j] = text
    elt = render_call(members[0], iter(texts), indent + "    ", 0, 1, taken=taken)
    return elt, f"for {index} in range({len(members)})"


def _arg_names(call: Call) -> list[str]:
    """Per number of `_numbers(call)`, the name of the argument that takes it."""
    out: list[str] = []
    for name, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        out += [name] if is_number(v) else _arg_names(v) if isinstance(v, Call) else []
    return out


def _ordered_sequential(call: Call, slots: Iterator[str | None], indent: str) -> str:
    """nn.Sequential(OrderedDict([("conv0", ...), ...])) of named children, laid out as ruff
    does (torchvision's DenseNet `features`): a child too long for `("name", ...),` on one line
    has its pair split, one item a line; a run of children named prefix<k>, prefix<k + 1>, ... of
    one constructor whose numbers are equal or grow by fixed steps is one comprehension (`_run`)."""
    inner = indent + "            "
    named = [_Named(name, v, list(itertools.islice(slots, len(_numbers(v, "", []))))) for name, v in call.args]
    items = []
    k = 0
    while k < len(named):
        n = _run_length(named, k)
        text = _run(named[k:k + n], inner) if n >= RUN_MIN else None
        if text is not None:
            items.append(text)
            k += n
            continue
        item = named[k]
        k += 1
        head = f"({literal(item.name)}, "
        one = render_call(item.call, iter(item.slots), inner, len(head), 2)
        if "\n" in one or len(inner) + len(head) + len(one) + 2 > WIDTH:
            items.append(f"(\n{inner}    {literal(item.name)},\n{inner}    "
                         f"{render_call(item.call, iter(item.slots), inner + '    ', 0, 1)},\n{inner})")
        else:
            items.append(f"{head}{one})")
    body = "".join(f"{inner}{item},\n" for item in items)
    return (f"nn.Sequential(\n{indent}    OrderedDict(\n{indent}        [\n{body}"
            f"{indent}        ]\n{indent}    )\n{indent})")


RUN_MIN = 3                                     # named children a comprehension writes, at the least
NAMED_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*?)(0|[1-9][0-9]*)")    # prefix + str(k) is the name: b01 is b0 1


def named_step(name: str) -> tuple[str, int] | None:
    """(prefix, k) where `name` is prefix + str(k), and only where it passes the one validator:
    the loops write the prefix into an f-string (`f"block{i + 4}"`), and the pattern alone keeps
    no text out of generated source."""
    m = NAMED_STEP.fullmatch(name)
    return (m[1], int(m[2])) if m is not None and name_problem(name, generated=True) is None else None


class _Named:
    """A named child of an OrderedDict: its constructor, the slots its numbers take, and what
    `_run_length` compares (its name's prefix and number, its call's shape and numbers)."""

    def __init__(self, name: str, call: Any, slots: list[str | None]) -> None:
        self.name, self.call, self.slots = name, call, slots
        m = named_step(name) if isinstance(call, Call) else None
        self.step = m
        self.key = (_shape_key(call), tuple(map(str, slots))) if m and not any(
            isinstance(x, Indexed) for x in slots) else None
        self.numbers = [v for _, v in _numbers(call, "", [])] if m else []


def _run_length(named: list[_Named], k: int) -> int:
    """How many children from the k-th on a comprehension may make: named prefix<j>, prefix<j + 1>,
    ..., one constructor, each number equal in all or an int growing by one fixed step (linear:
    each child is compared with the one before and the run's first two)."""
    first = named[k]
    if first.key is None or first.step is None:
        return 1
    n = 1
    while k + n < len(named):
        c, prev = named[k + n], named[k + n - 1]
        if not (c.key == first.key and c.step == (first.step[0], first.step[1] + n)
                and all(_steps_alike(a, b, x, y) for a, b, x, y in zip(
                    first.numbers, named[k + 1].numbers if n > 1 else c.numbers, prev.numbers, c.numbers))):
            break
        n += 1
    return n


def _steps_alike(a: Any, b: Any, x: Any, y: Any) -> bool:
    """The step from x to y is the run's, from a to b: none (the same value), or one int step."""
    if repr(a) == repr(b):
        return repr(x) == repr(y)
    return all(type(v) is int for v in (a, b, x, y)) and y - x == b - a


def _run(named: list[_Named], indent: str) -> str | None:
    """The children as one comprehension, a stage's blocks as a loop builds them (`*[(f"conv4_{j
    + 2}", Unit(8 + 4 * j, 12 + 4 * j)) for j in range(4)]`: where no loop over the top's depths
    builds the stages, emit/depthloop.py's flat form), where it fits the line as ruff lays it
    out; else None."""
    first = named[0]
    assert first.step is not None
    prefix, start = first.step
    columns = list(zip(*[c.numbers for c in named]))
    words = set(_WORD.findall(" ".join(s for s in first.slots if s)))
    index = next(i for i in ("j", "i", "k", "step") if i not in words)
    texts = []
    for col, slot in zip(columns, first.slots):
        if len(set(map(repr, col))) > 1 and slot is not None:
            return None                         # a parameter's value that changes: no such run
        texts.append(slot if len(set(map(repr, col))) == 1 else _stepped(col, index))
    name = f'f"{prefix}{{{index}{f" + {start}" if start else ""}}}"'
    call = render_call(first.call, iter(texts), indent + "    ", 0, 1)
    loop = f"for {index} in range({len(named)})"
    one = f"*[({name}, {call}) {loop}]"
    if "\n" not in call and len(indent) + len(one) + 1 <= WIDTH:
        return one
    if "\n" not in call and len(indent) + 4 + len(name) + len(call) + 4 <= WIDTH:
        return f"*[\n{indent}    ({name}, {call})\n{indent}    {loop}\n{indent}]"
    return None


def _stepped(col: tuple, index: str) -> str:
    """The k-th of an int progression as an expression of its index (`352 + 32 * j`)."""
    step = col[1] - col[0]
    term = index if abs(step) == 1 else f"{abs(step)} * {index}"
    return term if col[0] == 0 and step > 0 else f"{col[0]} {'+' if step > 0 else '-'} {term}"


def module_list(members: list[tuple[tuple[int, ...], Child]], ctor: Callable[[Child], Call | None]) -> Call:
    """nn.ModuleList([...]) of a list's members by index (a list in a list for `a.1.0`); an index
    no member has (dropped by `when:`) holds None."""
    by_index: dict[int, list[tuple[tuple[int, ...], Child]]] = {}
    for indices, c in members:
        by_index.setdefault(indices[0], []).append((indices[1:], c))
    items = []
    for k in range(max(by_index) + 1):
        group = by_index.get(k)
        items.append((str(k), None if group is None else ctor(group[0][1]) if group[0][0] == ()
                      else module_list(group, ctor)))
    return Call("nn.ModuleList", tuple(items))


@dataclass
class _Member:
    """A child of an nn.Sequential as its constructor call: `text` (as a comprehension writes it,
    where its numbers read its step's index), the index (name, value), and the text with the
    index's value in its place."""
    text: str
    index: tuple[str, int] | None = None
    folded: str = ""
    deep: str = ""          # `text` laid out one level in, alone on its line (a comprehension's member)


def _members(call: Call, slots: Iterator[str | None], indent: str) -> list[_Member]:
    """The children of an nn.Sequential, each with the numbers it takes from `slots`."""
    out = []
    for _, v in call.args:
        if not isinstance(v, Call):
            out.append(_Member(literal(v)))
            continue
        mine = list(itertools.islice(slots, len(_numbers(v, "", []))))     # what rendering it takes
        steps = {(s.name, s.value) for s in mine if isinstance(s, Indexed)}
        folded = render_call(v, iter(mine), indent, 0, 1)
        deep = render_call(v, iter(str(s) if s is not None else None for s in mine), indent + "    ")
        if len(steps) != 1:
            out.append(_Member(folded, deep=deep))
            continue
        text = render_call(v, iter(str(s) if s is not None else None for s in mine), indent, 0, 1)
        out.append(_Member(text, steps.pop(), folded, deep))
    return out


def _segments(members: list[_Member], runs: dict[int, Count]) -> Iterator[tuple[Count | None, list[_Member]]]:
    """The members in stretches: each counted run as one, with its Count, and those between."""
    at = 0
    for first in sorted(runs):
        if at < first:
            yield None, members[at:first]
        yield runs[first], members[first:first + runs[first].left]
        at = first + runs[first].left
    if at < len(members):
        yield None, members[at:]


def _runs(members: list[_Member]) -> Iterator[list[_Member]]:
    """Runs of equal children: the same text, with no index or the same one counting up by 1."""
    run: list[_Member] = []
    for m in members:
        last = run[-1] if run else None
        if last is not None and m.text == last.text and (
                m.index == last.index is None or m.index is not None and last.index is not None
                and m.index == (last.index[0], last.index[1] + 1)):
            run.append(m)
            continue
        if run:
            yield run
        run = [m]
    if run:
        yield run


def _repeats(members: list[_Member], indent: str, counted: dict[int, Count]) -> list[str]:
    """nn.Sequential's children with each run of equal one-line constructors written once,
    `*[Block(...) for _ in range(n)]` (the same modules, numbered alike), and each run whose
    numbers follow their step's index, `*[Block(..., rate * j / 17.0) for j in range(3)]`
    (torchvision's loop over a stage's blocks), laid out as ruff does. A `counted` run is
    written so whatever its length, its count the expression (`range(n - 1)`)."""
    out: list[str] = []
    for run, count in ((r, c) for c, part in _segments(members, counted) for r in ([part] if c else _runs(part))):
        n, part, index = len(run), run[0].text, run[0].index
        loop = "for _ in " if index is None else f"for {index[0]} in "
        if count and index is not None:           # step j's index on: range(j, n) (its Count, `counted_runs`)
            loop += f"range({count.total})" if index[1] == 0 else f"range({index[1]}, {count.total})"
        else:
            loop += (f"range({count.text if count else n})" if index is None or index[1] == 0
                     else f"range({index[1]}, {index[1] + n})")
        one = f"*[{part} {loop}]"
        deeper = part.replace("\n", "\n    ")          # a multi-line constructor one level in
        if "\n" not in part and n > 1 and len(indent) + 4 + len(part) > WIDTH:
            out.append(f"*[\n{indent}    {run[0].deep}\n{indent}    {loop}\n{indent}]")   # split as ruff does
        elif "\n" in part and (count or n > 1 and all(len(line) <= WIDTH for line in deeper.split("\n"))):
            out.append(f"*[\n{indent}    {deeper}\n{indent}    {loop}\n{indent}]")
        elif not count and (n == 1 or "\n" in part or len(indent) + 4 + len(part) > WIDTH):
            out += [m.folded if m.index is not None else m.text for m in run]
        elif len(indent) + len(one) + 1 <= WIDTH:
            out.append(one)
        else:
            out.append(f"*[\n{indent}    {part}\n{indent}    {loop}\n{indent}]")
    return out


def counted_runs(planner: ClassPlanner, plan: ClassPlan) -> dict[str, dict[int, Count]]:
    """The runs the top class writes as counts (`render_call`'s `runs`): in each counted repeat
    of an nn.Sequential child (`plan.counts`, by member), its last steps written alike, from the
    first so written (torchvision's first block of a stage, then `range(n - 1)` of the others)."""
    out = {}
    slots = iter(plan.slots)
    for c, call in planner.top_calls():
        mine = list(itertools.islice(slots, len(_numbers(call, "", []))))
        steps = plan.counts.get(c.local)
        if not steps:
            continue
        keys = _member_keys(call, mine)
        runs = {}
        for k, count in steps.items():
            end = k + count.left - 1
            if count.offset or keys[end] is None:
                continue
            first = end
            while first > k and keys[first - 1] == keys[end]:
                first -= 1
            runs[first] = steps[first]     # (an Indexed member's index is its step's: `for i in range(j, n)`)
        out[c.local] = runs
    return out


def _member_keys(call: Call, slots: list[str | None]) -> list[tuple | None]:
    """Per member of an nn.Sequential, what its text is made of (its call's structure, each number
    as written): equal keys, equal texts. None for a member that is no call."""
    keys: list[tuple | None] = []
    at = 0
    for _, v in call.args:
        if not isinstance(v, Call):
            keys.append(None)
            at += is_number(v)
            continue
        numbers = _numbers(v, "", [])
        mine = slots[at:at + len(numbers)]
        at += len(numbers)
        keys.append((_shape_key(v), tuple(s if s is not None else repr(x) for s, (_, x) in zip(mine, numbers))))
    return keys      # (an Indexed slot as its text: the steps alike read their index alike)


def member_sizes(planner: ClassPlanner) -> list[tuple[str, list[int]]]:
    """The top class's constructor numbers (`positions_of`'s) child by child: per child, the
    numbers of each member of its nn.Sequential, or of its call as one."""
    out = []
    for c, call in planner.top_calls():
        members = call.fn == "nn.Sequential" and c.subscope is not None and c.sub.sequential
        parts = [v for _, v in call.args] if members else [call]
        out.append((c.local, [len(_numbers(v, "", [])) if isinstance(v, Call) else int(is_number(v)) for v in parts]))
    return out


def _loop_forward(mods: list[Child], fw: Forward, prefix: str, start: int) -> Loop | None:
    """The forward with the run of `mods` as one loop, where it repeats one stretch of lines per
    module (the module's name aside) and the name is nowhere else."""
    forward = fw.lines
    at = [fw.calls.get(c.local, -1) for c in mods]
    period = at[1] - at[0]
    if period <= 0 or at != [at[0] + j * period for j in range(len(mods))]:
        return None
    stretches = [[_renamed(line, c.local, "NAME") for line in forward[a:a + period]] for c, a in zip(mods, at)]
    rest = forward[:at[0]] + forward[at[0] + len(mods) * period:]
    words = set(_WORD.findall("\n".join(forward)))
    if (any(s != stretches[0] for s in stretches) or "layer" in words or "NAME" in words
            or not {c.local for c in mods}.isdisjoint(_WORD.findall("\n".join(rest)))):
        return None
    names = Namespace(words)
    var = names.first("new_features", "out", "layer_out") or names.fresh("value")    # torchvision's
    body = [_renamed(line.replace("self.NAME(", "layer("), "NAME", var) for line in stretches[0]]
    loop = ["for layer in self.children():", *(f"    {line}" for line in body)]
    return Loop(prefix, start, mods, forward[:at[0]] + loop + forward[at[0] + len(mods) * period:])


@contextmanager
def _rep_first(plan: ClassPlan) -> Iterator[None]:
    """The instances with the one the class is written from first, while its constructor is
    planned from the first's children (`parameterise`), where its chains' members differ: the first
    in graph order may lack one (MobileNetV2's features.1); and where an optional child may be
    built under a boolean `let:`'s test (`ctorparams._build_tested`, from the numbers of the instance
    that has it: ResNeSt's `avd_last`, which layer1.0 lacks)."""
    instances = plan.instances
    scope = plan.rep.scope
    tests = plan.optional and scope is not None and any(type(v) is bool for v in scope.lets.values())
    if plan.members or plan.guard_params or tests:      # (a union's: the instance it names its values as)
        rep = next(sn for sn in instances if sn.path == plan.rep.path)
        plan.instances = [rep, *(sn for sn in instances if sn is not rep)]
    try:
        yield
    finally:
        plan.instances = instances


# -- the plans -----------------------------------------------------------------------

class ClassPlanner:
    """Plans every class of a scope tree: `plans` in post-order (a class's children come first),
    `defs` the helper class sources its constructors need, in first-use order."""

    def __init__(self, tree: ScopeTree, probe: bool, refuted: frozenset[str] | None = None,
                 stepless: frozenset[str] = frozenset(), unlisted: frozenset[str] = frozenset()) -> None:
        self.tree, self.probe = tree, probe
        self.refuted = refuted           # the top class's widths from the spec's, less these parameters (`vary`)
        self.plans: dict[tuple, ClassPlan] = {}          # by structure
        self.plan_of: dict[ScopeNode, ClassPlan] = {}
        self.key_of: dict[ScopeNode, tuple] = {}
        self.args_of: dict[ScopeNode, list[Any]] = {}    # a scope's constructor arguments
        self.loop_of: dict[ScopeNode, Loop] = {}
        self.numbers_of: dict[ScopeNode, list[tuple[str, Any]]] = {}    # the numbers of its forward's calls
        self.of_block: dict[str, list[ClassPlan]] = {}  # by base name, in creation order: what `Joiner.merge` tests
        self.structures: dict[ClassPlan, list[ScopeNode]] = {}   # one instance per structure a class serves
        self.children_of: dict[ClassPlan, int] = {}      # the children of those structures, together
        self.looped: set[ClassPlan] = set()              # classes that some loop builds as they are
        self.ctor_keys: dict[Child, Any] = {}
        self.joiner = Joiner(self, probe, stepless)      # which structures of a block share a class
        self.taken = Namespace({"Model", "_probe", "OrderedDict"} | tree.helper_classes)     # the file's class names
        self.defs: dict[str, None] = {}
        self.unlisted = unlisted         # blocks whose exchanges no one class over their list writes (`listclass`)
        self.callees: set[str] = set()                   # what the forwards call (`F.relu`): the imports
        try:
            self._plan()
        except (StepLoopError, Unlisted) as e:      # a block's chains joined as a repeat's steps that no loop
            stepped = isinstance(e, StepLoopError)  # builds (known once its members' classes take their numbers),
            if e.block in (stepless if stepped else unlisted):      # or an exchange over a list that no one
                raise                               # class writes: plan again, each count of that block's steps
            self.__init__(tree, probe, refuted, stepless | {e.block} if stepped else stepless,  # type: ignore[misc]
                          unlisted if stepped else unlisted | {e.block})     # a class, its structures classes

    def _plan(self) -> None:
        """Each scope's class, then each class's constructor and forward."""
        tree, probe = self.tree, self.probe
        for sn in tree.post_order():
            if not sn.sequential:
                forward = forward_lines(tree, sn, probe)      # its numbers blank: the class's key
                self.callees |= forward.callees
                loop = self._loop(sn, forward, probe)
                if loop is not None:
                    self.loop_of[sn] = loop
                    self.looped.update(self.plan_of[c.sub] for c in loop.children)
                else:
                    self.numbers_of[sn] = forward.numbers
                self._classify(sn, loop.forward if loop else forward.lines)
        name_classes(tree, self.unique_plans(), self.taken)
        for plan in self.unique_plans():
            by_text(plan)
            _parameterised(self, plan)
            if plan.counts and plan.rep is tree.root:
                plan.counts = counted_runs(self, plan)
            if plan.rep not in self.loop_of and (plan.absent or plan.same or plan.ladder or plan.tails
                                                 or self.numbers_of.get(plan.rep)):
                plan.forward = forward_lines(tree, plan.rep, probe, plan.absent_tests(), plan.forward_slots,
                                             plan.ladder, plan.tail_tests(), plan.heads).lines
            plan.forward[:0] = [line for a, b in plan.same.items() for line in (f"if {a} is None:", f"    {a} = {b}")]

    def unique_plans(self) -> list[ClassPlan]:
        """Every class once, in post-order (a merged class is filed under several structures),
        but those that only wrap a module (`wrapped`): their callers build the module itself."""
        plans = {id(p): p for p in self.plans.values()}.values()
        return [p for p in plans if self.wrapped(p.rep) is None]

    def wrapped(self, sn: ScopeNode) -> Child | None:
        """The one child a block instance only wraps, which its caller builds in its place: a
        module of the block's one input that gives its output and holds no tensor, so that no
        state_dict key names either (ResNet's option-A shortcut, `downsample=PadChannels(16, 32,
        stride=2)`, where a class would only pass its input on). Not where a loop builds the block
        (`for i in range(4): self.add_module(f"p{i + 1}", Pool(...))`): the loop names its class."""
        if (sn.scope is None or sn.sequential or sn is self.tree.root or len(sn.children) != 1
                or self.plan_of.get(sn) in self.looped):
            return None
        c = sn.children[0]
        if (c.node is None or not c.module or c.node.tensors or c.inputs != sn.inputs[:1]
                or len(sn.inputs) != 1 or c.outputs != sn.exports):
            return None
        return c

    @property
    def root(self) -> ClassPlan:
        return self.plan_of[self.tree.root]

    def top_calls(self) -> Iterator[tuple[Child, Call]]:
        """The top class's children that take numbers (`positions_of`), each with its constructor."""
        for c in own_children(self.tree.root):
            call = None if c.local in self.root.optional else self.ctor(c)
            if call is not None:
                yield c, call

    def ctor(self, c: Child) -> Call | None:
        """The constructor of a child (a parameter's initial value), or None for a functional node."""
        if c.members:
            return module_list(c.members, self.ctor)
        if not (c.module or c.param):
            return None
        if c.node is not None:
            call = self.tree.node_call(c.node)
            for d in call.defs:
                self.defs.setdefault(d.strip("\n"))
            return call
        if c.sub.sequential:
            return Call("nn.Sequential", tuple((g.local, self.ctor(g)) for g in c.sub.children))
        inner = self.wrapped(c.sub)
        if inner is not None:
            return self.ctor(inner)
        plan = self.plan_of[c.sub]
        present = {g.local: g for g in c.sub.children}
        given = list(zip(plan.params, self.args_of[c.sub]))      # the required ones first (`parameterise`)
        args = tuple((p, v) for p, v in given if p not in plan.defaults)    # positional, as torchvision's
        kwargs = [kw(p, v, plan.defaults[p]) for p, v in given if p in plan.defaults]    # where they differ
        kwargs += [kw(o, self.ctor(present[o])) for o in plan.optional if o in present]
        return Call(plan.name, args, tuple(kwargs))

    @staticmethod
    def numbers_in(call: Call) -> list[tuple[str, Any]]:
        """The numbers of a constructor call, which a class may take (`_numbers`)."""
        return _numbers(call, "", [])

    def ctor_key(self, c: Child) -> Any:
        """The constructor's structure, numbers aside (made once per child: `Joiner.merge` asks again)."""
        if c not in self.ctor_keys:
            self.ctor_keys[c] = (None if not (c.module or c.param or c.members) else
                                 _shape_key(module_list(c.members, self.ctor)) if c.members else
                                 _shape_key(self.tree.node_call(c.node)) if c.node is not None else
                                 ("seq", tuple(self.ctor_key(g) for g in c.sub.children)) if c.sub.sequential
                                 else ("cls", self.key_of[c.sub]))
        return self.ctor_keys[c]

    # -- one class per structure ---------------------------------------------------------

    def _classify(self, sn: ScopeNode, forward: list[str]) -> None:
        """Give a scope its class: one per structure, numbers aside."""
        scope = sn.scope
        base = (camel(scope.block) if scope and scope.block else
                self._group_name(sn) if sn.path else root_name(self.tree.graph))
        loop = self.loop_of.get(sn)
        children = (("loop", loop.prefix, loop.start, self.key_of[loop.children[0].sub]) if loop else
                    tuple((c.local, self.ctor_key(c)) for c in sn.children))
        listing = list_param(self.tree, sn, self.probe) if scope and scope.block not in self.unlisted else None
        key = self.key_of[sn] = (base, ("listed", listing) if listing else children, tuple(forward))
        plan = self.plans.get(key)
        if plan is None:                                # a structure not seen before
            plan = None if listing else self.joiner.merge(base, sn)
            if plan is None:
                plan = ClassPlan(base, [], forward, listing=listing)    # named by `name_classes` once all are known
                self.of_block.setdefault(base, []).append(plan)
            self.structures.setdefault(plan, []).append(sn)
            self.children_of[plan] = self.children_of.get(plan, 0) + len(sn.children)
        self.plans[key] = plan
        plan.instances.append(sn)
        self.plan_of[sn] = plan

    def _group_name(self, sn: ScopeNode) -> str:
        """A group's class: named after the block it is part of and its own name, as timm names
        SKNet's attention `SelectiveKernelAttn` (not `Attn`); a group of the top's, its own."""
        owner = block_of(self.tree.graph, self.tree.graph.scopes.get(sn.path))
        return camel(f"{owner.block}_{local(sn.path)}" if owner is not None and owner.block else local(sn.path))

    # -- repeats as loops -------------------------------------------------------------------

    def _loop(self, sn: ScopeNode, forward: Forward, probe: bool) -> Loop | None:
        """The scope as a loop, where its modules are prefix1, prefix2, ... of one class whose
        constructor numbers grow by fixed steps, and its forward repeats one stretch per module."""
        mods = [c for c in sn.children if c.module]
        if (sn.path == "" or len(mods) < 2 or any(c.param for c in sn.children)
                or any(c.subscope is None or c.sub.sequential for c in mods)):
            return None
        names = [named_step(c.local) for c in mods]
        if (not all(names) or len({self.key_of[c.sub] for c in mods}) != 1 or self.plan_of[mods[0].sub].absent
                or self.plan_of[mods[0].sub].members):
            return None
        prefix, start = names[0]     # type: ignore[misc]
        if names != [(prefix, start + j) for j in range(len(mods))]:
            return None
        if any(g.subscope is not None for c in mods for g in c.sub.children) or not self._steps(mods):
            return None
        if forward.numbers:           # a loop's numbers are written as they are
            forward = forward_lines(self.tree, sn, probe, slots=[None] * len(forward.numbers))
        return _loop_forward(mods, forward, prefix, start)

    def _steps(self, mods: list[Child]) -> bool:
        """Every constructor number of the run's modules is the same throughout, or an int
        growing by a fixed step."""
        columns = list(zip(*[[v for _, v in self.positions_of(c.sub, [])] for c in mods]))
        return all(len(set(map(repr, col))) == 1 or (all(type(v) is int for v in col) and
                   all(b - a == col[1] - col[0] for a, b in zip(col, col[1:]))) for col in columns)

    # -- constructor parameters ----------------------------------------------------------

    def positions(self, sn: ScopeNode) -> list[tuple[str, Any]]:
        """The numbers a class's constructor may take, in slot order, for one instance."""
        return self.positions_of(sn, self.plan_of[sn].optional)

    def positions_of(self, sn: ScopeNode, optional: list[str],
                     origins: list[tuple[Child, str] | None] | None = None) -> list[tuple[str, Any]]:
        """The numbers of a scope's constructors (an optional child's are its caller's); of a
        loop, its length and each argument's first value and step. `origins` gets, per number,
        (child, argument) where it is an argument of a child's own constructor call."""
        loop = self.loop_of.get(sn)
        if loop is not None:
            inner = self.plan_of[loop.children[0].sub]
            columns = zip(inner.params, zip(*[self.args_of[c.sub] for c in loop.children]))
            steps = [("num_layers", len(loop.children)),
                     *(x for p, col in columns for x in ((p, col[0]), (f"{p}_step", col[1] - col[0])))]
            if origins is not None:
                origins += [None] * len(steps)
            return steps
        out: list[tuple[str, Any]] = []
        plan = self.plan_of.get(sn)
        chains = plan.members if plan is not None else {}
        for c, lacks in _with_guarded(sn, plan):
            if c.local in chains:
                self._chain_numbers(c, chains[c.local], out, origins)
                continue
            call = None if c.local in optional else self.ctor(c)
            if lacks and call is not None:        # a guarded or tested child it lacks (`_with_guarded`)
                out += [(label, MISSING) for label, _ in _numbers(call, c.local, [])]
                if origins is not None:           # the spec's expressions, which any value of MISSING fits
                    origins += number_origins(call, c)
                continue
            if call is not None:
                _numbers(call, c.local, out)
                if origins is not None:
                    wrapped = c.subscope is not None and self.wrapped(c.sub)
                    origins += number_origins(call, wrapped or c)     # a wrapped module's numbers are its own
        return out

    def _chain_numbers(self, c: Child, chain: list[tuple[MemberId, Child]], out: list[tuple[str, Any]],
                       origins: list[tuple[Child, str] | None] | None) -> None:
        """The numbers of an nn.Sequential child whose members some instances lack, member by
        member of their union (`ClassPlan.members`): a member it lacks, MISSING in each (`members.fill`).
        A member of a loop's steps (ANY_STEP) has the numbers of the template's member at every
        instance: the loop writes them from its index (`StepPlan.texts`), none a parameter's column."""
        mine = dict(zip(member_ids(c) or [], c.sub.children))
        for k, (i, some) in enumerate(chain):
            m = some if i[1] == ANY_STEP else mine.get(i)
            call = self.ctor(m if m is not None else some)
            assert call is not None
            numbers = _numbers(call, f"{c.local}_{k}", [])
            out += numbers if m is not None else [(label, MISSING) for label, _ in numbers]
            if origins is not None:
                origins += number_origins(call, m) if m is not None and i[1] != ANY_STEP else [None] * len(numbers)

    def chain_call(self, plan: ClassPlan, c: Child) -> Call:
        """The nn.Sequential of a child's members' union (`ClassPlan.members`), as the class builds it."""
        return Call("nn.Sequential", tuple((str(k), self.ctor(m)) for k, (_, m) in enumerate(plan.members[c.local])))


def _parameterised(planner: ClassPlanner, plan: ClassPlan) -> None:
    """A class's constructor parameters: an exchange's over a list (`listclass`), or those its
    instances' numbers take."""
    if plan.listing is not None:
        plan_listed(planner, plan, render_call)
        return
    with _rep_first(plan):
        parameterise(planner, plan)
        add_guards(planner.tree.graph, plan)


def _with_guarded(sn: ScopeNode, plan: ClassPlan | None) -> list[tuple[Child, bool]]:
    """The scope's own children and, in their place, the rep's children that a text parameter
    guards (`guard.by_text`) or a `let:` tests (`_with_tested`) and the scope lacks (True), whose
    numbers are MISSING (`members.fill`)."""
    mine, absent = _with_tested(sn, plan)
    if plan is None or not plan.guard_params or sn is plan.rep:
        return [(c, c.local in absent) for c in mine]
    have = {c.local: c for c in mine}
    return [(have[c.local], c.local in absent) if c.local in have else (c, True) for c in own_children(plan.rep)
            if c.local in have or c.local in plan.guard_params]


def _with_tested(sn: ScopeNode, plan: ClassPlan | None) -> tuple[list[Child], set[str]]:
    """A scope's own children, and in their place those its class builds under a test that it
    lacks (`ClassPlan.tested`, the class's instance's): their locals. A child of its own that the
    class's instance lacks (Res2Net's ladder's adds) stays after the one before it."""
    children = own_children(sn)
    tested = plan.tested if plan is not None else {}
    lacks = set(tested) - {c.local for c in children}
    if plan is None or not lacks:
        return children, lacks
    order, at, place = [c.local for c in own_children(plan.rep)], -1, {}
    for c in children:
        at = place[c.local] = order.index(c.local) if c.local in order else at
    return sorted([*children, *(tested[t] for t in lacks)],
                  key=lambda c: order.index(c.local) if c.local in lacks else place[c.local]), lacks
