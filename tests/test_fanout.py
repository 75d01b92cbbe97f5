"""A block tree that fans out is refused before it is built (archspec/frontend/fanout.py): the fewest nodes
a list makes are counted from the spec's text, as a repeat's steps are counted before they run."""
import pytest
from cost import calls

from archspec import SpecErrors, analyze, load
from archspec.frontend.fanout import Fewest
from archspec.limits import MAX_NODES


def tree(levels: int, fan: str = "[{use: b%d}, {use: b%d}]") -> str:
    """A network whose block b0 uses b1 twice, b1 uses b2 twice, ...: 2^levels relu nodes."""
    lines = ["archspec: 1", "name: fan", "input: [1, 4, 4]", "blocks:"]
    for k in range(levels):
        lines += [f"  b{k}:", "    nodes: " + fan.replace("%d", str(k + 1))]
    lines += [f"  b{levels}:", "    nodes: [relu]", "nodes:", "  - top: b0"]
    return "\n".join(lines) + "\n"


def refused(path: str) -> SpecErrors:
    with pytest.raises(SpecErrors) as e:
        analyze(load(path))
    return e.value


# Refused at once, counted in function calls (tests/cost.py): about 48,500 for the tree of 2^40 and
# 29,300 for the list below; a 1,024-node tree that fits takes 446,000 to build; built before it was
# counted, each ran to MAX_NODES: 104,800,000 and 104,700,000 calls (14.6 s and 10 s unprofiled).
REFUSED_AT_ONCE = 100_000


def test_a_tree_of_2_to_the_40_is_refused_at_once_where_it_is_used(spec_file):
    path = spec_file(tree(40))
    e, n = calls(refused, path)
    assert n < REFUSED_AT_ONCE, f"refused after {n:,} calls: the tree was built before it was counted"
    line = tree(40).splitlines().index("  - top: b0") + 1
    assert str(e).splitlines()[0] == (f"{path}:{line}:5: error: 'top' would make at least "
                                      f"{2**40:,} nodes, over archspec's limit of {MAX_NODES:,}")
    assert "uses another several times" in str(e)


def test_the_count_is_exact_for_a_tree_of_literal_uses_repeats_and_groups(spec_file):
    """Each level: a use, a repeat of 2, a seq of a use and a relu. The bound is the number of
    nodes built where nothing is conditional: no spec that fits is refused."""
    fan = "[{use: b%d}, {repeat: 2, node: {use: b%d}}, {seq: [{use: b%d}, relu]}]"
    path = spec_file(tree(6, fan))
    g = analyze(load(path))
    spec = load(path)
    assert len(g.nodes) == 4**6 + (4**6 - 1) // 3 == Fewest(spec.blocks).list(spec.raw["nodes"])


def test_conditional_nodes_count_nothing(spec_file):
    """A node with when:, a ${...} block name and a ${...} repeat count may make nothing: 0 each."""
    fan = '[{use: b%d, when: "${1 == 1}"}, {use: "${\'b%d\'}"}, {repeat: "${2}", node: {use: b%d}}, {use: b%d}]'
    path = spec_file(tree(3, fan))
    spec = load(path)
    assert Fewest(spec.blocks).list(spec.raw["nodes"]) == 1      # the last use only, at every level
    assert len(analyze(spec).nodes) == 5**3


def test_many_moderate_blocks_are_refused_as_a_list(spec_file):
    """Each item fits, together they do not: the list is named, before any is built."""
    body = "".join("  - {use: b0}\n" for _ in range(300))
    text = tree(10).replace("  - top: b0\n", body)
    path = spec_file(text)
    e, n = calls(refused, path)
    assert n < REFUSED_AT_ONCE, f"refused after {n:,} calls: the nodes were built before they were counted"
    line = text.splitlines().index("nodes:") + 2
    assert str(e).splitlines()[0] == (f"{path}:{line}:3: error: this list of nodes would make at least "
                                      f"{300 * 2**10:,} nodes, over archspec's limit of {MAX_NODES:,}")


def test_a_block_that_uses_itself_still_meets_the_depth_limit(spec_file):
    path = spec_file(tree(1, "[relu, {use: b0}, {use: b0}]"))
    with pytest.raises(SpecErrors) as e:
        analyze(load(path))
    assert "nested more than archspec's limit of 48 deep" in str(e.value)
