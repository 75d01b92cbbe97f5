"""Shape-preserving ops: activations, dropout, identity."""
from __future__ import annotations

from .base import Attrs, Op, Prob, register


@register
class ReLU(Op):
    name = "relu"
    doc = "max(x, 0)"


@register
class Tanh(Op):
    name = "tanh"
    doc = "tanh(x)"


@register
class ScaledTanh(Op):
    name = "scaled_tanh"
    doc = "LeCun's squashing function f(a) = A tanh(S a), by default A = 1.7159, S = 2/3"

    class Attrs(Attrs):
        A: float = 1.7159
        S: float = 2 / 3

    def label(self, a):
        return f"{a.A:g} tanh({a.S:.4g} a)"


@register
class Sigmoid(Op):
    name = "sigmoid"
    doc = "1 / (1 + exp(-x))"


@register
class Softmax(Op):
    name = "softmax"
    doc = "softmax over channels (dim 1 with the batch)"


@register
class Dropout(Op):
    name = "dropout"
    doc = "dropout with probability p in training (nn.Dropout)"

    class Attrs(Attrs):
        p: Prob = 0.5

    def label(self, a):
        return f"dropout {a.p:g}"


@register
class Identity(Op):
    name = "identity"
    doc = "passes its input through"
