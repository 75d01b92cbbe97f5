"""expand + infer: turn a loaded spec into the flat graph IR.

Blocks are instantiated with their parameters, repeats unrolled, `${...}`
evaluated and `when: false` nodes dropped (their name then stands for their
input). Expressions may read the incoming tensor (`input.channels`), so each
node's shape is inferred as soon as its inputs are known: within a list,
nodes are visited in dependency order (list order unless `in:` names a later
node), and every op's shape rule runs right there. Errors are collected;
a failed node gets an unknown shape and is not blamed again downstream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from .errors import Diagnostics, Frame, LimitError, Loc, SpecError, did_you_mean
from .gcpause import gc_paused
from .expr import ShapeView, has_expr, resolve
from .ir import INPUT, Graph, Node, Output, Scope
from .limits import MAX_ELEMENTS, MAX_INSTANCES, MAX_NODES, MAX_REPEAT, MAX_SCOPE_DEPTH
from .names import name_problem, shown
from .ops import REGISTRY
from .spec import TYPE_NAMES, Spec
from .yamlpos import YDict, YList

KINDS = ("op", "use", "seq", "nodes", "repeat")
CONTROL = {"in", "when"}
REPEAT_KEYS = {"repeat", "node", "name", "carry"}
class _Failed(str):
    """The ref of a node that could not be built: its shape is unknown."""


@dataclass
class Decl:
    """One list item, normalised: `conv1: {op: conv, ...}`, `- relu`, `- {use: block, ...}`."""
    name: str | None
    kind: str            # op | use | seq | nodes | repeat | ref (a bare op or block name)
    body: YDict
    loc: Loc


@dataclass
class _Names:
    """The names used in one scope, and the next index of a numbered sequence."""
    taken: set = field(default_factory=set)
    counter: int = 0
    suffix: dict = field(default_factory=dict)


@dataclass
class Ctx:
    prefix: str                  # dotted path of the scope ("" at the top)
    env: dict                    # names visible to expressions
    chain: tuple = ()            # block instantiation frames, outermost first
    seq: bool = False            # children numbered 0, 1, ... (nn.Sequential)
    index: int | None = None     # repeat index, for error frames
    depth: int = 0
    names: _Names = field(default_factory=_Names)
    steps: int = 1               # product of the enclosing repeats' counts (checked against MAX_NODES)

    def full(self, local: str) -> str:
        return f"{self.prefix}.{local}" if self.prefix else local


class Expander:
    def __init__(self, spec: Spec, diags: Diagnostics):
        self.spec = spec
        self.diags = diags
        self.nodes: dict[str, Node] = {}
        self.scopes: dict[str, Scope] = {}
        self.globals: dict[str, Any] = {}
        self.input_shape: tuple = ()
        self._attr_cache: dict = {}
        self.instances = 0           # every node, block, group and repeat step (MAX_INSTANCES)

    # -- entry -------------------------------------------------------------

    def run(self) -> Graph:
        spec, raw = self.spec, self.spec.raw
        for k, v in spec.params.items():
            try:
                self.globals[k] = self._value(v, self.globals, spec.param_locs.get(k, raw.loc), f"param '{k}'")
            except SpecError as e:
                self.error(e.loc, None, e.message, hint=e.hint)
        self.diags.raise_if_errors()      # every later expression may read the params
        self.input_shape = self._input_shape(raw)
        root = Ctx("", self.globals)
        try:
            last, aliases = self.expand_list(raw["nodes"], root, INPUT, raw.at("nodes"))
        except LimitError as e:
            self.diags.error(e.loc, e.message, hint=e.hint, chain=e.chain)
            self.diags.raise_if_errors()
        outputs = self._outputs(raw, last, aliases)
        self._warn_unused(outputs)
        self.diags.raise_if_errors()
        meta = {"title": spec.doc.title, "paper": spec.doc.paper, "file": spec.path,
                "reference": spec.doc.reference.model_dump(exclude_none=True) if spec.doc.reference else None}
        graph = Graph(spec.name, self.input_shape, self.nodes, self.scopes, outputs, meta,
                      init=spec.doc.init, init_loc=raw.at("init") if spec.doc.init else None)
        graph.warnings = self.diags.warnings
        return graph

    def _input_shape(self, raw: YDict) -> tuple:
        shape = raw.get("input")
        if not (isinstance(shape, list) and len(shape) in (1, 3)
                and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
            self.diags.error(raw.at("input"), f"input must be [C, H, W] or [N] of positive ints, got {shape!r}")
            return (1, 1, 1)
        return tuple(shape)

    # -- lists -------------------------------------------------------------

    def expand_list(self, items, ctx: Ctx, in_ref: str, loc: Loc, output: str | None = None):
        """Expand a list of nodes in one scope; return (output ref, local name -> ref)."""
        if not isinstance(items, YList) or not items:
            self.error(loc, ctx, "expected a non-empty list of nodes")
            return _Failed("?"), {}
        decls = [self._decl_or_none(item, items.at(k), ctx) for k, item in enumerate(items)]
        local = self._local_names(decls, ctx)
        deps = [self._deps(k, d, local, ctx) for k, d in enumerate(decls)]
        aliases: dict[str, str] = {"input": in_ref}
        results: list[str] = [_Failed("?")] * len(decls)
        for k in self._order(decls, deps, ctx):
            d = decls[k]
            ins = [in_ref if dep is None else results[dep] if isinstance(dep, int) else dep
                   for dep in deps[k]]
            if d is not None:
                results[k] = self.expand_decl(d, ctx, ins)
                if d.name:
                    aliases[d.name] = results[k]
        if output is not None:
            if output not in aliases:
                self.error(loc, ctx, f"block output '{output}' is not a node of the block",
                           hint=did_you_mean(output, aliases))
                return _Failed("?"), aliases
            return aliases[output], aliases
        return results[-1], aliases

    def _decl_or_none(self, item, loc: Loc, ctx: Ctx) -> Decl | None:
        try:
            return self._decl(item, loc)
        except SpecError as e:
            self.error(e.loc or loc, ctx, e.message, hint=e.hint)
            return None

    def _decl(self, item, loc: Loc) -> Decl:
        name = None
        if isinstance(item, str):
            return Decl(None, "ref", YDict(loc, {"ref": item}, {"ref": loc}), loc)
        if isinstance(item, YDict) and len(item) == 1:
            (key, value), = item.items()
            if isinstance(key, str) and key not in KINDS:
                name, loc = key, item.key_at(key)
                vloc = item.at(key)
                if isinstance(value, str):
                    return Decl(name, "ref", YDict(vloc, {"ref": value}, {"ref": vloc}), loc)
                if isinstance(value, YList):
                    item = YDict(vloc, {"nodes": value}, {"nodes": vloc})
                elif isinstance(value, YDict):
                    item = value
                else:
                    raise SpecError(f"node '{key}' needs an op, a block or a body, got {value!r}", loc=vloc,
                                    hint=f"e.g. {key}: {{op: conv, out: 64, k: 3}}")
        if not isinstance(item, YDict):
            raise SpecError(f"a node is an op name, a mapping or 'name: ...', got {item!r}", loc=loc)
        kinds = [k for k in KINDS if k in item]
        if len(kinds) != 1:
            what = f"has {' and '.join(kinds)}" if kinds else "has no op"
            raise SpecError(f"node {what}", loc=loc,
                            hint="give it exactly one of op: (an op), use: (a block), seq: or nodes: "
                                 "(a group), repeat:")
        return Decl(name, kinds[0], item, loc)

    def _local_names(self, decls: list, ctx: Ctx) -> dict[str, int]:
        local: dict[str, int] = {}
        for k, d in enumerate(decls):
            if d is None or d.name is None:
                continue
            if ctx.seq:
                self.error(d.loc, ctx, f"'{d.name}': children of a seq are numbered 0, 1, ... and take no names",
                           hint="use nodes: instead of seq: for named children")
                d.name = None
                continue
            if not self._valid_name(d.name, d.loc, ctx):
                d.name = None
                continue
            if d.name in local:
                first = decls[local[d.name]].loc
                self.error(d.loc, ctx, f"duplicate name '{d.name}'", path=ctx.full(d.name),
                           hint=f"'{d.name}' is first defined at {first}")
                d.name = None
                continue
            local[d.name] = k
        ctx.names.taken.update(local)
        return local

    def _valid_name(self, name: str, loc: Loc, ctx: Ctx) -> bool:
        if name == INPUT:
            self.error(loc, ctx, "'input' is reserved for the incoming tensor", hint="rename the node")
            return False
        problem = name_problem(name, index_ok=True)
        if problem:
            self.error(loc, ctx, f"{shown(name)} cannot be a node name: {problem}",
                       hint="names become module attributes and state_dict keys: conv1, layer2, fc")
        return problem is None

    def _deps(self, k: int, d: Decl | None, local: dict, ctx: Ctx) -> list:
        """Each input of decl k: an index into the list, None for the scope input,
        or a failed ref."""
        if d is None or "in" not in d.body:
            return [k - 1] if k > 0 else [None]
        if ctx.seq:
            self.error(d.body.at("in"), ctx, "children of a seq are chained and take no 'in'",
                       hint="use nodes: for a group with branches")
        refs = d.body["in"]
        refs = refs if isinstance(refs, list) else [refs]
        out = []
        for j, ref in enumerate(refs):
            loc = refs.at(j) if isinstance(refs, YList) else d.body.at("in")
            if has_expr(ref):       # a choice of input, from the scope's params: ${'a' if c else 'b'}
                try:
                    ref = self._value(ref, ctx.env, loc, "'in'")
                except SpecError as e:
                    self.error(loc, ctx, e.message, path=ctx.full(d.name or "?"), hint=e.hint)
                    out.append(_Failed("?"))
                    continue
            if ref == INPUT:
                out.append(None)
            elif isinstance(ref, str) and ref in local:
                out.append(local[ref])
            else:
                self.error(loc, ctx, f"undefined input '{ref}'", path=ctx.full(d.name or "?"),
                           hint=did_you_mean(ref, [*local, INPUT]) or
                           f"names defined in this scope: {', '.join(['input', *local])}")
                out.append(_Failed("?"))
        return out

    def _order(self, decls, deps, ctx: Ctx) -> list[int]:
        """List order, unless `in:` points forward: then dependency order, list order among equals."""
        n = len(decls)
        if all(not isinstance(dep, int) or dep < k for k, ds in enumerate(deps) for dep in ds):
            return list(range(n))
        import networkx as nx     # only here: most lists need no reordering
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from((dep, k) for k, ds in enumerate(deps) for dep in ds if isinstance(dep, int))
        try:
            return list(nx.lexicographical_topological_sort(g))
        except nx.NetworkXUnfeasible:
            cycle = [u for u, _ in nx.find_cycle(g)]
            names = [decls[c].name or f"#{c}" for c in cycle]
            self.error(decls[cycle[0]].loc, ctx, f"cycle: {' -> '.join(names + names[:1])}",
                       path=ctx.full(names[0]), hint="a node cannot depend on its own output")
            return [k for k in range(n) if k not in set(nx.descendants(g, cycle[0])) | {cycle[0]}]

    # -- one node ----------------------------------------------------------

    def expand_decl(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        self.instances += 1
        if self.instances > MAX_INSTANCES:      # blocks that fan out into themselves make no nodes
            raise LimitError(f"the spec instantiates more than archspec's limit of {MAX_INSTANCES:,} nodes "
                             "and blocks", loc=d.loc, hint="does a block use itself?", chain=ctx.chain)
        try:
            if "when" in d.body:
                cond = self._value(d.body["when"], self._env(ctx, ins), d.body.at("when"), "'when'")
                if not isinstance(cond, bool):
                    raise SpecError(f"'when' must be true or false, got {cond!r}", loc=d.body.at("when"))
                if not cond:
                    return ins[0]      # a dropped node stands for its input
            kind = d.kind
            if kind in ("ref", "op", "use"):
                target = d.body[kind]
                if has_expr(target):
                    target = self._value(target, self._env(ctx, ins), d.body.at(kind), kind)
                return self._expand_named_thing(d, kind, target, ctx, ins)
            if kind == "repeat":
                return self._expand_repeat(d, ctx, ins)
            return self._expand_group(d, ctx, ins)
        except LimitError:
            raise
        except SpecError as e:
            self.error(e.loc or d.loc, ctx, e.message, hint=e.hint, path=ctx.full(d.name) if d.name else ctx.prefix)
            return _Failed("?")

    def _expand_named_thing(self, d: Decl, kind: str, target, ctx: Ctx, ins: list[str]) -> str:
        loc = d.body.at(kind)
        if not isinstance(target, str):
            raise SpecError(f"{kind} must name an op or block, got {target!r}", loc=loc)
        is_op, is_block = target in REGISTRY, target in self.spec.blocks
        if kind == "op" and is_block:
            raise SpecError(f"'{target}' is a block, not an op", loc=loc, hint=f"write use: {target}")
        if kind == "use" and is_op:
            raise SpecError(f"'{target}' is an op, not a block", loc=loc, hint=f"write op: {target}")
        if is_op:
            return self._expand_op(d, target, ctx, ins)
        if is_block:
            return self._expand_block(d, target, ctx, ins)
        what = {"op": "op", "use": "block"}.get(kind, "op or block")
        choices = list(REGISTRY) if kind == "op" else list(self.spec.blocks) if kind == "use" \
            else [*REGISTRY, *self.spec.blocks]
        raise SpecError(f"unknown {what} '{target}'", loc=loc,
                        hint=did_you_mean(target, choices) or f"known: {', '.join(sorted(choices))}; "
                        "your own ops load with --ops FILE.py")

    def _expand_op(self, d: Decl, opname: str, ctx: Ctx, ins: list[str]) -> str:
        op = REGISTRY[opname]
        values, env = {}, None
        for key, v in d.body.items():
            if key in CONTROL or key in ("op", "ref"):
                continue
            if has_expr(v):
                env = env or self._env(ctx, ins)
                v = self._value(v, env, d.body.at(key), f"attribute '{key}'")
            values[key] = v
        local = self._local_name(d, ctx, opname)
        full = ctx.full(local)
        attrs = self._attrs(op, values, d, ctx, full)
        xs = [self.shape_of(r) for r in ins]
        y, tensors, macs = None, [], 0
        if attrs is not None and all(x is not None for x in xs):
            try:
                op.check_inputs(xs)
                y = op.shape(attrs, xs)
                if any(s <= 0 for s in y):
                    raise SpecError(f"output size {tuple(y)} is not positive (input "
                                    f"{', '.join(map(str, xs))})",
                                    hint="the input is too small for this window and stride")
                tensors, macs = op.tensors(attrs, xs, y), op.macs(attrs, xs, y)
                _check_sizes(y, tensors)
            except SpecError as e:
                self.error(e.loc or d.loc, ctx, e.message, path=full, hint=e.hint)
                y = None
        named = d.name is not None or ctx.seq
        if len(self.nodes) >= MAX_NODES:
            raise LimitError(f"the graph exceeds archspec's limit of {MAX_NODES:,} nodes", loc=d.loc)
        self.nodes[full] = Node(full, op, attrs, list(ins), xs, y, tensors, macs, d.loc, ctx.chain, named)
        return full if y is not None else _Failed(full)

    def _attrs(self, op, values: dict, d: Decl, ctx: Ctx, path: str):
        try:
            key = (op.name, tuple((k, _freeze(v)) for k, v in values.items()))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._attr_cache:
            return self._attr_cache[key]
        try:
            attrs = op.Attrs.model_validate(values)
        except ValidationError as e:
            for err in e.errors():
                name = err["loc"][0] if err["loc"] else None
                if err["type"] == "extra_forbidden":
                    fields = list(op.Attrs.model_fields)
                    self.error(d.body.key_at(name), ctx, f"unknown attribute '{name}' for op {op.name}", path,
                               hint=did_you_mean(name, fields) or
                               f"{op.name} takes: {', '.join(fields) or 'no attributes'}")
                elif err["type"] == "missing":
                    self.error(d.loc, ctx, f"op {op.name} needs attribute '{name}'", path,
                               hint=f"e.g. {{op: {op.name}, {name}: ...}}")
                else:
                    got = err.get("input")
                    self.error(d.body.at(name), ctx,
                               f"attribute '{name}' of {op.name}: {err['msg'][0].lower()}{err['msg'][1:]} "
                               f"(got {type(got).__name__} {got!r})", path)
            attrs = None
        if key is not None:
            self._attr_cache[key] = attrs
        return attrs

    def _local_name(self, d: Decl, ctx: Ctx, base: str) -> str:
        if d.name is not None:
            return d.name
        names = ctx.names
        if ctx.seq:
            local = str(names.counter)
            names.counter += 1
        else:
            n = names.suffix.get(base, 0)   # remembered per base: auto-naming stays linear
            local = base if n == 0 else f"{base}_{n}"
            while local in names.taken:
                n += 1
                local = f"{base}_{n}"
            names.suffix[base] = n + 1
        names.taken.add(local)
        return local

    # -- blocks, groups, repeats -----------------------------------------------

    def _expand_block(self, d: Decl, bname: str, ctx: Ctx, ins: list[str]) -> str:
        block = self.spec.blocks[bname]
        if len(ins) != 1:
            raise SpecError(f"block '{bname}' takes one input, got {len(ins)}", loc=d.loc)
        _check_depth(ctx, d, f" (does '{bname}' use itself?)")
        call_env = self._env(ctx, ins)
        given = self._block_args(d, block, call_env)
        env = dict(self.globals)
        for p, decl in block.params.items():
            if p in given:
                env[p] = given[p]
            elif isinstance(decl, str) and decl in TYPE_NAMES:
                raise SpecError(f"missing parameter '{p}' of block '{bname}'", loc=d.loc,
                                hint=f"block '{bname}' ({block.loc}) takes: " +
                                ", ".join(f"{k}: {v}" for k, v in block.params.items()))
            else:
                env[p] = self._value(decl, {**self.globals, "input": call_env.get("input")},
                                     block.raw["params"].at(p), f"default of '{p}'")
        let = block.raw.get("let") or {}
        for k, v in let.items():
            env[k] = self._value(v, {**env, "input": call_env.get("input")}, let.at(k), f"let '{k}'")
        if "when" in block.raw:
            cond = self._value(block.raw["when"], {**env, "input": call_env.get("input")},
                               block.raw.at("when"), f"'when' of block '{bname}'")
            if not cond:
                return ins[0]
        kind = "seq" if "seq" in block.raw else "nodes"
        if ("seq" in block.raw) == ("nodes" in block.raw):
            raise SpecError(f"block '{bname}' needs exactly one of nodes: or seq:", loc=block.loc)
        local = self._local_name(d, ctx, bname)
        full = ctx.full(local)
        frame = Frame(bname, d.loc, ctx.prefix, ctx.index)
        inner = Ctx(full, env, ctx.chain + (frame,), seq=kind == "seq", depth=ctx.depth + 1, steps=ctx.steps)
        out, _ = self.expand_list(block.raw[kind], inner, ins[0], block.raw.at(kind), block.raw.get("output"))
        self.scopes[full] = Scope(full, "block", d.loc, bname, {p: env[p] for p in block.params}, out, ctx.index)
        return out

    def _block_args(self, d: Decl, block, env: dict) -> dict:
        params, given = block.params, {}
        positional = d.body.get("args")
        if positional is not None:
            if not isinstance(positional, list) or len(positional) > len(params):
                raise SpecError(f"block '{block.name}' takes {len(params)} positional args "
                                f"({', '.join(params)}), got {positional!r}", loc=d.body.at("args"))
            for j, (p, v) in enumerate(zip(params, positional)):
                loc = positional.at(j) if isinstance(positional, YList) else d.body.at("args")
                given[p] = self._check_type(block, p, self._value(v, env, loc, f"arg '{p}'"), loc)
        for key, v in d.body.items():
            if key in CONTROL or key in ("use", "ref", "args"):
                continue
            if key not in params:
                raise SpecError(f"block '{block.name}' has no parameter '{key}'", loc=d.body.key_at(key),
                                hint=did_you_mean(key, params) or
                                f"its parameters: {', '.join(params) or 'none'}")
            if key in given:
                raise SpecError(f"parameter '{key}' given twice (in args and by name)", loc=d.body.key_at(key))
            loc = d.body.at(key)
            given[key] = self._check_type(block, key, self._value(v, env, loc, f"parameter '{key}'"), loc)
        return given

    def _check_type(self, block, p: str, value, loc: Loc):
        decl = block.params[p]
        if isinstance(decl, str) and decl in TYPE_NAMES:
            tname = decl
        elif has_expr(decl):
            tname = "any"
        else:   # typed by its default; an int default also takes [h, w] (kernels, strides, pads)
            tname = "pair" if type(decl) is int else type(decl).__name__
        want = TYPE_NAMES.get(tname, object)
        ok = want is bool if isinstance(value, bool) else isinstance(value, want)
        if ok or want is object:
            return value
        raise SpecError(f"parameter '{p}' of block '{block.name}' expects {tname}, "
                        f"got {type(value).__name__} {value!r}", loc=loc)

    def _expand_group(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        if len(ins) != 1:
            raise SpecError(f"a {d.kind} group takes one input, got {len(ins)}", loc=d.loc)
        _check_depth(ctx, d)
        local = self._local_name(d, ctx, d.kind)
        full = ctx.full(local)
        inner = Ctx(full, ctx.env, ctx.chain, seq=d.kind == "seq", index=ctx.index, depth=ctx.depth + 1,
                    steps=ctx.steps)
        out, _ = self.expand_list(d.body[d.kind], inner, ins[0], d.body.at(d.kind))
        self.scopes[full] = Scope(full, d.kind, d.loc, output=out, repeat=ctx.index)
        return out

    def _expand_repeat(self, d: Decl, ctx: Ctx, ins: list[str]) -> str:
        body = d.body
        count = self._value(body["repeat"], self._env(ctx, ins), body.at("repeat"), "'repeat'")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise SpecError(f"repeat count must be a non-negative int, got {count!r}", loc=body.at("repeat"))
        steps = ctx.steps * count        # nested repeats multiply: checked before any step is made
        if count > MAX_REPEAT or len(self.nodes) + steps > MAX_NODES:
            raise LimitError(f"repeat {count:,} exceeds archspec's limit of {MAX_REPEAT:,} steps"
                             if count > MAX_REPEAT else
                             f"repeat {count:,} would exceed archspec's limit of {MAX_NODES:,} nodes"
                             + (f" ({steps:,} steps with the enclosing repeats)" if steps > count else ""),
                             loc=body.at("repeat"), chain=ctx.chain)
        if "node" not in body:
            raise SpecError("repeat needs a 'node:' to repeat", loc=d.loc,
                            hint="e.g. {repeat: 3, node: {use: basic, planes: 64}}")
        extra = set(body) - REPEAT_KEYS - CONTROL
        if extra:
            raise SpecError(f"unknown repeat key '{sorted(extra)[0]}'", loc=body.key_at(sorted(extra)[0]),
                            hint="repeat takes: repeat, node, name, carry, in, when")
        carry = body.get("carry")
        if carry not in (None, "concat"):
            raise SpecError(f"unknown carry {carry!r}", loc=body.at("carry"),
                            hint="carry: concat feeds each step the concatenation of all before it")
        target = ctx
        if d.name is not None:      # a named repeat is a numbered sequence of its own
            _check_depth(ctx, d)
            local = self._local_name(d, ctx, "repeat")
            target = Ctx(ctx.full(local), ctx.env, ctx.chain, seq=True, depth=ctx.depth + 1)
            self.scopes[target.prefix] = Scope(target.prefix, "seq", d.loc, repeat=ctx.index)
        target = replace(target, steps=steps)
        x = ins[0]
        if isinstance(body["node"], YList):     # a list body splices into a numbered sequence
            if not target.seq or "name" in body or carry:
                raise SpecError("a repeat with a list of nodes belongs in a seq (its items take the next "
                                "indices) and takes no name: or carry:", loc=body.at("node"))
            for i in range(count):
                step = replace(target, env={**target.env, "i": i}, index=i)
                before = len(self.nodes)
                x, _ = self.expand_list(body["node"], step, x, body.at("node"))
                if i == 0:
                    self._check_projection(before, count, body, ctx)
            return x
        for i in range(count):
            step = replace(target, env={**target.env, "i": i}, index=i)
            before = len(self.nodes)
            item = self._decl(body["node"], body.at("node"))
            if item.name is not None:
                raise SpecError("the repeated node takes its name from the repeat's 'name:'",
                                loc=item.loc, hint="e.g. {repeat: 4, name: denselayer${i + 1}, node: {...}}")
            if "name" in body:
                name = str(self._value(body["name"], step.env, body.at("name"), "'name'"))
            else:
                name = None if step.seq else str(i)
            if name is not None:
                if not self._valid_name(name, body.at("name"), ctx):
                    return _Failed("?")
                if name in step.names.taken:
                    raise SpecError(f"duplicate name '{name}' from repeat", loc=d.loc)
                step.names.taken.add(name)
                item.name = name
            y = self.expand_decl(item, step, [x])
            x = self._concat(x, y, step, d) if carry == "concat" else y
            if i == 0:
                self._check_projection(before, count, body, ctx)
        if d.name is not None:
            self.scopes[target.prefix].output = x
        return x

    def _check_projection(self, before: int, count: int, body: YDict, ctx: Ctx) -> None:
        """After a repeat's first step: the nodes all its steps would make, before they are made."""
        total = len(self.nodes) + (len(self.nodes) - before) * (count - 1)
        if total > MAX_NODES:
            raise LimitError(f"repeat {count:,} of {len(self.nodes) - before:,} nodes each would exceed "
                             f"archspec's limit of {MAX_NODES:,} nodes", loc=body.at("repeat"), chain=ctx.chain)

    def _concat(self, a: str, b: str, ctx: Ctx, d: Decl) -> str:
        carried = Decl(None, "op", YDict(d.loc, {"op": "concat"}), d.loc)
        return self._expand_op(carried, "concat", replace(ctx, seq=False), [a, b])

    # -- static checks (block libraries) -----------------------------------------

    def _check_list(self, items, ctx: Ctx, loc: Loc) -> None:
        if not isinstance(items, YList) or not items:
            self.error(loc, ctx, "expected a non-empty list of nodes")
            return
        decls = [self._decl_or_none(item, items.at(k), ctx) for k, item in enumerate(items)]
        local = self._local_names(decls, ctx)
        for k, d in enumerate(decls):
            self._deps(k, d, local, ctx)
            if d is not None:
                self._check_decl(d, ctx)

    def _check_decl(self, d: Decl, ctx: Ctx) -> None:
        body, kind = d.body, d.kind
        if kind in ("seq", "nodes"):
            self._check_list(body[kind], replace(ctx, seq=kind == "seq", names=_Names()), body.at(kind))
        elif kind == "repeat" and "node" in body:
            node = body["node"]
            if isinstance(node, YList):
                self._check_list(node, replace(ctx, names=_Names()), body.at("node"))
            else:
                inner = self._decl_or_none(node, body.at("node"), ctx)
                if inner is not None:
                    self._check_decl(inner, ctx)
        elif not isinstance(body[kind], str):
            self.error(body.at(kind), ctx, f"{kind} must name an op or block, got {shown(body[kind])}")
        elif not has_expr(body[kind]):
            target = body[kind]
            if target in REGISTRY and kind != "use":
                fields = REGISTRY[target].Attrs.model_fields
                for key in body:
                    if key not in fields and key not in CONTROL | {"op", "ref"}:
                        self.error(body.key_at(key), ctx, f"unknown attribute '{key}' for op {target}",
                                   hint=did_you_mean(key, fields) or f"{target} takes: {', '.join(fields)}")
            elif target not in self.spec.blocks:
                self.error(body.at(kind), ctx, f"unknown op or block '{target}'",
                           hint=did_you_mean(target, [*REGISTRY, *self.spec.blocks]))

    # -- helpers -----------------------------------------------------------

    def shape_of(self, ref: str):
        if isinstance(ref, _Failed):
            return None
        return self.input_shape if ref == INPUT else self.nodes[ref].shape

    def _env(self, ctx: Ctx, ins: list[str]) -> dict:
        shapes = [self.shape_of(r) for r in ins]
        env = dict(ctx.env)
        if shapes and shapes[0] is not None:
            env["input"] = ShapeView(shapes[0])
        env["inputs"] = [ShapeView(s) for s in shapes if s is not None]
        return env

    def _value(self, value, env: dict, loc: Loc, what: str):
        try:
            return resolve(value, env)
        except SpecError as e:
            if "input" not in env and "'input'" in e.message:
                e.hint = "the incoming shape is unknown here (an earlier error)"
            raise SpecError(f"in {what}: {e.message}", hint=e.hint, loc=loc) from None

    def error(self, loc, ctx: Ctx | None, message: str, path: str = "", hint=None) -> None:
        self.diags.error(loc, message, path=path, hint=hint, chain=ctx.chain if ctx else ())

    def _outputs(self, raw: YDict, last: str, aliases: dict) -> dict[str, Output]:
        declared = raw.get("outputs")
        if not declared:
            return {"output": Output("output", last)}
        outs = {}
        for name, o in declared.items():
            loc = declared.at(name)
            spec = o if isinstance(o, dict) else {"node": o}
            ref = spec.get("node")
            if ref in aliases:
                node = aliases[ref]
            elif ref in self.nodes:
                node = ref
            else:
                self.diags.error(loc, f"output '{name}' refers to undefined node '{ref}'",
                                 hint=did_you_mean(ref, [*aliases, *self.nodes]))
                continue
            outs[name] = Output(name, node, bool(spec.get("train_only", False)), spec.get("loss_weight"))
        return outs

    def _warn_unused(self, outputs: dict[str, Output]) -> None:
        used = {o.node for o in outputs.values()}
        for n in self.nodes.values():
            used.update(n.inputs)
        for n in self.nodes.values():
            if n.name not in used:
                self.diags.warning(n.loc, "output is never used", path=n.name,
                                   hint="feed it to another node, list it in outputs:, or remove it")


