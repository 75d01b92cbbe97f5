"""The language is strict: each trap that used to build a different network without a word
is now a located error (or a warning every command shows), and the constructs that close
them work end to end."""
import json

import pytest
from paths import SPECS

import archspec
from archspec.cli import main

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err
    return code, out.out, out.err


# -- parameters ----------------------------------------------------------------------------

def test_a_parameter_nothing_reads_is_an_error(capsys, spec_file):
    path = spec_file(HEAD + "params: {width: 4, group: 2, groups: 1}\n"
                     'nodes:\n  - c: {op: conv, out: "${width}", k: 3, groups: "${groups}"}\n')
    code, _, err = run(capsys, "validate", path)
    assert code == 1
    assert "net.yaml:3:27: error: parameter 'group' is never used: no expression reads it" in err
    assert "hint: did you mean 'groups'?" in err


def test_a_misspelt_variant_parameter_is_caught(capsys, spec_file):
    """`group: 32` in a variant of ResNet-101 used to build plain ResNet-101."""
    spec_file(f"archspec: 1\nextends: {SPECS / 'resnet101.yaml'}\nparams: {{group: 32}}\n", "v.yaml")
    code, _, err = run(capsys, "validate", "v.yaml")
    assert code == 1 and "parameter 'group' is never used" in err and "did you mean 'groups'?" in err


def test_spec_parameters_are_typed_by_their_defaults(capsys):
    code, _, err = run(capsys, "summary", SPECS / "resnet50.yaml", "--set", "groups=abc")
    assert code == 1
    assert "--set groups=abc: error: parameter 'groups' expects int (or [h, w]), got str 'abc'" in err


def test_set_indexes_lists_and_renames(capsys):
    g = archspec.analyze(archspec.load(str(SPECS / "resnet50.yaml"), ["layers[2]=2", "name=resnet_small"]))
    assert g.name == "resnet_small"
    assert len([s for s in g.scopes if s.count(".") == 1 and s.startswith("layer3.")]) == 2
    code, _, err = run(capsys, "summary", SPECS / "resnet50.yaml", "--set", "layers[4]=1")
    assert code == 1 and "parameter 'layers' has no item [4]" in err


# -- node forms ------------------------------------------------------------------------------

@pytest.mark.parametrize("node", ['{seq: [relu], wehn: false}', '{nodes: [relu], name: foo}',
                                  '{repeat: 2, node: relu, carry: concat, nmae: x}'])
def test_unknown_keys_on_groups_are_errors(capsys, spec_file, node):
    code, _, err = run(capsys, "validate", spec_file(HEAD + f"nodes:\n  - g: {node}\n"))
    assert code == 1 and "error: unknown key" in err and "net.yaml:4:" in err


CONCAT = HEAD + """params: {use_b: false}
nodes:
  - a: {op: conv, out: 4, k: 1}
  - b: {op: conv, out: 4, k: 1, in: input}
  - cat: {op: concat, in: [a, b], when: "${use_b}"WHAT}
  - out: {op: relu, in: cat}
"""


def test_a_dropped_node_of_several_inputs_must_say_what_stands_for_it(capsys, spec_file):
    code, _, err = run(capsys, "validate", spec_file(CONCAT.replace("WHAT", "")))
    assert code == 1
    assert "net.yaml:7:41: error: cat: a node of 2 inputs dropped by 'when:' must say which input" in err
    g = archspec.analyze(spec_file(CONCAT.replace("WHAT", ", else: a")))
    assert g.nodes["out"].inputs == ["a"]
    g = archspec.analyze(archspec.load(spec_file(CONCAT.replace("WHAT", ", else: a")), ["use_b=true"]))
    assert g.nodes["out"].inputs == ["cat"] and g.nodes["cat"].shape == (8, 8, 8)
    code, _, err = run(capsys, "validate", spec_file(CONCAT.replace("WHAT", ", else: zz")))
    assert code == 1 and "else: 'zz' is not one of this node's inputs" in err


def test_else_names_one_of_the_inputs_an_in_expression_chooses(capsys, spec_file):
    """Where one `${...}` chooses a dropped node's inputs (DLA's tree's `bottom`), `else:` names
    one of them as evaluated there; a name it does not give is still the error, its hint the names."""
    chosen = CONCAT.replace("in: [a, b]", "in: \"${['a', 'b'] if use_b else ['b', 'a']}\"")
    g = archspec.analyze(spec_file(chosen.replace("WHAT", ", else: a")))
    assert g.nodes["out"].inputs == ["a"]
    g = archspec.analyze(archspec.load(spec_file(chosen.replace("WHAT", ", else: a")), ["use_b=true"]))
    assert g.nodes["out"].inputs == ["cat"] and g.nodes["cat"].shape == (8, 8, 8)
    code, _, err = run(capsys, "validate", spec_file(chosen.replace("WHAT", ", else: zz")))
    assert code == 1 and "else: 'zz' is not one of this node's inputs" in err and "its in: names are b, a" in err
    assert "Traceback" not in err


