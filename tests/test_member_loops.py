"""forward loops over an nn.ModuleList where its lines for the members are alike but for the member
(emit/loops.py): a comprehension of the members' calls inside the call reading them all (SKNet's
stacked paths), a for loop over stretches repeated once per member. The state_dict is the
graph's, the numbers those of the members run one by one (an oracle written here from the
modules), the source in the whitelist, whose mutants are refused."""
from __future__ import annotations

import pytest
import torch
from checked_model import checked_model
from paths import SPECS
from source_check import check_generated_source

from archspec.pytorch.compiler import load_source, source

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
    src, m = checked_model(STACKED, spec_file)
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
    src, m = checked_model(CHAIN, spec_file)
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
    ("paths[2]: {op: conv, out: 6, k: 1, in: stem}", "paths[2]: {op: conv, out: 6, k: 1, in: input}"),
    ("paths[2]: {op: conv, out: 6, k: 1, in: stem}", "paths[2]: {op: conv, out: 6, k: 1, in: 'paths[1]'}"),
    ("  - branches:", "  - mid: {op: relu, in: stem}\n  - branches:"),      # a step between them and the stack
    ("  - {op: sum, axis: 0}\n", "  - total: {op: sum, axis: 0}\n  - aux: {op: relu, in: 'paths[0]'}\n"
                                 "outputs: {out: total, aux: aux}\n"),     # a member's output read again
    ("  - {op: sum, axis: 0}\n", "  - total: {op: sum, axis: 0}\noutputs: {out: total, first: 'paths[0]'}\n"),
    ("  - paths[1]: {op: conv, out: 6, k: 3, pad: 2, dilation: 2, in: stem}\n  - paths[2]: {op: conv, out: 6, k: 1, "
     "in: stem}\n  - branches: {op: stack, in: ['paths[0]', 'paths[1]', 'paths[2]']}\n  - {op: sum, axis: 0}\n",
     "  - paths[1]: {op: contiguous, in: stem}\n  - branches: {op: stack, in: ['paths[0]', 'paths[1]']}\n"
     "  - total: {op: sum, axis: 0}\n  - paths[2]: {op: conv, out: 6, k: 1, in: stem}\n"
     "  - {op: add, in: [total, 'paths[2]']}\n"),                     # paths[1] no module: None in the list
], ids=["order", "another-operand", "another-input", "a-member-input", "a-step-between", "read-again", "an-output",
        "functional"])
def test_members_not_read_alike_stay_unrolled(spec_file, change):
    text = STACKED.replace(*change)
    assert text != STACKED
    src, _ = checked_model(text, spec_file)
    assert "for " not in _forward(src) and "self.paths[0](" in src


def test_a_chain_with_a_step_unlike_the_others_stays_unrolled(spec_file):
    """A member dropped (`when:`) leaves None in its list, which a loop would call; a step with a
    module of its own is not alike."""
    gap = CHAIN.replace('"bns[${i}]": batchnorm', '"bns[${i}]": {op: batchnorm, when: "${i != 1}"}')
    src, _ = checked_model(gap, spec_file)
    assert "for " not in _forward(src) and "self.convs[2](" in src and "None" in src
    own = CHAIN.replace("      - relu\n", '      - relu\n      - "extra${i}": {op: relu, when: "${i == 1}"}\n')
    src, _ = checked_model(own, spec_file)
    assert "for " not in _forward(src) and "self.convs[2](" in src and "self.extra1" in src


def test_a_step_run_otherwise_in_place_stays_unrolled(spec_file):
    """The first step's ReLU may not overwrite `side`, which the add reads later; the others' run
    in place: two modules, so the steps are not alike."""
    text = CHAIN.replace("      - relu\n", "").replace("    node:\n", "    node:\n      - relu\n")
    text = text.replace("  - mid: {op: conv, out: 6, k: 1}\n", "").replace("[mid, side]", '["bns[2]", side]')
    src, _ = checked_model(text, spec_file)
    assert "self.relu = nn.ReLU()" in src and "self.relu_1 = nn.ReLU(inplace=True)" in src
    assert "for " not in _forward(src) and "self.convs[2](" in src


def test_a_reader_some_instances_lack_gathers_nothing(spec_file, monkeypatch):
    """Where the call reading the members is absent (a flag), a member's output stands for it:
    the members keep their values."""
    from archspec.ops import REGISTRY, Call, Op, register

    class Join(Op):                     # a list-reading call without numbers, which a flag may leave out
        name = "test_join_members"
        arity = None

        def shape(self, a, xs):
            return xs[0]

        def call(self, a, args, inplace=False):
            return Call("torch.cat", (("tensors", list(args)),))
    monkeypatch.setitem(REGISTRY, Join.name, None)
    register(Join)
    path = spec_file("""archspec: 1
input: [4, 8, 8]
blocks:
  sel:
    params: {joined: true}
    nodes:
      - paths[0]: {op: conv, out: 4, k: 1, in: input}
      - paths[1]: {op: conv, out: 4, k: 3, pad: 1, in: input}
      - both: {op: test_join_members, in: ['paths[0]', 'paths[1]'], when: "${joined}", else: 'paths[0]'}
      - head: {op: conv, out: 4, k: 1}
nodes:
  - a: {use: sel}
  - b: {use: sel, joined: false}
""")
    src = source(path)
    assert src.count("\nclass Sel") == 1
    assert "        if self.joined:\n            out = torch.cat([paths_0, x])\n" in src
    m = load_source(src).Model().eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        a = m.a.head(torch.cat([m.a.paths[0](x), m.a.paths[1](x)]))
        torch.testing.assert_close(m(x), m.b.head(m.b.paths[0](a)), rtol=0, atol=0)


