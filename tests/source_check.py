"""A whitelist of what archspec's emitter legitimately writes, as a test oracle.

`check_generated_source(text)` raises AssertionError (with the offending line) when a
generated module holds anything beyond the shapes archspec/pytorch/emit/ produces:

- module level: the header comments, `from collections import OrderedDict` (where used),
  `import torch`, `import torch.nn.functional as F` (where used), `from torch import nn`,
  classes deriving from `nn.Module`, and `Model = <a class>`;
- helper classes (TableConv, Subsample, PadChannels, ...) are accepted only when they are,
  AST for AST, one of the helper texts that registered ops carry (`Call.defs`: constants
  of the op modules, never influenced by a spec);
- block classes: a docstring, the root class's literal attributes (input_shape, output_names, loss_weights),
  and the methods __init__, forward and init_weights, made of assignments (in __init__ to self.<child>,
  `self.se = Block(...) if se_reduction > 0 else None` for a child built under its block's `when:` (a name
  of the class's compared with an int), `self.residual = stride == 1` for a boolean `let:` the class decides
  (comparisons of its names and ints joined by or / and), or to a local of integer arithmetic of names and
  ints: a block's `let:`; the top class's width, also a choice by comparisons of such arithmetic `a if x > 0
  and c < 1 else b` and a floor `int(w * c)`), calls, returns, `out += identity` and the few `if`/`for` forms
  the emitter writes (`if self.downsample is not None:` for an optional child, whose __init__ argument defaults to None;
  nn.Sequential's run of equal children `*[Block(...) for _ in range(n)]` (a count of integer arithmetic of
  the class's names, where an item of a tuple of ints it takes stands as a name: ResNet's `range(layers[0] -
  1)`, `layers=(3, 4, 6, 3)` never assigned), or whose numbers follow their
  step's index `*[Block(..., rate * (3 + j) / 17.0) for j in range(3)]` (also `range(1, 4)`, or `range(1,
  n)` to the top class's count: a name no other in __init__ has, which the call reads), and its named
  children `nn.Sequential(OrderedDict([("name", Block(...)), ...]))`; an nn.Sequential of members some
  instances lack, built as torchvision's InvertedResidual: `layers = [Module(...), ...]` (or `[]`), `if t !=
  1:` / `if [not] flag:` with one `layers.append(Module(...))`, `layers.extend([Module(...), ...])`,
  `nn.Sequential(*layers)`, a repeat's steps among them built by `for i in range(reps):` whose body only appends
  (under a test of the index and the class's names, `if i > 0 or start_with_relu:`; `nn.ReLU(inplace=i > 0)`);
  nn.ModuleList's members that differ in ints, `[Block(c, p) for c, p in zip((16,
  32), (32, 64))]` (tuples of int constants, fresh variables); a repeat's `for i in range(n):
  self.add_module(f"name{i + 1}", Block(...))` and `for layer in self.children():`; forward's loops over
  nn.ModuleLists, `for conv in self.convs:` / `for conv, bn in zip(self.convs, self.bns):`, a ladder's `for
  i, (conv, bn) in enumerate(zip(self.convs, self.bns)):` (its body may append a variable to a list,
  `outs.append(sp)`, choose by `i == 0` or `i == 0 or self.<flag>`, and read the list's last item,
  `outs[-1]`), and its comprehension of the members' calls as a call's argument, `torch.stack([path(x) for
  path in self.paths], 1)`); forward annotated with torch.Tensor types only;
- the root's `fuse` method only as archspec/pytorch/emit/fuse.py's fixed text, AST for AST; any class's
  `fuse_pairs` attribute, a literal tuple of (conv, norm) pairs of plain dotted names;
- every name is an argument or local, self, torch, nn, F, super, getattr, isinstance or a
  class of the module; torch/nn/F attributes must be real, non-private, non-module
  members (and not a short list of side-effecting ones such as torch.load);
- no string constant but docstrings and plain (dotted) identifiers; no f-string, lambda,
  comprehension (but those two), subscript (but a list member's `self.convs[0]` and `outs[-1]`),
  with/try/while/del/global/nonlocal/yield/await, no exec,
  eval, open, compile, __import__, globals, locals; no attribute or name starting with _
  (but `super().__init__`); no control character anywhere in the text.

`probe=True` also admits the `_probe(self, 'name', value)` wrapper of emit's probe mode.
"""
from __future__ import annotations

import ast
import copy
import functools
import importlib
import pkgutil
import re
import sys

IMPORTS = ["import torch", "import torch.nn.functional as F", "from torch import nn"]
ORDERED = "from collections import OrderedDict"      # first, where an nn.Sequential names its children
GLOBALS = {"torch", "nn", "F", "super", "getattr", "isinstance", "max", "min",   # max/min: a bounded width (`call`)
           "int"}                       # int: a floor of a product (`int(w * compression)`, a block's too)
COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
ROOT_ATTRS = {"input_shape", "output_names", "loss_weights"}
METHODS = {"__init__", "forward", "init_weights"}
PLAIN = re.compile(r"^[A-Za-z0-9_]+(-[0-9]+)?(\.[A-Za-z0-9_]+(-[0-9]+)?)*$")   # an identifier, a number, a dotted
#                                                                   name (a part may end -N: RegNet's block1-0)
WORD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")        # a text parameter's value (`kind="proj"`): a word
INDEXED = re.compile(r"^(?:[0-9]+|[A-Za-z][A-Za-z0-9_]*-[0-9]+)$")    # features.0, RegNet's block1-0
LOOP_INDICES = ("i", "k", "index")
BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)
# members of torch that act outside the model (files, global state, compilation, imports)
TORCH_DENY = {
    "load", "save", "hub", "ops", "jit", "compile", "export", "onnx", "library", "classes",
    "utils", "backends", "package", "multiprocessing", "distributed", "cuda", "mps", "xpu",
    "manual_seed", "seed", "initial_seed", "set_rng_state", "get_rng_state", "from_file",
    "use_deterministic_algorithms", "set_default_device", "set_default_dtype", "set_default_tensor_type",
    "set_grad_enabled", "set_printoptions", "set_num_threads", "set_num_interop_threads",
    "set_anomaly_enabled", "set_warn_always", "set_flush_denormal", "set_float32_matmul_precision",
    "set_deterministic_debug_mode", "autograd", "fx", "overrides", "testing", "storage",
}


class _Reject(Exception):
    def __init__(self, node, why):
        super().__init__(why)
        self.node, self.why = node, why


TENSOR = ast.parse("torch.Tensor", mode="eval").body
LIST_TENSOR = ast.parse("list[torch.Tensor]", mode="eval").body
# An HRNet exchange's forward (emit/exchange.py), the loop variables and lists' names its fields.
EXCHANGE = """def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
    x = [{branch}(x_i) for {branch}, x_i in zip(self.{branches}, x)]
    x_fuse = []
    for i, {fuse} in enumerate(self.{fuse_layers}):
        y = x[0] if i == 0 else {fuse}[0](x[0])
        for j in range(1, len(x)):
            y = y + (x[j] if i == j else {fuse}[j](x[j]))
        x_fuse.append(self.{acts}[i](y))
    return x_fuse"""
MAYBE_TENSOR = ast.parse("torch.Tensor | None", mode="eval").body    # forward's input that defaults to another
ORDERED_DICT = ast.parse("OrderedDict", mode="eval").body


@functools.lru_cache(maxsize=None)
def _return_types() -> set[str]:
    """forward's return annotations: a tensor, a tuple of 2 to 64 of them, a dict of them,
    or (top class with training-only outputs) either."""
    texts = ["torch.Tensor", "dict[str, torch.Tensor]", "torch.Tensor | dict[str, torch.Tensor]"]
    texts += [f"tuple[{', '.join(['torch.Tensor'] * k)}]" for k in range(2, 65)]
    return {_dump(ast.parse(t, mode="eval").body) for t in texts}


def _arithmetic(e: ast.AST) -> bool:
    """Integer arithmetic of names and int constants (`planes * base_width // 64 * groups`): the
    only value a local of __init__ may hold (a block's `let:`, emit/specexpr.py)."""
    if isinstance(e, ast.BinOp):
        return isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)) \
            and _arithmetic(e.left) and _arithmetic(e.right)
    if isinstance(e, ast.UnaryOp):
        return isinstance(e.op, ast.USub) and _arithmetic(e.operand)
    return isinstance(e, ast.Name) or isinstance(e, ast.Constant) and type(e.value) is int


def _width(e: ast.AST) -> bool:
    """The top class's width local (emit/widthexpr.py): integer arithmetic, a choice between two
    by a test (`2 * growth if bottleneck > 0 and compression < 1 else 16`), or the floor of a
    product `int((a + b) * compression)`, of such parts."""
    if isinstance(e, ast.IfExp):
        return _test(e.test) and _width(e.body) and _width(e.orelse)
    if isinstance(e, ast.Call):
        return (isinstance(e.func, ast.Name) and e.func.id == "int" and len(e.args) == 1 and not e.keywords
                and isinstance(e.args[0], ast.BinOp) and isinstance(e.args[0].op, ast.Mult)
                and all(_width(x) or isinstance(x, ast.Name) for x in (e.args[0].left, e.args[0].right)))
    if isinstance(e, ast.BinOp):
        return isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)) \
            and _width(e.left) and _width(e.right)
    return _arithmetic(e)


def _test(e: ast.AST) -> bool:
    """A width choice's test: comparisons of widths and numbers (a float too: `compression < 1`),
    joined by and/or/not, or a name; or a name equal to a word (DPN's `kind == "down"`)."""
    if (isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], ast.Eq) and isinstance(e.left, ast.Name)
            and isinstance(e.comparators[0], ast.Constant) and type(e.comparators[0].value) is str):
        return bool(WORD.fullmatch(e.comparators[0].value))
    if isinstance(e, ast.BoolOp):
        return all(map(_test, e.values))
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
        return _test(e.operand)
    if isinstance(e, ast.Compare):
        return all(isinstance(op, COMPARE) for op in e.ops) and all(
            _width(x) or isinstance(x, ast.Constant) and type(x.value) is float for x in (e.left, *e.comparators))
    return isinstance(e, ast.Name)


def _fail(node, why):
    raise _Reject(node, why)


# -- helper classes -----------------------------------------------------------------------

def _dump(node) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


@functools.lru_cache(maxsize=None)
def _helper_dumps_static() -> dict:
    """{class name: {AST dumps}} of the helper class texts in archspec.ops' modules."""
    out: dict[str, set] = {}
    try:
        import archspec.ops as ops
        mods = [ops] + [importlib.import_module(f"archspec.ops.{m.name}") for m in pkgutil.iter_modules(ops.__path__)]
    except Exception:      # noqa: BLE001 - without the package, helpers go through the generic rules
        return out
    for mod in mods:
        _collect(vars(mod), out)
    return out


def _collect(namespace: dict, out: dict) -> None:
    for v in list(namespace.values()):
        if isinstance(v, str) and "(nn.Module)" in v and "class " in v:
            try:
                tree = ast.parse(v)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    out.setdefault(node.name, set()).add(_dump(node))


def _helper_dumps() -> dict:
    """The static helpers, plus those of ops registered later (user ops, `--ops FILE.py`)."""
    out = {k: set(v) for k, v in _helper_dumps_static().items()}
    try:
        from archspec.ops import REGISTRY
    except Exception:      # noqa: BLE001
        return out
    for op in REGISTRY.values():
        mod = sys.modules.get(type(op).__module__)
        if mod is not None and not type(op).__module__.startswith("archspec."):
            _collect(vars(mod), out)
    return out


# -- torch / nn / F attribute chains ------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _torch_attr_ok(root: str, chain: tuple) -> str | None:
    """None if `root.chain...` is an allowed torch member, else why not."""
    import types

    import torch
    import torch.nn.functional as F
    from torch import nn
    if any(a.startswith("_") for a in chain):
        return "private attribute"
    if root == "torch":
        if len(chain) != 1 or chain[0] in TORCH_DENY:
            return f"torch.{'.'.join(chain)} is not a model operation"
        v = getattr(torch, chain[0], None)
        if v is None or isinstance(v, types.ModuleType) or chain[0].startswith("set_"):
            return f"torch.{chain[0]} is not a torch function"
        return None
    if root == "F":
        v = getattr(F, chain[0], None) if len(chain) == 1 else None
        if v is None or not callable(v) or isinstance(v, type):
            return f"F.{'.'.join(chain)} is not a torch.nn.functional function"
        return None
    # nn
    if chain[0] == "init":
        v = getattr(nn.init, chain[1], None) if len(chain) == 2 else None
        if v is None or not isinstance(v, types.FunctionType):
            return f"nn.{'.'.join(chain)} is not an nn.init function"
        return None
    v = getattr(nn, chain[0], None) if len(chain) == 1 else None
    if not (isinstance(v, type) and (issubclass(v, nn.Module) or v is nn.Parameter)):
        return f"nn.{'.'.join(chain)} is not an nn.Module class"
    return None


