"""Ops on the axes of a tensor: slice, split, stack, reshape, unflatten, transpose, and the sum,
mean and maximum over axes. They take and make shapes of any rank (a stack of (C, 1, 1) maps is
(R, C, 1, 1)); every `axis` counts per sample, 0 the channels, a negative one from the end
(base.axis_of); their PyTorch form is the expression a PyTorch author writes (torch.stack([a, b], 1),
x.sum(1)), or for slice and split a small module, each checked against torch in tests/test_ops.py."""
from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import BeforeValidator, Field

from ..errors import SpecError, fmt_shape
from ..limits import MAX_SIZE
from . import base
from .base import INPUT0, OUTPUT, Call, Op, Pos, axis_of, kw, register, torch_dim

MAX_RANK = 8        # per-sample axes a shape may have (torch allows 64; no CNN needs more than a few)

# Where a tensor is cut is a constructor argument of a module, not text in forward: blocks that
# differ only in it (DPN's, Res2Net's) share one class, as with chunk.
SLICE = '''
class Slice(nn.Module):
    """x[start:stop:step] along dim (a view)."""

    def __init__(self, dim, start=0, stop=None, step=1):
        super().__init__()
        self.index = (slice(None),) * dim + (slice(start, stop, step),)

    def forward(self, x):
        return x[self.index]
'''

SPLIT = '''
class Split(nn.Module):
    """torch.split(x, sizes, dim)[index]: one piece, of unequal sizes (a view); a size -1 is
    the rest of the axis."""

    def __init__(self, sizes, index, dim=1):
        super().__init__()
        self.sizes = list(sizes)
        self.known = sum(s for s in sizes if s != -1)
        self.index = index
        self.dim = dim

    def forward(self, x):
        sizes = [x.size(self.dim) - self.known if s == -1 else s for s in self.sizes]
        return torch.split(x, sizes, self.dim)[self.index]
'''


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


# sizes on an axis: positive, one of them may be -1 (the rest of the axis)
Size = Annotated[int, Field(ge=-1)]
Sizes = Annotated[tuple[Size, ...], BeforeValidator(_tuple), Field(min_length=1, max_length=MAX_RANK)]
Axes = Annotated[Union[int, tuple[int, ...]], BeforeValidator(_tuple)]


