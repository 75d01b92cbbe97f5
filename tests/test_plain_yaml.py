"""Specs are plain YAML: every spec the project ships or documents loads with a YAML 1.2
parser (ruamel.yaml, not archspec's PyYAML) to the same values archspec reads, and validates
against `archspec schema` with a standard JSON Schema validator. An unquoted `${...}` where
YAML cannot read it is a located error whose hint is the quoted form."""
import functools
import re

import jsonschema
import pytest
from cost import calls
from paths import ROOT, per_family
from ruamel.yaml import YAML

import archspec.ops
from archspec.cli import main
from archspec.errors import Loc, SpecError
from archspec.frontend.schema import json_schema
from archspec.frontend.yamlpos import load_text
from archspec.plugins import load_plugins

SHIPPED = sorted([*ROOT.glob("specs/*.yaml"), *ROOT.glob("specs/blocks/*.yaml"), *ROOT.glob("examples/*.yaml"),
                  *ROOT.glob("tests/specs/*.yaml")])
README = (ROOT / "README.md").read_text()
README_YAML = re.findall(r"^```yaml\n(.*?)^```", README, re.S | re.M)
BROKEN = ROOT / "examples" / "broken.yaml"         # the README's error example: wrong on purpose
USER_OPS = {"swish_net.yaml": ROOT / "examples" / "swish_op.py"}


def yaml12(text: str):
    return YAML(typ="safe", pure=True).load(text)        # YAML 1.2, its own parser


def _any_of(validator, any_of, instance, schema):
    """anyOf, as jsonschema's but trying each branch only up to its first error (jsonschema lists
    every error of every branch it tries: a node is tried against each op's branch in turn, and the
    shipped specs took 3x as long): valid when a branch is, as jsonschema's
    (test_the_validator_agrees_with_jsonschemas)."""
    if not any(validator.evolve(schema=branch).is_valid(instance) for branch in any_of):
        yield jsonschema.ValidationError(f"{instance!r} is not valid under any of the given schemas")


_Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"anyOf": _any_of})


def validator(ops_file=None, cls=_Validator):
    """A Draft 2020-12 validator for `archspec schema` (with a user op file's ops, then forgotten)."""
    return _validator(ops_file, cls)        # one cache entry however it is called


@functools.cache
def _validator(ops_file, cls):
    return cls(_schema(ops_file))


@functools.cache       # the schema is the same for every spec: built once per op file
def _schema(ops_file):
    saved = dict(archspec.ops.REGISTRY)
    try:
        if ops_file:
            load_plugins([str(ops_file)])
        schema = json_schema()
    finally:
        archspec.ops.REGISTRY.clear()
        archspec.ops.REGISTRY.update(saved)
    return schema


def assert_valid(doc, where, ops_file=None):
    errors = sorted(validator(ops_file).iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, f"{where}: " + "; ".join(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:3])


@pytest.mark.parametrize("ops_file", [None, USER_OPS["swish_net.yaml"]], ids=["archspec", "swish_op"])
def test_the_schema_is_a_draft_2020_12_schema(ops_file):
    """`archspec schema`, and the schema with a user op file's ops, are valid Draft 2020-12 schemas
    (checked here once, ~0.7 s each against the metaschema, not in each process that validates)."""
    jsonschema.Draft202012Validator.check_schema(_schema(ops_file))


def test_there_is_something_to_check():
    names = {p.name for p in SHIPPED}
    assert {"resnet50.yaml", "resnet.yaml", "densenet.yaml", "allops.yaml", "swish_net.yaml"} <= names
    assert len(README_YAML) >= 5 and sum(b.startswith("archspec: 1") for b in README_YAML) >= 2