def _chain(node):
    """(root Name, [attrs]) of a pure attribute chain, else (None, None)."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return (node.id, attrs[::-1]) if isinstance(node, ast.Name) else (None, None)


# -- the checker ----------------------------------------------------------------------------

class _Checker:
    def __init__(self, classes: set[str], probe: bool, ordered: bool = False):
        self.classes = classes
        self.probe = probe
        self.ordered = ordered          # the file imports OrderedDict
        self.forward = False            # checking a forward (its comprehension of members' calls)
        self.indices: set[str] = set()  # the index of the enumerate loop being checked (`x[i + 1]`)
        self.maybe: set[str] = set()       # forward's inputs that default to None (`shortcut=None`)
        self.lists: set[str] = set()       # __init__'s lists of members of an nn.Sequential (`layers`)
        self.steps: set[str] = set()       # in a step loop of __init__: the names it may read, its index too
        self.stages: set[str] = set()      # a depth loop's index (`depth_loop`)
        self.runs: set[str] = set()        # an item run's index (`item_run`)
        self.scales: set[str] = set()      # in an exchange's member: its indices (`listed_call`)
        self.dicts: set[str] = set()       # __init__'s OrderedDicts of named members (`layers = OrderedDict()`)
        self.tuples: set[str] = set()      # __init__'s parameters with a tuple of ints for default, never
        #                                    assigned (ResNet's `layers=(3, 4, 6, 3)`): a count reads their items
        self.tables: set[str] = set()      # those with a tuple of such tuples (a row loop's `rows`): a width
        #                                    reads an entry of the first or last row (`rows[0][3]`, `rows[-1][4]`)

    # expressions
    def expr(self, node, names: set[str]) -> None:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                if not PLAIN.match(v) or any(p.startswith("_") for p in v.split(".")):
                    _fail(node, f"string constant {v!r} is not a plain identifier or dotted name")
            elif not (v is None or isinstance(v, (bool, int, float))):
                _fail(node, f"constant {v!r} of type {type(v).__name__}")
            return
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                _fail(node, f"store to {node.id} outside an assignment")
            if node.id not in names and node.id not in GLOBALS and node.id not in self.classes \
                    and not (self.probe and node.id == "_probe"):
                _fail(node, f"unknown name {node.id!r}")
            return
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                _fail(node, f"attribute {node.attr!r}")
            root, chain = _chain(node)
            if root in ("torch", "nn", "F") and root not in names:
                why = _torch_attr_ok(root, tuple(chain))
                if why:
                    _fail(node, why)
                return
            self.expr(node.value, names)
            return
        if isinstance(node, ast.Call):
            self.call(node, names)
            return
        if (self.forward and isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and node.value.id in names and _dump(node.slice) == _dump(LAST)):     # a ladder's `outs[-1]`
            return
        if not self.forward and self._width_item(node):          # a depth loop's `dims[0]`, `dims[i + 1]`
            return
        if not self.forward and self._table_entry(node):         # a row loop's table's `rows[-1][4]`
            return
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):    # forward's list item, x[1]
            if not self._item(node, names):
                _fail(node, "a subscript of a name other than forward's list item, x[k]")
            return
        if isinstance(node, ast.Subscript):      # a list member, by index: self.convs[0], self.heads[1][0]
            if not (isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant)
                    and type(node.slice.value) is int and node.slice.value >= 0):
                _fail(node, "a subscript other than a list member's non-negative index")
            base = node.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if not (isinstance(base, ast.Attribute) and _chain(base)[0] == "self"):
                _fail(node, "a subscript of something other than a module list, self.NAME[k]")
            self.expr(node.value, names)
            return
        if isinstance(node, (ast.Tuple, ast.List)):
            if not isinstance(node.ctx, ast.Load):
                _fail(node, "store to a tuple or list outside an assignment")
            for e in node.elts:
                self.expr(e, names)
            return
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if k is None:
                    _fail(node, "dict unpacking")
                self.expr(k, names)
                self.expr(v, names)
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and self.scales == {"i", "j"}:
            if _dump(node) != _dump(ast.parse("2 ** (j - i)", mode="eval").body):    # an exchange's upsampling
                _fail(node, "a power other than an exchange's scale, 2 ** (j - i)")
            return
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, BINOPS):
                _fail(node, f"operator {type(node.op).__name__}")
            self.expr(node.left, names)
            self.expr(node.right, names)
            return
        if isinstance(node, ast.IfExp):         # a constructor argument chosen by a block flag (Xception's grow_first)
            flag = node.test.operand if isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not) \
                else node.test                  # or a module built under one: `nn.ReLU() if not no_relu else None`
            if self.forward and _ladder_test(node.test):    # a ladder's: `... if i == 0 or self.first else ...`
                flag = node.test.values[-1] if isinstance(node.test, ast.BoolOp) else node.test.left
                flag = flag.operand if isinstance(flag, ast.UnaryOp) else flag     # (`not self.first`)
            elif not self.forward and _guard(node):     # a child built under its block's `when:` (emit/guard.py)
                flag = node.test.left
            elif not self.forward and _let_guard(node):   # or under its boolean `let:` (WRN's shortcut)
                flag = None
                for n in ast.walk(node.test):
                    if isinstance(n, ast.Name):
                        self.expr(n, names)
            elif not self.forward and not isinstance(flag, ast.Name) and _width(node):
                flag = None             # a width's choice between widths (emit/widthexpr.py): its names checked
                for n in ast.walk(node.test):
                    if isinstance(n, ast.Name):
                        self.expr(n, names)
            elif not isinstance(flag, ast.Name):
                _fail(node.test, "a choice by other than a flag")
            for part in (flag, node.body, node.orelse):
                if part is not None:
                    self.expr(part, names)
            return
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)) or not isinstance(node.operand, ast.Constant):
                _fail(node, "unary operator on a non-number")
            self.expr(node.operand, names)
            return
        _fail(node, f"{type(node).__name__} expression")

    def _width_item(self, node) -> bool:
        """__init__'s item of a tuple of ints the class takes (`self.tuples`) as a width: by a
        constant index of 0 or more (DLA's `channels[2]`, emit/lift.py) or -1 (the last), or
        `[i + 1]`, i a depth loop's index."""
        k = node.slice if isinstance(node, ast.Subscript) else None
        constant = isinstance(k, ast.Constant) and type(k.value) is int and k.value >= 0
        run = isinstance(k, ast.Name) and k.id in self.runs or isinstance(k, ast.BinOp) and isinstance(
            k.op, ast.Add) and isinstance(k.left, ast.Name) and k.left.id in self.runs and isinstance(
            k.right, ast.Constant) and type(k.right.value) is int and k.right.value >= 1       # an item run's
        index = constant or run or k is not None and _dump(k) == _dump(LAST) or isinstance(
            k, ast.BinOp) and isinstance(k.op, ast.Add) and isinstance(k.left, ast.Name) and k.left.id in self.stages \
            and _dump(k.right) == _dump(ast.Constant(1))
        return (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
                and node.value.id in self.tuples and node.value.id not in self.lists and index)

    def _table_entry(self, node) -> bool:
        """__init__'s entry of a table the class takes (`self.tables`) as a row loop writes a width
        outside it: its first or last row (index 0 or -1), a column by a constant of 0 or more."""
        row = node.value if isinstance(node, ast.Subscript) else None
        return (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(row, ast.Subscript)
                and isinstance(row.ctx, ast.Load) and isinstance(row.value, ast.Name) and row.value.id in self.tables
                and row.value.id not in self.lists and _dump(row.slice) in (_dump(ast.Constant(0)), _dump(LAST))
                and isinstance(node.slice, ast.Constant) and type(node.slice.value) is int and node.slice.value >= 0)

    def _item(self, node, names: set[str]) -> bool:
        """forward's item of a list it holds, `x[1]`: a local by a constant index."""
        k = node.slice if isinstance(node, ast.Subscript) else None
        if isinstance(k, ast.BinOp) and isinstance(k.op, ast.Add) and isinstance(k.right, ast.Constant) \
                and type(k.right.value) is int:
            k = k.left                  # an enumerate loop's `x[i + 1]`
        return (self.forward and isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
                and (isinstance(k, ast.Constant) and type(k.value) is int and k is node.slice
                     or isinstance(k, ast.Name) and k.id in self.indices)
                and node.value.id in names and node.value.id != "self")

    def call(self, node: ast.Call, names: set[str]) -> None:
        f = node.func
        if isinstance(f, ast.Name) and f.id == "getattr":
            if (len(node.args) != 2 or node.keywords or not isinstance(node.args[0], ast.Name)
                    or node.args[0].id != "self" or not isinstance(node.args[1], ast.Constant)
                    or not isinstance(node.args[1].value, str) or not INDEXED.match(node.args[1].value)):
                _fail(node, "getattr other than getattr(self, '<index>')")
            return
        if isinstance(f, ast.Name) and f.id == "super":
            _fail(node, "super() outside `super().__init__()`")
        if isinstance(f, ast.Name) and f.id == "isinstance":
            if len(node.args) != 2 or node.keywords or not isinstance(node.args[0], ast.Name):
                _fail(node, "isinstance other than isinstance(m, <classes>)")
        if isinstance(f, ast.Name) and f.id in ("max", "min"):
            if not (len(node.args) == 2 and not node.keywords and all(map(_arithmetic, node.args))):
                _fail(node, "max/min other than of two integer widths (`max(1, in_channels // 4)`)")
        if isinstance(f, ast.Name) and f.id == "_probe":
            if len(node.args) != 3 or node.keywords or not isinstance(node.args[0], ast.Name) \
                    or node.args[0].id != "self":
                _fail(node, "_probe other than _probe(self, 'name', value)")
        if isinstance(f, ast.Attribute) and f.attr == "add_module" and _child_of_self(f.value):
            if not (len(node.args) == 2 and not node.keywords and (
                    isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and WORD.fullmatch(node.args[0].value) or self._loop_name(node.args[0], names))):
                _fail(node, "add_module other than self.<child>.add_module('<name>', module) or a block loop's")
            self.expr(node.args[1], names)
            return
        if isinstance(f, ast.Attribute) and f.attr == "add_module":
            if not (isinstance(f.value, ast.Name) and f.value.id == "self" and len(node.args) == 2
                    and (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                         and INDEXED.match(node.args[0].value) or self._loop_name(node.args[0], names))):
                _fail(node, "add_module other than self.add_module('<index>', module) or a loop's")
            self.expr(node.args[1], names)
            return
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in self.lists \
                and not self._list_call(node):
            _fail(node, "a call on a list of members other than `.append(Module(...))` or `.extend([...])`")
        self.expr(f, names)
        sequential = _dump(f) == _dump(ast.parse("nn.Sequential", mode="eval").body)
        module_list = _dump(f) == _dump(ast.parse("nn.ModuleList", mode="eval").body)
        if sequential and self.ordered and len(node.args) == 1 and not node.keywords \
                and isinstance(node.args[0], ast.Call) and _dump(node.args[0].func) == _dump(ORDERED_DICT):
            self.named_children(node.args[0], names)
            return
        for a in node.args:
            if isinstance(a, ast.Starred) and sequential and isinstance(a.value, ast.Name) \
                    and a.value.id in self.lists and len(node.args) == 1 and not node.keywords:
                continue                # nn.Sequential(*layers): a list of members __init__ built
            if isinstance(a, ast.Name) and a.id in self.dicts:
                if not (sequential and len(node.args) == 1 and not node.keywords):
                    _fail(a, "an OrderedDict of members other than nn.Sequential's one argument")
                continue                # nn.Sequential(layers): an OrderedDict of members __init__ built
            if isinstance(a, ast.Starred):
                if not sequential:
                    _fail(a, "*args in a call other than nn.Sequential's repeat")
                self.repeat_children(a.value, names, indexed=True)
                continue
            if isinstance(f, ast.Name) and f.id in self.classes and not self.forward \
                    and _tuple_slice(a, self.tuples - self.lists):   # an exchange's list: Exchange(widths[:3])
                continue
            if isinstance(a, ast.ListComp) and module_list and len(a.generators) == 1 \
                    and _over_len(a.generators[0].iter, names):   # an exchange's: [... for j in range(len(widths))]
                self.listed_members(a, names)
                continue
            if isinstance(a, ast.ListComp) and module_list and _over_ints(a):   # nn.ModuleList([... for c in (16, 32)])
                self.member_run(a, names)
                continue
            if isinstance(a, ast.ListComp) and module_list and self.tuples and _item_range(a):
                self.item_run(a, names)     # nn.ModuleList([Block(widths[i], head[i]) for i in range(4)])
                continue
            if isinstance(a, ast.ListComp) and module_list:     # nn.ModuleList([... for _ in range(n)]), or
                self.repeat_children(a, names, indexed=True)    # by index: Res2Net's `Slice(1, start=i * width, ...)`
                continue
            if isinstance(a, ast.ListComp) and self.forward:     # the members' calls: torch.stack([...], 1)
                self.member_calls(a, names)
                continue
            self.expr(a, names)
        for k in node.keywords:
            if k.arg is None or k.arg.startswith("_"):
                _fail(k.value if k.arg is None else node, "**kwargs or a private keyword in a call")
            if isinstance(k.value, ast.Compare) and self.steps:      # a step loop's `nn.ReLU(inplace=i > 0)`
                self.step_test(k.value, names)
                continue
            self.expr(k.value, names)

    def named_children(self, od: ast.Call, names: set[str]) -> None:
        """nn.Sequential's `OrderedDict([("name", Module(...)), ...])`: plain names, constructor calls;
        a run of them `*[(f"name{j + 2}", Module(..., 352 + 32 * j)) for j in range(n)]`."""
        items = od.args[0] if len(od.args) == 1 and not od.keywords else None
        if not (isinstance(items, ast.List) and items.elts and all(
                isinstance(e, ast.Starred) or isinstance(e, ast.Tuple) and len(e.elts) == 2
                and isinstance(e.elts[0], ast.Constant) and isinstance(e.elts[0].value, str)
                and isinstance(e.elts[1], ast.Call) for e in items.elts)):
            _fail(od, "an OrderedDict other than nn.Sequential's `OrderedDict([(\"name\", Module(...)), ...])`")
        for e in items.elts:
            if isinstance(e, ast.Starred):
                self.named_run(e.value, names)
                continue
            self.expr(e.elts[0], names)
            self.call(e.elts[1], names)

    def named_run(self, comp: ast.expr, names: set[str]) -> None:
        """`[(f"<plain name>{j}", Module(...)) for j in range(<int>)]` (or `{j + <int>}`): the index a
        name of its own, read by the name and the call's arithmetic, nothing else."""
        gen = comp.generators[0] if isinstance(comp, ast.ListComp) and len(comp.generators) == 1 else None
        target = gen.target.id if gen is not None and isinstance(gen.target, ast.Name) else None
        it = gen.iter if gen is not None else None
        elt = comp.elt if isinstance(comp, ast.ListComp) else None
        if not (gen is not None and target is not None and not gen.ifs and not gen.is_async
                and self._index_name(target, names) and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id == "range" and len(it.args) == 1 and not it.keywords
                and isinstance(it.args[0], ast.Constant) and type(it.args[0].value) is int and it.args[0].value >= 2
                and isinstance(elt, ast.Tuple) and len(elt.elts) == 2 and isinstance(elt.elts[1], ast.Call)
                and self._loop_name(elt.elts[0], {target}, (target,))):
            _fail(comp, "a run of named children other than `*[(f\"name{j}\", Module(...)) for j in range(n)]`")
        self.call(elt.elts[1], names | {target})

    def repeat_children(self, comp: ast.expr, names: set[str], indexed: bool = False) -> None:
        """nn.Sequential's `*[Block(...) for _ in range(<int>)]` (nn.ModuleList's without the star):
        one constructor call, made n times, or as many times as integer arithmetic of the class's
        own names says (`range(n - 1)`, the top class's depth); nn.Sequential's and nn.ModuleList's
        (`indexed`) also `*[Block(..., j) for j in range(<int>)]` or `range(<int>, <int>)`, the call reading the
        index, a name of its own, and `range(<int>, <count>)` (from step 1 or later to the top class's
        count: PyramidNet's units 1 .. n - 1 of a stage)."""
        a = comp
        gen = comp.generators[0] if isinstance(comp, ast.ListComp) and len(comp.generators) == 1 else None
        it = gen.iter if gen is not None else None
        bounds = [b.value for b in it.args if isinstance(b, ast.Constant) and type(b.value) is int] \
            if isinstance(it, ast.Call) else []
        counted = (isinstance(it, ast.Call) and len(it.args) == 1 and not bounds    # range(n - 1): the top's depth
                   and self._count(it.args[0], names))
        target = gen.target.id if gen is not None and isinstance(gen.target, ast.Name) else None
        index = indexed and target is not None and target != "_" and self._index_name(target, names) \
            and isinstance(comp.elt, ast.Call) and any(isinstance(n, ast.Name) and n.id == target
                                                       for n in ast.walk(comp.elt))
        counted_from = (index and isinstance(it, ast.Call) and len(it.args) == 2    # range(1, n): steps 1.. of n
                        and isinstance(it.args[0], ast.Constant) and type(it.args[0].value) is int
                        and it.args[0].value >= 1 and not isinstance(it.args[1], ast.Constant)
                        and self._count(it.args[1], names))
        whole = counted or counted_from or isinstance(it, ast.Call) and len(it.args) == len(bounds) and (
            len(bounds) == 1 and bounds[0] >= 2      # range(n), or range(start, stop) of an index from 1 on
            or index and len(bounds) == 2 and bounds[0] >= 1 and bounds[1] - bounds[0] >= 2)
        if not (gen is not None and not gen.ifs and not gen.is_async and (target == "_" or index) and whole
                and isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and not it.keywords and isinstance(comp.elt, ast.Call)):
            _fail(a, "a repeated member other than `[Block(...) for _ in range(n)]` or nn.Sequential's "
                     "`*[Block(..., j) for j in range(n)]`")
        self.call(comp.elt, names | {target} if index else names)    # `_` stays unbound: the call cannot read it

    def _count(self, e: ast.expr, names: set[str]) -> bool:
        """A repeat's count: integer arithmetic of the class's own names, where an item of a tuple
        of ints the class takes (`self.tuples`), by a constant index of 0 or more, stands as a name
        (ResNet's `layers[0] - 1`); no other subscript."""
        items = [n for n in ast.walk(e) if isinstance(n, ast.Subscript)]
        if not all(isinstance(n.ctx, ast.Load) and isinstance(n.value, ast.Name) and n.value.id in self.tuples
                   and n.value.id not in self.lists and isinstance(n.slice, ast.Constant)
                   and type(n.slice.value) is int and n.slice.value >= 0 for n in items):
            return False
        plain = _Items().visit(copy.deepcopy(e))
        return _arithmetic(plain) and all(n.id in names for n in ast.walk(plain) if isinstance(n, ast.Name))

    def member_run(self, comp: ast.ListComp, names: set[str]) -> None:
        """nn.ModuleList's `[Block(..., c, ...) for c in (16, 32, 64)]` or `[Block(c, p) for c, p in
        zip((16, 32, 64), (32, 64, 128))]` (emit/classes.py `_list_run`): one constructor call, its
        variables fresh names (none of __init__'s, no two alike), one per tuple of int constants of
        one length, the call's to read."""
        gen = comp.generators[0] if len(comp.generators) == 1 else None
        target = gen.target if gen is not None else None
        fresh = target.elts if isinstance(target, ast.Tuple) else [target]
        tuples = _over_ints(comp)
        ids = [t.id for t in fresh if isinstance(t, ast.Name)]
        if not (gen is not None and not gen.ifs and not gen.is_async and isinstance(comp.elt, ast.Call)
                and len(ids) == len(fresh) == len(tuples) and len(set(ids)) == len(ids)
                and (isinstance(target, ast.Tuple)) == (len(tuples) > 1 or isinstance(gen.iter, ast.Call))
                and all(self._index_name(v, names) for v in ids)):
            _fail(comp, "a run of members other than `[Block(..., c) for c, ... in zip((ints), ...)]`")
        self.call(comp.elt, names | set(ids))

    def item_run(self, comp: ast.ListComp, names: set[str]) -> None:
        """nn.ModuleList's `[Block(widths[i], 4 * head[i + 1]) for i in range(<int>)]` (emit/classes.py
        `_item_run`): one constructor call, its index a fresh name that reads only items of the
        tuples the class takes, `name[i]` or `name[i + <int>]`."""
        i = comp.generators[0].target.id                                                 # type: ignore[attr-defined]
        if not self._index_name(i, names) or not isinstance(comp.elt, ast.Call):
            _fail(comp, "a run of members other than `[Block(..., widths[i]) for i in range(n)]`")
        self.runs.add(i)
        try:
            self.call(comp.elt, names)      # (i itself no name the call may read: only as an item's index)
        finally:
            self.runs.discard(i)

    def listed_members(self, comp: ast.ListComp, names: set[str]) -> None:
        """An exchange's list over its widths (emit/listclass.py): `[Block(widths[j]) for j in
        range(len(widths))]`, or `for _ in` where the call reads no index."""
        gen = comp.generators[0]
        j = gen.target.id if isinstance(gen.target, ast.Name) else None
        if j is None or gen.ifs or gen.is_async or not isinstance(comp.elt, ast.Call) or j != "_" and j != "j":
            _fail(comp, "an exchange's list other than `[Block(widths[j]) for j in range(len(widths))]`")
        self.listed_call(comp.elt, gen.iter, names, {"j"} - {j} if j == "_" else {j})

    def listed_call(self, call: ast.Call, it: ast.Call, names: set[str], indices: set[str]) -> None:
        """A member of an exchange's list (`listed_members`, `exchange_loop`): a constructor whose widths
        are the list's items by the loop's indices, `widths[j]`, a scale `2 ** (j - i)`, a count `i - j - 1`."""
        listing = it.args[0].args[0].id                                        # type: ignore[attr-defined]
        kept = (set(self.tuples), set(self.runs))
        self.tuples.add(listing)
        self.runs |= indices
        self.scales = indices
        try:
            self.call(call, names | indices)
        finally:
            self.tuples, self.runs = kept
            self.scales = set()

    def exchange_loop(self, s: ast.For, names: set[str]) -> None:
        """An exchange's fuse layers (emit/listclass.py), as timm's `_make_fuse_layers`: `for i in
        range(len(widths)):`, a list `fuse_layer = nn.ModuleList()`, `for j in range(len(widths)):`
        appending under `if j > i:` one member, `elif j < i:` another, else None; then
        `self.fuse_layers.append(fuse_layer)`."""
        body = s.body
        ok = (isinstance(s.target, ast.Name) and s.target.id == "i" and not s.orelse and len(body) == 3
              and isinstance(body[0], ast.Assign) and len(body[0].targets) == 1
              and isinstance(body[0].targets[0], ast.Name)
              and _dump(body[0].value) == _dump(ast.parse("nn.ModuleList()", mode="eval").body)
              and isinstance(body[1], ast.For) and isinstance(body[1].target, ast.Name)
              and body[1].target.id == "j" and _dump(body[1].iter) == _dump(s.iter) and not body[1].orelse
              and len(body[1].body) == 1 and isinstance(body[2], ast.Expr))
        if not ok:
            _fail(s, "a loop in __init__ other than an exchange's over its fuse layers")
        var = body[0].targets[0].id                                              # type: ignore[attr-defined]
        if not self._index_name(var, names) or var in ("i", "j"):
            _fail(body[0], "an exchange's fuse layer list named as a name __init__ has")
        test = body[1].body[0]                                                  # type: ignore[attr-defined]
        inner = test.orelse[0] if isinstance(test, ast.If) and len(test.orelse) == 1 else None
        none = inner.orelse[0] if isinstance(inner, ast.If) and len(inner.orelse) == 1 else None
        if not (isinstance(test, ast.If) and _dump(test.test) == _dump(ast.parse("j > i", mode="eval").body)
                and isinstance(inner, ast.If) and _dump(inner.test) == _dump(ast.parse("j < i", mode="eval").body)
                and none is not None and _dump(none) == _dump(ast.parse(f"{var}.append(None)").body[0])):
            _fail(test, "an exchange's fuse layers other than `if j > i:` ... `elif j < i:` ... `else: None`")
        for branch in (test.body, inner.body):                                  # type: ignore[union-attr]
            one = branch[0] if len(branch) == 1 else None
            call = one.value if isinstance(one, ast.Expr) else None
            append = _dump(ast.parse(f"{var}.append", mode="eval").body)
            if not (isinstance(call, ast.Call) and _dump(call.func) == append and len(call.args) == 1
                    and not call.keywords and isinstance(call.args[0], ast.Call)):
                _fail(branch[0], "an exchange's fuse layer other than `fuse_layer.append(Module(...))`")
            self.listed_call(call.args[0], s.iter, names, {"i", "j"})   # type: ignore[union-attr,arg-type]
        added = body[2].value                                                   # type: ignore[attr-defined]
        own = added.func.value if isinstance(added, ast.Call) and isinstance(added.func, ast.Attribute) else None
        if not (isinstance(added, ast.Call) and isinstance(added.func, ast.Attribute) and added.func.attr == "append"
                and isinstance(own, ast.Attribute) and isinstance(own.value, ast.Name) and own.value.id == "self"
                and len(added.args) == 1 and isinstance(added.args[0], ast.Name) and added.args[0].id == var):
            _fail(body[2], "an exchange's fuse layers other than `self.fuse_layers.append(fuse_layer)`")

    def _index_name(self, name: str, names: set[str]) -> bool:
        """A comprehension's index that hides nothing: no argument, local, global, class or private name."""
        return not (name in names or name in GLOBALS or name in self.classes or name == "self"
                    or name.startswith("_") or (self.probe and name == "_probe"))

    @staticmethod
    def _loop_name(node, names: set[str], indices: tuple[str, ...] = LOOP_INDICES) -> bool:
        """f"<plain name>{i}" or f"<plain name>{i + <int>}", i a loop variable."""
        if not (isinstance(node, ast.JoinedStr) and len(node.values) == 2):
            return False
        text, value = node.values
        if not (isinstance(text, ast.Constant) and isinstance(text.value, str) and PLAIN.match(text.value)
                and not text.value.startswith("_") and isinstance(value, ast.FormattedValue)
                and value.conversion == -1 and value.format_spec is None):
            return False
        v = value.value
        if isinstance(v, ast.BinOp) and isinstance(v.op, ast.Add) and isinstance(v.right, ast.Constant) \
                and type(v.right.value) is int:
            v = v.left
        return isinstance(v, ast.Name) and v.id in names and v.id in indices

    def member_loop(self, s: ast.For, names: set[str]) -> None:
        """forward's `for conv in self.convs:` or `for conv, bn in zip(self.convs, self.bns):` over
        nn.ModuleLists: a fresh variable per list, the lists attributes of self, a body of assignments;
        or a ladder's (emit/ladder.py) `for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):`,
        the index one of LOOP_INDICES; a body may also append a variable to a list of forward's (a ladder's outputs)."""
        target, it, index = s.target, s.iter, None
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate"
                and len(it.args) == 1 and not it.keywords and isinstance(target, ast.Tuple) and len(target.elts) == 2
                and isinstance(target.elts[0], ast.Name) and target.elts[0].id in LOOP_INDICES):
            index, target, it = target.elts[0], target.elts[1], it.args[0]
        targets = target.elts if isinstance(target, ast.Tuple) else [target]
        lists = _module_list_iter(it)
        fresh = [*targets, *([index] if index else [])]
        if not (lists and len(targets) == len(lists) and all(isinstance(t, ast.Name) for t in fresh)
                and len({t.id for t in fresh}) == len(fresh)
                and not any(t.id in names for t in fresh)):
            _fail(s, "a for loop in forward other than `for m in self.ms:` or `for a, b in zip(self.as, self.bs):`"
                     " (or `for i, (a, b) in enumerate(zip(self.as, self.bs)):`) over fresh names")
        if not all(isinstance(b, (ast.Assign, ast.AugAssign)) or _appends(b, names) for b in s.body):
            _fail(s, "a member loop's body other than assignments (and a ladder's appends)")
        for t in fresh:
            self.target(t, names, GLOBALS | {"self"})

    def ladder(self, s: ast.For, names: set[str]) -> None:
        """forward's `for i, down in enumerate(self.downs):` (HRNet's head): the index one of
        LOOP_INDICES, read only as a list item's `x[i + 1]`; the member a fresh name; assignments."""
        t = s.target
        pair = [e.id for e in t.elts if isinstance(e, ast.Name)] if isinstance(t, ast.Tuple) else []
        if not (len(pair) == 2 == len(t.elts) and pair[0] in LOOP_INDICES and self._index_name(pair[0], names)
                and self._index_name(pair[1], names) and pair[0] != pair[1]
                and all(isinstance(b, ast.Assign) for b in s.body)):
            _fail(s, "an enumerate loop in forward other than `for i, m in enumerate(self.ms):` of assignments")
        names.add(pair[1])
        self.indices = {pair[0]}
        try:
            self.body(s.body, names, "forward", 1)
        finally:
            self.indices = set()

    def member_calls(self, comp: ast.ListComp, names: set[str]) -> None:
        """forward's `[path(x, ...) for path in self.paths]`: each member of an nn.ModuleList called on
        values forward holds, its variable a fresh name."""
        gen = comp.generators[0] if len(comp.generators) == 1 else None
        elt = comp.elt
        if not (gen is not None and not gen.ifs and not gen.is_async and isinstance(gen.target, ast.Name)
                and _module_list_iter(gen.iter) and not isinstance(gen.iter, ast.Call)
                and gen.target.id not in names and gen.target.id not in GLOBALS | {"self", "_"}
                and not gen.target.id.startswith("_") and gen.target.id not in self.classes
                and isinstance(elt, ast.Call) and isinstance(elt.func, ast.Name) and elt.func.id == gen.target.id
                and not elt.keywords and elt.args and all(isinstance(a, ast.Name) and a.id in names
                                                          or self._item(a, names) for a in elt.args)):
            _fail(comp, "a comprehension other than forward's `[path(x) for path in self.paths]`")

    def mapping(self, comp: ast.ListComp, names: set[str]) -> None:
        """forward's `[incre(x_i) for incre, x_i in zip(self.incres, x)]`: each member of an
        nn.ModuleList called on the item of a list forward holds, its two variables fresh names."""
        gen = comp.generators[0] if len(comp.generators) == 1 else None
        it, target, elt = (gen.iter, gen.target, comp.elt) if gen is not None else (None, None, None)
        pair = [e.id for e in target.elts if isinstance(e, ast.Name)] if isinstance(target, ast.Tuple) else []
        if not (gen is not None and not gen.ifs and len(pair) == 2 == len(set(pair))
                and all(self._index_name(v, names) for v in pair)
                and isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip"
                and not it.keywords and len(it.args) == 2 and _module_list_iter(it.args[0])
                and isinstance(it.args[1], ast.Name) and it.args[1].id in names and it.args[1].id != "self"
                and _dump(elt) == _dump(ast.parse(f"{pair[0]}({pair[1]})", mode="eval").body)):
            _fail(comp, "a list other than forward's `[m(x_i) for m, x_i in zip(self.ms, x)]`")

    def repeat(self, s: ast.For, names: set[str]) -> None:
        """__init__'s `for i in range(n): self.add_module(f"name{i + 1}", Block(...))`."""
        it = s.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and len(it.args) == 1 and not it.keywords and isinstance(s.target, ast.Name)
                and s.target.id in LOOP_INDICES and len(s.body) == 1 and isinstance(s.body[0], ast.Expr)):
            _fail(s, "a for loop in __init__ other than `for i in range(n): self.add_module(...)`")
        self.expr(it.args[0], names)
        call = s.body[0].value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "add_module"):
            _fail(s, "a for loop in __init__ other than `for i in range(n): self.add_module(...)`")

    def step_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over a repeat's steps that appends each step's members to a list made
        before it (timm's Xception Block): `for i in range(reps):`, the count a name of the class's,
        the index a fresh LOOP_INDICES name; its body only `layers.append(Module(...))`,
        `layers.extend([...])` and `if <step test>: layers.append(Module(...))`, a step test
        comparisons of integer arithmetic of the class's names and the index, joined by and/or/not,
        or a name (`i > 0 or start_with_relu`), which a keyword may also be (`inplace=i > 0`)."""
        it, i = s.iter, s.target
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and len(it.args) == 1 and not it.keywords and isinstance(it.args[0], ast.Name)
                and it.args[0].id in names and it.args[0].id not in self.lists | {"self"}
                and isinstance(i, ast.Name) and i.id in LOOP_INDICES and i.id not in names | self.lists
                and not s.orelse and s.body):
            _fail(s, "a for loop in __init__ other than `for i in range(n): self.add_module(...)` or "
                     "`for i in range(<count>):` over a repeat's steps")
        inner = names | {i.id}
        self.steps = inner
        for b in s.body:
            call = b.body[0] if isinstance(b, ast.If) and len(b.body) == 1 and not b.orelse else b
            if not (isinstance(call, ast.Expr) and self._list_call(call.value, ("append",) if call is not b
                                                                    else ("append", "extend"))):
                _fail(b, "a step loop's body other than `layers.append(...)`, `layers.extend([...])` "
                         "and `if <step test>: layers.append(...)`")
            if call is not b:
                self.step_test(b.test, inner)
            self.call(call.value, inner)
        self.steps = set()

    def step_test(self, t: ast.expr, names: set[str]) -> None:
        """A step loop's test (`i > 0 or start_with_relu`): comparisons of integer arithmetic,
        joined by and/or/not, or a name, every name one of the class's or the index."""
        if not (_step_test(t) and self.steps):
            _fail(t, "a step test other than comparisons of integer arithmetic, and/or/not, or a name")
        for n in ast.walk(t):
            if isinstance(n, ast.Name) and (n.id not in names or n.id in self.lists | {"self"}):
                _fail(n, f"a step test reads {n.id!r}, no parameter, local or index of the class's")

    # statements
    def target(self, node, names: set[str], reserved: set[str]) -> None:
        """A store: a local name, a tuple of them, or self.<attr>."""
        if isinstance(node, ast.Name):
            if node.id in reserved or node.id.startswith("_") or node.id in self.classes:
                _fail(node, f"assignment to reserved name {node.id!r}")
            names.add(node.id)
        elif isinstance(node, ast.Tuple) and node.elts:
            for e in node.elts:
                if not isinstance(e, ast.Name):
                    _fail(e, "assignment to a non-name in a tuple")
                self.target(e, names, reserved)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            if node.attr.startswith("_"):
                _fail(node, f"attribute {node.attr!r}")
        else:
            _fail(node, f"assignment to {type(node).__name__}")

    def body(self, stmts: list, names: set[str], kind: str, depth: int = 0) -> None:
        reserved = GLOBALS | {"self"}
        for i, s in enumerate(stmts):
            if isinstance(s, ast.Expr):
                if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                    if i != 0 or depth != 0:
                        _fail(s, "a string statement other than the docstring")
                    continue
                if not isinstance(s.value, ast.Call):
                    _fail(s, "an expression statement other than a call")
                if kind == "__init__" and i == 0 and self._is_super_init(s.value):
                    continue
                self.call(s.value, names)
            elif isinstance(s, ast.Assign) and kind == "__init__" and depth == 0 and self._named_member(s, names):
                continue
            elif isinstance(s, ast.Assign):
                if len(s.targets) != 1:
                    _fail(s, "chained assignment")
                if kind == "init_weights":
                    _fail(s, "assignment in init_weights")
                total = kind == "__init__" and depth == 0 and self._row_total(s.value, names)
                if kind == "forward" and isinstance(s.value, ast.ListComp):
                    self.mapping(s.value, names)
                elif kind == "__init__" and isinstance(s.targets[0], ast.Attribute) and _let_test(s.value):
                    for n in ast.walk(s.value):     # a `let:` the class decides, kept for forward's flag
                        if isinstance(n, ast.Name):     # (`self.residual = stride == 1`)
                            self.expr(n, names)
                elif not total:
                    self.expr(s.value, names)
                if kind == "__init__" and depth == 0 and _member_list(s):      # `layers = [...]`
                    self.lists.add(s.targets[0].id)
                elif kind == "__init__" and not isinstance(s.targets[0], ast.Attribute) and not total and not (
                        isinstance(s.targets[0], ast.Name) and (_width(s.value) or self._table_entry(s.value))):
                    _fail(s, "__init__ assigns only self.<child>, or a local of integer arithmetic (a `let:`, "
                             "a width)")
                if kind == "forward" and isinstance(s.targets[0], ast.Attribute):
                    _fail(s, "forward assigns to an attribute")
                self.target(s.targets[0], names, reserved)
            elif isinstance(s, ast.Return):
                if kind != "forward" or s.value is None:
                    _fail(s, f"return in {kind}")
                self.expr(s.value, names)
            elif isinstance(s, ast.AugAssign):
                if (kind != "forward" or not isinstance(s.op, ast.Add) or not isinstance(s.target, ast.Name)
                        or s.target.id not in names or not isinstance(s.value, ast.Name)):
                    _fail(s, "an augmented assignment other than `out += identity` in forward")
                self.expr(s.value, names)
            elif isinstance(s, ast.If) and kind == "__init__" and depth == 0 and _fuse_if(s):
                for t in s.test.values if isinstance(s.test, ast.BoolOp) else [s.test]:
                    self.expr(t.left, names)        # a child of self: `self.block1[0].shortcut`
            elif isinstance(s, ast.If) and kind == "__init__":
                self.member_if(s, names)
            elif isinstance(s, ast.If):
                if s.orelse or depth > (2 if kind == "init_weights" else 1):
                    _fail(s, "else branch or nested if")
                self.test(s.test, names, kind)
                self.body(s.body, names, kind, depth + 1)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.target, ast.Tuple) \
                    and isinstance(s.iter, ast.Name):
                self.row_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.target, ast.Tuple) \
                    and _zip_of(s.iter):
                self.stage_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.target, ast.Tuple) \
                    and _zipped(s.iter) and s.body and isinstance(s.body[-1], ast.For):
                self.named_depth_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.target, ast.Tuple) \
                    and _zipped(s.iter):
                self.depth_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.target, ast.Tuple):
                self.block_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and _over_len(s.iter, names):
                self.exchange_loop(s, names)
            elif isinstance(s, ast.For) and kind == "__init__" and depth == 0 and isinstance(s.iter, ast.Name):
                self.stage_loop(s, names)
            elif isinstance(s, ast.For) and isinstance(s.target, ast.Name) and not (
                    kind == "forward" and depth == 0 and not s.orelse and _module_list_iter(s.iter)):
                if depth != 0 or s.orelse:
                    _fail(s, f"for loop in {kind}")
                if kind == "init_weights":
                    self.for_iter(s.iter, names)
                    if s.target.id not in ("m", "name"):
                        _fail(s, "for loop target other than m or name")
                elif kind == "__init__" and not _adds_module(s):
                    self.step_loop(s, names)
                    continue
                elif kind == "__init__":
                    self.repeat(s, names)
                elif kind == "forward":
                    if _dump(s.iter) != _dump(ast.parse("self.children()", mode="eval").body) \
                            or s.target.id != "layer":
                        _fail(s, "a for loop in forward other than `for layer in self.children():`")
                else:
                    _fail(s, f"for loop in {kind}")
                names.add(s.target.id)
                self.body(s.body, names, kind, depth + 1)
            elif isinstance(s, ast.For) and kind == "forward" and depth == 0 and not s.orelse and _enumerated(s.iter):
                self.ladder(s, names)
            elif isinstance(s, ast.For) and kind == "forward" and depth == 0 and not s.orelse:
                self.member_loop(s, names)
                self.body(s.body, names, kind, depth + 1)
            elif isinstance(s, ast.Pass):
                if kind != "init_weights":
                    _fail(s, "pass")
            else:
                _fail(s, f"{type(s).__name__} statement in {kind}")

    def stage_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over a configuration the class takes, as torchvision's VGG make_layers:
        `for stage in stages:` / `for width in stage:` whose body only appends members to a list
        __init__ made (`layers.append(Module(...))`, under `if flag:` too) and carries the width on
        (`in_channels = width`); the outer body the inner loop, then appends. Or the same over the
        stages zipped with their kernel sizes (emit/stageloop.py): `for stage, kernel in
        zip(stages, kernels):` / `for width, k in zip(stage, kernel):`, both names the class's."""
        outer, inner = s.target, s.body[0] if s.body else None
        over = s.iter.args if _zip_of(s.iter) else [s.iter]      # type: ignore[attr-defined]
        tops = outer.elts if isinstance(outer, ast.Tuple) else [outer]
        if not (isinstance(inner, ast.For) and len(over) == len(tops)
                and all(isinstance(n, ast.Name) for n in (*tops, *over))):
            _fail(s, "a for loop in __init__ other than a configuration's `for stage in stages:` (or `for stage, "
                     "kernel in zip(stages, kernels):`)")
        lows = inner.target.elts if isinstance(inner.target, ast.Tuple) else [inner.target]
        if not (all(o.id in names and o.id not in self.lists | {"self"} for o in over) and not s.orelse
                and not inner.orelse and len(lows) == len(tops) and all(isinstance(n, ast.Name) for n in lows)
                and _dump(inner.iter) == _dump(_stage_iter(tops, ast.Load()))
                and _dump(inner.target) == _dump(_stage_iter(lows, ast.Store(), False))
                and all(isinstance(b, ast.Expr) and self._list_call(b.value, ("append",)) for b in s.body[1:])
                and all(isinstance(b, ast.Expr) and self._list_call(b.value, ("append",)) or isinstance(b, ast.If)
                        or isinstance(b, ast.Assign) and _dump(b.value) == _dump(ast.Name(lows[0].id, ast.Load()))
                        for b in inner.body)):
            _fail(s, "a for loop in __init__ other than a configuration's `for stage in stages: for width in "
                     "stage:` (or `for width, k in zip(stage, kernel):`) that appends members")
        reserved = GLOBALS | {"self"} | self.lists | {o.id for o in over}
        for t in (*tops, *lows):
            self.target(ast.Name(t.id, ast.Store()), names, reserved)
        self.body(inner.body, names, "__init__", 2)
        self.body(s.body[1:], names, "__init__", 1)

    def row_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over a table of rows the class takes, as torchvision's MobileNetV2
        (emit/rowloop.py): `for t, c, n, s in rows:` / `for i in range(n):`, the table a name of the
        class's, the columns fresh names (or `_`, a column read nowhere), the index a LOOP_INDICES name;
        the inner body exactly `stride = s if i == 0 else 1`, optionally `residual = stride == 1 and
        in_channels == c`, optionally a drop-path rate (`row_rate`), one `layers.append(Block(...))`,
        `stage_block_id += 1` after a rate, and `in_channels = c`, `in_channels` a local __init__ bound
        before. As torchvision's EfficientNet, the outer body may be `stage = []`, the inner loop
        appending to it, and `layers.append(nn.Sequential(*stage))`."""
        t, staged = s.target, len(s.body) == 3
        inner = s.body[1] if staged else s.body[0] if len(s.body) == 1 else None
        targets = [e.id for e in t.elts if isinstance(e, ast.Name)] if isinstance(t, ast.Tuple) else []
        cols = [c for c in targets if c != "_"]        # `_`: a column no parameter takes, read nowhere
        it = inner.iter if isinstance(inner, ast.For) else None
        if not (isinstance(s.iter, ast.Name) and s.iter.id in names and s.iter.id not in self.lists | {"self"}
                and not s.orelse and isinstance(t, ast.Tuple) and len(targets) == len(t.elts) >= 2
                and len(set(cols)) == len(cols) >= 2 and all(self._index_name(c, names) for c in cols)
                and isinstance(inner, ast.For) and not inner.orelse and isinstance(inner.target, ast.Name)
                and inner.target.id in LOOP_INDICES and inner.target.id not in names | set(cols)
                and isinstance(it, ast.Call) and _dump(it.func) == _dump(ast.Name("range", ast.Load()))
                and len(it.args) == 1 and not it.keywords and isinstance(it.args[0], ast.Name)
                and it.args[0].id in cols and 3 <= len(inner.body) <= 6):
            _fail(s, "a for loop in __init__ other than a row table's `for t, c, n, s in rows: for i in range(n):`")
        stage = self.row_stage(s, names | set(cols) | {inner.target.id}) if staged else None
        self.row_body(inner, names, cols, stage)

    def row_stage(self, s: ast.For, local: set[str]) -> str:
        """A staged row loop's `stage = []` before its inner loop and `layers.append(nn.Sequential(
        *stage))` after it, `layers` a list __init__ made: the row's list, now one of `lists`."""
        first, last = s.body[0], s.body[2]
        if not (_one_name(first) and self._index_name(first.targets[0].id, local)     # type: ignore[attr-defined]
                and _dump(first.value) == _dump(ast.List([], ast.Load()))):             # type: ignore[attr-defined]
            _fail(first, "a staged row loop's first statement other than `stage = []`")
        stage = first.targets[0].id                                                       # type: ignore[attr-defined]
        if not (isinstance(last, ast.Expr) and self._list_call(last.value, ("append",))
                and _dump(last.value.args[0]) == _dump(ast.parse(f"nn.Sequential(*{stage})", mode="eval").body)):
            _fail(last, "a staged row loop's last statement other than `layers.append(nn.Sequential(*stage))`")
        self.lists.add(stage)
        return stage

    def row_body(self, inner: ast.For, names: set[str], cols: list[str], stage: str | None) -> None:
        """A row loop's inner body (`row_loop`), its block appended to `stage` where staged."""
        body = list(inner.body)
        counter = body.pop(-2) if len(body) > 3 and isinstance(body[-2], ast.AugAssign) else None
        step, *flags, add, carry = body
        i = inner.target.id                                                                # type: ignore[attr-defined]
        local = names | set(cols) | {i} | ({stage} if stage else set())
        v = step.value if _one_name(step) else None      # type: ignore[attr-defined]
        col = v.body.id if isinstance(v, ast.IfExp) and isinstance(v.body, ast.Name) else None
        if not (col in cols and self._index_name(step.targets[0].id, local)      # type: ignore[attr-defined]
                and _dump(v) == _dump(ast.parse(f"{col} if {i} == 0 else 1", mode="eval").body)):
            _fail(step, "a row loop's first statement other than `stride = s if i == 0 else 1`")
        local.add(step.targets[0].id)                                                      # type: ignore[attr-defined]
        if not (_one_name(carry) and carry.targets[0].id in names                          # type: ignore[attr-defined]
                and carry.targets[0].id not in self.lists | {"self"} and isinstance(carry.value, ast.Name)
                and carry.value.id in cols):
            _fail(carry, "a row loop's last statement other than `in_channels = c`")
        rates = [f for f in flags if isinstance(f, ast.Assign) and isinstance(f.value, ast.BinOp)
                 and isinstance(f.value.op, ast.Div)]
        if len(rates) > 1 or bool(rates) != (counter is not None) or rates and flags[-1] is not rates[0]:
            _fail(counter or rates[-1], "a row loop's rate other than one `sd_prob = ...` then `stage_block_id += 1`")
        for f in flags:
            if f in rates:
                self.row_rate(f, counter, names, local)                                     # type: ignore[arg-type]
            elif not (_one_name(f) and self._index_name(f.targets[0].id, local) and any(
                    _dump(f.value) == _dump(ast.parse(f"{step.targets[0].id} == 1 and {carry.targets[0].id} == {c}",
                                                      mode="eval").body) for c in cols)):  # type: ignore
                _fail(f, "a row loop's flag other than `residual = stride == 1 and in_channels == c`")
            local.add(f.targets[0].id)                                                      # type: ignore[attr-defined]
        if not (isinstance(add, ast.Expr) and self._list_call(add.value, ("append",))
                and (stage is None or add.value.func.value.id == stage)):                 # type: ignore[attr-defined]
            _fail(add, "a row loop's body other than one `layers.append(Block(...))`")
        self.call(add.value, local)

    def row_rate(self, f: ast.Assign, counter: ast.AugAssign, names: set[str], local: set[str]) -> None:
        """A row loop's drop-path rate as torchvision's EfficientNet and ConvNeXt compute it:
        `sd_prob = p * stage_block_id / total_stage_blocks` (or `/ (total_stage_blocks - 1.0)`), a
        fresh name, p a parameter or local, the counter and total bound before the loop; the
        counter stepped by `stage_block_id += 1`."""
        e = f.value
        num = e.left if isinstance(e, ast.BinOp) else None
        den = e.right if isinstance(e, ast.BinOp) else None
        total = den.left if isinstance(den, ast.BinOp) else den
        ok = (_one_name(f) and self._index_name(f.targets[0].id, local) and isinstance(num, ast.BinOp)
              and isinstance(num.op, ast.Mult) and isinstance(num.left, ast.Name) and isinstance(num.right, ast.Name)
              and isinstance(total, ast.Name) and all(n.id in names and n.id not in self.lists | {"self"}
                                                      for n in (num.left, num.right, total))
              and (den is total or _dump(den) == _dump(ast.parse(f"{total.id} - 1.0", mode="eval").body)))
        if not ok:
            _fail(f, "a row loop's rate other than `sd_prob = p * stage_block_id / total_stage_blocks`")
        if not (isinstance(counter.op, ast.Add) and isinstance(counter.target, ast.Name)
                and counter.target.id == num.right.id and _dump(counter.value) == _dump(ast.Constant(1))):  # type: ignore
            _fail(counter, "a row loop's counter step other than `stage_block_id += 1`")

    def _row_total(self, e: ast.expr, names: set[str]) -> bool:
        """`sum(row[5] for row in rows)`: the blocks of all rows of a table the class takes, the
        column an int, the row a fresh name; or `sum(depths)`, a tuple of ints the class takes."""
        g = e.args[0] if isinstance(e, ast.Call) and len(e.args) == 1 else None
        if isinstance(e, ast.Call) and _dump(e.func) == _dump(ast.Name("sum", ast.Load())) and not e.keywords \
                and isinstance(g, ast.Name):        # a depth loop's `sum(depths)`
            return g.id in self.tuples and g.id not in self.lists
        if not (isinstance(e, ast.Call) and _dump(e.func) == _dump(ast.Name("sum", ast.Load())) and not e.keywords
                and isinstance(g, ast.GeneratorExp) and len(g.generators) == 1):
            return False
        c = g.generators[0]
        return (not c.ifs and not c.is_async and isinstance(c.target, ast.Name) and self._index_name(c.target.id, names)
                and isinstance(c.iter, ast.Name) and c.iter.id in names and c.iter.id not in self.lists | {"self"}
                and isinstance(g.elt, ast.Subscript) and isinstance(g.elt.slice, ast.Constant)
                and type(g.elt.slice.value) is int
                and _dump(g.elt) == _dump(ast.Subscript(ast.Name(c.target.id, ast.Load()), g.elt.slice, ast.Load())))

    def depth_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over two tuples of ints the class takes, as torchvision's ConvNeXt
        (emit/depthloop.py): `for i, (dim, depth) in enumerate(zip(dims, depths)):`, the index a
        LOOP_INDICES name, the others fresh; its body exactly `stage = []`, `for _ in range(depth):`
        over a drop-path rate (`row_rate`), `stage.append(Block(...))` and `stage_block_id += 1`, then
        `layers.append(nn.Sequential(*stage))` (`row_stage`) and `if i != len(dims) - 1:` over one
        `layers.append(Module(...))`."""
        t, it = s.target, s.iter.args[0] if isinstance(s.iter, ast.Call) and s.iter.args else None
        pair = t.elts[1] if isinstance(t, ast.Tuple) and len(t.elts) == 2 else None
        lists = [a.id for a in it.args if isinstance(a, ast.Name)] if isinstance(it, ast.Call) else []
        fresh = [e.id for e in pair.elts if isinstance(e, ast.Name)] if isinstance(pair, ast.Tuple) else []
        i = t.elts[0].id if isinstance(t, ast.Tuple) and isinstance(t.elts[0], ast.Name) else ""
        inner, last = (s.body[1], s.body[3]) if len(s.body) == 4 else (None, None)
        if not (i in LOOP_INDICES and i not in names and len(fresh) == 2 == len(lists) == len(it.args)  # type: ignore
                and len(set(fresh)) == 2 and all(self._index_name(n, names | {i}) for n in fresh)
                and len(set(lists)) == 2 and all(n in self.tuples and n not in self.lists for n in lists)
                and not s.orelse and isinstance(inner, ast.For) and not inner.orelse
                and _dump(inner.target) == _dump(ast.Name("_", ast.Store()))
                and _dump(inner.iter) == _dump(ast.parse(f"range({fresh[1]})", mode="eval").body)
                and len(inner.body) == 3 and isinstance(last, ast.If) and not last.orelse and len(last.body) == 1
                and _dump(last.test) == _dump(ast.parse(f"{i} != len({lists[0]}) - 1", mode="eval").body)):
            _fail(s, "a for loop in __init__ other than a depth loop's `for i, (dim, depth) in enumerate(zip(dims, "
                     "depths)):`")
        local = names | {i, *fresh}
        stage = self.row_stage(s, local)
        local.add(stage)
        rate, add, counter = inner.body                                                    # type: ignore[union-attr]
        if not (isinstance(rate, ast.Assign) and isinstance(counter, ast.AugAssign) and isinstance(add, ast.Expr)
                and self._list_call(add.value, ("append",)) and add.value.func.value.id == stage):  # type: ignore
            _fail(inner, "a depth loop's blocks other than `sd_prob = ...`, `stage.append(Block(...))`, "  # type: ignore
                         "`stage_block_id += 1`")
        self.row_rate(rate, counter, names, local)                                         # type: ignore[arg-type]
        self.call(add.value, local | {rate.targets[0].id})                                  # type: ignore
        down = last.body[0]                                                                 # type: ignore[union-attr]
        if not (isinstance(down, ast.Expr) and self._list_call(down.value, ("append",))
                and down.value.func.value.id != stage):                                    # type: ignore
            _fail(down, "a depth loop's layer between stages other than one `layers.append(Module(...))`")
        self.stages.add(i)
        self.call(down.value, local)                                                        # type: ignore
        self.stages.discard(i)

    def _named_member(self, s: ast.Assign, names: set[str]) -> bool:
        """__init__'s `layers = OrderedDict()` (the file imports it), or `layers["conv1_1"] =
        Module(...)` into one, the key a word: True where `s` is one of them (its call checked)."""
        t = s.targets[0] if len(s.targets) == 1 else None
        if isinstance(t, ast.Name) and self.ordered and _dump(s.value) == _dump(ast.Call(ORDERED_DICT, [], [])):
            self.target(t, names, GLOBALS | {"self"} | self.lists | self.dicts)
            self.dicts.add(t.id)
            return True
        if not (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in self.dicts
                and isinstance(t.slice, ast.Constant) and isinstance(t.slice.value, str)):
            return False
        if not (WORD.fullmatch(t.slice.value) and isinstance(s.value, ast.Call)):
            _fail(s, "a member of an OrderedDict other than `layers[\"name\"] = Module(...)`")
        self.call(s.value, names)
        return True

    def named_depth_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over the stages as timm's DPN (emit/depthloop.py's flat form): `for i,
        (depth, bw, inc) in enumerate(zip(depths, (64, 128, 256, 512), incs)):`, the lists tuples
        of ints the class takes or of int literals, the index a LOOP_INDICES name, the others
        fresh; its body a stage's locals of integer arithmetic (`r = k_r * bw // 64`), then `for j
        in range(depth):` over words chosen by place (`kind = "normal" if j > 0 else "proj" if i ==
        0 else "down"`), one `layers[f"conv{i + 2}_{j + 1}"] = Block(...)` and the width carried
        on, a local bound before: `in_channels = bw + 3 * inc if j == 0 else in_channels + inc`."""
        t, it = s.target, s.iter.args[0]                                                   # type: ignore[attr-defined]
        pair = t.elts[1] if isinstance(t, ast.Tuple) and len(t.elts) == 2 else None
        fresh = [e.id for e in pair.elts if isinstance(e, ast.Name)] if isinstance(pair, ast.Tuple) else []
        i = t.elts[0].id if isinstance(t, ast.Tuple) and isinstance(t.elts[0], ast.Name) else ""
        inner = s.body[-1]
        j = inner.target.id if isinstance(inner, ast.For) and isinstance(inner.target, ast.Name) else ""
        if not (i in LOOP_INDICES and i not in names and len(fresh) == len(pair.elts) == len(it.args) >= 2  # type: ignore
                and len(set(fresh)) == len(fresh) and all(self._index_name(n, names | {i}) for n in fresh)
                and all(self._int_list(a) for a in it.args) and not s.orelse and isinstance(inner, ast.For)
                and not inner.orelse and j in (*LOOP_INDICES, "j") and j not in names | {i, *fresh}
                and _dump(inner.iter) == _dump(ast.parse(f"range({fresh[0]})", mode="eval").body)
                and len(inner.body) >= 2):
            _fail(s, "a for loop in __init__ other than a flat depth loop's `for i, (depth, ...) in enumerate(zip("
                     "depths, ...)):` / `for j in range(depth):`")
        local = names | {i, *fresh}
        for let in s.body[:-1]:
            if not (_one_name(let) and self._index_name(let.targets[0].id, local)          # type: ignore[attr-defined]
                    and _arithmetic(let.value)):                                            # type: ignore[attr-defined]
                _fail(let, "a flat depth loop's stage local other than one of integer arithmetic")
            self.expr(let.value, local)                                                     # type: ignore[attr-defined]
            local.add(let.targets[0].id)                                                    # type: ignore[attr-defined]
        *words, add, carry = inner.body                                                     # type: ignore[union-attr]
        for w in words:
            if not (_one_name(w) and self._index_name(w.targets[0].id, local | {j})        # type: ignore[attr-defined]
                    and _word_choice(w.value, i, j)):                                       # type: ignore[attr-defined]
                _fail(w, "a flat depth loop's word other than a choice by place (`\"a\" if j > 0 else \"b\"`)")
            local.add(w.targets[0].id)                                                      # type: ignore[attr-defined]
        key = add.targets[0] if isinstance(add, ast.Assign) and len(add.targets) == 1 else None
        if not (isinstance(key, ast.Subscript) and isinstance(key.value, ast.Name) and key.value.id in self.dicts
                and _stage_key(key.slice, i, j) and isinstance(add.value, ast.Call)):        # type: ignore[union-attr]
            _fail(add, "a flat depth loop's block other than `layers[f\"conv{i + 2}_{j + 1}\"] = Block(...)`")
        self.call(add.value, local | {j})                                                   # type: ignore[union-attr]
        v = carry.value if _one_name(carry) else None                                       # type: ignore[attr-defined]
        test = v.test if isinstance(v, ast.IfExp) else None
        if not (v is not None and carry.targets[0].id in names                              # type: ignore[attr-defined]
                and carry.targets[0].id not in self.lists | self.dicts | {"self"}           # type: ignore[attr-defined]
                and (test is None and _arithmetic(v) or test is not None and _dump(test) == _dump(
                    ast.parse(f"{j} == 0", mode="eval").body) and _arithmetic(v.body) and _arithmetic(v.orelse))):
            _fail(carry, "a flat depth loop's last statement other than the width carried on, `in_channels = ...`")
        for n in ast.walk(v):                                                               # type: ignore[arg-type]
            if isinstance(n, ast.Name) and n.id != j:
                self.expr(n, local)

    def _int_list(self, a: ast.expr) -> bool:
        """A tuple of ints the class takes, or a tuple of int literals."""
        if isinstance(a, ast.Name):
            return a.id in self.tuples and a.id not in self.lists | self.dicts
        return isinstance(a, ast.Tuple) and bool(a.elts) and all(
            isinstance(e, ast.Constant) and type(e.value) is int for e in a.elts)

    def block_loop(self, s: ast.For, names: set[str]) -> None:
        """__init__'s loop over the top class's block sizes as torchvision's DenseNet (emit/
        blockloop.py): `for i, num_layers in enumerate(blocks):`, the configuration a name of the
        class's, the index a LOOP_INDICES name and the count a fresh one; its body exactly
        `self.<child>.add_module(f"<name>{i + 1}", Block(...))`, `<width> = <arithmetic>`, and
        `if i != len(blocks) - 1:` over the same two, `<width>` a local __init__ bound before, its
        value integer arithmetic or a width's floor (`int(num_features * compression)`)."""
        it, t = s.iter, s.target
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate"
                and len(it.args) == 1 and not it.keywords and isinstance(it.args[0], ast.Name)
                and it.args[0].id in names and it.args[0].id not in self.lists | {"self"}
                and isinstance(t, ast.Tuple) and len(t.elts) == 2 and all(isinstance(e, ast.Name) for e in t.elts)
                and t.elts[0].id in LOOP_INDICES and t.elts[0].id not in names
                and self._index_name(t.elts[1].id, names) and not s.orelse and len(s.body) == 3
                and isinstance(s.body[2], ast.If) and not s.body[2].orelse and len(s.body[2].body) == 2
                and _dump(s.body[2].test) == _dump(ast.parse(
                    f"{t.elts[0].id} != len({it.args[0].id}) - 1", mode="eval").body)):
            _fail(s, "a for loop in __init__ other than a block loop's `for i, num_layers in enumerate(blocks):`")
        inner = names | {t.elts[0].id, t.elts[1].id}
        for add, step in (s.body[:2], s.body[2].body):
            if not (isinstance(add, ast.Expr) and isinstance(add.value, ast.Call)
                    and isinstance(add.value.func, ast.Attribute) and add.value.func.attr == "add_module"
                    and _child_of_self(add.value.func.value) and self._loop_name(add.value.args[0], inner)
                    and isinstance(step, ast.Assign) and len(step.targets) == 1
                    and isinstance(step.targets[0], ast.Name) and step.targets[0].id in names
                    and step.targets[0].id not in self.lists | {"self"} and _width(step.value)):
                _fail(add, "a block loop's body other than `self.<child>.add_module(f\"<name>{i + 1}\", "
                           "Block(...))` then `<width> = <arithmetic>`")
            self.call(add.value, inner)
            self.expr(step.value, inner)
        names.update(e.id for e in t.elts)

    def member_if(self, s: ast.If, names: set[str]) -> None:
        """__init__'s `if <test>: layers.append(Module(...))`: a member of an nn.Sequential some
        instances lack, under a flag (`if first:`, `if not first:`) or an int parameter's
        comparison with an int (`if t != 1:`, `if stride == 1:`)."""
        t = s.test.operand if isinstance(s.test, ast.UnaryOp) and isinstance(s.test.op, ast.Not) else s.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], (ast.Eq, ast.NotEq)) \
                and isinstance(t.comparators[0], ast.Constant) and type(t.comparators[0].value) is int \
                and t is s.test:
            t = t.left
        if not (isinstance(t, ast.Name) and t.id in names and t.id != "self" and t.id not in self.lists):
            _fail(s.test, "an if in __init__ other than on a parameter, `if [not] flag:` or `if p != 1:`")
        if s.orelse or len(s.body) != 1 or not isinstance(s.body[0], ast.Expr) \
                or not self._list_call(s.body[0].value, ("append",)):
            _fail(s, "an if in __init__ whose body is other than one `layers.append(Module(...))`")
        self.call(s.body[0].value, names)

    def _list_call(self, c: ast.expr, methods: tuple[str, ...] = ("append", "extend")) -> bool:
        """`layers.append(Module(...))` or `layers.extend([...])` of a list __init__ made."""
        return (isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr in methods
                and isinstance(c.func.value, ast.Name) and c.func.value.id in self.lists
                and len(c.args) == 1 and not c.keywords
                and (isinstance(c.args[0], ast.Call) if c.func.attr == "append" else
                     isinstance(c.args[0], ast.List) and all(isinstance(e, ast.Call) for e in c.args[0].elts)))

    @staticmethod
    def _is_super_init(c: ast.Call) -> bool:
        f = c.func
        return (not c.args and not c.keywords and isinstance(f, ast.Attribute) and f.attr == "__init__"
                and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
                and f.value.func.id == "super" and not f.value.args and not f.value.keywords)

    def test(self, t, names: set[str], kind: str) -> None:
        if kind == "forward":
            optional = (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.IsNot)
                        and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None
                        and isinstance(t.left, ast.Attribute) and isinstance(t.left.value, ast.Name)
                        and t.left.value.id == "self" and not t.left.attr.startswith("_"))
            flag = t.operand if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not) else t
            flag_ok = (isinstance(flag, ast.Attribute) and isinstance(flag.value, ast.Name)
                       and flag.value.id == "self" and not flag.attr.startswith("_"))     # `if self.residual:`
            given = (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Is)
                     and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None
                     and isinstance(t.left, ast.Name) and t.left.id in self.maybe)       # `if shortcut is None:`
            if not (optional or flag_ok or given):
                _fail(t, "an if other than `if self.training:`, `if [not] self.<flag>:`, "
                         "`if self.<child> is not None:` or `if <input> is None:`")
            return
        if kind != "init_weights":
            _fail(t, f"if in {kind}")
        if isinstance(t, ast.Call) and isinstance(t.func, ast.Name) and t.func.id == "isinstance":
            self.call(t, names)
            return
        if (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.IsNot)
                and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None
                and isinstance(t.left, ast.Attribute) and isinstance(t.left.value, ast.Name)
                and t.left.value.id == "m" and t.left.attr in ("weight", "bias")):
            return
        _fail(t, "an if other than isinstance(m, ...) or m.weight/bias is not None")

    def for_iter(self, it, names: set[str]) -> None:
        if _dump(it) == _dump(ast.parse("self.modules()", mode="eval").body):
            return
        if isinstance(it, ast.Tuple) and all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                                             for e in it.elts):
            self.expr(it, names)
            return
        _fail(it, "a for loop over something other than self.modules() or a tuple of names")

    @staticmethod
    def fuse(fn) -> None:
        """The fixed `fuse` method, AST for AST."""
        from archspec.pytorch.emit.fuse import fuse_method
        if _dump(ast.parse("\n".join(fuse_method())).body[0]) != _dump(fn):
            _fail(fn, "fuse other than the emitter's")

    def exchange(self, fn) -> None:
        """An HRNet exchange's forward (emit/exchange.py): `EXCHANGE`, AST for AST, but for the two loop
        variables (fresh names) and the three lists (attributes of self)."""
        try:
            gen = fn.body[0].value.generators[0]
            loop = fn.body[2]
            fills = {"branch": gen.target.elts[0].id, "branches": gen.iter.args[0].attr,
                     "fuse": loop.target.elts[1].id, "fuse_layers": loop.iter.args[0].attr,
                     "acts": loop.body[-1].value.args[0].func.value.attr}
        except (AttributeError, IndexError, TypeError):
            _fail(fn, "a forward taking a list other than an exchange's")
        taken = {"self", "x", "x_i", "x_fuse", "y", "i", "j", "zip", "enumerate", "range", "len"} | GLOBALS
        if (fills["branch"] == fills["fuse"] or any(v.startswith("_") for v in fills.values())
                or {fills["branch"], fills["fuse"]} & (taken | self.classes)):
            _fail(fn, "an exchange's loop variables other than fresh names, or a private list")
        if _dump(ast.parse(EXCHANGE.format(**fills)).body[0]) != _dump(fn):
            _fail(fn, "a forward taking a list other than an exchange's")

    def function(self, fn, root: bool) -> None:
        if not isinstance(fn, ast.FunctionDef):
            _fail(fn, f"{type(fn).__name__} in a class")
        if any(a is not None and _dump(a) == _dump(LIST_TENSOR) for a in [fn.returns, *(
                arg.annotation for arg in fn.args.args)]):          # a list: the exchange's forward alone
            self.exchange(fn)
            return
        if root and fn.name == "fuse":
            self.fuse(fn)
            return
        if fn.name not in METHODS or (fn.name == "init_weights" and not root):
            _fail(fn, f"method {fn.name!r}")
        if fn.decorator_list or fn.type_comment or getattr(fn, "type_params", None):
            _fail(fn, "decorated method")
        if fn.returns and (fn.name != "forward" or _dump(fn.returns) not in _return_types()):
            _fail(fn, "a return annotation other than forward's tensor types")
        a = fn.args
        if (a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs or a.kw_defaults
                or not a.args or a.args[0].arg != "self"):
            _fail(fn, "method arguments other than (self, name, ...)")
        maybe = a.args[len(a.args) - len(a.defaults):] if fn.name == "forward" else []   # `shortcut=None`
        if a.defaults and not (fn.name == "__init__" and all(map(_plain_default, a.defaults)) or maybe and all(
                isinstance(d, ast.Constant) and d.value is None for d in a.defaults) and all(
                _dump(arg.annotation) == _dump(MAYBE_TENSOR) for arg in maybe)):
            _fail(fn, "a default other than a plain value (a block parameter's, an optional child's None) "
                      "in __init__, or None for forward's `torch.Tensor | None`")
        names = {"self"}
        self.maybe = {arg.arg for arg in maybe}
        for arg in a.args[1:]:
            annotated = arg.annotation and not (fn.name == "forward" and _dump(arg.annotation) == _dump(
                MAYBE_TENSOR if arg.arg in self.maybe else TENSOR))
            if annotated or arg.arg in GLOBALS or arg.arg.startswith("_") or arg.arg in self.classes:
                _fail(arg, f"argument {arg.arg!r}")
            names.add(arg.arg)
        if fn.name == "init_weights" and len(a.args) != 1:
            _fail(fn, "init_weights takes only self")
        if fn.name == "__init__" and not (len(fn.body) >= 1 and isinstance(fn.body[0], ast.Expr)
                                          and isinstance(fn.body[0].value, ast.Call)
                                          and self._is_super_init(fn.body[0].value)):
            _fail(fn, "__init__ must start with super().__init__()")
        self.forward = fn.name == "forward"
        self.lists = set()
        self.tuples = _tuple_params(fn) if fn.name == "__init__" else set()
        self.tables = _tuple_params(fn, rows=True) if fn.name == "__init__" else set()
        self.body(fn.body, names, fn.name)

    def cls(self, c: ast.ClassDef, root: bool) -> None:
        if c.decorator_list or c.keywords or getattr(c, "type_params", None) or len(c.bases) != 1 \
                or _dump(c.bases[0]) != _dump(ast.parse("nn.Module", mode="eval").body):
            _fail(c, f"class {c.name} must derive from nn.Module only")
        seen = set()
        for i, s in enumerate(c.body):
            if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                if i != 0:
                    _fail(s, "a string statement other than the docstring")
                continue
            if isinstance(s, ast.Assign):
                t = s.targets[0]
                if len(s.targets) != 1 or not isinstance(t, ast.Name) or not (
                        t.id in ROOT_ATTRS and root or t.id == "fuse_pairs"):
                    _fail(s, "a class attribute other than fuse_pairs or the root's input_shape/output_names/"
                             "loss_weights")
                try:
                    v = ast.literal_eval(s.value)
                except ValueError:
                    _fail(s, f"{t.id} is not a literal")
                self._attr_value(s, t.id, v, _adds_pairs(c))
                key = t.id
            else:
                self.function(s, root)
                key = s.name
            if key in seen:
                _fail(s, f"{key} defined twice")
            seen.add(key)
        if not {"__init__", "forward"} <= seen:
            _fail(c, f"class {c.name} lacks __init__ or forward")

    @staticmethod
    def _attr_value(node, name: str, v, adds: bool) -> None:
        def plain(s):
            return isinstance(s, str) and PLAIN.match(s) and not s.startswith("_")
        if name == "fuse_pairs":          # `()` only where __init__ adds pairs (`_fuse_if`)
            ok = isinstance(v, tuple) and (v or adds) and all(isinstance(p, tuple) and len(p) == 2 and all(
                plain(n) and not any(a.startswith("_") for a in n.split(".")) for n in p) for p in v)
        elif name == "input_shape":
            ok = isinstance(v, tuple) and all(type(d) is int and d > 0 for d in v)
        elif name == "output_names":
            ok = isinstance(v, tuple) and v and all(plain(s) for s in v)
        else:
            ok = isinstance(v, dict) and all(plain(k) and type(w) in (int, float) for k, w in v.items())
        if not ok:
            _fail(node, f"{name} = {v!r} is not what the emitter writes")


