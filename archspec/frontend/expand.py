"""expand: blocks instantiated, repeats unrolled, scopes named; the spec becomes the graph IR.

`${...}` is evaluated and `when: false` nodes are dropped (their name then
stands for their input). Expressions may read the incoming tensor
(`input.channels`), so each op node is inferred (archspec/frontend/infer.py) as soon
as its inputs are known: a list is read by archspec/frontend/syntax.py and visited in
dependency order (list order unless `in:` names a later node). Errors are
collected; a failed node gets an unknown shape and is not blamed again.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Diagnostics, FollowsError, Frame, LimitError, Loc, SpecError, did_you_mean, fmt_shape
from ..ir import INPUT, Graph, Init, InitRule, Meta, Node, Output, Scope, shape_of
from ..limits import MAX_INSTANCES, MAX_NODES, MAX_REPEAT, MAX_SCOPE_DEPTH
from ..names import name_problem, shown
from ..ops import REGISTRY
from .expr import ShapeView, evaluate, has_expr, names_read, parse, resolve, whole_expr
from .fanout import Fewest
from .gcpause import gc_paused
from .infer import Inference
from .spec import (
    TYPE_NAMES,
    Block,
    Spec,
    check_block_constraints,
    check_constraints,
    check_unused,
    let_reads,
    nodes_structure_reads,
    structure_reads,
    type_problem,
)
from .syntax import (
    CONTROL,
    Decl,
    Failed,
    LibraryCheck,
    ListScope,
    Pick,
    Reporter,
    Several,
    check_node_name,
    dependencies,
    key_hint,
    lays_nodes,
    local_names,
    member_path,
    order,
    parse_decl,
    parse_list,
)
from .yamlpos import YDict, YList


@dataclass
class _Names:
    """The names used in one scope, and the next index of a numbered sequence."""
    taken: set = field(default_factory=set)
    lists: set = field(default_factory=set)      # the lists of members (`convs` of convs[0])
    counter: int = 0
    suffix: dict = field(default_factory=dict)

    def next(self, base: str, seq: bool) -> str:
        """The name of an anonymous node: the next index in a seq, else base, base_1, ..."""
        if seq:
            local = str(self.counter)
            self.counter += 1
        else:
            n = self.suffix.get(base, 0)   # remembered per base: auto-naming stays linear
            local = base if n == 0 else f"{base}_{n}"
            while local in self.taken:
                n += 1
                local = f"{base}_{n}"
            self.suffix[base] = n + 1
        self.taken.add(local)
        return local


@dataclass
class Ctx:
    prefix: str                  # dotted path of the scope ("" at the top)
    env: dict                    # names visible to expressions
    chain: tuple = ()            # block instantiation frames, outermost first
    seq: bool = False            # children numbered 0, 1, ... (nn.Sequential)
    index: int | None = None     # repeat index, for error frames
    index_name: str | None = None   # that repeat's `index:` (a block made at the step records it)
    count: str | None = None     # and its count, where written as one `${...}` (`depth`)
    depth: int = 0
    names: _Names = field(default_factory=_Names)
    steps: int = 1               # product of the enclosing repeats' counts (checked against MAX_NODES)
    scope_input: str = INPUT     # the ref `in: input` names here: expressions read it as block_input
    step: tuple | None = None    # (the repeat's location, i) of a repeat's step i in this scope's own list

    def full(self, local: str) -> str:
        return f"{self.prefix}.{local}" if self.prefix else local

    def inner(self, prefix: str, **changes: Any) -> Ctx:
        """A nested scope: its own names, one level deeper."""
        if changes.get("index", self.index) is None:
            changes["index_name"] = changes["count"] = None
        changes.setdefault("step", None)            # a repeat's step is of the list it is made in
        return replace(self, prefix=prefix, names=_Names(), depth=self.depth + 1, **changes)


class Expander:
    """A spec's nodes expanded into the graph's nodes and scopes, each inferred as it is made."""

    def __init__(self, spec: Spec, diags: Diagnostics):
        self.spec = spec
        self.diags = diags
        self.nodes: dict[str, Node] = {}
        self.scopes: dict[str, Scope] = {}
        self.globals: dict[str, Any] = {}
        self.input_shape: tuple = ()
        self.inference = Inference()
        self.instances = 0           # every node, block, group and repeat step (MAX_INSTANCES)
        self.fewest = Fewest(spec.blocks)       # a list's nodes projected before they are made (MAX_NODES)
        self.traps: dict[tuple, str] = {}       # (scope, node) -> how its when: read the wrong input

    def run(self) -> Graph:
        spec, raw = self.spec, self.spec.raw
        self.globals = checked_params(spec, self.diags)
        self.input_shape = input_shape(raw, self.diags)
        try:
            last, aliases = self.expand_list(raw["nodes"], Ctx("", self.globals), INPUT, raw.at("nodes"))
        except LimitError as e:
            self.diags.error(e.loc, e.message, hint=e.hint, chain=e.chain)
            self.diags.raise_if_errors()
        return graph_of(spec, self.input_shape, self.nodes, self.scopes, last, aliases, self.diags)

    # -- lists -------------------------------------------------------------

    def expand_list(self, items: Any, ctx: Ctx, in_ref: str, loc: Loc, output: str | None = None,
                    outer: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
        """Expand a list of nodes in one scope; return (output ref, local name -> ref). `outer`:
        the names bound outside it (a block's named inputs)."""
        ctx = replace(ctx, scope_input=in_ref)
        self.fewest.check(items, len(self.nodes), ctx.chain)
        scope = ListScope(ctx.prefix, ctx.seq, self.reporter(ctx), dict(outer or {}))
        if not isinstance(items, YList) or not items:
            scope.report(loc, "expected a non-empty list of nodes")
            return Failed("?"), {}
        decls = parse_list(items, scope)
        if any(lays_nodes(d, ctx.seq) for d in decls):
            decls = laid(decls, ctx, scope, self.env(ctx, []), len(self.nodes))
        local = local_names(decls, scope)
        ctx.names.taken.update(local)
        deps = [dependencies(k, d, local, scope, chooser(ctx.env, d)) for k, d in enumerate(decls)]
        aliases: dict[str, str] = {"input": in_ref, **scope.outer}
        results: list[str] = [Failed("?")] * len(decls)
        for k in order(decls, deps, scope):
            d = decls[k]
            if d is not None:
                at = replace(ctx, env={**ctx.env, **d.env}, index=d.step, index_name=None, count=None) if d.env else ctx
                results[k] = self.expand_decl(d, at, [resolved(dep, in_ref, results, decls, scope) for dep in deps[k]])
                if d.name:
                    aliases.update(named(d.name, results[k]))
        if output is None:
            return results[-1], aliases
        if output not in aliases:
            scope.report(loc, f"block output '{output}' is not a node of the block",
                         hint=did_you_mean(output, aliases))
            return Failed("?"), aliases
        return aliases[output], aliases

    # -- one node ----------------------------------------------------------

    def expand_decl(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        self.instances += 1
        if self.instances > MAX_INSTANCES:      # blocks that fan out into themselves make no nodes
            raise LimitError(f"the spec instantiates more than archspec's limit of {MAX_INSTANCES:,} nodes "
                             "and blocks", loc=d.loc, hint="does a block use itself?", chain=ctx.chain)
        try:
            if "when" in d.body:
                if not when_of(d, ctx, self.env(ctx, ins), ins, self.diags, self.traps):
                    return stands_for(d, ins, {**self.env(ctx, ins), **(d.env or {})})
            elif "else" in d.body:
                raise SpecError("'else:' says what a node dropped by 'when:' stands for; this node has no "
                                "'when:'", loc=d.body.key_at("else"))
            if d.kind in ("ref", "op", "use"):
                target = d.body[d.kind]
                if has_expr(target):
                    target = value_of(target, self.env(ctx, ins), d.body.at(d.kind), d.kind)
                return self._expand_named(d, target, ctx, ins)
            if d.kind == "repeat":
                return self._expand_repeat(d, ctx, ins)
            return self._expand_group(d, ctx, ins)
        except LimitError:
            raise
        except SpecError as e:
            self.diags.error(e.loc or d.loc, e.message, ctx.full(d.name) if d.name else ctx.prefix, e.hint,
                             ctx.chain, follows=isinstance(e, FollowsError))
            return Failed("?")

    def _expand_named(self, d: Decl, target: Any, ctx: Ctx, ins: list[str]) -> str:
        if target_kind(d.kind, target, self.spec.blocks, d.body.at(d.kind)) == "op":
            positional(d, f"op {target}")
            return self._expand_op(d, target, ctx, ins)
        return self._expand_block(d, self.spec.blocks[target], ctx, ins)

    def _expand_op(self, d: Decl, opname: str, ctx: Ctx, ins: list[str]) -> str:
        no_several(d, ins, f"op {opname}")
        op, values, env = REGISTRY[opname], {}, None
        for key, v in d.body.items():
            if key in CONTROL or key in ("op", "ref"):
                continue
            if has_expr(v):
                env = env or self.env(ctx, ins)
                v = value_of(v, env, d.body.at(key), f"attribute '{key}'")
            values[key] = v
        full = self._place(d, ctx, op.node_name)
        xs = [self.shape_of(r) for r in ins]
        report = with_trap_hint(self.reporter(ctx, full), d, ctx.prefix, self.traps)
        found = self.inference.node(op, values, xs, d.body, d.loc, report)
        if len(self.nodes) >= MAX_NODES:
            raise LimitError(f"the graph exceeds archspec's limit of {MAX_NODES:,} nodes", loc=d.loc)
        self.nodes[full] = Node(full, op, found.attrs, list(ins), xs, found.shape, found.tensors, found.macs,
                                d.loc, ctx.chain, d.name is not None or ctx.seq, *_written(d, ctx), step=ctx.step)
        return full if found.shape is not None else Failed(full)

    def _local_name(self, d: Decl, ctx: Ctx, base: str) -> str:
        return d.name if d.name is not None else ctx.names.next(base, ctx.seq)

    def _place(self, d: Decl, ctx: Ctx, base: str) -> str:
        return place(self._local_name(d, ctx, base), ctx, d.loc, self.scopes, self.nodes)

    # -- blocks, groups, repeats -----------------------------------------------

    def _expand_block(self, d: Decl, block: Block, ctx: Ctx, ins: list[str]) -> str:
        declared, counted = declared_io(block, d, self.globals, self.env(ctx, ins[-1:]))
        ins = spread(d, block, declared, ins)
        bound = bind_inputs(d, block, declared, ins)
        first = next(iter(bound.values()))
        check_depth(ctx, d, f" (does '{block.name}' use itself?)")
        call_env = self.env(ctx, [first])
        views = {name: ShapeView(s) for name, ref in bound.items() if (s := self.shape_of(ref)) is not None}
        tensors = {"input": call_env.get("input"), **{k: v for k, v in views.items() if k != INPUT}}
        env = block_env(block, given := bind_args(d, block, call_env), self.globals, tensors, d.loc)
        check_input_shapes(d, block, declared, views, env)
        if "when" in block.raw:
            cond = value_of(block.raw["when"], {**env, **tensors}, block.raw.at("when"),
                            f"'when' of block '{block.name}'")
            if not cond:
                return passed_on(block, bound, first, d)
        check_block_constraints(block, {**env, **tensors}, d.body)
        if ("seq" in block.raw) == ("nodes" in block.raw):
            raise SpecError(f"block '{block.name}' needs exactly one of nodes: or seq:", loc=block.loc)
        kind = "seq" if "seq" in block.raw else "nodes"
        full = self._place(d, ctx, block.name)
        outer = {k: v for k, v in bound.items() if k != INPUT}
        inner = ctx.inner(full, env={**env, **{k: views[k] for k in outer if k in views}}, seq=kind == "seq",
                          chain=ctx.chain + (Frame(block.name, d.loc, ctx.prefix, ctx.index),), index=None)
        several = block_outputs(block, counted.get("outputs"))
        out, aliases = self.expand_list(block.raw[kind], inner, first, block.raw.at(kind),
                                        None if several else block.raw.get("output"), outer)
        refs = several and outputs_of(block, several, aliases, full, "outputs" in counted)
        out = (Several(refs, full) if refs else Failed("?")) if several else out
        self.scopes[full] = Scope(full, "block", d.loc, block.name, output=str(out), repeat=ctx.index, step=ctx.step,
                                  index=ctx.index_name, count=ctx.count, inputs=outer and bound, outputs=refs or {},
                                  **_bound(block, env, d, given, self.globals, call_env))
        return out

    def _expand_group(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        positional(d, f"a {d.kind} group")
        if len(ins) != 1:
            raise SpecError(f"a {d.kind} group takes one input, got {len(ins)}", loc=d.loc,
                            hint="a block takes several: declare them with inputs: [x, skip]")
        check_depth(ctx, d)
        full = self._place(d, ctx, d.kind)
        out, _ = self.expand_list(d.body[d.kind], ctx.inner(full, seq=d.kind == "seq"), ins[0], d.body.at(d.kind))
        self.scopes[full] = Scope(full, d.kind, d.loc, output=str(out), repeat=ctx.index, step=ctx.step,
                                  count=ctx.count)
        return out

    def _expand_repeat(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        body = d.body
        count = repeat_count(body, self.env(ctx, ins), ctx, len(self.nodes))
        check_repeat_form(d, ins)
        target = replace(ctx, steps=ctx.steps * count)
        if d.name is not None:      # a named repeat is a numbered sequence of its own
            check_depth(ctx, d)
            target = ctx.inner(self._place(d, ctx, "repeat"), seq=True, index=None, steps=ctx.steps * count)
            self.scopes[target.prefix] = Scope(target.prefix, "seq", d.loc, repeat=ctx.index)
        if isinstance(body["node"], YList) and (not target.seq or "name" in body or "carry" in body):
            raise SpecError("a repeat with a list of nodes belongs in a seq (its items take the next "
                            "indices) and takes no name: or carry:", loc=body.at("node"))
        index = repeat_index(body, target.env)
        x, extra = ins[0], ins[1:]          # the first input is carried from step to step, the rest fixed
        for i in range(count):
            step = _step(target, body, index, i)
            before = len(self.nodes)
            y = self._repeat_step(d, step, x, i, extra)
            if y is None:            # a step's name was refused (reported): the repeat failed
                return Failed("?")
            x = y
            if isinstance(y, Several) and len(y.refs) == 1 + len(extra):
                extra = []          # a step with as many outputs as inputs: the next takes them all
            if i == 0:
                check_projection(len(self.nodes), before, count, body, ctx)
        if d.name is not None:
            self.scopes[target.prefix].output = str(x)
        return x

    def _repeat_step(self, d: Decl, step: Ctx, x: str, i: int, extra: list[str]) -> str | None:
        body = d.body
        if isinstance(body["node"], YList):     # a list body splices into the numbered sequence
            return self.expand_list(body["node"], step, x, body.at("node"))[0]
        item = parse_decl(body["node"], body.at("node"))
        if item.name is not None:
            raise SpecError("the repeated node takes its name from the repeat's 'name:'",
                            loc=item.loc, hint="e.g. {repeat: 4, name: \"denselayer${i + 1}\", node: {...}}")
        name = str(value_of(body["name"], step.env, body.at("name"), "'name'")) if "name" in body else \
            None if step.seq or names_steps(body["node"]) else str(i)
        if name is not None:
            scope = ListScope(step.prefix, False, self.reporter(step))
            if not check_node_name(name, body.at("name"), scope):
                return None
            if name in step.names.taken:
                raise SpecError(f"duplicate name '{name}' from repeat", loc=body.at("name") if "name" in body
                                else d.loc, hint="a name template reads every enclosing index: conv${i + 1}_${j + 1}")
            step.names.taken.add(name)
            item.name = name
        if extra and "in" not in item.body:      # the step's inputs are the repeat's: errors point there
            item.body = YDict(item.body.loc, {**item.body, "in": body["in"]}, {**item.body.locs, "in": body.at("in")},
                              {**item.body.key_locs, "in": body.key_at("in")})
        y = self.expand_decl(item, step, [x, *extra])
        return self._concat(x, y, step, d) if body.get("carry") == "concat" else y

    def _concat(self, a: str, b: str, ctx: Ctx, d: Decl) -> str:
        carried = Decl(None, "op", YDict(d.loc, {"op": "concat"}), d.loc)
        return self._expand_op(carried, "concat", replace(ctx, seq=False), [a, b])

    # -- helpers -----------------------------------------------------------

    def shape_of(self, ref: str) -> tuple | None:
        return None if isinstance(ref, Failed) else shape_of(ref, self.input_shape, self.nodes)

    def env(self, ctx: Ctx, ins: list[str]) -> dict:
        """What expressions see at a node: the scope's names, `input` (the node's incoming tensor),
        `inputs` (all of them) and `block_input` (the enclosing block's, which `in: input` names)."""
        shapes = [self.shape_of(r) for r in ins]
        env = dict(ctx.env)
        scope_shape = self.shape_of(ctx.scope_input)
        env["block_input"] = UNKNOWN if scope_shape is None else ShapeView(scope_shape)
        if shapes:
            env["input"] = UNKNOWN if shapes[0] is None else ShapeView(shapes[0])
        env["inputs"] = [ShapeView(s) for s in shapes if s is not None]
        return env

    def reporter(self, ctx: Ctx, node_path: str = "") -> Reporter:
        """Reports in a scope (with its instantiation chain), at a node's path where given."""
        def report(loc: Loc | None, message: str, path: str = "", hint: str | None = None) -> None:
            self.diags.error(loc, message, path=path or node_path, hint=hint, chain=ctx.chain)
        return report


# -- the steps, as functions ------------------------------------------------------------------

def checked_params(spec: Spec, diags: Diagnostics) -> dict[str, Any]:
    """The spec's params and lets, once they evaluate and meet the spec's constraints."""
    found = global_params(spec, diags)
    diags.raise_if_errors()      # every later expression may read the params
    check_constraints(spec, found, diags)
    diags.raise_if_errors()      # a network its paper rules out is not built
    return found


class UnknownShape(ShapeView):
    """A tensor whose shape an earlier error left unknown: an expression that reads it fails as
    that error's echo (FollowsError), reported after it and marked so."""
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(())

    def get(self, field: str):
        raise FollowsError(f"the incoming tensor's {field} is unknown after an earlier error")


UNKNOWN = UnknownShape()


def place(name: str, ctx: Ctx, loc: Loc, scopes: dict[str, Scope], nodes: dict[str, Node]) -> str:
    """A node's or scope's dotted name; a list member's (`convs[0]`: `convs.0`) also makes its
    lists scopes of their own, of kind "list" (nn.ModuleList)."""
    path = member_path(name)
    if path is None:
        if name in ctx.names.lists:
            raise SpecError(f"'{name}' names a list of members ({name}[0], ...) in this scope", loc=loc,
                            hint="rename the node or the list")
        return ctx.full(name)
    parts = path.split(".")
    if parts[0] in ctx.names.taken:
        raise SpecError(f"'{name}' is a member of list '{parts[0]}', but '{parts[0]}' names a node of this scope",
                        loc=loc, hint="rename the node or the list")
    ctx.names.lists.add(parts[0])
    for k in range(1, len(parts)):
        lst = ctx.full(".".join(parts[:k]))
        if lst in nodes or lst in scopes and scopes[lst].kind != "list" or ctx.full(path) in scopes:
            raise SpecError(f"'{name}': '{'.'.join(parts[:k])}' is both a member and a list", loc=loc)
        scopes.setdefault(lst, Scope(lst, "list", loc, repeat=ctx.index))
    return ctx.full(path)


def value_of(value: Any, env: dict, loc: Loc, what: str) -> Any:
    """`value` with its `${...}` evaluated; an error names what was being evaluated, at `loc`."""
    try:
        return resolve(value, env)
    except SpecError as e:
        if "input" not in env and "'input'" in e.message:
            e.hint = "the incoming shape is unknown here (an earlier error)"
        kind = FollowsError if isinstance(e, FollowsError) else SpecError
        raise kind(f"in {what}: {e.message}", hint=e.hint, loc=loc) from None


def global_params(spec: Spec, diags: Diagnostics) -> dict[str, Any]:
    """The spec's `params:`, each evaluated in order (a param may read the ones before it), then
    its `let:`, computed from them in order as well."""
    values: dict[str, Any] = {}
    let = spec.raw.get("let") or YDict(spec.raw.loc)
    for k, v, loc, what in [*((k, v, spec.param_locs.get(k, spec.raw.loc), "param") for k, v in spec.params.items()),
                            *((k, v, let.at(k), "let") for k, v in let.items())]:
        try:
            values[k] = value_of(v, values, loc, f"{what} '{k}'")
        except SpecError as e:
            diags.error(e.loc, e.message, hint=e.hint)
    return values


def graph_of(spec: Spec, input_shape: tuple, nodes: dict[str, Node], scopes: dict[str, Scope], last: str,
             aliases: dict[str, str], diags: Diagnostics) -> Graph:
    """The expanded nodes as the graph: its outputs resolved, unused nodes warned of, the spec's
    reference and table in its meta (a table is checked against the graph)."""
    raw = spec.raw
    outs = outputs(raw, last, aliases, nodes, diags)
    warn_unused(nodes, outs, diags)
    diags.raise_if_errors()
    check_unused(spec, diags)
    diags.raise_if_errors()
    doc = spec.doc
    meta = Meta(doc.title, doc.paper, spec.variant_of, spec.path,
                plain(doc.reference.model_dump(exclude_none=True)) if doc.reference else None,
                raw.at("reference"), spec.overridden, list(spec.sets), plain(spec.values), plain(spec.params),
                tuple(sorted(structure_reads(raw))), tuple(sorted(nodes_structure_reads(raw))), let_reads(raw))
    init = None if doc.init is None else Init({op: InitRule(**r.model_dump()) for op, r in doc.init.rules.items()},
                                              tuple(doc.init.zero))
    return Graph(spec.name, input_shape, nodes, scopes, outs, meta, init=init,
                 init_loc=raw.at("init") if doc.init else None, warnings=spec.warnings + diags.warnings,
                 table=doc.table, table_raw=raw.get("table"))


def plain(value: Any) -> Any:
    """A value read from YAML as plain Python: dicts and lists, not the positioned YDict and YList."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def target_kind(kind: str, target: Any, blocks: dict[str, Block], loc: Loc) -> str:
    """Whether a node's `op:`, `use:` or `ref:` names an op or a block ("op" or "block"); a
    target of the wrong kind or neither is refused, with the closest names."""
    if not isinstance(target, str):
        raise SpecError(f"{kind} must name an op or block, got {shown(target)}", loc=loc)
    is_op, is_block = target in REGISTRY, target in blocks
    if kind == "op" and is_block:
        raise SpecError(f"'{target}' is a block, not an op", loc=loc, hint=f"write use: {target}")
    if kind == "use" and is_op:
        raise SpecError(f"'{target}' is an op, not a block", loc=loc, hint=f"write op: {target}")
    if is_op or is_block:
        return "op" if is_op else "block"
    what = {"op": "op", "use": "block"}.get(kind, "op or block")
    choices = list(REGISTRY) if kind == "op" else list(blocks) if kind == "use" else [*REGISTRY, *blocks]
    raise SpecError(f"unknown {what} {shown(target)}", loc=loc,
                    hint=did_you_mean(target, choices) or f"known: {', '.join(sorted(choices))}; "
                    "your own ops load with --ops FILE.py")


def input_shape(raw: YDict, diags: Diagnostics) -> tuple:
    shape = raw.get("input")
    if not (isinstance(shape, list) and len(shape) in (1, 3)
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        diags.error(raw.at("input"), f"input must be [C, H, W] or [N] of positive ints, got {shown(shape)}")
        return (1, 1, 1)
    return tuple(shape)


def bind_args(d: Decl, block: Block, env: dict) -> dict:
    """The arguments an instance gives (positional `args:` and by name), each type-checked."""
    params, given = block.params, {}
    positional = d.body.get("args")
    if has_expr(positional):        # a table row: args: ${rows[i]}
        positional = value_of(positional, env, d.body.at("args"), "'args'")
    if positional is not None:
        if not isinstance(positional, list) or len(positional) > len(params):
            raise SpecError(f"block '{block.name}' takes {len(params)} positional args "
                            f"({', '.join(params)}), got {shown(positional)}", loc=d.body.at("args"))
        for j, (p, v) in enumerate(zip(params, positional)):
            loc = positional.at(j) if isinstance(positional, YList) else d.body.at("args")
            given[p] = check_type(block, p, value_of(v, env, loc, f"arg '{p}'"), loc)
    for key, v in d.body.items():
        if key in CONTROL or key in ("use", "ref", "args"):
            continue
        if key not in params:
            raise SpecError(f"block '{block.name}' has no parameter {shown(key)}", loc=d.body.key_at(key),
                            hint=key_hint(key, [*params, "args"], f"its parameters: {', '.join(params) or 'none'}"))
        if key in given:
            raise SpecError(f"parameter '{key}' given twice (in args and by name)", loc=d.body.key_at(key))
        loc = d.body.at(key)
        given[key] = check_type(block, key, value_of(v, env, loc, f"parameter '{key}'"), loc)
    return given


def _lets(block: Block, env: dict) -> dict:
    """A block instance's `let:` values that the IR keeps: plain ones (not a tensor's view)."""
    return {k: env[k] for k in block.raw.get("let") or () if _plain(env[k])}


def _exprs(body: YDict) -> dict[str, str]:
    """The attributes of a node written as one whole `${...}`: name -> its expression."""
    return {k: t for k, v in body.items() if k not in CONTROL and (t := whole_expr(v)) is not None}


def _written(d: Decl, ctx: Ctx) -> tuple[dict[str, str], dict[str, int]]:
    """A node's attributes written as one whole `${...}` (`_exprs`), and the repeat indices those
    read with their values at the node (Res2Net's `start: ${i * width}`, `i` 1 at `splits[1]`):
    a list member's expression is written in its class with the index's value in its place."""
    exprs = _exprs(d.body)
    indices = set(d.env or ()) | ({ctx.index_name} if ctx.index_name else set())
    read = set().union(*(names_read(d.body[k]) for k in exprs))
    return exprs, {n: ctx.env[n] for n in sorted(read & indices) if type(ctx.env.get(n)) is int}


def positional_exprs(block: Block, written: Any, call_env: dict) -> dict[str, str]:
    """The positional `args:` an instance writes as expressions, by the parameter each binds: a
    list's items written as one whole `${...}` each, or one whole `${...}` whose value is a list
    written out (`[levels - 1, out, stride]`), through the choices its tests make at the call (DLA's
    tree: `${[out, stride] if levels == 1 else [levels - 1, out, stride]}`, `out` and `stride` at
    levels 1), each item not a constant. A table's row, `${rows[i]}`, writes none."""
    if isinstance(written, list):
        return {p: t for p, v in zip(block.params, written) if (t := whole_expr(v)) is not None}
    text = whole_expr(written)
    node = parse(text) if text is not None else None
    while isinstance(node, ast.IfExp):      # the branch the test takes here (bind_args evaluated it)
        node = node.body if evaluate(ast.unparse(node.test), call_env) else node.orelse
    if not isinstance(node, (ast.List, ast.Tuple)):
        return {}
    return {p: ast.unparse(e) for p, e in zip(block.params, node.elts) if not isinstance(e, ast.Constant)}


def _bound(block: Block, env: dict, d: Decl, given: dict, globals_: dict, call_env: dict) -> dict[str, Any]:
    """What the IR keeps of a block instance's names: its parameters (and those left at their
    defaults), its plain `let:` values, the defaults the block's `params:` writes as plain values
    (`stride: 1`; not a type name, `planes: int`, nor an expression, `block: ${block}`), which a
    generated class's signature takes whether or not an instance leaves them unset, and, so that
    code can be written from the spec's expressions, the `let:` values and arguments given as one
    whole `${...}` with the values of the names other than the spec's they read where it is
    called (the caller's parameters and `let:`, the repeats' indices), and the spec's parameters."""
    args, lets, raw = {p: env[p] for p in block.params}, _lets(block, env), block.raw.get("let") or {}
    arg_exprs = {k: t for k in given if (t := whole_expr(d.body.get(k))) is not None}
    arg_exprs |= positional_exprs(block, d.body.get("args"), call_env)
    read = set().union(*(names_read("${" + t + "}") for t in arg_exprs.values()))
    declared = {p: plain(v) for p, v in block.params.items()
                if not (isinstance(v, str) and v in TYPE_NAMES) and not has_expr(v)}
    return {"args": args, "defaults": {p: args[p] for p in args if p not in given}, "lets": lets,
            "declared": declared,
            "let_exprs": {k: t for k in lets if (t := whole_expr(raw[k])) is not None},
            "arg_exprs": arg_exprs, "arg_env": {n: call_env[n] for n in sorted(read) if n in call_env
                                                and n not in globals_ and _plain(call_env[n])},
            "spec_params": globals_, "structure_reads": block.structure_reads, "let_reads": block.let_reads,
            "when": whole_expr(block.raw.get("when")), "guard_reads": block.guard_reads,
            "reads_apart": block.reads_apart, "node_whens": block.node_whens}


def _plain(v: Any) -> bool:
    """A number, flag or text, or a list or tuple of them: a value the IR keeps (not a tensor's view)."""
    if isinstance(v, (list, tuple)):
        return all(map(_plain, v))
    return isinstance(v, (bool, int, float, str))


def block_env(block: Block, given: dict, globals_: dict, tensors: dict, loc: Loc) -> dict:
    """The names a block instance's body sees: globals, every parameter (given or default), `let:`.
    Defaults and `let:` also read `tensors`: `input` and the block's named inputs."""
    env = dict(globals_)
    for p, decl in block.params.items():
        if p in given:
            env[p] = given[p]
        elif isinstance(decl, str) and decl in TYPE_NAMES:
            raise SpecError(f"missing parameter '{p}' of block '{block.name}'", loc=loc,
                            hint=f"block '{block.name}' ({block.loc}) takes: " +
                            ", ".join(f"{k}: {v}" for k, v in block.params.items()))
        else:
            env[p] = value_of(decl, {**globals_, **tensors}, block.raw["params"].at(p), f"default of '{p}'")
    let = block.raw.get("let") or YDict(block.loc)
    for k, v in let.items():
        env[k] = value_of(v, {**env, **tensors}, let.at(k), f"let '{k}'")
    return env


_EXPECT = ("channels", "height", "width", "shape")


def declared_io(block: Block, d: Decl, globals_: dict, call_env: dict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A block instance's inputs (`block_inputs`), and the names its `inputs:` and `outputs:`
    expressions give there (`computed_names`)."""
    counted = computed_names(block, d, globals_, call_env)
    return block_inputs(block, counted.get("inputs")), counted


def computed_names(block: Block, d: Decl, globals_: dict, call_env: dict) -> dict[str, list[str]]:
    """A block's `inputs:` and `outputs:` written as one expression over its parameters, each as the
    names it gives at this instance (`inputs: "${[f'x{j}' for j in range(len(widths))]}"`: one input
    per width). Such a block's count of inputs and outputs follows its arguments."""
    keys = [k for k in ("inputs", "outputs") if isinstance(block.raw.get(k), str) and has_expr(block.raw[k])]
    if not keys:
        return {}
    env = block_env(block, bind_args(d, block, call_env), globals_, {"input": call_env.get("input")}, d.loc)
    got = {}
    for key in keys:
        names = value_of(block.raw[key], env, block.raw.at(key), f"'{key}' of block '{block.name}'")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SpecError(f"block '{block.name}': {key}: expected a list of names, got {shown(names)}",
                            loc=block.raw.at(key), hint=f"e.g. {key}: \"${{[f'x{{j}}' for j in range(n)]}}\"")
        for name in names if key == "inputs" else ():
            if (problem := name_problem(name)) is not None:
                raise SpecError(f"block '{block.name}' input name {shown(name)} is not allowed: {problem}",
                                loc=block.raw.at(key), hint="e.g. x0, x1")
        got[key] = names
    return got


def block_inputs(block: Block, computed: list[str] | None = None) -> dict[str, Any]:
    """A block's inputs in order, name -> what its shape must be (a mapping of `_EXPECT` keys, or
    None: any). Without `inputs:` a block takes one, `input`; `computed`: the names its `inputs:`
    expression gives at this instance (`computed_names`)."""
    raw = block.raw.get("inputs") if computed is None else computed
    if raw is None:
        return {INPUT: None}
    loc = block.raw.at("inputs")
    names = dict.fromkeys(raw) if isinstance(raw, list) else dict(raw)
    if not names or len(names) != len(raw):
        raise SpecError(f"block '{block.name}': inputs: names its inputs once each, got {shown(raw)}", loc=loc)
    taken = set(block.params) | set(block.raw.get("let") or ())
    for name, want in names.items():
        at = raw.at(name) if isinstance(raw, YDict) else loc
        if name in taken:
            raise SpecError(f"block '{block.name}' input '{name}' has the name of its parameter or let value",
                            loc=at, hint="rename the input")
        if want is not None and not (isinstance(want, dict) and set(want) <= set(_EXPECT)):
            raise SpecError(f"block '{block.name}' input '{name}': expected a mapping of "
                            f"{', '.join(_EXPECT)}, got {shown(want)}", loc=at,
                            hint=f"e.g. {name}: {{channels: \"${{planes}}\"}}")
    return names


def bind_inputs(d: Decl, block: Block, declared: dict[str, Any], ins: list[str]) -> dict[str, str]:
    """The refs an instance binds to the block's inputs: `in: [a, b]` in declaration order, or
    `in: {skip: b}` by name (the first input, unnamed, is the previous node: the last of `ins`)."""
    given = d.body.get("in")
    names = list(declared)
    if isinstance(given, YDict):
        for key in given:
            if key not in declared:
                raise SpecError(f"block '{block.name}' has no input {shown(key)}", loc=given.key_at(key),
                                hint=did_you_mean(str(key), names) or f"its inputs: {', '.join(names)}")
        bound = dict(zip(given, ins))
        bound.setdefault(names[0], ins[-1])
        missing = [n for n in names if n not in bound]
        if missing:
            raise SpecError(f"block '{block.name}' input '{missing[0]}' is not bound", loc=d.body.at("in"),
                            hint=f"its inputs: {', '.join(names)}; only the first may be left to the previous node")
        return {n: bound[n] for n in names}
    if len(ins) != len(names):
        what = f"{len(names)} inputs ({', '.join(names)})" if len(names) > 1 else "one input"
        raise SpecError(f"block '{block.name}' takes {what}, got {len(ins)}",
                        loc=d.body.at("in") if "in" in d.body else d.loc,
                        hint=f"e.g. in: [{', '.join(f'a{k}' for k in range(len(names)))}]" if len(names) > 1 else
                        "declare its inputs: inputs: [x, skip]")
    return dict(zip(names, ins))


def check_projection(made: int, before: int, count: int, body: YDict, ctx: Ctx) -> None:
    """After a repeat's first step: the nodes all its steps would make, before they are made."""
    total = made + (made - before) * (count - 1)
    if total > MAX_NODES:
        raise LimitError(f"repeat {count:,} of {made - before:,} nodes each would exceed "
                         f"archspec's limit of {MAX_NODES:,} nodes", loc=body.at("repeat"), chain=ctx.chain)


def resolved(dep: Any, in_ref: str, results: list[str], decls: list, scope: ListScope) -> str:
    """The ref a dependency stands for: the scope's input, an item's result, one of its outputs."""
    if dep is None:
        return in_ref
    if isinstance(dep, int):
        return results[dep]
    return picked(dep, results, decls, scope) if isinstance(dep, Pick) else dep


def named(name: str, got: str) -> dict[str, str]:
    """The names an item's result takes in its list: its own, and stage2.y1 for each of several outputs."""
    return {name: got, **({f"{name}.{o}": r for o, r in got.refs.items()} if isinstance(got, Several) else {})}


def no_several(d: Decl, ins: list[str], what: str) -> None:
    for r in ins:
        if isinstance(r, Several):
            raise_several(d, r, what)


def passed_on(block: Block, bound: dict[str, str], first: str, d: Decl) -> str:
    """What a dropped instance stands for: its first input, or, for a block with as many outputs
    as inputs, each input as the output of its rank (an HRNet stage left out passes every resolution)."""
    several = block_outputs(block)
    if not several:
        return first
    if len(several) != len(bound):
        raise SpecError(f"block '{block.name}' dropped by its when: has {len(bound)} "
                        f"input{'s' * (len(bound) > 1)} to pass on as its {len(several)} outputs", loc=d.loc,
                        hint="a block of several outputs that when: can drop takes as many inputs")
    return Several(dict(zip(several, bound.values())), d.name or block.name)


def picked(dep: Pick, results: list[str], decls: list, scope: ListScope) -> str:
    """The ref `in: stage2.y1` names: output y1 (or the output at index 1: `stage2.1`) of the item
    stage2, a block with several outputs."""
    got, name = results[dep.k], decls[dep.k].name
    if isinstance(got, Failed):
        return got
    if not isinstance(got, Several):
        scope.report(dep.loc, f"'{name}' has one output: '{name}.{dep.name}' names none",
                     scope.prefix, hint=f"write in: {name}; a block declares several with outputs: [y0, y1]")
        return Failed("?")
    names = list(got.refs)
    if dep.name.isdigit() and int(dep.name) < len(names):
        return got.refs[names[int(dep.name)]]
    if dep.name not in got.refs:
        scope.report(dep.loc, f"'{name}' has no output {shown(dep.name)}", scope.prefix,
                     hint=did_you_mean(dep.name, names) or f"its outputs: {', '.join(names)} "
                     f"(or by index, {name}.0 .. {name}.{len(names) - 1})")
        return Failed("?")
    return got.refs[dep.name]


def spread(d: Decl, block: Block, declared: dict[str, Any], ins: list[str]) -> list[str]:
    """A block with several inputs fed one block with as many outputs takes them all, in order
    (HRNet's stages, one tensor per resolution); a block with one input is fed one of them by name."""
    if len(ins) == 1 and isinstance(ins[0], Several) and len(declared) == len(ins[0].refs):
        return list(ins[0].refs.values())
    no_several(d, ins, f"block '{block.name}' ({len(declared)} input{'s' if len(declared) > 1 else ''})")
    return ins


def raise_several(d: Decl, r: Several, what: str) -> None:
    names = list(r.refs)
    raise SpecError(f"{what} is given all {len(names)} outputs of '{r.path}' ({', '.join(names)})",
                    loc=d.body.at("in") if "in" in d.body else d.loc,
                    hint=f"name one: in: {local_of(r.path)}.{names[0]}")


def local_of(path: str) -> str:
    """How a list names the item at `path`: its last part, or a numbered step's repeat."""
    parts = path.split(".")
    while len(parts) > 1 and parts[-1].isdigit():
        parts.pop()
    return parts[-1]


def block_outputs(block: Block, computed: list[str] | None = None) -> list[str]:
    """The names in a block's `outputs: [y0, y1]` (empty: it has one output, its last node or `output:`);
    `computed`: those its `outputs:` expression gives at this instance (`computed_names`)."""
    raw = block.raw.get("outputs") if computed is None else computed
    if raw is None:
        return []
    loc = block.raw.at("outputs")
    if "output" in block.raw:
        raise SpecError(f"block '{block.name}' has both output: and outputs:", loc=block.raw.key_at("output"),
                        hint="outputs: [y0, y1] lists several; output: names one")
    if not isinstance(raw, list) or len(raw) < 2 or len(set(map(str, raw))) != len(raw) \
            or not all(isinstance(n, str) for n in raw):
        raise SpecError(f"block '{block.name}': outputs: lists two or more distinct node names, got {shown(raw)}",
                        loc=loc, hint="a block with one output names it with output:")
    return list(raw)


def outputs_of(block: Block, names: list[str], aliases: dict[str, str], full: str,
               computed: bool = False) -> dict[str, str]:
    """Each declared output's ref: a node of the block, each a different one ({} where one failed);
    `computed`: the names are what its `outputs:` expression gave."""
    raw = block.raw["outputs"]
    refs: dict[str, str] = {}
    for j, name in enumerate(names):
        loc = raw.at(j) if isinstance(raw, YList) and not computed else block.raw.at("outputs")
        if name not in aliases or name == INPUT:
            raise SpecError(f"block '{block.name}' output {shown(name)} is not a node of the block", loc=loc,
                            hint=did_you_mean(name, [a for a in aliases if a != INPUT]))
        ref = aliases[name]
        if isinstance(ref, Failed):
            return {}
        if not ref.startswith(full + ".") or ref in refs.values():
            raise SpecError(f"block '{block.name}' output {shown(name)} is "
                            f"{'another output' if ref in refs.values() else 'not made in the block'}", loc=loc,
                            hint="each output is a different node of the block")
        refs[name] = ref
    return refs


def check_input_shapes(d: Decl, block: Block, declared: dict[str, Any], views: dict, env: dict) -> None:
    """Each input's shape against what the block declares, named in the error at the use."""
    given = d.body.get("in")
    if len(views) < len(declared):         # an unknown shape: an earlier error said why
        return
    for k, (name, want) in enumerate(declared.items()):
        if not want:
            continue
        loc = (given.at(name) if isinstance(given, YDict) and name in given else
               given.at(k) if isinstance(given, YList) and k < len(given) else d.loc)
        for key, v in want.items():
            expected = value_of(v, {**env, **views}, want.at(key) if isinstance(want, YDict) else loc,
                                f"input '{name}' {key}")
            got = views[name].get(key)
            if expected != got:
                what = f"{expected} channels, got {got}" if key == "channels" else f"{key} {expected}, got {got}"
                raise SpecError(f"block '{block.name}' input '{name}': expected {what}", loc=loc,
                                hint=f"the block's inputs are declared at {block.raw.at('inputs')}")


def positional(d: Decl, what: str) -> None:
    """`in:` by name binds a block's inputs; anything else takes a list."""
    if isinstance(d.body.get("in"), YDict):
        raise SpecError(f"in: by name binds a block's inputs; {what} takes a list of inputs", loc=d.body.at("in"),
                        hint="in: [a, b]")


def check_type(block: Block, p: str, value: Any, loc: Loc) -> Any:
    problem = type_problem(block.params[p], value)
    if problem:
        raise SpecError(f"parameter '{p}' of block '{block.name}' {problem}", loc=loc)
    return value


def _step(target: Ctx, body: YDict, index: str, i: int) -> Ctx:
    """Where a repeat's step i is made: its index's name and value, and the repeat's count as written."""
    return replace(target, env={**target.env, index: i}, index=i, index_name=index, count=whole_expr(body["repeat"]),
                   step=(body.loc, i))


def repeat_count(body: YDict, env: dict, ctx: Ctx, nodes: int) -> int:
    """A repeat's count, bounded before any step is made (nested repeats multiply)."""
    count = value_of(body["repeat"], env, body.at("repeat"), "'repeat'")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SpecError(f"repeat count must be a non-negative int, got {shown(count)}", loc=body.at("repeat"))
    steps = ctx.steps * count
    if count > MAX_REPEAT:
        raise LimitError(f"repeat {count:,} exceeds archspec's limit of {MAX_REPEAT:,} steps",
                         loc=body.at("repeat"), chain=ctx.chain)
    if nodes + steps > MAX_NODES:
        raise LimitError(f"repeat {count:,} would exceed archspec's limit of {MAX_NODES:,} nodes"
                         + (f" ({steps:,} steps with the enclosing repeats)" if steps > count else ""),
                         loc=body.at("repeat"), chain=ctx.chain)
    return count


def repeat_index(body: YDict, env: dict) -> str:
    """The name of a repeat's step index (`index:`, default i); it may not hide a name in scope
    (an enclosing repeat's index or a parameter), so an inner loop can always reach the outer one."""
    index = body.get("index", "i")
    problem = name_problem(index)
    if problem:
        raise SpecError(f"repeat index {shown(index)}: {problem}", loc=body.at("index"))
    if index in env:
        where = "an enclosing repeat's index or a parameter"
        raise SpecError(f"this repeat's index '{index}' would hide '{index}', {where}",
                        loc=body.at("index") if "index" in body else body.at("repeat"),
                        hint="name this repeat's index, e.g. index: j, and read the outer one as i")
    return index


def when_of(d: Decl, ctx: Ctx, env: dict, ins: list[str], diags: Diagnostics, traps: dict) -> bool:
    """A node's `when:`. Where it reads `input` (the node's own input) and would be the other way
    for the block's incoming tensor (block_input), a warning says so (users read `input` as the
    block's); the errors of the nodes that read this one repeat it in their hint (with_trap_hint)."""
    loc = d.body.at("when")
    cond = value_of(d.body["when"], env, loc, "'when'")
    if not isinstance(cond, bool):
        raise SpecError(f"'when' must be true or false, got {shown(cond)}", loc=loc)
    text, block = d.body["when"], env.get("block_input")
    if not (isinstance(text, str) and "input" in names_read(text) and ins[0] != ctx.scope_input
            and "input" in env and block is not None and not isinstance(env["input"], UnknownShape)
            and not isinstance(block, UnknownShape)):
        return cond
    try:
        other = resolve(text, {**env, "input": block})
    except SpecError:
        return cond
    if other != cond:
        who = d.name or "this node"
        trap = (f"when: {text} is {str(cond).lower()} for {who}'s own input {fmt_shape(env['input'].shape)}; "
                f"for the block's incoming tensor, block_input {fmt_shape(block.shape)}, it is {str(other).lower()}")
        diags.warning(loc, trap, ctx.full(d.name) if d.name else ctx.prefix, chain=ctx.chain,
                      hint="in a node's when:, input is the node's own input; write block_input for the block's")
        if not cond:
            traps[(ctx.prefix, d.name)] = trap
    return cond


def with_trap_hint(report: Reporter, d: Decl, prefix: str, traps: dict) -> Reporter:
    """The reporter of a node that reads a node dropped by the when:/input trap: its errors'
    hint is the trap (the shape error it causes would otherwise point at a missing projection)."""
    names = d.body.get("in")
    found = [(n, traps[(prefix, n)]) for n in (names if isinstance(names, list) else [names])
             if isinstance(n, str) and (prefix, n) in traps]
    if not found:
        return report
    name, trap = found[0]

    def report_trap(loc: Loc | None, message: str, path: str = "", hint: str | None = None) -> None:
        report(loc, message, path, f"'{name}' was dropped: {trap}: write block_input in its when:")
    return report_trap


def laid(decls: list[Decl | None], ctx: Ctx, scope: ListScope, view: dict, nodes: int,
         env: dict | None = None, made: list[int] | None = None) -> list[Decl | None]:
    """The list with each repeat that lays named nodes (lays_nodes) unrolled in place: step i's
    items under their templated names, each reading i. A bad template is reported and dropped.
    `view`: what the scope's expressions see (its input's shape); `nodes`: the nodes made so far."""
    out: list[Decl | None] = []
    made = made if made is not None else [0]
    for d in decls:
        if not lays_nodes(d, ctx.seq):
            out.append(d)
            continue
        assert d is not None
        try:
            outer = {**ctx.env, **(env or {})}
            steps = laid_steps(d, ctx, outer, scope, view, nodes, made)
        except LimitError:
            raise
        except SpecError as e:
            scope.report(e.loc or d.loc, e.message, hint=e.hint)
            continue
        for step_env, items in steps:
            out.extend(laid(items, ctx, scope, view, nodes, step_env, made))
    return out

def laid_steps(d: Decl, ctx: Ctx, outer: dict, scope: ListScope, view: dict, nodes: int, made: list[int]) -> list:
    """Each step of a laying repeat: (the names it binds, its items with their names made)."""
    body = d.body
    extra = sorted(str(k) for k in body if k not in ("repeat", "node", "index"))
    if extra:
        raise SpecError(f"a repeat that lays named nodes in this scope takes no '{extra[0]}:'",
                        loc=body.key_at(extra[0]), hint="its nodes take in: and when: of their own; "
                        "a repeat with name: or carry: repeats one node")
    count = repeat_count(body, {**view, **outer}, ctx, nodes)
    index = repeat_index(body, outer)
    raw = body["node"]
    made[0] += count * len(raw)
    if made[0] > MAX_NODES:
        raise LimitError(f"repeat {count:,} of {len(raw):,} nodes would exceed archspec's limit of "
                         f"{MAX_NODES:,} nodes", loc=body.at("repeat"), chain=ctx.chain)
    parsed = [item for item in parse_list(raw, scope) if item is not None]    # a bad one: reported once
    steps = []
    for i in range(count):
        step_env = {**outer, index: i}
        own = {k: v for k, v in step_env.items() if k not in ctx.env}
        items: list[Decl | None] = []
        for item in parsed:
            name = item.name
            if name is not None and has_expr(name):
                name = str(value_of(name, {**view, **step_env}, item.loc, "the node's name"))
            items.append(decided(replace(item, name=name, env=own, step=i), {**view, **step_env}))
        steps.append((step_env, chosen(items)))
    return steps


def chosen(items: list[Decl | None]) -> list[Decl | None]:
    """A step's items, of those that share a name the one their `when:`s keep (HRNet's fuse layer
    i, j: one node brings stream j up where j > i, another down where j < i): the ones dropped as
    the repeat unrolls lay nothing. Where all are dropped the first stands for its input; where
    several are kept, expansion reports the name given twice."""
    def dropped(d: Decl | None) -> bool:
        return d is not None and d.body.get("when") is False
    out = []
    for d in items:
        same = [e for e in items if e is not None and d is not None and d.name is not None and e.name == d.name]
        keep = [e for e in same if not dropped(e)] or same[:1]
        if len(same) < 2 or not dropped(d) or any(d is e for e in keep):
            out.append(d)
    return out



def chooser(env: dict, d: Decl | None) -> Any:
    """How item d's `in:` is evaluated: in its scope, and a laid node also with its step's index."""
    at = {**env, **d.env} if d is not None and d.env else env
    return lambda ref, loc: value_of(ref, at, loc, "'in'")


def decided(d: Decl, env: dict) -> Decl:
    """A laid node whose `when:` reads only parameters and indices, decided as its repeat unrolls:
    dropped, it stands for its `else:` (or its one input) alone, so its other inputs need not exist
    (the ladder's first step adds no `y0`). A `when:` that reads the node's input is decided later."""
    if "when" not in d.body or names_read(str(d.body["when"])) & {"input", "inputs"}:
        return d
    try:
        keep = value_of(d.body["when"], env, d.body.at("when"), "'when'")
    except SpecError:
        return d                # reported where the node is expanded, with its input known
    if keep:
        return d
    given = d.body.get("in")
    ref = d.body["else"] if "else" in d.body else given[0] if isinstance(given, list) and len(given) == 1 else given
    if ref is None or isinstance(ref, (list, dict)):
        return d                # no single input to stand for it: expansion says so
    b = d.body
    body = YDict(b.loc, {**{k: v for k, v in b.items() if k != "else"}, "in": ref, "when": False},
                 {**b.locs, "in": b.at("else") if "else" in b else b.at("in")}, b.key_locs)
    return replace(d, body=body)


def names_steps(node: Any) -> bool:
    """A repeated repeat that names its own steps (`name: conv${i + 1}_${j + 1}`): they join the
    enclosing scope as written, not a numbered scope per outer step (`features.0.conv1_1`)."""
    return isinstance(node, YDict) and "repeat" in node and "name" in node


def check_repeat_form(d: Decl, ins: list[str]) -> None:
    body = d.body
    if "node" not in body:
        raise SpecError("repeat needs a 'node:' to repeat", loc=d.loc,
                        hint="e.g. {repeat: 3, node: {use: basic, planes: 64}}")
    positional(d, "a repeat (its first input is carried from step to step, the others fixed)")
    if len(ins) > 1 and isinstance(body["node"], YList):
        raise SpecError("a repeat of a list of nodes takes one input", loc=body.at("in"))
    carry = body.get("carry")
    if carry not in (None, "concat"):
        raise SpecError(f"unknown carry {shown(carry)}", loc=body.at("carry"),
                        hint="carry: concat feeds each step the concatenation of all before it")


def stands_for(d: Decl, ins: list[str], env: dict) -> str:
    """What a node dropped by `when:` stands for: its one input, or the input its `else:` names,
    among its `in:` as evaluated in `env` where one `${...}` chooses them (DLA's tree's `bottom`,
    `in: ${(['kids'] if inner else []) + ['tree1']}`, `else: tree1`). A node of several inputs must
    say which (an optional concat member is not the whole module)."""
    given = d.body.get("in")
    if has_expr(given):
        given = value_of(given, env, d.body.at("in"), "'in'")
    named = isinstance(given, dict)             # by name: the values, then the previous node (ins[-1])
    names = list(given.values()) if isinstance(given, dict) else given if isinstance(given, list) else [given]
    if named and "else" not in d.body:
        ins = ins[:-1]
    if "else" in d.body:
        choice = d.body["else"]
        if choice in names and isinstance(choice, str):
            return ins[names.index(choice)]
        raise SpecError(f"else: {shown(choice)} is not one of this node's inputs",
                        loc=d.body.at("else"), hint=f"its in: names are {', '.join(map(str, names))}")
    if len(ins) > 1:
        raise SpecError(f"a node of {len(ins)} inputs dropped by 'when:' must say which input stands for it",
                        loc=d.body.at("when"), hint=f"add else: NAME, one of {', '.join(map(str, names))}")
    return ins[0]


def check_depth(ctx: Ctx, d: Decl, why: str = "") -> None:
    if ctx.depth >= MAX_SCOPE_DEPTH:
        raise LimitError(f"blocks and groups nested more than archspec's limit of {MAX_SCOPE_DEPTH} deep{why}",
                         loc=d.loc, chain=ctx.chain)


def outputs(raw: YDict, last: str, aliases: dict, nodes: dict[str, Node], diags: Diagnostics) -> dict[str, Output]:
    declared = raw.get("outputs")
    if not declared and isinstance(last, Several):      # a network ending in a block with several
        return {name: Output(name, ref) for name, ref in last.refs.items()}
    if not declared:
        return {"output": Output("output", last)}
    outs = {}
    for name, o in declared.items():
        spec = o if isinstance(o, dict) else {"node": o}
        ref = str(spec.get("node"))
        if ref in aliases or ref in nodes:
            outs[name] = Output(name, str(aliases.get(ref, ref)), bool(spec.get("train_only", False)),
                                spec.get("loss_weight"))
        else:
            diags.error(declared.at(name), f"output '{name}' refers to undefined node {shown(ref)}",
                        hint=did_you_mean(ref, [*aliases, *nodes]))
    return outs


def warn_unused(nodes: dict[str, Node], outs: dict[str, Output], diags: Diagnostics) -> None:
    used = {o.node for o in outs.values()}
    for n in nodes.values():
        used.update(n.inputs)
    for n in nodes.values():
        if n.name not in used:
            diags.warning(n.loc, "output is never used", path=n.name,
                          hint="feed it to another node, list it in outputs:, or remove it")


@gc_paused
def expand(spec: Spec) -> Graph:
    """Expand and infer a loaded spec; raises SpecErrors with every problem found."""
    return Expander(spec, spec.diagnostics()).run()


@gc_paused
def check_library(spec: Spec) -> None:
    """What can be checked in a block library without instantiating it (archspec/frontend/syntax.py's
    LibraryCheck); shapes are checked where a network uses the blocks. Raises SpecErrors."""
    check = LibraryCheck(spec.blocks, Diagnostics())
    for block in spec.blocks.values():
        check.block(block.name, block.raw, block.loc)
    check.diags.raise_if_errors()