def test_an_inner_repeat_names_its_index_and_cannot_hide_the_outer(capsys, spec_file):
    nested = (HEAD + "nodes:\n  - s:\n      seq:\n        - {repeat: 2, node: {repeat: 3, INDEXnode: "
              '{op: conv, out: "${OUT}", k: 1}}}\n')
    code, _, err = run(capsys, "validate", spec_file(nested.replace("INDEX", "").replace("OUT", "4 + i")))
    assert code == 1 and "this repeat's index 'i' would hide 'i'" in err and "index: j" in err
    g = archspec.analyze(spec_file(nested.replace("INDEX", "index: j, ").replace("OUT", "1 + 10 * i + j")))
    assert [n.shape[0] for n in g.nodes.values()] == [1, 2, 3, 11, 12, 13]


# -- references --------------------------------------------------------------------------------

def test_a_false_reference_fails_validate(capsys, spec_file):
    path = spec_file(HEAD + "reference: {params: 113, source: me}\nnodes:\n  - c: {op: conv, out: 4, k: 3}\n")
    code, _, err = run(capsys, "validate", path)
    assert code == 1 and "net.yaml:3:12: error: reference: params 113 differs: 112 here" in err
    code, out, _ = run(capsys, "summary", path, "--json")
    ref = json.loads(out)["reference"]
    assert ref["checked"] and ref["holds"] is False
    assert ref["checks"] == [{"key": "params", "stated": 113, "measured": 112, "holds": False}]


def test_a_variant_does_not_inherit_its_base_reference(capsys, spec_file):
    spec_file(f"archspec: 1\nextends: {SPECS / 'resnet50.yaml'}\nparams: {{num_classes: 10}}\n", "v.yaml")
    g = archspec.analyze("v.yaml")
    assert g.meta.reference is None
    code, out, _ = run(capsys, "summary", "v.yaml")
    assert code == 0 and "differs" not in out and "reference" not in out


def test_rounded_references_are_compared_at_their_precision(capsys):
    code, out, _ = run(capsys, "summary", SPECS / "wrn28_10.yaml")
    assert "params 36.5M matches (36,479,194 params = 36.5M)" in out
    code, out, _ = run(capsys, "summary", SPECS / "wrn28_10.yaml", "--json")
    assert json.loads(out)["reference"]["holds"] is True


# -- warnings ------------------------------------------------------------------------------------

UNUSED = HEAD + "nodes:\n  - a: relu\n  - b: {op: relu, in: input}\n"


@pytest.mark.parametrize("command", ["validate", "summary", "build"])
def test_warnings_show_in_every_command_and_strict_makes_them_errors(capsys, spec_file, command):
    path = spec_file(UNUSED)
    code, _, err = run(capsys, command, path, *(["-o", "out"] if command == "build" else []))
    assert code == 0 and "net.yaml:4:5: warning: a: output is never used" in err
    code, _, err = run(capsys, command, path, "--strict", *(["-o", "out"] if command == "build" else []))
    assert code == 1 and "net.yaml:4:5: error: a: output is never used" in err


# -- constructs -------------------------------------------------------------------------------

def test_a_variant_changes_one_node_by_name(capsys, spec_file):
    spec_file(f"archspec: 1\nextends: {SPECS / 'xception.yaml'}\nchange:\n  fc: {{out: 10}}\n", "v.yaml")
    g = archspec.analyze("v.yaml")
    assert g.nodes["fc"].shape == (10,) and g.nodes["fc"].params == 2048 * 10 + 10
    spec_file(f"archspec: 1\nextends: {SPECS / 'xception.yaml'}\nchange: {{fcc: {{out: 10}}}}\n", "w.yaml")
    code, _, err = run(capsys, "validate", "w.yaml")
    assert code == 1 and "w.yaml:3:10: error: change: no top-level node 'fcc'" in err and "'fc'?" in err


def test_a_replaced_node_list_says_so(capsys, spec_file):
    spec_file(f"archspec: 1\nextends: {SPECS / 'lenet5.yaml'}\nnodes: [flatten]\n", "v.yaml")
    code, _, err = run(capsys, "validate", "v.yaml")
    assert code == 0 and "v.yaml:3:1: warning: nodes: replaces all" in err and "change:" in err


