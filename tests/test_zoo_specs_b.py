"""The hand-written DLA-34 and ResNeSt-14d (issue 20, item 9) against timm 1.0.31's models, built
by timm itself here (not from tests/reference/): parameter count, MACs (FlopCounterMode / 2, eval
mode, at the spec's input) and the state_dict's keys and shapes on the meta device; then, in the
slow lane, the file `archspec build` writes loads timm's weights with strict=True and gives
timm's outputs in eval mode, within 1e-4 of the output's scale (today to the last bit).
HRNet-W18-small, whose blocks have several outputs, has its own: tests/test_zoo_specs_hrnet.py."""
import subprocess
import sys

import pytest
import torch
from paths import SPECS
from source_check import check_generated_source
from torch.utils.flop_counter import FlopCounterMode

import archspec
from archspec.pytorch.compiler import load_source
from archspec.pytorch.emit import emit

timm = pytest.importorskip("timm", reason="the peers are timm's models: pip install -e '.[test]'")

SPECS_B = {"dla34": "dla34", "resnest14d": "resnest14d"}      # spec -> timm model


def _timm_meta(model: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return timm.create_model(model, **kwargs).eval()


def _macs(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("spec", SPECS_B)
def test_params_macs_and_state_dict_equal_timm(spec):
    g = archspec.analyze(str(SPECS / f"{spec}.yaml"))
    ref = _timm_meta(SPECS_B[spec])
    assert g.params == sum(p.numel() for p in ref.parameters())
    assert g.eval_counts()["macs"] == _macs(ref, g.input_shape)
    ours = archspec.compile(SPECS / f"{spec}.yaml", device="meta")
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in ref.state_dict().items()]


@pytest.mark.parametrize("spec", SPECS_B)
def test_generated_source_is_in_the_emitters_whitelist(spec):
    """ResNeSt's reshapes write `x.flatten(1).unflatten(1, shape)`: the whitelist admits no
    subscript, so the `x.reshape(x.shape[0], ...)` they were written as failed it."""
    text = emit(archspec.analyze(str(SPECS / f"{spec}.yaml")))
    check_generated_source(text)
    assert ".shape[" not in text


def test_dla34_roots_aggregate_as_the_paper_says():
    """Each root concatenates its tree's two children; a stage's last root also takes the stage's
    downsampled input (IDA's level root) and, in a depth-2 tree, the first subtree's output."""
    g = archspec.analyze(str(SPECS / "dla34.yaml"))
    fan_in = {name: g.nodes[f"{name}.root.conv"].params // g.nodes[f"{name}.root.bn"].params * 2
              for name in ("level2", "level3.tree1", "level3.tree2", "level4.tree2", "level5")}
    assert fan_in == {"level2": 2 * 64, "level3.tree1": 2 * 128, "level3.tree2": 2 * 128 + 64 + 128,
                      "level4.tree2": 2 * 256 + 128 + 256, "level5": 2 * 512 + 256}


def test_resnest_split_attention_softmax_is_across_the_radix():
    g = archspec.analyze(str(SPECS / "resnest14d.yaml"))
    rsoftmax = g.nodes["layer3.0.conv2.rsoftmax"]
    assert rsoftmax.shape == (2, 1, 256) and rsoftmax.attrs.axis == 0      # (radix, groups, width / groups)
    assert g.nodes["layer3.0.conv2.fc1"].attrs.out == 128     # make_divisible(256 * 2 * 0.25, 8, 32)
    assert g.nodes["layer1.0.conv2.fc1"].attrs.out == 32


def _randomised(ref: torch.nn.Module) -> torch.nn.Module:
    """Batch norms drawn at random, as test_peer_equiv does: fresh ones are near identities."""
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return ref.eval()


def _close(a, b, tol=1e-4):
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


def _built(spec: str, tmp_path, *sets: str) -> torch.nn.Module:
    """The module `archspec build` writes, imported from its file."""
    args = [a for s in sets for a in ("--set", s)]
    subprocess.run([sys.executable, "-m", "archspec", "build", str(SPECS / f"{spec}.yaml"), "-o", str(tmp_path),
                    *args], check=True, capture_output=True, timeout=300)
    path = next(tmp_path.glob("*.py"))
    return load_source(path.read_text(), path.stem).Model()


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS_B)
def test_built_file_loads_timm_weights_strictly_with_equal_outputs(spec, tmp_path):
    torch.manual_seed(0)
    ref = _randomised(timm.create_model(SPECS_B[spec]))
    ours = _built(spec, tmp_path)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _close(ref(x), ours.eval()(x))


@pytest.mark.slow
def test_resnest_with_two_cardinal_groups_equals_timm(tmp_path):
    """The r-Softmax over K = 2 cardinal groups: fc2's channels are laid out per group, then per
    split, as timm's RadixSoftmax reads them; a cardinality of 1 could not tell the order."""
    from timm.models.resnest import ResNestBottleneck
    from timm.models.resnet import ResNet
    torch.manual_seed(0)
    ref = _randomised(ResNet(block=ResNestBottleneck, layers=[1, 1, 1, 1], stem_type="deep", stem_width=32,
                             avg_down=True, base_width=32, cardinality=2,
                             block_args=dict(radix=2, avd=True, avd_first=False)))
    ours = _built("resnest14d", tmp_path, "cardinality=2", "base_width=32")
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert _close(ref(x), ours.eval()(x))
