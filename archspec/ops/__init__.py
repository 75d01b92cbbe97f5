"""Every built-in op; importing this package fills the registry."""
from . import conv, elementwise, layers, lenet, merge  # noqa: F401  (registration)
from .base import REGISTRY, Attrs, Call, Op, Tensor, kw, register

__all__ = ["REGISTRY", "Attrs", "Call", "Op", "Tensor", "kw", "register"]
