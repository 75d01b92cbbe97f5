"""emit: the graph IR as readable PyTorch source (no torch imported here).

The output reads like hand-written torchvision code:
- one nn.Module class per distinct block structure; instances that differ only
  in numbers (channels, strides, kernel sizes, ...) share the class, whose
  constructor takes the numbers that differ;
- submodules registered in spec order under the spec's names, so state_dict
  keys are exactly `Graph.state_dict_shapes()`; a chain of numbered children
  (a `seq`, a repeat's 0, 1, 2, ...) is an nn.Sequential, as in torchvision;
- forward written out as straight-line code: modules for nodes with tensors
  and for named nodes, functional calls (torch.relu, torch.cat, ...) for
  anonymous parameter-free ones; ReLU and add work in place where nothing else
  reads their input, as torchvision's do.

Each op describes its PyTorch form itself (`Op.module` as `Call` data, `Op.call`
as text); this module only arranges them. Identifiers are the expander's
validated names; numbers are written with repr. The same spec gives
byte-identical source.
"""
from __future__ import annotations

import fnmatch
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import __version__
from .errors import Diagnostic, Loc, SpecError, SpecErrors
from .ir import INPUT, Graph, Node, Scope
from .names import RESERVED, file_stem, name_problem, one_line
from .ops.base import Call, is_default, literal
from .spec import InitDef, InitRule
ROOT_ATTRS = {"init_weights", "input_shape", "output_names", "loss_weights"}    # the top class's own attributes
_GENERIC = re.compile(r"^(x|out)(_\d+)?$")                      # variables a chain may overwrite


# -- the scope tree ------------------------------------------------------------------

@dataclass(eq=False)
class Item:
    """One child of a scope: a node, or a sub-scope (`unit`)."""
    local: str
    inputs: list[str]                  # refs it reads from outside itself, in order
    outputs: list[str]                 # refs it produces for the rest of the graph
    node: Node | None = None
    unit: Unit | None = None
    module: bool = True                # a submodule (else a functional call in forward)

    @property
    def named(self) -> bool:
        """Named in the spec (not an index, not an anonymous op's generated name)."""
        return not self.local.isdigit() and (self.unit is not None or self.node.named)


@dataclass(eq=False)
class Unit:
    """A scope as code: its children, what it reads, what it returns."""
    path: str
    scope: Scope | None
    items: list[Item] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    exports: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)    # every node inside
    sequential: bool = False
    key: tuple = ()
    cls: Cls | None = None
    values: list = field(default_factory=list)      # its class's constructor arguments


@dataclass(eq=False)
class Cls:
    """A generated class: the scopes it serves and the numbers its constructor takes."""
    name: str
    units: list[Unit]
    forward: list[str]
    params: list[str] = field(default_factory=list)
    slots: list = field(default_factory=list)       # per number in __init__: a param name, or None (literal)


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _local(path: str) -> str:
    return path.rsplit(".", 1)[-1]


def _inside(ref: str, path: str) -> bool:
    return ref != INPUT if path == "" else ref.startswith(path + ".")


def _attr(local: str) -> str:
    """How forward reaches a child: self.conv1, or getattr(self, "0") for a numbered one."""
    return f"self.{local}" if local.isidentifier() else f"getattr(self, {literal(local)})"


def _text(s) -> str:
    """The one way spec text enters generated source (comments and docstrings): one line,
    printable, no quote or backslash that could end the string."""
    return one_line(s, 300).replace("\\", "/").replace('"', "'")


def _camel(name: str) -> str:
    """A class name from a name or title: CamelCase words, never a keyword, builtin or reserved name."""
    out = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)
    return out if out[:1].isalpha() and out not in RESERVED else "Block" + out


# -- numbers as constructor arguments -------------------------------------------------

def _is_number(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, tuple) and bool(v) and all(_is_number(x) for x in v)


def _shape_key(call: Call) -> tuple:
    """A call with its numbers blanked out: calls with equal keys differ only in numbers."""
    def k(v):
        return "#" if _is_number(v) else _shape_key(v) if isinstance(v, Call) else repr(v)
    return (call.fn, tuple((n, k(v)) for n, v in call.args), tuple((n, k(v)) for n, v, _ in call.kwargs))


def _numbers(call: Call, label: str, out: list) -> list:
    """(label, value) of every number in a call, depth first: what a class may parameterise."""
    for name, v in [*call.args, *((n, v) for n, v, _ in call.kwargs)]:
        if _is_number(v):
            out.append((f"{label}_{name}", v))
        elif isinstance(v, Call):
            _numbers(v, f"{label}_{name}", out)
    return out


