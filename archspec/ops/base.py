"""The op registry: one definition per op holds everything about it.

An op is a subclass of `Op` with
- `Attrs`: a pydantic model (names, types, defaults, bounds) of its attributes,
- `shape(a, xs)`: input shapes -> output shape, raising `SpecError` precisely,
- `tensors(a, xs, y)`: its parameters and buffers (state_dict suffix, shape),
  from which parameter counts derive; a tensor with the empty suffix is the node itself, a
  parameter of the enclosing module (`parameter()`),
- `macs(a, xs, y)`: multiply-accumulates (conv and linear only, by convention),
- `elementwise(a, xs, y)`: the element operations outside that convention which papers
  sometimes count (a pooling window's reads, an add's or mul's element operations),
- `saved(a, xs, y)`: what autograd keeps of it for backward in training (`Saved`), from which
  training memory derives,
- `label(a)`: a short text for diagrams and tables,
- `module(a, xs, y)` / `call(a, args)`: its PyTorch form, as a module
  constructor and as a forward expression, both `Call` data (values kept as values, the
  inputs as `Arg` placeholders); archspec/pytorch/emit/ turns them into source. No torch is imported here.

Shapes are tuples (C, H, W) or (C,), the batch dimension implicit, or `ChannelsLast`
(H, W, C) after a `permute`: only ops declared `channels_last` take those. The axis ops
(ops/axes.py: stack, reshape, sum, ...) make shapes of any other rank, (R, C, 1, 1) or (R, C);
ops declared `ranks = None` take those too. An `axis` attribute counts per sample, as shapes
do: 0 is the channels (torch's dim 1), a negative one from the end.
Register a user op with `@register` on such a class; nothing else changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..errors import SpecError, fmt_shape
from ..names import RESERVED, check_name

Shape = tuple


class Tensor(NamedTuple):
    key: str          # state_dict suffix: "weight", "running_mean", ...; "": the node itself
    shape: tuple
    buffer: bool = False
    dtype: str = "act"     # "act": the model's dtype; or its own ("int64": batch norm's counter)

    def path(self, node: str) -> str:
        """Its state_dict key in the node `node`."""
        return f"{node}.{self.key}" if self.key else node


@dataclass(frozen=True)
class Saved:
    """A tensor autograd keeps for an op's backward: its input `k`, its output, or a tensor
    the op makes (`shape` per sample, of the activations' dtype or its own)."""
    what: str                    # "input" (the k-th) | "output" | "new"
    k: int = 0                   # which input
    shape: tuple = ()            # "new": per sample (the batch dimension in front is implied)
    dtype: str = "act"           # "act" (the activations' dtype), "int64", "bool", "float32"
    batched: bool = True         # False: one tensor for the whole batch (batch norm's statistics)


INPUT0: tuple[Saved, ...] = (Saved("input"),)       # the op keeps its (first) input
OUTPUT: tuple[Saved, ...] = (Saved("output"),)      # the op keeps its result


class Attrs(BaseModel):
    """Base of every op's attribute schema: unknown keys and loose types are errors."""
    # defer_build: a validator is built on an op's first use, not at import for all of them
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True, allow_inf_nan=False)


