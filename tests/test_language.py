"""The spec language, feature by feature: each expands to the graph it should."""
import pytest
from paths import SPECS

import archspec
from archspec.errors import SpecErrors
from archspec.frontend.expr import ShapeView, resolve

HEAD = "archspec: 1\ninput: [3, 8, 8]\n"


def graph(spec_file, text, **params):
    return archspec.analyze(archspec.load(spec_file(text), **params))


def test_sequential_by_default_and_named_branches(spec_file):
    g = graph(spec_file, HEAD + """nodes:
  - a: {op: conv, out: 4, k: 1}
  - relu
  - b: {in: a, op: conv, out: 2, k: 1}
  - {op: concat, in: [a, b]}
""")
    assert g.nodes["relu"].inputs == ["a"]
    assert g.nodes["b"].inputs == ["a"]
    assert g.nodes["concat"].inputs == ["a", "b"] and g.nodes["concat"].shape == (6, 8, 8)
    assert [w.path for w in g.warnings] == ["relu"]        # computed, never used


def test_forward_reference_is_ordered_by_dependency(spec_file):
    g = graph(spec_file, HEAD + """nodes:
  - a: {in: b, op: relu}
  - b: {in: input, op: sigmoid}
  - {op: add, in: [a, b]}
""")
    assert list(g.nodes) == ["b", "a", "add"]
    assert g.outputs["output"].node == "add"


def test_when_drops_a_node_which_then_stands_for_its_input():
    g = archspec.analyze(str(SPECS / "resnet18.yaml"))
    assert "layer1.0.downsample.0" not in g.nodes             # shape unchanged: identity shortcut
    assert g.nodes["layer1.0.add"].inputs == ["layer1.0.bn2", "maxpool"]
    assert g.nodes["layer2.0.downsample.0"].label == "conv 1x1/2, 128"
    assert g.nodes["layer2.0.add"].inputs == ["layer2.0.bn2", "layer2.0.downsample.1"]


def test_repeat_with_index_dependent_params_and_torchvision_names():
    g = archspec.analyze(str(SPECS / "resnet50.yaml"))
    assert g.nodes["layer3.0.conv2"].attrs.stride == (2, 2)
    assert g.nodes["layer3.1.conv2"].attrs.stride == (1, 1)
    assert [s for s in g.scopes if s.startswith("layer3.") and s.count(".") == 1] == \
        [f"layer3.{i}" for i in range(6)]
    assert g.scopes["layer3.4"].block == "bottleneck" and g.scopes["layer3.4"].repeat == 4


def test_repeat_carry_concat_grows_like_densenet():
    g = archspec.analyze(str(SPECS / "densenet121.yaml"))
    block1 = g.scopes["features.denseblock1"]
    assert g.shape_of(block1.output) == (64 + 6 * 32, 56, 56)
    assert g.nodes["features.denseblock1.denselayer3.norm1"].in_shapes == [(64 + 2 * 32, 56, 56)]
    assert g.nodes["features.transition1.conv"].shape == (128, 56, 56)   # floor(256 * 0.5)


def test_positional_args_follow_the_param_order():
    g = archspec.analyze(str(SPECS / "googlenet.yaml"))
    assert g.nodes["inception4e.branch3.1.conv"].shape == (128, 14, 14)
    assert g.nodes["inception4e.branch2.0.conv"].attrs.out == 160


def test_extends_merges_params_and_blocks(spec_file):
    spec_file(HEAD + """params: {width: 4, act: relu}
blocks:
  body:
    nodes: [{op: conv, out: "${width}", k: 1}, "${act}"]
nodes:
  - b: body
""", "base.yaml")
    g = graph(spec_file, "archspec: 1\nextends: base.yaml\nparams: {width: 6}\n"
                         "blocks:\n  body:\n    nodes: [{op: conv, out: \"${width * 2}\", k: 1}, sigmoid]\n")
    assert g.nodes["b.conv"].shape == (12, 8, 8) and "b.sigmoid" in g.nodes


def test_library_params_are_overridable_knobs():
    # groups and base_width are declared by the ResNet block library
    g = archspec.analyze(str(SPECS / "resnet50.yaml"), groups=32, base_width=4)
    assert g.params == 25028904          # torchvision resnext50_32x4d


