"""`archspec import`: a PyTorch model in, a readable spec out.

trace (torch.fx, the op table) -> structure (blocks, repeats) -> yamltext (the spec's text),
then the spec is checked as any spec is, and against the model's own state_dict, before it is
written. Only `trace`, `sources` and `table` import torch.

May import: the shared modules (plugins runs your factory), ir, ops, the front end and analysis;
never the cli (tests/test_layout.py)."""
from __future__ import annotations

import os
import tempfile

from ...errors import Diagnostic, Loc, SpecErrors
from ...names import one_line


def import_model(model, input_shape: tuple, name: str, source: str) -> str:
    """The spec text of `model` (an nn.Module) on a (C, H, W) input; raises trace.ImportError_
    naming the module and op that archspec cannot express."""
    from .structure import Recover, _valid
    from .trace import trace
    from .yamltext import spec_text
    result = Recover(trace(model, tuple(input_shape))).recover()
    return spec_text(result, _valid(name, set()), f"{source} (imported)", f"written by archspec import {source}",
                     input_shape)


def import_source(source: str, output: str | None = None, input_shape: tuple | None = None):
    """Import SOURCE (torchvision:NAME, timm:NAME, FILE.py:FACTORY) to a spec file; return
    (path, Graph). Nothing is written unless the spec validates and holds exactly the model's
    state_dict (keys and shapes)."""
    from ... import analyze, load
    from ...files import write_atomic
    from .sources import load_model
    from .trace import ImportError_
    model, name, default = load_model(source)
    shape = tuple(input_shape or default)
    where = Loc(f"archspec import {one_line(source, 80)}")
    try:
        text = import_model(model, shape, name, source)
    except ImportError_ as e:
        raise SpecErrors([Diagnostic(where, e.message, path=e.where, hint=e.hint)]) from None
    with tempfile.TemporaryDirectory() as tmp:
        draft = os.path.join(tmp, "imported.yaml")
        with open(draft, "w") as f:
            f.write(text)
        try:
            graph = analyze(load(draft))
        except SpecErrors as e:
            raise SpecErrors([Diagnostic(where, f"the imported spec does not validate (a bug in archspec "
                                         f"import, please report it): {one_line(e, 300)}")]) from None
    _check_state_dict(model, graph, where)
    path = write_atomic(output or f"{graph.name}.yaml", text)
    return path, graph


def _check_state_dict(model, graph, where: Loc) -> None:
    """The spec's state_dict is the model's: a module that forward never runs (a training-only
    head) would otherwise be lost without a word."""
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ours = graph.state_dict_shapes()
    missing = [k for k in theirs if k not in ours]
    wrong = [k for k in theirs if k in ours and ours[k] != theirs[k]] + [k for k in ours if k not in theirs]
    if missing:
        raise SpecErrors([Diagnostic(where, f"{len(missing)} state_dict entries belong to modules that forward "
                                     f"does not run in eval mode: {', '.join(missing[:3])}"
                                     f"{' ...' if len(missing) > 3 else ''}",
                                     hint="archspec import traces eval mode; build the model without them "
                                          "(e.g. aux_logits=False)")])
    if wrong:
        raise SpecErrors([Diagnostic(where, f"the imported spec's state_dict differs at {wrong[0]} (a bug in "
                                     "archspec import, please report it)")])
