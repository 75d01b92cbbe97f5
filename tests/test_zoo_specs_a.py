"""Res2Net-50 26w x 4s, DPN-68 and SKNet-50 (issue 20's hand-written zoo specs) as their papers
describe them, and their families a `--set` away, against timm 1.0.31's models.

The three specs themselves are checked as every spec with a `peer:` is: params, MACs and
state_dict keys and shapes against tests/reference/implementations.json (test_specs.py),
equal eval outputs and one equal training step with timm's weights (test_peer_equiv.py). Here:
the figures the papers' structure fixes (DPN's stage widths, Res2Net's subsets, SKNet's
softmax across the paths), the family members a --set makes (Res2Net-101, Res2NeXt-50, DPN-92,
DPN-98, DPN-131, SKNet-101) exact against timm's own models (fast: built on the meta device),
and (slow) the file `archspec build` writes loading timm's weights strictly with eval outputs
equal within 1e-4 of the output's scale at 64x64 (today equal to the last bit)."""
from __future__ import annotations

import pytest
import torch
from paths import SPECS
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.cli.commands import main
from archspec.errors import SpecErrors
from archspec.pytorch.compiler import load_source, source

RES2NET, DPN, SKNET = (str(SPECS / f"{n}.yaml") for n in ("res2net50_26w_4s", "dpn68", "skresnet50"))
DPN92 = {"small": False, "stem": 64, "k_r": 96, "depths": [3, 4, 20, 3], "incs": [16, 32, 24, 128]}
# (spec, --set values, timm's model: its name, or where timm registers none (SKNet-101) the kwargs of the
# ResNet class skresnet50 is built from)
FAMILY = {
    "res2net101_26w_4s": (RES2NET, {"layers": [3, 4, 23, 3]}, "res2net101_26w_4s"),
    "res2next50": (RES2NET, {"groups": 8, "base_width": 4}, "res2next50"),
    "res2net50_26w_8s": (RES2NET, {"scale": 8}, "res2net50_26w_8s"),        # the ladder a repeat of s - 1 steps
    "res2net50_14w_8s": (RES2NET, {"scale": 8, "base_width": 14}, "res2net50_14w_8s"),
    "res2net50_26w_6s": (RES2NET, {"scale": 6}, "res2net50_26w_6s"),
    "dpn92": (DPN, DPN92, "dpn92"),
    "dpn98": (DPN, {**DPN92, "stem": 96, "k_r": 160, "groups": 40, "depths": [3, 6, 20, 3],
                    "incs": [16, 32, 32, 128]}, "dpn98"),
    "dpn131": (DPN, {**DPN92, "stem": 128, "k_r": 160, "groups": 40, "depths": [4, 8, 28, 3],
                     "incs": [16, 32, 32, 128]}, "dpn131"),
    "skresnet101": (SKNET, {"layers": [3, 4, 23, 3]}, {"layers": [3, 4, 23, 3]}),
    # M = 3 paths (3x3, 3x3 dilated 2 and 3: kernels 3, 5, 7), widths divisible by M for the split input
    "skresnet50_3paths": (SKNET, {"sk_paths": 3, "base_width": 48},
                          {"layers": [3, 4, 6, 3], "base_width": 48,
                           "block_args": {"sk_kwargs": {"split_input": True, "kernel_size": [3, 5, 7]}}}),
}


def _timm(model, device="meta"):
    """timm's model, by name or as skresnet50's class with other kwargs, built on `device`."""
    timm = pytest.importorskip("timm", reason="the peers need timm: pip install -e '.[test]'")
    with torch.device(device):
        if isinstance(model, str):
            return timm.create_model(model).eval()
        from timm.models.resnet import ResNet
        from timm.models.sknet import SelectiveKernelBottleneck
        return ResNet(block=SelectiveKernelBottleneck, zero_init_last=False,
                      **{"block_args": {"sk_kwargs": {"split_input": True}}, **model}).eval()


def _macs(model, side=224) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, 3, side, side, device="meta"))
    return counter.get_total_flops() // 2


DEEP = {"res2net101_26w_4s", "skresnet101", "dpn131"}     # the deepest members: the slow lane's (1 s each)
# and members of the same form as a fast one, other numbers in the same places (Res2Net-50 6s as 8s, DPN-98
# as DPN-92): the slow lane's too
ALIKE = {"res2net50_26w_6s", "dpn98"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in DEEP | ALIKE else n
                                  for n in FAMILY])
def test_a_family_member_is_timms(name):
    """params, FlopCounterMode MACs, state_dict keys and shapes in order: equal."""
    spec, values, model = FAMILY[name]
    g = archspec.analyze(spec, **values)
    ref = _timm(model)
    assert g.params == sum(p.numel() for p in ref.parameters())
    assert g.eval_counts()["macs"] == _macs(ref)
    assert [(k, tuple(s)) for k, s in g.state_dict_shapes().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]