def _check_sizes(y: tuple, tensors: list) -> None:
    """An output or a tensor PyTorch could hold: at most MAX_ELEMENTS elements."""
    for what, shape in [("output", y), *((f"tensor '{t.key}'", t.shape) for t in tensors)]:
        if math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(f"{what} of shape {tuple(shape)} has more than archspec's limit of "
                            f"2^{MAX_ELEMENTS.bit_length() - 1} elements", hint="check the sizes and strides")


def _check_depth(ctx: Ctx, d: Decl, why: str = "") -> None:
    if ctx.depth >= MAX_SCOPE_DEPTH:
        raise LimitError(f"blocks and groups nested more than archspec's limit of {MAX_SCOPE_DEPTH} deep{why}",
                         loc=d.loc, chain=ctx.chain)


def _freeze(v):
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v


@gc_paused
def expand(spec: Spec) -> Graph:
    """Expand and infer a loaded spec; raises SpecErrors with every problem found."""
    diags = Diagnostics()
    return Expander(spec, diags).run()


@gc_paused
def check_library(spec: Spec) -> None:
    """What can be checked in a block library without instantiating it: node forms, names,
    references, and that literal op and block names exist with known attribute keys.
    Shapes are checked where a network uses the blocks. Raises SpecErrors."""
    ex = Expander(spec, Diagnostics())
    for block in spec.blocks.values():
        kind = "seq" if "seq" in block.raw else "nodes"
        ex._check_list(block.raw.get(kind), Ctx(block.name, {}, seq=kind == "seq"), block.loc)
    ex.diags.raise_if_errors()
