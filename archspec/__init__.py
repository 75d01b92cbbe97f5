"""archspec: a declarative YAML architecture compiler for convolutional networks."""
from __future__ import annotations

from .errors import SpecErrors
from .ir import Graph
from .spec import Spec, load_spec

__all__ = ["load", "analyze", "compile", "Graph", "Spec", "SpecErrors"]
__version__ = "0.1.0"


def load(path: str, sets: list[str] | None = None, library_ok: bool = False, **params) -> Spec:
    """Load a spec file with its variants and block libraries.
    `sets` are CLI-style "key=value" strings; keyword `params` override too.
    A block library (no input, no nodes) loads only with `library_ok`."""
    return load_spec(path, sets or [], params, library_ok)


def analyze(spec_or_path, **params) -> Graph:
    """Expand, infer shapes and count: the graph IR of a spec (no torch involved)."""
    from .expand import expand
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path, **params)
    return expand(spec)


def compile(spec_or_path, device=None, dtype=None, fuse: bool = False, **params):
    """The spec as a torch.nn.Module (imports torch; see archspec.compiler.compile).
    forward returns the output tensor, or a dict {name: tensor} for a spec with several
    outputs (training-only ones in train() mode only). `fuse=True`: in eval mode, batch norms
    folded into their convs, for inference."""
    from .compiler import compile as _compile
    return _compile(spec_or_path, device=device, dtype=dtype, fuse=fuse, **params)