def _pair(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return (v, v)
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return tuple(v)
    return v


Pos = Annotated[int, Field(ge=1)]
NonNeg = Annotated[int, Field(ge=0)]
def _pair_schema(minimum: int) -> WithJsonSchema:
    one = {"type": "integer", "minimum": minimum}
    return WithJsonSchema({"anyOf": [one, {"type": "array", "items": one, "minItems": 2, "maxItems": 2}],
                           "description": "one value for both axes, or [height, width]"})


Pair = Annotated[tuple[Pos, Pos], BeforeValidator(_pair), _pair_schema(1)]
NonNegPair = Annotated[tuple[NonNeg, NonNeg], BeforeValidator(_pair), _pair_schema(0)]
Prob = Annotated[float, Field(ge=0.0, le=1.0)]


_NO_DEFAULT = object()


def literal(value) -> str:
    """A value as generated source writes it: its repr, for the plain values a spec can make
    (numbers, text, booleans, None and tuples or lists of them); a non-finite number, which
    has no Python literal, is a SpecError (an attribute can overflow after scaling)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"the value {value} is not a finite number", hint="use smaller attribute values")
    if isinstance(value, (tuple, list)):
        for v in value:
            literal(v)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        raise TypeError(f"no literal for {type(value).__name__}")     # an op definition's mistake
    return _repr(value)


def _repr(value) -> str:
    """repr, but text in double quotes where it holds none (as ruff format writes it; repr
    chooses single quotes only for text without a single quote, so nothing needs escaping)."""
    if isinstance(value, str):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" and '"' not in value else text
    if isinstance(value, tuple):
        return f"({_repr(value[0])},)" if len(value) == 1 else f"({', '.join(map(_repr, value))})"
    if isinstance(value, list):
        return f"[{', '.join(map(_repr, value))}]"
    return repr(value)


class ArgAsText(TypeError):
    """An `Arg` written into text (`f"{args[0]}"`): `Op.call` returns data, never text."""


class Arg(NamedTuple):
    """The k-th value a forward call reads (what `Op.call` gets in `args`): emit writes the
    variable holding it. For an op with a parameter (`Op.parameter`), Arg(0) is that parameter."""
    k: int

    def __str__(self) -> str:        # f"{args[0]}": text made of a placeholder, an op definition's mistake
        raise ArgAsText("its args are placeholders, not text")

    def __format__(self, spec: str) -> str:
        return str(self)


class Self(NamedTuple):
    """An attribute of the module running forward, `self.training`."""
    name: str


class Call(NamedTuple):
    """A PyTorch call as data, `fn(arg, ..., kw=value, ...)`. Numbers stay values, not text,
    so that emit can give blocks that differ only in numbers one class with constructor args.
    As a forward expression (`Op.call`), `fn` is a function (`torch.cat`, `F.relu`), a method of
    its first input (`.flatten`: `x.flatten(1)`) or an operator over its operands ("+", "*":
    inputs then args), and a value may be an `Arg`, a `Self` or a nested `Call`;
    archspec/pytorch/emit/expr.py writes it."""
    fn: str                      # "nn.Conv2d", or a helper class defined in `defs`
    args: tuple = ()             # ((name, value), ...): positional, named for the constructor args emit derives
    kwargs: tuple = ()           # ((name, value, default), ...): written only where value != default
    defs: tuple = ()             # source of the helper classes fn needs (emitted once, at the top of the file)
    inputs: tuple = ()           # forward values it is applied to, written first (`on`)

    def on(self, *inputs) -> Call:
        """The call applied to forward values (`Arg`s, or `Call`s of them): `fn(inputs..., args...)`."""
        return self._replace(inputs=inputs)

    def source(self, *inputs) -> Call:
        """`on`, by the name ops used while `call()` returned text (the result is a Call now)."""
        return self.on(*inputs)


def kw(name: str, value, default=_NO_DEFAULT) -> tuple:
    """A keyword argument of a `Call`; left out of the source when it equals its default."""
    return (name, value, default)


def is_default(value, default) -> bool:
    return default is not _NO_DEFAULT and type(value) is type(default) and value == default


def square(p):
    """A (h, w) pair as PyTorch users write it: one int when both are equal."""
    return p[0] if isinstance(p, tuple) and len(p) == 2 and p[0] == p[1] else p


class Op:
    name: ClassVar[str]
    Attrs: ClassVar[type[Attrs]] = Attrs   # an op's own: `class Attrs(base.Attrs)` (mypy, deferring a class
    #                                       in archspec's import cycle, takes a nested Attrs(Attrs) for itself)
    arity: ClassVar[int | None] = 1      # None: two or more inputs
    ranks: ClassVar[tuple[int, ...] | None] = (1, 3)   # input ranks accepted; None: any (a stack's (R, C, H, W))
    channels_last: ClassVar[bool] = False        # takes channels-last (H, W, C) tensors too
    doc: ClassVar[str] = ""
    node_name: ClassVar[str] = ""                # what an anonymous node of it is called (default: `name`;
    #                                              slice and sum are Python builtins, which no name may be)

    def shape(self, a: BaseModel, xs: list[Shape]) -> Shape:
        return xs[0]

    def tensors(self, a: BaseModel, xs: list[Shape], y: Shape) -> list[Tensor]:
        return []

    def macs(self, a: BaseModel, xs: list[Shape], y: Shape) -> int:
        return 0

    def saved(self, a: BaseModel, xs: list[Shape], y: Shape, inplace: bool = False) -> tuple[Saved, ...]:
        """What autograd keeps for backward in training (parameters and buffers aside), run in place
        or not: by default nothing (add, concat, flatten, scaling by a constant)."""
        return ()

    def elementwise(self, a: BaseModel, xs: list[Shape], y: Shape) -> int:
        """Element operations not in the MACs convention: pooling (one per element a window reads)
        and add/mul merges (one per output element per extra operand); 0 for every other op."""
        return 0

    def label(self, a: BaseModel) -> str:
        return self.name

    # -- PyTorch emission (archspec/pytorch/emit/) -----------------------------

    fresh: ClassVar[bool] = False          # the output is a new tensor its backward never reads, so the
    #                                        next op may overwrite it in place (conv, batchnorm, add, ...)
    inplace: ClassVar[bool] = False        # module()/call() accept inplace=True (relu, add)
    view: ClassVar[bool] = False           # the output is a view of the first input (flatten, identity)
    init_modules: ClassVar[tuple[str, ...]] = ()   # module classes a spec's `init:` rule for this op sets

    # -- archspec import ------------------------------------------------------

    imports: ClassVar[tuple[str, ...]] = ()        # torch module classes this op stands for, by class name or
    #                                                "module.Class" (a user op's: `archspec import ... --ops`)

    def attrs_of(self, m) -> dict:
        """The attributes of this op for a module of one of the `imports` classes."""
        return {}

    def module(self, a: BaseModel, xs: list[Shape], y: Shape, inplace: bool = False) -> Call | None:
        """The module holding this node (its state_dict must be exactly `tensors()`), or None where
        the op has no module form. Nodes with tensors, and named nodes, compile to this."""
        return None

    def call(self, a: BaseModel, args: list[Arg], inplace: bool = False) -> Call | Arg | None:
        """The forward expression over the node's inputs `args` (placeholders `Arg(0)`, ...), as a
        `Call` (`Call("torch.cat", (("tensors", args), ("dim", 1)))`; one that places none of them
        is applied to them all, first: `Call("F.silu")` is `F.silu(x)`), or an input itself (an
        identity), or None where the op runs only as a module. Anonymous parameter-free nodes
        compile to this. Never text: emit writes it."""
        return None

    def parameter(self, a: BaseModel, xs: list[Shape], y: Shape) -> Call | None:
        """For an op whose one tensor (key "") is a parameter of the enclosing module itself, as
        torchvision's `layer_scale` is of its block: the call making its initial value. The node
        compiles to `self.<name> = nn.Parameter(<call>)`, and `call()` gets `self.<name>` as
        its first argument, the inputs after it."""
        return None

    # -- shared helpers -----------------------------------------------------

    def check_inputs(self, xs: list[Shape]) -> None:
        n = len(xs)
        if self.arity is None and n < 2:
            raise SpecError(f"{self.name} needs two or more inputs, got {n}",
                            hint="list them by name: in: [a, b]")
        if self.arity is not None and n != self.arity:
            raise SpecError(f"{self.name} takes {self.arity} input(s), got {n}")
        if len({isinstance(x, ChannelsLast) for x in xs}) > 1:
            raise SpecError(f"{self.name} cannot mix channels-first and channels-last inputs "
                            f"{', '.join(map(fmt_shape, xs))}", hint="permute them to one layout")
        for x in xs:
            if isinstance(x, ChannelsLast):
                if not self.channels_last:
                    raise SpecError(f"{self.name} expects channels first, got the channels-last tensor "
                                    f"{fmt_shape(x)}", hint="permute it back first: {op: permute, dims: [0, 3, 1, 2]}")
            elif self.ranks is not None and len(x) not in self.ranks:
                want = " or ".join(f"{r}-d" for r in self.ranks)
                hint = "add a flatten node before it" if 1 in self.ranks else \
                    "it needs a (C, H, W) feature map"
                if self.channels_last and len(x) == 3:
                    hint += ", or {op: permute, dims: [0, 2, 3, 1]} to apply it at each position (channels last)"
                raise SpecError(f"{self.name} expects a {want} input, got {fmt_shape(x)}", hint=hint)


REGISTRY: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    """Add an op to the registry (the class decorator users apply to their own ops)."""
    if not getattr(cls, "name", None):
        raise ValueError(f"{cls.__name__} needs a `name`")
    if "node_name" not in vars(cls):           # its own, not a registered base class's
        cls.node_name = cls.name
    check_name(cls.node_name, "op")     # an unnamed node is named after its op: the same rule as any name
    if cls.name not in RESERVED or cls.node_name == cls.name:    # a builtin's name, its nodes named otherwise
        check_name(cls.name, "op")
    REGISTRY[cls.name] = cls()
    return cls


def window_out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """PyTorch's output-size arithmetic for conv and pooling windows."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:   # the last window must start inside the input or left padding
            out -= 1
        return out
    return span // s + 1


class ChannelsLast(tuple):
    """The shape of a channels-last tensor, (H, W, C): its sizes in axis order, the channel axis
    last (a `permute` made it; ConvNeXt's block runs its layer norm and linear layers so). Only ops
    declared `channels_last` take one; a shape rule keeps the layout by returning its input's
    shape or `like(input, sizes)`."""
    __slots__ = ()
    layout = "HWC"           # how summaries and errors mark it: (56, 56, 96) HWC

    # Unequal to a channels-first shape of the same sizes: a layout change is a change (diff sees it).
    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelsLast) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((self.layout, tuple(self)))


def channels(shape: tuple) -> int:
    """The channel (feature) count of a shape in either layout."""
    return shape[-1] if isinstance(shape, ChannelsLast) else shape[0]


def like(x: tuple, sizes) -> tuple:
    """`sizes` as a shape in the layout of `x`."""
    return ChannelsLast(sizes) if isinstance(x, ChannelsLast) else tuple(sizes)


def axis_of(axis: int, x: tuple, what: str = "axis", extra: int = 0) -> int:
    """A per-sample axis of the shape `x` (0: the channels; negative: from the end, as Python
    indexes) as 0 .. rank - 1 (+ `extra`: a stack's new axis may follow the last)."""
    rank = len(x) + extra
    if not -rank <= axis < rank:
        raise SpecError(f"{what} {axis} is out of range for the per-sample shape {fmt_shape(x)}",
                        hint=f"axes count per sample, the batch left out: 0 (channels) to {rank - 1}, "
                             f"or -1 to -{rank} from the end")
    return axis % rank


def torch_dim(axis: int) -> int:
    """The torch dim of a per-sample axis: the batch comes first; a negative axis counts from the end alike."""
    return axis + 1 if axis >= 0 else axis