def _render(call: Call, slots, indent: str) -> str:
    """Source of a constructor call; `slots` gives, per number in `_numbers` order, a
    parameter name to write, or None to write the value."""
    def text(v):
        if _is_number(v):
            s = next(slots)
            return (s, True) if s is not None else (literal(v), False)
        if isinstance(v, Call):
            return _render(v, slots, indent + "    "), False
        return literal(v), False
    parts = [text(v)[0] for _, v in call.args]
    for name, v, default in call.kwargs:
        t, param = text(v)
        if param or not is_default(v, default):
            parts.append(f"{name}={t}")
    if any(isinstance(v, Call) for _, v in call.args):     # nn.Sequential: one child a line
        return f"{call.fn}(\n" + "".join(f"{indent}    {p},\n" for p in parts) + f"{indent})"
    return f"{call.fn}({', '.join(parts)})"


# -- the emitter -----------------------------------------------------------------------

class Emitter:
    def __init__(self, graph: Graph, probe: bool = False):
        self.g = graph
        self.init: InitDef | None = graph.init
        self.init_loc = graph.init_loc
        self.probe = probe
        self.consumers: dict[str, list[str]] = {}
        for n in graph.nodes.values():
            for r in dict.fromkeys(n.inputs):
                self.consumers.setdefault(r, []).append(n.name)
        self.output_refs = {o.node for o in graph.outputs.values()}
        self.train_only = graph.train_only_nodes()
        self.classes: dict[tuple, Cls] = {}
        self.class_names: set[str] = {"Model", "_probe"}
        self.defs: dict[str, None] = {}          # helper class sources, in first-use order

    # -- structure -------------------------------------------------------------------

    def tree(self) -> Unit:
        """Every node placed in its scope, scopes nested by dotted path, in node order."""
        units: dict[str, Unit] = {"": Unit("", None)}
        for n in self.g.nodes.values():
            item = Item(_local(n.name), list(n.inputs), [n.name], node=n, module=self._as_module(n))
            self._unit(_parent(n.name), units).items.append(item)
        self._close(units[""])
        return units[""]

    def _as_module(self, n: Node) -> bool:
        """Nodes with tensors and named nodes are modules where the op has a module form;
        anonymous parameter-free nodes are functional calls where it has a call form."""
        with _located(n):
            module = n.op.module(n.attrs, n.in_shapes, n.shape)
            call = n.op.call(n.attrs, ["x"] * len(n.inputs))
        if module is None and (call is None or n.tensors):
            raise SpecError(f"{n.name}: op '{n.op.name}' has no PyTorch " + ("module" if n.tensors else "form"),
                            loc=n.loc, hint="its definition needs Op.module (a module holding its tensors)"
                                            + ("" if n.tensors else " or Op.call (a functional call)"))
        if module is not None and "." not in module.fn:
            self.class_names.add(module.fn)         # a helper class (TableConv, ...): no block may take its name
        return module is not None and (bool(n.tensors) or n.named or call is None)

    def _unit(self, path: str, units: dict) -> Unit:
        if path not in units:
            unit = units[path] = Unit(path, self.g.scopes.get(path))
            self._unit(_parent(path), units).items.append(Item(_local(path), [], [], unit=unit))
        return units[path]

    def _close(self, unit: Unit) -> None:
        """Post-order: the sub-scopes' inputs and exports, then this scope's class."""
        for it in unit.items:
            if it.unit is not None:
                self._close(it.unit)
                it.inputs, it.outputs = it.unit.inputs, it.unit.exports
        nodes = self._nodes(unit)
        unit.names = {n.name for n in nodes}
        if unit.path == "":
            unit.inputs = [INPUT]
            unit.exports = list(dict.fromkeys(o.node for o in self.g.outputs.values()))
        else:
            unit.inputs = list(dict.fromkeys(r for n in nodes for r in n.inputs if not _inside(r, unit.path)))
            unit.exports = [n.name for n in nodes if n.name in self.output_refs or
                            any(not _inside(c, unit.path) for c in self.consumers.get(n.name, []))]
            unit.exports = unit.exports or [nodes[-1].name]
            unit.sequential = self._is_sequential(unit)
        if not unit.sequential:
            self._classify(unit)

    def _nodes(self, unit: Unit) -> list[Node]:
        out = []
        for it in unit.items:
            out += [it.node] if it.node is not None else self._nodes(it.unit)
        return out

    def _names_of(self, it: Item) -> set[str]:
        return {it.node.name} if it.node else it.unit.names

    def _is_sequential(self, unit: Unit) -> bool:
        """A chain of numbered modules, each read only by the next: torchvision's nn.Sequential."""
        items = unit.items
        if [it.local for it in items] != [str(k) for k in range(len(items))] or len(unit.inputs) != 1:
            return False
        prev = unit.inputs
        for k, it in enumerate(items):
            if it.inputs != prev or len(it.outputs) != 1 or not it.module:
                return False
            if k + 1 < len(items) and not self._only_read_by(it.outputs[0], items[k + 1]):
                return False
            prev = it.outputs
        return prev == unit.exports

    def _only_read_by(self, ref: str, it: Item) -> bool:
        return ref not in self.output_refs and all(c in self._names_of(it) for c in self.consumers.get(ref, []))

    def _inplace(self, n: Node) -> bool:
        """An op may overwrite its first input when that is a fresh tensor nothing else reads."""
        if not n.op.inplace or not n.inputs or n.inputs[0] == INPUT:
            return False
        src = n.inputs[0]
        return (self.g.nodes[src].op.fresh and self.consumers.get(src) == [n.name]
                and n.inputs.count(src) == 1 and src not in self.output_refs)

    def _node_call(self, n: Node) -> Call:
        return n.op.module(n.attrs, n.in_shapes, n.shape, self._inplace(n))

    def _ctor(self, it: Item) -> Call | None:
        """The constructor of a child, or None for a functional node."""
        if not it.module:
            return None
        u = it.unit
        if u is None:
            call = self._node_call(it.node)
            for d in call.defs:
                self.defs.setdefault(d.strip("\n"))
            return call
        if u.sequential:
            return Call("nn.Sequential", tuple((c.local, self._ctor(c)) for c in u.items))
        return Call(u.cls.name, tuple(zip(u.cls.params, u.values)))

    def _ctor_key(self, it: Item):
        if not it.module:
            return None
        u = it.unit
        if u is None:
            return _shape_key(self._node_call(it.node))
        return ("seq", tuple(self._ctor_key(c) for c in u.items)) if u.sequential else ("cls", u.key)

    # -- classes -------------------------------------------------------------------

    def _classify(self, unit: Unit) -> None:
        """Give a scope its class: one per structure, numbers aside."""
        forward = self._forward(unit)
        scope = unit.scope
        base = (_camel(scope.block) if scope and scope.block else
                _camel(_local(unit.path)) if unit.path else self._root_name())
        unit.key = (base, tuple((it.local, self._ctor_key(it)) for it in unit.items), tuple(forward))
        cls = self.classes.get(unit.key)
        if cls is None:
            name, k = base, 1
            while name in self.class_names:
                k += 1
                name = f"{base}{k}"
            self.class_names.add(name)
            cls = self.classes[unit.key] = Cls(name, [], forward)
        cls.units.append(unit)
        unit.cls = cls

    def _root_name(self) -> str:
        """The top class: the spec's title (ResNet-50 -> ResNet50), else its name."""
        words = re.split(r"[^A-Za-z0-9]+", (self.g.meta.get("title") or "").split("(")[0])
        name = "".join(w[:1].upper() + w[1:] for w in words if w)
        return name if name_problem(name) is None and len(name) <= 30 else _camel(self.g.name)

    def _parameterise(self, cls: Cls) -> None:
        """The constructor's parameters: the numbers that differ between the class's instances,
        one parameter for positions that are always equal, named after a block parameter or
        the in/out channels where they match one."""
        per_unit = [self._positions(u) for u in cls.units]
        labels = [lab for lab, _ in per_unit[0]]
        columns = list(zip(*[[v for _, v in pos] for pos in per_unit])) if labels else []
        names: dict[tuple, str] = {}
        cls.slots = []
        for label, col in zip(labels, columns):
            key = tuple(map(repr, col))        # by repr: 1 and 1.0 are different arguments
            if len(set(key)) == 1:
                cls.slots.append(None)
                continue
            if key not in names:
                names[key] = self._param_name(cls, col, label, set(names.values()))
            cls.slots.append(names[key])
        cls.params = list(dict.fromkeys(s for s in cls.slots if s))
        column_of = {}
        for slot, col in zip(cls.slots, columns):
            if slot:
                column_of.setdefault(slot, col)
        for i, u in enumerate(cls.units):
            u.values = [column_of[p][i] for p in cls.params]

    def _positions(self, unit: Unit) -> list:
        out = []
        for it in unit.items:
            call = self._ctor(it)
            if call is not None:
                _numbers(call, it.local, out)
        return out

    def _param_name(self, cls: Cls, col: tuple, label: str, taken: set) -> str:
        scopes = [u.scope for u in cls.units]
        candidates = []
        if all(s is not None for s in scopes):
            candidates += [arg for arg in scopes[0].args if all(arg in s.args for s in scopes)
                           and tuple(s.args[arg] for s in scopes) == col]
        for side, refs in (("in_channels", [u.inputs for u in cls.units]),
                           ("out_channels", [u.exports for u in cls.units])):
            if all(len(r) == 1 for r in refs) and tuple(self.g.shape_of(r[0])[0] for r in refs) == col:
                candidates.append(side)
        fallback = re.sub(r"\W", "_", label if label[0].isalpha() else "m" + label)
        for c in candidates + [fallback]:
            if name_problem(c) is None and c not in taken:
                return c
        k = 2
        while f"{fallback}_{k}" in taken:
            k += 1
        return f"{fallback}_{k}"

    # -- forward ---------------------------------------------------------------------

    def _schedule(self, unit: Unit) -> tuple[list[Item], list[Item]]:
        """Items in order; at the top, those that only training-only outputs need go last,
        under `if self.training:`, so that eval mode does not compute them."""
        if unit.path != "" or not self.train_only:
            return unit.items, []
        main, train = [], []
        for it in unit.items:
            (train if self._names_of(it) <= self.train_only else main).append(it)
        return main, train

    def _forward(self, unit: Unit) -> list[str]:
        """Straight-line forward code; a variable is overwritten once its value is dead."""
        main, train = self._schedule(unit)
        order = main + train
        last = {r: i for i, it in enumerate(order) for r in it.inputs}
        last.update({r: len(order) for r in unit.exports})
        var: dict[str, str] = {}
        live: dict[str, str] = {}            # variable -> the ref it holds now
        for r, v in zip(unit.inputs, self._arg_names(unit)):
            var[r], live[v] = v, r
        lines = []
        for i, it in enumerate(order):
            if train and i == len(main):
                lines.append("if self.training:")
            expr = self._expr(it, [var[r] for r in it.inputs])
            dying = [r for r in dict.fromkeys(it.inputs) if last[r] == i]
            for r in dying:
                live.pop(var[r], None)
            reusable = var[it.inputs[0]] if it.inputs and dying[:1] == it.inputs[:1] else None
            if expr == reusable and len(it.outputs) == 1:     # identity: the value just changes name
                var[it.outputs[0]], live[reusable] = reusable, it.outputs[0]
                continue
            names = []
            for o in it.outputs:
                v = self._name(it, o, order, i, reusable, live, unit.exports)
                var[o], live[v] = v, o
                names.append(v)
            lines.append(f"{'    ' if i >= len(main) else ''}{', '.join(names)} = {expr}")
        return lines + self._returns(unit, var, bool(train))

    @staticmethod
    def _arg_names(unit: Unit) -> list[str]:
        return ["x"] if len(unit.inputs) == 1 else [f"x_{k}" for k in range(len(unit.inputs))]

    def _name(self, it: Item, ref: str, order: list, i: int, reusable: str | None, live: dict,
              exports: list[str]) -> str:
        """A branch keeps its spec name; a chain reuses its input's variable, else it is `out`."""
        nxt = order[i + 1] if i + 1 < len(order) else None
        chained = exports == [ref] if nxt is None else len(nxt.inputs) == 1 and self._only_read_by(ref, nxt)
        reuse = reusable is not None and _GENERIC.match(reusable) and len(it.outputs) == 1
        plain = reuse and len(self.consumers.get(ref, [])) == 1 and ref not in exports
        if it.named and not chained and not plain and len(it.outputs) == 1 and name_problem(it.local) is None:
            base = it.local
        elif reuse:
            return reusable
        else:
            base = "out"
        name, k = base, 0
        while name in live:
            k += 1
            name = f"{base}_{k}"
        return name

    def _expr(self, it: Item, args: list[str]) -> str:
        if it.module:
            return f"{_attr(it.local)}({', '.join(args)})"
        n = it.node
        with _located(it):
            expr = n.op.call(n.attrs, args, self._inplace(n))
        return f"_probe(self, {literal(it.local)}, {expr})" if self.probe else expr

    def _returns(self, unit: Unit, var: dict, in_train_block: bool) -> list[str]:
        if unit.path != "":
            return [f"return {', '.join(var[r] for r in unit.exports)}"]
        outs = list(self.g.outputs.values())
        evals = [o for o in outs if not o.train_only] or outs

        def value(os_):
            if len(os_) == 1:
                return var[os_[0].node]
            return "{" + ", ".join(f"{literal(o.name)}: {var[o.node]}" for o in os_) + "}"
        if len(evals) == len(outs):
            return [f"return {value(outs)}"]
        head = [] if in_train_block else ["if self.training:"]
        return head + [f"    return {value(outs)}", f"return {value(evals)}"]

    # -- the file ------------------------------------------------------------------------

    def source(self) -> str:
        root = self.tree()
        for cls in self.classes.values():       # post-order: a class's children come first
            self._parameterise(cls)
        classes = [self._class(cls, cls is root.cls) for cls in self.classes.values()]
        return "\n\n\n".join([self._header(), *self.defs, *classes, f"Model = {root.cls.name}"]) + "\n"

    def _header(self) -> str:
        g = self.g
        title = f" ({_text(g.meta['title'])})" if g.meta.get("title") else ""
        return (f"# Generated by archspec {__version__} from spec '{_text(g.name)}'{title}: "
                "edit the spec, not this file.\n"
                f"# params {g.params:,}; MACs {g.macs:,} (multiply-accumulates of conv and linear layers)\n"
                "import torch\nimport torch.nn.functional as F\nfrom torch import nn")

    def _class(self, cls: Cls, root: bool) -> str:
        unit = cls.units[0]
        lines = [f"class {cls.name}(nn.Module):", f'    """{self._doc(cls, root)}"""', ""]
        if root:
            weights = {o.name: o.loss_weight for o in self.g.outputs.values() if o.loss_weight is not None}
            lines += [f"    input_shape = {literal(tuple(self.g.input_shape))}",
                      f"    output_names = {literal(tuple(self.g.outputs))}",
                      *([f"    loss_weights = {{{', '.join(f'{literal(k)}: {literal(v)}' for k, v in weights.items())}}}"
                         "      # the spec's weights of the extra losses"]
                        if weights else []), ""]
        lines += [f"    def __init__(self{''.join(f', {p}' for p in cls.params)}):", "        super().__init__()"]
        slots = iter(cls.slots)
        for it in unit.items:
            self._check_attr(it, root)
            call = self._ctor(it)
            if call is not None:
                with _located(it):
                    text = _render(call, slots, "        ")
                lines.append(f"        self.{it.local} = {text}" if it.local.isidentifier()
                             else f"        self.add_module({literal(it.local)}, {text})")
        if root and self.init:
            lines.append("        self.init_weights()")
        lines += ["", f"    def forward(self, {', '.join(self._arg_names(unit))}):"]
        lines += [f"        {line}" for line in cls.forward]
        if root and self.init:
            lines += [""] + [f"    {line}" for line in self._init_weights()]
        return "\n".join(lines)

    def _doc(self, cls: Cls, root: bool) -> str:
        if not root:
            units = cls.units
            scope = units[0].scope
            what = f"Block '{scope.block}'" if scope and scope.block else "Group"
            where = ", ".join(u.path for u in units[:4]) + (", ..." if len(units) > 4 else "")
            return _text(f"{what}: {where}" + (f" ({len(units)} instances)." if len(units) > 1 else "."))
        g = self.g
        parts = [g.meta.get("title") or g.name] + ([g.meta["paper"]] if g.meta.get("paper") else [])
        outs = ", ".join(f"{o.name} (training only)" if o.train_only else o.name for o in g.outputs.values())
        ret = ("the output tensor" if len(g.outputs) == 1 else
               f"a dict of the outputs {outs}; in eval mode the training-only ones are left out "
               "(a tensor where one output is left)" if any(o.train_only for o in g.outputs.values()) else
               f"a dict of the outputs {outs}")
        parts.append(f"Input (N, {', '.join(map(str, g.input_shape))}); forward returns {ret}.")
        return "\n\n    ".join(map(_text, parts))

    def _check_attr(self, it: Item, root: bool) -> None:
        if it.local.startswith("_") or (root and it.local in ROOT_ATTRS):
            raise SpecError(f"'{it.local}' cannot be a module attribute name", loc=_loc(it),
                            hint="rename the node: names starting with _ and "
                                 f"{', '.join(sorted(ROOT_ATTRS))} are the compiled module's own")

    # -- init ----------------------------------------------------------------------------

    def _init_weights(self) -> list[str]:
        from .ops import REGISTRY
        lines = ["def init_weights(self):", '    """The spec\'s `init:` rules."""']
        rules = [(REGISTRY[op].init_modules, _init_lines(r, self._has(op, "weight"), self._has(op, "bias")))
                 for op, r in self.init.rules.items()]
        rules = [(types, body) for types, body in rules if body]
        if rules:
            lines.append("    for m in self.modules():")
        for types, body in rules:
            kind = types[0] if len(types) == 1 else f"({', '.join(types)})"
            lines += [f"        if isinstance(m, {kind}):", *(f"            {b}" for b in body)]
        zero = self._zero_names()
        if zero:
            lines += [f"    for name in {literal(tuple(zero))}:",
                      "        nn.init.zeros_(self.get_submodule(name).weight)"]
        return lines if len(lines) > 2 else lines + ["    pass"]

    def _has(self, op: str, tensor: str) -> bool | None:
        """Whether the op's modules here have the tensor: True (all), False (none), None (some)."""
        has = {any(t.key.rsplit(".", 1)[-1] == tensor for t in n.tensors)
               for n in self.g.nodes.values() if n.op.name == op}
        return None if len(has) > 1 else has.pop() if has else False

    def _zero_names(self) -> list[str]:
        names: dict[str, None] = {}
        for pat in self.init.zero:
            hits = [n.name for n in self.g.nodes.values() if fnmatch.fnmatchcase(n.name, pat)
                    and any(t.key == "weight" and not t.buffer for t in n.tensors)]
            if not hits:
                raise SpecError(f"init: zero pattern {pat!r} matches no node with a weight", loc=self.init_loc,
                                hint="patterns are fnmatch globs over node names, e.g. layer*.*.bn3")
            names.update(dict.fromkeys(hits))
        return list(names)


