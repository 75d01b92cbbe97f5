"""A PyTorch model as archspec ops: torch.fx traces it, keeping the modules that are archspec
ops as leaves (archspec/pytorch/importing/table.py); every other module is traced into and becomes a
scope. The result is a tree of scopes (module instances, by their state_dict paths) whose
leaves are ops with their inputs. Imports torch."""
from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from ...names import name_problem, shown
from ...ops import REGISTRY
from . import table
from .table import Unsupported

INPUT = -1          # the id of the model's input


class ImportError_(Exception):
    """The model cannot be written as a spec: `where` is the module path and op, `hint` what to do."""

    def __init__(self, where: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.where, self.message, self.hint = where, message, hint


@dataclass
class Item:
    """One archspec op: `name` is the leaf module's attribute (None for a function call)."""
    id: int
    name: str | None
    op: str
    attrs: dict
    ins: list[int]
    where: str
    path: str | None = None      # the leaf module's state_dict prefix
    params: bool = False         # whether it holds parameters or buffers


@dataclass
class Scope:
    """A traced module instance: `path` its state_dict prefix, `parts` its ops and child scopes in order."""
    path: str
    cls: str                 # the module's class, qualified
    container: bool          # a plain nn.Sequential, nn.ModuleList or nn.ModuleDict (a group, never a block)
    parts: list = field(default_factory=list)

    @property
    def local(self) -> str:
        return self.path.rpartition(".")[2]


@dataclass
class Output:
    name: str
    id: int
    key: str                       # the fx node's name: the same output in the eval and the training trace
    train_only: bool = False


@dataclass
class Traced:
    root: Scope
    outputs: list[Output]          # the first is the eval-mode output
    calls: dict[str, int]          # leaf module path -> how many times it runs


class _Proxy(fx.Proxy):
    """A proxy whose length and items are those of its concrete value (a shape's), as Python sees them."""

    def __len__(self) -> int:
        return len(self.tracer.concrete(self))         # type: ignore[attr-defined]

    def __iter__(self):
        return iter([operator.getitem(self, k) for k in range(len(self))])


class _Tracer(fx.Tracer):
    """fx's tracer, keeping archspec's ops as leaves, that computes each node's value on the example
    input's shapes (meta or fake tensors) alongside: Python control flow on a shape (`if x.shape[-1] <
    7`, timm's padding helpers) takes the branch this input takes, so the graph is the model's on
    this input, as the spec is."""

    def __init__(self, example, mode):
        super().__init__()
        self.example, self.mode = example, mode
        self.values: dict[fx.Node, Any] = {}
        self.computing = False          # while a value is computed, modules and attributes are plain

    def call_module(self, m, forward, args, kwargs):
        return forward(*args, **kwargs) if self.computing else super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        return attr_val if self.computing else super().getattr(attr, attr_val, parameter_proxy_cache)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return table.is_op_module(m)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _Proxy(node, self)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None) -> fx.Node:
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        self.computing = True
        try:
            with self.mode or contextlib.nullcontext():
                self.values[node] = self._value(kind, target, args, kwargs)
        except Exception:      # noqa: BLE001 - no value: only control flow on it fails (to_bool)
            pass
        finally:
            self.computing = False
        return node

    def _value(self, kind, target, args, kwargs):
        a, kw = fx.node.map_arg((args, kwargs), lambda n: self.values[n])
        if kind == "placeholder":
            return self.example
        if kind == "get_attr":
            return operator.attrgetter(str(target))(self.root)
        if kind == "call_module":
            return self.root.get_submodule(str(target))(*a, **kw)
        if kind == "call_method":
            return getattr(a[0], str(target))(*a[1:], **kw)
        return target(*a, **kw)

    def concrete(self, p: fx.Proxy):
        if p.node not in self.values:
            raise fx.proxy.TraceError("symbolically traced variables cannot be used as inputs to control flow")
        return self.values[p.node]

    def to_bool(self, obj: fx.Proxy) -> bool:
        value = self.concrete(obj)
        if isinstance(value, torch.Tensor):
            raise fx.proxy.TraceError("control flow on a tensor's values (not its shape)")
        return bool(value)


