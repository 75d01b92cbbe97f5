"""Shape-preserving ops: activations, dropout, identity."""
from __future__ import annotations

from typing import ClassVar

from .base import Attrs, Call, Op, Prob, kw, literal, register

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


@register
class ReLU(Op):
    name = "relu"
    doc = "max(x, 0)"
    inplace = True

    def module(self, a, xs, y, inplace=False):
        return Call("nn.ReLU", (), (kw("inplace", inplace, False),))

    def call(self, a, args, inplace=False):
        return f"torch.relu{'_' if inplace else ''}({args[0]})"


class _Pointwise(Op):
    """A parameter-free function of each element: `nn.<module>()` or `torch.<fn>(x)`."""
    torch_name: ClassVar[tuple[str, str]]

    def module(self, a, xs, y, inplace=False):
        return Call(f"nn.{self.torch_name[0]}")

    def call(self, a, args, inplace=False):
        return f"torch.{self.torch_name[1]}({args[0]})"


@register
class Tanh(_Pointwise):
    name = "tanh"
    doc = "tanh(x)"
    torch_name = ("Tanh", "tanh")


@register
class ScaledTanh(Op):
    name = "scaled_tanh"
    doc = "LeCun's squashing function f(a) = A tanh(S a), by default A = 1.7159, S = 2/3"

    class Attrs(Attrs):
        A: float = 1.7159
        S: float = 2 / 3

    def module(self, a, xs, y, inplace=False):
        return Call("ScaledTanh", (("A", a.A), ("S", a.S)), (), (SCALED_TANH,))

    def call(self, a, args, inplace=False):
        return f"{literal(a.A)} * torch.tanh({literal(a.S)} * {args[0]})"

    def label(self, a):
        return f"{a.A:g} tanh({a.S:.4g} a)"


@register
class Sigmoid(_Pointwise):
    name = "sigmoid"
    doc = "1 / (1 + exp(-x))"
    torch_name = ("Sigmoid", "sigmoid")


@register
class Softmax(Op):
    name = "softmax"
    doc = "softmax over channels (dim 1 with the batch)"

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Softmax", (("dim", 1),))

    def call(self, a, args, inplace=False):
        return f"torch.softmax({args[0]}, 1)"


@register
class Dropout(Op):
    name = "dropout"
    doc = "dropout with probability p in training (nn.Dropout)"

    class Attrs(Attrs):
        p: Prob = 0.5

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Dropout", (("p", a.p),))

    def call(self, a, args, inplace=False):
        return f"F.dropout({args[0]}, {literal(a.p)}, self.training)"

    def label(self, a):
        return f"dropout {a.p:g}"


@register
class Identity(Op):
    name = "identity"
    doc = "passes its input through"

    def module(self, a, xs, y, inplace=False):
        return Call("nn.Identity")

    def call(self, a, args, inplace=False):
        return args[0]
