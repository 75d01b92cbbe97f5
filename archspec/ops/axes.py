"""Ops on the axes of a tensor: slice, split, stack, reshape, unflatten, transpose, pad, expand, and the sum,
mean and maximum over axes. They take and make shapes of any rank (a stack of (C, 1, 1) maps is
(R, C, 1, 1)); every `axis` counts per sample, 0 the channels, a negative one from the end
(base.axis_of); their PyTorch form is the expression a PyTorch author writes (torch.stack([a, b], 1),
x.sum(1)), or for slice and split a small module, each checked against torch in tests/test_ops.py."""
from __future__ import annotations

import math
from typing import Annotated, Literal, Union

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


PAD_MODULES = {"constant": "ConstantPad", "reflect": "ReflectionPad", "replicate": "ReplicationPad"}


@register
class Pad(Op):
    name = "pad"
    ranks = None
    fresh = True
    doc = ("F.pad: `amounts` per side of the last axes, the last axis first as torch orders them ([left, right] "
           "of the width, then [top, bottom] of the height, then the channels' two ends); `mode` constant (with "
           "`value`; a negative amount crops), reflect or replicate. TensorFlow's asymmetric 'same' padding "
           "(timm's Conv2dSame: [0, 1, 0, 1] before a stride-2 conv), blur pooling's reflect padding")

    class Attrs(base.Attrs):
        amounts: Annotated[tuple[int, ...], BeforeValidator(_tuple), Field(min_length=2, max_length=6)]
        mode: Literal["constant", "reflect", "replicate"] = "constant"
        value: float = 0.0

    def shape(self, a, xs):
        x, n = xs[0], len(a.amounts)
        if n % 2 or n // 2 > len(x) or (a.mode != "constant" and len(x) not in (n // 2, n // 2 + 1)):
            raise SpecError(f"pad amounts {list(a.amounts)} ({n}) do not fit the per-sample shape {fmt_shape(x)}"
                            f"{'' if a.mode == 'constant' else f' in mode {a.mode}'}",
                            hint="two amounts (before, after) per padded axis, the last axis first"
                                 + ("" if a.mode == "constant" else f"; {a.mode} pads the last {len(x) - 1} or "
                                    f"{len(x)} axes ({2 * len(x) - 2} or {2 * len(x)} amounts)"))
        if a.value and a.mode != "constant":
            raise SpecError(f"a pad value {a.value} in mode {a.mode}", hint="value applies to mode constant")
        out = list(x)
        for k in range(n // 2):
            axis, (before, after) = len(x) - 1 - k, a.amounts[2 * k:2 * k + 2]
            self._check_side(a, x, axis, before, after)
            out[axis] = x[axis] + before + after
        return tuple(out)

    @staticmethod
    def _check_side(a, x, axis: int, before: int, after: int) -> None:
        where = f"pad {before}, {after} of axis {axis} (size {x[axis]}) of {fmt_shape(x)}"
        if x[axis] + before + after <= 0:
            raise SpecError(f"{where} leaves size {x[axis] + before + after}",
                            hint="a negative amount crops: crop less than the axis holds")
        if a.mode != "constant" and min(before, after) < 0:
            raise SpecError(f"{where}: mode {a.mode} takes no negative amount", hint="crop with mode constant")
        if a.mode == "reflect" and max(before, after) >= x[axis]:
            raise SpecError(f"{where}: reflect pads less than the axis holds", hint=f"at most {x[axis] - 1}")

    def saved(self, a, xs, y, inplace=False):
        # constant padding's backward only crops; reflect's and replicate's keep their input (measured by the hooks)
        return () if a.mode == "constant" else INPUT0

    def _module_name(self, a) -> str:
        zero = a.mode == "constant" and a.value == 0
        return f"nn.{'ZeroPad' if zero else PAD_MODULES[a.mode]}{len(a.amounts) // 2}d"

    def module(self, a, xs, y, inplace=False):
        value = (("value", a.value),) if a.mode == "constant" and a.value != 0 else ()
        return Call(self._module_name(a), (("padding", tuple(a.amounts)), *value))

    def call(self, a, args, inplace=False):
        return Call("F.pad", (("pad", tuple(a.amounts)),),
                    (kw("mode", a.mode, "constant"), kw("value", a.value, 0.0))).on(args[0])

    def label(self, a):
        value = f" {a.value:g}" if a.value else ""
        return f"pad {', '.join(map(str, a.amounts))}" + ("" if a.mode == "constant" else f" {a.mode}") + value


PAD_SAME = '''
class PadSame(nn.Module):
    """TensorFlow's 'SAME' padding for a kernel_size window at stride (timm's pad_same): the padding,
    computed from the input's size, that gives ceil(size / stride) windows, the odd one after."""

    def __init__(self, kernel_size, stride, dilation=1, mode="constant"):
        super().__init__()
        pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)
        self.mode = mode

    def forward(self, x):
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads = [total // 2, total - total // 2, *pads]
        return F.pad(x, pads, mode=self.mode)
'''


def same_amounts(size: tuple, k: tuple, stride: tuple, dilation: tuple) -> tuple[int, int, int, int]:
    """TensorFlow's 'SAME' padding (timm's pad_same) of an (H, W) input for a k window at `stride`: the
    (left, right, top, bottom) amounts that make ceil(size / stride) windows, the odd one after."""
    total = [max((-(-n // s) - 1) * s + (kk - 1) * d + 1 - n, 0) for n, kk, s, d in zip(size, k, stride, dilation)]
    h, w = total
    return (w // 2, w - w // 2, h // 2, h - h // 2)


@register
class PadSame(Op):
    name = "pad_same"
    ranks = (3,)
    fresh = True
    doc = ("TensorFlow's 'same' padding for a `k` window at `stride` (and `dilation`): the padding that gives "
           "ceil(size / stride) windows, one more after than before where it is odd, computed from the map's size "
           "as timm's Conv2dSame and MaxPool2dSame do in forward; mode constant (zeros) or replicate")

    class Attrs(base.Attrs):
        k: base.Pair
        stride: base.Pair = (1, 1)
        dilation: base.Pair = (1, 1)
        mode: Literal["constant", "replicate"] = "constant"

    def amounts(self, a, x) -> tuple[int, int, int, int]:
        return same_amounts(tuple(x[1:]), a.k, a.stride, a.dilation)

    def shape(self, a, xs):
        (c, h, w), (left, right, top, bottom) = xs[0], self.amounts(a, xs[0])
        return (c, h + top + bottom, w + left + right)

    def saved(self, a, xs, y, inplace=False):
        return () if a.mode == "constant" else INPUT0

    def module(self, a, xs, y, inplace=False):
        return Call("PadSame", (("kernel_size", base.square(a.k)), ("stride", base.square(a.stride))),
                    (kw("dilation", base.square(a.dilation), 1), kw("mode", a.mode, "constant")), (PAD_SAME,))

    def label(self, a):
        (kh, kw_), (sh, sw) = a.k, a.stride
        mode = "" if a.mode == "constant" else f" {a.mode}"
        return f"pad same {kh}x{kw_}/{sh if sh == sw else f'{sh},{sw}'}{mode}"


@register
class Expand(Op):
    name = "expand"
    ranks = None
    view = True             # of its input: the repeated entries share its memory
    doc = ("the axes of size 1 repeated to `sizes` (per sample, -1 keeping an axis): x.expand(-1, *sizes); "
           "BAT's (G, 1, b, b) maps made (G, C / G, b, b), one per channel of their group")

    class Attrs(base.Attrs):
        sizes: Sizes

    def shape(self, a, xs):
        x = xs[0]
        if len(a.sizes) != len(x) or any(s != -1 and n not in (1, s) for n, s in zip(x, a.sizes)):
            raise SpecError(f"cannot expand {fmt_shape(x)} to {list(a.sizes)}",
                            hint="give one size per axis: -1 or the axis's own size keeps it, one of size 1 may grow")
        return tuple(n if s == -1 else s for n, s in zip(x, a.sizes))

    def call(self, a, args, inplace=False):
        return Call(".expand", tuple((f"size{k}", s) for k, s in enumerate((-1, *a.sizes)))).on(args[0])

    def label(self, a):
        return f"expand {', '.join(map(str, a.sizes))}"


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
