"""Constructor parameters of a generated class: the numbers that differ between its instances,
named after the block's parameters (or in/out channels), or computed from them where they are
a multiple, fraction, sum or choice of them; numbers that the block's parameters give at every
instance written as those parameters (DenseNet's `growth`); the spec's `num_classes` taken by
every class that builds a classifier, as torchvision's InceptionAux does."""
from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from ...names import Namespace
from .blockloop import COUNT, VAR
from .classnames import ParamNamer, as_tuple, classifiers
from .counts import block_counts, candidates
from .guard import IN_CHANNELS, let_test, negated_test
from .ladder import ladder_adds
from .lift import Indexed
from .members import ANY_STEP, fill, first_flags, member_ids_of, member_test, step_test, steps_of
from .scopes import ScopeNode, numbered, own_children
from .specexpr import Reads, SpecExprs, _expressions, _names_in, spec_exprs
from .stepwidths import StepPlan, renamed, step_count, step_index, step_numbers, step_widths
from .widthexpr import named_quotients

if TYPE_CHECKING:
    from ...ir import Graph
    from .classes import ClassPlan, ClassPlanner
    from .scopes import Child, ScopeTree

LADDER = "<ladder>"     # the flag of a ladder's adds, among the children's (no child's name)
FIXED_MIN = 8          # a number written as a block parameter without a name to go by: a channel count, not
#                        a kernel or stride, which a 2 or 3 that the block fixes could as well be
SIDES = ("in_channels", "out_channels")
_WORD = re.compile(r"(?<![\w.])[A-Za-z_]\w*")     # a name in an expression of parameters
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")


def parameterise(planner: ClassPlanner, plan: ClassPlan) -> None:
    """The constructor's parameters: the numbers the spec wrote as expressions of the block's
    parameters, written so; of the others, those that differ between the class's instances,
    one parameter for positions that are always equal, named after a block parameter or
    the in/out channels where they match one, or an expression of those."""
    _build_inside(planner, plan)
    origins: list[tuple[Child, str] | None] = []
    per_scope = [planner.positions_of(sn, plan.optional, None if k else origins) + planner.numbers_of.get(sn, [])
                 for k, sn in enumerate(plan.instances)]
    n_ctor, labels, namer = len(origins), [lab for lab, _ in per_scope[0]], ParamNamer(planner.tree.graph, plan)
    columns = _columns(plan, namer, per_scope, origins) if labels else []
    plan.origins = origins
    spec = spec_exprs(planner.tree.graph, plan, namer, planner.plan_of.__getitem__, planner.refuted, _decided(planner))
    written = spec.write_all(origins, _guarded_missing(plan, origins, per_scope, columns), plan.optional)
    reads = spec.reads
    if not all(map(namer.params.usable, [*reads.params, *reads.spec, *reads.lets])):     # a child's name
        written, reads = [None] * len(columns), Reads()
    for p in [*reads.params, *reads.spec, *reads.lets]:
        namer.params.take(p)
    if planner.refuted is not None and plan.rep is planner.tree.root:
        _counts(planner, plan, namer, reads, spec)
    plan.slots = _varying(labels, columns, namer, reads.params, written)
    column_of = {slot: col for slot, col, w in zip(plan.slots, columns, written) if slot and not w}
    plan.slots = [w or s for w, s in zip(written, plan.slots)]
    plan.lets, plan.spec_reads = list(reads.lets.items()), set(reads.spec)
    plan.checked, plan.turned = spec.checked & plan.spec_reads, spec.turned & plan.spec_reads
    _numbers_as_params(planner, plan, labels[:n_ctor], columns, column_of, namer, spec)
    _spec_rates(plan, labels, columns, n_ctor, column_of, namer)
    if spec.tracked:              # the top class: its widths' quotients as locals (DenseNet's transitions)
        plan.lets += named_quotients(plan, _quotient_names(planner, namer.params))
    column_of.update(reads.params)          # the expressions' names, as they are
    _member_counts(planner, plan, namer, column_of)
    _out_derived(plan, column_of, [(w, col) if w else None for w, col in zip(written, columns)])
    column_of.update({p: (v,) * len(plan.instances) for p, v in reads.spec.items()})
    _text_params(plan, column_of, namer)
    flags = _flag_params(plan, column_of, namer, planner.tree)
    plan.defaults = {**_defaults(plan, column_of), **reads.spec}
    plan.defaults.update({p: False for p, _ in flags.values() if p not in plan.defaults})
    _member_tests(planner, plan, column_of, namer)
    _tested_params(planner.tree.graph, plan, column_of, namer)
    if "num_classes" in column_of:
        plan.defaults["num_classes"] = column_of["num_classes"][0]
    _order_params(planner, plan, column_of)
    _forward_slots(plan, plan.slots[n_ctor:])
    _flag_attributes(plan, flags)
    plan.ladder = plan.flags.pop(LADDER, None)
    plan.free = spec.free(plan.params, plan.optional)
    taken = {*plan.params, *(name for name, _ in plan.lets), *plan.optional}
    plan.slots = [s.folded if isinstance(s, Indexed) and (s.name in taken or s.name in planner.taken) else s
                  for s in plan.slots]      # an index a comprehension would name hides none of __init__'s names


def _columns(plan: ClassPlan, namer: ParamNamer, per_scope: list[list[tuple[str, Any]]],
             origins: list[tuple[Child, str] | None]) -> list[tuple]:
    """Per number, its values over the instances; a member's, or a guarded child's (`guard.by_text`),
    that some lack (`members.fill`) filled: a guarded block's width (its input's, or one the spec
    gives it as an expression) after a parameter of the class where one matches."""
    columns = list(zip(*[[v for _, v in pos] for pos in per_scope]))
    if not plan.members and not plan.guard_params and not plan.tested:
        return columns
    guarded = [o is not None and (o[0].local in plan.guard_params and o[0].subscope is not None
               and (o[1] == "in_channels" or o[0].sub.scope is not None and o[1] in o[0].sub.scope.arg_exprs)
               or o[0].local in plan.tested and o[1] == "in_channels")      # one instance's conv: its input's
               for o in origins]
    return fill(columns, [*namer.columns(), *((name, col) for col, name in namer.lets().items())], guarded)


def _text_params(plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer) -> None:
    """The text parameters its guards read (`guard.by_text`), which it takes (DPN's `kind`)."""
    for p in dict.fromkeys(plan.guard_params.values()):
        if p in column_of:        # read by a `let:` too (DPN's `stride`: `specexpr`'s word tests)
            continue
        namer.params.take(p)
        column_of[p] = tuple(sn.scope.args[p] for sn in plan.instances)     # type: ignore[union-attr]


