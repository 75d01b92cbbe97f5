"""ConvNeXt (Liu et al. 2022) against torchvision's: the same weights load strictly and give the same
outputs (eval, and training with its stochastic depth under one seed); each block's drop-path rate is
torchvision's; channels-last tensors reach only the ops that take them. Counts and state_dict keys of
convnext_tiny/small/base/large are checked by test_specs.py (`peer:`)."""
import pytest
import torch
from paths import SPECS

import archspec
from archspec.cli import main
from archspec.ops.base import ChannelsLast


@pytest.mark.slow
def test_convnext_tiny_equals_torchvision():
    tv = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    ref = tv.models.convnext_tiny()
    with torch.no_grad():          # 1e-6, the initial layer scale, would hide every block's output
        for name, p in ref.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.5, 1.5)
    ours = archspec.compile(SPECS / "convnext_tiny.yaml", device="meta")
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(ref.eval()(x), ours.eval()(x))
        for seed in range(2):      # training: the same blocks dropped under the same seed
            torch.manual_seed(seed)
            theirs = ref.train()(x)
            torch.manual_seed(seed)
            assert torch.equal(theirs, ours.train()(x))


@pytest.mark.parametrize("name", ["convnext_tiny", "convnext_large"])
def test_drop_path_rates_are_torchvisions(name):
    """torchvision: block b of B has stochastic_depth_prob * b / (B - 1), rising over all stages."""
    tv = pytest.importorskip("torchvision")
    with torch.device("meta"):
        ref = getattr(tv.models, name)()
    g = archspec.analyze(str(SPECS / f"{name}.yaml"))
    theirs = {f"features.{k}.{j}.stochastic_depth": block.stochastic_depth.p
              for k in (1, 3, 5, 7) for j, block in enumerate(ref.features[k])}
    assert {n: g.nodes[n].attrs.p for n in theirs} == theirs
    assert len(theirs) == (18 if name == "convnext_tiny" else 36)


def test_block_works_channels_last():
    g = archspec.analyze(str(SPECS / "convnext_tiny.yaml"))
    ops = [(g.nodes[f"features.1.0.block.{i}"].op.name, g.nodes[f"features.1.0.block.{i}"].shape) for i in range(7)]
    hwc = ChannelsLast          # unequal to a channels-first tuple of the same sizes
    assert ops == [("conv", (96, 56, 56)), ("permute", hwc((56, 56, 96))), ("layernorm", hwc((56, 56, 96))),
                   ("linear", hwc((56, 56, 384))), ("gelu", hwc((56, 56, 384))), ("linear", hwc((56, 56, 96))),
                   ("permute", (96, 56, 56))]
    assert [type(s) for _, s in ops] == [tuple, *[ChannelsLast] * 5, tuple]
    # Linear on (H, W, C): H * W * in * out MACs, as FlopCounterMode counts them (test_ops.py)
    assert g.nodes["features.1.0.block.3"].macs == 56 * 56 * 96 * 384
    assert g.state_dict_shapes()["features.1.0.layer_scale"] == (96, 1, 1)


HEAD = "archspec: 1\ninput: [8, 6, 6]\nnodes:\n  - p: {op: permute, dims: [0, 2, 3, 1]}\n"


@pytest.mark.parametrize("node,message", [
    ("{op: conv, out: 4, k: 3}", "5:5: error: c: conv expects channels first, got the channels-last tensor "
                                 "(6, 6, 8) HWC"),
    ("batchnorm", "5:5: error: c: batchnorm expects channels first"),
    ("{op: concat, in: [p, p]}", "5:5: error: c: concat expects channels first"),
    ("{op: add, in: [p, input]}", "5:5: error: c: add cannot mix channels-first and channels-last inputs "
                                  "(6, 6, 8) HWC, (8, 6, 6)"),
    ("{op: permute, dims: [0, 1, 3, 2]}", "5:5: error: c: dims [0, 1, 3, 2] put the channel axis of "
                                          "(6, 6, 8) HWC between height and width"),
    ("{op: permute, dims: [1, 0, 2, 3]}", "5:5: error: c: dims [1, 0, 2, 3] do not reorder"),
])
def test_channels_last_reaches_only_the_ops_that_take_it(capsys, spec_file, node, message):
    path = spec_file(HEAD + f"  - c: {node}\n")
    assert main(["validate", path]) == 1
    err = capsys.readouterr().err
    assert f"{path}:{message}" in err and "Traceback" not in err
    if "expects channels first" in message:
        assert "hint: permute it back first: {op: permute, dims: [0, 3, 1, 2]}" in err


def test_expressions_see_the_channels_of_a_channels_last_tensor(spec_file):
    path = spec_file(HEAD + '  - l: {op: linear, out: "${2 * input.channels + input.height}"}\n')
    assert archspec.analyze(path).nodes["l"].shape == ChannelsLast((6, 6, 2 * 8 + 6))


def test_linear_on_a_channels_first_map_hints_the_permute(capsys, spec_file):
    path = spec_file("archspec: 1\ninput: [8, 6, 6]\nnodes:\n  - l: {op: linear, out: 4}\n")
    assert main(["validate", path]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4:5: error: l: linear expects a 1-d or 2-d input, got (8, 6, 6)" in err
    assert "or {op: permute, dims: [0, 2, 3, 1]} to apply it at each position" in err


def test_outputs_mark_channels_last_shapes():
    from archspec.reports import report, viewer
    from archspec.reports.render import compact_shape
    g = archspec.analyze(str(SPECS / "convnext_tiny.yaml"))
    nodes = {n["name"]: n for n in report.to_dict(g)["nodes"]}
    assert nodes["features.1.0.block.1"]["layout"] == "HWC" and "layout" not in nodes["features.1.0.block.0"]
    assert "features.1.0.block.2,layernorm,56x56x96 HWC,192," in report.format_summary(g, "csv", depth=0)
    assert "(56, 56, 384) HWC" in report.format_summary(g, depth=0)
    assert compact_shape(g.nodes["features.1.0.block.3"].shape) == "56×56×384 HWC"
    page = {n["name"]: n for n in viewer.model(g, 0)["nodes"]}
    assert page["features.1.0.layer_scale"]["weights"] == [{"key": "layer_scale", "shape": [96, 1, 1], "buffer": False}]
    assert page["features.1.0.block.5"]["layout"] == "HWC"
