"""archspec: a declarative YAML architecture compiler for convolutional networks."""
from __future__ import annotations

from .analysis import analyze, load
from .errors import SpecErrors
from .frontend.spec import Spec
from .ir import Graph
from .version import __version__

__all__ = ["load", "analyze", "compile", "show", "Graph", "Spec", "SpecErrors", "__version__"]


def compile(spec_or_path, device=None, dtype=None, fuse: bool = False, **params):
    """The spec as a torch.nn.Module (imports torch; see archspec.pytorch.compiler.compile).
    forward returns the output tensor, or a dict {name: tensor} for a spec with several
    outputs (training-only ones in train() mode only). `fuse=True`: in eval mode, batch norms
    folded into their convs, for inference."""
    from .pytorch.compiler import compile as _compile
    return _compile(spec_or_path, device=device, dtype=dtype, fuse=fuse, **params)


def _graph_html(graph: Graph) -> str:
    """Jupyter shows an analysed graph in the interactive viewer (defined here, not in ir, which the
    viewer's modules import)."""
    from .reports.viewer import Inline
    return Inline(graph)._repr_html_()


def _spec_html(spec: Spec) -> str:
    """Jupyter shows a loaded spec as its graph in the interactive viewer."""
    return _graph_html(analyze(spec))


Graph._repr_html_ = _graph_html     # type: ignore[attr-defined]
Spec._repr_html_ = _spec_html       # type: ignore[attr-defined]


def show(spec_or_path, depth: int | None = None, expand: tuple[str, ...] = (), height: int = 640, **params):
    """The interactive viewer of a spec (a path, a Spec or an analysed Graph), inline in Jupyter:
    displayed at once where IPython runs (returns None), else returned (its `_repr_html_` is the
    viewer). `depth` and `expand` as `archspec diagram`'s; `params` as `analyze`'s."""
    from .reports.viewer import Inline
    view = Inline(spec_or_path if isinstance(spec_or_path, Graph) else analyze(spec_or_path, **params),
                  depth, tuple(expand), height)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return view
    if get_ipython() is None:
        return view
    display(view)
    return None
