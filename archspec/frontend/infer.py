"""infer: one op node's attributes, output shape, tensors and MACs, by the op's own rules.

Expansion (archspec/frontend/expand.py) calls `Inference.node` as soon as a node's
inputs are known, because later expressions may read its shape. Every rule
lives with its op (archspec/ops/); this module applies them, checks the
results against archspec's size limits and reports what is wrong.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import Loc, SpecError
from ..limits import MAX_ELEMENTS
from ..names import shown
from ..ops.base import Op, Tensor
from .syntax import Reporter, key_hint
from .yamlpos import YDict


@dataclass
class Inferred:
    """What inference found for one node; `shape` is None where an error made it unknown."""
    attrs: BaseModel | None
    shape: tuple | None
    tensors: list[Tensor]
    macs: int


class Inference:
    def __init__(self) -> None:
        self._attrs: dict[tuple, BaseModel | None] = {}   # nodes repeat the same attributes

    def node(self, op: Op, values: dict, xs: list[tuple | None], body: YDict, loc: Loc,
             report: Reporter) -> Inferred:
        """Validate `values` as op's attributes and apply its shape, tensor and MAC rules to the
        input shapes `xs` (None: unknown, after an earlier error, which is not repeated)."""
        attrs = self.attrs(op, values, body, loc, report)
        if attrs is None or any(x is None for x in xs):
            return Inferred(attrs, None, [], 0)
        shapes: list[tuple] = [x for x in xs if x is not None]
        try:
            op.check_inputs(shapes)
            y = op.shape(attrs, shapes)
            y = y if isinstance(y, tuple) else tuple(y)      # a ChannelsLast stays one
            if any(s <= 0 for s in y):
                raise SpecError(f"output size {y} is not positive (input {', '.join(map(str, shapes))})",
                                hint="the input is too small for this window and stride")
            tensors = op.tensors(attrs, shapes, y)
            check_sizes(y, tensors)
            return Inferred(attrs, y, tensors, op.macs(attrs, shapes, y))
        except SpecError as e:
            report(e.loc or loc, e.message, hint=e.hint)
            return Inferred(attrs, None, [], 0)

    def attrs(self, op: Op, values: dict, body: YDict, loc: Loc, report: Reporter) -> BaseModel | None:
        """The op's validated attributes, or None with every problem reported at its key."""
        try:
            key: tuple | None = (op.name, tuple((k, _freeze(v)) for k, v in values.items()))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._attrs:
            return self._attrs[key]
        try:
            attrs: BaseModel | None = op.Attrs.model_validate(values)
        except ValidationError as e:
            for err in e.errors():
                _report_attr(op, err, body, loc, report)
            attrs = None
        if key is not None:
            self._attrs[key] = attrs
        return attrs


def _report_attr(op: Op, err: Any, body: YDict, loc: Loc, report: Reporter) -> None:
    name = err["loc"][0] if err["loc"] else None
    if err["type"] == "extra_forbidden":
        fields = list(op.Attrs.model_fields)
        report(body.key_at(name), f"unknown attribute '{name}' for op {op.name}",
               hint=key_hint(name, fields, f"{op.name} takes: {', '.join(fields) or 'no attributes'}"))
    elif err["type"] == "missing":
        report(loc, f"op {op.name} needs attribute '{name}'", hint=f"e.g. {{op: {op.name}, {name}: ...}}")
    else:
        got = err.get("input")
        report(body.at(name), f"attribute '{name}' of {op.name}: {err['msg'][0].lower()}{err['msg'][1:]} "
                              f"(got {type(got).__name__} {shown(got)})")


def check_sizes(y: tuple, tensors: list[Tensor]) -> None:
    """An output or a tensor PyTorch could hold: at most MAX_ELEMENTS elements."""
    for what, shape in [("output", y), *((f"tensor '{t.key or 'parameter'}'", t.shape) for t in tensors)]:
        if math.prod(shape) > MAX_ELEMENTS:
            raise SpecError(f"{what} of shape {tuple(shape)} has more than archspec's limit of "
                            f"2^{MAX_ELEMENTS.bit_length() - 1} elements", hint="check the sizes and strides")


def _freeze(v: Any) -> Any:
    return tuple(_freeze(x) for x in v) if isinstance(v, list) else v
