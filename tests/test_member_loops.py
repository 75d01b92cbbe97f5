"""forward loops over an nn.ModuleList where its lines for the members are alike but for the member
(emit/loops.py): a comprehension of the members' calls inside the call reading them all (SKNet's
stacked paths), a for loop over stretches repeated once per member. The state_dict is the
graph's, the numbers those of the members run one by one (an oracle written here from the
modules), the source in the whitelist, whose mutants are refused."""
from __future__ import annotations

import pytest
import torch
from paths import SPECS
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.pytorch.compiler import check, load_source, source

STACKED = """archspec: 1
input: [4, 8, 8]
nodes:
  - stem: {op: conv, out: 6, k: 1}
  - paths[0]: {op: conv, out: 6, k: 3, pad: 1}
  - paths[1]: {op: conv, out: 6, k: 3, pad: 2, dilation: 2, in: stem}
  - paths[2]: {op: conv, out: 6, k: 1, in: stem}
  - branches: {op: stack, in: ['paths[0]', 'paths[1]', 'paths[2]']}
  - {op: sum, axis: 0}
"""

CHAIN = """archspec: 1
input: [4, 8, 8]
nodes:
  - stem: {op: conv, out: 6, k: 1}
  - side: {op: conv, out: 6, k: 1, in: stem}
  - repeat: 3
    node:
      - "convs[${i}]": {op: conv, out: 6, k: 3, pad: 1, bias: false}
      - "bns[${i}]": batchnorm
      - relu
  - mid: {op: conv, out: 6, k: 1}
  - {op: add, in: [mid, side]}
"""


def _model(text: str, spec_file) -> tuple[str, nn.Module]:
    path = spec_file(text)
    src = source(path)
    check_generated_source(src)
    assert check(path).ok
    model = load_source(src).Model().eval()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == archspec.analyze(path).state_dict_shapes()
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    return src, model


def _forward(src: str) -> str:
    """The top class's forward."""
    body = src[src.rindex("def forward"):]
    return body[:body.index("\n\n")]


def _refused(text: str, mutants: list[tuple[str, str]]) -> None:
    for old, new in mutants:
        assert old in text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(text.replace(old, new))


def test_members_on_one_input_read_as_one_list_are_a_comprehension(spec_file):
    src, m = _model(STACKED, spec_file)
    assert "out = torch.stack([path(stem) for path in self.paths], 1)" in src
    assert "self.paths[" not in src and "paths_0" not in src
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        stem = m.stem(x)
        want = torch.stack([m.paths[0](stem), m.paths[1](stem), m.paths[2](stem)], 1).sum(1)
        torch.testing.assert_close(m(x), want, rtol=0, atol=0)
    comp = "[path(stem) for path in self.paths]"
    _refused(src, [(comp, "[path(stem) for path in self.paths if path]"),
                   (comp, "[path(stem) for path in self.modules()]"),
                   (comp, "[path.weight for path in self.paths]"),
                   (comp, "[path(stem, k=1) for path in self.paths]"),
                   (comp, "[path(open) for path in self.paths]"),
                   (comp, "[stem(stem) for stem in self.paths]"),
                   (comp, "[path(stem) for path in self.paths for q in self.paths]"),
                   (comp, "[path(stem) for path in self._modules]"),
                   (comp, "[path(stem) for path in zip(self.paths, self.paths)]"),
                   ("out = torch.stack(" + comp, "out = " + comp + "\n        out = torch.stack(out")])


