"""The Inception family: Inception-v3's auxiliary head against torchvision, BN-Inception's
Fig. 5 table, Inception-ResNet-v2's scaled residuals (Inception-v4's and Inception-ResNet-v2's
outputs against timm's: test_peer_equiv.py)."""
import pytest
import torch
from paths import SPECS

import archspec


def _close(a, b, tol=1e-4):
    """max |a - b| within tol of the output's scale."""
    return (a - b).abs().max().item() <= tol * max(1.0, a.abs().max().item())


@pytest.mark.slow
def test_inception_v3_with_aux_head_equals_torchvision():
    """torchvision's inception_v3(aux_logits=True): the same weights load strictly, eval gives the
    logits alone, train gives the logits and the aux logits, equal to torchvision's."""
    import torchvision
    torch.manual_seed(0)
    ref = torchvision.models.inception_v3(aux_logits=True, init_weights=True)
    ours = archspec.compile(SPECS / "inception_v3.yaml", device="meta")
    ours.load_state_dict(ref.state_dict(), strict=True, assign=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(1, 3, 96, 96)              # eval: the head does not run, a small input will do
    with torch.inference_mode():
        assert _close(ref.eval()(x), ours.eval()(x))
    # training mode switches the head on (it needs the full 299 x 299: 17 x 17 at Mixed_6e);
    # the rest stays in eval so dropout and BN are deterministic
    x = torch.randn(1, 3, 299, 299)
    with torch.inference_mode():
        ref.training = ours.training = True
        theirs, mine = ref(x), ours(x)
    assert set(mine) == {"logits", "aux"}
    assert ours.loss_weights == {"aux": 0.4}
    assert _close(theirs.logits, mine["logits"]) and _close(theirs.aux_logits, mine["aux"])


def test_inception_v3_aux_head_is_training_only():
    g = archspec.analyze(str(SPECS / "inception_v3.yaml"))
    assert {k for k, o in g.outputs.items() if o.train_only} == {"aux"}
    assert g.params - g.eval_counts()["params"] == 27161264 - 23834568     # torchvision's AuxLogits
    assert g.shape_of(g.scopes["AuxLogits"].output) == (1000,)


def test_inception_resnet_v2_residual_scales():
    g = archspec.analyze(str(SPECS / "inception_resnet_v2.yaml"))
    scales = {}
    for node in g.nodes.values():
        if node.op.name == "add":
            stage = node.name.split(".")[0]
            scales.setdefault(stage, set()).add(tuple(node.attrs.weights))
    assert scales == {"repeat": {(1, 0.17)}, "repeat_1": {(1, 0.10)}, "repeat_2": {(1, 0.20)}, "block8": {(1, 1.0)}}
    assert [g.shape_of(g.scopes[s].output) for s in ("mixed_5b", "mixed_6a", "mixed_7a", "conv2d_7b")] == \
        [(320, 35, 35), (1088, 17, 17), (2080, 8, 8), (1536, 8, 8)]


def test_bn_inception_fig5():
    """Ioffe & Szegedy 2015, Fig. 5: each module's output is the sum of its columns. The table's
    output-size column disagrees in four rows (3c and 4e print their input's grid; 4c, 4d and so
    4e print 576 / 1024 where the columns give 608 / 1056, as Caffe's BN-Inception has it)."""
    g = archspec.analyze(str(SPECS / "bn_inception.yaml"))
    out = {"3a": (256, 28), "3b": (320, 28), "3c": (576, 14), "4a": (576, 14), "4b": (576, 14),
           "4c": (608, 14), "4d": (608, 14), "4e": (1056, 7), "5a": (1024, 7), "5b": (1024, 7)}
    for module, (c, hw) in out.items():
        assert g.shape_of(g.scopes[f"inception{module}"].output) == (c, hw, hw), module
    assert "inception3c.branch1x1" not in g.scopes and "inception4e.pool_proj" not in g.scopes
    assert g.nodes["inception5b.maxpool"].shape == (1024, 7, 7)          # 5b: "max + 128"
    assert not any(node.op.name == "dropout" for node in g.nodes.values())
    assert g.nodes["conv1.depthwise"].attrs.groups == 3 and g.nodes["conv1.depthwise"].shape[0] == 24
