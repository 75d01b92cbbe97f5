"""Blocks with several outputs (HRNet's exchange between resolutions: one tensor per resolution
in, one per resolution out), against timm's own HighResolutionModule with the same weights, and
each mistake a located error."""
from pathlib import Path

import pytest
import torch
from test_multi_input import assert_same_outputs, errors, macs
from test_plain_yaml import assert_valid, yaml12
from torch import nn

import archspec
from archspec.pytorch.compiler import check, compile, source
from archspec.reports.render import build
from archspec.reports.report import rows

GUIDE = Path(__file__).resolve().parent.parent / "examples" / "guide"

HR = (GUIDE / "hr_exchange.yaml").read_text()


class HrExchange(nn.Module):
    """The spec written by hand around timm's HighResolutionModule (2 branches of one BasicBlock)."""

    def __init__(self):
        super().__init__()
        from timm.models.hrnet import BasicBlock, HighResolutionModule
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 3, 2, 1)
        self.stages = nn.ModuleList([HighResolutionModule(2, BasicBlock, (1, 1), [8, 16], (8, 16), "SUM")
                                     for _ in range(2)])
        self.fc = nn.Linear(24, 10)

    def forward(self, x):
        stem = self.stem(x)
        xs = [stem, self.down(stem)]
        for stage in self.stages:
            xs = stage(xs)
        return self.fc(torch.cat([xs[0].mean((2, 3)), xs[1].mean((2, 3))], 1))


def randomize_batch_norms(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)