def trace(model: nn.Module, input_shape: tuple) -> Traced:
    """Trace `model` on a (2, *input_shape) input (shapes from fake tensors, never computed) in
    eval mode; where modules with parameters do not run in eval mode (auxiliary heads), trace
    training mode too, and their outputs are the training-only ones."""
    traced = _trace(model, input_shape, train=False)
    held = {name for name, m in model.named_modules()
            if any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False))}
    if held - _covered(traced):
        main = {o.key for o in traced.outputs}
        training = _trace(model, input_shape, train=True)
        if not held - _covered(training) and main <= {o.key for o in training.outputs}:
            for o in training.outputs:
                o.train_only = o.key not in main
            training.outputs.sort(key=lambda o: o.train_only)
            traced = training
        model.eval()
    return traced


def _check_names(model: nn.Module) -> None:
    """Every module name is a node name (a state_dict key archspec can write), before fx writes code."""
    for path, _ in model.named_modules():
        local = path.rpartition(".")[2]
        problem = path and name_problem(local, index_ok=True)
        if problem:
            raise ImportError_(path.encode("unicode_escape").decode(), f"its name {shown(local)} cannot be an archspec "
                               f"node name: {problem}",
                               "archspec node names are state_dict keys that are Python identifiers or indices")


def _covered(traced: Traced) -> set[str]:
    """The modules whose own tensors the spec holds: those the ops run, and the owners of tensors
    used directly (a layer scale)."""
    return set(traced.calls) | {path.rpartition(".")[0] for path in traced.calls}


def _trace(model: nn.Module, input_shape: tuple, train: bool) -> Traced:
    _check_names(model)
    model.train(train)
    from torch._subclasses.fake_tensor import FakeTensorMode
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    fake = None if device.type == "meta" else FakeTensorMode(allow_non_fake_inputs=True)   # no real compute
    try:
        with fake or contextlib.nullcontext():
            example = torch.zeros(2, *input_shape, device=device)
        tracer = _Tracer(example, fake)
        graph = tracer.trace(model)
        gm = fx.GraphModule(model, graph)
    except Exception as e:     # noqa: BLE001 - fx refuses data-dependent control flow, and user code may raise
        raise ImportError_(type(model).__name__, f"torch.fx cannot trace it: {type(e).__name__}: {e}",
                           "archspec import needs a model torch.fx can trace (no control flow on tensor values)") \
            from None
    try:
        ShapeProp(gm, fake_mode=fake).propagate(torch.zeros(2, *input_shape, device=device))
    except Exception as e:     # noqa: BLE001 - the model's own forward may refuse the input
        raise ImportError_(type(model).__name__, f"the model does not run on a {tuple(input_shape)} input: "
                           f"{type(e).__name__}: {str(e)[:200]}", "give another --input C,H,W") from None
    values = {node.name: v for node, v in tracer.values.items() if isinstance(v, (int, float, bool))}
    _out_of_place(gm.graph)
    return _Builder(model, values).build(gm.graph)


def _out_of_place(graph: fx.Graph) -> None:
    """An in-place method, `out.mul_(g)` (NFNet's skipinit gain) or `x.relu_()`, changes its tensor
    for every later reader, which fx still points at the tensor before it: each later reader reads
    the call instead, and the call is the method's out-of-place twin (`mul`, `relu`), which the
    import table maps (a method it does not map stays an error naming it)."""
    order = {n: k for k, n in enumerate(graph.nodes)}
    for n in list(graph.nodes):
        method = n.target if n.op == "call_method" and isinstance(n.target, str) else ""
        if method.endswith("_") and not method.startswith("_") and isinstance(n.args[0], fx.Node):
            later = {user for user in n.args[0].users if order[user] > order[n]}
            n.args[0].replace_all_uses_with(n, delete_user_cb=later.__contains__)
            n.target = method[:-1]


def _is_tensor(n) -> bool:
    return isinstance(n, fx.Node) and isinstance(n.meta.get("tensor_meta"), TensorMetadata)


def _shape(n: fx.Node) -> tuple:
    return tuple(n.meta["tensor_meta"].shape)


def within(path: str, scope: str) -> bool:
    """Whether the module path lies in (or is) the scope's."""
    return scope == "" or path == scope or path.startswith(scope + ".")