def test_a_call_reading_the_members_but_not_as_one_list_gathers_nothing(spec_file, monkeypatch):
    from archspec.ops import REGISTRY, Call, Op, register

    class Larger(Op):                   # torch.maximum(a, b): the members' outputs as two arguments
        name = "test_larger_of"
        arity = None

        def shape(self, a, xs):
            return xs[0]

        def call(self, a, args, inplace=False):
            return Call("torch.maximum")
    monkeypatch.setitem(REGISTRY, Larger.name, None)
    register(Larger)
    text = STACKED.replace("  - paths[2]: {op: conv, out: 6, k: 1, in: stem}\n", "").replace(
        "branches: {op: stack, in: ['paths[0]', 'paths[1]', 'paths[2]']}",
        "{op: test_larger_of, in: ['paths[0]', 'paths[1]']}")
    src, m = checked_model(text.replace("  - {op: sum, axis: 0}\n", ""), spec_file)
    assert "out = torch.maximum(paths_0, paths_1)" in src and "for " not in _forward(src)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        stem = m.stem(x)
        torch.testing.assert_close(m(x), torch.maximum(m.paths[0](stem), m.paths[1](stem)), rtol=0, atol=0)


@pytest.mark.parametrize("first, body", [
    (["out = conv(stem)", "out = bn(out)"], ["out = conv(out)", "out = bn(out)"]),
    (["out = conv(stem)", "out = bn(out)"], ["out = bn(out)", "out = bn(out)"]),        # not the same call
    (["out = conv(stem)", "out = bn(out)"], ["out = conv(side)", "out = bn(out)"]),     # not reading the chain
    (["out = conv(None)", "out = bn(out)"], ["out = conv(out)", "out = bn(out)"]),      # no variable
    (["y = conv(stem)", "out = bn(out)"], ["out = conv(out)", "out = bn(out)"]),         # another target
    (["out = conv(stem, stem)"], ["out = conv(out, w)"]),                               # more than the start
])
def test_the_first_stretch_joins_only_where_it_reads_another_start(first, body):
    from archspec.pytorch.emit.loops import _entry
    assert _entry(first, body) == (["out = stem"] if body[0] == "out = conv(out)" and first[0] == "out = conv(stem)"
                                   else None)


@pytest.mark.parametrize("lines, looped", [
    (["x = self.convs[0](x)", "x = self.convs[1](x)"], ["for conv in self.convs:", "    x = conv(x)"]),
    (["x = self.convs[0](x)", "x = self.convs[2](x)"], None),                       # member 1 not called: a gap
    (["if self.training:", "    x = self.convs[0](x)", "if self.training:", "    x = self.convs[1](x)"], None),
    (["x = self.convs[0](x)", "y = self.convs[1](x)"], None),
    (["x = self.convs[0](x)", "y = self.convs[1](x)", "x = self.convs[2](x)"], None),   # the middle one unlike
    (["if self.training:", "    x = self.convs[0](x)", "    x = self.convs[1](x)"], None),    # inside an if
    (["x = self.convs[0](x)", "x = self.bns[0](x)", "x = self.convs[1](x)", "x = self.bns[1](x)",
      "x = self.bns[2](x)"], None),                                              # zipped with a longer list
    (["x = self.convs[0](x)", "x = self.bns[1](x)", "x = self.convs[1](x)", "x = self.bns[0](x)"], None),
])
def test_stretches_loop_only_when_alike_plain_and_every_member_called(lines, looped):
    from archspec.pytorch.emit.loops import member_loops
    n = sum("self.convs[" in line for line in lines)
    full = {"convs": n, "bns": sum("self.bns[" in line for line in lines) or n}
    assert member_loops(lines, full) == (looped or lines)


def test_the_loop_variable_is_a_fresh_name(spec_file):
    """A list whose name has no singular, or whose singular a value of forward holds, names its
    member otherwise."""
    src, m = checked_model(CHAIN.replace("side", "conv"), spec_file)
    assert "        for module, bn in zip(self.convs, self.bns):\n            out = module(out)\n" in src
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        stem = m.stem(x)
        out = conv = m.conv(stem)
        for k in range(3):
            out = torch.relu(m.bns[k](m.convs[k](out)))
        torch.testing.assert_close(m(x), m.mid(out) + conv, rtol=0, atol=0)
    text = STACKED.replace("paths", "trunk").replace("  - stem:", "  - path:").replace("in: stem", "in: path")
    src, _ = checked_model(text, spec_file)
    assert "torch.stack([module(path) for module in self.trunk], 1)" in src
    src, _ = checked_model(STACKED.replace("paths", "transition1"), spec_file)      # a numbered list: its stem
    assert "torch.stack([transition(stem) for transition in self.transition1], 1)" in src
    src, _ = checked_model(STACKED.replace("  - stem:", "  - path:").replace("in: stem", "in: path"), spec_file)
    assert "torch.stack([module(path) for module in self.paths], 1)" in src


def test_skresnet_selective_kernel_stacks_its_paths_in_one_comprehension():
    text = source(SPECS / "skresnet50.yaml")
    assert "branches = torch.stack([path(x) for path in self.paths], 1)" in text
    assert "self.paths[" not in text