def _module_classes(tree: ast.Module) -> tuple[list, str]:
    body = tree.body[_ordered(tree):]
    imports = IMPORTS if len(body) > 1 and _dump(body[1]) == _dump(ast.parse(IMPORTS[1]).body[0]) \
        else [IMPORTS[0], IMPORTS[2]]           # torch.nn.functional only where the file uses it
    if len(body) < len(imports) + 2:
        _fail(tree, "a module with fewer statements than imports, a class and `Model = ...`")
    for s, want in zip(body[:len(imports)], imports):
        if _dump(s) != _dump(ast.parse(want).body[0]):
            _fail(s, f"expected `{want}`")
    last = body[-1]
    if not (isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name)
            and last.targets[0].id == "Model" and isinstance(last.value, ast.Name)):
        _fail(last, "the module must end with `Model = <class>`")
    classes = body[len(imports):-1]
    for c in classes:
        if not isinstance(c, ast.ClassDef):
            _fail(c, f"module-level {type(c).__name__}")
    return classes, last.value.id


def _ordered(tree: ast.Module) -> bool:
    """Whether the file starts `from collections import OrderedDict`."""
    return bool(tree.body) and _dump(tree.body[0]) == _dump(ast.parse(ORDERED).body[0])


def _module_list_iter(it) -> list[str] | None:
    """The lists a forward's member loop runs over: `self.convs`, or `zip(self.convs, self.bns)`."""
    def attr(e) -> str | None:
        return (e.attr if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self"
                and not e.attr.startswith("_") else None)
    if attr(it):
        return [attr(it)]
    if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip" and not it.keywords
            and len(it.args) >= 2 and all(map(attr, it.args))):
        return [attr(a) for a in it.args]
    return None


