"""A user-defined op, registered without editing archspec: Swish, x * sigmoid(beta x)
(Ramachandran et al. 2017). One class holds everything: attributes, shape rule
(the default: shape-preserving), counts (none) and its PyTorch form.

    archspec summary examples/swish_net.yaml --ops examples/swish_op.py
    archspec build examples/swish_net.yaml --ops examples/swish_op.py --check

`imports` tells `archspec import` which module class of a model the op stands for:

    archspec import my_models.py:net --ops examples/swish_op.py
"""
from archspec.ops import Attrs, Op, register
from archspec.ops.base import Call

SWISH = '''
class Swish(nn.Module):
    """x * sigmoid(beta x)."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)
'''


@register
class SwishOp(Op):
    name = "swish"
    doc = "x * sigmoid(beta x)"

    class Attrs(Attrs):
        beta: float = 1.0

    imports = ("Swish",)                 # a model's Swish(beta) module is this op

    def attrs_of(self, m):
        return {"beta": float(m.beta)}

    def module(self, a, xs, y, inplace=False):
        return Call("Swish", (("beta", a.beta),), (), (SWISH,))

    def call(self, a, args, inplace=False):
        # x * torch.sigmoid(beta * x), as data over the input placeholder args[0] (emit writes it)
        scaled = Call("*", (("beta", a.beta), ("x", args[0])))
        return Call("*").on(args[0], Call("torch.sigmoid").on(scaled))

    def label(self, a):
        return f"swish {a.beta:g}"