def _cut(x: fx.Node, ix: Any, where: str) -> tuple[int, int, int, int]:
    """x[..., a:b:s, ...] as (axis, start, stop, step) on the one axis it cuts."""
    shape = _shape(x)
    index = ix if isinstance(ix, tuple) else (ix,)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (len(shape) - len(index) + 1) + index[k + 1:]
    cuts = []
    for axis, ix in enumerate(index):
        if not isinstance(ix, slice) or not all(isinstance(v, (int, type(None))) for v in
                                                 (ix.start, ix.stop, ix.step)):
            raise ImportError_(where, f"an index {ix!r} (archspec cuts tensors by slices of constant bounds)",
                               "register an op for it with --ops")
        start, stop, by = ix.indices(shape[axis])
        if (start, stop, by) != (0, shape[axis], 1):
            cuts.append((axis, start, stop, by))
    if len(cuts) > 1:
        raise ImportError_(where, f"a slice on {len(cuts)} axes at once", "archspec slices one axis at a time")
    return cuts[0] if cuts else (1, 0, shape[1], 1)


class _Builder:
    def __init__(self, model: nn.Module, values: dict[str, Any] | None = None):
        self.model = model
        self.root = _scope_of("", model)
        self.scopes = {"": self.root}
        self.ids: dict[fx.Node, int] = {}
        self.calls: dict[str, int] = {}
        self.count = 0
        self.pending: dict[fx.Node, tuple] = {}       # steps of a chunk or a channel shuffle
        self.values = values or {}      # the numbers forward computed from sizes (timm's pad_same), by node

    def build(self, graph: fx.Graph) -> Traced:
        output = None
        for n in graph.nodes:
            if n.op == "placeholder":
                if self.ids:
                    raise ImportError_(n.name, "the model takes more than one input", "archspec models take one")
                self.ids[n] = INPUT
            elif n.op == "output":
                output = n.args[0]
            elif n.op == "get_attr":       # a module's own tensor: a layer scale where a product reads it
                self.pending[n] = ("tensor", str(n.target))
            elif n.op == "call_module":
                self._module(n)
            else:
                self._call(n)
        return Traced(self.root, self._outputs(output), self.calls)

    def _outputs(self, value) -> list[Output]:
        """The tensors forward returns, named: by their node (its main output, keyed for the eval/train
        match), or by a named tuple's fields (GoogLeNetOutputs(logits, aux_logits2, aux_logits1))."""
        if _is_tuple_type(value):
            named = list(zip(value.target._fields, value.args))
        elif isinstance(value, (tuple, list)):
            named = [(f"out{k}", v) for k, v in enumerate(value)]
        else:
            named = [("output", value)]
        if not all(_is_tensor(v) and v in self.ids for _, v in named):
            raise ImportError_(type(self.model).__name__, "forward returns something else than tensors",
                               "archspec import takes a model that returns tensors")
        return [Output(k if len(named) > 1 else "output", self.ids[v], v.name) for k, v in named]

    def _scope(self, n: fx.Node, leaf: str | None = None) -> Scope:
        """The innermost traced module of a node (a leaf module's own entry left out). A container
        fx never enters (an nn.ModuleList indexed in forward: `convs.0`) is a scope of its own too,
        between its owner and its members, so their names are the state_dict's."""
        scope = self.root
        paths = []
        for key, (path, _cls) in (n.meta.get("nn_module_stack") or {}).items():
            if path == leaf or not path:
                continue
            if "@" in key:
                raise ImportError_(path, "this module runs more than once in forward (shared weights)",
                                   "archspec nodes run once; write the module twice")
            paths.append(path)
        if leaf and "." in leaf:
            paths.append(leaf.rpartition(".")[0])
        for path in paths:
            parts = path.split(".")
            for k in range(len(parts)):
                inner = ".".join(parts[:k + 1])
                if not within(inner, scope.path) or inner == scope.path:
                    continue
                if inner not in self.scopes:
                    child = _scope_of(inner, self.model.get_submodule(inner))
                    self.scopes[inner] = child
                    scope.parts.append(child)
                scope = self.scopes[inner]
        return scope

    def _where(self, n: fx.Node, what) -> str:
        stack = n.meta.get("nn_module_stack") or {}
        path = next(reversed(stack.values()))[0] if stack else "<model>"
        return f"{path or '<model>'} ({what})"

    def _add(self, n: fx.Node, scope: Scope, ops: list, name: str | None, ins: list[int], where: str,
             path: str | None = None, params: bool = False) -> None:
        named = _named(ops)
        for k, (op, attrs) in enumerate(ops):
            read = (ins[:1] if named else ins) if k == 0 else [self.count - 1, *ins[1:]][:len(ins) if k == named else 1]
            item = Item(self.count, name if k == named else None, op, attrs, read, where, path, params)
            self.count += 1
            scope.parts.append(item)
        self.ids[n] = self.count - 1

    def _module(self, n: fx.Node) -> None:
        path = str(n.target)
        m = self.model.get_submodule(path)
        where = f"{path} ({type(m).__name__})"
        try:
            ops = table.module_ops(m) or []
        except Unsupported as e:
            raise ImportError_(where, f"{type(m).__name__} with {e} has no archspec op",
                               "register an op for it with --ops") from None
        ins = self._tensor_ins(n, where)
        arity = max((REGISTRY[op].arity or 2 for op, _ in ops if op in REGISTRY), default=1)   # condconv: 2
        if len(ins) != arity or len(n.args) != arity or n.kwargs:
            raise ImportError_(where, f"a module called with {len(n.args) + len(n.kwargs)} arguments",
                               f"its op takes {arity}")
        self.calls[path] = self.calls.get(path, 0) + 1
        held = any(True for _ in m.parameters()) or any(True for _ in m.buffers())
        self._add(n, self._scope(n, path), ops, path.rpartition(".")[2], ins, where, path, held)

    def _call(self, n: fx.Node) -> None:
        name = table.call_name(n.op, n.target)
        where = self._where(n, name)
        if _is_tuple_type(n):
            return           # the named tuple of the outputs
        if _attention_steps(self, n, where) or self._split_or_shuffle(n, where) or self._layer_scale(n, where) \
                or _broadcast(n, self.ids):
            return
        if not _is_tensor(n):
            if any(isinstance(v, TensorMetadata) for v in _flat(n.meta.get("tensor_meta"))):
                raise ImportError_(where, f"{name} returns several tensors and archspec has no such op",
                                   "register an op for it with --ops")
            return           # a size or flag: no op
        tensors = [a for a in _flat(n.args) + _flat(list(n.kwargs.values())) if _is_tensor(a)]
        values = self.values if n.target in table.SIZED_ARGS else {}
        rest = [_numbers(a, values) for a in (n.args[1:] if n.op == "call_method" else n.args) if not _holds_tensor(a)]
        kwargs = {k: _numbers(v, values) for k, v in n.kwargs.items() if not _holds_tensor(v)}
        call = table.Call([_shape(t) for t in tensors], rest, kwargs, _shape(n), _dense(tensors))
        try:
            ops = table.call_ops(n.op, n.target, call)
        except Unsupported as e:
            raise ImportError_(where, f"{name} with {e} has no archspec op",
                               "register an op for it with --ops") from None
        if ops is None:
            raise ImportError_(where, f"{name} has no archspec op", "register an op for it with --ops")
        self._add(n, self._scope(n), ops, None, self._tensor_ins(n, where, tensors), where)

    def _split_or_shuffle(self, n: fx.Node, where: str) -> bool:
        """Calls that are archspec ops only together: a split into pieces (x.chunk(k, 1), torch.split)
        and its items, each a slice (table.slice_ops); and view(n, g, c / g, h, w) -> transpose(1, 2) ->
        [contiguous] -> view(n, c, h, w) (a channel shuffle). Their steps wait in `self.pending` until
        the last one makes the op."""
        target = _name(n)
        x: Any = n.args[0] if n.args else None
        if target in ("chunk", "split", "tensor_split", "unbind") and x in self.ids:
            return self._pieces(n, x, target)
        step = self.pending.get(x) if isinstance(x, fx.Node) else None
        if target == "getitem" and step and step[0] == "pieces":
            k = n.args[1]
            if not isinstance(k, int):
                raise ImportError_(where, f"pieces taken by {k!r}", "archspec takes the pieces of a split one by one")
            bounds = step[3]
            k %= len(bounds) - 1
            self._slice(n, where, step[1], (step[2], bounds[k], bounds[k + 1], 1),
                        [b - a for a, b in zip(bounds, bounds[1:])])
            return True
        if target == "getitem" and x in self.ids and _is_tensor(n):
            self._slice(n, where, x, _cut(x, n.args[1], where), [])
            return True
        if target in ("view", "reshape") and x in self.ids and _is_tensor(n) and _ranks(x, n) == (4, 5):
            (b, c, h, w), y = _shape(x), _shape(n)
            if y[0] == b and y[1] * y[2] == c and y[3:] == (h, w) and _transposed(n):
                self.pending[n] = ("grid", self.ids[x], y[1])
                return True
        if step and step[0] in ("grid", "transposed"):
            if target == "transpose" and step[0] == "grid" and list(n.args[1:3]) in ([1, 2], [2, 1]):
                self.pending[n] = ("transposed", step[1], step[2])
                return True
            if target == "contiguous":
                self.pending[n] = step
                return True
            if target in ("view", "reshape", "flatten") and step[0] == "transposed" and len(_shape(n)) == 4:
                self._add(n, self._scope(n), [("channel_shuffle", {"groups": step[2]})], None, [step[1]], where)
                return True
        return False

    def _pieces(self, n: fx.Node, x: fx.Node, target: str) -> bool:
        """A split into pieces along one axis: their bounds, from the shapes torch gave them."""
        metas = [m for m in _flat(n.meta.get("tensor_meta")) if isinstance(m, TensorMetadata)]
        shape = _shape(x)
        given = {**dict(zip(("chunks" if target == "chunk" else "size", "dim"), n.args[1:])), **n.kwargs}
        dim: Any = given.get("dim", 0)
        axis: int = dim % len(shape)
        if target == "unbind" or not metas:
            return False
        sizes = [int(m.shape[axis]) for m in metas]
        self.pending[n] = ("pieces", x, axis, [sum(sizes[:k]) for k in range(len(sizes) + 1)])
        return True

    def _slice(self, n: fx.Node, where: str, x: fx.Node, cut: tuple[int, int, int, int], pieces: list) -> None:
        axis, start, stop, by = cut
        try:
            ops = table.slice_ops(_shape(x), axis, start, stop, by, pieces)
        except Unsupported as e:
            raise ImportError_(where, f"operator.getitem with {e} has no archspec op",
                               "register an op for it with --ops") from None
        self._add(n, self._scope(n), ops, None, [self.ids[x]], where)

    def _layer_scale(self, n: fx.Node, where: str) -> bool:
        """A product of a module's own (C, 1, 1) or (C,) parameter with a tensor: ConvNeXt's layer
        scale, the parameter of the module that runs it, named as torch names it."""
        tensors = [a for a in n.args if isinstance(a, fx.Node) and self.pending.get(a, ("",))[0] == "tensor"]
        if not tensors:
            return False
        step = self.pending[tensors[0]]
        path = step[1]
        if n.target in ("reshape", "view") and n.args[0] is tensors[0] and _onto_map(n):
            self.pending[n] = ("tensor", path, "flat")      # timm's gamma.reshape(1, -1, 1, 1): (C,) on a map
            return True
        owner, _, local = path.rpartition(".")
        scope = self._scope(n)
        p = dict(self.model.named_parameters()).get(path)
        x = [a for a in n.args if isinstance(a, fx.Node) and a in self.ids]
        per_channel = p is not None and (p.dim() == 0 or p.dim() in (1, 3) and tuple(p.shape[1:]) in ((), (1, 1)))
        if not (n.target in (operator.mul, torch.mul, "mul") and "layer_scale" in REGISTRY and per_channel
                and len(x) == 1 and len(n.args) == 2 and scope.path == owner):
            raise ImportError_(f"{path} ({type(self.model.get_submodule(owner)).__name__})",
                               "a parameter or buffer used directly in forward",
                               "register an op that holds it with --ops")
        assert p is not None
        uniform = p.device.type != "meta" and bool((p == p.flatten()[0]).all())
        attrs = {"init": float(p.flatten()[0])} if uniform else {}     # (initialisation is not imported)
        attrs.update({"flat": True} if len(step) > 2 else {"scalar": True} if p.dim() == 0 else {})
        self.calls[path] = 1
        self._add(n, scope, [("layer_scale", attrs)], local, [self.ids[x[0]]], where, path, True)
        return True

    def _tensor_ins(self, n: fx.Node, where: str, tensors: list | None = None) -> list[int]:
        tensors = tensors if tensors is not None else [a for a in _flat(n.args) if _is_tensor(a)]
        missing = [t for t in tensors if t not in self.ids]
        if missing and self.pending.get(missing[0], ("",))[0] == "tensor":
            raise ImportError_(where, f"it reads {self.pending[missing[0]][1]}, a parameter or buffer used directly "
                               "in forward", "register an op that holds it with --ops")
        if missing:
            raise ImportError_(where, f"an input of it ({missing[0].name}) is no archspec op's output",
                               "register an op for what makes it with --ops")
        return [self.ids[t] for t in tensors]


