"""Shape-preserving ops: activations, scaling, layer scale, dropout, stochastic depth, identity."""
from __future__ import annotations

from typing import ClassVar, Literal

from ..errors import SpecError, fmt_shape
from . import base
from .base import (
    INPUT0,
    OUTPUT,
    Call,
    ChannelsLast,
    Op,
    Prob,
    Saved,
    Self,
    Tensor,
    axis_of,
    channels,
    kw,
    register,
    torch_dim,
)

SCALED_TANH = '''
class ScaledTanh(nn.Module):
    """LeCun's squashing function f(a) = A tanh(S a)."""

    def __init__(self, A=1.7159, S=2 / 3):
        super().__init__()
        self.A = A
        self.S = S

    def forward(self, x):
        return self.A * torch.tanh(self.S * x)
'''


class _Elementwise(Op):
    """An op on each element alone: any shape, either layout."""
    channels_last = True
    ranks: ClassVar[tuple[int, ...] | None] = None


@register
class ReLU(_Elementwise):
    name = "relu"
    doc = "max(x, 0)"
    inplace = True

    def saved(self, a, xs, y, inplace=False):
        return OUTPUT

    def module(self, a, xs, y, inplace=False):
        return Call("nn.ReLU", (), (kw("inplace", inplace, False),))

    def call(self, a, args, inplace=False):
        return Call("torch.relu_" if inplace else "torch.relu").on(args[0])


class _Pointwise(_Elementwise):
    """A parameter-free function of each element: `nn.<module>()` or `torch.<fn>(x)`."""
    torch_name: ClassVar[tuple[str, str]]

    def saved(self, a, xs, y, inplace=False):
        return OUTPUT          # tanh and sigmoid: their backward reads their result

    def module(self, a, xs, y, inplace=False):
        return Call(f"nn.{self.torch_name[0]}")

    def call(self, a, args, inplace=False):
        return Call(f"torch.{self.torch_name[1]}").on(args[0])


@register
class Tanh(_Pointwise):
    name = "tanh"
    doc = "tanh(x)"
    torch_name = ("Tanh", "tanh")


@register
class ScaledTanh(_Elementwise):
    name = "scaled_tanh"
    doc = "LeCun's squashing function f(a) = A tanh(S a), by default A = 1.7159, S = 2/3"

    class Attrs(base.Attrs):
        A: float = 1.7159
        S: float = 2 / 3

    def saved(self, a, xs, y, inplace=False):
        return (Saved("new", shape=y),)      # tanh's result, before the scaling by A

    def module(self, a, xs, y, inplace=False):
        return Call("ScaledTanh", (), (kw("A", a.A, 1.7159), kw("S", a.S, 2 / 3)), (SCALED_TANH,))

    def call(self, a, args, inplace=False):
        inner = Call("*", (("S", a.S), ("x", args[0])))
        return Call("*", (("A", a.A), ("tanh", Call("torch.tanh").on(inner))))

    def label(self, a):
        return f"{a.A:g} tanh({a.S:.4g} a)"


class _Activation(_Elementwise):
    """A parameter-free activation that torch runs in place on request: `nn.<module>(inplace=True)`
    and `F.<fn>(x, inplace=True)`, as `relu` does."""
    torch_name: ClassVar[tuple[str, str]]
    inplace = True

    def saved(self, a, xs, y, inplace=False):
        # in place, autograd keeps a copy of the input it overwrites (relu6, silu, hardswish, hardsigmoid)
        return (Saved("new", shape=y),) if inplace else INPUT0

    def _kwargs(self, a, inplace: bool) -> tuple:
        return (kw("inplace", inplace, False),)

    def module(self, a, xs, y, inplace=False):
        return Call(f"nn.{self.torch_name[0]}", (), self._kwargs(a, inplace))

    def call(self, a, args, inplace=False):
        return Call(f"F.{self.torch_name[1]}", (), self._kwargs(a, inplace)).on(args[0])


@register
class ReLU6(_Activation):
    name = "relu6"
    doc = "min(max(x, 0), 6) (nn.ReLU6; MobileNet)"
    torch_name = ("ReLU6", "relu6")


@register
class Hardswish(_Activation):
    name = "hardswish"
    doc = "x * relu6(x + 3) / 6 (nn.Hardswish; MobileNetV3)"
    torch_name = ("Hardswish", "hardswish")


@register
class Hardsigmoid(_Activation):
    name = "hardsigmoid"
    doc = "relu6(x + 3) / 6 (nn.Hardsigmoid; MobileNetV3's squeeze-and-excitation gate)"
    torch_name = ("Hardsigmoid", "hardsigmoid")


