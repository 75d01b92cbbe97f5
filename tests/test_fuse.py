"""`fuse()`: batch norms folded into the convs before them, for inference.

Oracle: the unfused module in eval mode, with random (non-identity) running statistics; the
fused outputs must equal its outputs within 1e-4 of the largest output. Counts of folded pairs
are torchvision's own BatchNorm2d counts (resnet50: all 53 follow a conv; densenet121: 59 of
its 121, the norm0 and every layer's norm2; the pre-activation norm1s and transitions'
norms precede a ReLU and stay)."""
from __future__ import annotations

import pytest
import torch
import torchvision
from paths import ALL_SPECS, SPECS, shipped_graph, shipped_source
from source_check import check_generated_source
from torch import nn

import archspec
from archspec.cli import main
from archspec.pytorch import compiler

GRAPHS = {p: shipped_graph(p) for p in ALL_SPECS}
BATCH_NORM_SPECS = [p for p, g in GRAPHS.items() if any(n.op.name == "batchnorm" for n in g.nodes.values())]
FAST_MACS = 2_000_000_000        # below this, a spec runs in the fast lane


def _lane(p):
    slow = GRAPHS[p].macs >= FAST_MACS
    return pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize("path", [_lane(p) for p in BATCH_NORM_SPECS])
def test_fused_equals_unfused(path):
    g = GRAPHS[path]
    result = compiler.check_fused(archspec.compile(g), g.input_shape)
    assert result.pairs > 0
    assert result.ok, str(result)


def _count_bn(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name, folded", [("resnet50", 53), ("densenet121", 59)])
def test_folded_pairs_are_torchvision_counts(name, folded):
    with torch.device("meta"):          # counted, never run: no weights to initialise
        # (archspec.compile's module on the meta device: the source it runs, emitted once per process)
        before = _count_bn(compiler.load_source(shipped_source(SPECS / f"{name}.yaml"), name).Model())
        assert before == _count_bn(getattr(torchvision.models, name)())
    fused = archspec.compile(SPECS / f"{name}.yaml", fuse=True)
    assert not fused.training
    assert before - _count_bn(fused) == folded


def test_fuse_refuses_training_mode_and_is_idempotent():
    model = archspec.compile(SPECS / "resnet20_cifar.yaml")
    with pytest.raises(RuntimeError, match="call eval"):
        model.fuse()
    x = torch.randn(2, *model.input_shape)
    model.eval()
    with torch.inference_mode():
        want = model(x)
        model.fuse()
        model.fuse()                   # a second call finds nothing left to fold
        torch.testing.assert_close(model(x), want, rtol=1e-4, atol=1e-5)


def test_torchvision_weights_fused_channels_last():
    """Reference weights loaded strictly, then fused and run channels_last: torchvision's output."""
    torch.manual_seed(0)
    theirs = torchvision.models.resnet18().eval()
    for m in theirs.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.running_var, 0.5, 2.0)
            nn.init.normal_(m.running_mean, 0, 0.1)
    ours = archspec.compile(SPECS / "resnet18.yaml", device="meta")
    ours.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    ours = ours.eval().fuse().to(memory_format=torch.channels_last)
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        want = theirs(x)
        got = ours(x.contiguous(memory_format=torch.channels_last))
    assert (got - want).abs().max() <= 1e-4 * want.abs().max()


def test_spec_without_batch_norm_has_no_fuse_method():
    assert "def fuse" not in archspec.pytorch.compiler.source(SPECS / "vgg16.yaml")
    model = archspec.compile(SPECS / "lenet5.yaml", fuse=True)
    assert not model.training and not hasattr(model, "fuse")


def test_whitelist_admits_only_the_emitted_fuse():
    text = archspec.pytorch.compiler.source(SPECS / "resnet18.yaml")
    check_generated_source(text)
    pairs = '    fuse_pairs = (("conv1", "bn1"), ("conv2", "bn2"), ("downsample.0", "downsample.1"))'
    assert pairs in text
    for bad in [text.replace("block.set_submodule(norm, nn.Identity())", "block.set_submodule(norm, torch.load(conv))"),
                text.replace('("conv1", "bn1"),', '("conv1", "__class__"),'),
                text.replace('("conv1", "bn1"),', '(conv1, "bn1"),'),
                text.replace('("conv1", "bn1"),', '("conv1", "bn1", "relu"),'),
                text.replace('("conv1", "bn1"),', '("conv1", "bn1 + 1"),'),
                text.replace(pairs, pairs.replace("fuse_pairs", "fuse_pairz")),
                text.replace(pairs, "    fuse_pairs = ()"),
                text.replace("    def fuse(self):", "    def fuse(self, x=None):")]:
        assert bad != text
        with pytest.raises(AssertionError, match="whitelist"):
            check_generated_source(bad)


def test_each_class_lists_its_own_pairs():
    """ResNet-50's top class folds only its stem; each bottleneck its three convs and, where it
    has one, its projection shortcut (16 + 4 + 1 = 53 pairs, as torchvision's batch norms)."""
    text = archspec.pytorch.compiler.source(SPECS / "resnet50.yaml")
    assert text.count("fuse_pairs = ") == 2
    assert '    fuse_pairs = (("conv1", "bn1"),)\n' in text
    assert '        ("downsample.0", "downsample.1"),\n' in text
    assert "layer1.0" not in text.split("def fuse")[1]


def test_cli_build_fuse_checks_and_exports(in_tmp, capsys):
    assert main(["build", str(SPECS / "resnet20_cifar.yaml"), "--fuse", "-o", "out",
                 "--export", "exported-program"]) == 0
    out = capsys.readouterr().out
    assert "fuse: 19 conv + batch norm pairs folded; outputs equal" in out
    program = torch.export.load(str(in_tmp / "out" / "resnet20_cifar.pt2"))
    assert not any("batch_norm" in str(n.target) for n in program.graph.nodes)