# -- attention (CLIP's attention pool): steps outside _Builder, which holds the rest --------------------

def _attention_steps(b: _Builder, n: fx.Node, where: str) -> bool:
    """The steps of CLIP's attention pool that are no plain call: its position embedding, its heads, its
    first token (as _Builder._split_or_shuffle)."""
    tensor = next((a for a in n.args if isinstance(a, fx.Node) and b.pending.get(a, ("",))[0] == "tensor"), None)
    if tensor is not None and _name(n) == "unsqueeze" and n.args[0] is tensor and tuple(n.args[1:]) == (0,):
        b.pending[n] = ("tensor", b.pending[tensor][1], "batch")        # pos_embed.unsqueeze(0), added next
        return True
    if tensor is not None and b.pending[tensor][2:] == ("batch",):
        return not _is_tensor(n) or _pos_embed(b, n, where, b.pending[tensor][1])     # (its .shape read: no op)
    return _heads_or_select(b, n, where, _name(n), n.args[0] if n.args else None)


def _heads_or_select(b: _Builder, n: fx.Node, where: str, target, x: Any) -> bool:
    """x.permute(2, 0, 3, 1, 4).unbind(0) (CLIP's q, k, v out of one qkv: the batch axis moved, then
    the pieces taken), each piece a slice of that axis, squeezed, the rest permuted; and x[:, 0] (an
    index, not a slice: CLIP's first token), a slice then squeezed."""
    step = b.pending.get(x) if isinstance(x, fx.Node) else None
    if target == "permute" and x in b.ids and _is_tensor(n):
        dims = tuple(n.args[1] if isinstance(n.args[1], (tuple, list)) else n.args[1:])
        if dims[0] != 0 and n.users and all(_name(u) == "unbind" and tuple(u.args[1:]) in ((), (0,))
                                             and not u.kwargs for u in n.users):
            b.pending[n] = ("heads", x, dims)
            return True
    if target == "unbind" and step and step[0] == "heads":
        b.pending[n] = step
        return True
    if target == "getitem" and step and step[0] == "heads" and isinstance(n.args[1], int):
        x, dims = step[1], step[2]
        k, shape, rest = n.args[1] % _shape(x)[dims[0]], _shape(x), [d - (d > dims[0]) for d in dims[1:]]
        cut = (dims[0], k, k + 1, 1)
    elif target == "getitem" and x in b.ids and _is_tensor(n) and any(
            type(i) is int for i in (n.args[1] if isinstance(n.args[1], tuple) else (n.args[1],))):
        index = n.args[1] if isinstance(n.args[1], tuple) else (n.args[1],)
        shape, rest = _shape(x), []
        cut = _cut(x, tuple(slice(i, i + 1 or None) if type(i) is int else i for i in index), where)
    else:
        return False
    kept = tuple(v for d, v in enumerate(shape) if d != cut[0])
    sliced = (*shape[1:cut[0]], 1, *shape[cut[0] + 1:])          # per sample, the cut axis of size 1
    ops = [("slice", {"axis": table.axis_of(cut[0]), "start": cut[1], "stop": cut[2]})]
    ops += table.reshape_ops(sliced, kept[1:])
    if rest and rest != sorted(rest):
        ops.append(("permute", {"dims": tuple(rest)}))
    b._add(n, b._scope(n), [op for op in ops if op[0] != "identity"] or [("identity", {})], None,
              [b.ids[x]], where)
    return True