def test_a_spec_names_the_ops_it_needs(capsys, spec_file, monkeypatch):
    from paths import ROOT

    from archspec.ops import REGISTRY
    monkeypatch.delitem(REGISTRY, "swish", raising=False)     # another test may have loaded it
    op_file = ROOT / "examples" / "swish_op.py"
    path = spec_file(HEAD + f"requires_ops: {{swish: {op_file}}}\nnodes:\n  - c: {{op: conv, out: 4, k: 3}}\n"
                     "  - a: swish\n")
    code, _, err = run(capsys, "validate", path)
    assert code == 1 and f"net.yaml:3:16: error: this spec needs op 'swish' from {op_file}: pass --ops" in err
    assert "did you mean" not in err
    assert run(capsys, "validate", path, "--ops", op_file)[0] == 0


def test_reserved_words_cannot_name_nodes(capsys, spec_file):
    code, _, err = run(capsys, "validate", spec_file(HEAD + "nodes:\n  - repeat: relu\n"))
    assert code == 1 and "'repeat' is a reserved word (a kind of node) and cannot name a node" in err


LISTS = HEAD + """params: {rows: [[4, 1], [8, 2]], use_b: true}
blocks:
  cb:
    params: {out: int, stride: 1}
    nodes: [{op: conv, out: "${out}", k: 3, pad: 1, stride: "${stride}"}]
nodes:
  - a: {op: conv, out: 4, k: 1}
  - b: {op: conv, out: 4, k: 1, in: input}
  - cat: {op: concat, in: "${['a', 'b'] if use_b else ['a', 'a']}"}
  - s: {repeat: 2, node: {use: cb, args: "${rows[i]}"}}
"""


def test_list_valued_expressions_in_in_and_args(spec_file):
    g = archspec.analyze(spec_file(LISTS))
    assert g.nodes["cat"].inputs == ["a", "b"]
    assert [g.scopes[f"s.{i}"].args for i in (0, 1)] == [{"out": 4, "stride": 1}, {"out": 8, "stride": 2}]
    assert g.nodes["s.1.conv"].shape == (8, 4, 4)
    g = archspec.analyze(archspec.load(spec_file(LISTS), ["use_b=false"]))
    assert g.nodes["cat"].inputs == ["a", "a"]


def test_input_is_the_nodes_incoming_tensor_and_block_input_the_blocks(spec_file):
    """`input` in an expression is the tensor coming into the node being defined; `block_input`
    is the enclosing block's (the tensor `in: input` names)."""
    g = archspec.analyze(spec_file(HEAD + """blocks:
  b:
    let: {c: "${input.channels}"}
    nodes:
      - c1: {op: conv, out: 6, k: 1}
      - c2: {op: conv, out: "${block_input.channels * 10 + input.channels + c * 100}", k: 1}
      - c3: {op: conv, out: 2, k: 1, in: input}
nodes:
  - x: b
"""))
    assert g.nodes["x.c2"].shape[0] == 3 * 10 + 6 + 300
    assert g.nodes["x.c3"].inputs == ["input"]


# -- error wording --------------------------------------------------------------------------------

def test_messages_never_show_none_an_empty_path_or_a_question_mark(capsys, spec_file):
    text = HEAD + "nodes:\n  - x:\n  - g: {nodes: [{op: add, in: [x, zz]}]}\n"
    code, _, err = run(capsys, "validate", spec_file(text))
    assert code == 1
    assert "node 'x' needs an op, a block or a body, got nothing (an empty value)" in err
    assert "error: g.add: undefined input 'zz'" in err
    assert "None" not in err and "?" not in err.replace("did you mean", "") and "g.:" not in err


def test_the_new_keys_are_in_the_schema():
    """`archspec schema` knows every construct of the language: editors do not flag them. (The
    validator, test_plain_yaml's, is made once per test process, after checking the schema.)"""
    import yaml
    from test_plain_yaml import assert_valid
    for text in (LISTS, CONCAT.replace("WHAT", ", else: a"),
                 HEAD + "requires_ops: {swish: a.py}\nchange: {fc: {out: 3}}\nnodes:\n  - s:\n      seq:\n"
                        "        - {repeat: 2, index: j, node: relu}\n"):
        assert_valid(yaml.safe_load(text), "test_strict")


def test_expressions_inside_list_items(spec_file):
    g = archspec.analyze(spec_file(HEAD + """params: {s: 0.5, k: 3}
nodes:
  - a: {op: conv, out: 4, k: [1, "${k}"], pad: [0, 1]}
  - b: {op: conv, out: 4, k: 1, in: input}
  - c: {op: add, in: [a, b], weights: [1, "${s}"]}
"""))
    assert g.nodes["a"].attrs.k == (1, 3) and g.nodes["c"].attrs.weights == (1.0, 0.5)
