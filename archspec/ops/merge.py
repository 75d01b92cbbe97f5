"""Ops that join, split or reshape tensors: concat, add, mul, div, matmul, zero-padded shortcut, flatten, permute,
chunk, channel shuffle."""
from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator, Field

from ..errors import SpecError, fmt_shape
from . import base
from .axes import MAX_RANK
from .base import Call, ChannelsLast, NonNeg, Op, Pos, Prob, Saved, Self, Tensor, axis_of, kw, like, register, torch_dim

PAD_CHANNELS = '''
class PadChannels(nn.Module):
    """Parameter-free shortcut (ResNet option A): x[:, :, ::stride, ::stride], zero-padded
    from in_channels to out_channels."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.pad = out_channels - in_channels
        self.stride = stride

    def forward(self, x):
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, 0, self.pad))
'''


def _shapes(xs) -> str:
    return " and ".join(map(fmt_shape, xs))


@register
class Concat(Op):
    name = "concat"
    arity = None
    ranks = None
    doc = ("concatenation along channels (torch.cat(dim=1)), or along the first per-sample axis of any rank "
           "(CLIP's mean token before the (H*W, C) tokens)")

    def shape(self, a, xs):
        ranks = {len(x) for x in xs}
        if len(ranks) > 1 or (xs[0][1:] and len({x[1:] for x in xs}) > 1):
            raise SpecError(f"cannot concatenate {_shapes(xs)}: spatial sizes differ",
                            hint="every branch must keep the same height and width "
                                 "(check strides, padding and ceil_mode)")
        return (sum(x[0] for x in xs), *xs[0][1:])

    fresh = True

    def call(self, a, args, inplace=False):
        return Call("torch.cat", (("tensors", list(args)), ("dim", 1)))


def _tuple(v):
    return tuple(v) if isinstance(v, list) else v


Weights = Annotated[tuple[float, ...], BeforeValidator(_tuple), Field(min_length=2)]


@register
class Add(Op):
    name = "add"
    arity = None
    ranks = None
    channels_last = True
    doc = ("element-wise sum of same-shaped tensors (residual merge), the later ones may broadcast into "
           "the first's shape ((C, 1, 1) onto (C, H, W): global context's fusion by addition); with `weights`, "
           "one coefficient per input (Caffe's Eltwise coeff): weights: [1, 0.17] is x + 0.17 * branch")

    class Attrs(base.Attrs):
        weights: Weights | None = None

    def shape(self, a, xs):
        # the first input's shape is the result's: x.add_(y) in place stays valid
        if any(len(x) != len(xs[0]) or any(q not in (p, 1) for p, q in zip(xs[0], x)) for x in xs[1:]):
            raise SpecError(f"cannot add {_shapes(xs)}",
                            hint="the shortcut changes shape; add a projection (1x1 conv, stride 2) "
                                 "when stride != 1 or the channels change, or a pad_channels shortcut")
        if a.weights is not None and len(a.weights) != len(xs):
            raise SpecError(f"add has {len(xs)} inputs but {len(a.weights)} weights",
                            hint="give one weight per input, in the order of `in`")
        return xs[0]

    fresh = True
    inplace = True

    def call(self, a, args, inplace=False):
        # a weight the spec gives is written, 1.0 too (`x + 1.0 * out`: Inception-ResNet's last
        # Block8 at scale 1.0 is the others' class), but for the first input's 1 (the residual's x)
        w = a.weights or (1.0,) * len(args)
        given = [a.weights is not None and (k > 0 or c != 1) for k, c in enumerate(w)]
        if inplace:      # out += identity, as torchvision writes it
            head = args[0] if not given[0] else Call(".mul_", (("other", w[0]),)).on(args[0])
            for v, c, g in zip(args[1:], w[1:], given[1:]):
                head = Call(".add_", (), (kw("alpha", c),) if g else ()).on(head, v)
            return head
        return Call("+").on(*(Call("*", (("weight", c), ("x", v))) if g else v for v, c, g in zip(args, w, given)))

    def elementwise(self, a, xs, y):
        return (len(xs) - 1) * math.prod(y)

    def label(self, a):
        return "add" if a.weights is None else "add " + ", ".join(f"{c:g}" for c in a.weights)


def _broadcast(xs, verb: str):
    """The shape of an element-wise product or quotient: equal axes, or 1 on either side."""
    out = list(xs[0])
    for x in xs[1:]:
        if len(x) != len(out) or any(p != q and 1 not in (p, q) for p, q in zip(out, x)):
            raise SpecError(f"cannot {verb} {_shapes(xs)}",
                            hint="shapes must match or be 1 on the axes that differ, e.g. (C, 1, 1)")
        out = [max(p, q) for p, q in zip(out, x)]
    return like(xs[0], out)