def _pos_embed(b: _Builder, n: fx.Node, where: str, path: str) -> bool:
    """x + pos_embed.unsqueeze(0): a module's own parameter of the tokens' shape added to them
    (CLIP's attention pool), the `pos_embed` op named as torch names the parameter."""
    owner, _, local = path.rpartition(".")
    p = dict(b.model.named_parameters()).get(path)
    x = [a for a in n.args if isinstance(a, fx.Node) and a in b.ids]
    scope = b._scope(n)
    if not (n.target in (operator.add, torch.add, "add") and len(x) == 1 and len(n.args) == 2 and p is not None
            and tuple(p.shape) == _shape(x[0])[1:] and scope.path == owner):
        raise ImportError_(f"{path} ({type(b.model.get_submodule(owner)).__name__})",
                           "a parameter or buffer used directly in forward",
                           "register an op that holds it with --ops")
    b.calls[path] = 1
    b._add(n, scope, [("pos_embed", {})], local, [b.ids[x[0]]], where, path, True)
    return True


CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _scope_of(path: str, m: nn.Module) -> Scope:
    cls = type(m)
    return Scope(path, f"{cls.__module__}.{cls.__qualname__}", cls in CONTAINERS)


def _broadcast(n: fx.Node, ids: dict) -> bool:
    """y.expand_as(x) read by products only: no op, as archspec's mul broadcasts alike (ECA's gate)."""
    x = n.args[0] if n.args else None
    if n.op == "call_method" and n.target in ("expand_as", "expand") and isinstance(x, fx.Node) \
            and x in ids and n.users and all(u.target in (operator.mul, torch.mul, "mul") for u in n.users):
        ids[n] = ids[x]
        return True
    return False


