"""load and analyze: a spec file to its graph IR, no torch involved. The package re-exports them
(archspec.load, archspec.analyze); modules inside archspec import them from here, not from the
package, whose compile() imports the back ends: no import goes round in a cycle."""
from __future__ import annotations

from .frontend.spec import Spec, load_spec
from .ir import Graph


def load(path: str, sets: list[str] | None = None, library_ok: bool = False, **params) -> Spec:
    """Load a spec file with its variants and block libraries.
    `sets` are CLI-style "key=value" strings; keyword `params` override too.
    A block library (no input, no nodes) loads only with `library_ok`."""
    return load_spec(path, sets or [], params, library_ok)


def analyze(spec_or_path, **params) -> Graph:
    """Expand, infer shapes and count: the graph IR of a spec (no torch involved); a paper table
    the spec declares is checked too (its rows and columns name what the graph has)."""
    from .frontend.expand import expand  # looked up at each call (a test counts the expansions)
    from .reports.table import check_table
    spec = spec_or_path if isinstance(spec_or_path, Spec) else load(spec_or_path, **params)
    graph = expand(spec)
    if spec.doc.table:
        check_table(graph)
    return graph
