"""Numbers in forward's calls that differ between the instances of one block (a reshape's sizes)
are constructor parameters kept on self, so the instances share one class (timm's SplitAttn
keeps its radix so), under another attribute name where a child has the parameter's name."""
from __future__ import annotations

import re

import torch
from paths import SPECS

from archspec.pytorch.compiler import check, load_source, source

SPEC = ("archspec: 1\ninput: [4, 1, 1]\nblocks:\n  halves:\n    params: {out: int}\n    nodes:\n"
        "      - out: {op: conv, out: '${2 * out}', k: 1}\n"
        "      - {op: reshape, shape: [2, '${out}', 1, 1]}\n"
        "      - {op: reshape, shape: ['${2 * out}', 1, 1]}\n"
        "nodes:\n  - a: {use: halves, out: 4}\n  - b: {use: halves, out: 8}\n")


def test_stages_differing_in_forward_numbers_share_a_class(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(SPEC)
    text = source(path)
    assert re.findall(r"^class (\w+)\(", text, re.M) == ["Halves", "G"]
    assert "self.out_1 = out" in text                # the child `out` keeps its name
    assert "unflatten(1, (2, self.out_1, 1, 1))" in text
    assert "self.a = Halves(4)" in text and "self.b = Halves(8)" in text
    assert check(path).ok
    m = load_source(text).Model()
    assert m(torch.randn(2, 4, 1, 1)).shape == (2, 16, 1, 1)


F_IMPORT = "import torch.nn.functional as F"


def test_f_is_imported_where_a_forward_call_or_a_helper_class_uses_it(tmp_path, monkeypatch):
    """The import follows what the file calls (the forward Calls' functions, the op helpers'
    syntax trees), not a search of the file's text."""
    from archspec.ops import REGISTRY, Call, Op, register

    class Softsign(Op):
        name = "test_softsign_f"

        def call(self, a, args, inplace=False):
            return Call("F.softsign")
    monkeypatch.setitem(REGISTRY, Softsign.name, None)      # undone after the test: the op is its alone
    register(Softsign)
    path = tmp_path / "g.yaml"
    path.write_text("archspec: 1\ninput: [4, 8, 8]\nnodes:\n  - {op: conv, out: 4, k: 1}\n  - {op: test_softsign_f}\n")
    text = source(path)
    assert F_IMPORT in text and "x = F.softsign(x)" in text
    path.write_text("archspec: 1\ninput: [4, 8, 8]\nnodes:\n  - {op: conv, out: 4, k: 1}\n  - {op: relu}\n")
    assert F_IMPORT not in source(path)
    assert F_IMPORT in source(SPECS / "lenet5.yaml")            # F.avg_pool2d in its helper class only
    text = source(SPECS / "convnext_tiny.yaml")
    assert F_IMPORT in text and "F.layer_norm" in text


def test_a_let_value_is_computed_from_the_block_s_parameters(tmp_path):
    """A block's `let:` values are kept in the IR (plain values only, and their expressions): the
    class computes one (`w = out * out + 1`) where the spec's numbers read it, instead of taking
    it as a parameter (Res2Net's `width`) or a node's name (`conv_out_channels`); numbers
    derived from it follow (`2 * w`)."""
    import archspec

    path = tmp_path / "g.yaml"
    path.write_text("archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {out: int}\n"
                    "    let: {w: '${out * out + 1}'}\n    nodes:\n"
                    "      - conv: {op: conv, out: '${w}', k: 1}\n      - wide: {op: conv, out: '${2 * w}', k: 1}\n"
                    "      - last: {op: conv, out: '${out}', k: 1}\n"
                    "nodes:\n  - a: {use: unit, out: 4}\n  - b: {use: unit, out: 8}\n")
    assert archspec.analyze(str(path)).scopes["b"].lets == {"w": 65}
    text = source(path)
    assert "def __init__(self, out):\n        super().__init__()\n        w = out * out + 1\n" in text
    assert "self.wide = nn.Conv2d(w, 2 * w, 1)" in text
    assert "self.b = Unit(8)" in text and "conv_out_channels" not in text
    assert check(path).ok


def test_a_fraction_with_a_floor_is_derived():
    """SKNet's attention width, make_divisible(planes / 16, 8) over its stages, is written
    `max(8, planes // 16)`; not where an instance at the floor would fall below or above it."""
    from archspec.pytorch.emit.ctorparams import _floored

    assert _floored((8, 8, 16, 32), {"planes": (64, 128, 256, 512)}) == "max(8, planes // 16)"
    assert _floored((8, 8, 16, 32), {"planes": (64, 256, 256, 512)}) is None      # 256 // 16 is not 8
    assert _floored((8, 16, 48), {"planes": (64, 256, 512)}) is None               # no one fraction above it