def _ranks(x: fx.Node, n: fx.Node) -> tuple[int, int]:
    """A reshape's ranks in and out: (4, 5) may be a channel shuffle's view, (3, 5) is CLIP's (B, L, 3, h, d)."""
    return len(_shape(x)), len(_shape(n))


def _dense(tensors: list) -> bool:
    """Whether a call's first tensor input is laid out row-major (contiguous)."""
    return not tensors or tensors[0].meta["tensor_meta"].memory_format == torch.contiguous_format


def _transposed(n: fx.Node) -> bool:
    """Whether only transpose(1, 2) reads a 5-d view: a channel shuffle, else a plain reshape (SKNet's,
    ResNeSt's branches)."""
    return all(_name(u) == "transpose" and list(u.args[1:3]) in ([1, 2], [2, 1]) for u in n.users)


def _onto_map(n: fx.Node) -> bool:
    """A (1, C, 1, 1) view of a parameter (timm's gamma.reshape(1, -1, 1, 1))."""
    return _is_tensor(n) and len(_shape(n)) == 4 and _shape(n)[0] == _shape(n)[2] == _shape(n)[3] == 1


def _name(n: fx.Node):
    """A call's name alike for x.transpose(1, 2) and torch.transpose(x, 1, 2)."""
    return n.target if n.op == "call_method" else getattr(n.target, "__name__", None)


