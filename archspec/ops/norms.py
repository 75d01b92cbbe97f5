"""The normalisations beyond batch and layer norm that timm's CNNs use: group norm,
weight-standardised convolution (BiT, NFNet), EvoNorm S0, filter response norm, RMS norm,
ConvNeXt-V2's global response norm and HGNetV2's learnable affine. Each module form is the
one whose state_dict is timm's layer's (same keys, same shapes) and which computes what timm's
computes, written out in the helper classes below (generated files import only torch)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..errors import SpecError
from . import base
from .base import INPUT0, Call, ChannelsLast, Op, Pos, Saved, Tensor, channels, kw, register
from .conv import Conv

STD_CONV = '''
class StdConv2d(nn.Module):
    """A convolution whose weight is standardised per output channel before use (Weight
    Standardization; BiT's StdConv2d); with `gamma`, the standardised weight is also multiplied
    by a learnt gain per output channel and gamma / sqrt(fan-in) (NFNets' ScaledStdConv2d)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        gamma=None,
        eps=1e-6,
    ):
        super().__init__()
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias
        )
        self.weight = conv.weight  # initialised as nn.Conv2d's are
        self.bias = conv.bias
        self.gain = nn.Parameter(torch.ones(out_channels, 1, 1, 1)) if gamma is not None else None
        self.scale = gamma * self.weight[0].numel() ** -0.5 if gamma is not None else None
        self.stride = conv.stride
        self.padding = conv.padding
        self.dilation = conv.dilation
        self.groups = groups
        self.eps = eps

    def forward(self, x):
        w = self.weight.reshape(1, self.weight.shape[0], -1)
        gain = (self.gain * self.scale).view(-1) if self.gain is not None else None
        w = F.batch_norm(w, None, None, weight=gain, training=True, momentum=0.0, eps=self.eps)
        w = w.reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)
