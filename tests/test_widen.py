"""The top class's stage depths where the spec's stages are one block each (emit/widen.py): the
file planned from the spec built with more blocks, written with the spec's own depths; refused
where the wider build is not the spec's own with blocks added."""
from __future__ import annotations

import torch

import archspec
from archspec.pytorch.compiler import source

STAGES = """archspec: 1
name: toy
input: [4, 8, 8]
params: {layers: [1, 1]}
blocks:
  unit:
    params: {out: int, stride: 1, k: 3}
    nodes:
      - conv: {op: conv, out: "${out}", k: "${k}", stride: "${stride}", pad: "${k // 2}"}
      - short: {in: input, use: down, out: "${out}", stride: "${stride}"}
      - {op: add, in: [conv, short]}
  down:
    params: {out: int, stride: 1}
    when: ${stride != 1 or input.channels != out}
    seq:
      - {op: avgpool, k: 2, stride: "${stride}", when: "${stride > 1}"}
      - {op: identity, when: "${stride == 1}"}
      - {op: conv, out: "${out}", k: 1}
  stage:
    params: {out: int, depth: int, stride: 1}
    nodes:
      - repeat: ${depth}
        node: {use: unit, out: "${out}", stride: "${stride if i == 0 else 1}"%s}
nodes:
  - layer1: {use: stage, out: 8, depth: "${layers[0]}"}
  - layer2: {use: stage, out: 16, depth: "${layers[1]}", stride: 2}
"""


def _built(text: str, **kwargs) -> torch.nn.Module:
    namespace: dict = {}
    exec(compile(text, "toy.py", "exec"), namespace)
    return namespace["Model"](**kwargs)


def _same(model: torch.nn.Module, path: str, *sets: str) -> bool:
    graph = archspec.analyze(archspec.load(path, list(sets)))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()} == graph.state_dict_shapes()


def test_stages_of_one_block_take_their_depths_as_make_layer_writes_them(spec_file):
    """Each stage's one block builds its shortcut (4 -> 8, 8 -> 16 at stride 2), so the plan of the
    spec alone builds it in the class; planned from the spec at deeper stages, the callers pass it
    to the first block and the others are plain, `range(layers[0] - 1)`, at the spec's depths
    (1, 1). The class at other depths is the spec built with them; the docstring names the spec's
    instances only."""
    path = spec_file(STAGES % "")
    text = source(path)
    assert "    def __init__(self, layers=(1, 1)):\n" in text
    assert "    def __init__(self, in_channels, out, stride=1, k=3, short=None):\n" in text
    assert "            *[Unit(8, 8) for _ in range(layers[0] - 1)],\n" in text
    assert "            *[Unit(16, 16) for _ in range(layers[1] - 1)],\n" in text
    assert "Block 'unit': layer1.0, layer2.0 (2 instances)." in text
    assert _same(_built(text), path)
    assert _same(_built(text, layers=(3, 2)), path, "layers=[3, 2]")
    torch.manual_seed(0)
    ours = _built(text).eval()
    spec = archspec.compile(path).eval()
    spec.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), spec(x))


def test_a_wider_build_whose_first_blocks_differ_is_not_the_plan(spec_file):
    """The stages' blocks 1x1 where a stage is one block, 3x3 where it is more: the wider build's
    first blocks are not the spec's, and its plan would build 3x3 convs at the spec's depths. The
    top class takes no depths; its file builds the spec's."""
    path = spec_file(STAGES % ', k: "${1 if depth == 1 else 3}"')
    text = source(path)
    assert "    def __init__(self):\n" in text and "Unit(4, 8, k=1)," in text
    assert _same(_built(text), path)