@register
class SiLU(_Activation):
    name = "silu"
    doc = "x * sigmoid(x), also called swish (nn.SiLU; EfficientNet)"
    torch_name = ("SiLU", "silu")


@register
class LeakyReLU(_Activation):
    name = "leaky_relu"
    doc = "x where x > 0, else negative_slope * x (nn.LeakyReLU)"
    torch_name = ("LeakyReLU", "leaky_relu")

    class Attrs(base.Attrs):
        negative_slope: float = 0.01

    def saved(self, a, xs, y, inplace=False):
        return INPUT0          # in place, its result, which is the same storage

    def _kwargs(self, a, inplace):
        # autograd refuses the in-place form's backward for a negative slope
        return (kw("negative_slope", a.negative_slope, 0.01), kw("inplace", inplace and a.negative_slope >= 0, False))

    def label(self, a):
        return f"leaky relu {a.negative_slope:g}"


@register
class ELU(_Activation):
    name = "elu"
    doc = "x where x > 0, else alpha * (exp(x) - 1) (nn.ELU)"
    torch_name = ("ELU", "elu")

    class Attrs(base.Attrs):
        alpha: float = 1.0

    def saved(self, a, xs, y, inplace=False):
        return INPUT0          # in place, its result, which is the same storage (as leaky_relu)

    def _kwargs(self, a, inplace):
        # as leaky_relu's: autograd refuses the in-place form's backward for a negative alpha
        return (kw("alpha", a.alpha, 1.0), kw("inplace", inplace and a.alpha >= 0, False))

    def label(self, a):
        return "elu" if a.alpha == 1 else f"elu {a.alpha:g}"


@register
class Mish(_Activation):
    name = "mish"
    doc = "x * tanh(softplus(x)) (nn.Mish; CSPNet, timm's ResNets)"
    torch_name = ("Mish", "mish")


@register
class GELU(_Elementwise):
    name = "gelu"
    doc = "x * Phi(x), exact (approximate: none) or by its tanh approximation (nn.GELU; ConvNeXt, ViT)"

    class Attrs(base.Attrs):
        approximate: Literal["none", "tanh"] = "none"

    def saved(self, a, xs, y, inplace=False):
        return INPUT0

    def _call(self, fn, a):
        return Call(fn, (), (kw("approximate", a.approximate, "none"),))

    def module(self, a, xs, y, inplace=False):
        return self._call("nn.GELU", a)

    def call(self, a, args, inplace=False):
        return self._call("F.gelu", a).on(args[0])

    def label(self, a):
        return "gelu" + (" tanh" if a.approximate == "tanh" else "")


@register
class Scale(_Elementwise):
    name = "scale"
    doc = "multiplication by a constant `factor` (Inception-ResNet's residual scaling, 0.17 * branch)"
    fresh = True

    class Attrs(base.Attrs):
        factor: float

    # no module form: torch has no module for it, and like mul it is a plain expression in forward
    def call(self, a, args, inplace=False):
        return Call("*", (("factor", a.factor),)).on(args[0])

    def label(self, a):
        return f"scale {a.factor:g}"


@register
class LayerScale(_Elementwise):
    name = "layer_scale"
    ranks = (1, 3)          # its parameter's shape follows a vector's or a map's channels
    doc = ("a learnable factor per channel, initialised to `init` (ConvNeXt's and CaiT's layer scale); "
           "a parameter of the enclosing block itself, named after the node (torchvision's "
           "features.1.0.layer_scale), (C, 1, 1) on a (C, H, W) map and (C,) on a vector or a channels-last tensor; "
           "`flat`: (C,) on a map too, multiplied as gamma.reshape(1, -1, 1, 1) (timm's ConvNeXt gamma); "
           "`scalar`: one factor for the whole tensor, shape () (NFNet's skipinit_gain)")

    class Attrs(base.Attrs):
        init: float = 1e-6          # the ConvNeXt paper's and torchvision's
        flat: bool = False
        scalar: bool = False

    def _map(self, x) -> bool:
        return len(x) == 3 and not isinstance(x, ChannelsLast)

    def _shape(self, a, x):
        if a.scalar:
            return ()
        return (channels(x), 1, 1) if self._map(x) and not a.flat else (channels(x),)

    def shape(self, a, xs):
        if a.flat and a.scalar:
            raise SpecError("layer_scale: flat and scalar both", hint="a scalar has no channels to lay flat")
        if a.flat and not self._map(xs[0]):
            raise SpecError(f"layer_scale flat: true on {fmt_shape(xs[0])}: flat holds (C,) for a (C, H, W) map",
                            hint="leave flat out: a vector's or a channels-last tensor's scale is (C,) already")
        return super().shape(a, xs)

    def tensors(self, a, xs, y):
        return [Tensor("", self._shape(a, xs[0]))]

    def parameter(self, a, xs, y):
        return Call("torch.full", (("size", self._shape(a, xs[0])), ("fill_value", a.init)))

    def saved(self, a, xs, y, inplace=False):
        return INPUT0         # for the parameter's gradient (the parameter itself is not an activation)

    def call(self, a, args, inplace=False):
        # the parameter times the input, as torchvision writes it (timm's gamma on a map: reshaped to it)
        scale = Call(".reshape", (("", 1), ("", -1), ("", 1), ("", 1))).on(args[0]) if a.flat else args[0]
        return Call("*").on(scale, args[1])

    def label(self, a):
        return f"layer scale {a.init:g}" + (" scalar" if a.scalar else "")


