"""The op registry: one definition per op holds everything about it.

An op is a subclass of `Op` with
- `Attrs`: a pydantic model (names, types, defaults, bounds) of its attributes,
- `shape(a, xs)`: input shapes -> output shape, raising `SpecError` precisely,
- `tensors(a, xs, y)`: its parameters and buffers (state_dict suffix, shape),
  from which parameter counts derive,
- `macs(a, xs, y)`: multiply-accumulates (conv and linear only, by convention),
- `label(a)`: a short text for diagrams and tables,
- `emit(a, xs, y)`: its PyTorch form (see archspec/emit.py).

Shapes are tuples (C, H, W) or (C,), the batch dimension implicit.
Register a user op with `@register` on such a class; nothing else changes.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..errors import SpecError, fmt_shape

Shape = tuple


class Tensor(NamedTuple):
    key: str          # state_dict suffix: "weight", "running_mean", ...
    shape: tuple
    buffer: bool = False


class Attrs(BaseModel):
    """Base of every op's attribute schema: unknown keys and loose types are errors."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


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


class Op:
    name: ClassVar[str]
    Attrs: ClassVar[type[Attrs]] = Attrs
    arity: ClassVar[int | None] = 1      # None: two or more inputs
    ranks: ClassVar[tuple[int, ...]] = (1, 3)   # input ranks accepted
    doc: ClassVar[str] = ""

    def shape(self, a, xs: list[Shape]) -> Shape:
        return xs[0]

    def tensors(self, a, xs: list[Shape], y: Shape) -> list[Tensor]:
        return []

    def macs(self, a, xs: list[Shape], y: Shape) -> int:
        return 0

    def label(self, a) -> str:
        return self.name

    # -- shared helpers -----------------------------------------------------

    def check_inputs(self, xs: list[Shape]) -> None:
        n = len(xs)
        if self.arity is None and n < 2:
            raise SpecError(f"{self.name} needs two or more inputs, got {n}",
                            hint="list them by name: in: [a, b]")
        if self.arity is not None and n != self.arity:
            raise SpecError(f"{self.name} takes {self.arity} input(s), got {n}")
        for x in xs:
            if len(x) not in self.ranks:
                want = " or ".join(f"{r}-d" for r in self.ranks)
                hint = "add a flatten node before it" if 1 in self.ranks else \
                    "it needs a (C, H, W) feature map"
                raise SpecError(f"{self.name} expects a {want} input, got {fmt_shape(x)}", hint=hint)


REGISTRY: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    """Add an op to the registry (the class decorator users apply to their own ops)."""
    if not getattr(cls, "name", None):
        raise ValueError(f"{cls.__name__} needs a `name`")
    REGISTRY[cls.name] = cls()
    return cls


def get_op(name: str) -> Op | None:
    return REGISTRY.get(name)


def spatial(y: Shape) -> int:
    """H*W of a (C, H, W) shape, 1 for a vector."""
    return y[1] * y[2] if len(y) == 3 else 1


def window_out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """PyTorch's output-size arithmetic for conv and pooling windows."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:   # the last window must start inside the input or left padding
            out -= 1
        return out
    return span // s + 1


def attr_schema(op: Op) -> dict[str, Any]:
    return op.Attrs.model_json_schema()