def test_stretches_alike_but_for_the_member_are_a_for_loop(spec_file):
    """The first step reads `side` where the others read the step before: that value is put in
    the chain's variable before the loop. The shared ReLU runs in place, as unrolled."""
    src, m = _model(CHAIN, spec_file)
    assert ("        out = side\n        for conv, bn in zip(self.convs, self.bns):\n            out = conv(out)\n"
            "            out = bn(out)\n            out = self.relu(out)\n        out = self.mid(out)\n") in src
    assert "self.convs[" not in src and "nn.ReLU(inplace=True)" in src
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        stem = m.stem(x)
        side = m.side(stem)
        out = side
        for k in range(3):
            out = torch.relu(m.bns[k](m.convs[k](out)))
        torch.testing.assert_close(m(x), m.mid(out) + side, rtol=0, atol=0)
    loop = "for conv, bn in zip(self.convs, self.bns):"
    _refused(src, [(loop, "for conv, bn in zip(self.convs, self.bns, strict=True):"),
                   (loop, "for conv, bn in zip(self.convs):"),
                   (loop, "for conv, bn in zip(self.convs, torch.load):"),
                   (loop, "for conv, bn in zip(self.convs, self._modules):"),
                   (loop, "for conv in self.convs.children():"),
                   (loop, "for out, bn in zip(self.convs, self.bns):"),
                   (loop, "for conv, conv in zip(self.convs, self.bns):"),
                   (loop, "for conv, F in zip(self.convs, self.bns):"),
                   (loop, "for conv, bn in zip(self.convs, self.bns):\n            if self.training:\n"
                          "                out = conv(out)"),
                   (loop, "for conv, bn in zip(self.convs, self.bns):\n            for q in self.bns:\n"
                          "                out = q(out)"),
                   ("            out = self.relu(out)\n", "            out = self.relu(out)\n        else:\n"
                                                         "            out = out\n")])


@pytest.mark.parametrize("change", [
    ("in: ['paths[0]', 'paths[1]', 'paths[2]']", "in: ['paths[0]', 'paths[2]', 'paths[1]']"),   # not in list order
    ("in: ['paths[0]', 'paths[1]', 'paths[2]']", "in: ['paths[0]', 'paths[1]', 'paths[2]', stem]"),
    ("paths[2]: {op: conv, out: 6, k: 1, in: stem}", "paths[2]: {op: conv, out: 6, k: 1, in: 'paths[1]'}"),
    ("  - branches:", "  - mid: {op: relu, in: stem}\n  - branches:"),      # a step between them and the stack
], ids=["order", "another-operand", "another-input", "a-step-between"])
def test_members_not_read_alike_stay_unrolled(spec_file, change):
    text = STACKED.replace(*change)
    assert text != STACKED
    src, _ = _model(text, spec_file)
    assert "for " not in _forward(src) and "self.paths[0](" in src


def test_a_chain_with_a_step_unlike_the_others_stays_unrolled(spec_file):
    """A member dropped (`when:`) leaves None in its list, which a loop would call; a step with a
    module of its own is not alike."""
    gap = CHAIN.replace('"bns[${i}]": batchnorm', '"bns[${i}]": {op: batchnorm, when: "${i != 1}"}')
    src, _ = _model(gap, spec_file)
    assert "for " not in _forward(src) and "self.convs[2](" in src and "None" in src
    own = CHAIN.replace("      - relu\n", '      - relu\n      - "extra${i}": {op: relu, when: "${i == 1}"}\n')
    src, _ = _model(own, spec_file)
    assert "for " not in _forward(src) and "self.convs[2](" in src and "self.extra1" in src


def test_a_step_run_otherwise_in_place_stays_unrolled(spec_file):
    """The first step's ReLU may not overwrite `side`, which the add reads later; the others' run
    in place: two modules, so the steps are not alike."""
    text = CHAIN.replace("      - relu\n", "").replace("    node:\n", "    node:\n      - relu\n")
    src, _ = _model(text.replace("  - mid: {op: conv, out: 6, k: 1}\n", "").replace("[mid, side]", '["bns[2]", side]'),
                    spec_file)
    assert "self.relu = nn.ReLU()" in src and "self.relu_1 = nn.ReLU(inplace=True)" in src
    assert "for " not in _forward(src) and "self.convs[2](" in src


def test_the_loop_variable_is_a_fresh_name(spec_file):
    """A list whose name has no singular, or whose singular a value of forward holds, names its
    member otherwise."""
    text = STACKED.replace("paths", "transition1").replace("  - stem:", "  - path:").replace("in: stem", "in: path")
    src, _ = _model(text, spec_file)
    assert "torch.stack([module(path) for module in self.transition1], 1)" in src
    src, _ = _model(STACKED.replace("  - stem:", "  - path:").replace("in: stem", "in: path"), spec_file)
    assert "torch.stack([module(path) for module in self.paths], 1)" in src


def test_skresnet_selective_kernel_stacks_its_paths_in_one_comprehension():
    text = source(SPECS / "skresnet50.yaml")
    assert "branches = torch.stack([path(x) for path in self.paths], 1)" in text
    assert "self.paths[" not in text
