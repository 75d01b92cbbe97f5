"""Op children under their block's own `when:` (emit/ctorparams.py's `_build_when`): a child every
instance has, that the block builds `when: ${bn > 0}`, the class builds under that test, as the
spec drops it at another value (the dense layer's bottleneck, `when: ${bn_size > 0}`): `self.conv1
= nn.Conv2d(...) if bn > 0 else None`, forward running it where it is there, the widths it sets
the choice of the test (`bn * 4 if bn > 0 else in_channels`), a conv -> norm pair folded where the
conv is there. So the top class takes the parameter (emit/vary.py tries it at 0), and the class
built at 0 is the spec built with it."""
import pytest
import torch
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.pytorch.compiler import check, source

TOY = """archspec: 1
name: toy
input: [4, 8, 8]
params: {bn: 2, num_classes: 10}
blocks:
  unit:
    params: {width: int, bn: 2}
    nodes:
      - norm1: {op: batchnorm, when: "${WHEN}"}
      - conv1: {op: conv, out: "${bn * width}", k: 1, bias: false, when: "${WHEN}"}
      - norm2: batchnorm
      - relu: relu
      - conv2: {op: conv, out: "${width}", k: 3, pad: 1, bias: false}
nodes:
  - u1: {use: unit, width: 8, bn: "${bn}"}
  - u2: {use: unit, width: 16, bn: "${bn}"}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: "${num_classes}"}
"""


def _toy(when: str = "bn > 0") -> str:
    return TOY.replace("WHEN", when)


def _model(text: str) -> type:
    namespace: dict = {}
    exec(compile(text, "toy.py", "exec"), namespace)
    return namespace["Model"]