def test_several_outputs_load_timms_high_resolution_module_strictly_with_equal_outputs(spec_file):
    path = spec_file(HR)
    g = archspec.analyze(path)
    assert g.scopes["stages.0"].outputs == {"y0": "stages.0.y0", "y1": "stages.0.y1"}
    assert g.nodes["stages.1.branches.0.0.conv1"].inputs == ["stages.0.y0"]     # all outputs carried
    assert g.nodes["stages.1.branches.1.0.conv1"].inputs == ["stages.0.y1"]
    assert g.nodes["pool1"].inputs == ["stages.1.y1"]
    torch.manual_seed(0)
    ours, theirs = compile(path), HrExchange()
    randomize_batch_norms(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    # stem 224, down 1,168; per module: branches 1,184 + 4,672, fuse 128 + 16 + 1,152 + 32; fc 250
    assert sum(p.numel() for p in theirs.parameters()) == g.params == 1_642 + 2 * 7_184
    assert macs(theirs.eval(), (3, 16, 16)) == g.macs
    x = torch.randn(2, 3, 16, 16)
    assert_same_outputs(ours, theirs, x)
    assert check(path).ok


def test_the_module_returns_a_tuple_the_caller_unpacks_by_the_output_names(spec_file):
    text = source(spec_file(HR))
    assert "def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:" in text
    assert "        return y0, y1\n" in text
    assert '        y0, y1 = getattr(self, "1")(y0, y1)\n' in text       # the repeat's steps chained
    assert "        y0, y1 = self.stages(stem, down)\n" in text


def test_the_spec_fits_the_schema_and_counts_and_draws(spec_file):
    assert_valid(yaml12(HR), "guide")
    g = archspec.analyze(spec_file(HR))
    names = [r.name for r in rows(g, depth=1)]
    assert names[:3] == ["stem", "down", "stages"]
    dot, _ = build(g, 1, "TB", ())
    # the collapsed stages box sends both its outputs on, each edge with its shape
    edges = [line.strip() for line in dot.source.splitlines() if "->" in line]
    assert 'stages -> pool0 [label="8×16×16"]' in edges and 'stages -> pool1 [label="16×8×8"]' in edges
    # the block's panel: an edge from each output to its exit
    assert sum(e.endswith('/out" [label="8×16×16"]') or e.endswith('/out" [label="16×8×8"]') for e in edges
               if "y0" in e or "y1" in e) == 2


TWO_OUT = """archspec: 1
input: [8, 8, 8]
blocks:
  pair:
    outputs: [a, b]
    nodes:
      - a: {op: conv, out: 8, k: 1}
      - b: {op: conv, out: 4, k: 1, in: input}
nodes:
  - p: {use: pair}
  - {op: conv, out: 4, k: 1, in: p.a}
"""


@pytest.mark.parametrize("old, new, expected", [
    ("in: p.a}", "in: p.c}", "11:34: 'p' has no output 'c'"),
    ("in: p.a}", "in: p.bb}", "11:34: 'p' has no output 'bb'"),
    ("in: p.a}", "in: p}", "11:34: op conv is given all 2 outputs of 'p' (a, b)"),
    ("  - p: {use: pair}\n", "  - p: {use: pair}\n  - q: {op: conv, out: 8, k: 1, in: input}\n  - q.x: relu\n",
     "12:5: 'q.x' cannot be a node name"),
    ("outputs: [a, b]", "outputs: [a, c]", "5:18: block 'pair' output 'c' is not a node of the block"),
    ("outputs: [a, b]", "outputs: [a, a]", "5:14: block 'pair': outputs: lists two or more distinct node names"),
    ("outputs: [a, b]", "outputs: [a, input]", "5:18: block 'pair' output 'input' is not a node of the block"),
    ("outputs: [a, b]", "outputs: [a, b]\n    output: a", "6:5: block 'pair' has both output: and outputs:"),
])
def test_output_mistakes_are_located_errors(spec_file, old, new, expected):
    text = TWO_OUT.replace(old, new, 1)
    assert text != TWO_OUT
    found = errors(spec_file, text)
    assert any(e.startswith(expected) for e in found), found


def test_a_wrong_output_name_suggests_the_closest(spec_file):
    with pytest.raises(archspec.errors.SpecErrors) as e:
        archspec.analyze(spec_file(TWO_OUT.replace("in: p.a}", "in: p.bb}")))
    assert e.value.diagnostics[0].hint == "did you mean 'b'?"


def test_an_output_by_index_and_a_one_output_block_read_with_a_dot(spec_file):
    g = archspec.analyze(spec_file(TWO_OUT.replace("in: p.a}", "in: p.1}")))
    assert g.nodes["conv"].inputs == ["p.b"]
    found = errors(spec_file, TWO_OUT.replace("  - p: {use: pair}\n", "  - p: {use: pair}\n  - r: {op: conv, out: 8, "
                                              "k: 1, in: input}\n").replace("in: p.a}", "in: r.a}"))
    assert found[0].startswith("12:34: 'r' has one output: 'r.a' names none"), found


def test_a_network_ending_in_several_outputs_returns_each_by_name(spec_file):
    text = TWO_OUT.replace("  - {op: conv, out: 4, k: 1, in: p.a}\n", "")
    path = spec_file(text)
    g = archspec.analyze(path)
    assert {k: o.node for k, o in g.outputs.items()} == {"a": "p.a", "b": "p.b"}
    out = compile(path)(torch.zeros(1, 8, 8, 8))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"a": (1, 8, 8, 8), "b": (1, 4, 8, 8)}


def test_a_dropped_block_of_several_outputs_passes_each_input_on_as_the_output_of_its_rank(spec_file):
    text = HR.replace("  hr_module:    ", "  hr_module:\n    when: \"${c0 > 8}\"\n   ", 1)
    assert text != HR
    g = archspec.analyze(spec_file(text))
    assert not any(n.startswith("stages") for n in g.nodes)
    assert g.nodes["pool0"].inputs == ["stem"] and g.nodes["pool1"].inputs == ["down"]
    one = TWO_OUT.replace("    outputs: [a, b]\n", "    outputs: [a, b]\n    when: false\n")
    assert errors(spec_file, one)[0].startswith("11:5: block 'pair' dropped by its when: has 1 input to pass on "
                                                "as its 2 outputs")