def test_block_level_when_and_seq_body(spec_file):
    g = graph(spec_file, HEAD + """blocks:
  proj:
    params: {out: int}
    when: ${input.channels != out}
    seq: [{op: conv, out: "${out}", k: 1}, batchnorm]
nodes:
  - p1: {use: proj, out: 3}
  - p2: {use: proj, out: 5}
""")
    assert "p1.0" not in g.nodes and g.nodes["p2.0"].inputs == ["input"]
    assert g.nodes["p2.1"].op.name == "batchnorm"


def test_outputs_and_training_only_heads():
    g = archspec.analyze(str(SPECS / "googlenet.yaml"))
    assert list(g.outputs) == ["logits", "aux1", "aux2"]
    assert g.outputs["aux2"].node == "aux2.fc2" and g.outputs["aux2"].train_only
    assert not g.outputs["logits"].train_only
    assert "aux1.fc1" not in {n.name for n in g.inference_nodes()}


def test_params_can_be_expressions(spec_file):
    g = graph(spec_file,
              HEAD + "params: {k: 2, width: \"${16 * k}\"}\nnodes:\n  - c: {op: conv, out: \"${width}\", k: 1}\n")
    assert g.nodes["c"].shape == (32, 8, 8)


def test_keyword_params_override(spec_file):
    g = graph(spec_file, HEAD + "params: {w: 4}\nnodes:\n  - c: {op: conv, out: \"${w}\", k: 1}\n", w=7)
    assert g.nodes["c"].shape == (7, 8, 8)


def test_block_param_types_are_checked(spec_file):
    with pytest.raises(SpecErrors, match="parameter 'n' of block 'b' expects int, got str 'x'"):
        graph(spec_file, HEAD + "blocks:\n  b:\n    params: {n: int}\n    nodes: [relu]\nnodes:\n  - {use: b, n: x}\n")


def test_names_must_be_identifiers(spec_file):
    with pytest.raises(SpecErrors, match="'class' cannot be a node name"):
        graph(spec_file, HEAD + "nodes:\n  - class: relu\n")


@pytest.mark.parametrize("text,env,value", [
    ("${a * 2 + 1}", {"a": 3}, 7),
    ("${a // 2}", {"a": 7}, 3),
    ("${x if i == 0 else 1}", {"x": 2, "i": 0}, 2),
    ("${x if i == 0 else 1}", {"x": 2, "i": 3}, 1),
    ("${floor(d + a / n)}", {"d": 16, "a": 48, "n": 18}, 18),
    ("${min(a, 3)}", {"a": 5}, 3),
    ("${layers[2]}", {"layers": [3, 4, 6, 3]}, 6),
    ("${input.channels // 4}", {"input": ShapeView((64, 8, 8))}, 16),
    ("${not (a > 1 and a < 3)}", {"a": 2}, False),
    ("layer${i + 1}", {"i": 0}, "layer1"),
    ("${a}", {"a": [1, 2]}, [1, 2]),
])
def test_expressions(text, env, value):
    assert resolve(text, env) == value


def test_factorised_kernels_through_block_params(spec_file):
    # Inception v3's 1x7 / 7x1 convs: a param whose default is an int also takes [h, w]
    g = graph(spec_file, "archspec: 1\ninput: [8, 17, 17]\nblocks:\n  cbr:\n"
                         "    params: {out: int, k: 1, pad: 0}\n"
                         "    nodes: [{op: conv, out: \"${out}\", k: \"${k}\", pad: \"${pad}\"}, batchnorm, relu]\n"
                         "nodes:\n  - a: {use: cbr, out: 8, k: [1, 7], pad: [0, 3]}\n"
                         "  - b: {use: cbr, out: 8, k: [7, 1], pad: [3, 0]}\n")
    assert g.nodes["a.conv"].tensors[0].shape == (8, 8, 1, 7)
    assert g.nodes["b.conv"].shape == (8, 17, 17)
    assert g.macs == 2 * 8 * 8 * 7 * 17 * 17


def test_in_may_choose_its_input_by_expression():
    # WRN: the projection reads the pre-activated input; the identity shortcut the raw input
    g = archspec.analyze(str(SPECS / "wrn28_10.yaml"))
    assert g.nodes["block2.0.shortcut"].inputs == ["block2.0.relu1"]
    assert g.nodes["block2.0.add"].inputs == ["block2.0.conv2", "block2.0.shortcut"]
    assert g.nodes["block2.1.add"].inputs == ["block2.1.conv2", "block2.0.add"]
