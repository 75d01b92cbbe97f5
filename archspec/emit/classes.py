"""Classes: one per distinct scope structure. Instances that differ only in numbers share a
class, whose constructor takes the numbers that differ as parameters."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..names import RESERVED, name_problem
from ..ops.base import Call, is_default, literal
from .forward import forward_lines
from .scopes import Child, ScopeNode, ScopeTree, local


@dataclass(eq=False)
class ClassPlan:
    """A generated class: the scopes it serves and the numbers its constructor takes."""
    name: str
    instances: list[ScopeNode]         # the scopes it serves, in graph order
    forward: list[str]
    params: list[str] = field(default_factory=list)
    slots: list[str | None] = field(default_factory=list)   # per number in __init__: a parameter, or None (literal)


# -- numbers in constructor calls -----------------------------------------------------

def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, tuple) and bool(v) and all(_is_number(x) for x in v)


def _shape_key(call: Call) -> tuple:
    """A call with its numbers blanked out: calls with equal keys differ only in numbers."""
    def k(v: Any) -> Any:
        return "#" if _is_number(v) else _shape_key(v) if isinstance(v, Call) else repr(v)
    return (call.fn, tuple((n, k(v)) for n, v in call.args), tuple((n, k(v)) for n, v, _ in call.kwargs))


def _numbers(call: Call, label: str, out: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(label, value) of every number in a call, depth first: what a class may parameterise.
    `render_call` consumes its slots in this order."""
    for name, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        if _is_number(v):
            out.append((f"{label}_{name}", v))
        elif isinstance(v, Call):
            _numbers(v, f"{label}_{name}", out)
    return out


def render_call(call: Call, slots: Iterator[str | None], indent: str) -> str:
    """Source of a constructor call; `slots` gives, per number in `_numbers` order, a
    parameter name to write, or None to write the value."""
    def text(v: Any) -> tuple[str, bool]:
        if _is_number(v):
            s = next(slots)
            return (s, True) if s is not None else (literal(v), False)
        if isinstance(v, Call):
            return render_call(v, slots, indent + "    "), False
        return literal(v), False
    parts = [text(v)[0] for _, v in call.args]
    for name, v, default in call.kwargs:
        t, param = text(v)
        if param or not is_default(v, default):
            parts.append(f"{name}={t}")
    if any(isinstance(v, Call) for _, v in call.args):     # nn.Sequential: one child a line
        return f"{call.fn}(\n" + "".join(f"{indent}    {p},\n" for p in parts) + f"{indent})"
    return f"{call.fn}({', '.join(parts)})"


def _camel(name: str) -> str:
    """A class name from a name or title: CamelCase words, never a keyword, builtin or reserved name."""
    out = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    return out if out[:1].isalpha() and out not in RESERVED else "Block" + out


# -- the plans -----------------------------------------------------------------------