def _enumerated(it) -> bool:
    """`enumerate(self.downs)`: an nn.ModuleList's members with their indices."""
    return (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate"
            and len(it.args) == 1 and not it.keywords and _module_list_iter(it.args[0]) is not None
            and not isinstance(it.args[0], ast.Call))
LAST = ast.parse("x[-1]", mode="eval").body.slice     # type: ignore[attr-defined]


GUARD_OPS = (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq)


def _guard(node: ast.IfExp) -> bool:
    """`Block(...) if se_reduction > 0 else None`: one of the class's names compared with an int
    constant, or equal to a word (`kind == "proj"`, emit/guard.py's `by_text`), a module or None
    (emit/guard.py)."""
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.left, ast.Name)
            and isinstance(t.comparators[0], ast.Constant)):
        return False
    v = t.comparators[0].value
    compared = (isinstance(t.ops[0], GUARD_OPS) and type(v) is int
                or isinstance(t.ops[0], ast.Eq) and type(v) is str and bool(WORD.fullmatch(v)))
    return (compared and isinstance(node.orelse, ast.Constant)
            and node.orelse.value is None and isinstance(node.body, ast.Call))


def _fuse_if(s: ast.If) -> bool:
    """`if self.block1[0].shortcut is not None: self.fuse_pairs = (*self.fuse_pairs, ("conv1",
    "block1.0.bn1"))` (and-joined presences of children of self), a pair that holds only where they
    are (emit/fuse.py's `pair_lines`)."""
    tests = s.test.values if isinstance(s.test, ast.BoolOp) and isinstance(s.test.op, ast.And) else [s.test]
    if s.orelse or len(s.body) != 1 or not all(
            isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.IsNot)
            and _dump(t.comparators[0]) == _dump(ast.Constant(None)) and _of_self(t.left) for t in tests):
        return False
    pairs = _dump(ast.parse("self.fuse_pairs").body[0].value)        # type: ignore[attr-defined]
    b = s.body[0]
    if not (isinstance(b, ast.Assign) and len(b.targets) == 1 and _dump(b.targets[0]).replace("Store", "Load") == pairs
            and isinstance(b.value, ast.Tuple) and len(b.value.elts) == 2):
        return False
    star, pair = b.value.elts
    return (isinstance(star, ast.Starred) and _dump(star.value) == pairs and isinstance(pair, ast.Tuple)
            and len(pair.elts) == 2 and all(isinstance(n, ast.Constant) and isinstance(n.value, str)
                                            and PLAIN.match(n.value) and "_" != n.value[:1] for n in pair.elts))


