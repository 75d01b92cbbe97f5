"""A ladder over nn.ModuleLists (emit/ladder.py, Res2Net's hierarchical 3x3s): steps calling the
k-th member of each list, the first member reading one value every step reads, each step but the
first adding the step before's output, the outputs concatenated, is a for loop with the step's
index, the outputs collected in a list, as timm's Bottle2neck. The state_dict is the graph's, the
numbers those of the members run one by one (an oracle written here from the modules), the
source in the whitelist, whose mutants are refused; a ladder unlike that stays unrolled."""
from __future__ import annotations

import pytest
import torch
from checked_model import checked_model
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.pytorch.compiler import source

LADDER = """archspec: 1
input: [4, 6, 6]
nodes:
  - stem: {op: conv, out: 8, k: 1}
  - repeat: 3
    node:
      - "splits[${i}]": {op: slice, start: "${i * 2}", stop: "${(i + 1) * 2}", in: stem}
      - "sum${i + 1}": {op: add, in: ["acts[${i - 1}]", "splits[${i}]"], when: "${i > 0}", else: "splits[${i}]"}
      - "convs[${i}]": {op: conv, out: 2, k: 3, pad: 1, bias: false}
      - "bns[${i}]": batchnorm
      - "acts[${i}]": relu
  - last: {op: slice, start: 6, in: stem}
  - {op: concat, in: ["acts[0]", "acts[1]", "acts[2]", last]}
"""
NO_ADDS = LADDER.replace('when: "${i > 0}"', 'when: "${i > 5}"')
LOOP = ("        outs = []\n"
        "        for i, (split, conv, bn, act) in enumerate(\n"
        "            zip(self.splits, self.convs, self.bns, self.acts)\n"
        "        ):\n"
        "            sp = split(stem) if i == 0 else outs[-1] + split(stem)\n"
        "            sp = conv(sp)\n"
        "            sp = bn(sp)\n"
        "            sp = act(sp)\n"
        "            outs.append(sp)\n"
        "        outs.append(last)\n"
        "        out = torch.cat(outs, 1)\n")


def _unrolled(m: nn.Module, x: torch.Tensor, adds: bool) -> torch.Tensor:
    """The ladder step by step, from the modules: x_k, plus y_(k-1) after the first, conv, bn, relu."""
    stem = m.stem(x)
    ys: list[torch.Tensor] = []
    for k in range(3):
        v = stem[:, 2 * k:2 * k + 2]
        v = ys[-1] + v if adds and k else v
        ys.append(torch.relu(m.bns[k](m.convs[k](v))))
    return torch.cat([*ys, stem[:, 6:]], 1)


def test_a_ladder_is_a_loop_over_its_steps_with_their_index(spec_file):
    src, m = checked_model(LADDER, spec_file)
    assert LOOP in src and "self.convs[" not in src and "acts_0" not in src
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _unrolled(m, x, True), rtol=0, atol=0)
    step = "            sp = split(stem) if i == 0 else outs[-1] + split(stem)\n"
    head = "        for i, (split, conv, bn, act) in enumerate(\n"
    _refused(src, [(step, step.replace("i == 0", "i == 1")), (step, step.replace("i == 0", "stem == 0")),
                   (step, step.replace("outs[-1]", "outs[-2]")), (step, step.replace("outs[-1]", "outs[i]")),
                   (step, step.replace("outs[-1]", "self.convs[-1]")),
                   (head, head.replace("for i,", "for j,")), (head, head.replace("for i,", "for stem,")),
                   (head, head.replace("for i, (split,", "for i, (i,")),
                   ("            zip(self.splits, self.convs, self.bns, self.acts)\n",
                    "            zip(self.splits, self.convs, self.bns, self.acts), 1\n"),
                   ("            outs.append(sp)\n", "            outs.extend(sp)\n"),
                   ("            outs.append(sp)\n", "            outs.append(sp, 1)\n"),
                   ("            outs.append(sp)\n", "            print(sp)\n")])


def _refused(text: str, mutants: list[tuple[str, str]]) -> None:
    for old, new in mutants:
        assert old in text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(text.replace(old, new))


def test_a_ladder_without_adds_is_a_plain_loop(spec_file):
    """Res2Net's first block of a stage: every step reads its own subset alone."""
    src, m = checked_model(NO_ADDS, spec_file)
    loop = "        for split, conv, bn, act in zip(self.splits, self.convs, self.bns, self.acts):\n"
    assert f"        outs = []\n{loop}            sp = split(stem)\n" in src and " i " not in src
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(m(x), _unrolled(m, x, False), rtol=0, atol=0)


