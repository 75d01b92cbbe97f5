"""A union of alternatives (emit/alternatives.py) with children an int parameter says where they
are (emit/guard.py's `count_test`: a branch of width 0 is no branch), as BN-Inception's stride-2
modules lack the 1x1 branch and the pool projection: one class, each built under `n > 0`, the
projection's input standing for it where absent, the 1x1 branch, the concatenation's first input,
left out of it where absent (`ClassPlan.heads`: a list it begins, appended to where it is there)."""
import re

import pytest
from source_check import check_generated_source

from archspec.pytorch.compiler import check, source

# `one` a concatenation's first input that nothing stands for, `proj` a projection of whichever
# pool is there that its input stands for; NODES and CONCAT as a case needs
TOY = """archspec: 1
name: toy
input: [4, 8, 8]
blocks:
  mix:
    params: {a: int, pool: str, proj: int, stride: 1}
    nodes:
NODES
      - CONCAT
nodes:
  - m1: {use: mix, args: [4, avg, 4]}
  - m2: {use: mix, args: [0, max, 0, 2]}
  - m3: {use: mix, args: [6, max, 4]}
  - pool: global_avgpool
  - flatten
  - fc: {op: linear, out: 10}
"""
ONE = """      - one: {op: conv, out: "${a}", k: 1, when: "${a > 0}"}"""
THREE = """      - three: {in: input, op: conv, out: 4, k: 3, stride: "${stride}", pad: 1}"""
POOLS = """      - avgpool: {in: input, op: avgpool, k: 3, stride: 1, pad: 1, when: "${pool == 'avg'}"}
      - maxpool: {in: input, op: maxpool, k: 3, stride: "${stride}", pad: 1, when: "${pool == 'max'}"}"""
PROJ = """      - project: {in: "${pool}pool", op: conv, out: "${proj}", k: 1, when: "${proj > 0}"}"""
CONCAT = """{op: concat, in: "${(['one'] if a > 0 else []) + ['three', 'project']}"}"""


def _toy(nodes: list[str], concat: str = CONCAT) -> str:
    return TOY.replace("NODES", "\n".join(nodes)).replace("CONCAT", concat)


def _classes(text: str) -> list[str]:
    return re.findall(r"^class (\w+)\(nn.Module\):", text, re.M)


def test_branches_a_width_of_0_leaves_out_join_the_alternatives_class(spec_file):
    path = spec_file(_toy([ONE, THREE, POOLS, PROJ]))
    text = source(path)
    assert _classes(text) == ["Mix", "Toy"]
    assert "self.one = nn.Conv2d(in_channels, a, 1) if a > 0 else None" in text
    assert "self.project = nn.Conv2d(in_channels, proj, 1) if proj > 0 else None" in text     # its own width's
    assert ("        branches = []\n        if self.one is not None:\n            branches.append(self.one(x))\n"
            in text)
    assert "branches.extend([three, project])\n        out = torch.cat(branches, 1)" in text
    assert "self.m2 = Mix(12, 0, \"max\", 0, stride=2)" in text
    check_generated_source(text)
    assert check(path).ok          # the state_dict and the outputs the graph's


@pytest.mark.parametrize("nodes, concat", [
    # `one` read by another child too: where it is absent, its input stands for it there
    ([ONE, THREE.replace("in: input", "in: one"), POOLS, PROJ], CONCAT),
    # a pool, in the middle of the run, read beside the projection after it
    ([ONE, THREE, POOLS, PROJ],
     """{op: concat, in: "${(['one'] if a > 0 else []) + ['three', 'project', pool + 'pool']}"}"""),
    # the projection of the average pool's input, not of the pool (which nothing reads there): no chain
    ([ONE, THREE, POOLS, PROJ.replace("${pool}pool", "${'input' if pool == 'avg' else 'maxpool'}")],
     CONCAT),
    # the 1x1 branch there but not concatenated where the pool is the max
    ([ONE, THREE, POOLS, PROJ], """{op: concat, in: "${(['one'] if pool == 'avg' else []) + ['three', 'project']}"}"""),
    # two first inputs concatenated in another order than they run
    ([ONE, THREE, ONE.replace("one", "two"), THREE.replace("three", "five"), POOLS, PROJ],
     """{op: concat, in: "${(['two', 'one'] if a > 0 else []) + ['three', 'five', 'project']}"}"""),
])
def test_branches_that_are_no_such_union_keep_their_classes(spec_file, nodes, concat):
    """What the union cannot be (emit/alternatives.py's `_into`, `_heads`): the instances keep
    classes of their own, each one the graph's."""
    path = spec_file(_toy(nodes, concat))
    text = source(path)
    assert len([c for c in _classes(text) if c.startswith("Mix")]) > 1
    check_generated_source(text)
    assert check(path).ok


def test_a_width_of_0_says_where_a_branch_is_before_a_text_that_differs_with_it(spec_file):
    """With m1 and m2 alone, `pool == "avg"` is where the 1x1 branch is as well as `a > 0`: the
    branch's own width says it (`guard.presence_test`), not a text that differs with it by chance;
    and `a > 0` is where the average pool is, but `a` is no width of the pool's (`count_test`)."""
    path = spec_file(_toy([ONE, THREE, POOLS, PROJ]).replace("  - m3: {use: mix, args: [6, max, 4]}\n", ""))
    text = source(path)
    assert re.search(r"self\.one = nn\.Conv2d\(\w+, a, 1\) if a > 0 else None\n", text)
    assert 'self.avgpool = nn.AvgPool2d(3, stride=1, padding=1) if pool == "avg" else None' in text
    assert check(path).ok
