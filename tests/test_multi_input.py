"""Blocks with several named inputs (DLA's tree root, HRNet's exchange between resolutions) and
list-laid members (Res2Net's convs.0 / bns.0): each against a hand-written or timm module with the
same weights, and each mistake a located error."""
from pathlib import Path

import pytest
import torch
from source_check import check_generated_source
from test_plain_yaml import assert_valid, yaml12
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.errors import SpecErrors
from archspec.pytorch.compiler import check, compile, source
from archspec.reports.render import view
from archspec.reports.report import rows

GUIDE = Path(__file__).resolve().parent.parent / "examples" / "guide"     # the specs docs/authoring.md shows

FUSION = (GUIDE / "fusion_net.yaml").read_text()


class Exchange(nn.Module):
    def __init__(self, high: int, low: int):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(high, low, 3, 2, 1, bias=False), nn.BatchNorm2d(low))
        self.relu = nn.ReLU()

    def forward(self, high, low):
        return self.relu(low + self.down(high))


class FusionNet(nn.Module):
    """The spec above written by hand, with timm's own DLA root."""

    def __init__(self):
        super().__init__()
        from timm.models.dla import DlaRoot
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.a = nn.Conv2d(16, 16, 3, padding=1)
        self.low = nn.Conv2d(16, 32, 3, 2, 1)
        self.tree = nn.ModuleList([DlaRoot(32, 16, 1, shortcut=True) for _ in range(2)])
        self.merge = Exchange(16, 32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        stem = self.stem(x)
        y = self.a(stem)
        low = self.low(stem)
        for root in self.tree:
            y = root([y, stem])
        y = self.merge(y, low)
        return self.fc(y.mean((2, 3)))


def macs(model: nn.Module, shape: tuple) -> int:
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


def assert_same_outputs(ours: nn.Module, theirs: nn.Module, x: torch.Tensor) -> None:
    """Equal outputs in eval and in training mode (batch statistics), to float tolerance."""
    for mode in (False, True):
        ours.train(mode)
        theirs.train(mode)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_multi_input_blocks_equal_a_hand_written_module_with_the_same_weights(spec_file):
    path = spec_file(FUSION)
    g = archspec.analyze(path)
    assert g.nodes["tree.1.cat"].inputs == ["tree.0.relu", "stem"]      # carried, then the fixed input
    assert g.nodes["merge.add"].inputs == ["low", "merge.down.1"]
    ours, theirs = compile(path), FusionNet()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict(), strict=True)
    # convs 448 + 2,320 + 4,640, two roots of 544, the exchange 4,672, fc 330
    assert sum(p.numel() for p in theirs.parameters()) == g.params == 13_498
    assert macs(theirs.eval(), (3, 16, 16)) == g.macs == 1_552_704
    torch.manual_seed(0)
    x = torch.randn(2, 3, 16, 16)
    assert_same_outputs(ours, theirs, x)
    assert check(path).ok


def test_a_block_forward_takes_its_inputs_by_their_names(spec_file):
    text = source(spec_file(FUSION))
    assert "def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:" in text
    assert "def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:" in text
    assert "self.merge(" in text and "self.tree[" not in text
    # the repeat's steps, in a class of its own, take the same names
    assert 'x = getattr(self, "0")(x, skip)' in text


def test_a_summary_and_a_diagram_show_list_members_each_on_its_own_row(spec_file):
    g = archspec.analyze(spec_file(RES2))
    names = [r.name for r in rows(g, depth=1)]
    assert names[4:7] == ["convs.0", "bns.0", "sp0"] and "convs" not in names
    assert [b.id for b in view(g, 1).boxes] == names        # a diagram's boxes alike


def errors(spec_file, text: str) -> list[str]:
    with pytest.raises(SpecErrors) as e:
        archspec.analyze(spec_file(text))
    return [f"{d.loc.line}:{d.loc.col}: {d.message}" for d in e.value.diagnostics]


