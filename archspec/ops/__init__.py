"""The op registry: every built-in op; importing this package fills the registry, and
`archspec.ops.register` adds your own (README, "Your own ops").

May import: the shared modules (errors, limits) only; the front end, the IR and every back end
build on it (tests/test_layout.py)."""
from . import axes, conv, elementwise, layers, lenet, merge, norms  # noqa: F401  (registration)
from .base import REGISTRY, Arg, Attrs, Call, Op, Self, Tensor, kw, register

__all__ = ["REGISTRY", "Arg", "Attrs", "Call", "Op", "Self", "Tensor", "kw", "register"]
