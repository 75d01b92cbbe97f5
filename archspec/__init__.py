"""archspec: a declarative YAML architecture compiler for convolutional networks."""
from __future__ import annotations

from .analysis import analyze, load
from .errors import SpecErrors
from .frontend.spec import Spec
from .ir import Graph
from .version import __version__

__all__ = ["load", "analyze", "compile", "Graph", "Spec", "SpecErrors", "__version__"]


def compile(spec_or_path, device=None, dtype=None, fuse: bool = False, **params):
    """The spec as a torch.nn.Module (imports torch; see archspec.pytorch.compiler.compile).
    forward returns the output tensor, or a dict {name: tensor} for a spec with several
    outputs (training-only ones in train() mode only). `fuse=True`: in eval mode, batch norms
    folded into their convs, for inference."""
    from .pytorch.compiler import compile as _compile
    return _compile(spec_or_path, device=device, dtype=dtype, fuse=fuse, **params)