@pytest.mark.parametrize("old, new, expected", [
    ("in: [a, stem]", "in: [low, stem]", "33:12: block 'root' input 'x': expected 16 channels, got 32"),
    ("in: {low: low}", "in: {low: a}", "35:38: block 'exchange' input 'low': expected height 8, got 16"),
    ("in: {low: low}", "in: {lo: low}", "35:33: block 'exchange' has no input 'lo'"),
    ("in: {low: low}", "in: [tree]", "35:32: block 'exchange' takes 2 inputs (high, low), got 1"),
    ("skip: {height", "stem: {height", "12:35: undefined input 'skip'"),
    ("      - relu\n  exchange:", "      - skip: relu\n  exchange:", "16:9: 'skip' is an input of the block"),
    ("{op: linear, out: 10}", "{op: linear, out: 10, in: {x: flatten}}",
     "38:35: in: by name binds a block's inputs; op linear takes a list of inputs"),
    ("x: {channels", "self: {channels", "9:7: block input name 'self' is not allowed"),
])
def test_input_mistakes_are_located_errors(spec_file, old, new, expected):
    text = FUSION.replace(old, new, 1)
    assert text != FUSION
    found = errors(spec_file, text)
    assert any(e.startswith(expected) for e in found), found


def test_an_input_shape_is_checked_where_the_block_is_used(spec_file):
    # the carried input comes out 8x8, the fixed one 16x16: the declared height names the fixed one
    text = FUSION.replace("  - a: {op: conv, out: 16, k: 3, pad: 1}",
                          "  - a: {op: conv, out: 16, k: 3, pad: 1, stride: 2}")
    assert errors(spec_file, text)[0] == "33:15: block 'root' input 'skip': expected height 8, got 16"


# -- list-laid members: Res2Net -------------------------------------------------------------

RES2 = (GUIDE / "res2net_unit.yaml").read_text()


def test_list_members_load_timms_res2net_bottleneck_strictly(spec_file):
    from timm.models.res2net import Bottle2neck
    path = spec_file(RES2)
    torch.manual_seed(0)
    theirs = Bottle2neck(64, 16, base_width=26, scale=4, norm_layer=nn.BatchNorm2d)
    ours = compile(path)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(archspec.analyze(path).state_dict_shapes()) == list(theirs.state_dict())
    for m in theirs.modules():          # batch norms that are not the identity
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 64, 16, 16)
    assert_same_outputs(ours, theirs, x)


@pytest.mark.parametrize("text", [FUSION, RES2], ids=["fusion_net", "res2net_unit"])
def test_the_specs_fit_the_schema_and_check(spec_file, text):
    assert_valid(yaml12(text), "guide")
    assert check(spec_file(text)).ok


def test_list_members_are_an_nn_module_list_used_by_index(spec_file):
    text = source(spec_file(RES2))
    assert "self.convs = nn.ModuleList([nn.Conv2d(6, 6, 3, padding=1, bias=False) for _ in range(3)])" in text
    assert "self.bns = nn.ModuleList([nn.BatchNorm2d(6) for _ in range(3)])" in text
    assert "out = self.convs[1](out)" in text
    assert '("convs.0", "bns.0")' in text                 # fuse() folds them where they are
    check_generated_source(text)                          # the list of equal members is in the whitelist
    members = "for _ in range(3)])"
    for evil in [text.replace(members, "for _ in range(3) if _])"), text.replace(members, "for x in range(3)])"),
                 text.replace(members, "for _ in self.children()])"),
                 text.replace("nn.ModuleList([nn.BatchNorm2d(6)", "list([nn.BatchNorm2d(6)")]:
        assert evil != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(evil)


