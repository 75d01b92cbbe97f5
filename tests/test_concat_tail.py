"""Instances of one block whose concatenation takes more inputs in some (DLA's tree, whose root
also takes the stage's downsampled input where it is the level root) share one class: it
concatenates the extra inputs where a flag says, as timm's DlaTree does (`if self.level_root:
children.append(bottom)`), and the width that reads them is the expression of both cases."""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F

from archspec.pytorch.compiler import check, load_source, source

BLOCK = ("archspec: 1\ninput: [4, 8, 8]\nblocks:\n  join:\n    params: {out: int, extra: false, k: 1}\n"
         "    nodes:\n      - a: {op: conv, out: '${out}', k: 1}\n"
         "      - b: {op: conv, out: '${out}', k: 3, pad: 1, in: a}\n"
         "      - {op: OP, in: \"${['b', 'a', 'input'] if TEST else ['b', 'a']}\"}\n"
         "      - mix: {op: conv, out: '${out}', k: 1}\n"
         "nodes:\n  - p: {use: join, out: 4}\n  - q: {use: join, out: 6, extra: true, k: 2}\n"
         "  - r: {use: join, out: 6}\n")


def _spec(tmp_path, op: str = "concat", test: str = "extra"):
    path = tmp_path / "g.yaml"
    text = BLOCK.replace("OP", op).replace("TEST", test)
    path.write_text(text if test == "extra" else text.replace("extra: true, ", ""))
    return path


def _classes(text: str) -> list[str]:
    return re.findall(r"^class (\w+)\(", text, re.M)


def test_a_concatenation_with_more_inputs_in_some_instances_is_one_class(tmp_path):
    path = _spec(tmp_path)
    text = source(path)
    assert _classes(text) == ["Join", "G"]
    assert "def __init__(self, in_channels, out, extra=False):" in text
    assert "self.mix = nn.Conv2d(2 * out + in_channels if extra else 2 * out, out, 1)" in text
    assert "branches = [b, a]\n        if self.extra:\n            branches.append(x)\n" in text
    assert "self.q = Join(4, 6, extra=True)" in text and "self.r = Join(6, 6)" in text
    assert check(path).ok
    model = load_source(text).Model().eval()
    x = torch.randn(2, 4, 8, 8)

    def join(m, x, extra):          # the block by hand: the oracle
        a = F.conv2d(x, m.a.weight, m.a.bias)
        b = F.conv2d(a, m.b.weight, m.b.bias, padding=1)
        return F.conv2d(torch.cat([b, a, x] if extra else [b, a], 1), m.mix.weight, m.mix.bias)
    with torch.no_grad():
        want = join(model.r, join(model.q, join(model.p, x, False), True), False)
        assert torch.equal(model(x), want)


def test_the_flag_is_named_after_the_concatenation_where_no_parameter_says(tmp_path):
    path = _spec(tmp_path, test="k > 1")
    text = source(path)
    assert _classes(text) == ["Join", "G"]
    assert re.search(r"if self\.with_\w+:", text)
    assert check(path).ok


def test_an_add_with_more_inputs_is_two_classes(tmp_path):
    """Only a concatenation takes its inputs as a list that may grow: an add some give more
    terms stays a class of its own."""
    path = tmp_path / "g.yaml"
    path.write_text(BLOCK.replace("OP", "add").replace("TEST", "extra").replace("out: 6", "out: 4"))
    text = source(path)
    assert len(_classes(text)) == 3
    assert check(path).ok