@pytest.mark.parametrize("path", per_family(SHIPPED), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_spec_is_plain_yaml_and_fits_the_schema(path):
    text = path.read_text()
    doc = yaml12(text)
    assert doc == load_text(text, str(path)), "a YAML 1.2 parser reads other values than archspec"
    if path == BROKEN:      # a spec with mistakes (an unknown op): the schema refuses it too
        assert not validator().is_valid(doc)
        return
    assert_valid(doc, path.name, USER_OPS.get(path.name))


def test_the_validator_agrees_with_jsonschemas():
    """The short-cut anyOf gives jsonschema's own verdict: on a valid spec and on specs wrong inside
    a node's op branch (a misspelt attribute, an attribute of another type, an unknown op), inside
    an attribute's own anyOf (a shape of text) and outside any anyOf (a top-level key)."""
    wrong = ["  - c: {op: conv, out: 4, kernel: 3}\n", "  - c: {op: conv, out: [4], k: 3}\n",
             "  - c: {op: cnov, out: 4}\n", "  - c: {op: reshape, shape: {a: 1}}\n"]
    texts = [HEAD + "  - c: {op: conv, out: 4, k: 3}\n  - relu\n", *(HEAD + w for w in wrong),
             HEAD.replace("params:", "parms:") + "  - relu\n"]
    docs = [yaml12(text) for text in texts]
    verdicts = [validator().is_valid(d) for d in docs]
    assert verdicts == [validator(cls=jsonschema.Draft202012Validator).is_valid(d) for d in docs]
    assert verdicts == [True] + [False] * 5


@pytest.mark.parametrize("block", README_YAML, ids=lambda b: b.split("\n", 1)[0][:30])
def test_readme_yaml_is_plain_yaml(block):
    """Every ```yaml block of the README parses alike with YAML 1.2; a whole spec fits the schema."""
    doc = yaml12(block)
    assert doc == load_text(block, "README.md")
    if block.startswith("archspec: 1"):
        assert_valid(doc, "README.md")


# -- the located error ---------------------------------------------------------------------------

HEAD = "archspec: 1\nname: t\ninput: [3, 8, 8]\nparams: {planes: 4}\nnodes:\n"


def refused(text):
    with pytest.raises(SpecError) as e:
        load_text(text, "f.yaml")
    return e.value


def test_unquoted_expression_in_a_flow_mapping_is_located_with_the_quoted_form():
    e = refused(HEAD + "  - conv: {op: conv, out: ${planes * 4}, k: 3}\n")
    assert e.loc == Loc("f.yaml", 6, 27)                   # the `${`
    assert str(e) == "an expression inside a YAML flow collection ({...} or [...]) must be quoted"
    assert e.hint == 'write out: "${planes * 4}"'


@pytest.mark.parametrize(("line", "col", "hint"), [
    ("  - c: {op: conv, out: ${planes}, stride: ${1 + 1}}", 24, 'write out: "${planes}"'),
    ("  - c: {op: conv, out: 8, stride: ${1 + 1}}", 35, 'write stride: "${1 + 1}"'),
    ("  - c: {op: conv, out: 8, k: [3, ${planes}]}", 34, 'write "${planes}"'),
    ("  - {op: conv, out: 8, in: [input, ${'a' if planes else 'b'}]}", 36,
     "write \"${'a' if planes else 'b'}\""),
    ("  - c: {op: conv, out: ${len(\"abcd\")}, k: 1}", 24, "write out: '${len(\"abcd\")}'"),
    ("  - c: {op: conv, name: conv${planes}_x, out: 8}", 29, 'write name: "conv${planes}_x"'),
    ("  - c: {op: conv, out: ${max([1, 2][0], planes % 3)}, k: 1}", 24,
     'write out: "${max([1, 2][0], planes % 3)}"'),
    ("  - c: {op: conv, out: ${planes @ 2}, k: 1}", 24, 'write out: "${planes @ 2}"'),
    ("  - c: {op: conv,\n        out: ${planes}}", 14, 'write out: "${planes}"'),
])
def test_every_unquoted_flow_expression_gets_its_quoted_form(line, col, hint):
    e = refused(HEAD + line + "\n")
    assert "must be quoted" in str(e) and e.hint == hint
    assert e.loc == Loc("f.yaml", 6 + line.count("\n"), col)


def test_the_cli_shows_the_error_and_hint(capsys, tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(HEAD + "  - conv: {op: conv, out: ${planes * 4}, k: 3}\n")
    assert main(["validate", str(spec)]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:6:27: error: an expression inside a YAML flow collection" in err
    assert 'hint: write out: "${planes * 4}"' in err


def test_block_values_may_stay_unquoted():
    d = load_text(HEAD + "  - conv:\n      op: conv\n      out: ${planes * 4}\n      k: ${[3, 1][0]}\n"
                  "  - name: x${'{' + 'a' + '}'}\n  - ${planes} # a comment\n", "f.yaml")
    assert d["nodes"][0]["conv"] == {"op": "conv", "out": "${planes * 4}", "k": "${[3, 1][0]}"}
    assert d["nodes"][1:] == [{"name": "x${'{' + 'a' + '}'}"}, "${planes}"]


@pytest.mark.parametrize(("line", "col", "hint"), [
    ("      out: ${'a: b'}", 12, "write out: \"${'a: b'}\""),             # YAML reads a mapping
    ("      out: ${planes if planes else 'x #y'}", 12,                  # YAML reads a comment
     "write out: \"${planes if planes else 'x #y'}\""),
    ("  - ${'a' if planes else 'q: r'}", 5, "write \"${'a' if planes else 'q: r'}\""),
])
def test_block_expression_holding_colon_space_or_space_hash_must_be_quoted(line, col, hint):
    e = refused(HEAD + ("  - conv:\n      op: conv\n" if line.startswith("      ") else "") + line + "\n")
    assert str(e).startswith("an expression holding ': ' or ' #' must be quoted") and e.hint == hint
    assert e.loc.col == col


def test_the_error_is_fast_on_a_big_file():
    """The located error costs less than 2 parses of the file: the culprit is found from the C parser's
    error mark or by the C scanner's tokens. Function calls (tests/cost.py), 1,000 items: the parse
    146k; the refused loads 141k, 141k, 248k (1.7x: the scanner's pass); with the pure-Python
    scanner (yaml.SafeLoader) 1,194k (8.2x)."""
    body = "".join(f"  - c{i}: {{op: conv, out: \"${{planes * 2}}\", k: 3, pad: 1}}\n" for i in range(1000))
    _, parse = calls(load_text, HEAD + body, "f.yaml")
    for tail in ("  - z: {op: conv, out: ${planes}}\n", "  - z: {op: conv, out: ${planes @ 2}}\n",
                 "  - z: {op: conv, out: }}\n"):
        e, refused_calls = calls(refused, HEAD + body + tail)
        assert re.search("quoted|syntax", str(e)) and e.loc.line == 1006
        assert refused_calls < 2 * parse, (refused_calls, parse)


# -- the README says so --------------------------------------------------------------------------

def test_readme_states_the_rule():
    text = " ".join(README.split("### Expressions", 1)[1].split("### Blocks", 1)[0].split())
    assert "can be written unquoted" not in text and "archspec reads it before YAML" not in text
    assert 'Inside a flow collection (`{...}` or `[...]`) an expression must be quoted' in text
    assert '`{op: conv, out: "${planes * 4}"}`' in text and "single quotes when it holds double quotes" in text
    assert "A block value on its own line may stay unquoted, `out: ${planes * 4}`" in text
    assert "unless the expression holds `: ` or ` #`" in text
    assert "loads with any YAML 1.2 parser and validates against `archspec schema`" in text
    # and the rule is what archspec does
    assert load_text("out: ${planes * 4}\n", "r") == {"out": "${planes * 4}"}
    assert load_text('n: {op: conv, out: "${planes * 4}"}\n', "r") == {"n": {"op": "conv", "out": "${planes * 4}"}}
    assert refused("n: {op: conv, out: ${planes * 4}}\n").hint == 'write out: "${planes * 4}"'