def _shapes(model: nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_a_child_under_its_block_s_when_is_built_under_that_test(spec_file):
    path = spec_file(_toy())
    text = source(path)
    assert "    def __init__(self, in_channels, width, bn=2):\n" in text
    assert "        self.norm1 = nn.BatchNorm2d(in_channels) if bn > 0 else None\n" in text
    assert "        self.conv1 = nn.Conv2d(in_channels, bn * width, 1, bias=False) if bn > 0 else None\n" in text
    assert "        self.norm2 = nn.BatchNorm2d(bn * width if bn > 0 else in_channels)\n" in text
    assert "        if self.conv1 is not None:\n            x = self.conv1(x)\n" in text
    assert ("    fuse_pairs = ()\n" in text and "        if self.conv1 is not None:\n"
            '            self.fuse_pairs = (*self.fuse_pairs, ("conv1", "norm2"))\n' in text)
    assert "    def __init__(self, num_classes=10, bn=2):\n" in text       # the top takes it: vary's 0 fits
    assert ('        if self.u2.norm1 is not None:\n'       # a pair of the top's, its norm a unit's under the test
            '            self.fuse_pairs = (*self.fuse_pairs, ("u1.conv2", "u2.norm1"))\n' in text)
    check_generated_source(text)
    assert check(path).ok          # the state_dict and the outputs the graph's


@pytest.mark.parametrize("bn", [0, 1, 3])
def test_the_top_class_at_another_value_is_the_spec_built_with_it(spec_file, bn):
    """At bn 0 the spec drops norm1 and conv1 and norm2 reads the unit's input; the class built
    with bn=0 has the same state_dict, and its fuse() folds only pairs that are there (no pair
    names a module that is absent: fuse() would raise, KeyError, where the norm is there)."""
    path = spec_file(_toy())
    cls = _model(source(path))
    ours = cls(bn=bn)
    theirs = archspec.compile(path, bn=bn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) and _shapes(ours) == _shapes(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    for m in ours.modules():
        if isinstance(m, nn.BatchNorm2d):          # statistics a fold would change if it were wrong
            nn.init.uniform_(m.running_var, 0.5, 2.0)
            nn.init.normal_(m.running_mean, 0, 0.1)
    ours.eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.inference_mode():
        want = ours(x)
        ours.fuse()
        torch.testing.assert_close(ours(x), want, rtol=1e-4, atol=1e-5)
    folded = sum(isinstance(m, nn.Identity) for m in ours.modules())
    assert folded == (3 if bn else 0)          # each unit's conv1 -> norm2, and u1.conv2 -> u2.norm1


def test_a_when_the_class_cannot_write_as_its_test_builds_no_guard(spec_file):
    """A `when:` that compares with a float is no test the class writes (guard.let_test's form):
    the children are built as they are, and the top does not take bn, which turns them (`vary`
    tries it at 0, where the class lacks them: `Lifter.turns`; main took it and built them there)."""
    text = source(spec_file(_toy("bn > 0.5")))
    assert "if bn > 0 else None" not in text and "is not None" not in text
    assert "    def __init__(self, num_classes=10):\n" in text


TAIL = """archspec: 1
name: toy
input: [4, 8, 8]
params: {bn: 2}
blocks:
  unit:
    params: {bn: 2}
    nodes:
      - relu: relu
      - conv: {op: conv, out: "${bn * 4}", k: 1, bias: false, when: "${bn > 0}"}
nodes:
  - u1: {use: unit, bn: "${bn}"}
  - norm: batchnorm
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: 10}
"""


def test_a_pair_whose_conv_a_class_inside_builds_under_its_when_is_added_where_it_is(spec_file):
    """The top's conv -> norm pair whose conv is a unit's, built under `bn > 0`: added where the
    conv is there (`if self.u1.conv is not None:`), not listed as it is: in a unit built at bn 0
    the norm reads its ReLU, and fuse() would raise on the absent conv (the top takes no bn here:
    its norm's width, `bn * 4`, would need the choice)."""
    path = spec_file(TAIL)
    text = source(path)
    assert ('        if self.u1.conv is not None:\n'
            '            self.fuse_pairs = (*self.fuse_pairs, ("u1.conv", "norm"))\n' in text)
    assert "    def __init__(self):\n" in text and "    fuse_pairs = ()\n" in text
    check_generated_source(text)
    model = _model(text)().eval()
    x = torch.randn(2, 4, 8, 8)
    with torch.inference_mode():
        want = model(x)
        model.fuse()
        torch.testing.assert_close(model(x), want, rtol=1e-4, atol=1e-5)
    assert sum(isinstance(m, nn.Identity) for m in model.modules()) == 1


WIDTH = """archspec: 1
name: toy
input: [4, 8, 8]
blocks:
  leaf:
    params: {out: int}
    inputs: [x, shortcut]
    nodes:
      - conv: {op: conv, out: "${out}", k: 3, pad: 1, bias: false, in: x}
      - bn: batchnorm
      - {op: add, in: [bn, shortcut]}
      - relu
  unit:
    params: {out: int, tail: false}
    nodes:
      - project: {seq: [{op: conv, out: "${out}", k: 1, bias: false}, batchnorm], when: "${input.channels != out}"}
      - leaf: {use: leaf, out: "${out}", in: [input, project]}
      - {op: concat, in: "${['leaf', 'project', 'input'] if tail else ['leaf', 'project']}"}
nodes:
  - u1: {use: unit, out: 8}
  - u2: {use: unit, out: 20, tail: true}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: 10}
"""


def test_a_child_under_a_when_of_its_input_s_width_is_built_under_that_test(spec_file):
    """DLA's projection, a seq `when: ${input.channels != out}` in a block that passes `out` on
    to its leaf: every instance here has it, and the class builds it under `in_channels != out`,
    so that the class made where the widths are equal is the spec built there (main built it
    always: Unit(8, 8) had a projection the spec has not). The class is written from u2, whose
    concatenation takes every input (DLA's level_root), not the first instance."""
    text = source(spec_file(WIDTH))
    assert "            if in_channels != out\n            else None\n" in text
    check_generated_source(text)
    namespace: dict = {}
    exec(compile(text, "toy.py", "exec"), namespace)
    assert "        self.u2 = Unit(16, 20, tail=True)\n" in text
    ours = namespace["Unit"](16, 16, tail=True).eval()
    theirs = archspec.compile(spec_file(WIDTH.replace("out: 20", "out: 16"), "same.yaml")).u2.eval()
    assert list(ours.state_dict()) == list(theirs.state_dict()) and _shapes(ours) == _shapes(theirs)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 16, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(ours(x), theirs(x))
