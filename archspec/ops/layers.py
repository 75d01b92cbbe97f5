"""Pooling, upsampling, normalisation and fully-connected layers."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..errors import SpecError, fmt_shape
from . import base
from .base import (
    INPUT0,
    Call,
    ChannelsLast,
    NonNegPair,
    Op,
    Pair,
    Pos,
    Saved,
    Tensor,
    channels,
    kw,
    like,
    register,
    square,
    window_out,
)


class _Pool(Op):
    ranks = (3,)
    fresh = True
    torch_name: tuple[str, str]    # MaxPool2d / AvgPool2d, and max_pool2d / avg_pool2d

    def _args(self, a):
        extra = (kw("count_include_pad", a.count_include_pad, True),) if hasattr(a, "count_include_pad") else ()
        return (("kernel_size", square(a.k)),), (
            kw("stride", square(a.stride) if a.stride else None, None), kw("padding", square(a.pad), 0),
            kw("ceil_mode", a.ceil_mode, False), *extra)

    def module(self, a, xs, y, inplace=False):
        return Call(f"nn.{self.torch_name[0]}", *self._args(a))

    def call(self, a, args, inplace=False):
        return Call(f"F.{self.torch_name[1]}", *self._args(a)).on(args[0])

    def shape(self, a, xs):
        c, h, w = xs[0]
        k, s, p = a.k, a.stride or a.k, a.pad
        if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
            raise SpecError(f"pad {p[0]},{p[1]} is more than half the {k[0]}x{k[1]} window",
                            hint="PyTorch allows pooling pad of at most k // 2")
        if k[0] > h + 2 * p[0] or k[1] > w + 2 * p[1]:
            raise SpecError(f"window {k[0]}x{k[1]} is larger than the padded input "
                            f"{h + 2 * p[0]}x{w + 2 * p[1]} (input {fmt_shape(xs[0])})",
                            hint="the feature map is already too small here")
        return (c, window_out(h, k[0], s[0], p[0], 1, a.ceil_mode),
                window_out(w, k[1], s[1], p[1], 1, a.ceil_mode))

    def elementwise(self, a, xs, y):
        return a.k[0] * a.k[1] * math.prod(y)      # every window reads k x k elements

    def label(self, a):
        k, (sh, sw) = a.k, a.stride or a.k
        return f"{self.name} {k[0]}x{k[1]}/{sh if sh == sw else f'{sh},{sw}'}" + (" ceil" if a.ceil_mode else "")


@register
class MaxPool(_Pool):
    name = "maxpool"
    doc = "max pooling (nn.MaxPool2d); stride defaults to the window size"
    torch_name = ("MaxPool2d", "max_pool2d")

    def saved(self, a, xs, y, inplace=False):
        return INPUT0 + (Saved("new", shape=y, dtype="int64"),)     # and where each maximum was

    class Attrs(base.Attrs):
        k: Pair
        stride: Pair | None = None
        pad: NonNegPair = (0, 0)
        ceil_mode: bool = False


@register
class AvgPool(_Pool):
    name = "avgpool"
    doc = "average pooling (nn.AvgPool2d); stride defaults to the window size"
    torch_name = ("AvgPool2d", "avg_pool2d")

    def saved(self, a, xs, y, inplace=False):
        return INPUT0

    class Attrs(MaxPool.Attrs):
        count_include_pad: bool = True


@register
class AdaptiveAvgPool(Op):
    name = "adaptive_avgpool"
    ranks = (3,)
    doc = "average pooling to a fixed output size (nn.AdaptiveAvgPool2d)"

    class Attrs(base.Attrs):
        size: Pair = (1, 1)

    def shape(self, a, xs):
        return (xs[0][0], *a.size)

    def saved(self, a, xs, y, inplace=False):
        return () if tuple(a.size) == (1, 1) else INPUT0      # to 1x1 torch takes a mean, which keeps nothing

    def elementwise(self, a, xs, y):
        return math.prod(xs[0])                    # each input element is summed once

    def _size(self, a):
        return a.size

    def module(self, a, xs, y, inplace=False):
        return Call("nn.AdaptiveAvgPool2d", (("output_size", self._size(a)),))

    def call(self, a, args, inplace=False):
        return Call("F.adaptive_avg_pool2d", (("output_size", self._size(a)),)).on(args[0])

    def label(self, a):
        return f"adaptive avgpool {a.size[0]}x{a.size[1]}"


@register
class AdaptiveMaxPool(AdaptiveAvgPool):
    name = "adaptive_maxpool"
    doc = "max pooling to a fixed output size (nn.AdaptiveMaxPool2d): BAT's (7, 1) and (1, 7) row and column maxima"

    def saved(self, a, xs, y, inplace=False):
        return INPUT0 + (Saved("new", shape=y, dtype="int64"),)     # and where each maximum was

    def module(self, a, xs, y, inplace=False):
        return Call("nn.AdaptiveMaxPool2d", (("output_size", a.size),))

    def call(self, a, args, inplace=False):
        return Call("F.adaptive_max_pool2d", (("output_size", a.size),)).on(args[0])

    def label(self, a):
        return f"adaptive maxpool {a.size[0]}x{a.size[1]}"


@register
class GlobalAvgPool(AdaptiveAvgPool):
    name = "global_avgpool"
    doc = "average over all positions, keeping (C, 1, 1) (nn.AdaptiveAvgPool2d(1))"

    class Attrs(base.Attrs):
        pass

    def shape(self, a, xs):
        return (xs[0][0], 1, 1)

    def _size(self, a):
        return (1, 1)       # torchvision's nn.AdaptiveAvgPool2d((1, 1))

    def saved(self, a, xs, y, inplace=False):
        return ()

    def label(self, a):
        return "global avgpool"


@register
class Upsample(Op):
    name = "upsample"
    ranks = (3,)
    fresh = True
    doc = ("enlarges a map by `scale` (one factor, or [h, w]), or to `size` [h, w] (GhostNetV2's 3x3 back "
           "to 7x7), by repeating each value (mode nearest) or interpolating (bilinear, align_corners): "
           "nn.Upsample; HRNet's fusion of a lower resolution")

    class Attrs(base.Attrs):
        scale: Pair = (2, 2)
        size: Pair | None = None
        mode: Literal["nearest", "bilinear"] = "nearest"
        align_corners: bool = False

    def shape(self, a, xs):
        c, h, w = xs[0]
        if a.align_corners and a.mode == "nearest":
            raise SpecError("align_corners applies to bilinear upsampling, not nearest",
                            hint="drop align_corners, or mode: bilinear")
        if a.size is not None:
            if a.scale != (2, 2):
                raise SpecError("upsample takes a scale or a size, not both", hint="drop one of them")
            return (c, *a.size)
        return (c, h * a.scale[0], w * a.scale[1])

    def _kwargs(self, a):
        by = kw("size", square(a.size)) if a.size is not None else kw("scale_factor", square(a.scale))
        return (by, kw("mode", a.mode, "nearest"),
                kw("align_corners", a.align_corners if a.mode == "bilinear" else None, None))

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Upsample", (), self._kwargs(a))

    def call(self, a, args, inplace=False):
        return Call("F.interpolate", (), self._kwargs(a)).on(args[0])

    def label(self, a):
        s = a.scale
        by = f"to {a.size[0]}x{a.size[1]}" if a.size is not None else f"x{s[0] if s[0] == s[1] else f'{s[0]},{s[1]}'}"
        return f"upsample {by}" + ("" if a.mode == "nearest" else f" {a.mode}")


@register
class LRN(Op):
    name = "lrn"
    ranks = (3,)
    doc = ("local response normalisation in the AlexNet paper's form "
           "b = a / (k + alpha * sum a^2)^beta over `size` neighbouring channels; "
           "Caffe's and PyTorch's alpha equal this alpha * size")

    class Attrs(base.Attrs):
        size: Pos = 5
        alpha: float = 1e-4
        beta: float = 0.75
        k: float = 2.0

    def _args(self, a):
        # PyTorch divides its alpha by size (b = a / (k + alpha/n * sum a^2)^beta): paper alpha * size;
        # its defaults are 1e-4, 0.75 and 1.0, not the paper's k = 2
        return (("size", a.size),), (kw("alpha", a.alpha * a.size, 1e-4), kw("beta", a.beta, 0.75), kw("k", a.k, 1.0))

    def module(self, a, xs, y, inplace=False):
        return Call("nn.LocalResponseNorm", *self._args(a))

    def call(self, a, args, inplace=False):
        return Call("F.local_response_norm", *self._args(a)).on(args[0])

    def saved(self, a, xs, y, inplace=False):
        # F.local_response_norm: x, x^2 zero-padded over channels, k + alpha * avg and its power
        c, h, w = xs[0]
        return INPUT0 + (Saved("new", shape=(c + a.size - 1, h, w)), Saved("new", shape=y), Saved("new", shape=y))

    def label(self, a):
        return f"lrn {a.size}"


@register
class BatchNorm(Op):
    name = "batchnorm"
    doc = "batch normalisation over channels (nn.BatchNorm2d, or 1d on vectors)"

    class Attrs(base.Attrs):
        eps: float = Field(1e-5, gt=0)
        momentum: float = 0.1
        affine: bool = True

    def tensors(self, a, xs, y):
        c = (xs[0][0],)
        affine = [Tensor("weight", c), Tensor("bias", c)] if a.affine else []
        return affine + [Tensor("running_mean", c, True), Tensor("running_var", c, True),
                         Tensor("num_batches_tracked", (), True, "int64")]

    def saved(self, a, xs, y, inplace=False):
        stats = Saved("new", shape=(xs[0][0],), dtype="float32", batched=False)    # the batch mean and 1/std
        return INPUT0 + (stats, stats)

    fresh = True
    init_modules = ("nn.BatchNorm1d", "nn.BatchNorm2d")

    def module(self, a, xs, y, inplace=False):
        return Call("nn.BatchNorm2d" if len(xs[0]) == 3 else "nn.BatchNorm1d", (("num_features", xs[0][0]),),
                    (kw("eps", a.eps, 1e-5), kw("momentum", a.momentum, 0.1), kw("affine", a.affine, True)))

    def label(self, a):
        return "batchnorm"


LAYERNORM_2D = '''
class LayerNorm2d(nn.Module):
    """Layer normalisation of each position of a (C, H, W) map over its C channels, with a
    weight and bias per channel (ConvNeXt's LayerNorm2d): F.layer_norm on the channels-last view."""

    def __init__(self, num_channels, eps=1e-6, affine=True):
        super().__init__()
        self.num_channels = num_channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, (self.num_channels,), self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
'''


@register
class LayerNorm(Op):
    name = "layernorm"
    channels_last = True
    doc = ("layer normalisation over the features of a vector or the last axis of a channels-last tensor "
           "(nn.LayerNorm), or over the channels at each position of a (C, H, W) map (ConvNeXt's LayerNorm2d)")

    class Attrs(base.Attrs):
        eps: float = Field(1e-6, gt=0)
        affine: bool = True

    def tensors(self, a, xs, y):
        c = (channels(xs[0]),)
        return [Tensor("weight", c), Tensor("bias", c)] if a.affine else []

    init_modules = ("nn.LayerNorm", "LayerNorm2d")

    def saved(self, a, xs, y, inplace=False):
        x = xs[0]
        positions = (x[:-1] if isinstance(x, ChannelsLast) else x[1:]) or (1,)
        stats = Saved("new", shape=positions, dtype="float32")     # mean and 1/std per position
        return INPUT0 + (stats, stats)

    # a module even when anonymous and without weights: the axis it normalises depends on the layout
    def module(self, a, xs, y, inplace=False):
        c = channels(xs[0])
        if len(xs[0]) == 3 and not isinstance(xs[0], ChannelsLast):
            return Call("LayerNorm2d", (("num_channels", c),), (kw("eps", a.eps, 1e-6), kw("affine", a.affine, True)),
                        (LAYERNORM_2D,))
        return Call("nn.LayerNorm", (("normalized_shape", c),),
                    (kw("eps", a.eps, 1e-5), kw("elementwise_affine", a.affine, True)))

    def label(self, a):
        return "layernorm"


@register
class Linear(Op):
    name = "linear"
    ranks = (1, 2)
    channels_last = True
    doc = ("fully-connected layer (nn.Linear) on a flat vector, on the features of each token of a (tokens, C) "
           "tensor (CLIP's attention pool), or on the channels at each position of a channels-last (H, W, C) "
           "tensor (ConvNeXt's pointwise layers)")

    class Attrs(base.Attrs):
        out: Pos
        bias: bool = True

    def shape(self, a, xs):
        return like(xs[0], (*xs[0][:-1], a.out))

    def tensors(self, a, xs, y):
        w = [Tensor("weight", (a.out, xs[0][-1]))]
        return w + [Tensor("bias", (a.out,))] if a.bias else w

    def macs(self, a, xs, y):
        return math.prod(xs[0]) * a.out         # in * out at each position

    def saved(self, a, xs, y, inplace=False):
        return INPUT0

    fresh = True
    init_modules = ("nn.Linear",)

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Linear", (("in_features", xs[0][-1]), ("out_features", a.out)), (kw("bias", a.bias, True),))

    def label(self, a):
        return f"linear {a.out}"


BLURPOOL = '''
class BlurPool2d(nn.Module):
    """Blur, then subsample (Zhang 2019, timm's BlurPool2d): each channel padded by `pad_mode` and
    convolved with a fixed binomial filt_size x filt_size filter at `stride`. The filter is a
    non-persistent buffer, made here: it is not in the state_dict."""

    def __init__(self, channels, filt_size=3, stride=2, pad_mode="reflect"):
        super().__init__()
        self.channels = channels
        self.filt_size = filt_size
        self.stride = stride
        self.pad_mode = pad_mode
        self.padding = [(stride - 1 + filt_size - 1) // 2] * 4
        self.register_buffer("filt", self.binomial(), persistent=False)

    def binomial(self):
        coeffs = [1.0]
        for _ in range(self.filt_size - 1):           # a row of Pascal's triangle
            coeffs = [a + b for a, b in zip([0.0, *coeffs], [*coeffs, 0.0])]
        row = torch.tensor(coeffs) / 2 ** (self.filt_size - 1)
        return (row[:, None] * row[None, :]).expand(self.channels, 1, self.filt_size, self.filt_size).clone()

    def forward(self, x):
        # a module built on the meta device keeps a meta filter when its weights are assigned: made anew
        filt = self.filt if self.filt.device == x.device else self.binomial().to(x)
        x = F.pad(x, self.padding, mode=self.pad_mode)
        return F.conv2d(x, filt, stride=self.stride, groups=self.channels)
'''


@register
class BlurPool(Op):
    name = "blurpool"
    ranks = (3,)
    fresh = True
    doc = ("anti-aliased subsampling (Zhang 2019, timm's BlurPool2d): each channel padded by "
           "((stride - 1) + (filt_size - 1)) // 2 on every side (`pad_mode`) and convolved with a fixed binomial "
           "filt_size x filt_size filter at `stride`; no parameters (the filter is a non-persistent buffer)")

    class Attrs(base.Attrs):
        filt_size: int = Field(3, ge=2, le=32)
        stride: Pos = 2
        pad_mode: Literal["reflect", "constant", "replicate"] = "reflect"

    def _pad(self, a) -> int:
        return (a.stride - 1 + a.filt_size - 1) // 2

    def shape(self, a, xs):
        c, h, w = xs[0]
        p, k = self._pad(a), a.filt_size
        if a.pad_mode == "reflect" and p >= min(h, w):
            raise SpecError(f"blurpool's reflect padding {p} needs a map larger than {fmt_shape(xs[0])}",
                            hint="the feature map is already too small here; pad_mode: constant")
        if k > min(h, w) + 2 * p:
            raise SpecError(f"blurpool's {k}x{k} filter is larger than the padded input {h + 2 * p}x{w + 2 * p}",
                            hint="the feature map is already too small here")
        return (c, window_out(h, k, a.stride, p), window_out(w, k, a.stride, p))

    def macs(self, a, xs, y):
        return a.filt_size ** 2 * math.prod(y)        # a depthwise conv: k x k per output element

    def saved(self, a, xs, y, inplace=False):
        c, h, w = xs[0]
        p = self._pad(a)
        padded = (Saved("new", shape=(c, h + 2 * p, w + 2 * p)),)      # the conv's input
        return padded if a.pad_mode == "constant" else INPUT0 + padded

    def module(self, a, xs, y, inplace=False):
        return Call("BlurPool2d", (("channels", xs[0][0]),), (kw("filt_size", a.filt_size, 3),
                    kw("stride", a.stride, 2), kw("pad_mode", a.pad_mode, "reflect")), (BLURPOOL,))

    def label(self, a):
        mode = "" if a.pad_mode == "reflect" else f" {a.pad_mode}"
        return f"blurpool {a.filt_size}x{a.filt_size}/{a.stride}{mode}"