class ClassPlanner:
    """Plans every class of a scope tree: `plans` in post-order (a class's children come first),
    `defs` the helper class sources its constructors need, in first-use order."""

    def __init__(self, tree: ScopeTree, probe: bool) -> None:
        self.tree = tree
        self.plans: dict[tuple, ClassPlan] = {}          # by structure
        self.plan_of: dict[ScopeNode, ClassPlan] = {}
        self.key_of: dict[ScopeNode, tuple] = {}
        self.args_of: dict[ScopeNode, list[Any]] = {}    # a scope's constructor arguments
        self.taken = {"Model", "_probe"} | tree.helper_classes
        self.defs: dict[str, None] = {}
        for sn in tree.post_order():
            if not sn.sequential:
                self._classify(sn, forward_lines(tree, sn, probe))
        for plan in self.plans.values():
            self._parameterise(plan)

    @property
    def root(self) -> ClassPlan:
        return self.plan_of[self.tree.root]

    def ctor(self, c: Child) -> Call | None:
        """The constructor of a child (a parameter's initial value), or None for a functional node."""
        if not (c.module or c.param):
            return None
        if c.node is not None:
            call = self.tree.node_call(c.node)
            for d in call.defs:
                self.defs.setdefault(d.strip("\n"))
            return call
        if c.sub.sequential:
            return Call("nn.Sequential", tuple((g.local, self.ctor(g)) for g in c.sub.children))
        plan = self.plan_of[c.sub]
        return Call(plan.name, tuple(zip(plan.params, self.args_of[c.sub])))

    def _ctor_key(self, c: Child) -> Any:
        """The constructor's structure, numbers aside."""
        if not (c.module or c.param):
            return None
        if c.node is not None:
            return _shape_key(self.tree.node_call(c.node))
        if c.sub.sequential:
            return ("seq", tuple(self._ctor_key(g) for g in c.sub.children))
        return ("cls", self.key_of[c.sub])

    # -- one class per structure ---------------------------------------------------------

    def _classify(self, sn: ScopeNode, forward: list[str]) -> None:
        """Give a scope its class: one per structure, numbers aside."""
        scope = sn.scope
        base = (_camel(scope.block) if scope and scope.block else
                _camel(local(sn.path)) if sn.path else self._root_name())
        key = self.key_of[sn] = (base, tuple((c.local, self._ctor_key(c)) for c in sn.children), tuple(forward))
        plan = self.plans.get(key)
        if plan is None:
            name, k = base, 1
            while name in self.taken:
                k += 1
                name = f"{base}{k}"
            self.taken.add(name)
            plan = self.plans[key] = ClassPlan(name, [], forward)
        plan.instances.append(sn)
        self.plan_of[sn] = plan

    def _root_name(self) -> str:
        """The top class: the spec's title (ResNet-50 -> ResNet50), else its name."""
        g = self.tree.graph
        words = re.split(r"[^A-Za-z0-9]+", (g.meta.get("title") or "").split("(")[0])
        name = "".join(w[:1].upper() + w[1:] for w in words if w)
        return name if name_problem(name) is None and len(name) <= 30 else _camel(g.name)

    # -- constructor parameters ----------------------------------------------------------

    def _parameterise(self, plan: ClassPlan) -> None:
        """The constructor's parameters: the numbers that differ between the class's instances,
        one parameter for positions that are always equal, named after a block parameter or
        the in/out channels where they match one."""
        per_scope = [self._positions(sn) for sn in plan.instances]
        labels = [lab for lab, _ in per_scope[0]]
        columns = list(zip(*[[v for _, v in pos] for pos in per_scope])) if labels else []
        names: dict[tuple, str] = {}
        plan.slots = []
        for label, col in zip(labels, columns):
            key = tuple(map(repr, col))        # by repr: 1 and 1.0 are different arguments
            if len(set(key)) == 1:
                plan.slots.append(None)
                continue
            if key not in names:
                names[key] = self._param_name(plan, col, label, set(names.values()))
            plan.slots.append(names[key])
        plan.params = list(dict.fromkeys(s for s in plan.slots if s))
        column_of: dict[str, tuple] = {}
        for slot, col in zip(plan.slots, columns):
            if slot:
                column_of.setdefault(slot, col)
        for i, sn in enumerate(plan.instances):
            self.args_of[sn] = [column_of[p][i] for p in plan.params]

    def _positions(self, sn: ScopeNode) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        for c in sn.children:
            call = self.ctor(c)
            if call is not None:
                _numbers(call, c.local, out)
        return out

    def _param_name(self, plan: ClassPlan, col: tuple, label: str, taken: set[str]) -> str:
        """A block parameter or in/out_channels whose values are the column, else the label."""
        fallback = re.sub(r"\W", "_", label if label[0].isalpha() else "m" + label)
        for c in self._param_candidates(plan, col) + [fallback]:
            if name_problem(c) is None and c not in taken:
                return c
        k = 2
        while f"{fallback}_{k}" in taken:
            k += 1
        return f"{fallback}_{k}"

    def _param_candidates(self, plan: ClassPlan, col: tuple) -> list[str]:
        scopes = [sn.scope for sn in plan.instances]
        out = []
        if all(s is not None for s in scopes):
            args = [s.args for s in scopes if s is not None]
            out += [a for a in args[0] if all(a in s for s in args) and tuple(s[a] for s in args) == col]
        for side, refs in (("in_channels", [sn.inputs for sn in plan.instances]),
                           ("out_channels", [sn.exports for sn in plan.instances])):
            if all(len(r) == 1 for r in refs) and tuple(self._channels(r[0]) for r in refs) == col:
                out.append(side)
        return out

    def _channels(self, ref: str) -> Any:
        shape = self.tree.graph.shape_of(ref)
        assert shape is not None
        return shape[0]
