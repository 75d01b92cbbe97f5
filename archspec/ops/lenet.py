"""LeNet-5's own layers (LeCun et al. 1998, Sec. II-B)."""
from __future__ import annotations

from ..errors import SpecError
from . import base
from .base import Call, Op, Pos, Saved, Tensor, kw, register, window_out

SUBSAMPLE = '''
class Subsample(nn.Module):
    """LeNet-5's trainable subsampling: the sum of each k x k window times one coefficient
    per map, plus one bias per map."""

    def __init__(self, channels, k=2):
        super().__init__()
        self.k = k
        self.weight = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self):
        # LeCun et al. 1998, Appendix C: uniform in +-2.4 / fan-in, the fan-in being k * k
        bound = 2.4 / (self.k * self.k)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        s = F.avg_pool2d(x, self.k) * (self.k * self.k)
        return s * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
'''

RBF_UNITS = '''
class RBF(nn.Module):
    """Euclidean radial basis units y_i = sum_j (x_j - w_ij)^2 with fixed weights (a buffer,
    not trained). Written as a difference, not a matmul, so it counts no MACs."""

    def __init__(self, in_features, out_features):
        super().__init__()
        # the paper's weights are hand-drawn +-1 bitmaps of the characters; random +-1 stand in
        self.register_buffer(
            "weight", torch.randint(0, 2, (out_features, in_features)).float() * 2 - 1
        )

    def forward(self, x):
        return (x.unsqueeze(1) - self.weight).pow(2).sum(-1)
'''


def _keeps_input_and(shape: tuple) -> tuple[Saved, ...]:
    return (Saved("input"), Saved("new", shape=shape))


@register
class Subsample(Op):
    name = "subsample"
    ranks = (3,)
    doc = ("trainable subsampling (S2, S4): the sum of each k x k window times one trainable "
           "coefficient per map, plus one trainable bias per map")

    class Attrs(base.Attrs):
        k: Pos = 2

    def shape(self, a, xs):
        c, h, w = xs[0]
        if a.k > h or a.k > w:
            raise SpecError(f"window {a.k}x{a.k} is larger than the input {h}x{w}")
        return (c, window_out(h, a.k, a.k, 0), window_out(w, a.k, a.k, 0))

    def tensors(self, a, xs, y):
        return [Tensor("weight", (xs[0][0],)), Tensor("bias", (xs[0][0],))]

    def saved(self, a, xs, y, inplace=False):
        return _keeps_input_and(y)      # avg_pool2d's input; the window sums, times the weight

    init_modules = ("Subsample",)

    def module(self, a, xs, y, inplace=False):
        return Call("Subsample", (("channels", xs[0][0]),), (kw("k", a.k, 2),), (SUBSAMPLE,))

    def label(self, a):
        return f"subsample {a.k}x{a.k}"


@register
class RBF(Op):
    name = "rbf"
    ranks = (1,)
    doc = ("Euclidean radial basis units y_i = sum_j (x_j - w_ij)^2 with fixed (non-trainable) "
           "weights, LeNet-5's output layer")

    class Attrs(base.Attrs):
        out: Pos

    def shape(self, a, xs):
        return (a.out,)

    def tensors(self, a, xs, y):
        return [Tensor("weight", (a.out, xs[0][0]), buffer=True)]

    def saved(self, a, xs, y, inplace=False):
        return (Saved("new", shape=(a.out, xs[0][0])),)     # x - w, which pow(2) keeps

    def module(self, a, xs, y, inplace=False):
        return Call("RBF", (("in_features", xs[0][0]), ("out_features", a.out)), (), (RBF_UNITS,))

    def label(self, a):
        return f"rbf {a.out}"