def _guarded_missing(plan: ClassPlan, origins: list[tuple[Child, str] | None], per_scope: list[list[tuple[str, Any]]],
                     columns: list[tuple]) -> list[tuple]:
    """The columns as the spec's expressions are tried on them: a number of a child built under a
    text parameter's test (`guard.by_text`), or under its `let:` test (`_build_tested`: Xception's
    skip, there where stride is 2, written `stride`, not 2), or a member outside the steps of a
    chain a loop builds (`ClassPlan.steps`: Xception's pool), MISSING where an instance lacks it,
    which any value fits. (Not one under a flag: EfficientNet's drop path rate, there where
    `residual`, is the spec's expression of the top's rate at every instance.)"""
    if not plan.guard_params and not plan.tested and not plan.steps:
        return columns
    raw = list(zip(*[[v for _, v in pos] for pos in per_scope]))
    looped = {id(m) for c in plan.rep.children if c.local in plan.steps for m in c.sub.children}
    return [r if o is not None and (o[0].local in plan.guard_params or o[0].local in set(plan.tested) - plan.flagged
                                    or id(o[0]) in looped)
            else col
            for o, r, col in zip([*origins, *[None] * (len(columns) - len(origins))], raw, columns)]


def _counts(planner: ClassPlanner, plan: ClassPlan, namer: ParamNamer, reads: Reads, spec: SpecExprs) -> None:
    """The top class's repeats whose counts it writes from its parameters (`counts`), by its
    nn.Sequential children; the parameters they read it takes, as the spec's (`vary` checks them)."""
    g = planner.tree.graph
    params = g.meta.params or {}
    for c in own_children(plan.rep):
        if (c.subscope is None or not c.sub.sequential or c.local in plan.optional
                or not numbered([m.local for m in c.sub.children])):      # (an OrderedDict's: no runs)
            continue
        steps, names = candidates(g, c.sub, planner.refuted or frozenset())
        if steps and all(p in reads.spec or namer.params.usable(p) for p in names):
            plan.counts[c.local] = steps
            for p in sorted(names - set(reads.spec)):       # a list (ResNet's layers) as a tuple, the default
                reads.spec[p] = tuple(params[p]) if isinstance(params[p], list) else params[p]
                namer.params.take(p)
            spec.checked |= names
            spec.turned |= names


def _member_counts(planner: ClassPlanner, plan: ClassPlan, namer: ParamNamer, column_of: dict[str, tuple]) -> None:
    """A block's class's nn.Sequential children, and nn.ModuleList members, that repeat a block as
    many times as one of its own parameters says (HRNet's exchange's branches, `blocks`): each run
    written as that count (`ClassPlan.counts`, by child or `child.index`), at every instance the
    same, its steps one class with the same arguments; the class takes the parameter."""
    scopes = [sn.scope for sn in plan.instances]
    if plan.rep is planner.tree.root or not all(s is not None and s.block for s in scopes):
        return
    per = [_sequentials(sn, plan) for sn in plan.instances]
    for key in [k for k in per[0] if all(k in p for p in per)]:
        subs = [p[key] for p in per]
        counts = [block_counts(planner.tree.graph, s, sub) for s, sub in zip(scopes, subs) if s is not None]
        found = {k: c for k, c in counts[0].items() if all(other.get(k) == c for other in counts[1:])
                 and _alike(planner, [m.sub for m in subs[0].children[k:k + c.left]])}
        name = next((c.total for c in found.values()), None)
        if name is None or not (name in column_of or namer.params.usable(name)) or not all(
                _only_counts(sn, name, sub) for sn, sub in zip(plan.instances, subs)):
            continue
        if name not in column_of:
            column_of[name] = tuple(s.args[name] for s in scopes)      # type: ignore[union-attr]
            namer.params.take(name)
        plan.counts[key] = {k: c for k, c in found.items() if c.total == name}


def _only_counts(sn: ScopeNode, name: str, sub: ScopeNode) -> bool:
    """The block instance reads its parameter `name` only where it passes it to the block `sub`
    makes, and that block reads what it is given only as its repeat's count (no `let:`, no step's
    argument): another value changes that count alone."""
    scope, inner = sn.scope, sub.scope
    if scope is None or inner is None or name in scope.structure_reads or any(
            name in r for r in scope.let_reads.values()):
        return False
    if any(name in _names_in(text) for _, text in _expressions(sn, [])):     # (a nn.Sequential's: its steps')
        return False
    given = {a for a, text in inner.arg_exprs.items() if name in _names_in(text)}
    texts = [t for c in sub.children for t in (c.node.exprs.values() if c.node is not None else
                                                c.sub.scope.arg_exprs.values() if c.subscope is not None
                                                and c.sub.scope is not None else ())]
    return not any(given & _names_in(t) for t in texts) and not any(given & r for r in inner.let_reads.values())


def _sequentials(sn: ScopeNode, plan: ClassPlan) -> dict[str, ScopeNode]:
    """The nn.Sequential children of a class's instance and the nn.Sequential members of its
    nn.ModuleList children (by `child.index`)."""
    out = {}
    for c in own_children(sn):
        if c.local in plan.optional or c.local in plan.members:
            continue
        if c.subscope is not None and c.sub.sequential:
            out[c.local] = c.sub
        for at, m in c.members:
            if len(at) == 1 and m.subscope is not None and m.sub.sequential:
                out[f"{c.local}.{at[0]}"] = m.sub
    return out


def _alike(planner: ClassPlanner, steps: list[ScopeNode | None]) -> bool:
    """The steps of a run are one class's instances with the same arguments."""
    if not steps or any(s is None or s not in planner.plan_of for s in steps):
        return False
    return (len({id(planner.plan_of[s]) for s in steps}) == 1          # type: ignore[index]
            and all(planner.args_of.get(s) == planner.args_of.get(steps[0]) for s in steps))   # type: ignore[arg-type]


def _order_params(planner: ClassPlanner, plan: ClassPlan, column_of: dict[str, tuple]) -> None:
    """The parameters in the signature's order (the required first, in_channels and num_classes
    leading, then the block's own order), and each instance's arguments in it."""
    order = {p: k for k, p in enumerate(plan.rep.scope.args if plan.rep.scope else ())}
    plan.params = sorted(column_of, key=lambda p: (p in plan.defaults, p != "in_channels", p != "num_classes",
                                                   order.get(p, len(order))))
    for i, sn in enumerate(plan.instances):
        planner.args_of[sn] = [column_of[p][i] for p in plan.params]