@pytest.mark.parametrize("old, new", [
    ('when: "${i > 0}"', 'when: "${i == 1}"'),                                  # one step adds, the next not
    ('in: ["acts[${i - 1}]", "splits[${i}]"]', 'in: ["splits[${i}]", "acts[${i - 1}]"]'),     # another add
    ("  - last: {op: slice, start: 6, in: stem}\n",                                  # a step's value read again
     "  - last: {op: slice, start: 6, in: stem}\n  - again: {op: relu, in: 'bns[1]'}\n"),
    ('  - {op: concat, in: ["acts[0]", "acts[1]", "acts[2]", last]}',               # an output read again
     '  - cat: {op: concat, in: ["acts[0]", "acts[1]", "acts[2]", last]}\n  - {op: concat, in: [cat, "acts[1]"]}'),
    ('["acts[0]", "acts[1]", "acts[2]", last]', '[last, "acts[0]", "acts[1]", "acts[2]"]'),   # not first in the list
], ids=["partial-adds", "other-add", "read-again", "output-read-again", "not-first"])
def test_a_ladder_unlike_that_stays_unrolled(spec_file, old, new):
    """Each guard of emit/ladder.py: without it these would be looped and compute other numbers
    (or read a value the loop no longer names)."""
    assert old in LADDER
    src, m = checked_model(LADDER.replace(old, new), spec_file)
    assert "outs" not in src and "self.convs[1](" in src


def test_res2net_ladder_as_timm_writes_it():
    """The shipped Res2Net: one Bottle2neck class, its ladder a loop over its lists (timm's convs /
    bns); the first block of a stage adds nothing (`self.first`, timm's is_first), the others the
    step before's output."""
    src = source("specs/res2net50_26w_4s.yaml")
    assert "self.convs[" not in src and "self.bns[" not in src and src.count("(nn.Module):") == 3    # Slice, block, top
    assert "            sp = split(subsets) if i == 0 or self.first else outs[-1] + split(subsets)\n" in src


JOINED = """archspec: 1
input: [8, 6, 6]
blocks:
  unit:
    params: {first: false}
    nodes:
      - stem: {op: conv, out: 8, k: 1}
      - repeat: 3
        node:
          - "splits[${i}]": {op: slice, start: "${i * 2}", stop: "${(i + 1) * 2}", in: stem}
          - "sum${i + 1}": {op: add, in: ["acts[${i - 1}]", "splits[${i}]"], when: "${i > 0 and not first}",
                            else: "splits[${i}]"}
          - "convs[${i}]": {op: conv, out: 2, k: 3, pad: 1, bias: false}
          - "bns[${i}]": batchnorm
          - "acts[${i}]": relu
      - last: {op: slice, start: 6, in: stem}
      - {op: concat, in: ["acts[0]", "acts[1]", "acts[2]", last]}
nodes:
  - a: {use: unit, first: true}
  - b: unit
"""


@pytest.mark.parametrize("adds_first", [False, True])
def test_a_ladder_whose_adds_some_instances_lack_adds_under_the_class_flag(spec_file, adds_first):
    """One class serves a block whose first instance adds nothing (or whose first adds, the
    structure the class is written from then the one with the adds): the loop reads each step's
    split alone where the block's flag says so (`i == 0 or self.first`), as timm's `is_first`."""
    order = "  - a: {use: unit, first: true}\n  - b: unit\n"
    text = JOINED.replace(order, "  - b: unit\n  - a: {use: unit, first: true}\n") if adds_first else JOINED
    src, m = checked_model(text, spec_file)
    assert src.count("class Unit") == 1 and "Unit(8, first=True)" in src and "if not self.first" not in src
    step = "            sp = split(stem) if i == 0 or self.first else outs[-1] + split(stem)\n"
    assert step in src
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        want = (_unrolled(m.a, _unrolled(m.b, x, True), False) if adds_first else
                _unrolled(m.b, _unrolled(m.a, x, False), True))
        torch.testing.assert_close(m(x), want, rtol=0, atol=0)
    _refused(src, [(step, step.replace("i == 0 or", "i == 0 and")), (step, step.replace("or self.first", "or first")),
                   (step, step.replace("self.first", "self._first")), (step, step.replace("i == 0 or", "i == 1 or")),
                   (step, step.replace("self.first", "self.first.x")), (step, step.replace("self.first", "x.first")),
                   (step, step.replace("or self.first", "or self.first or self.first"))])
    assert step.replace("self.first", "not self.first") != step
    check_generated_source(src.replace(step, step.replace("self.first", "not self.first")))   # the flag negated


def test_a_ladder_child_some_instances_lack_is_no_ladder():
    """A ladder's member or reader that some instances of its class lack runs under its own
    test: the ladder is left unrolled (`optional`), so that the test stays."""
    from archspec.pytorch.emit.ladder import ladders
    from archspec.pytorch.emit.loops import lists
    from archspec.pytorch.emit.scopes import ScopeTree
    tree = ScopeTree(archspec.analyze(archspec.load(_written(LADDER))))
    sn = tree.root
    assert ladders(tree, sn.children, lists(sn), sn.exports, set())[1]
    assert not ladders(tree, sn.children, lists(sn), sn.exports, {"convs.1"})[1]


def _written(text: str) -> str:
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    return f.name
