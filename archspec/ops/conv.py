"""Convolution, including LeNet-5's partial connection table, and the 1-d convolution."""
from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from ..errors import SpecError, fmt_shape
from ..limits import MAX_TABLE_CELLS
from . import base
from .base import INPUT0, Call, NonNeg, NonNegPair, Op, Pair, Pos, Saved, Tensor, kw, register, square, window_out

# The compiled form of a connection table; emitted into generated files, which import only torch.
TABLE_CONV = '''
class TableConv(nn.Module):
    """A partially connected convolution (LeNet-5's C3). `classes` groups the output maps by
    fan-in: one list per group of the input maps each output map reads. Each group is one
    grouped conv (convs.g) over its maps' inputs gathered side by side; `order` lists the
    output map each conv output channel is, in concatenation order."""

    def __init__(self, classes, order, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(
                len(maps) * len(maps[0]),
                len(maps),
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=len(maps),
                bias=bias,
            )
            for maps in classes
        )
        gather = [i for maps in classes for ins in maps for i in ins]
        inverse = sorted(range(len(order)), key=order.__getitem__)
        self.register_buffer("gather", torch.tensor(gather), persistent=False)
        self.register_buffer("inverse", torch.tensor(inverse), persistent=False)
        self.reorder = inverse != list(range(len(order)))

    def forward(self, x):
        x = x.index_select(1, self.gather)
        outs = []
        start = 0
        for conv in self.convs:
            outs.append(conv(x[:, start : start + conv.in_channels]))
            start += conv.in_channels
        y = torch.cat(outs, 1)
        return y.index_select(1, self.inverse) if self.reorder else y
'''


@lru_cache(maxsize=64)
def parse_table(text: str) -> tuple[str, ...]:
    """A connection grid: one row per input map, one column per output map, X = connected.
    Parsed once per distinct table (shape, tensors, MACs, the module and the diagram all read it)."""
    rows = ["".join(r.split()) for r in text.strip().splitlines()]
    cells = sum(map(len, rows))
    if cells > MAX_TABLE_CELLS:      # before any work: a diagram draws each cell, build writes each
        raise SpecError(f"connection table has {cells:,} cells, over the limit of {MAX_TABLE_CELLS:,} "
                        f"(MAX_TABLE_CELLS)", hint="a partial connection table is for a few maps (LeNet-5's "
                        "C3 is 6x16); use groups for wide layers")
    for i, row in enumerate(rows):
        bad = set(row) - set("Xx.")
        if bad:
            raise SpecError(f"connections row {i} has {''.join(sorted(bad))!r}; use X (connected) and . (not)")
    return tuple(rows)


def table_fan_in(rows: tuple[str, ...]) -> list[list[int]]:
    """For each output map, the input maps it reads."""
    return [[i for i, row in enumerate(rows) if row[j] in "Xx"] for j in range(len(rows[0]))]