@register
class Mul(Op):
    name = "mul"
    arity = None
    ranks = None
    channels_last = True
    doc = "element-wise product with broadcasting, e.g. (C, H, W) x (C, 1, 1) for squeeze-and-excitation"

    def shape(self, a, xs):
        return _broadcast(xs, "multiply")

    def elementwise(self, a, xs, y):
        return (len(xs) - 1) * math.prod(y)

    def saved(self, a, xs, y, inplace=False):
        return tuple(Saved("input", i) for i in range(len(xs)))     # each factor's gradient reads the others

    fresh = True

    def call(self, a, args, inplace=False):
        return Call("*").on(*args)


@register
class Div(Op):
    name = "div"
    arity = 2
    ranks = None
    channels_last = True
    fresh = True
    doc = ("element-wise quotient with broadcasting as mul's: a / b, e.g. (C, H, W) / (C, H, 1) normalises each "
           "row by its sum (BAT's bilinear attention)")

    def shape(self, a, xs):
        return _broadcast(xs, "divide")

    def elementwise(self, a, xs, y):
        return math.prod(y)

    def saved(self, a, xs, y, inplace=False):
        return (Saved("input", 0), Saved("input", 1))      # the divisor's gradient reads both

    def call(self, a, args, inplace=False):
        return Call("/").on(*args)


@register
class PadChannels(Op):
    name = "pad_channels"
    ranks = (3,)
    doc = ("identity shortcut that subsamples by `stride` (x[:, :, ::s, ::s]) and zero-pads the channels "
           "to `out` (ResNet option A, PyramidNet)")

    class Attrs(base.Attrs):
        out: Pos
        stride: Pos = 1

    def shape(self, a, xs):
        c, h, w = xs[0]
        if a.out < c:
            raise SpecError(f"pad_channels to {a.out} cannot shrink {c} channels",
                            hint="use a 1x1 conv projection to reduce channels")
        return (a.out, math.ceil(h / a.stride), math.ceil(w / a.stride))

    def module(self, a, xs, y, inplace=False):
        # a module even when anonymous: its constructor, not forward, holds the channel numbers
        return Call("PadChannels", (("in_channels", xs[0][0]), ("out_channels", a.out)), (kw("stride", a.stride, 1),),
                    (PAD_CHANNELS,))

    def label(self, a):
        return f"pad channels {a.out}" + (f", /{a.stride}" if a.stride > 1 else "")


@register
class Flatten(Op):
    name = "flatten"
    ranks = None
    doc = ("joins the per-sample axes `start` to `end` (both included; by default all: (C, H, W) -> "
           "(C*H*W,)) into one: torch.flatten(x, start + 1, end + 1), the batch axis left alone")
    view = True

    class Attrs(base.Attrs):
        start: int = 0
        end: int = -1

    def _axes(self, a, x) -> tuple[int, int]:
        s, e = axis_of(a.start, x, "start"), axis_of(a.end, x, "end")
        if s > e:
            raise SpecError(f"flatten start {a.start} comes after end {a.end} in {fmt_shape(x)}",
                            hint="start names the first axis to join, end the last")
        return s, e

    def shape(self, a, xs):
        x = xs[0]
        s, e = self._axes(a, x)
        return (*x[:s], math.prod(x[s:e + 1]), *x[e + 1:])

    def module(self, a, xs, y, inplace=False):
        s, e = self._axes(a, xs[0])
        end = -1 if e == len(xs[0]) - 1 else e + 1
        return Call("nn.Flatten", (), (kw("start_dim", s + 1, 1), kw("end_dim", end, -1)))

    def call(self, a, args, inplace=False):
        end = () if a.end == -1 else (("end_dim", torch_dim(a.end)),)
        return Call("torch.flatten", (("start_dim", torch_dim(a.start)), *end)).on(args[0])

    def label(self, a):
        return "flatten" if (a.start, a.end) == (0, -1) else f"flatten {a.start}..{a.end}"


PERMUTE = '''
class Permute(nn.Module):
    """torch.permute as a module (torchvision.ops.Permute): `dims` orders the axes, batch first."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return torch.permute(x, self.dims)
'''


def _dims(v):
    return tuple(v) if isinstance(v, list) else v


