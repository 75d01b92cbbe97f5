"""emit/depthloop.py's flat form: a run of named blocks <a><stage>_<block>, whose depths a spec
list gives, built as timm's DPN builds its stages, an OrderedDict filled by a loop over the
depths zipped with the lists per stage, the width carried on in `in_channels`; kept only where
expanding it gives exactly the members (names, calls) and the width the member after reads."""
from __future__ import annotations

import pytest
from paths import SPECS, shipped_source
from source_check import check_generated_source

import archspec
from archspec.pytorch.compiler import load_source, source
from archspec.pytorch.emit import depthloop

SPEC = """archspec: 1
input: [4, 8, 8]
params:
  depths: [2, 3]
  incs: [4, 8]
blocks:
  unit:
    params: {inc: int}
    nodes:
      - conv: {op: conv, out: '${inc}', k: 3, pad: 1}
      - {op: concat, in: [input, conv]}
nodes:
  - features:
      - stem: {op: conv, out: 8, k: 1}
      - repeat: 2
        node:
          repeat: ${depths[i]}
          index: j
          name: stage${i + 1}_${j + 1}
          node: {use: unit, inc: '${incs[i]}'}
  - head: {op: conv, out: 4, k: 1}
"""
LOOP = ("        in_channels = 8\n"
        "        for i, (depth, inc) in enumerate(zip(depths, incs)):\n"
        "            for j in range(depth):\n"
        '                layers[f"stage{i + 1}_{j + 1}"] = Unit(in_channels, inc)\n'
        "                in_channels = in_channels + inc\n")


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _path(tmp_path, text: str):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    return path


def test_dense_stages_are_one_loop_that_builds_the_spec_at_other_depths(tmp_path):
    path = _path(tmp_path, SPEC)
    text = source(path)
    assert "    def __init__(self, depths=(2, 3), incs=(4, 8)):\n" in text and LOOP in text
    assert "        self.features = nn.Sequential(layers)\n        self.head = nn.Conv2d(in_channels, 4, 1)\n" in text
    check_generated_source(text)
    cls = load_source(text).Model
    for chosen in ({}, {"depths": [1, 4]}, {"incs": [3, 16]}, {"depths": [3, 1], "incs": [2, 5]}):
        ours = cls(**chosen)
        assert _shapes(ours) == _shapes(archspec.compile(path, **chosen)), chosen
        assert [n for n, _ in ours.features.named_children()][-1] == f"stage2_{chosen.get('depths', [2, 3])[1]}"


def test_another_list_equal_to_the_increments_read_by_its_item_keeps_the_loop(tmp_path):
    """A list equal to the increments that the head reads by its item (`widths[0]`, written as
    that item) says which list each number reads: the loop stays, and the class at other values
    of both is the spec built with them."""
    text = SPEC.replace("incs: [4, 8]", "incs: [4, 8]\n  widths: [4, 8]").replace(
        "head: {op: conv, out: 4,", "head: {op: conv, out: '${widths[0]}',")
    path = _path(tmp_path, text)
    out = source(path)
    assert LOOP in out and "self.head = nn.Conv2d(in_channels, widths[0], 1)\n" in out
    cls = load_source(out).Model
    for chosen in ({"widths": [5, 8]}, {"incs": [3, 8]}, {"widths": [2, 3], "incs": [5, 1]}):
        assert _shapes(cls(**chosen)) == _shapes(archspec.compile(path, **chosen)), chosen


@pytest.mark.parametrize("edits", [
    [("  depths: [2, 3]\n", ""), ("${depths[i]}", "${[2, 3][i]}")],          # the depths no spec list
    [("{op: concat, in: [input, conv]}", "{op: concat, in: [input, input, conv]}")],    # 2 in + inc: no carry
    [("incs: [4, 8]", "incs: [2, 3]")],         # incs equal to the depths: which list a number reads is unsaid
], ids=["depths", "carry", "equal"])
def test_no_loop_where_the_depths_or_the_width_carried_on_are_not_given(tmp_path, edits):
    text = SPEC
    for old, new in edits:
        text = text.replace(old, new)
    out = source(_path(tmp_path, text))
    assert "OrderedDict()" not in out and '("stage1_2", Unit(' in out


def test_a_loop_that_does_not_expand_to_the_members_is_refused(tmp_path, monkeypatch):
    """The width carried on guessed wrong (always `in_channels + inc`, where the block doubles its
    input): the loop does not build the members, and they are written out."""
    text = SPEC.replace("{op: concat, in: [input, conv]}", "{op: concat, in: [input, input, conv]}")
    monkeypatch.setattr(depthloop, "_carry", lambda group, width, columns: f"{width} + {next(iter(columns))}")
    out = source(_path(tmp_path, text))
    assert "OrderedDict()" not in out and '("stage1_2", Unit(' in out
    monkeypatch.setattr(depthloop, "named_expand", lambda loop, width, env: ([], width))
    assert "OrderedDict()" not in source(_path(tmp_path, SPEC))       # the right guess, a wrong expansion


def test_the_dpn_loop_is_timm_s():
    """DPN-68's stages (the spec's words and a stage's local): a word by place, `r` per stage, the
    classifier reading the width carried on (test_top_widths builds it at other depths and incs)."""
    text = shipped_source(SPECS / "dpn68.yaml")
    assert "            r = k_r * bw // 64\n" in text
    assert '                kind = "normal" if j > 0 else "proj" if i == 0 else "down"\n' in text
    assert "        self.classifier = nn.Conv2d(in_channels, num_classes, 1)\n" in text