def test_members_from_a_repeat_nested_lists_and_gaps(spec_file):
    path = spec_file("""archspec: 1
input: [8, 8, 8]
nodes:
  - stem: {op: conv, out: 8, k: 1}
  - repeat: 3
    name: "convs[${i}]"
    node: {op: conv, out: 8, k: 3, pad: 1}
  - heads[1][0]: {op: conv, out: 4, k: 1}
  - heads[0][1]: {seq: [{op: conv, out: 4, k: 1}, batchnorm], in: stem}
  - {op: add, in: ["heads[0][1]", "heads[1][0]"]}
""")
    g = archspec.analyze(path)
    assert g.scopes["convs"].kind == "list" and g.scopes["heads.0"].kind == "list"
    assert g.nodes["heads.1.0"].inputs == ["convs.2"]
    model = compile(path)
    assert model.heads[0][0] is None and isinstance(model.heads[0][1], nn.Sequential)
    assert list(model.state_dict()) == list(g.state_dict_shapes())          # by index, not by first use
    assert list(model.state_dict())[-2:] == ["heads.1.0.weight", "heads.1.0.bias"]
    assert check(path).ok


@pytest.mark.parametrize("nodes, expected", [
    ("  - convs: {op: conv, out: 8, k: 1}\n  - convs[0]: {op: conv, out: 8, k: 1}\n",
     "5:5: 'convs[0]' is a member of list 'convs', but 'convs' names a node of this scope"),
    ("  - convs[0]: {op: conv, out: 8, k: 1}\n  - convs: {op: conv, out: 8, k: 1}\n",
     "4:5: 'convs[0]' is a member of list 'convs', but 'convs' names a node of this scope"),
    ("  - relu[0]: {op: conv, out: 8, k: 1}\n  - relu\n",
     "5:5: 'relu' names a list of members (relu[0], ...) in this scope"),
    ("  - convs[0]: {op: conv, out: 8, k: 1}\n  - convs[0][1]: {op: conv, out: 8, k: 1}\n",
     "5:5: 'convs[0][1]': 'convs.0' is both a member and a list"),
    ("  - convs[x]: {op: conv, out: 8, k: 1}\n",
     "4:5: 'convs[x]' cannot be a node name"),
    ("  - def[0]: {op: conv, out: 8, k: 1}\n",
     "4:5: 'def[0]' cannot be a node name: 'def' is reserved"),
])
def test_list_member_mistakes_are_located_errors(spec_file, nodes, expected):
    found = errors(spec_file, "archspec: 1\ninput: [8, 8, 8]\nnodes:\n" + nodes)
    assert any(e.startswith(expected) for e in found), found


def test_a_carried_concat_grows_the_first_input_and_keeps_the_others(spec_file):
    g = archspec.analyze(spec_file("""archspec: 1
input: [3, 8, 8]
blocks:
  mix:                         # a dense layer that also reads a fixed side input
    inputs: [x, side]
    nodes:
      - conv: {op: conv, out: "${side.channels}", k: 1}
      - {op: add, in: [conv, side]}
nodes:
  - a: {op: conv, out: 4, k: 1}
  - side: {op: conv, out: 4, k: 1, in: input}
  - dense: {repeat: 2, carry: concat, in: [a, side], node: {use: mix}}
"""))
    assert g.nodes["dense.1.conv"].in_shapes == [(8, 8, 8)]            # a and step 0, concatenated
    assert g.nodes["dense.1.add"].inputs == ["dense.1.conv", "side"]
    assert g.shape_of(g.outputs["output"].node) == (12, 8, 8)


def test_list_members_fold_with_fuse(spec_file):
    path = spec_file(RES2)
    model = compile(path).eval()
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.randn(1, 64, 16, 16)
    with torch.no_grad():
        before = model(x)
        model.fuse()
        assert isinstance(model.bns[2], nn.Identity) and model.convs[2].bias is not None
        torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-5)


def test_a_dropped_use_of_several_inputs_stands_for_the_one_else_names(spec_file):
    text = FUSION.replace("  - merge: {use: exchange, in: {low: low}}",
                          "  - merge: {use: exchange, in: {low: low}, when: false, else: low}")
    g = archspec.analyze(spec_file(text))
    assert "merge.add" not in g.nodes and g.nodes["global_avgpool"].inputs == ["low"]
    text = FUSION.replace("  - merge: {use: exchange, in: {low: low}}",
                          "  - merge: {use: exchange, in: [tree, low], when: false}")
    assert errors(spec_file, text) == ["35:51: a node of 2 inputs dropped by 'when:' must say which input stands "
                                       "for it"]