@register
class Permute(Op):
    name = "permute"
    channels_last = True
    ranks = None
    view = True             # of its input, which it keeps nothing of for backward
    doc = ("reorders the axes, the batch axis 0 staying first (torch.permute): dims [0, 2, 3, 1] makes "
           "a (C, H, W) map the channels-last (H, W, C) tensor that layernorm and linear then act on per "
           "position, [0, 3, 1, 2] makes it channels first again (ConvNeXt's block); any other order keeps a tensor "
           "channels first, its new first axis the channels")

    class Attrs(base.Attrs):
        # up to MAX_RANK per-sample axes and the batch's: TResNet's space-to-depth permutes (4, 4, C, H, W)
        dims: Annotated[tuple[int, ...], BeforeValidator(_dims), Field(min_length=2, max_length=MAX_RANK + 1)]

    def shape(self, a, xs):
        x, dims = xs[0], a.dims
        if sorted(dims) != list(range(len(x) + 1)) or dims[0] != 0:
            raise SpecError(f"dims {list(dims)} do not reorder the {len(x) + 1} axes of the (N, ...) input "
                            f"{fmt_shape(x)} with the batch axis 0 first",
                            hint="e.g. [0, 2, 3, 1] (to channels last) or [0, 3, 1, 2] (back to channels first)")
        sizes = [x[d - 1] for d in dims[1:]]
        channel = dims.index(len(x) if isinstance(x, ChannelsLast) else 1)     # where the channel axis goes
        # a channels-first tensor's axes reorder freely (its new first is its channels: MobileNetV4's attention
        # output reshaped to (H, W, C), then permuted to (C, H, W)); a channels-last one's channels go first or last
        if len(x) == 3 and channel not in (1, 3) and isinstance(x, ChannelsLast):
            raise SpecError(f"dims {list(dims)} put the channel axis of {fmt_shape(x)} between height and width",
                            hint="the channel axis goes first (1) or last (3)")
        return ChannelsLast(sizes) if len(x) == 3 and channel == 3 else tuple(sizes)

    def module(self, a, xs, y, inplace=False):
        return Call("Permute", (("dims", a.dims),), (), (PERMUTE,))

    def call(self, a, args, inplace=False):
        return Call(".permute", tuple((f"dim{k}", d) for k, d in enumerate(a.dims))).on(args[0])

    def label(self, a):
        return f"permute {', '.join(map(str, a.dims))}"


CHUNK = '''
class Chunk(nn.Module):
    """One of `chunks` pieces of the channels (torch.chunk(x, chunks, 1)[index]): a view."""

    def __init__(self, chunks, index=0):
        super().__init__()
        self.chunks = chunks
        self.index = index

    def forward(self, x):
        return x.chunk(self.chunks, 1)[self.index]
'''