def _quotient_names(planner: ClassPlanner, names: Namespace) -> Callable[[str], str]:
    """The top's quotients' names (`widthexpr.named_quotients`): fresh, and none of a block loop's
    own names where the spec has a configuration for one to loop over (DenseNet-121's `blocks`:
    the loop carries the width in `num_features`, and the quotients are not written)."""
    looped = any(isinstance(v, (list, tuple)) for v in (planner.tree.graph.meta.params or {}).values())

    def fresh(base: str) -> str:
        name = names.fresh(base)
        while looped and name in (COUNT, VAR):
            name = names.fresh(base)
        return name
    return fresh


def _numbers_as_params(planner: ClassPlanner, plan: ClassPlan, labels: list[str], columns: list[tuple],
                       column_of: dict[str, tuple], namer: ParamNamer, spec: SpecExprs) -> None:
    """The numbers no expression of the spec wrote: derived from the parameters (and `let:`
    locals) where they are a multiple, sum or choice of them, else parameters or literals."""
    candidates = dict(namer.columns())
    fixed = _fixed(candidates, all(sn.scope is not None and sn.scope.block for sn in plan.instances))
    if plan.instances[0] not in planner.loop_of:      # a loop's numbers grow: no expressions there
        local = {name: spec.column_of_let(name) for name, _ in plan.lets}
        _derive_into(plan, column_of, namer, fixed, candidates, set(), local)
        lets = _name_lets(plan, column_of, namer)
        if lets:                 # the rest again, from them too (Res2Net's `4 * width`)
            _derive_into(plan, column_of, namer, fixed, candidates, lets, local)
    n = _num_classes(planner, plan)
    for k, (label, col) in enumerate(zip(labels, columns)):     # forward's numbers: as they are
        if plan.slots[k] is None and n is not None and col[0] == n[0] and label in n[1]:
            plan.slots[k] = "num_classes"
            column_of["num_classes"] = col
        elif plan.slots[k] is None:
            plan.slots[k] = _fixed_expr(label, col[0], fixed)
            column_of.update(_used([plan.slots[k] or ""], candidates, column_of))


# attributes every nn.Module has, which a kept parameter must not overwrite
_MODULE_ATTRS = frozenset({"training", "forward", "children", "modules", "parameters", "buffers", "apply",
                           "to", "eval", "train", "state_dict", "extra_repr", "type", "half", "float", "double"})


def _forward_slots(plan: ClassPlan, slots: list[str | None]) -> None:
    """The numbers of forward's calls that the constructor takes, as forward reads them: each
    parameter they name kept on self (`self.radix`), as timm's SplitAttn keeps its radix, under
    another name where a child or nn.Module has that one."""
    names = [*plan.params, *(name for name, _ in plan.lets)]      # a `let:` local too (Res2Net's width)
    words = {w for s in slots if s for w in _WORD.findall(s)} & set(names)
    taken = Namespace(_MODULE_ATTRS | {c.local.split(".")[0] for c in plan.rep.children} | set(plan.optional))
    attrs = {p: taken.first(p) or taken.fresh(p) for p in names if p in words}
    plan.stored = [(a, p) for p, a in attrs.items()]
    plan.forward_slots = [_WORD.sub(lambda m: f"self.{attrs[m[0]]}" if m[0] in attrs else m[0], s) if s else None
                          for s in slots]


def _spec_rates(plan: ClassPlan, labels: list[str], columns: list[tuple], n_ctor: int,
                column_of: dict[str, tuple], namer: ParamNamer) -> None:
    """A number of forward's calls, the same at every instance, that the spec wrote as a block
    parameter of that value (Inception-ResNet's `weights: ${[1, scale]}`, scale 0.17 at every
    Block35): that parameter, as timm's `Block35(scale=0.17)`, where it varies already (Block8)."""
    scope = plan.rep.scope
    if scope is None or not scope.block:
        return
    exprs = {c.local: list(c.node.exprs.values()) for c in plan.rep.children if c.node is not None}
    declared = {p: c for p, c in namer.columns() if p in scope.declared}
    for k in range(n_ctor, len(labels)):
        col = columns[k]
        if plan.slots[k] is not None or len(set(col)) != 1:
            continue
        texts = next((t for local, t in exprs.items() if labels[k].startswith(local + "_")), [])
        p = next((p for p, c in declared.items() if c == col and any(_names_only(t, p, col[0]) for t in texts)), None)
        if p is not None and (p in column_of or namer.params.usable(p)):
            column_of[p] = col
            plan.slots[k] = namer.params.take(p)


def _names_only(text: str, p: str, value: float) -> bool:
    """The expression is `p`, or a list of `p` and numbers none of which is p's value: where the
    value stands, the spec wrote p (`[1, scale]`, not `[0.17, scale]`)."""
    try:
        e = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    items = e.elts if isinstance(e, (ast.List, ast.Tuple)) else [e]
    return any(isinstance(x, ast.Name) and x.id == p for x in items) and all(
        isinstance(x, ast.Name) and x.id == p or isinstance(x, ast.Constant) and x.value != value for x in items)