def table_classes(fan_in: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Output maps grouped by fan-in size, in order of first appearance: [(size, [maps])].
    Each class compiles to one grouped convolution."""
    classes: dict[int, list[int]] = {}
    for j, ins in enumerate(fan_in):
        classes.setdefault(len(ins), []).append(j)
    return list(classes.items())


@register
class Conv(Op):
    name = "conv"
    ranks = (3,)
    doc = "2-d convolution (nn.Conv2d); `connections` gives a partial input-output table (LeNet-5 C3)"

    class Attrs(base.Attrs):
        out: Pos
        k: Pair
        stride: Pair = (1, 1)
        pad: NonNegPair = (0, 0)
        dilation: Pair = (1, 1)
        groups: Pos = 1
        bias: bool = True
        connections: str | None = None

    def shape(self, a, xs):
        c, h, w = xs[0]
        if a.connections is not None:
            self._check_table(a, c)
        if c % a.groups:
            raise SpecError(f"input channels {c} are not divisible by groups={a.groups}",
                            hint=f"use a groups value that divides {c}")
        if a.out % a.groups:
            raise SpecError(f"out={a.out} is not divisible by groups={a.groups}")
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = a.k, a.stride, a.pad, a.dilation
        if kh > h + 2 * ph or kw > w + 2 * pw:    # (a dilated kernel that overflows: output size <= 0)
            raise SpecError(f"kernel {kh}x{kw} is larger than the padded input {h + 2 * ph}x{w + 2 * pw} "
                            f"(input {fmt_shape(xs[0])}, pad {ph},{pw})",
                            hint="the feature map is already too small here: remove a downsampling step "
                                 "or pad more")
        return (a.out, window_out(h, kh, sh, ph, dh), window_out(w, kw, sw, pw, dw))

    def _check_table(self, a, c):
        rows = parse_table(a.connections)
        if a.groups != 1:
            raise SpecError("a conv with a connection table cannot also have groups")
        if len(rows) != c or any(len(r) != a.out for r in rows):
            widths = sorted({len(r) for r in rows})
            raise SpecError(f"connection table is {len(rows)}x{'/'.join(map(str, widths))} "
                            f"but the conv maps {c} input channels to {a.out}",
                            hint=f"write {c} rows (input maps) of {a.out} columns (output maps)")
        empty = [j for j, ins in enumerate(table_fan_in(rows)) if not ins]
        if empty:
            raise SpecError(f"output maps {empty} have no inputs in the connection table")

    def tensors(self, a, xs, y):
        kh, kw = a.k
        if a.connections is not None:
            out = []
            for g, (size, maps) in enumerate(table_classes(table_fan_in(parse_table(a.connections)))):
                out.append(Tensor(f"convs.{g}.weight", (len(maps), size, kh, kw)))
                if a.bias:
                    out.append(Tensor(f"convs.{g}.bias", (len(maps),)))
            return out
        w = [Tensor("weight", (a.out, xs[0][0] // a.groups, kh, kw))]
        return w + [Tensor("bias", (a.out,))] if a.bias else w

    def macs(self, a, xs, y):
        kh, kw = a.k
        if a.connections is not None:
            fan_in = sum(len(ins) for ins in table_fan_in(parse_table(a.connections)))
        else:
            fan_in = a.out * xs[0][0] // a.groups
        return fan_in * kh * kw * y[1] * y[2]

    def saved(self, a, xs, y, inplace=False):
        if a.connections is not None:     # TableConv's convs read the input maps gathered side by side
            fan_in = sum(len(ins) for ins in table_fan_in(parse_table(a.connections)))
            return (Saved("new", shape=(fan_in, *xs[0][1:])),)
        return INPUT0

    fresh = True
    init_modules: ClassVar[tuple[str, ...]] = ("nn.Conv2d",)

    def module(self, a, xs, y, inplace=False):
        common = (kw("stride", square(a.stride), 1), kw("padding", square(a.pad), 0),
                  kw("dilation", square(a.dilation), 1))
        if a.connections is not None:
            fan_in = table_fan_in(parse_table(a.connections))
            classes = table_classes(fan_in)
            groups = [[tuple(fan_in[j]) for j in maps] for _, maps in classes]
            order = [j for _, maps in classes for j in maps]
            return Call("TableConv", (("classes", groups), ("order", order), ("kernel_size", square(a.k))),
                        (*common, kw("bias", a.bias, True)), (TABLE_CONV,))
        return Call("nn.Conv2d", (("in_channels", xs[0][0]), ("out_channels", a.out),
                                  ("kernel_size", square(a.k))),
                    (*common, kw("groups", a.groups, 1), kw("bias", a.bias, True)))

    def label(self, a):
        (kh, kw), (sh, sw) = a.k, a.stride
        k = f"{kh}x{kw}" + (f"/{sh}" if sh == sw and sh > 1 else f"/{sh},{sw}" if sh != sw else "")
        extra = f", g{a.groups}" if a.groups > 1 else ""
        extra += ", table" if a.connections else ""
        return f"conv {k}, {a.out}{extra}"


@register
class Conv1d(Op):
    name = "conv1d"
    ranks = (2,)
    doc = ("1-d convolution (nn.Conv1d) along the last axis of a (C, L) input: ECA's conv across a "
           "squeezed map's channels, viewed as (1, C)")

    class Attrs(base.Attrs):
        out: Pos
        k: Pos
        stride: Pos = 1
        pad: NonNeg = 0
        dilation: Pos = 1
        groups: Pos = 1
        bias: bool = True

    def shape(self, a, xs):
        c, n = xs[0]
        if c % a.groups or a.out % a.groups:
            raise SpecError(f"conv1d of {c} channels to out={a.out}: both must be divisible by groups={a.groups}",
                            hint="use a groups value that divides both")
        span = a.dilation * (a.k - 1) + 1
        if span > n + 2 * a.pad:
            raise SpecError(f"kernel {a.k} (dilation {a.dilation}) is longer than the padded input {n + 2 * a.pad} "
                            f"(input {fmt_shape(xs[0])}, pad {a.pad})", hint="pad more, or a smaller kernel")
        return (a.out, window_out(n, a.k, a.stride, a.pad, a.dilation))

    def tensors(self, a, xs, y):
        w = [Tensor("weight", (a.out, xs[0][0] // a.groups, a.k))]
        return w + [Tensor("bias", (a.out,))] if a.bias else w

    def macs(self, a, xs, y):
        return a.out * xs[0][0] // a.groups * a.k * y[1]

    def saved(self, a, xs, y, inplace=False):
        return INPUT0

    fresh = True
    init_modules = ("nn.Conv1d",)

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Conv1d", (("in_channels", xs[0][0]), ("out_channels", a.out), ("kernel_size", a.k)),
                    (kw("stride", a.stride, 1), kw("padding", a.pad, 0), kw("dilation", a.dilation, 1),
                     kw("groups", a.groups, 1), kw("bias", a.bias, True)))

    def label(self, a):
        stride = f"/{a.stride}" if a.stride > 1 else ""
        return f"conv1d {a.k}{stride}, {a.out}" + (f", g{a.groups}" if a.groups > 1 else "")


COND_CONV = '''
class CondConv2d(nn.Module):
    """A conditionally parameterised convolution (CondConv, Yang et al. 2019; timm's CondConv2d): each
    sample's kernel is its routing weights' mixture of `num_experts` kernels, run as one grouped conv
    over the batch laid along the channels."""

    def __init__(self, in_channels, out_channels, kernel_size, num_experts, stride=1, padding=0, dilation=1,
                 groups=1, bias=False):
        super().__init__()
        self.out_channels = out_channels
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        ks = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.weight_shape = (out_channels, in_channels // groups, *ks)
        self.weight = nn.Parameter(torch.empty(num_experts, out_channels * (in_channels // groups) * ks[0] * ks[1]))
        self.bias = nn.Parameter(torch.zeros(num_experts, out_channels)) if bias else None
        for i in range(num_experts):
            nn.init.kaiming_uniform_(self.weight[i].view(self.weight_shape), a=5**0.5)

    def forward(self, x, routing_weights):
        b, c, h, w = x.shape
        weight = torch.matmul(routing_weights, self.weight).view(b * self.out_channels, *self.weight_shape[1:])
        bias = None if self.bias is None else torch.matmul(routing_weights, self.bias).view(b * self.out_channels)
        out = F.conv2d(x.reshape(1, b * c, h, w), weight, bias, self.stride, self.padding, self.dilation,
                       self.groups * b)
        return out.permute([1, 0, 2, 3]).view(b, self.out_channels, out.shape[-2], out.shape[-1])
'''


_CONV = Conv()      # condconv's window arithmetic is conv's


@register
class CondConv(Op):
    name = "condconv"
    arity = 2
    ranks = (1, 3)
    # no `init:` rules: its (experts, kernel) weight would give nn.init a fan of a whole kernel; each
    # expert's kernel is initialised as timm's are (kaiming_uniform_ per expert, in CondConv2d)
    doc = ("a conditionally parameterised convolution (CondConv; timm's CondConv2d): inputs [x, routing], the "
           "routing a vector of `experts` weights per sample; the sample's kernel (and bias) is the routing's "
           "mixture of the experts' (weight: experts x (out * in / groups * k * k)); conv's other attributes")

    class Attrs(Conv.Attrs):
        experts: Pos
        bias: bool = False

    def shape(self, a, xs):
        x, r = xs
        if len(x) != 3 or r != (a.experts,):
            raise SpecError(f"condconv takes a (C, H, W) map and ({a.experts},) routing weights, got "
                            f"{fmt_shape(x)} and {fmt_shape(r)}", hint="in: [map, routing]")
        if a.connections is not None:
            raise SpecError("condconv takes no connection table")
        return _CONV.shape(a, [x])

    def _size(self, a, xs) -> int:
        return a.out * xs[0][0] // a.groups * a.k[0] * a.k[1]       # one expert's kernel

    def tensors(self, a, xs, y):
        w = [Tensor("weight", (a.experts, self._size(a, xs)))]
        return w + [Tensor("bias", (a.experts, a.out))] if a.bias else w

    def macs(self, a, xs, y):
        mix = a.experts * (self._size(a, xs) + (a.out if a.bias else 0))      # the routing's mixtures
        return mix + _CONV.macs(a, xs[:1], y)

    def saved(self, a, xs, y, inplace=False):
        # the map and the mixed kernel for the conv, the routing for the mixtures
        return INPUT0 + (Saved("input", 1), Saved("new", shape=(self._size(a, xs),)))

    def module(self, a, xs, y, inplace=False):
        return Call("CondConv2d", (("in_channels", xs[0][0]), ("out_channels", a.out),
                                   ("kernel_size", square(a.k)), ("num_experts", a.experts)),
                    (kw("stride", square(a.stride), 1), kw("padding", square(a.pad), 0),
                     kw("dilation", square(a.dilation), 1), kw("groups", a.groups, 1), kw("bias", a.bias, False)),
                    (COND_CONV,))

    def label(self, a):
        return _CONV.label(a).replace("conv", "condconv", 1) + f", {a.experts} experts"
