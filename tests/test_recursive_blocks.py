"""A block that uses itself (specs/blocks/dla.yaml's `hda`, timm's recursive DlaTree): its `when:`s on
`levels` end the recursion, a tree of `levels` being two leaves and their root at 1 and two trees a
level shallower above, the children its last root aggregates passed down as one concatenated tensor
(`kids`). The oracle is timm's DlaTree and dla34, loading strictly with equal outputs."""
from pathlib import Path

import timm
import torch
from timm.models.dla import DlaBasic, DlaTree
from torch import nn

import archspec
from archspec.cli import main
from archspec.pytorch.emit import emit

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
GUIDE = ROOT / "examples" / "guide"


def _same(ours: nn.Module, theirs: nn.Module, x: torch.Tensor, prefix: str = "") -> None:
    """`theirs`'s weights, BN statistics drawn at random, load into `ours` strictly (keys under
    `prefix`) and give the same outputs."""
    torch.manual_seed(0)
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.running_var, 0.5, 2.0)
            nn.init.normal_(m.running_mean, 0, 0.1)
            nn.init.normal_(m.weight, 1, 0.1)
    state = {prefix + k: v for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {k: tuple(v.shape) for k, v in state.items()}
    ours.load_state_dict(state, strict=True)
    ours.eval(), theirs.eval()
    with torch.inference_mode():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_a_tree_of_three_levels_is_timm_s():
    """examples/guide/dla_tree.yaml: `hda` at levels 3 with a level root, timm's DlaTree(3, ...),
    whose last leaf's root takes five tensors: its two leaves', the bottom and the first trees'
    outputs of its two ancestors, passed down."""
    ours = archspec.compile(GUIDE / "dla_tree.yaml")
    theirs = DlaTree(3, DlaBasic, 16, 32, stride=2, level_root=True)
    assert "tree.tree2.tree2.root.conv.weight" in ours.state_dict()
    assert ours.state_dict()["tree.tree2.tree2.root.conv.weight"].shape == (32, 4 * 32 + 16, 1, 1)
    _same(ours, theirs, torch.randn(2, 16, 32, 32), "tree.")


def _dla34_recursive(spec_file) -> str:
    """specs/dla34.yaml with its levels 2..5 one recursive `hda` each, at timm's levels 1, 2, 2, 1."""
    text = (SPECS / "dla34.yaml").read_text().replace("use: blocks/dla.yaml", f"use: {SPECS / 'blocks' / 'dla.yaml'}")
    for k, (levels, root) in {2: (1, "false"), 3: (2, "true"), 4: (2, "true"), 5: (1, "true")}.items():
        line, = (line for line in text.splitlines() if line.startswith(f"  - level{k}:"))
        text = text.replace(line, f'  - level{k}: {{use: hda, levels: {levels}, out: "${{channels[{k}]}}", stride: 2, '
                                  f'level_root: {root}, in: [level{k - 1}, level{k - 1}]}}')
    return spec_file(text, "dla34_recursive.yaml")


def test_dla34_written_with_the_recursive_tree_is_timm_s(spec_file):
    path = _dla34_recursive(spec_file)
    g = archspec.analyze(path)
    assert g.params == 15_742_104
    _same(archspec.compile(path), timm.create_model("dla34", pretrained=False), torch.randn(1, 3, 64, 64))


def test_a_tree_too_deep_is_an_error_at_its_instance(capsys, spec_file):
    """The recursion is bounded by limits.MAX_SCOPE_DEPTH: a tree of 60 levels is an error at the
    node the block's instances nest too deep, the chain of instances cut short, down to the line
    that asks for it; no traceback."""
    text = (GUIDE / "dla_tree.yaml").read_text().replace("levels: 3", "levels: 60").replace(
        "../../specs/blocks/dla.yaml", str(SPECS / "blocks" / "dla.yaml"))
    assert main(["validate", spec_file(text)]) == 1
    err = capsys.readouterr().err
    assert "error: blocks and groups nested more than archspec's limit of 48 deep (does 'hda' use itself?)" in err
    assert f"{SPECS / 'blocks' / 'dla.yaml'}:" in err.splitlines()[0]
    assert "in block 'hda' instantiated at net.yaml:7:5 (<top>)" in err
    assert "Traceback" not in err and len(err.splitlines()) < 12


def test_positional_args_keep_their_expressions():
    """`args:` written as one `${...}` choosing a list by a test keeps, per parameter, the item the
    test chooses at the call (`levels - 1`, `out`), constants left out, as a named `${...}` does;
    a top instance given numbers keeps none."""
    g = archspec.analyze(GUIDE / "dla_tree.yaml")
    assert g.scopes["tree.tree1"].arg_exprs == {"levels": "levels - 1", "out": "out", "stride": "stride"}
    assert g.scopes["tree.tree2"].arg_exprs == {"levels": "levels - 1", "out": "out"}
    assert g.scopes["tree.tree1.tree1"].arg_exprs == {"levels": "levels - 1", "out": "out", "stride": "stride"}
    assert g.scopes["tree"].arg_exprs == {}


def test_a_leaf_s_root_width_is_written_from_its_parameters():
    """The root of two leaves concatenates their outputs: `Root(2 * out, out)`, walked from the
    leaves' `out` given positionally, not a product of the one instance's numbers (`out * stride`,
    64 = 32 * 2, wrong at stride 1)."""
    text = emit(archspec.analyze(GUIDE / "dla_tree.yaml"))
    assert "self.root = Root(2 * out, out)" in text
    assert "out * stride" not in text


def test_positional_args_listed_as_expressions(spec_file):
    """A list of `args:` whose items are `${...}` keeps each by its parameter: the file is the one
    the same arguments given by name make (`Pair(c, 2 * c)`, not `Pair(8, 16)`)."""
    text = """archspec: 1
name: listed
input: [3, 8, 8]
blocks:
  pair:
    params: {a: int, b: int}
    nodes:
      - conv1: {op: conv, out: "${a}", k: 1}
      - conv2: {op: conv, out: "${b}", k: 1}
  outer:
    params: {c: int}
    nodes:
      - inner: {use: pair, args: ["${c}", "${2 * c}"]}
      - conv: {op: conv, out: 4, k: 1}
nodes:
  - one: {use: outer, c: 8}
"""
    g = archspec.analyze(spec_file(text))
    assert g.scopes["one.inner"].arg_exprs == {"a": "c", "b": "2 * c"}
    by_name = text.replace('args: ["${c}", "${2 * c}"]', 'a: "${c}", b: "${2 * c}"')
    named = archspec.analyze(spec_file(by_name, "n.yaml"))
    assert "self.inner = Pair(c, 2 * c)" in emit(g)
    assert emit(g) == emit(named)
