"""The traps new users fell into (issue 20), each a located error or a warning: constraints a
spec states on its parameters, the root cause of several errors printed first, `--set` named
in the errors it causes, did-you-mean on every node form, `input` in a `when:`, nested repeats'
names as written, the schema taking every form the loader takes, and a variant that says so."""
import functools
import json
import shutil

import pytest
from paths import ROOT, SPECS

import archspec
from archspec.cli import main

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"
FOLLOWS = "(follows from the error above)"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err
    return code, out.out, out.err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if ": error: " in line]


@pytest.fixture
def specs_copy(tmp_path, monkeypatch):
    """specs/ copied under the working directory, so a variant sorts after specs/blocks/."""
    shutil.copytree(SPECS, tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "specs"


# -- root cause first ----------------------------------------------------------------------

def test_a_typo_in_a_variants_change_is_the_first_error_and_its_echoes_are_marked(capsys, specs_copy):
    (specs_copy / "resnext_cifar.yaml").write_text(
        "archspec: 1\nextends: resnet_cifar.yaml\nname: resnext_cifar\nchange:\n  layer1: {strdie: 2}\n")
    code, _, err = run(capsys, "validate", "specs/resnext_cifar.yaml")
    lines = error_lines(err)
    assert code == 1
    assert lines[0] == "specs/resnext_cifar.yaml:5:12: error: layer1: block 'stage' has no parameter 'strdie'"
    assert err.splitlines()[1] == "  hint: did you mean 'stride'?"
    assert len(lines) >= 2 and all(line.endswith(FOLLOWS) for line in lines[1:])
    assert all("specs/blocks/resnet.yaml" in line for line in lines[1:])


# -- constraints ---------------------------------------------------------------------------

def test_a_set_that_breaks_a_constraint_is_an_error_at_the_set(capsys):
    code, _, err = run(capsys, "validate", SPECS / "wrn_cifar.yaml", "--set", "depth=41")
    assert code == 1
    assert error_lines(err) == ["--set depth=41: error: WRN depth = 6n + 4, n >= 1 blocks per group "
                                "(Zagoruyko & Komodakis 2016, Table 1), got depth = 41"]
    assert "hint: the constraint (depth - 4) % 6 == 0 and depth >= 10 (specs/wrn_cifar.yaml:" in err
    code, out, _ = run(capsys, "validate", SPECS / "wrn_cifar.yaml", "--set", "depth=40", "--set", "k=4")
    assert code == 0 and "8,949,210 params" in out


def test_a_variant_inherits_its_bases_constraints_and_the_error_is_at_its_line(capsys, specs_copy):
    (specs_copy / "wrn41.yaml").write_text("archspec: 1\nextends: wrn_cifar.yaml\nname: wrn41\n"
                                           "params: {depth: 41, k: 2}\n")
    code, _, err = run(capsys, "validate", "specs/wrn41.yaml")
    assert code == 1
    assert error_lines(err)[0].startswith("specs/wrn41.yaml:4:17: error: WRN depth = 6n + 4")
    assert "got depth = 41" in err
    code, _, err = run(capsys, "validate", "specs/wrn28_10.yaml", "--set", "depth=23")
    assert code == 1 and error_lines(err)[0].startswith("--set depth=23: error: WRN depth = 6n + 4")


@pytest.mark.parametrize("spec, good, bad, message", [
    ("resnet_cifar.yaml", "n=5", "n=0", "CIFAR ResNet: 6n + 2 layers, n >= 1 blocks per stage"),
    ("resnet20_cifar.yaml", "n=9", "n=0", "CIFAR ResNet: 6n + 2 layers, n >= 1 blocks per stage"),
    ("pyramidnet110.yaml", "n=1", "n=0", "PyramidNet: n >= 1 units per stage"),
    ("pyramidnet272.yaml", "n=1", "n=0", "PyramidNet: n >= 1 units per stage"),
    ("densenet_cifar.yaml", "depth=40", "depth=41", "DenseNet-BC: depth L = 6n + 4"),
    ("densenet_cifar.yaml", "compression=1.0", "compression=1.5", "DenseNet-BC: compression factor 0 < theta <= 1"),
    ("resnet18.yaml", "groups=1", "groups=32", "the basic block has no groups or width per group"),
    ("resnet34.yaml", "base_width=64", "base_width=128", "the basic block has no groups or width per group"),
    ("resnet50.yaml", "groups=32", "se_reduction=-1", "SE reduction ratio r: 0 (no SE) or more"),
    ("vgg16.yaml", "config=E", "config=F", "VGG: config is a column of Table 1"),
])
def test_the_family_specs_state_their_papers_constraints(capsys, spec, good, bad, message):
    code, _, err = run(capsys, "validate", SPECS / spec, "--set", good)
    assert code == 0, err
    code, _, err = run(capsys, "validate", SPECS / spec, "--set", bad)
    assert code == 1
    first = error_lines(err)[0]
    assert first.startswith(f"--set {bad}: error: {message}") and f"got {bad.replace('=', ' = ')}" in first


def test_vggs_lrn_network_is_configuration_a(capsys):
    assert run(capsys, "validate", SPECS / "vgg11.yaml", "--set", "lrn=true")[0] == 0
    code, _, err = run(capsys, "validate", SPECS / "vgg11.yaml", "--set", "lrn=true", "--set", "config=B")
    assert code == 1 and error_lines(err) == [
        "--set config=B: error: VGG: the LRN network is A-LRN, configuration A (Simonyan & Zisserman 2015, "
        "Table 1), got config = B, lrn = true"]


def test_a_densenet_without_bottleneck_takes_3n_plus_4(capsys):
    code, _, _ = run(capsys, "validate", SPECS / "densenet_cifar.yaml", "--set", "bottleneck=0",
                     "--set", "compression=1.0", "--set", "depth=40")
    assert code == 0
    code, _, err = run(capsys, "validate", SPECS / "densenet_cifar.yaml", "--set", "bottleneck=0",
                       "--set", "depth=42")
    assert code == 1 and "got depth = 42, bottleneck = 0" in err


CONSTRAINED = HEAD + """params: {width: 6, parts: 3}
constraints:
  - {check: "width % parts == 0", message: "the width splits into equal parts"}
  - check: ${width >= 2}
    message: at least two channels
nodes:
  - c: {op: conv, out: "${width}", k: 1, groups: 1}
  - {op: conv, out: "${width // parts}", k: 1}
"""


def test_constraints_are_written_bare_or_as_expressions(capsys, spec_file):
    path = spec_file(CONSTRAINED)
    assert run(capsys, "validate", path)[0] == 0
    code, _, err = run(capsys, "validate", path, "--set", "width=7")
    assert code == 1
    assert error_lines(err) == ["--set width=7: error: the width splits into equal parts, got width = 7, parts = 3"]
    code, _, err = run(capsys, "validate", spec_file(CONSTRAINED.replace("width: 6", "width: 0")))
    assert code == 1
    assert error_lines(err) == ["net.yaml:3:17: error: at least two channels, got width = 0"]
    g = archspec.analyze(archspec.load(path, width=9))
    assert g.nodes["c"].shape == (9, 8, 8)
    with pytest.raises(archspec.SpecErrors, match="width=: error: the width splits into equal parts"):
        archspec.analyze(archspec.load(path, width=8))


@pytest.mark.parametrize("check, message", [
    ("widht % 2 == 0", "net.yaml:5:13: error: constraint: undefined name 'widht' in expression"),
    ("width + 1", "net.yaml:5:13: error: constraint: must be true or false, got 7"),
    ("", "net.yaml:5:13: error: constraint: an empty check"),
])
def test_a_bad_constraint_is_an_error_at_its_check(capsys, spec_file, check, message):
    text = HEAD + f'params: {{width: 6}}\nconstraints:\n  - {{check: "{check}", message: m}}\n' \
        'nodes:\n  - c: {op: conv, out: "${width}", k: 1}\n'
    code, _, err = run(capsys, "validate", spec_file(text))
    assert code == 1 and error_lines(err)[0] == message, err


# -- a variant says it is one ----------------------------------------------------------------

RESNEXT_CIFAR = ("archspec: 1\nextends: resnet_cifar.yaml\nname: resnext_cifar\n"
                 "params: {block: bottleneck, groups: 8, base_width: 64}\n")


def test_a_shipped_variant_without_a_title_says_what_it_is(capsys):
    code, out, _ = run(capsys, "summary", ROOT / "examples/guide/resnext50_32x4d.yaml", "--depth", "1")
    assert code == 0
    assert out.splitlines()[0] == "my_resnext50_32x4d: variant of ResNet-50: groups=32, base_width=4"
    g = archspec.analyze(str(ROOT / "examples/guide/resnext50_32x4d.yaml"))
    assert g.meta.paper.startswith("base ResNet-50: He et al. 2015")
    assert archspec.analyze(str(SPECS / "resnext50_32x4d.yaml")).meta.title == "ResNeXt-50 (32x4d)"
    code, out, _ = run(capsys, "summary", ROOT / "examples/guide/resnext50_32x4d.yaml", "--json")
    assert json.loads(out)["variant_of"] == "ResNet-50"
    code, out, _ = run(capsys, "summary", SPECS / "resnext50_32x4d.yaml", "--json")
    assert json.loads(out)["variant_of"] is None


def test_a_variant_is_named_in_summary_list_and_diagram(capsys, specs_copy):
    (specs_copy / "resnext_cifar.yaml").write_text(RESNEXT_CIFAR)
    title = "variant of CIFAR ResNet: block=bottleneck, groups=8, base_width=64"
    code, out, _ = run(capsys, "summary", "specs/resnext_cifar.yaml", "--depth", "1")
    assert code == 0 and out.splitlines()[0] == f"resnext_cifar: {title}"
    for other in specs_copy.glob("*.yaml"):     # list the variant and its base, not 62 more networks
        if other.name not in ("resnet_cifar.yaml", "resnext_cifar.yaml"):
            other.unlink()
    code, out, _ = run(capsys, "list", "specs")
    row = next(line for line in out.splitlines() if "resnext_cifar.yaml" in line)
    assert title in row and "ResNet-20" not in row
    code, _, _ = run(capsys, "diagram", "specs/resnext_cifar.yaml", "-o", "resnext.dot")
    out = (specs_copy.parent / "resnext.dot").read_text()
    assert code == 0 and f"<B>{title}</B>" in out and "default n = 3" not in out
    assert "base CIFAR ResNet: He et al. 2015" in out


def test_a_chain_of_untitled_variants_adds_up_and_a_same_network_keeps_the_title(specs_copy):
    (specs_copy / "resnext_cifar.yaml").write_text(RESNEXT_CIFAR)
    (specs_copy / "deeper.yaml").write_text("archspec: 1\nextends: resnext_cifar.yaml\nparams: {n: 5}\n"
                                            "change:\n  fc: {out: 100}\n")
    g = archspec.analyze("specs/deeper.yaml")
    assert g.meta.title == ("variant of CIFAR ResNet: block=bottleneck, groups=8, base_width=64, n=5, "
                               "fc (out=100)")
    (specs_copy / "same.yaml").write_text("archspec: 1\nextends: resnet_cifar.yaml\nname: same\n")
    assert archspec.analyze("specs/same.yaml").meta.title.startswith("CIFAR ResNet, 6n + 2 layers")
    (specs_copy / "own.yaml").write_text("archspec: 1\nextends: resnext_cifar.yaml\ntitle: ResNeXt-20 8x64d\n"
                                         "paper: mine\n")
    g = archspec.analyze("specs/own.yaml")
    assert (g.meta.title, g.meta.paper) == ("ResNeXt-20 8x64d", "mine")


def test_a_variants_generated_class_is_named_after_the_variant(specs_copy):
    from archspec.pytorch.emit.classnames import root_name
    (specs_copy / "resnext_cifar.yaml").write_text(RESNEXT_CIFAR)
    # the spec's name, each word cased as the title (the base's, for a variant) writes it
    assert root_name(archspec.analyze("specs/resnext_cifar.yaml")) == "ResnextCIFAR"
    assert root_name(archspec.analyze("specs/resnet20_cifar.yaml")) == "ResNet20CIFAR"
    assert root_name(archspec.analyze(str(ROOT / "examples/guide/se_resnet18.yaml"))) == "SeResNet18"


# -- did-you-mean on every node form -------------------------------------------------------

BLOCK = "blocks:\n  b:\n    params: {out: 4}\n    nodes:\n      - {op: conv, out: \"${out}\", k: 1}\n"


@pytest.mark.parametrize("node", [
    "- c: {op: conv, out: 4, k: 1, wehn: false}",
    "- {op: conv, out: 4, k: 1, wehn: false}",
    "- c: {use: b, wehn: false}",
    "- {use: b, out: 8, wehn: false}",
    "- {repeat: 2, node: relu, wehn: false}",
    "- s: {seq: [relu], wehn: false}",
    "- g: {nodes: [relu], wehn: false}",
])
def test_a_misspelt_when_is_caught_on_every_node_form(capsys, spec_file, node):
    code, _, err = run(capsys, "validate", spec_file(HEAD + BLOCK + "nodes:\n  " + node + "\n"))
    assert code == 1 and "'wehn'" in err and "hint: did you mean 'when'?" in err, err


@pytest.mark.parametrize("node", ["- c: {op: conv, out: 4, k: 1, wehn: false}", "- c: {use: b, wehn: false}"])
def test_a_misspelt_when_is_caught_in_a_library(capsys, spec_file, node):
    lib = "archspec: 1\n" + BLOCK + "  n:\n    nodes:\n      " + node + "\n"
    code, _, err = run(capsys, "validate", spec_file(lib, "lib.yaml"))
    assert code == 1 and "hint: did you mean 'when'?" in err, err


# -- an error a --set causes names the --set ---------------------------------------------------

def test_an_error_in_the_base_file_names_the_set_that_caused_it(capsys):
    code, _, err = run(capsys, "validate", SPECS / "wrn_cifar.yaml", "--set", "k=0", "--set", "dropout=0.1")
    lines = err.splitlines()
    assert code == 1
    assert lines[0].startswith("specs/wrn_cifar.yaml:") and "attribute 'out' of conv" in lines[0]
    assert "  with --set k=0 --set dropout=0.1" in lines
    code, _, err = run(capsys, "validate", SPECS / "resnet50.yaml", "--set", "layers=[3, 4, 6]")
    assert code == 1 and "index 3 out of range" in err and err.splitlines()[1] == "  with --set layers=[3, 4, 6]"
    with pytest.raises(archspec.SpecErrors) as e:
        archspec.analyze(archspec.load(str(SPECS / "wrn_cifar.yaml"), k=0))
    assert str(e.value).splitlines()[3] == "  with k=0"


def test_an_error_at_the_set_itself_does_not_repeat_it(capsys):
    code, _, err = run(capsys, "validate", SPECS / "wrn_cifar.yaml", "--set", "k=abc")
    assert code == 1 and err.startswith("--set k=abc: error:") and "with --set" not in err


# -- a repeat in a repeat names its steps as written ---------------------------------------------

NESTED = HEAD + """nodes:
  - features:
      - repeat: 2
        node:
          repeat: 2
          index: j
          name: "NAME"
          node: {op: conv, out: 8, k: 3, pad: 1}
  - flatten
"""


def test_a_named_inner_repeat_in_a_group_builds_the_names_as_written(spec_file):
    g = archspec.analyze(spec_file(NESTED.replace("NAME", "conv${i + 1}_${j + 1}")))
    assert [n for n in g.nodes if n != "flatten"] == [
        "features.conv1_1", "features.conv1_2", "features.conv2_1", "features.conv2_2"]


def test_an_inner_template_that_repeats_a_name_is_a_located_error(capsys, spec_file):
    code, _, err = run(capsys, "validate", spec_file(NESTED.replace("NAME", "conv${j + 1}")))
    assert code == 1 and "net.yaml:9:17: error: features: duplicate name 'conv1' from repeat" in err


def test_an_unnamed_inner_repeat_still_numbers_its_steps(spec_file):
    g = archspec.analyze(spec_file(HEAD + "nodes:\n  - {repeat: 2, node: {repeat: 2, index: j, node: relu}}\n"))
    assert list(g.nodes) == ["0.0", "0.1", "1.0", "1.1"]


# -- `input` in a node's when: is that node's input ------------------------------------------

TRAP = HEAD + """blocks:
  res:
    params: {out: int}
    nodes:
      - conv1: {op: conv, out: "${out}", k: 3, pad: 1}
      - proj: {op: conv, out: "${out}", k: 1, when: "${WHEN.channels != out}"}
      - {op: add, in: [conv1, proj]}
nodes:
  - block: {use: res, out: 16}
"""


def test_input_in_a_nodes_when_that_differs_from_block_input_is_a_warning(capsys, spec_file):
    path = spec_file(TRAP.replace("WHEN", "input"))
    code, _, err = run(capsys, "validate", path)
    assert code == 0
    assert ("net.yaml:8:53: warning: block.proj: when: ${input.channels != out} is false for proj's own "
            "input (16, 8, 8); for the block's incoming tensor, block_input (3, 8, 8), it is true") in err
    assert "hint: in a node's when:, input is the node's own input; write block_input for the block's" in err
    code, _, err = run(capsys, "validate", path, "--strict")
    assert code == 1
    fixed = spec_file(TRAP.replace("WHEN", "block_input").replace("k: 1, when", "k: 1, in: input, when"))
    code, _, err = run(capsys, "validate", fixed)
    assert code == 0 and "warning" not in err
    assert archspec.analyze(fixed).nodes["block.proj"].shape == (16, 8, 8)


def test_the_shape_error_a_when_input_trap_causes_names_block_input(capsys, spec_file):
    text = TRAP.replace("WHEN", "input").replace("in: [conv1, proj]", "in: [proj, input]")
    code, _, err = run(capsys, "validate", spec_file(text))
    assert code == 1 and "block.add: cannot add (16, 8, 8) and (3, 8, 8)" in err
    hint = next(line for line in err.splitlines() if line.startswith("  hint:"))
    assert hint.startswith("  hint: 'proj' was dropped: when: ${input.channels != out} is false for proj's own")
    assert "block_input" in hint


# -- the schema takes every form the loader takes ---------------------------------------------

def _spec_files() -> list:
    """Every spec file shipped or used by the tests: specs/, examples/ and tests/ fixtures."""
    found = [*SPECS.rglob("*.yaml"), *(ROOT / "examples").rglob("*.yaml"), *(ROOT / "tests").rglob("*.yaml")]
    return sorted(found)


FORMS = [
    '{op: "${act}"}', '{op: "${act}", in: input}', 'a: {op: "${act}", when: "${n > 1}"}',
    'a: {op: "${act}", negative_slope: 0.1}', 'a: {op: conv, out: "${n}", k: [1, "${n}"]}',
    'a: {op: add, in: [input, input], weights: [1, "${n / 10}"]}', 'a: {use: "${blk}", planes: 4}',
    'a: "${act}"', '"${act}"', 's: {seq: [{repeat: "${n}", node: [relu, {op: dropout, p: 0.1}], when: true}]}',
    '{repeat: "${n}", name: "r${i}", node: {op: conv, out: 4, k: [1, 1]}, when: "${n > 0}"}',
    'a: {op: concat, in: [input, input], when: false, else: input}', 'a: {op: add, in: "${[\'input\', \'input\']}"}',
]


@functools.cache
def _validator():
    import jsonschema

    from archspec.frontend.schema import json_schema
    return jsonschema.Draft202012Validator(json_schema())


def _schema_problems(text: str) -> list[str]:
    import yaml
    return [e.message[:200] for e in _validator().iter_errors(yaml.safe_load(text))]


@pytest.mark.slow          # every file analysed (tests/test_plain_yaml.py checks the shipped specs too)
def test_every_spec_file_that_loads_fits_the_schema():
    """Every spec file in the repository that loads fits the schema."""
    files = _spec_files()
    assert len(files) > 60
    for path in files:
        try:
            spec = archspec.load(str(path), library_ok=True)
            if spec.doc.nodes is not None:
                archspec.analyze(spec)
        except archspec.SpecErrors:
            continue            # a spec with a mistake on purpose (examples/broken.yaml, a user op)
        assert not _schema_problems(path.read_text()), str(path)


def test_the_schema_takes_every_node_form_the_loader_takes(tmp_path):
    """Each node form, in a spec that loads, fits the schema."""
    for form in FORMS:
        text = (HEAD + "params: {act: leaky_relu, n: 2, blk: b}\nblocks:\n  b:\n    params: {planes: 4}\n"
                "    nodes: [{op: conv, out: \"${planes}\", k: 1}]\nnodes:\n  - " + form +
                "\n  - {op: scale, factor: \"${n + len(act + blk)}\"}\n")
        (tmp_path / "form.yaml").write_text(text)
        archspec.analyze(str(tmp_path / "form.yaml"))
        assert not _schema_problems(text), form


def test_the_readmes_root_cause_example_is_the_real_output(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, _, err = run(capsys, "validate", "examples/variant_typo.yaml")
    assert code == 1 and err.startswith("examples/variant_typo.yaml:7:12: error: layer1: block 'stage' has no")
    assert f"$ archspec validate examples/variant_typo.yaml\n{err.strip()}\n```" in (ROOT / "README.md").read_text()


BLOCK_RULE = HEAD + """params: {width: 8}
blocks:
  grouped:
    params: {out: int, groups: 1}
    constraints:
      - {check: "out % groups == 0", message: "the width splits into equal groups"}
      - {check: "${input.height >= groups}", message: "no more groups than rows"}
    nodes:
      - {op: conv, out: "${out}", k: 1, groups: "${groups}"}
nodes:
  - a: {use: grouped, out: "${width}", groups: 1}
  - b: {use: grouped, out: "${width}", groups: GROUPS}
"""


def test_a_blocks_constraint_is_checked_at_each_instance(capsys, spec_file):
    assert archspec.analyze(spec_file(BLOCK_RULE.replace("GROUPS", "4"))).nodes["b.conv"].shape == (8, 8, 8)
    code, _, err = run(capsys, "validate", spec_file(BLOCK_RULE.replace("GROUPS", "3")))
    assert code == 1
    assert error_lines(err) == ["net.yaml:14:48: error: b: the width splits into equal groups, got groups = 3, out = 8"]
    code, _, err = run(capsys, "validate", spec_file(BLOCK_RULE.replace("GROUPS", "4")), "--set", "width=6")
    assert code == 1 and "net.yaml:14:48: error: b: the width splits into equal groups, got groups = 4, out = 6" in err
    assert "  with --set width=6" in err
    code, _, err = run(capsys, "validate", spec_file(BLOCK_RULE.replace("GROUPS", "16").replace("h: 8}", "h: 16}")))
    assert code == 1
    assert error_lines(err) == ["net.yaml:14:48: error: b: no more groups than rows, got groups = 16"]
    assert "hint: block 'grouped' requires ${input.height >= groups} (net.yaml:9:17)" in err


def test_a_set_that_changes_the_network_names_it_a_variant(capsys):
    """`--set k=4` on WRN-28-10 builds WRN-28-4: its title must not say WRN-28-10. A --set that
    leaves every value as it is keeps the title; the file's paper is shown as the base's."""
    code, out, _ = run(capsys, "summary", SPECS / "wrn28_10.yaml", "--set", "k=4", "--depth", "1")
    assert code == 0 and out.splitlines()[0] == "wrn28_10: variant of Wide ResNet-28-10: k=4"
    code, out, _ = run(capsys, "summary", SPECS / "wrn28_10.yaml", "--set", "k=10", "--depth", "1")
    assert out.splitlines()[0] == "wrn28_10: Wide ResNet-28-10 (CIFAR)"
    g = archspec.analyze(str(ROOT / "examples/guide/resnext50_32x4d.yaml"), groups=16)
    assert g.meta.title == "variant of ResNet-50: groups=16, base_width=4"
    assert g.meta.variant_of == "ResNet-50" and g.meta.paper.startswith("base ResNet-50: He et al.")
