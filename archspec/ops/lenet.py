"""LeNet-5's own layers (LeCun et al. 1998, Sec. II-B)."""
from __future__ import annotations

from ..errors import SpecError
from .base import Attrs, Op, Pos, Tensor, register, window_out


@register
class Subsample(Op):
    name = "subsample"
    ranks = (3,)
    doc = ("trainable subsampling (S2, S4): the sum of each k x k window times one trainable "
           "coefficient per map, plus one trainable bias per map")

    class Attrs(Attrs):
        k: Pos = 2

    def shape(self, a, xs):
        c, h, w = xs[0]
        if a.k > h or a.k > w:
            raise SpecError(f"window {a.k}x{a.k} is larger than the input {h}x{w}")
        return (c, window_out(h, a.k, a.k, 0), window_out(w, a.k, a.k, 0))

    def tensors(self, a, xs, y):
        return [Tensor("weight", (xs[0][0],)), Tensor("bias", (xs[0][0],))]

    def label(self, a):
        return f"subsample {a.k}x{a.k}"


@register
class RBF(Op):
    name = "rbf"
    ranks = (1,)
    doc = ("Euclidean radial basis units y_i = sum_j (x_j - w_ij)^2 with fixed (non-trainable) "
           "weights, LeNet-5's output layer")

    class Attrs(Attrs):
        out: Pos

    def shape(self, a, xs):
        return (a.out,)

    def tensors(self, a, xs, y):
        return [Tensor("weight", (a.out, xs[0][0]), buffer=True)]

    def label(self, a):
        return f"rbf {a.out}"
