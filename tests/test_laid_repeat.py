"""A repeat that lays named nodes into its scope (Res2Net's ladder): each step's nodes under templated
names (`x${i + 1}`, `convs[${i}]`), reading the step before by name; a merge's `in:` computed over
them; and each mistake a located error."""
import pytest

import archspec
from archspec.errors import SpecErrors

HEAD = "archspec: 1\ninput: [8, 8, 8]\nparams: {s: 4}\nnodes:\n  - stem: {op: conv, out: 16, k: 1}\n"
LADDER = """\
  - repeat: "${s - 1}"
    node:
      - "x${i + 1}": {op: slice, start: "${2 * i}", stop: "${2 * i + 2}", in: stem}
      - "sum${i + 1}": {op: add, in: ["y${i}", "x${i + 1}"], when: "${i > 0}", else: "x${i + 1}"}
      - "convs[${i}]": {op: conv, out: 2, k: 3, pad: 1}
      - "y${i + 1}": relu
"""
MERGE = "  - {op: concat, in: \"${[f'y{k + 1}' for k in range(s - 1)]}\"}\n"


def graph(spec_file, text, **params):
    return archspec.analyze(archspec.load(spec_file(text), **params))


def errors(spec_file, text, **params) -> list[str]:
    with pytest.raises(SpecErrors) as e:
        graph(spec_file, text, **params)
    return [str(d) for d in e.value.diagnostics]


def test_each_step_lays_its_nodes_in_the_scope_and_reads_the_step_before(spec_file):
    g = graph(spec_file, HEAD + LADDER + MERGE)
    assert [n for n in g.nodes if n != "stem"] == ["x1", "convs.0", "y1", "x2", "sum2", "convs.1", "y2",
                                                  "x3", "sum3", "convs.2", "y3", "concat"]
    assert g.nodes["sum3"].inputs == ["y2", "x3"] and g.nodes["convs.0"].inputs == ["x1"]   # no sum1: no y0
    assert g.scopes["convs"].kind == "list"
    assert g.nodes["concat"].inputs == ["y1", "y2", "y3"] and g.nodes["concat"].shape == (6, 8, 8)


def test_the_count_is_a_parameter(spec_file):
    g = graph(spec_file, HEAD + LADDER + MERGE, s=8)
    assert len([n for n in g.nodes if n.startswith("convs.")]) == 7
    assert g.nodes["concat"].shape == (14, 8, 8)


def test_a_bad_template_name_is_located(spec_file):
    text = HEAD + LADDER.replace('"y${i + 1}": relu', '"y ${i + 1}": relu') + MERGE
    errs = errors(spec_file, text)
    assert any("net.yaml:11:9: error: 'y 1' cannot be a node name" in e for e in errs), errs


def test_a_template_that_fails_to_evaluate_is_located(spec_file):
    errs = errors(spec_file, HEAD + LADDER.replace('"y${i + 1}"', '"y${j + 1}"') + MERGE)
    assert any("net.yaml:11:9: error: in the node's name: undefined name 'j'" in e for e in errs), errs


def test_a_duplicate_name_is_located(spec_file):
    errs = errors(spec_file, HEAD + LADDER.replace('"y${i + 1}": relu', '"y1": relu') + MERGE)
    assert any("net.yaml:11:9: error: y1: duplicate name 'y1'" in e and "make it read the index" in e
               for e in errs), errs


def test_a_laid_name_may_not_take_a_name_of_the_scope(spec_file):
    stem_at_1 = '"${\'stem\' if i == 1 else f\'y{i + 1}\'}": relu'
    errs = errors(spec_file, HEAD + LADDER.replace('"y${i + 1}": relu', stem_at_1) + "  - y3: relu\n")
    assert any("duplicate name 'stem'" in e for e in errs), errs


def test_an_unknown_name_in_a_computed_in_list_is_located(spec_file):
    merge = "  - {op: concat, in: \"${[f'y{k + 1}' for k in range(s)]}\"}\n"     # one too many: y4
    errs = errors(spec_file, HEAD + LADDER + merge)
    assert any("net.yaml:12:22: error: concat: undefined input 'y4'" in e and "convs[2], y3" in e
               for e in errs), errs


def test_a_laying_repeat_takes_no_name_or_carry(spec_file):
    errs = errors(spec_file, HEAD + LADDER.replace("    node:", "    name: \"r${i}\"\n    node:") + MERGE)
    assert any("net.yaml:7:5: error: a repeat that lays named nodes in this scope takes no 'name:'" in e
               for e in errs), errs


def test_its_steps_are_bounded_before_they_are_made(spec_file):
    text = HEAD + LADDER.replace('"${s - 1}"', "${2 ** 20}")
    errs = errors(spec_file, text)
    assert any("repeat 1,048,576 exceeds archspec's limit of 100,000 steps" in e for e in errs), errs
    errs = errors(spec_file, HEAD + LADDER.replace('"${s - 1}"', "70000"))
    assert any("repeat 70,000 of 4 nodes would exceed archspec's limit of 250,000 nodes" in e for e in errs), errs


def test_nested_laying_repeats_name_their_own_index(spec_file):
    inner = """\
  - repeat: ${s}
    node:
      - repeat: 3
        index: j
        node:
          - "c${i}_${j}": {op: conv, out: 2, k: 1, in: stem}
"""
    g = graph(spec_file, HEAD + inner, s=2)
    assert [n for n in g.nodes if n.startswith("c")] == [f"c{i}_{j}" for i in range(2) for j in range(3)]
    errs = errors(spec_file, HEAD + inner.replace("        index: j\n", "").replace("${j}", "${i}"))
    assert any("this repeat's index 'i' would hide 'i'" in e for e in errs), errs