def test_dpn68_stage_widths_are_residual_plus_dense():
    """Each stage ends at bw + (depth + 2) x inc channels: the first block's projection gives the
    dense path 2 x inc, every block adds inc (Chen et al. 2017, Sec. 3.3): 144, 320, 704, 832."""
    g = archspec.analyze(DPN)
    ends = [g.nodes[f"features.conv{s + 2}_{d}.concat"].shape[0] for s, d in enumerate((3, 4, 12, 3))]
    assert ends == [64 + 5 * 16, 128 + 6 * 32, 256 + 14 * 32, 512 + 5 * 64] == [144, 320, 704, 832]
    assert g.nodes["classifier"].params == 832 * 1000 + 1000


def test_res2net_subsets_and_module_lists():
    """w = 26 at 64 planes, s = 4 subsets: conv1 gives 104 channels, three 3x3s of 26 each, kept in
    nn.ModuleLists convs / bns as timm's Bottle2neck; a stage's first block pools the last subset."""
    g = archspec.analyze(RES2NET)
    assert g.nodes["layer1.0.conv1"].shape[0] == 104 and g.nodes["layer4.2.conv1"].shape[0] == 8 * 104
    assert [g.nodes[f"layer2.1.convs.{i}"].shape for i in range(3)] == [(52, 28, 28)] * 3
    assert g.scopes["layer1.0.convs"].kind == "list"
    assert "layer2.0.pool" in g.nodes and "layer2.1.pool" not in g.nodes      # the first block only,
    assert g.nodes["layer1.0.pool"].attrs.stride == (1, 1)      # unstrided in layer1, as timm's is_first (a projection)
    assert "layer2.0.sum2" not in g.nodes and "layer2.1.sum2" in g.nodes      # its ladder has no adds
    assert "layer2.1.sum1" not in g.nodes       # nor has any block's first step (no y0: dropped as unrolled)
    text = source(RES2NET)
    assert "self.convs = nn.ModuleList(" in text and "self.bns = nn.ModuleList(" in text


def test_sknet_selects_with_a_softmax_across_the_paths():
    """Two paths stacked on a branch axis, d = make_divisible(C / 16, 8) attention channels, and
    the softmax over axis 0 of the (2, C, 1, 1) selection: a + b = 1 per channel, as Eq. 5."""
    g = archspec.analyze(SKNET)
    assert g.nodes["layer1.0.conv2.branches"].shape == (2, 64, 56, 56)
    assert [g.nodes[f"layer{s}.0.conv2.attn.fc_reduce"].shape[0] for s in (1, 2, 3, 4)] == [8, 8, 16, 32]
    softmax = g.nodes["layer3.1.conv2.attn.softmax"]
    assert softmax.shape == (2, 256, 1, 1) and softmax.attrs.axis == 0


@pytest.mark.parametrize("spec,values,where", [
    (RES2NET, {"groups": 0}, "cardinality"), (RES2NET, {"base_width": 0}, "width"),
    (RES2NET, {"se_reduction": 16}, "Res2Net bottleneck has no SE"),     # a ResNet knob it does not read
    (SKNET, {"stride_in_1x1": True}, "SK bottleneck has no SE"), (SKNET, {"sk_ratio": 0}, "r > 0"),
    (DPN, {"groups": 0}, "cardinality G"), (RES2NET, {"scale": 1}, "scale s >= 2"), (SKNET, {"sk_paths": 1}, "M >= 2")],
    ids=["res2net-groups", "res2net-width", "res2net-se", "sknet-stride_in_1x1", "sknet-ratio", "dpn-groups",
         "res2net-scale", "sknet-paths"])
def test_family_knobs_are_checked(spec, values, where):
    """A value the family cannot take is an error, never a network silently without it."""
    with pytest.raises(SpecErrors, match=where):
        archspec.analyze(spec, **values)


def _built(tmp_path, spec: str, values: dict) -> torch.nn.Module:
    """The module of the file `archspec build` writes, on the meta device (it takes timm's tensors)."""
    sets = [a for k, v in values.items() for a in ("--set", f"{k}={v}".replace(" ", ""))]
    assert main(["build", spec, "-o", str(tmp_path), *sets]) == 0
    (path,) = tmp_path.glob("*.py")
    with torch.device("meta"):
        return load_source(path.read_text(), path.stem).Model()


def _close(a, b, tol=1e-4):
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


@pytest.mark.slow      # 2-6 s each on 2 loaded cores
@pytest.mark.parametrize("name", ["res2net50_26w_4s", "dpn68", "skresnet50", "res2next50", "dpn92",
                                  "res2net50_26w_8s", "skresnet50_3paths"])
def test_built_file_loads_timms_weights_with_equal_outputs(tmp_path, name):
    """timm's fresh weights, batch norms drawn at random (fresh ones are near identities), load
    strictly in timm's key order; eval outputs at 64x64 equal within 1e-4 of their scale."""
    spec, values, model = FAMILY.get(name) or (str(SPECS / f"{name}.yaml"), {}, name)
    torch.manual_seed(0)
    ref = _timm(model, device="cpu")
    with torch.no_grad():
        for m in ref.modules():
            if getattr(m, "running_var", None) is not None:
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    ours = _built(tmp_path, spec, values)
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _close(ref(x), ours.eval()(x))
