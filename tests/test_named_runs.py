"""A run of children named prefix<k>, prefix<k + 1>, ... that one call builds, as a spec's repeat
names them (Xception's middle flow, block4 .. block11), is registered by one loop in __init__
under the same names, in the same order: the state_dict is the unrolled one's."""
from __future__ import annotations

import torch

from archspec.pytorch.compiler import check, load_source, source

SPEC = ("archspec: 1\ninput: [4, 8, 8]\nblocks:\n  unit:\n    params: {out: int}\n    nodes:\n"
        "      - conv: {op: conv, out: '${out}', k: 3, pad: 1}\n      - relu\n"
        "nodes:\n  - stem: {op: conv, out: 8, k: 1}\n"
        "  - repeat: N\n    name: block${i + 2}\n    node: {use: unit, out: 8}\n"
        "  - head: {op: conv, out: 4, k: 1}\n")


def _text(tmp_path, n: int) -> tuple[str, object]:
    path = tmp_path / "g.yaml"
    path.write_text(SPEC.replace("N", str(n)))
    return source(path), path


def test_a_named_run_of_one_call_is_one_loop(tmp_path):
    text, path = _text(tmp_path, 4)
    assert '        for i in range(4):\n            self.add_module(f"block{i + 2}", Unit(8))\n' in text
    assert "x = self.block2(x)" in text and "x = self.block5(x)" in text     # forward as before
    assert check(path).ok
    model = load_source(text).Model()
    names = [n for n, _ in model.named_children()]
    assert names == ["stem", "block2", "block3", "block4", "block5", "head"]
    assert all(isinstance(getattr(model, f"block{k}").conv, torch.nn.Conv2d) for k in range(2, 6))


def test_a_short_run_or_one_of_other_calls_is_written_out(tmp_path):
    text, _ = _text(tmp_path, 2)
    assert "add_module" not in text and "self.block3 = Unit(8)" in text
    path = tmp_path / "h.yaml"
    path.write_text(SPEC.replace("N", "3").replace("out: 8}\n  - head", "out: '${8 + i}'}\n  - head"))
    text = source(path)
    assert "add_module" not in text and "self.block4 = Unit(9, 10)" in text