@register
class Sigmoid(_Pointwise):
    name = "sigmoid"
    doc = "1 / (1 + exp(-x))"
    torch_name = ("Sigmoid", "sigmoid")


@register
class Softmax(Op):
    name = "softmax"
    ranks = None
    doc = ("softmax over one per-sample `axis`, by default 0, the channels (torch dim 1); over a stack's "
           "branch axis, SKNet's and ResNeSt's split attention (torch.softmax(x, axis + 1))")

    class Attrs(base.Attrs):
        axis: int = 0

    def shape(self, a, xs):
        axis_of(a.axis, xs[0])
        return xs[0]

    def saved(self, a, xs, y, inplace=False):
        return OUTPUT

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Softmax", (), (kw("dim", axis_of(a.axis, xs[0]) + 1, None),))

    def call(self, a, args, inplace=False):
        return Call("torch.softmax", (("dim", torch_dim(a.axis)),)).on(args[0])

    def label(self, a):
        return "softmax" if a.axis == 0 else f"softmax axis {a.axis}"


@register
class Dropout(_Elementwise):
    name = "dropout"
    doc = "dropout with probability p in training (nn.Dropout)"

    class Attrs(base.Attrs):
        p: Prob = 0.5

    def saved(self, a, xs, y, inplace=False):
        # the scaled keep-mask, in the activations' dtype (CPU; CUDA's fused kernel keeps 1 byte each)
        return (Saved("new", shape=y),)

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Dropout", (), (kw("p", a.p, 0.5),))

    def call(self, a, args, inplace=False):
        return Call("F.dropout", (), (kw("p", a.p, 0.5), kw("training", Self("training")))).on(args[0])

    def label(self, a):
        return f"dropout {a.p:g}"


STOCHASTIC_DEPTH = '''
class StochasticDepth(nn.Module):
    """Drop path, as torchvision.ops.StochasticDepth: in training, each sample (mode "row") or
    the whole batch (mode "batch") is zeroed with probability p and otherwise scaled by
    1 / (1 - p); the identity in eval mode."""

    def __init__(self, p, mode="row"):
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        if self.mode == "row":
            size = [x.shape[0]] + [1] * (x.ndim - 1)
        else:
            size = [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise
'''


@register
class StochasticDepth(_Elementwise):
    name = "stochastic_depth"
    doc = ("drop path in training: zero each sample (mode row) or the whole batch (mode batch) with "
           "probability p, scale the rest by 1 / (1 - p) (torchvision.ops.StochasticDepth); identity in eval")

    class Attrs(base.Attrs):
        p: Prob
        mode: Literal["row", "batch"] = "row"

    def saved(self, a, xs, y, inplace=False):
        # the noise x is multiplied by: one number per sample (row) or per batch
        return (Saved("new", shape=(1,) * len(y), batched=a.mode == "row"),) if a.p > 0 else ()

    # a module even when anonymous: torch has no functional form of it
    def module(self, a, xs, y, inplace=False):
        return Call("StochasticDepth", (("p", a.p),), (kw("mode", a.mode, "row"),), (STOCHASTIC_DEPTH,))

    def label(self, a):
        return f"stochastic depth {a.p:g}" + (" batch" if a.mode == "batch" else "")


@register
class Identity(_Elementwise):
    name = "identity"
    doc = "passes its input through"
    view = True

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Identity")

    def call(self, a, args, inplace=False):
        return args[0]