def _adds_pairs(c: ast.ClassDef) -> bool:
    """The class's __init__ adds a pair where a child is (`_fuse_if`)."""
    init = next((f for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
    return init is not None and any(isinstance(s, ast.If) and _fuse_if(s) for s in init.body)


def _of_self(e: ast.expr) -> bool:
    """A child of self by names and indices: `self.block1[0].shortcut`."""
    while isinstance(e, ast.Attribute) or isinstance(e, ast.Subscript) and isinstance(e.slice, ast.Constant) \
            and type(e.slice.value) is int:
        e = e.value
    return isinstance(e, ast.Name) and e.id == "self"


def _let_guard(node: ast.IfExp) -> bool:
    """`nn.Conv2d(...) if stride != 1 or in_channels != out else None`: a `_let_test`, a module or
    None."""
    return _let_test(node.test) and isinstance(node.orelse, ast.Constant) and node.orelse.value is None \
        and isinstance(node.body, ast.Call)


def _let_test(t: ast.expr) -> bool:
    """`stride != 1 or in_channels != out`: comparisons of integer arithmetic of the class's names
    and int constants (Res2Net's `in_channels != planes * 4`), one operator each, joined by or /
    and (emit/guard.py's `let_test`)."""
    parts = t.values if isinstance(t, ast.BoolOp) else [t]
    return all(isinstance(c, ast.Compare) and len(c.ops) == 1 and isinstance(c.ops[0], GUARD_OPS)
               and all(_arithmetic(x) for x in (c.left, c.comparators[0])) for c in parts)


def _ladder_test(t: ast.expr) -> bool:
    """A ladder's step that reads its split alone: `i == 0`, or `i == 0 or [not] self.<flag>` (the
    class's flag that it adds nothing), i one of LOOP_INDICES."""
    first = t.values[0] if isinstance(t, ast.BoolOp) and isinstance(t.op, ast.Or) and len(t.values) == 2 else t
    if not (isinstance(first, ast.Compare) and isinstance(first.left, ast.Name) and first.left.id in LOOP_INDICES
            and _dump(first) == _dump(ast.parse(f"{first.left.id} == 0", mode="eval").body)):
        return False
    if first is t:
        return True
    flag = t.values[1].operand if isinstance(t.values[1], ast.UnaryOp) and isinstance(t.values[1].op, ast.Not) \
        else t.values[1]
    return (isinstance(flag, ast.Attribute) and isinstance(flag.value, ast.Name) and flag.value.id == "self"
            and not flag.attr.startswith("_"))


class _Items(ast.NodeTransformer):
    """An expression with each subscript `name[k]` as the name (a count's tuple items, `_count`)."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.expr:
        return node.value


def _tuple_params(fn: ast.FunctionDef, rows: bool = False) -> set[str]:
    """The parameters whose default is a tuple of int constants (`rows`: a tuple of such tuples),
    which the method never assigns."""
    a = fn.args
    pairs = zip(a.args[len(a.args) - len(a.defaults):], a.defaults)
    stored = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}

    def ints(d: ast.expr) -> bool:
        return isinstance(d, ast.Tuple) and bool(d.elts) and all(
            isinstance(x, ast.Constant) and type(x.value) is int for x in d.elts)
    return {arg.arg for arg, d in pairs if (isinstance(d, ast.Tuple) and d.elts and all(map(ints, d.elts))
                                            if rows else ints(d))} - stored


def _tuple_slice(node: ast.AST, tuples: set[str]) -> bool:
    """`widths[a:b]` by int constants of 0 or more (either left out), widths a tuple of ints __init__ takes."""
    k = node.slice if isinstance(node, ast.Subscript) else None
    return (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
            and node.value.id in tuples and isinstance(k, ast.Slice) and k.step is None
            and all(e is None or isinstance(e, ast.Constant) and type(e.value) is int and e.value >= 0
                    for e in (k.lower, k.upper)))


def _over_len(it: ast.expr, names: set[str]) -> bool:
    """`range(len(widths))`, widths an argument of __init__ (an exchange's list, emit/listclass.py)."""
    return (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" and len(it.args) == 1
            and not it.keywords and isinstance(a := it.args[0], ast.Call) and isinstance(a.func, ast.Name)
            and a.func.id == "len" and len(a.args) == 1 and not a.keywords and isinstance(a.args[0], ast.Name)
            and a.args[0].id in names)


def _item_range(comp: ast.ListComp) -> bool:
    """`for <name> in range(<int>)`, two or more, the comprehension's one generator, no test."""
    gen = comp.generators[0] if len(comp.generators) == 1 else None
    it = gen.iter if gen is not None else None
    return (gen is not None and not gen.ifs and not gen.is_async and isinstance(gen.target, ast.Name)
            and gen.target.id != "_" and isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
            and it.func.id == "range" and len(it.args) == 1 and not it.keywords and isinstance(it.args[0], ast.Constant)
            and type(it.args[0].value) is int and it.args[0].value >= 2)


def _over_ints(comp: ast.ListComp) -> list[ast.Tuple]:
    """The tuples a comprehension runs over, `for c in (16, 32)` or `zip((16, 32), (32, 64))`: two
    or more int constants each, all of one length; [] where it runs over anything else."""
    it = comp.generators[0].iter if len(comp.generators) == 1 else None
    zipped = (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip"
              and not it.keywords and len(it.args) >= 2)
    tuples = it.args if zipped else [it]
    if not all(isinstance(t, ast.Tuple) and len(t.elts) >= 2 and all(
            isinstance(e, ast.Constant) and type(e.value) is int for e in t.elts) for t in tuples):
        return []
    return tuples if len({len(t.elts) for t in tuples}) == 1 else []


def _appends(s: ast.stmt, names: set[str]) -> bool:
    """`outs.append(sp)`: a variable appended to a list of forward's."""
    c = s.value if isinstance(s, ast.Expr) else None
    return (isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "append"
            and isinstance(c.func.value, ast.Name) and c.func.value.id in names and not c.keywords
            and len(c.args) == 1 and isinstance(c.args[0], ast.Name))


def _zip_of(it: ast.expr) -> bool:
    """`zip(a, b)`: two iterables side by side, no keywords."""
    return (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip"
            and len(it.args) == 2 and not it.keywords)


def _stage_iter(names: list, ctx: ast.expr_context, zipped: bool = True) -> ast.expr:
    """`name`, or `zip(a, b)` (`(a, b)` where not `zipped`) of the names' ids, in `ctx`."""
    if len(names) == 1:
        return ast.Name(names[0].id, ctx)
    items = [ast.Name(n.id, ctx) for n in names]
    return ast.Call(ast.Name("zip", ast.Load()), items, []) if zipped else ast.Tuple(items, ctx)


def _zipped(e: ast.expr) -> bool:
    """`enumerate(zip(...))`: a depth loop's iterable."""
    return (isinstance(e, ast.Call) and _dump(e.func) == _dump(ast.Name("enumerate", ast.Load())) and len(e.args) == 1
            and not e.keywords and isinstance(e.args[0], ast.Call) and not e.args[0].keywords
            and _dump(e.args[0].func) == _dump(ast.Name("zip", ast.Load())))


def _word_choice(e: ast.expr, i: str, j: str) -> bool:
    """A word, or a choice of words by the block's place: `"normal" if j > 0 else "proj" if i == 0
    else "down"`, each test a loop index compared to 0."""
    if isinstance(e, ast.Constant):
        return type(e.value) is str and bool(WORD.fullmatch(e.value))
    places = [ast.parse(f"{n} {op} 0", mode="eval").body for n in (i, j) for op in ("==", ">")]
    return (isinstance(e, ast.IfExp) and any(_dump(e.test) == _dump(p) for p in places)
            and _word_choice(e.body, i, j) and _word_choice(e.orelse, i, j))


def _stage_key(k: ast.expr, i: str, j: str) -> bool:
    """f"<plain name>{i + <int>}_{j + <int>}" (or {i}, {j}): a flat depth loop's member's name."""
    parts = k.values if isinstance(k, ast.JoinedStr) else []
    if not (len(parts) == 4 and isinstance(parts[0], ast.Constant) and isinstance(parts[0].value, str)
            and PLAIN.match(parts[0].value) and not parts[0].value.startswith("_")
            and _dump(parts[2]) == _dump(ast.Constant("_"))):
        return False

    def index(v: ast.expr, name: str) -> bool:
        if not (isinstance(v, ast.FormattedValue) and v.conversion == -1 and v.format_spec is None):
            return False
        e = v.value
        return _dump(e) == _dump(ast.Name(name, ast.Load())) or isinstance(e, ast.BinOp) and isinstance(
            e.op, ast.Add) and _dump(e.left) == _dump(ast.Name(name, ast.Load())) and isinstance(
            e.right, ast.Constant) and type(e.right.value) is int and e.right.value > 0
    return index(parts[1], i) and index(parts[3], j)


def _one_name(s: ast.stmt) -> bool:
    """`<name> = ...`."""
    return isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)


def _child_of_self(e: ast.expr) -> bool:
    """`self.<child>`, a public attribute of self (the nn.Sequential a block loop adds to)."""
    return (isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self"
            and not e.attr.startswith("_"))


def _adds_module(s: ast.For) -> bool:
    """A loop whose body is one `self.add_module(...)` (a repeat of named children)."""
    b = s.body[0] if len(s.body) == 1 else None
    return (isinstance(b, ast.Expr) and isinstance(b.value, ast.Call) and isinstance(b.value.func, ast.Attribute)
            and b.value.func.attr == "add_module")


def _step_test(t: ast.expr) -> bool:
    """Comparisons of integer arithmetic, joined by and/or/not, or a name (names not checked here)."""
    if isinstance(t, ast.BoolOp):
        return all(map(_step_test, t.values))
    if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
        return _step_test(t.operand)
    if isinstance(t, ast.Compare):
        return all(isinstance(op, COMPARE) for op in t.ops) and all(map(_arithmetic, (t.left, *t.comparators)))
    return isinstance(t, ast.Name)


def _member_list(s: ast.Assign) -> bool:
    """`layers = []` or `layers = [Module(...), ...]`: __init__'s list of an nn.Sequential's members."""
    t = s.targets[0]
    return (isinstance(t, ast.Name) and isinstance(s.value, ast.List)
            and all(isinstance(e, ast.Call) for e in s.value.elts))


def _plain_default(d: ast.expr) -> bool:
    """A constructor default: None, a bool or number (negative too), or a tuple of them; or a
    text parameter's word (DPN's `kind="normal"`, emit/guard.py's `by_text`)."""
    if isinstance(d, ast.Constant) and type(d.value) is str:
        return bool(WORD.fullmatch(d.value))
    if isinstance(d, ast.Tuple):
        return all(map(_plain_default, d.elts))
    if isinstance(d, ast.UnaryOp) and isinstance(d.op, ast.USub):
        d = d.operand
        return isinstance(d, ast.Constant) and type(d.value) in (int, float)
    return isinstance(d, ast.Constant) and type(d.value) in (int, float, bool, type(None))


def check_generated_source(text: str, probe: bool = False) -> None:
    """Raise AssertionError unless `text` is made only of what archspec's emitter writes."""
    assert isinstance(text, str), f"generated source is {type(text).__name__}, not str"
    for n, line in enumerate(text.split("\n"), 1):
        bad = [c for c in line if not c.isprintable()]
        if bad:
            raise AssertionError(f"generated source line {n} has control characters {bad!r}: {line[:200]!r}")
    lines = text.split("\n")
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise AssertionError(f"generated source does not parse: {e}") from None
    try:
        classes, model = _module_classes(tree)
        names = [c.name for c in classes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            _fail(classes[0], f"classes defined twice: {sorted(dupes)}")
        if model not in names:
            _fail(tree.body[-1], f"Model = {model}, not a class of the module")
        helpers = _helper_dumps()
        checker = _Checker(set(names), probe, _ordered(tree))
        for c in classes:
            if c.name.startswith("_"):
                _fail(c, f"class name {c.name!r}")
            if c.name != model and _dump(c) in helpers.get(c.name, ()):
                continue                    # an op's helper class, verbatim
            checker.cls(c, c.name == model)
    except _Reject as r:
        ln = getattr(r.node, "lineno", None)
        where = f"line {ln}: {lines[ln - 1].strip()[:200]!r}" if ln else "module"
        raise AssertionError(f"generated source not in the emitter's whitelist: {r.why} ({where})") from None