def _out_derived(plan: ClassPlan, column_of: dict[str, tuple], written: list[tuple[str, tuple] | None]) -> None:
    """`out_channels` that at every instance (two or more: one could be by chance) is what the
    class has already, the input's width or a multiple of a block parameter (Res2Net's `4 *
    planes`), is that, not a parameter the callers pass again: as the spec wrote it where it
    wrote that number elsewhere in the class (`planes * 4`), else `in_channels` or the multiple.
    (A block's own `out` is named so, not out_channels.)"""
    col = column_of.get("out_channels")
    if col is None or len(plan.instances) < 2:
        return
    scope = plan.rep.scope
    block = set(scope.args if scope is not None else ()) | {"in_channels"}
    named = {p: c for p, c in column_of.items() if p in block and _ints(c, 1)}
    expr = next((w for w, c in filter(None, written) if c == col), None) or next(
        (p for p, c in named.items() if c == col), None) or next(
        (f"{col[0] // c[0]} * {p}" for p, c in named.items() if col[0] % c[0] == 0
         and all(v == col[0] // c[0] * b for v, b in zip(col, c))), None)
    if expr is None:
        return
    del column_of["out_channels"]

    def put(s: str) -> str:
        return expr if s == "out_channels" else _WORD.sub(lambda m: f"({expr})" if m[0] == "out_channels" else m[0], s)
    plan.slots = [s if s is None else put(s) for s in plan.slots]


def _bool_columns(plan: ClassPlan) -> dict[str, tuple]:
    """The block's boolean `let:` values and parameters (lets first), each over the instances."""
    scopes = [sn.scope for sn in plan.instances]
    values: dict[str, tuple] = {}
    if all(s is not None and s.block for s in scopes):
        for name in [*scopes[0].lets, *scopes[0].args]:       # type: ignore[union-attr]
            col = tuple({**s.lets, **s.args}.get(name) for s in scopes)   # type: ignore[union-attr]
            if all(type(v) is bool for v in col):
                values.setdefault(name, col)
    return values


def _presence(plan: ClassPlan, local: str) -> tuple[bool, ...]:
    return tuple(any(c.local == local for c in sn.children) for sn in plan.instances)


def _says(values: dict[str, tuple], there: tuple[bool, ...]) -> list[tuple[str, bool]]:
    """(name, negated) of each boolean column that says where a child is, the plain ones first."""
    return sorted(((p, col != there) for p, col in values.items() if col in (there, tuple(not t for t in there))),
                  key=lambda f: f[1])


def _build_inside(planner: ClassPlanner, plan: ClassPlan) -> None:
    """An optional module that takes no numbers (an activation) and that a boolean of the block
    says where it is, the class builds itself under that flag (`self.relu = nn.ReLU() if relu
    else None`, as timm's `apply_act`), rather than taking it as an argument; one that takes
    numbers, under the test the boolean `let:` is (`_build_tested`)."""
    values = _bool_columns(plan)
    for local in list(plan.optional):
        child = next(c for c in plan.rep.children if c.local == local)
        call = planner.ctor(child) if child.node is not None else None    # a block's class: its caller's numbers
        if call is not None and not planner.numbers_in(call) and _says(values, _presence(plan, local)):
            plan.optional.remove(local)
            plan.built.append(local)
    _build_tested(planner, plan)
    _build_flagged(planner, plan, values)
    _build_when(planner, plan)


def _build_tested(planner: ClassPlanner, plan: ClassPlan) -> None:
    """An optional module child that a boolean `let:` of the block says where it is, where that
    `let:` is a test of the block's int parameters and its input's width (WRN's shortcut under
    `project: ${stride != 1 or input.channels != out}`, `guard.let_test`): the class builds it
    under that test (`ClassPlan.tested`), its numbers the class's own (MISSING where an instance
    lacks it, `members.fill`), not its caller, whose numbers would then decide where it is; the
    class decides that `let:` itself (`ClassPlan.decided`: `lift` leaves out of the block's
    structure what only it reads). The instance the class is written from comes first (the
    numbers' origins are its). A child whose numbers are its block's parameters' values is
    `_build_flagged`'s (EfficientNet's drop path under `residual`: its rate the caller's)."""
    scope = plan.rep.scope
    if scope is None or plan.instances[0] is not plan.rep:
        return
    values = _bool_columns(plan)
    locals_ = {c.local for c in plan.rep.children}
    for local in list(plan.optional):
        child = next(c for c in plan.rep.children if c.local == local)
        there = _presence(plan, local)
        for p, negated in _says(values, there) if child.node is not None and not _from_params(
                planner, plan, child) else ():
            text = scope.let_exprs.get(p)
            if negated or text is None or any(sn.scope is None or sn.scope.let_exprs.get(p) != text
                                              for sn in plan.instances):
                continue
            found = let_test(planner.tree.graph, plan.instances, text, there)
            if found is not None and not set(found[1]) & locals_:
                plan.optional.remove(local)
                plan.tested[local] = child
                plan.guards[local] = ast.unparse(found[0])      # its names the class's: `_tested_params`
                plan.decided[p] = local
                break


def _build_flagged(planner: ClassPlanner, plan: ClassPlan, values: dict[str, tuple]) -> None:
    """An optional op child that takes numbers, each the value of one of the block's parameters
    wherever it is there (EfficientNet's `StochasticDepth(stochastic_depth_prob)`), and that a
    boolean of the block says where it is: the class builds it under that flag, as it builds one
    under a boolean `let:`'s test (`ClassPlan.tested`, its numbers MISSING where an instance lacks
    it: `members.fill`), torchvision's `StochasticDepth(stochastic_depth_prob, "row")` in MBConv;
    the caller passes the parameter, not the module. (A block's child, ResNet's `downsample`,
    stays an argument.)"""
    for local in list(plan.optional):
        child = next(c for c in plan.rep.children if c.local == local)
        says = _says(values, _presence(plan, local))
        if child.node is None or not says or not _from_params(planner, plan, child):
            continue
        plan.optional.remove(local)
        plan.tested[local] = child
        plan.flagged.add(local)
        plan.guards[local] = f"not {says[0][0]}" if says[0][1] else says[0][0]


def _build_when(planner: ClassPlanner, plan: ClassPlan) -> None:
    """An op or seq child of one input that every instance has, under its block's own `when:` of
    the block's int parameters and its input's width (the dense layer's bottleneck, `when:
    ${bn_size > 0}`; DLA's projection, `when: ${input.channels != out}`, `Scope.node_whens`):
    the class builds it under that test (`ClassPlan.tested`, `self.conv1 = nn.Conv2d(...) if
    bn_size > 0 else None`), its input standing for it where it is absent, as the spec's `when:`
    drops it, so that a caller may pass the parameter at a value that drops it; the widths it
    sets are written as choices of the test (`specexpr.Widths`: `bn_size * growth if bn_size > 0
    else in_channels`). Not in a union of structures (`alternatives`), nor where some lack it, nor
    where the block passes a parameter the test reads on to a block whose structure reads it (a
    stage's `blocks`, its run's count)."""
    rep = plan.rep
    whens = rep.scope.node_whens if rep.scope is not None and plan.union is None else {}
    if not whens or any(sn.scope is None or sn.scope.node_whens != whens for sn in plan.instances):
        return
    there = (True,) * len(plan.instances)
    taken = {*plan.optional, *plan.built, *plan.tested, *plan.guards, *plan.absent}
    passed = {n for c in own_children(rep) if c.subscope is not None and c.sub.scope is not None
              for p, text in c.sub.scope.arg_exprs.items() if p in c.sub.scope.structure_reads
              for n in _WORD.findall(text)}
    for c in own_children(rep):
        if (c.local not in whens or c.node is None and not _seq(c) or not c.module or c.local in taken
                or not c.local.isidentifier() or len(c.inputs) != 1):
            continue
        found = let_test(planner.tree.graph, plan.instances, whens[c.local], there)
        if found is None or set(found[1]) & passed:
            continue            # (a parameter it passes on too, a stage's `blocks`: its child's count may be a number)
        plan.tested[c.local] = c
        plan.whens[c.local] = whens[c.local]
        plan.guards[c.local] = ast.unparse(found[0])      # its names the class's: `_tested_params`
        ref = c.inputs[0]
        plan.absent[c.local] = f"<in {rep.inputs.index(ref)}>" if ref in rep.inputs else (
            ref[len(rep.path) + 1:] if rep.path else ref)


def _from_params(planner: ClassPlanner, plan: ClassPlan, child: Child) -> bool:
    """Each number of the child's call is, at every instance that has it, one block parameter's
    value there (of its type: a rate, not a width that equals one by chance)."""
    scopes, values = [], []
    for sn in plan.instances:
        for c in sn.children:
            call = planner.ctor(c) if c.local == child.local else None
            if call is not None and sn.scope is not None and sn.scope.block:
                scopes.append(sn.scope)
                values.append([v for _, v in planner.numbers_in(call)])
    if not values or not values[0] or len(scopes) != sum(_presence(plan, child.local)):
        return False
    return all(any(all(type(s.args.get(p)) is type(v[k]) and s.args.get(p) == v[k] for s, v in zip(scopes, values))
                   for p in scopes[0].args) for k in range(len(values[0])))


def _decided(planner: ClassPlanner) -> dict[str, frozenset[str]]:
    """Per block instance, the `let:` values its class decides itself (`_build_tested`)."""
    return {sn.path: frozenset(p.decided) for sn, p in planner.plan_of.items() if p.decided}


def _tested_params(g: Graph, plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer) -> None:
    """The names the tests of `_build_tested` read, parameters of the class: the one of that name
    where its values are the name's at each instance, else taken (a block parameter with its
    declared default), else another name in the test."""
    renamed: dict[str, str] = {}
    for local in plan.tested:
        test = ast.parse(plan.guards[local], mode="eval").body
        for n in sorted({x.id for x in ast.walk(test) if isinstance(x, ast.Name)}):
            col = tuple((g.shape_of(sn.inputs[0]) or (None,))[0] if n == IN_CHANNELS else    # a flag: `_build_flagged`
                        {**sn.scope.lets, **sn.scope.args}[n] for sn in plan.instances)  # type: ignore[union-attr]
            if n in renamed or column_of.get(n) == col:
                continue
            name = n if n not in column_of and namer.params.usable(n) else namer.params.fresh(n)
            namer.params.take(name)
            column_of[name] = col
            renamed[n] = name
            for default in _declared(plan, n, col) if name == n else ():
                plan.defaults[name] = default
        for x in ast.walk(test):
            if isinstance(x, ast.Name):
                x.id = renamed.get(x.id, x.id)
        plan.guards[local] = ast.unparse(test)


def _flag_params(plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer,
                 tree: ScopeTree) -> dict[str, tuple[str, bool]]:
    """A functional child some instances lack (an add where the block is residual), or a module
    the class builds itself (`_build_inside`), is there where a flag the constructor takes says
    so: the block's boolean `let:` or parameter that is true exactly where it is there
    (MobileNetV2's `residual`), else false (`if not self.first:`), else one named after it
    (`with_add`). Each joins `column_of`: child -> (flag, negated)."""
    values = _bool_columns(plan)
    functional = [local for local in plan.absent if local not in plan.optional and local not in plan.guard_params
                  and local not in plan.tested]
    _decide_flags(tree.graph, plan, functional, column_of)
    out = {local: _flag_for(values, _presence(plan, local), column_of, namer, f"with_{local}", plan.decided.keys())
           for local in functional}
    for local, (n, _) in plan.tails.items():     # where a concatenation takes its last inputs (DLA's `level_root`)
        there = tuple(len(next(c for c in sn.children if c.local == local).inputs) > n for sn in plan.instances)
        out[local] = _flag_for(values, there, column_of, namer, f"with_{local}", plan.decided.keys())
    if plan.ladder_varies:          # where the ladder adds the step before's output (Res2Net's `not first`)
        there = tuple(bool(ladder_adds(tree, sn)) for sn in plan.instances)
        out[LADDER] = _flag_for(values, there, column_of, namer, "with_adds", plan.decided.keys())
    return out


def _decide_flags(g: Graph, plan: ClassPlan, functional: list[str], column_of: dict[str, tuple]) -> None:
    """A functional child some instances lack (MobileNetV2's add) that a boolean `let:` of the block
    says where it is, where that `let:` is a test of names the class takes already, each with the
    values the test reads at every instance (`stride == 1 and in_channels == c`: a parameter, a
    `let:` the class takes as one, its input's width): the class decides that `let:` itself
    (`ClassPlan.decided`, `own_tests`), as torchvision's InvertedResidual computes `use_res_connect
    = stride == 1 and inp == oup`, and takes no flag that a caller could pass against its numbers
    (the class built at another stride would add, or not, where the spec does not)."""
    scope = plan.rep.scope
    if scope is None or plan.instances[0] is not plan.rep:
        return
    values = _bool_columns(plan)
    widths = tuple((g.shape_of(sn.inputs[0]) or (None,))[0] if len(sn.inputs) == 1 else None for sn in plan.instances)
    own = {n: col for n, col in {**column_of, IN_CHANNELS: widths}.items() if n != IN_CHANNELS or
           column_of.get(IN_CHANNELS) == widths}
    lets = frozenset(n for n in scope.lets if own.get(n) == tuple(
        sn.scope.lets.get(n) if sn.scope is not None else None for sn in plan.instances))
    for local in functional:
        there = _presence(plan, local)
        for p, negated in _says(values, there):
            text = scope.let_exprs.get(p)
            if negated or text is None or p in plan.decided or any(
                    sn.scope is None or sn.scope.let_exprs.get(p) != text for sn in plan.instances):
                continue
            found = let_test(g, plan.instances, text, there, lets)
            if found is not None and all(n in own and own[n] == _read(plan, n, widths) for n in found[1]):
                plan.decided[p] = local
                plan.own_tests[local] = ast.unparse(found[0])
                break
    for local in plan.flagged:       # a module built under a flag the class decides: under its test
        p = plan.guards[local].removeprefix("not ")
        if p in plan.decided:
            test = _decided_test(plan, p)
            plan.guards[local] = test if p == plan.guards[local] else negated_test(test)


def _read(plan: ClassPlan, n: str, widths: tuple) -> tuple:
    """The values a test's name reads over the instances: the input's width, a `let:`'s or a parameter's."""
    if n == IN_CHANNELS:
        return widths
    return tuple({**sn.scope.lets, **sn.scope.args}.get(n) if sn.scope is not None else None for sn in plan.instances)


def _member_tests(planner: ClassPlanner, plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer) -> None:
    """The test under which the class builds each member of an nn.Sequential child that some
    instances lack (`ClassPlan.members`): the block's boolean that says where it is (`if pre:`),
    else a comparison of an int parameter of the block (`t != 1`, torchvision's `expand_ratio !=
    1`), which the class then takes, else a flag named after it (`_flag_for`). In a chain a loop
    builds over a repeat's steps (`ClassPlan.steps`), a member outside the steps is tested by the
    comparison first (Xception's pool, `stride != 1`, not `project`, which also holds where only
    the width changes), its steps' members by the loop (`_step_loops`)."""
    values = _bool_columns(plan)
    scope = plan.rep.scope
    declared = scope.declared if scope is not None else {}
    ints = {p: col for p, col in namer.columns() if p in (scope.args if scope is not None else ())
            and (p in column_of or namer.params.usable(p))}
    for local, chain in plan.members.items():
        ids = [set(member_ids_of(sn, local)) for sn in plan.instances]
        for k, (i, _) in enumerate(chain):
            if i[1] == ANY_STEP:
                continue
            there = tuple(i in mine for mine in ids)
            found = None if all(there) or _says(values, there) and local not in plan.steps else member_test(
                there, ints, declared)
            if found is not None and found[0] not in column_of:      # a block parameter it takes for the test
                namer.params.take(found[0])
                column_of[found[0]] = ints[found[0]]
                for default in _declared(plan, found[0], ints[found[0]]):     # (at most one)
                    plan.defaults[found[0]] = default
            elif found is None and not all(there):
                flag, negated = _flag_for(values, there, column_of, namer, f"with_{local}_{k}")
                plan.defaults.setdefault(flag, next(iter(_declared(plan, flag, column_of[flag])), False))
                found = (flag, f"not {flag}" if negated else flag)
            if found is not None:
                plan.member_tests[(local, k)] = found[1]
    for local in plan.steps:
        _step_loops(planner, plan, local, column_of, namer)


class StepLoopError(Exception):
    """A block's chains `Joiner` joined as one repeat's steps that no loop over them builds."""

    def __init__(self, block: str | None, message: str) -> None:
        super().__init__(message)
        self.block = block


def _step_loops(planner: ClassPlanner, plan: ClassPlan, local: str, column_of: dict[str, tuple],
                namer: ParamNamer) -> None:
    """How the class writes a chain that a loop over a repeat's steps builds (`StepPlan`), from
    every instance's chain: the count (`reps`), each step member's test of the index and the
    block's booleans (`i > 0 or start_with_relu`), its numbers written from the index
    (`stepwidths`); the names those read the class takes, each as the block's parameter (or
    `in_channels`, the instance's input width) at every instance."""
    chains = [next(c for c in sn.children if c.local == local) for sn in plan.instances]
    graph, scopes = planner.tree.graph, [sn.scope for sn in plan.instances]
    steps = steps_of(chains, planner.ctor_key)
    count = step_count(plan.instances, steps) if steps is not None else None
    firsts = first_flags(steps, chains, planner.ctor) if steps is not None else None
    widths = None if steps is None else step_widths(plan.instances, chains, steps, planner.ctor,
                                                    lambda ref: (graph.shape_of(ref) or (None,))[0])
    texts = None if widths is None or steps is None else step_numbers(steps, chains, planner.ctor, widths,
                                                                      planner.numbers_in)
    block = scopes[0].block if scopes[0] is not None else None
    if steps is None or count is None or firsts is None or texts is None or any(s is None for s in scopes):
        raise StepLoopError(block, f"{plan.rep.path}.{local}: no loop over its steps writes every instance's")
    index = step_index(steps)
    hidden = {*column_of, IN_CHANNELS, *(n for s in scopes if s is not None for n in {**s.args, **s.lets})}
    loop_index = Namespace(hidden).first("i", "k", "index")       # a loop's index of those that hide nothing
    if loop_index is None:
        raise StepLoopError(block, f"{plan.rep.path}.{local}: the class names every index a loop may take")
    flags = {p: col for p, col in _bool_columns(plan).items() if p in scopes[0].args}  # type: ignore[union-attr]
    tests = [step_test([[s[k] for s in chain] for chain in steps.there], flags, index) for k in range(len(
        steps.template))]
    for k, test in enumerate(tests):
        if test is None:
            raise StepLoopError(block, f"{plan.rep.path}.{local}: no test of the index builds step member {k}")
        if test:
            plan.member_tests[(local, steps.before + k)] = renamed(test, index, loop_index)
    inputs = tuple((graph.shape_of(sn.inputs[0]) or (None,))[0] for sn in plan.instances)
    read = [count, *(t for t in tests if t), *(t for per in texts for t in per if t)]
    for name in sorted(set().union(*map(_names_in, read)) - {index}):
        col = inputs if name == IN_CHANNELS else tuple(s.args.get(name) for s in scopes)   # type: ignore[union-attr]
        if name not in column_of and namer.params.usable(name):
            namer.params.take(name)
            column_of[name] = col
            for default in _declared(plan, name, col):        # (at most one)
                plan.defaults[name] = default
        if column_of.get(name) != col:
            raise StepLoopError(block, f"{plan.rep.path}.{local}: the loop's {name} is not the class's")
    texts = [[renamed(t, index, loop_index) if t else t for t in per] for per in texts]
    plan.step_loops[local] = StepPlan(loop_index, count, texts, firsts)


def _flag_for(values: dict[str, tuple], there: tuple[bool, ...], column_of: dict[str, tuple], namer: ParamNamer,
              fallback: str, decided: AbstractSet[str] = frozenset()) -> tuple[str, bool]:
    """(the flag that is true where `there` is, negated or not), taken as a parameter; a `let:`
    the class decides itself (`_build_tested`) first, which it is not: a caller that passed it
    would decide it too, and another value of the parameters its test reads would build the
    tested child and leave out what the flag says (`_flag_attributes` stores the test)."""
    says = _says(values, there)
    own = next(((p, neg) for p, neg in says if p in decided), None)
    if own is not None:
        return own
    found = next(((p, neg) for p, neg in says if p in column_of or namer.params.usable(p)), None)
    name, negated = found or (namer.params.fresh(fallback), False)
    if name not in column_of:
        namer.params.take(name)
        column_of[name] = values.get(name, there)
    return name, negated


def _flag_attributes(plan: ClassPlan, flags: dict[str, tuple[str, bool]]) -> None:
    """Each flag kept on self for forward's test (`self.residual`), under another name where a
    child, a stored number or nn.Module has that one."""
    taken = Namespace(_MODULE_ATTRS | {c.local.split(".")[0] for c in plan.rep.children} | set(plan.optional)
                      | {a for a, _ in plan.stored})
    attrs: dict[str, str] = {}
    for local, (param, negated) in flags.items():
        if local in plan.built:                 # built under it in __init__: forward tests the module
            test = _decided_test(plan, param) if param in plan.decided else None     # (no parameter)
            plan.flags[local] = (param, negated) if test is None else (negated_test(test) if negated else test, False)
            continue
        if param not in attrs:
            attrs[param] = taken.first(param) or taken.fresh(param)
            plan.stored.append((attrs[param], _decided_test(plan, param) if param in plan.decided else param))
        plan.flags[local] = (attrs[param], negated)


def _decided_test(plan: ClassPlan, p: str) -> str:
    """The test in the class's names of a `let:` the class decides (`ClassPlan.decided`)."""
    local = plan.decided[p]
    return plan.guards[local] if local in plan.guards else plan.own_tests[local]


def _derive_into(plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer, fixed: dict[str, int],
                 candidates: dict[str, tuple], lets: set[str], local: dict[str, tuple]) -> None:
    """Parameters that `derive_all` writes as expressions (of parameters and `local`s) leave
    `column_of` (in place); the parameters those name join it."""
    derived = derive_all(column_of, namer, fixed, lets, local)
    plan.slots = [derived.get(s, s) if s else s for s in plan.slots]
    kept = [(p, col) for p, col in column_of.items() if p not in derived]
    column_of.clear()
    column_of.update(kept)
    column_of.update(_used(derived.values(), candidates, column_of))


def _name_lets(plan: ClassPlan, column_of: dict[str, tuple], namer: ParamNamer) -> set[str]:
    """A parameter named after a node (`conv1_out_channels`) whose values a `let:` of the block
    has at every instance is named after it (`width`), in place: the lets so named."""
    lets = namer.lets()
    renamed: dict[str, str] = {}
    for p, col in column_of.items():
        let = lets.get(col)
        if let and not namer.is_named(col) and let not in column_of and namer.params.usable(let):
            renamed[p] = namer.params.take(let)
    if renamed:
        items = [(renamed.get(p, p), col) for p, col in column_of.items()]
        column_of.clear()
        column_of.update(items)
        plan.slots = [renamed.get(s, s) if s else s for s in plan.slots]
    return set(renamed.values())


def _varying(labels: list[str], columns: list[tuple], namer: ParamNamer, known: dict[str, tuple],
             written: list[str | None]) -> list[str | None]:
    """Per position, the parameter it takes (one per distinct column: a `known` one where it has
    the column), or None where every instance has the same number or an expression is written."""
    names: dict[tuple, str] = {tuple(map(repr, col)): p for p, col in known.items()}
    slots: list[str | None] = []
    for label, col, w in zip(labels, columns, written):
        key = tuple(map(repr, col))        # by repr: 1 and 1.0 are different arguments
        if len(set(key)) == 1 or w:
            slots.append(None)
            continue
        if key not in names:
            names[key] = namer(col, label)
        slots.append(names[key])
    return slots


def _fixed(candidates: dict[str, tuple], block: bool) -> dict[str, int]:
    """The block's int parameters, then (a block's class: not the top's or a group's) its in/out
    channels, that every instance gives the same value (2 and up)."""
    return {p: col[0] for p, col in sorted(candidates.items(), key=lambda pc: pc[0] in SIDES)
            if type(col[0]) is int and col[0] >= 2 and len(set(col)) == 1 and (block or p not in SIDES)}


def _fixed_expr(label: str, v: Any, fixed: dict[str, int]) -> str | None:
    """A number every instance has, as the block parameter(s) that give it: one the position is
    named after (`bn_size=bn_size`), else, channel-sized, one that has it (before the in/out
    channels the position is named after: MobileNet's `c`, not `out_channels` beside it) or the
    product of two."""
    if type(v) is not int:
        return None
    named = [p for p, pv in fixed.items() if pv == v and (label == p or label.endswith("_" + p))]
    factors = {p: pv for p, pv in fixed.items() if p not in SIDES}    # channels: only where named so
    own = [p for p in named if p not in SIDES]
    if own or v < FIXED_MIN:                 # a toy's 4 channels stay literal (tests/test_safety.py)
        return next(iter(own), None)
    return next((p for p, pv in factors.items() if pv == v), None) or next(iter(named), None) or next(
        (f"{p} * {q}" for (p, a), (q, b) in itertools.combinations(factors.items(), 2) if a * b == v), None)


def _used(exprs: Any, candidates: dict[str, tuple], column_of: dict[str, tuple]) -> dict[str, tuple]:
    """The block parameters that expressions name and that are not parameters yet: each joins."""
    words = {w for e in exprs for w in re.findall(r"[A-Za-z_]\w*", e)}
    return {p: candidates[p] for p in candidates if p in words and p not in column_of}


def _num_classes(planner: ClassPlanner, plan: ClassPlan) -> tuple[int, set[str]] | None:
    """The spec's number of classes and the positions of this class that write it: its own
    classifiers' widths, and the `num_classes` of children that take it."""
    g = planner.tree.graph
    n = (g.meta.params or {}).get("num_classes")
    if type(n) is not int:
        return None
    here = plan.rep.path
    own = [c[len(here) + 1:] if here else c for c in classifiers(g, n) if not here or c.startswith(here + ".")]
    labels = {c.replace(".", "_") + side for c in own for side in ("_out_features", "_out_channels")}
    labels |= {lab for lab, _ in planner.positions_of(plan.rep, plan.optional) if lab.endswith("_num_classes")}
    return n, labels


def _defaults(plan: ClassPlan, column_of: dict[str, tuple]) -> dict[str, Any]:
    """The block's default of each parameter named after one of its parameters: the one its
    `params:` writes (`stride: 1`), else one that an instance left unset shows; calls then pass
    only what differs."""
    out = {}
    for p, col in column_of.items():
        declared = _declared(plan, p, col)
        if declared:
            out[p] = declared[0]
            continue
        for sn, v in zip(plan.instances, col):
            if sn.scope is not None and p in sn.scope.defaults and as_tuple(sn.scope.defaults[p]) == v:
                out[p] = v
                break
    return out


def _declared(plan: ClassPlan, p: str, col: tuple) -> tuple[Any, ...]:
    """(the default the block's `params:` writes for `p`,) where the class's instances are of
    one block that writes one and the column is that parameter's value at each, else ()."""
    scopes = [sn.scope for sn in plan.instances if sn.scope is not None and p in sn.scope.declared]
    if len(scopes) < len(col) or len({s.block for s in scopes}) != 1:
        return ()
    if any(as_tuple(s.args.get(p)) != v for s, v in zip(scopes, col)):
        return ()
    return (as_tuple(scopes[0].declared[p]),)


def derive_all(column_of: dict[str, tuple], namer: ParamNamer, fixed: dict[str, int],
               lets: AbstractSet[str] = frozenset(), local: dict[str, tuple] | None = None) -> dict[str, str]:
    """Parameters that no block parameter names (a node's width, `conv1_out_channels`) but that
    are, at every instance, the same multiple or fraction of one that does, the product or a
    sum of two, or one or the other as a boolean block parameter says: each is that expression
    instead (`2 * planes`, `in_channels // 16`, `bw + inc`, `out if grow_first else in_channels`),
    with a factor that a block parameter gives at every instance written as it (`// reduction`)."""
    given = {p: c for p, c in sorted(column_of.items(), key=lambda pc: pc[0] in SIDES)
             if namer.is_named(c) or p in lets}
    more = {p: c for p, c in namer.columns() if p not in given and p not in SIDES}   # parameters to add, last
    named = {p: c for p, c in {**given, **(local or {}), **more}.items() if _ints(c, 0)}
    flags = {p: c for p, c in more.items() if all(type(v) is bool for v in c) and len(set(c)) > 1}
    out = {}
    for p, col in column_of.items():
        expr = None
        if p in given:
            continue
        if _ints(col, 0):
            expr = _derive(col, named) or _choice(col, named, flags) or _floored(col, named)
        elif all(isinstance(v, tuple) and len(v) == len(col[0]) for v in col):
            expr = _entries(col, named)
        if expr:
            out[p] = _NUMBER.sub(lambda m: next((q for q, v in fixed.items() if v == int(m[0]) >= FIXED_MIN
                                                 and q not in SIDES), m[0]), expr)
    return out


def _entries(col: tuple, named: dict[str, tuple]) -> str | None:
    """A tuple (a shape (dim, 1, 1), split sizes (bw, inc)) entry by entry: each the same at every
    instance or derived."""
    parts: list[str] = []
    for entry in zip(*col):
        part = str(entry[0]) if len(set(entry)) == 1 else _derive(entry, named) if _ints(entry, 1) else None
        if part is None:
            return None
        parts.append(part)
    return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"     # some entry differs: the column does


def _ints(col: tuple, least: int) -> bool:
    return all(type(v) is int and v >= least for v in col)


def _derive(col: tuple, named: dict[str, tuple]) -> str | None:
    """`col` as one named column scaled (`2 * p`, `p // 4`), or two combined. Not `a * p // c`:
    where the instances' widths are in one ratio it fits any column of that ratio (DLA's last
    tree's root, `7 * out // 2` where each level doubles), a class true at the spec's widths only."""
    same = next((p for p, pc in named.items() if col == pc), None)
    if same:
        return same
    scales = {p: pc for p, pc in named.items() if 0 not in pc}
    for p, pc in scales.items():
        if all(v % b == 0 for v, b in zip(col, pc)) and len({v // b for v, b in zip(col, pc)}) == 1 and col[0]:
            return f"{col[0] // pc[0]} * {p}"
        if all(v and b % v == 0 for v, b in zip(col, pc)) and len({b // v for v, b in zip(col, pc)}) == 1:
            return f"{p} // {pc[0] // col[0]}"
        for c in range(2, 9):          # `pad: ${k // 2}`
            if all(v == b // c for v, b in zip(col, pc)):
                return f"{p} // {c}"
    for (p, pc), (q, qc) in itertools.combinations(named.items(), 2):
        if all(v == a * b for v, a, b in zip(col, pc, qc)):
            return f"{p} * {q}"
        for a, b in itertools.product(range(1, 5), repeat=2):   # DPN's `bw + 2 * inc`
            if all(v == a * x + b * y for v, x, y in zip(col, pc, qc)):
                return f"{_times(a, p)} + {_times(b, q)}"
    for p, pc in named.items():        # SKNet's `dilation: ${n + 1}`
        if len({v - b for v, b in zip(col, pc)}) == 1 and 1 <= col[0] - pc[0] <= 8:
            return f"{p} + {col[0] - pc[0]}"
    return None


def _floored(col: tuple, named: dict[str, tuple]) -> str | None:
    """`col` as a fraction of one named column with a floor, `max(8, planes // 16)`: what a
    `make_divisible(planes / 16, 8)` gives where the fraction is a multiple of the floor (SKNet's
    attention width). The floor is the column's least value, which two or more instances exceed."""
    least = min(col)
    above = [i for i, v in enumerate(col) if v > least]
    if least < 1 or len(above) < 2 or len(above) == len(col):
        return None
    for p, pc in named.items():
        if any(pc[i] % col[i] for i in above):
            continue
        ratios = {pc[i] // col[i] for i in above}
        if len(ratios) == 1 and (c := ratios.pop()) > 1 and all(b // c <= least for v, b in zip(col, pc) if v == least):
            return f"max({least}, {p} // {c})"
    return None


def _times(a: int, p: str) -> str:
    return p if a == 1 else f"{a} * {p}"


def _choice(col: tuple, named: dict[str, tuple], flags: dict[str, tuple]) -> str | None:
    """`col` as one named column where a boolean block parameter is true and another where it
    is false (Xception's `out if grow_first else in_channels`), or as one derived column plus a
    named one where it is true (DLA's root, which concatenates the tree's input too where it is
    the level root: `2 * out + in_channels if level_root else 2 * out`)."""
    for f, fc in flags.items():
        for (p, pc), (q, qc) in itertools.permutations(named.items(), 2):
            if all(v == (x if t else y) for v, x, y, t in zip(col, pc, qc, fc)):
                return f"{p} if {f} else {q}"
    own = dict(sorted(named.items(), key=lambda pc: pc[0] in SIDES))    # the block's widths before its input's
    for f, fc in flags.items():
        for q, qc in named.items():
            rest = tuple(v - x if t else v for v, x, t in zip(col, qc, fc))
            base = _derive(rest, own) if min(rest) > 0 else None
            if base is not None:
                return f"{base} + {q} if {f} else {base}"
    return None


def _seq(c: Child) -> bool:
    """A child that is a `seq:` of ops (DLA's projection), no block's instance."""
    return c.subscope is not None and (c.sub.scope is None or not c.sub.scope.block)