@register
class Chunk(Op):
    name = "chunk"
    ranks = (1, 3)
    doc = ("one piece of the channels cut into `chunks` pieces of ceil(C / chunks) (the last one may be "
           "smaller): torch.chunk(x, chunks, 1)[index], ShuffleNetV2's channel split")
    view = True

    class Attrs(base.Attrs):
        chunks: Pos
        index: NonNeg = 0

    def shape(self, a, xs):
        c = xs[0][0]
        size = -(-c // a.chunks)
        start = a.index * size
        if start >= c:
            raise SpecError(f"chunk {a.index} of {a.chunks} is empty: {c} channels make "
                            f"{-(-c // size)} pieces of {size}", hint=f"use an index below {-(-c // size)}")
        return (min(c, start + size) - start, *xs[0][1:])

    def module(self, a, xs, y, inplace=False):
        # a module even when anonymous: generated forward code indexes nothing
        return Call("Chunk", (("chunks", a.chunks),), (kw("index", a.index, 0),), (CHUNK,))

    def label(self, a):
        return f"chunk {a.index + 1}/{a.chunks}"


@register
class ChannelShuffle(Op):
    name = "channel_shuffle"
    ranks = (3,)
    doc = ("ShuffleNet's channel shuffle: the channels read as a groups x (C / groups) grid and transposed, "
           "so that each group's channels spread over all groups")
    fresh = True

    class Attrs(base.Attrs):
        groups: Pos

    def shape(self, a, xs):
        if xs[0][0] % a.groups:
            raise SpecError(f"{xs[0][0]} channels do not split into {a.groups} groups",
                            hint=f"use a groups value that divides {xs[0][0]}")
        return xs[0]

    def call(self, a, args, inplace=False):
        split = Call(".unflatten", (("dim", 1), ("sizes", (a.groups, -1)))).on(args[0])
        swapped = Call(".transpose", (("dim0", 1), ("dim1", 2))).on(split)
        return Call(".flatten", (("start_dim", 1), ("end_dim", 2))).on(swapped)

    def label(self, a):
        return f"channel shuffle {a.groups}"


@register
class Matmul(Op):
    name = "matmul"
    arity = 2
    ranks = None
    fresh = True
    doc = ("the matrix product over the last two per-sample axes, the axes before them alike: a @ b, "
           "(..., n, k) @ (..., k, m) -> (..., n, m); global context's attention-weighted sum of positions")

    def shape(self, a, xs):
        # no broadcasting: torch would copy the expanded input for the backward (memory the report omits)
        x, w = xs
        if len(x) < 2 or len(w) != len(x) or x[-1] != w[-2] or x[:-2] != w[:-2]:
            raise SpecError(f"cannot multiply the matrices {_shapes(xs)}",
                            hint="(..., n, k) @ (..., k, m): the same rank, at least 2, the first's last axis "
                                 "the second's next to last, the axes before them equal")
        return (*x[:-2], x[-2], w[-1])

    def macs(self, a, xs, y):
        return math.prod(y) * xs[0][-1]

    def saved(self, a, xs, y, inplace=False):
        return (Saved("input", 0), Saved("input", 1))      # each factor's gradient reads the other

    def call(self, a, args, inplace=False):
        return Call("@").on(args[0], args[1])

    def label(self, a):
        return "matmul"


@register
class Attention(Op):
    name = "attention"
    arity = 3
    ranks = None
    fresh = True
    doc = ("scaled dot-product attention of queries (..., L, E) over keys (..., S, E) and values (..., S, Ev), "
           "the axes before the last two (heads) broadcast (one key/value head for many query heads: "
           "MobileNetV4's multi-query attention): F.scaled_dot_product_attention(q, k, v), softmax(q k^T * "
           "`scale`) v, `scale` null for 1 / sqrt(E), `dropout` on the weights in training; (..., L, Ev)")

    class Attrs(base.Attrs):
        scale: float | None = None
        dropout: Prob = 0.0

    def shape(self, a, xs):
        q, k, v = xs
        lead = _leading([q[:-2], k[:-2], v[:-2]]) if len(q) == len(k) == len(v) >= 2 else None
        if lead is None or q[-1] != k[-1] or k[-2] != v[-2]:
            raise SpecError(f"no attention of the queries, keys and values {', '.join(map(fmt_shape, xs[:2]))} "
                            f"and {fmt_shape(v)}",
                            hint="(..., L, E), (..., S, E), (..., S, Ev): the same rank, at least 2, the keys' "
                                 "E the queries', as many values as keys, the axes before them equal or 1")
        return (*lead, q[-2], v[-1])

    def macs(self, a, xs, y):
        q, k, v = xs                 # q k^T, then the weights times v (FlopCounterMode's count / 2)
        return math.prod(y[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])

    def saved(self, a, xs, y, inplace=False):
        # torch's math kernel (the one training runs on a CPU): the queries and keys scaled anew, the weights
        # (with dropout also its mask and the dropped weights), the values (a copy where broadcast)
        q, k, v = xs
        lead = y[:-2]
        weights = Saved("new", shape=(*lead, q[-2], k[-2]))
        values = Saved("input", 2) if v[:-2] == lead else Saved("new", shape=(*lead, *v[-2:]))
        return (Saved("new", shape=(*lead, *q[-2:])), Saved("new", shape=(*lead, *k[-2:])),
                *(weights,) * (3 if a.dropout else 1), values)

    def call(self, a, args, inplace=False):
        # dropout in training only: p * self.training (0.0 in eval)
        p = Call("*", (("p", a.dropout),)).on(Self("training")) if a.dropout else 0.0
        return Call("F.scaled_dot_product_attention", (),
                    (kw("dropout_p", p, 0.0), kw("scale", a.scale, None))).on(*args)

    def label(self, a):
        return "attention"


def _leading(leads: list[tuple]) -> tuple | None:
    """The leading axes of the queries, keys and values broadcast together, or None where they cannot."""
    out = []
    for sizes in zip(*leads):
        big = {s for s in sizes if s != 1}
        if len(big) > 1:
            return None
        out.append(big.pop() if big else 1)
    return tuple(out)


@register
class PosEmbed(Op):
    name = "pos_embed"
    ranks = None
    fresh = True
    doc = ("a learnable tensor of the input's own shape added to it: an absolute position embedding (CLIP's "
           "attention pool, (H*W + 1, C) tokens); a parameter of the enclosing block itself, named after the "
           "node (timm's head.pos_embed), initialised to zeros")

    def tensors(self, a, xs, y):
        return [Tensor("", tuple(xs[0]))]

    def parameter(self, a, xs, y):
        return Call("torch.zeros", (("size", tuple(xs[0])),))

    def elementwise(self, a, xs, y):
        return math.prod(y)            # one addition per element, as add's

    def call(self, a, args, inplace=False):
        return Call("+").on(args[1], args[0])        # x + pos_embed, as timm writes it

    def label(self, a):
        return "pos embed"