def _filled(sizes: tuple, total: int, what: str, product: bool) -> tuple[int, ...]:
    """`sizes` with its -1 (at most one) made what `total` leaves: total minus the others' sum
    (a split), or total divided by their product (a reshape); each size must be positive."""
    if 0 in sizes or sizes.count(-1) > 1:
        raise SpecError(f"{what} {list(sizes)}: sizes are positive, and at most one is -1 (the rest)")
    known = [s for s in sizes if s != -1]
    done = math.prod(known) if product else sum(known)
    rest = (total // done if total % done == 0 else 0) if product else total - done
    if -1 in sizes and rest >= 1:
        return tuple(rest if s == -1 else s for s in sizes)
    if -1 not in sizes and rest == (1 if product else 0):
        return tuple(sizes)
    need = f"{'multiply' if product else 'add up'} to {total}"
    raise SpecError(f"{what} {list(sizes)} do not {need}",
                    hint=f"give sizes that {need}" + ("" if -1 in sizes else ", or -1 for the rest"))


def _check_rank(shape: tuple, what: str) -> tuple:
    if not 1 <= len(shape) <= MAX_RANK:
        raise SpecError(f"{what} makes the per-sample shape {fmt_shape(shape)}: "
                        f"it needs 1 to {MAX_RANK} axes", hint="keep at least one axis besides the batch")
    return shape


@register
class Slice(Op):
    name = "slice"
    node_name = "sliced"
    ranks = None
    view = True
    doc = ("x[start:stop:step] along one per-sample `axis` (0: the channels), Python's semantics "
           "(negative start and stop count from the end, stop null: to the end): DPN's residual and "
           "dense parts, x[:, :256] and x[:, 256:]")

    class Attrs(base.Attrs):
        axis: int = 0
        start: int = 0
        stop: int | None = None
        step: Pos = 1

    def shape(self, a, xs):
        x = xs[0]
        k = axis_of(a.axis, x)
        n = len(range(x[k])[a.start:a.stop:a.step])
        if n == 0:
            raise SpecError(f"slice {self._key(a)} of axis {a.axis} (size {x[k]}) of {fmt_shape(x)} is empty",
                            hint=f"start and stop within 0 .. {x[k]}, start before stop")
        return (*x[:k], n, *x[k + 1:])

    def _key(self, a) -> str:
        key = f"{a.start or ''}:{'' if a.stop is None else a.stop}"
        return key + (f":{a.step}" if a.step != 1 else "")

    def module(self, a, xs, y, inplace=False):
        return Call("Slice", (("dim", axis_of(a.axis, xs[0]) + 1),),
                    (kw("start", a.start, 0), kw("stop", a.stop, None), kw("step", a.step, 1)), (SLICE,))

    def label(self, a):
        return f"slice {self._key(a)}" + (f" axis {a.axis}" if a.axis else "")


@register
class Split(Op):
    name = "split"
    ranks = None
    view = True
    doc = ("piece `index` of the per-sample `axis` (0: the channels) cut into `sizes` (one may be -1, the "
           "rest): torch.split(x, sizes, axis + 1)[index], pieces of unequal sizes (DPN, Res2Net)")

    class Attrs(base.Attrs):
        sizes: Annotated[tuple[Size, ...], BeforeValidator(_tuple), Field(min_length=1, max_length=MAX_SIZE)]
        index: int = 0
        axis: int = 0

    def shape(self, a, xs):
        x = xs[0]
        k = axis_of(a.axis, x)
        sizes = _filled(a.sizes, x[k], f"split sizes of axis {a.axis} of {fmt_shape(x)}:", product=False)
        if not -len(sizes) <= a.index < len(sizes):
            raise SpecError(f"split index {a.index} is out of range for {len(sizes)} pieces",
                            hint=f"0 to {len(sizes) - 1}, or -1 to -{len(sizes)} from the end")
        return (*x[:k], sizes[a.index], *x[k + 1:])

    def module(self, a, xs, y, inplace=False):
        k = axis_of(a.axis, xs[0])
        sizes = _filled(a.sizes, xs[0][k], "split sizes", product=False)     # checked; -1 stays the rest
        return Call("Split", (("sizes", a.sizes), ("index", a.index % len(sizes))), (kw("dim", k + 1, 1),),
                    (SPLIT,))

    def label(self, a):
        return f"split {a.index % len(a.sizes) + 1}/{len(a.sizes)}" + (f" axis {a.axis}" if a.axis else "")


@register
class Stack(Op):
    name = "stack"
    arity = None
    ranks = None
    fresh = True
    doc = ("same-shaped tensors stacked on a new per-sample `axis` (default 0, before the channels): "
           "torch.stack(xs, axis + 1); SKNet's branches as (R, C, H, W)")

    class Attrs(base.Attrs):
        axis: int = 0

    def shape(self, a, xs):
        if len({tuple(x) for x in xs}) > 1:
            raise SpecError(f"cannot stack {' and '.join(map(fmt_shape, xs))}: shapes differ",
                            hint="every input must have the same shape")
        x = xs[0]
        k = axis_of(a.axis, x, extra=1)
        return _check_rank((*x[:k], len(xs), *x[k:]), "stack")

    def call(self, a, args, inplace=False):
        return Call("torch.stack", (("tensors", list(args)), ("dim", torch_dim(a.axis))))

    def label(self, a):
        return "stack" + (f" axis {a.axis}" if a.axis else "")


@register
class Reshape(Op):
    name = "reshape"
    ranks = None
    view = True
    doc = ("the per-sample shape made `shape` (one entry may be -1, the rest), the element count kept: "
           "x.flatten(1).unflatten(1, shape); ResNeSt's (R*C, 1, 1) -> (R, C, 1, 1)")

    class Attrs(base.Attrs):
        shape: Sizes

    def shape(self, a, xs):
        x = xs[0]
        return _filled(a.shape, math.prod(x), f"reshape of {fmt_shape(x)} ({math.prod(x)} elements) to",
                       product=True)

    def call(self, a, args, inplace=False):
        # per sample, without reading the batch size (`x.shape[0]`: the generated code has no subscripts)
        flat = Call(".flatten", (("start_dim", 1),)).on(args[0])
        return Call(".unflatten", (("dim", 1), ("sizes", tuple(a.shape)))).on(flat)

    def label(self, a):
        return f"reshape {', '.join(map(str, a.shape))}"


@register
class Unflatten(Op):
    name = "unflatten"
    ranks = None
    view = True
    doc = ("one per-sample `axis` made several of `sizes` (one may be -1): x.unflatten(axis + 1, sizes), "
           "the inverse of flatten")

    class Attrs(base.Attrs):
        axis: int = 0
        sizes: Annotated[tuple[Size, ...], BeforeValidator(_tuple), Field(min_length=1, max_length=MAX_RANK)]

    def shape(self, a, xs):
        x = xs[0]
        k = axis_of(a.axis, x)
        sizes = _filled(a.sizes, x[k], f"unflatten of axis {a.axis} of {fmt_shape(x)} into", product=True)
        return _check_rank((*x[:k], *sizes, *x[k + 1:]), "unflatten")

    def call(self, a, args, inplace=False):
        return Call(".unflatten", (("dim", torch_dim(a.axis)), ("sizes", a.sizes))).on(args[0])

    def label(self, a):
        return f"unflatten {', '.join(map(str, a.sizes))}" + (f" axis {a.axis}" if a.axis else "")


@register
class Transpose(Op):
    name = "transpose"
    ranks = None
    view = True
    doc = "two per-sample axes swapped: x.transpose(a + 1, b + 1); ResNeSt's (cardinality, radix) swap"

    class Attrs(base.Attrs):
        axes: Annotated[tuple[int, int], BeforeValidator(_tuple)]

    def shape(self, a, xs):
        x = list(xs[0])
        i, j = (axis_of(v, xs[0]) for v in a.axes)
        x[i], x[j] = x[j], x[i]
        return tuple(x)

    def call(self, a, args, inplace=False):
        return Call(".transpose", (("dim0", torch_dim(a.axes[0])), ("dim1", torch_dim(a.axes[1])))).on(args[0])

    def label(self, a):
        return f"transpose {a.axes[0]}, {a.axes[1]}"


class _Reduce(Op):
    """The sum or mean over per-sample axes: x.sum(axis + 1) / x.mean((a + 1, b + 1), keepdim=True)."""
    ranks = None
    fresh = True

    class Attrs(base.Attrs):
        axis: Axes
        keepdim: bool = False

    def _axes(self, a, x) -> list[int]:
        axes = [axis_of(v, x) for v in ((a.axis,) if isinstance(a.axis, int) else a.axis)]
        if len(set(axes)) < len(axes) or not axes:
            raise SpecError(f"{self.name} over the axes {list(axes)} of {fmt_shape(x)}: name each axis once")
        return axes

    def shape(self, a, xs):
        x, axes = xs[0], self._axes(a, xs[0])
        out = tuple(1 if i in axes else n for i, n in enumerate(x)) if a.keepdim else \
            tuple(n for i, n in enumerate(x) if i not in axes)
        return _check_rank(out, f"{self.name} over axes {list(axes)}")

    def elementwise(self, a, xs, y):
        return math.prod(xs[0])          # each input element is summed once (as global_avgpool)

    def call(self, a, args, inplace=False):
        dims = torch_dim(a.axis) if isinstance(a.axis, int) else tuple(map(torch_dim, a.axis))
        return Call(f".{self.name}", (("dim", dims),), (kw("keepdim", a.keepdim, False),)).on(args[0])

    def label(self, a):
        axes = [a.axis] if isinstance(a.axis, int) else list(a.axis)
        return f"{self.name} {'axes' if len(axes) > 1 else 'axis'} {', '.join(map(str, axes))}"


@register
class Sum(_Reduce):
    name = "sum"
    node_name = "summed"
    doc = ("the sum over per-sample `axis` (one, or a list), `keepdim` keeping them as size 1: "
           "x.sum(axis + 1); SKNet's sum of the weighted branches over the stack's axis 0")


@register
class Mean(_Reduce):
    name = "mean"
    doc = ("the mean over per-sample `axis` (one, or a list), `keepdim` keeping them as size 1: "
           "x.mean((2, 3), keepdim=True) is axis: [1, 2], keepdim: true (squeeze-and-excitation's pooling)")


@register
class Amax(_Reduce):
    name = "amax"
    doc = ("the maximum over per-sample `axis` (one, or a list), `keepdim` keeping them as size 1: "
           "x.amax(axis + 1); CBAM's max-pooled channel and spatial descriptors")

    def saved(self, a, xs, y, inplace=False):
        return INPUT0 + OUTPUT         # its backward finds where the maxima were: input == result


@register
class Contiguous(Op):
    name = "contiguous"
    ranks = None
    channels_last = True
    doc = ("the same values laid out anew in row-major order: x.contiguous(), a copy where a permute or "
           "transpose left the input strided (the import keeps it there: a conv after it computes as torch's "
           "source does, to the bit)")

    def call(self, a, args, inplace=False):
        return Call(".contiguous").on(args[0])
