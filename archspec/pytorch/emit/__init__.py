"""emit: the graph IR as readable PyTorch source (no torch imported here).

The output reads like hand-written torchvision code, and passes `ruff check` and
`ruff format --check` at line length 100:
- one nn.Module class per block definition: instances that differ only in numbers share
  the class, whose constructor takes the numbers that differ as named arguments; a child
  that some instances lack and that passes its input through (a projection shortcut) is an
  argument that may be None (`downsample=None`, `if self.downsample is not None:`), or, where
  the block's boolean `let:` says where it is, built by the class under that test (WRN's
  `self.shortcut = nn.Conv2d(...) if stride != 1 or in_channels != out else None`), or
  where a boolean of the block says where an op is whose numbers are the block's parameters,
  under that flag, or its test where the class decides the flag (EfficientNet's
  `StochasticDepth(stochastic_depth_prob) if stride == 1 and in_channels == c_out else None`,
  as torchvision's MBConv); an
  nn.Sequential child that lacks members at some instances is built member by member under a
  test of the block's parameters (`members`: MobileNetV2's `if t != 1: layers.append(...)`,
  `self.conv = nn.Sequential(*layers)`), and one whose instances run other counts of one
  repeat's steps by a loop over them (timm's Xception Block: `for i in range(reps):`, each
  member under a test of the index, `if i > 0 or start_with_relu:`, its widths written from it,
  `stepwidths`); children a text parameter picks between are built
  each under its test (`alternatives`: DPN's `... if kind == "proj" else None`); a block that
  needs several classes names each by what sets it apart (`UnitResidual`),
  numbered only where nothing nameable does; an op some instances lack runs under a flag,
  the block's boolean `let:` or parameter (`if self.residual:`), which the class decides itself
  where that `let:` tests what it takes (`self.residual = stride == 1 and in_channels == c`,
  torchvision's `use_res_connect`), and what stands for a child
  where it is absent may be the block's input (WRN's `identity = x`); a block that only wraps
  a module holding no tensor is that module (`downsample=PadChannels(16, 32, stride=2)`); a
  named input some instances are given another's value for is None by default, standing for
  that one (DLA's `forward(self, x, shortcut=None)`);
- submodules registered in spec order under the spec's names, so state_dict keys are
  exactly `Graph.state_dict_shapes()`; a chain of numbered children is an nn.Sequential
  (a run of equal ones written once, `*[Block(...) for _ in range(n)]`, a run whose rates follow
  the repeat's index as one comprehension over it, `for j in range(3)`), and so is a group
  that only chains its modules, named by an OrderedDict as torchvision's DenseNet `features`
  (a run of named children whose numbers grow by fixed steps as one comprehension,
  `*[(f"conv4_{j + 2}", Unit(8 + 4 * j, 12 + 4 * j)) for j in range(4)]`);
  the top class's nn.Sequential of stages of units alike but for their widths, each stage
  closed by one module, is torchvision's VGG make_layers (`stageloop`): a loop over the stage
  configuration the class takes, `for stage in stages: for width in stage:`, the norms under
  the spec's flag (`if batch_norm:`), zipped with the kernels the class takes where the units'
  differ (VGG-C's, `for stage, kernel in zip(stages, kernels):`); and a run of its named
  children, blocks <a>1, <a>2, ... each but the last followed by a transition <b>k, alike but for
  the input width and one size, is
  torchvision's DenseNet loop (`blockloop`), `for i, num_layers in enumerate(blocks):` over the
  spec parameter of those sizes, the width carried on in `num_features`; and a run of its
  members of one block class whose rows a spec table of ints gives, each row's first block
  strided, is torchvision's MobileNetV2 loop (`rowloop`), `for t, c, n, s in rows: for i in
  range(n):`, the width carried on in `in_channels` to the members after it; where each row is
  its own nn.Sequential and the blocks take a drop-path rate over all rows' blocks, torchvision's
  EfficientNet loop, `stage = []` a row, the rate `stochastic_depth * stage_block_id /
  total_stage_blocks` from a counter; and a run of stages, nn.Sequentials of one block class, a
  downsampling layer between two, whose widths and depths two spec lists give, is torchvision's
  ConvNeXt loop (`depthloop`), `for i, (dim, depth) in enumerate(zip(dims, depths)):`, the rate
  `/ (total_stage_blocks - 1.0)` over `sum(depths)`, the stem's width `dims[0]`, the
  classifier's `dims[-1]`; and a run of named blocks <a><stage>_<block> whose depths a spec
  list gives, each number one per stage, is timm's DPN loop (`depthloop`'s flat form) into an
  OrderedDict, `for i, (depth, bw, inc) in enumerate(zip(depths, (64, 128, 256, 512), incs)):`,
  a word chosen by the block's place, the width carried on in `in_channels`;
  a run of one class named prefix1, prefix2, ... whose numbers grow by fixed steps
  (DenseNet's dense layers) is built by a for loop and run by one; an nn.ModuleList whose
  members forward runs alike is looped over (`loops`: a comprehension of the members' calls
  inside the call that reads them all, a for loop over stretches alike but for the member;
  `ladder`: Res2Net's steps over several lists, each adding the step before's output, a for
  loop with the step's index that collects the outputs in a list); a block that is exactly
  HRNet's exchange between resolutions (`exchange`) takes and gives a list, its branches a
  comprehension and its fuse layers HRNet's nested loop; its caller holds the list and reads
  its items (`x[1]`), maps it with a list's members in a comprehension, and climbs it with a
  ladder of members and sums in an enumerate loop;
- activations and every op with a module form as modules (alike anonymous ones share one
  attribute, as torchvision's `self.relu`), functional calls (torch.cat, ...) for the rest;
  ReLU and add in place where nothing else reads their input (`out += identity`);
- each class lists its conv -> batch norm pairs in `fuse_pairs`; the top class's `fuse()`
  folds them all for inference.

The pipeline: `scopes` places the nodes in a tree of scopes (what each reads and returns,
which are nn.Sequential chains); `classes` gives every other scope a class, with its
`forward` body from `forward` (each functional node's expression from `expr`, loops over
list members from `loops`) and constructor
parameters (`ctorparams`): the numbers the spec wrote as expressions of the block's parameters
written as those expressions, its `let:` values as locals (`specexpr`), a rate the spec computes
where it makes a block the class builds carried up to it (`lift`: ConvNeXt's drop-path rates from
the top's `stochastic_depth`), the other numbers that differ as parameters or derived from them,
the top class's widths from the spec's parameters (`widthexpr`), those it takes checked by
building the spec again at another value (`vary`), the depths of stages of one block from the
plan of the spec built with deeper ones (`widen`: ResNeSt-14d's `range(layers[0] - 1)`);
`source` writes the file, with `init_weights` from `init`, `fuse` from `fuse`, and lines
laid out by `layout`.

Each op describes its PyTorch form itself, as data: `Op.module` a constructor `Call`, `Op.call`
a forward `Call` over `Arg` placeholders of its inputs; this package only arranges them, and
`expr` alone writes a forward expression. Identifiers are the expander's
validated names; numbers are written with repr (`literal`); spec text only
through `source._text`. The same spec gives byte-identical source.

May import: the shared modules, ir, ops and the front end (the spec's `init:` rules, the
expression interpreter that checks each written expression); never torch,
nor the rest of pytorch/ (tests/test_layout.py). Who reads each tensor and which ops run in place
are the IR's (`Graph.readers`, `Graph.in_place`), shared with reports/memory.py.
"""
from __future__ import annotations

from ...errors import Diagnostic, SpecError, SpecErrors
from ...ir import Graph
from ...names import file_stem
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
