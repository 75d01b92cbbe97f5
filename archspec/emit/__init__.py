"""emit: the graph IR as readable PyTorch source (no torch imported here).

The output reads like hand-written torchvision code:
- one nn.Module class per distinct block structure; instances that differ only
  in numbers (channels, strides, kernel sizes, ...) share the class, whose
  constructor takes the numbers that differ;
- submodules registered in spec order under the spec's names, so state_dict
  keys are exactly `Graph.state_dict_shapes()`; a chain of numbered children
  (a `seq`, a repeat's 0, 1, 2, ...) is an nn.Sequential, as in torchvision;
- forward written out as straight-line code: modules for nodes with tensors
  and for named nodes, functional calls (torch.relu, torch.cat, ...) for
  anonymous parameter-free ones; ReLU and add work in place where nothing else
  reads their input, as torchvision's do.

The pipeline: `scopes` places the nodes in a tree of scopes (what each reads and
returns, which are nn.Sequential chains); `classes` gives every other scope a class,
one per structure, with its `forward` body from `forward` and constructor parameters
for the numbers that differ; `source` writes the file, with `init_weights` from `init`.

Each op describes its PyTorch form itself (`Op.module` as `Call` data, `Op.call`
as text); this package only arranges them. Identifiers are the expander's
validated names; numbers are written with repr (`literal`); spec text only
through `source._text`. The same spec gives byte-identical source.
"""
from __future__ import annotations

from ..errors import Diagnostic, SpecError, SpecErrors
from ..ir import Graph
from ..names import file_stem
from .source import write_source

__all__ = ["emit", "module_filename"]


def emit(graph: Graph, probe: bool = False) -> str:
    """The PyTorch source of a graph: helper classes, block classes, the top class (with the
    graph's `init:` rules), and `Model = <top class>`. With `probe`, every functional node's value
    passes through `_probe(module, local_name, value)`, which the caller defines (compiler.check)."""
    try:
        return write_source(graph, probe)
    except SpecError as e:
        raise SpecErrors([Diagnostic(e.loc, e.message, hint=e.hint)]) from None


def module_filename(graph: Graph) -> str:
    """<name>.py, the spec name made an importable module name."""
    name = file_stem(graph.name)
    return ("_" + name if name[:1].isdigit() else name) + ".py"