def _is_tuple_type(n) -> bool:
    return isinstance(n, fx.Node) and n.op == "call_function" and isinstance(n.target, type) \
        and issubclass(n.target, tuple)


def _flat(v) -> list:
    if isinstance(v, (list, tuple)) and not isinstance(v, TensorMetadata):
        return [x for item in v for x in _flat(item)]
    if isinstance(v, dict):
        return _flat(list(v.values()))
    return [v]


def _named(ops: list) -> int:
    """Which of a module's ops takes its name: the first, or the one after a 'same' pad (which reads
    the padded input and any other inputs, as condconv its routing)."""
    return next((k for k, (op, _) in enumerate(ops[:-1]) if op != "pad_same"), len(ops) - 1)


def _numbers(a: Any, values: dict[str, Any]) -> Any:
    """An argument with the numbers forward computed from the input's sizes (known on this input) in
    place of their nodes: F.pad(x, [pad_w // 2, ...]) in timm's pad_same. Only for the calls in
    table.SIZED_ARGS: elsewhere such a number may be the batch size, which a spec never holds."""
    if isinstance(a, fx.Node):
        return values.get(a.name, a)
    if type(a) in (list, tuple):
        return type(a)(_numbers(v, values) for v in a)
    return a


def _holds_tensor(v) -> bool:
    return any(_is_tensor(x) for x in _flat(v))