'''


@register
class StdConv(Conv):
    name = "std_conv"
    doc = ("convolution with a weight standardised per output channel (mean 0, variance 1, `eps`): "
           "BiT's StdConv2d; `scaled`: also times a learnt gain per output channel and gamma / sqrt(fan-in) "
           "(NFNet's ScaledStdConv2d)")

    class Attrs(Conv.Attrs):
        connections: None = None        # a connection table is plain conv's only
        eps: float = Field(1e-6, gt=0)
        scaled: bool = False
        gamma: float = 1.0

    def shape(self, a, xs):
        if a.gamma != 1.0 and not a.scaled:
            raise SpecError(f"gamma={a.gamma} scales only a scaled std_conv", hint="add scaled: true")
        return super().shape(a, xs)

    def tensors(self, a, xs, y):
        gain = [Tensor("gain", (a.out, 1, 1, 1))] if a.scaled else []
        return super().tensors(a, xs, y) + gain

    def saved(self, a, xs, y, inplace=False):
        # its input, and (once per batch) the standardised weight, batch norm's mean and 1/std of the weight,
        # and, scaled, the gain * scale that batch norm multiplies by
        w = (a.out, xs[0][0] // a.groups, *a.k)
        stats = (Saved("new", shape=(a.out,), dtype="float32", batched=False),) * (3 if a.scaled else 2)
        return INPUT0 + (Saved("new", shape=w, batched=False), *stats)

    init_modules = ("StdConv2d",)

    def module(self, a, xs, y, inplace=False):
        conv = super().module(a, xs, y)
        assert conv is not None
        return Call("StdConv2d", conv.args, (*conv.kwargs, kw("gamma", a.gamma if a.scaled else None, None),
                                             kw("eps", a.eps, 1e-6)), (STD_CONV,))

    def label(self, a):
        return ("scaled " if a.scaled else "") + "std " + super().label(a)


def _grouped(groups: int, x: tuple) -> tuple:
    """The shape of a norm over `groups` channel groups of `x`: x's, where the groups divide its channels."""
    if x[0] % groups:
        raise SpecError(f"{x[0]} channels do not split into {groups} groups",
                        hint=f"use a number of groups that divides {x[0]}")
    return x


@register
class GroupNorm(Op):
    name = "group_norm"
    ranks = (3,)
    fresh = True
    doc = "group normalisation: channels in `groups` groups, each normalised over its channels and positions " \
          "(nn.GroupNorm; timm's GroupNorm and GroupNormAct)"

    class Attrs(base.Attrs):
        groups: Pos
        eps: float = Field(1e-5, gt=0)
        affine: bool = True

    def shape(self, a, xs):
        return _grouped(a.groups, xs[0])

    def tensors(self, a, xs, y):
        return [Tensor("weight", (xs[0][0],)), Tensor("bias", (xs[0][0],))] if a.affine else []

    def saved(self, a, xs, y, inplace=False):
        stats = Saved("new", shape=(a.groups,))          # the mean and 1/std of each group
        return INPUT0 + (stats, stats)

    init_modules = ("nn.GroupNorm",)

    def module(self, a, xs, y, inplace=False):
        return Call("nn.GroupNorm", (("num_groups", a.groups), ("num_channels", xs[0][0])),
                    (kw("eps", a.eps, 1e-5), kw("affine", a.affine, True)))

    def label(self, a):
        return f"group norm {a.groups}"


EVO_NORM = '''
class EvoNorm2dS0(nn.Module):
    """EvoNorm-S0 (Liu et al., Evolving Normalization-Activation Layers): x * sigmoid(v x) over
    the standard deviation of x in each of `groups` channel groups, then a weight and bias per
    channel; timm's EvoNorm2dS0 (without act: the affine alone) and EvoNorm2dS0a (without act:
    still divided by the deviation)."""

    def __init__(self, num_features, groups, eps=1e-5, act=True, divide=False):
        super().__init__()
        self.groups = groups
        self.eps = eps
        self.divide = divide
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.v = nn.Parameter(torch.ones(num_features)) if act else None

    def group_std(self, x):
        b, c, h, w = x.shape
        g = x.reshape(b, self.groups, c // self.groups, h, w)
        var = g.float().var(dim=(2, 3, 4), unbiased=False, keepdim=True)
        std = var.add(self.eps).sqrt().to(x.dtype)
        return std.expand(g.shape).reshape(b, c, h, w)

    def forward(self, x):
        if self.v is not None:
            x = x * (x * self.v.view(1, -1, 1, 1)).sigmoid() / self.group_std(x)
        elif self.divide:
            x = x / self.group_std(x)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
'''


@register
class EvoNorm(Op):
    name = "evo_norm"
    ranks = (3,)
    fresh = True
    doc = ("EvoNorm-S0: x * sigmoid(v x) / (standard deviation of x over each of `groups` channel groups), "
           "then a weight and bias per channel (timm's EvoNorm2dS0, and S0a: `variant: S0a`); without `act`, "
           "S0 is the affine alone and S0a divides by the deviation still")

    class Attrs(base.Attrs):
        groups: Pos
        eps: float = Field(1e-5, gt=0)
        act: bool = True
        variant: Literal["S0", "S0a"] = "S0"

    def shape(self, a, xs):
        return _grouped(a.groups, xs[0])

    def tensors(self, a, xs, y):
        c = (xs[0][0],)
        return [Tensor("weight", c), Tensor("bias", c)] + ([Tensor("v", c)] if a.act else [])

    def saved(self, a, xs, y, inplace=False):
        if not a.act and a.variant == "S0":
            return INPUT0                                   # x * weight + bias
        # x, the deviation per group and its copy expanded to x's shape, the quotient (for the weight);
        # with act also sigmoid(v x) and x times it
        maps = (Saved("new", shape=xs[0]),) * (4 if a.act else 2)
        return INPUT0 + (Saved("new", shape=(a.groups, 1, 1, 1)),) + maps

    def module(self, a, xs, y, inplace=False):
        return Call("EvoNorm2dS0", (("num_features", xs[0][0]), ("groups", a.groups)),
                    (kw("eps", a.eps, 1e-5), kw("act", a.act, True), kw("divide", a.variant == "S0a", False)),
                    (EVO_NORM,))

    def label(self, a):
        return f"evonorm {a.variant} {a.groups}" + ("" if a.act else ", no act")


FRN = '''
class FilterResponseNorm2d(nn.Module):
    """Filter response normalisation (Singh and Krishnan): each channel divided by its root mean
    square over the positions, a weight and bias per channel, and with `tlu` the thresholded
    linear unit max(x, tau) (timm's FilterResponseNormTlu2d)."""

    def __init__(self, num_features, eps=1e-5, tlu=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.tau = nn.Parameter(torch.zeros(num_features)) if tlu else None

    def forward(self, x):
        rms = x.square().float().mean(dim=(2, 3), keepdim=True).add(self.eps).rsqrt().to(x.dtype)
        x = x * rms.expand(x.shape)
        x = x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return torch.maximum(x, self.tau.view(1, -1, 1, 1)) if self.tau is not None else x
'''


@register
class FilterResponseNorm(Op):
    name = "frn"
    ranks = (3,)
    fresh = True
    doc = ("filter response normalisation: each channel over its root mean square across positions, a weight "
           "and bias per channel, then with `tlu` max(x, tau) with a learnt tau per channel "
           "(timm's FilterResponseNormTlu2d; FilterResponseNormAct2d is it without tlu, then its activation)")

    class Attrs(base.Attrs):
        eps: float = Field(1e-5, gt=0)
        tlu: bool = True

    def tensors(self, a, xs, y):
        c = (xs[0][0],)
        return [Tensor("weight", c), Tensor("bias", c)] + ([Tensor("tau", c)] if a.tlu else [])

    def saved(self, a, xs, y, inplace=False):
        # x, 1/rms per channel, x / rms (for the weight), and with tlu the affine's result (for the maximum)
        maps = (Saved("new", shape=xs[0]),) * (2 if a.tlu else 1)
        return INPUT0 + (Saved("new", shape=(xs[0][0], 1, 1)),) + maps

    def module(self, a, xs, y, inplace=False):
        return Call("FilterResponseNorm2d", (("num_features", xs[0][0]),),
                    (kw("eps", a.eps, 1e-5), kw("tlu", a.tlu, True)), (FRN,))

    def label(self, a):
        return "frn" + (" tlu" if a.tlu else "")


RMS_NORM_2D = '''
class RmsNorm2d(nn.Module):
    """Each position of a (C, H, W) map over the root mean square of its channels (`stat` "rms",
    timm's RmsNorm2d) or over their standard deviation, unbiased, the mean kept (`stat` "std",
    timm's SimpleNorm2d), times a weight per channel."""

    def __init__(self, num_channels, eps=1e-6, affine=True, stat="rms"):
        super().__init__()
        self.eps = eps
        self.stat = stat
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None

    def forward(self, x):
        if self.stat == "rms":
            x = x * torch.rsqrt(torch.mean(x.pow(2), dim=1, keepdim=True) + self.eps)
            return x * self.weight.reshape(1, -1, 1, 1) if self.weight is not None else x
        x = x.permute(0, 2, 3, 1)
        x = x * torch.rsqrt(torch.var(x, dim=(-1,), keepdim=True) + self.eps)
        x = x * self.weight if self.weight is not None else x
        return x.permute(0, 3, 1, 2)
'''


@register
class RmsNorm(Op):
    name = "rms_norm"
    ranks = (3,)
    fresh = True
    doc = ("each position of a (C, H, W) map divided by the root mean square of its channels (timm's RmsNorm2d), "
           "or with `stat: std` by their unbiased standard deviation without centring (timm's SimpleNorm2d), "
           "times a weight per channel")

    class Attrs(base.Attrs):
        eps: float = Field(1e-6, gt=0)
        affine: bool = True
        stat: Literal["rms", "std"] = "rms"

    def tensors(self, a, xs, y):
        return [Tensor("weight", (xs[0][0],))] if a.affine else []

    def saved(self, a, xs, y, inplace=False):
        # x, 1/rms (or 1/std) per position, and with a weight the normalised x (for its gradient)
        _, h, w = xs[0]
        return INPUT0 + (Saved("new", shape=(1, h, w)),) + ((Saved("new", shape=xs[0]),) if a.affine else ())

    def module(self, a, xs, y, inplace=False):
        return Call("RmsNorm2d", (("num_channels", xs[0][0]),),
                    (kw("eps", a.eps, 1e-6), kw("affine", a.affine, True), kw("stat", a.stat, "rms")), (RMS_NORM_2D,))

    def label(self, a):
        return "rms norm" if a.stat == "rms" else "std norm"


GRN = '''
class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's global response normalisation: each channel's L2 norm over the positions,
    divided by its mean over the channels, gates x; x + bias + weight * x * that (timm's
    GlobalResponseNorm), on channels-last (N, H, W, C) or channels-first maps."""

    def __init__(self, dim, eps=1e-6, channels_last=True):
        super().__init__()
        self.eps = eps
        self.spatial_dim = (1, 2) if channels_last else (2, 3)
        self.channel_dim = -1 if channels_last else 1
        self.wb_shape = (1, 1, 1, -1) if channels_last else (1, -1, 1, 1)
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        x_g = x.norm(p=2, dim=self.spatial_dim, keepdim=True)
        x_n = x_g / (x_g.mean(dim=self.channel_dim, keepdim=True) + self.eps)
        weight, bias = self.weight.view(self.wb_shape), self.bias.view(self.wb_shape)
        return x + torch.addcmul(bias, weight, x * x_n)
'''


@register
class GlobalResponseNorm(Op):
    name = "grn"
    ranks = (3,)
    channels_last = True
    fresh = True
    doc = ("global response normalisation (ConvNeXt-V2): each channel's L2 norm over the positions over its "
           "mean across channels, x + bias + weight * x * that; either layout (timm's GlobalResponseNorm)")

    class Attrs(base.Attrs):
        eps: float = Field(1e-6, gt=0)

    def tensors(self, a, xs, y):
        c = (channels(xs[0]),)
        return [Tensor("weight", c), Tensor("bias", c)]

    def saved(self, a, xs, y, inplace=False):
        # x, each channel's norm and its quotient by their mean, the mean (+ eps), and x times the quotient
        per_channel = Saved("new", shape=(channels(xs[0]),))
        return INPUT0 + (per_channel, per_channel, Saved("new", shape=(1,)), Saved("new", shape=xs[0]))

    def module(self, a, xs, y, inplace=False):
        last = isinstance(xs[0], ChannelsLast)
        return Call("GlobalResponseNorm", (("dim", channels(xs[0])),),
                    (kw("eps", a.eps, 1e-6), kw("channels_last", last, True)), (GRN,))

    def label(self, a):
        return "grn"


AFFINE = '''
class LearnableAffine(nn.Module):
    """scale * x + bias with one learnt scale and bias for the whole tensor (HGNetV2's
    LearnableAffineBlock)."""

    def __init__(self, scale_value=1.0, bias_value=0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([scale_value]))
        self.bias = nn.Parameter(torch.tensor([bias_value]))

    def forward(self, x):
        return self.scale * x + self.bias
'''


@register
class LearnableAffine(Op):
    name = "learnable_affine"
    ranks = None
    channels_last = True
    fresh = True
    doc = "scale * x + bias, one learnt scale and bias for the whole tensor (HGNetV2's LearnableAffineBlock)"

    class Attrs(base.Attrs):
        scale: float = 1.0        # their initial values
        bias: float = 0.0

    def tensors(self, a, xs, y):
        return [Tensor("scale", (1,)), Tensor("bias", (1,))]

    def saved(self, a, xs, y, inplace=False):
        return INPUT0          # for the scale's gradient

    def module(self, a, xs, y, inplace=False):
        return Call("LearnableAffine", (), (kw("scale_value", a.scale, 1.0), kw("bias_value", a.bias, 0.0)), (AFFINE,))

    def label(self, a):
        return "learnable affine"