def _loc(it: Item) -> Loc | None:
    return it.node.loc if it.node else it.unit.scope.loc if it.unit.scope else None


@contextmanager
def _located(it: Item | Node):
    """A SpecError from writing a node's or scope's source, placed at its YAML location."""
    try:
        yield
    except SpecError as e:
        if isinstance(it, Node):
            path, loc = it.name, it.loc
        else:
            path, loc = (it.node.name if it.node else it.unit.path), _loc(it)
        raise SpecError(f"{path}: {e.message}", e.hint, e.loc or loc) from None


def _init_lines(rule: InitRule, weight: bool | None, bias: bool | None) -> list[str]:
    """The torch.nn.init calls of one rule on a module `m`; `weight`/`bias`: whether the modules
    have that tensor (None: some do, so test it)."""
    w = rule.weight
    if not isinstance(w, str):
        call = f"nn.init.constant_(m.weight, {literal(float(w))})"
    elif w.startswith("kaiming"):
        a = f"a={literal(rule.a)}, " if rule.a else ""
        call = f"nn.init.{w}_(m.weight, {a}mode={literal(rule.mode)}, nonlinearity={literal(rule.nonlinearity)})"
    elif w.startswith("xavier"):
        call = f"nn.init.{w}_(m.weight, gain={literal(rule.gain)})"
    elif w in ("normal", "trunc_normal"):
        call = f"nn.init.{w}_(m.weight, {literal(rule.mean)}, {literal(rule.std)})"
    else:
        call = None
    calls = [(call, weight, "weight")]
    if not isinstance(rule.bias, str):
        calls.append((f"nn.init.constant_(m.bias, {literal(float(rule.bias))})", bias, "bias"))
    out = []
    for c, have, name in calls:
        if c and have is None:
            out += [f"if m.{name} is not None:", f"    {c}"]
        elif c and have:
            out.append(c)
    return out


def emit(graph: Graph, probe: bool = False) -> str:
    """The PyTorch source of a graph: helper classes, block classes, the top class (with the
    graph's `init:` rules), and `Model = <top class>`. With `probe`, every functional node's value
    passes through `_probe(module, local_name, value)`, which the caller defines (compiler.check)."""
    try:
        return Emitter(graph, probe).source()
    except SpecError as e:
        raise SpecErrors([Diagnostic(e.loc, e.message, hint=e.hint)]) from None


def module_filename(graph: Graph) -> str:
    """<name>.py, the spec name made an importable module name."""
    name = file_stem(graph.name)
    return ("_" + name if name[:1].isdigit() else name) + ".py"
